"""Seams at the edges of a run: report formats, model importers and job executors
(``register_reporters``, ``register_importers``, ``register_executors``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO

import numpy as np

if TYPE_CHECKING:
    from qaudit.report.results import Report
    from qaudit.sdk.protocols.models import Model


class Reporter(Protocol):
    """Renders a result object. Registered via ``register_reporters``."""

    name: ClassVar[str]
    suffix: ClassVar[str]
    #: Optional (default ``""``): one line for ``qaudit reporters``.
    description: ClassVar[str]
    #: ``{"console"}`` for the reporter used on a terminal when no ``--format`` is given.
    roles: ClassVar[frozenset[str]]

    def render(self, result: Report, stream: TextIO | None) -> None:
        """Write *result* (a :class:`qaudit.report.results.Report`) to *stream*; ``None`` means the terminal
        (only a ``console`` reporter is asked to do that)."""
        ...


@dataclass
class ImportRequest:
    """What ``qaudit import`` hands an importer.

    ``source`` is the user's source as typed (``path/file.py:attribute`` for Python objects, a circuit
    file path...); ``weights`` the trained-weights file or None; ``X`` (n, n_features) float64 the raw
    inputs of the data the model is checked on and audited with, ``n_classes`` its class count;
    ``options`` the importer-specific settings (``--input-params``, ``--observables``, ``-O key=value``);
    ``recipe`` the training recipe (``optimizer`` ``"sgd"`` with ``momentum``, ``nesterov`` or ``"adam"`` with
    ``betas``, ``eps``; ``epochs``, ``lr``, ``batch_size``, ``seed``) qaudit's engine uses to train reference and
    shadow models of the imported architecture: put the options your model kind accepts in its options so
    that a model rebuilt as ``from_options(model.get_params())`` and fitted follows it
    (``qaudit_import.common.build_model`` does).
    """

    source: str
    weights: str | None
    X: np.ndarray
    n_classes: int
    options: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportedModel:
    """An importer's result.

    ``model`` is a fitted qaudit model of the registered kind ``kind`` (data only: its model file loads
    with no code); ``reference(X)`` returns the source framework's class probabilities (n, n_classes)
    float64 for raw inputs *X* -- the host compares them with qaudit's own on the request's data;
    ``framework`` is the framework's distribution name and ``version`` its version; ``files`` the source
    files whose sha256 fingerprints the model file records (user code, circuit and weight files);
    ``details`` JSON-serialisable facts about the conversion (gate counts, layers mapped...); ``explain``
    (optional) ``explain(X) -> list[str]``: the likely causes of a failed fidelity check on the raw inputs
    *X* (one short sentence each, e.g. "the device samples 1000 shots"), called only when the check fails and
    appended to its error.
    """

    kind: str
    model: Model
    reference: Callable[[np.ndarray], np.ndarray]
    framework: str
    version: str
    files: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    explain: Callable[[np.ndarray], list[str]] | None = None


class Importer(Protocol):
    """Converts a model trained in another framework. Registered via ``register_importers``."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: The pip extra that installs the framework (``pip install "qaudit[EXTRA]"``), named in errors.
    extra: ClassVar[str]

    def load(self, request: ImportRequest) -> ImportedModel:
        """Read ``request.source`` and ``request.weights``, convert, return an :class:`ImportedModel`.

        May run the user's code. Raises QauditError (one line) for a missing file or attribute, an object
        of the wrong type, an unsupported gate, template or layer (named), weights whose shapes do not match
        and unspecified inputs; raises ImportError when the framework is not installed."""
        ...


@dataclass(frozen=True)
class Job:
    """One independent piece of work for an :class:`Executor`: ``fn(*args)``.

    ``seed`` is the job's own seed (derive it with :func:`qaudit.run.parallel.job_seeds`, never from
    the worker or the completion order) and ``origin`` says who asked (``"lira reference model 3"``,
    the plugin's name): both appear in the error when the job raises. ``args`` should be small --
    model documents, indices, seeds and handles from :meth:`Executor.share` -- not datasets.
    """

    args: tuple
    seed: int | None = None
    origin: str = ""


@dataclass(frozen=True)
class ExecutorSettings:
    """How the user asked to run jobs: ``workers`` (None = the executor's choice, e.g. the machine's
    cores), ``scheduler`` (a Dask-style address such as ``tcp://host:8786``; None = none given)."""

    workers: int | None = None
    scheduler: str | None = None


class Executor(Protocol):
    """Runs batches of independent jobs. Registered via ``register_executors``.

    The host opens one executor per command (``--executor``, ``--scheduler``) and hands it to
    plugins in their context (:attr:`AttackContext.executor`, :attr:`UnlearningRequest.executor`).
    A job's result may depend only on ``fn`` and the job's arguments (which carry its seed); an
    executor returns results in job order whatever the completion order, so every executor gives
    the same answer. ``roles``: ``"default"`` (used when ``--executor`` is not given),
    ``"inline"`` (runs jobs in the calling process; used for ``--jobs 1`` and inside workers),
    ``"scheduler"`` (used when only ``--scheduler`` is given).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    roles: ClassVar[frozenset[str]]

    @classmethod
    def open(cls, settings: ExecutorSettings) -> Executor:
        """Connect/start and return a ready executor; refuse unusable settings (a missing extra,
        an unreachable scheduler, workers lacking qaudit) with a one-line ``QauditError`` quickly."""
        ...

    @classmethod
    def check(cls, settings: ExecutorSettings) -> None:
        """Optional: refuse settings that cannot work (e.g. a scheduler address that does not parse) with a
        one-line ``QauditError``, by inspection only -- no import of the executor's library, no connection. The
        commands call it while their options are read, before they load anything."""
        ...

    def share(self, value: Any) -> Any:
        """Ship *value* (a large array or tuple of arrays several jobs read) to the workers once; return a
        handle to pass in ``Job.args`` in its place. The job receives the value itself."""
        ...

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job],
            on_done: Callable[[], None] | None = None) -> list[Any]:
        """``[fn(*job.args) for job in jobs]``, possibly in parallel, in job order; *on_done()* in the
        calling thread after each finished job (progress). A job that raises stops the batch: the
        outstanding jobs are cancelled and :class:`qaudit.sdk.errors.JobFailed` names the job's origin
        and seed. Ctrl-C / SIGTERM cancel the outstanding jobs before propagating."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable facts for logs and benchmarks: ``name``, ``workers``, ``jobs`` run,
        ``shipped_bytes`` (pickled job arguments sent to workers, 0 in-process)."""
        ...

    def close(self) -> None:
        """Release workers/connections; idempotent (the host calls it when the command ends)."""
        ...
