"""The protocols registered things follow: the types of the plugin API, one module per seam.

=====================================  ==========================================================
:mod:`qaudit.sdk.protocols.backends`       backends and the tasks they run (``register_backends``)
:mod:`qaudit.sdk.protocols.models`         model kinds and datasets (``register_models``, ``register_datasets``)
:mod:`qaudit.sdk.protocols.attacks`        attacks, their context and the outputs they read (``register_attacks``)
:mod:`qaudit.sdk.protocols.unlearning`     unlearning methods (``register_unlearning_methods``)
:mod:`qaudit.sdk.protocols.extensions`     reporters, importers and executors
:mod:`qaudit.sdk.protocols.stores`         the checkpoint store attacks and budgeted backends receive
=====================================  ==========================================================

Every public name is importable from here (``from qaudit.sdk.protocols import Model``). Everything is
typing only (``typing.Protocol``) plus small dataclasses passed across the seams; nothing imports Cirq
or any other part of qaudit at module import time, and no module here imports the host (a test keeps
the package free of import cycles).
"""

from __future__ import annotations

from qaudit.sdk.protocols.attacks import (
    SIGNALS,
    Attack,
    AttackContext,
    ModelHandle,
    Outputs,
    Query,
    RecordedReferences,
)
from qaudit.sdk.protocols.backends import (
    Backend,
    Capabilities,
    DeferredCircuit,
    ExecutionPlan,
    PlanningBackend,
    QuantumTask,
    SamplingBackend,
)
from qaudit.sdk.protocols.extensions import (
    Executor,
    ExecutorSettings,
    ImportedModel,
    Importer,
    ImportRequest,
    Job,
    Reporter,
)
from qaudit.sdk.protocols.models import DatasetSource, EnsembleModel, Model
from qaudit.sdk.protocols.stores import CheckpointStore
from qaudit.sdk.protocols.unlearning import (
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
