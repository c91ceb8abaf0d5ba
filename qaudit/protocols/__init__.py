"""The protocols registered things follow: the types of the plugin API, one module per seam.

=====================================  ==========================================================
:mod:`qaudit.protocols.backends`       backends and the tasks they run (``register_backends``)
:mod:`qaudit.protocols.models`         model kinds and datasets (``register_models``, ``register_datasets``)
:mod:`qaudit.protocols.attacks`        attacks, their context and the outputs they read (``register_attacks``)
:mod:`qaudit.protocols.unlearning`     unlearning methods (``register_unlearning_methods``)
:mod:`qaudit.protocols.extensions`     reporters, importers and executors
:mod:`qaudit.protocols.stores`         the checkpoint store attacks and budgeted backends receive
=====================================  ==========================================================

Every public name is importable from here (``from qaudit.protocols import Model``). Everything is
typing only (``typing.Protocol``) plus small dataclasses passed across the seams; nothing imports Cirq
or any other part of qaudit at module import time, and no module here imports the host (a test keeps
the package free of import cycles).
"""

from __future__ import annotations

from qaudit.protocols.attacks import (
    SIGNALS,
    Attack,
    AttackContext,
    ModelHandle,
    Outputs,
    Query,
    RecordedReferences,
)
from qaudit.protocols.backends import (
    Backend,
    Capabilities,
    DeferredCircuit,
    ExecutionPlan,
    PlanningBackend,
    QuantumTask,
    SamplingBackend,
)
from qaudit.protocols.extensions import (
    Executor,
    ExecutorSettings,
    ImportedModel,
    Importer,
    ImportRequest,
    Job,
    Reporter,
)
from qaudit.protocols.models import DatasetSource, EnsembleModel, Model
from qaudit.protocols.stores import CheckpointStore
from qaudit.protocols.unlearning import (
    UnlearningCost,
    UnlearningMethod,
    UnlearningOutcome,
    UnlearningRequest,
)

#: The seam modules, in the order docs/plugins.md documents them.
SEAMS = ("backends", "models", "attacks", "unlearning", "extensions", "stores")

__all__ = [
    "SIGNALS", "Attack", "AttackContext", "Backend", "Capabilities", "CheckpointStore", "DatasetSource",
    "DeferredCircuit", "EnsembleModel", "ExecutionPlan", "Executor", "ExecutorSettings", "ImportRequest",
    "ImportedModel", "Importer", "Job", "Model", "ModelHandle", "Outputs", "PlanningBackend", "QuantumTask", "Query",
    "RecordedReferences", "Reporter", "SamplingBackend", "UnlearningCost", "UnlearningMethod",
    "UnlearningOutcome", "UnlearningRequest",
]
