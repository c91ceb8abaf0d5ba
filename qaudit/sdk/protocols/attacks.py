"""Seam: membership-inference attacks (``register_attacks``): what they see and what they return.

An attack is fitted on an :class:`AttackContext` and queries models only through ``context.outputs(X)``,
which returns :class:`Outputs`; :data:`SIGNALS` names what an attack may read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

if TYPE_CHECKING:
    from qaudit.sdk.progress import Progress
    from qaudit.sdk.protocols.backends import Backend
    from qaudit.sdk.protocols.extensions import Executor
    from qaudit.sdk.protocols.models import Model
    from qaudit.sdk.protocols.stores import CheckpointStore


@dataclass
class Outputs:
    """What querying a model on a batch reveals (rows follow the queried samples).

    ``probs`` (n, n_classes) class probabilities; ``expectations`` (n, n_obs) the
    (estimated, when ``shots``) readout expectation values before the classical
    head, when the model exposes them; ``counts`` (n, 2**n_qubits) raw bit-string
    counts (index = big-endian bit string) when a finite-shot run provides them.
    """

    probs: np.ndarray
    expectations: np.ndarray | None = None
    counts: np.ndarray | None = None
    shots: int | None = None
    #: The readout observables behind ``expectations`` and the circuit width (for shot-noise models).
    observables: list[str] | None = None
    n_qubits: int | None = None


class ModelHandle(Protocol):
    """A model known only by its recorded outputs (a black-box audit, ``qaudit leak --outputs``): the
    target and the recorded reference models are opaque handles that :meth:`AttackContext.outputs` answers
    for. An attack that declares only the ``outputs``/``reference_outputs`` signals must not assume more."""

    #: What the handle stands for (e.g. ``"recorded outputs"``).
    name: str
    #: Number of classes of the recorded probabilities.
    n_classes: int


class Query(Protocol):
    """How a context queries models (:attr:`AttackContext.query`), set by the host for every audit:
    ``query(model, X, exact=False) -> Outputs``.

    The :class:`Outputs` of *model* on raw features *X*: the audit's target runs on the audit's backend and
    shots (shot noise seeded by the audit's seed and the batch's content, so a batch always gets the same
    draw); any other model (an attack's reference models), or ``exact=True``, runs exactly. The host's
    implementation is :class:`qaudit.run.query.TargetQueries` (answers cached per model and batch)."""

    def __call__(self, model: Model | ModelHandle, X: np.ndarray, exact: bool = False) -> Outputs:
        """See the class docstring."""
        ...


@dataclass
class AttackContext:
    """Everything an attack may use, built by the host for one audit (or by
    :meth:`qaudit.sdk.testing.TinyModel.attack_split` in a plugin's tests).

    Models are queried only through :meth:`outputs`. The attacker's knowledge is ``X_members``/``y_members``
    and ``X_non_members``/``y_non_members`` (raw features and labels, for calibration); ``X_targets``/
    ``y_targets`` are the samples that will be scored. Whether a scored sample is a member is never in the
    context, and the known sets never overlap the samples scored with them (the audit cross-fits attacks
    that read the known sets).
    """

    #: The audited model (a :class:`~qaudit.sdk.protocols.models.Model`), or a :class:`ModelHandle` in a
    #: black-box audit. Read it for its architecture (shadow models are
    #: ``type(model).from_options(model.get_params())``) and query it through :meth:`outputs`; never modify it.
    model: Model | ModelHandle
    #: The backend the target runs on (``--backend``); None in a black-box audit.
    backend: Backend | None
    #: Measurements per sample of the target's queries (``--shots``); None is exact.
    shots: int | None
    #: The audit's seed: derive every random step of the attack from it.
    seed: int
    #: Attacker-known members: raw features (n, n_features) and labels (empty when the attack declares
    #: ``uses_known_labels = False``).
    X_members: np.ndarray
    y_members: np.ndarray
    #: Attacker-known non-members, as ``X_members``/``y_members``.
    X_non_members: np.ndarray
    y_non_members: np.ndarray
    #: Data from the same distribution that the target never used (shadow/reference models, RMIA's
    #: z-samples), or None when the audit has none.
    population_X: np.ndarray | None = None
    population_y: np.ndarray | None = None
    #: Progress display for long steps (``progress.track(description, total)``); None is silent.
    progress: Progress | None = None
    #: The samples that will be scored (online attacks such as LiRA train reference models with and without
    #: them), or None.
    X_targets: np.ndarray | None = None
    y_targets: np.ndarray | None = None
    #: Size of the target's training set (reference models copy it), when known.
    n_train: int | None = None
    #: Number of classes of the task.
    n_classes: int | None = None
    #: Number of reference/shadow models to train (``--reference-models`` or the largest an attack declares).
    n_reference: int = 16
    #: Worker processes independent jobs may use (``--jobs``); prefer :attr:`executor`.
    n_jobs: int = 1
    #: Attack-specific settings (``--attack-option key=value``); reject unknown keys with QauditError.
    options: dict[str, Any] = field(default_factory=dict)
    #: Shared by all attacks of one audit (e.g. reference models are trained once); key it by what you stored.
    cache: dict[str, Any] = field(default_factory=dict)
    #: ``query(model, X, exact=False) -> Outputs`` (:class:`Query`), set by whoever builds the context: the
    #: host's audit, or ``qaudit.run.query.TargetQueries(model, backend, shots, seed)`` in a test. :meth:`outputs`
    #: calls it.
    query: Query | None = None
    #: A checkpoint store (:class:`~qaudit.sdk.protocols.stores.CheckpointStore`) for long pieces of work
    #: (reference models): attacks that train models put each finished one there, and reuse it when the audit
    #: resumes (``--resume``); None when checkpoints are off.
    checkpoints: CheckpointStore | None = None
    #: Reference-model outputs recorded outside qaudit (a black-box audit, ``qaudit leak --outputs``), or None
    #: when the attack trains its own reference models. Attacks that declare the ``reference_outputs`` signal
    #: use these models instead of training any.
    references: RecordedReferences | None = None
    #: The :class:`~qaudit.sdk.protocols.extensions.Executor` that runs independent jobs (reference/shadow models);
    #: None means the default for ``n_jobs`` (:func:`qaudit.run.parallel.executor_for`). Never import Dask in a
    #: plugin: use this.
    executor: Executor | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a fitted attack shipped to a worker) without the live progress display and executor."""
        return {**self.__dict__, "progress": None, "executor": None}

    def outputs(self, X: np.ndarray, model: Model | ModelHandle | None = None, exact: bool = False) -> Outputs:
        """Query *model* (default: the target) on raw features *X* through :attr:`query` (see :class:`Query`).

        Raises ``RuntimeError`` when no ``query`` was set: the host always sets one; a test builds its context
        with :meth:`qaudit.sdk.testing.TinyModel.attack_split` or passes ``query=TargetQueries(...)``."""
        if self.query is None:
            raise RuntimeError("AttackContext.query is not set: pass query=qaudit.run.query.TargetQueries(model, "
                               "backend, shots, seed) when building a context outside an audit")
        return self.query(self.model if model is None else model, X, exact)


#: The signals an attack may read, by name (``Attack.signals``). An audit of a model provides all of them;
#: a black-box audit of recorded outputs (``qaudit leak --outputs FILE``, docs/outputs-format.md) provides
#: ``outputs`` and, when the file records reference models, ``reference_outputs`` -- and runs an attack only
#: when it provides every signal the attack declares.
SIGNALS: dict[str, str] = {
    "outputs": "the target's class probabilities and the labels of the scored and the attacker-known samples "
               "(through context.outputs(X))",
    "reference_outputs": "reference models' class probabilities on the scored samples and which of them each "
                         "model trained on (trained by the audit, or recorded: AttackContext.references)",
    "model": "the target model itself: its architecture (to train shadow or reference models), its circuit, or "
             "queries of samples the audit did not record",
    "counts": "raw bit-string counts of finite-shot runs (Outputs.counts)",
}


@dataclass
class RecordedReferences:
    """Reference models whose outputs were recorded outside qaudit (black-box audits).

    ``models`` are opaque handles: ``context.outputs(X, model=handle)`` returns a handle's recorded
    class probabilities on the samples *X*; :meth:`membership` says which samples each model trained on.
    """

    #: One :class:`ModelHandle` per recorded reference model.
    models: list[ModelHandle]
    #: (K, n_samples) bool over every recorded sample: True where model k trained on the sample.
    keep: np.ndarray
    #: Maps a batch *X* of the audit's samples to their rows of ``keep`` (set by the host).
    rows: Callable[[np.ndarray], np.ndarray]

    def membership(self, X: np.ndarray) -> np.ndarray:
        """(K, len(X)) bool: which of the samples *X* each reference model trained on."""
        return self.keep[:, self.rows(X)]


class Attack(Protocol):
    """A membership-inference attack. Registered via ``register_attacks``.

    Optional members (the host uses the default when a class leaves them out):
    ``roles`` (default empty), ``needs_shots`` (False), ``uses_known_labels`` (True), ``needs_reference``
    (False), ``reference_models`` (16),
    ``decision_threshold`` (None), ``signals`` (``{"model"}``), ``details()`` (``{}``), ``extra_protocol``
    (none), ``check_options`` (no early check) and ``target_samples`` (None).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: Host defaults this attack belongs to: ``"default"`` (``qaudit leak`` with no ``--attack``; with
    #: ``--fast`` only those that train no reference models, see ``needs_reference``), ``"fast"`` (no
    #: reference models; demos and quick checks), ``"verification"`` (the one attack the unlearning
    #: verification fits on the original model).
    roles: ClassVar[frozenset[str]]
    #: Optional (default False): the attack trains reference/shadow models (``qaudit leak --fast`` leaves it out).
    needs_reference: ClassVar[bool]
    #: Optional (default 16): how many reference models (``AttackContext.n_reference``) the attack needs when
    #: the user does not pass ``--reference-models``; an audit trains the largest number its attacks declare.
    reference_models: ClassVar[int]
    #: True when the attack scores raw bit-string counts and so needs ``--shots``.
    needs_shots: ClassVar[bool]
    #: Optional (default True): ``fit`` reads the attacker-known ``X_members``/``X_non_members``; the audit then
    #: cross-fits it (k fits, each scoring the fold it did not see). False: fitted once, known sets empty,
    #: every scored sample in ``X_targets`` (threshold and reference-model attacks).
    uses_known_labels: ClassVar[bool]
    #: After ``fit``: the score at or above which the attack calls a sample "member" (the paper's MIA
    #: accuracy is the fraction of members at or above it), or None when the attack has no decision rule.
    decision_threshold: float | None
    #: Optional (default ``frozenset({"model"})``: the attack runs only in audits of a model): the signals
    #: (keys of :data:`SIGNALS`) the attack reads. A black-box audit of recorded outputs runs the attack only
    #: when the file provides all of them, and otherwise names the missing signal. Declare the least you need:
    #: a threshold attack reads ``{"outputs"}``, LiRA ``{"outputs", "reference_outputs"}``.
    signals: ClassVar[frozenset[str]]

    @classmethod
    def check_options(cls, all_options: dict[str, Any]) -> None:
        """Optional: refuse bad options with a one-line QauditError before any work starts (``qaudit leak``
        calls it while validating its settings). *all_options* holds every ``--attack-option`` of the audit,
        keys ``ATTACK.KEY`` (``lira.shot_noise``); read only your own (``cls.name + "."``) and apply the same
        checks ``fit`` applies to ``context.options``."""
        ...

    def fit(self, context: AttackContext) -> Attack:
        """Prepare (train attack models, reference models...); return self."""
        ...

    def score(self, context: AttackContext, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One finite membership score per sample, higher = more likely member."""
        ...

    def details(self) -> dict[str, Any]:
        """JSON-serialisable facts about the fitted attack for the report (epochs, reference models...)."""
        ...

    @classmethod
    def target_samples(cls, context: AttackContext) -> np.ndarray | None:
        """Optional: the raw features of the samples beyond the scored ones that ``fit``/``score`` will query
        the target on (e.g. population z-samples), or None. Called once before any attack runs, with the
        audit's options and population and empty known sets; a budgeted backend (:class:`PlanningBackend`)
        plans and receives them in the one query of the target, so ``--dry-run`` equals what the run submits.
        A query of the target outside them is still answered, but submitted beyond the plan."""
        ...

    def extra_protocol(self, context: AttackContext, forget_class: int | None) -> dict[str, Any] | None:
        """Optional: a figure computed under another protocol than the audit's held-out one (e.g. a paper's own
        evaluation, chosen by the attack's options), or None. *context* holds every member and non-member of the
        audit as the known sets (``X_members`` in the model's recorded order). The audit stores the dict in the
        attack's ``details["extra_protocol"]`` and prints it in its own table; it never enters metrics, verdicts
        or gates. It should carry a ``label`` saying why it is not a held-out metric, a ``figure`` and counts
        (e.g. how many scored points the attack trained on)."""
        ...
