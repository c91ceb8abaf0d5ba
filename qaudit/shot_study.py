"""``qaudit shots``: how the measurement shot count shapes leakage and the stability of unlearning.

For every shot count S of the study (finite counts in increasing order, then
optionally ``exact`` = infinitely many shots on the same backend) and every
repeat r = 0..R-1 (seed ``seed + r``; the same seeds for every S, so shot counts
are compared on common random numbers):

* **leakage** -- the leak audit (:func:`qaudit.audit.run_audit`, the chosen
  attack, default the paper's gray-box MLP) with the target queried with S shots:
  ROC AUC with its 95 % interval, TPR at 0.1 % / 1 % / 10 % FPR, membership
  advantage and the paper's MIA accuracy (``member_rate``: the fraction of
  forget-class training members the attack calls "member"). The repeat seed
  drives the attacker's split, the attack's initialisation and the shot draws.
* **output jitter** -- on a fixed probe set of training members, the standard
  deviation across repeats of the model's true-class probability, averaged
  over the probe samples (0 for ``exact``; shrinks like 1/sqrt(S)).
* **unlearning stability** (``--unlearn METHOD``) -- the method runs on a
  :class:`ShotEstimatedModel`: every loss gradient it asks for is estimated
  from S shots the way hardware would -- the circuit parameters by the
  parameter-shift rule (two shifted circuits per parameter, each measured with S
  shots), the dense head's weights from the same sampled expectation values --
  and every forward pass it makes (e.g. RGA's stopping test) is sampled too.
  The unlearned model is then verified with S shots (a gray-box attack fitted on
  the original model's S-shot outputs, as :class:`qaudit.unlearning.Verifier`) and
  exactly (forget/retained accuracy without measurement noise, isolating the
  noise of the updates). The spread (std) across repeats is the "stability".

The parameter-shift estimator is checked against the model's exact adjoint
gradient before the study starts (:func:`check_parameter_shift`); a circuit for
which the two-term rule does not hold is refused.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.checkpoints import Checkpoints, content_key
from qaudit.errors import QauditError
from qaudit.progress import SILENT, Progress
from qaudit.results import Plot, Report, Series, Table

SCHEMA = "qaudit.shots/1"
DEFAULT_SHOTS = "16,64,256,1024,4096,exact"
DEFAULT_REPEATS = 5
#: Leak metrics aggregated per shot count (``member_rate`` = the paper's MIA accuracy).
LEAK_METRICS = ("auc", "auc_low", "auc_high", "tpr@0.1%fpr", "tpr@1%fpr", "tpr@10%fpr", "advantage",
                "member_rate")
#: Unlearning metrics aggregated per shot count.
UNLEARN_METRICS = ("forget_accuracy", "retain_accuracy", "holdout_accuracy", "forget_mia_before", "forget_mia",
                   "forget_mia_auc", "forget_accuracy_exact", "retain_accuracy_exact", "seconds")
EXACT_WORDS = ("exact", "inf", "infinite")
SHIFT = np.pi / 2


# --------------------------------------------------------------------------- input checks
def parse_shots(text: str) -> list[int | None]:
    """``"16,64,exact"`` -> ``[16, 64, None]``; strictly increasing positive counts, ``exact`` last."""
    from qaudit.limits import MAX_SHOT_COUNTS

    parts = [p.strip().lower() for p in str(text).split(",")]
    if not text or not str(text).strip() or any(not p for p in parts):
        raise QauditError(f"--shots {text!r}: expected comma-separated shot counts, e.g. {DEFAULT_SHOTS}")
    if len(parts) > MAX_SHOT_COUNTS:
        raise QauditError(f"--shots lists {len(parts)} entries; at most {MAX_SHOT_COUNTS} are allowed "
                          "(every entry is a full audit per repeat)")
    out: list[int | None] = []
    for i, part in enumerate(parts):
        if part in EXACT_WORDS:
            if i != len(parts) - 1:
                raise QauditError(f"--shots {text!r}: 'exact' (infinitely many shots) must come last")
            out.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise QauditError(f"--shots {text!r}: {part!r} is neither a shot count nor 'exact'") from None
        if value <= 0:
            raise QauditError(f"--shots {text!r}: shot counts must be positive (write 'exact' for no shot noise)")
        out.append(value)
    finite = [s for s in out if s is not None]
    if len(set(finite)) != len(finite):
        raise QauditError(f"--shots {text!r}: a shot count is listed twice")
    if finite != sorted(finite):
        raise QauditError(f"--shots {text!r}: list the shot counts in increasing order")
    from qaudit.limits import MAX_SHOTS

    if finite and finite[-1] > MAX_SHOTS:
        raise QauditError(f"--shots {text!r}: {finite[-1]} is absurdly large (max {MAX_SHOTS})")
    return out


def shot_label(shots: int | None) -> str:
    """``16`` -> ``"16"``, ``None`` -> ``"exact"``."""
    return "exact" if shots is None else str(shots)


def repeat_seeds(seed: int, repeats: int) -> list[int]:
    """The seed of every repeat (``seed + r``); the same for every shot count.

    *repeats* must be an integer in 1..MAX_REPEATS and every repeat seed a valid seed (0..2**32-1).
    """
    from qaudit.limits import MAX_REPEATS, MAX_SEED, check_option, check_seed

    check_seed(seed)
    check_option("--repeats", repeats, "int", 1, MAX_REPEATS)
    if seed + repeats - 1 > MAX_SEED:
        raise QauditError(f"--seed {seed} with --repeats {repeats}: the repeat seeds seed..seed+repeats-1 must "
                          f"stay <= {MAX_SEED}")
    return [seed + r for r in range(repeats)]


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of the finite *values*."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return None, None
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


# --------------------------------------------------------------------------- shot-estimated gradients
def _is_circuit_classifier(model: Any) -> bool:
    from qaudit.qnn import CircuitClassifier

    return isinstance(model, CircuitClassifier) and set(model.weights) == {"theta", "W", "b"}


def require_shot_gradients(model: Any, kind: str) -> None:
    """Refuse models whose gradient a QPU cannot estimate by parameter shift + a classical head."""
    if not _is_circuit_classifier(model):
        raise QauditError(f"shot-estimated unlearning needs a circuit classifier (circuit parameters + dense head, "
                          f"e.g. basic-qnn); model kind {kind!r} has other trainable weights")


class ShotEstimatedModel:
    """A circuit classifier seen through finite shots on *backend*.

    ``loss_and_grad``/``per_sample_grads`` estimate the cross-entropy gradient
    from S-shot expectation values: d<Z_j>/dθ_k by the parameter-shift rule
    ``(<Z_j>(θ + π/2 e_k) - <Z_j>(θ - π/2 e_k)) / 2`` with fresh shots for each
    shifted circuit, the head's gradient and dL/d<Z> from the unshifted S-shot
    values. ``predict_proba`` is S-shot too. ``shots=None`` gives the exact
    parameter-shift gradient (used to check the rule). Every other attribute is
    the wrapped model's; ``copy()`` wraps a copy and shares the random stream.
    """

    def __init__(self, model: Any, backend: Any, shots: int | None, seed: int):
        from qaudit.query import exact_backend

        self._model = model
        self.backend = exact_backend() if backend is None else backend
        self.shots = shots
        self._rng = np.random.default_rng(seed)
        self.circuit_runs = [0]  # shared with copies: circuits executed (each with ``shots`` shots)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_model":
            raise AttributeError(name)
        return getattr(self._model, name)

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """The wrapped model's weights (updated in place by optimisers)."""
        return self._model.weights

    def unwrap(self) -> Any:
        """The wrapped model."""
        return self._model

    def copy(self) -> ShotEstimatedModel:
        """A wrapper around a copy of the model, sharing the shot stream and the run counter."""
        other = object.__new__(ShotEstimatedModel)
        other.__dict__.update(self.__dict__)
        other._model = self._model.copy()
        return other

    def _expectations(self, task: Any, theta: np.ndarray) -> np.ndarray:
        """S-shot expectation values of *task* with circuit parameters *theta* (one backend run)."""
        from qaudit.query import run_task

        self.circuit_runs[0] += task.n_samples
        seed = int(self._rng.integers(0, 2**31 - 1))
        shifted = copy.copy(task)  # not dataclasses.replace: it would build a deferred circuit
        shifted.param_values = np.asarray(theta, dtype=np.float64)
        return run_task(shifted, self.backend, self.shots, seed)[0]

    def predict_proba(self, X: np.ndarray, **_: Any) -> np.ndarray:
        """S-shot class probabilities (what an unlearning method sees on hardware)."""
        m = self._model
        return m.head(self._expectations(m.task(X), m.weights["theta"]))

    def _grads(self, X: np.ndarray, y: np.ndarray, per_sample: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        from qaudit.qnn import cross_entropy_grad

        m = self._model
        y = np.asarray(y)
        task = m.task(X)
        theta = m.weights["theta"]
        ev = self._expectations(task, theta)
        losses, dlogits = cross_entropy_grad(m.head(ev), y)
        if per_sample:
            dlogits = dlogits * len(y)
        d_ev = dlogits @ m.weights["W"].T  # (n, n_obs)
        g_theta = np.zeros((len(y), theta.size)) if per_sample else np.zeros(theta.size)
        for k in range(theta.size):
            plus, minus = theta.copy(), theta.copy()
            plus[k] += SHIFT
            minus[k] -= SHIFT
            dev = (self._expectations(task, plus) - self._expectations(task, minus)) / 2.0  # d<Z_j>/dθ_k per sample
            contrib = np.sum(d_ev * dev, axis=1)
            if per_sample:
                g_theta[:, k] = contrib
            else:
                g_theta[k] = contrib.sum()
        if per_sample:
            return losses, {"theta": g_theta, "W": ev[:, :, None] * dlogits[:, None, :], "b": dlogits}
        return losses, {"theta": g_theta, "W": ev.T @ dlogits, "b": dlogits.sum(axis=0)}

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy and its shot-estimated gradient (parameter shift for θ)."""
        losses, grads = self._grads(X, y, per_sample=False)
        return float(np.mean(losses)), grads

    def per_sample_grads(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Shot-estimated gradient of every sample's own loss (for Fisher importances)."""
        return self._grads(X, y, per_sample=True)[1]

    def losses(self, X: np.ndarray, y: np.ndarray, **_: Any) -> np.ndarray:
        """S-shot per-sample cross-entropies."""
        from qaudit.qnn import cross_entropy_grad

        return cross_entropy_grad(self.predict_proba(X), np.asarray(y))[0]


def check_parameter_shift(model: Any, X: np.ndarray, y: np.ndarray, backend: Any,
                          tol: float = 1e-6) -> float:
    """Relative error of the exact parameter-shift gradient against the model's adjoint gradient.

    Raises :class:`QauditError` when it exceeds *tol* (the two-term rule does not hold).
    """
    shift = ShotEstimatedModel(model, backend, None, 0)
    _, g_ps = shift.loss_and_grad(X, y)
    _, g_ad = model.loss_and_grad(X, y)
    num = np.sqrt(sum(float(np.sum((g_ps[k] - g_ad[k]) ** 2)) for k in g_ad))
    den = max(np.sqrt(sum(float(np.sum(g_ad[k] ** 2)) for k in g_ad)), 1e-12)
    rel = float(num / den)
    if not rel <= tol:
        raise QauditError(f"the parameter-shift rule does not reproduce this model's exact gradient (relative "
                          f"error {rel:.2e}); shot-estimated unlearning needs gates exp(-i θ P / 2)")
    return rel


# --------------------------------------------------------------------------- the study
@dataclass
class ShotSettings:
    """What ``qaudit shots`` runs; recorded in the report."""

    shots: list[int | None] = field(default_factory=lambda: parse_shots(DEFAULT_SHOTS))
    repeats: int = DEFAULT_REPEATS
    seed: int = 0
    #: None: the backend declaring the role ``shots``; the attack declaring the role ``verification``.
    backend: str | None = None
    attack: str | None = None
    forget_class: int | None = None
    unlearn: str | None = None
    unlearn_options: dict[str, Any] = field(default_factory=dict)
    n_bootstrap: int = 200
    probe_size: int = 200
    #: Reuse the (shot count, repeat) runs an interrupted study with the same inputs finished.
    resume: bool = False

    def validate(self) -> None:
        """One-line errors for settings out of range (before any work)."""
        from qaudit.limits import MAX_SHOT_COUNTS, MAX_SHOTS, check_option
        from qaudit.metrics import MAX_BOOTSTRAP

        repeat_seeds(self.seed, self.repeats)
        if len(self.shots) > MAX_SHOT_COUNTS:
            raise QauditError(f"{len(self.shots)} shot counts given; at most {MAX_SHOT_COUNTS} are allowed")
        for s in self.shots:
            check_option("shot count", s, "int", 1, MAX_SHOTS, allow_none=True)
        check_option("--bootstrap", self.n_bootstrap, "int", 10, MAX_BOOTSTRAP)
        check_option("probe_size", self.probe_size, "int", 1, 1_000_000)
        if self.forget_class is None and self.unlearn:
            raise QauditError("--unlearn needs --forget-class C (the class to forget)")
        if self.unlearn_options and not self.unlearn:
            raise QauditError("--option sets the --unlearn method's options: pass --unlearn METHOD too")
        from qaudit.plugins import get_host, name_or_default

        # Empty names are refused by name_or_default, the one check every command uses (`--unlearn ''` included).
        host = get_host()
        name_or_default("backend", "shots", self.backend, "--backend")
        host.get("attack", name_or_default("attack", "verification", self.attack, "--attack"))
        if self.unlearn is not None:
            host.get("unlearning", name_or_default("unlearning", "default", self.unlearn, "--unlearn"))


def _leak_run(mf: Any, dataset: Any, truth: Any, settings: ShotSettings, shots: int | None, seed: int,
              backend: Any) -> dict[str, Any]:
    from qaudit.audit import AuditSettings, run_audit

    audit = AuditSettings(attacks=[settings.attack], backend=settings.backend, shots=shots, seed=seed,
                          forget_class=settings.forget_class, n_bootstrap=settings.n_bootstrap)
    report = run_audit(mf, dataset, truth, audit, backend=backend)
    m = report.payload["attacks"][settings.attack]
    out = {k: m["metrics"].get(k) for k in LEAK_METRICS if k != "member_rate"}
    out["member_rate"] = m["details"].get("member_rate")
    out["target_queries"] = report.summary.get("target_queries")
    return out


def _unlearn_run(mf: Any, dataset: Any, fs: Any, settings: ShotSettings, shots: int | None, seed: int,
                 backend: Any, exact_verifier: Any) -> dict[str, Any]:
    from qaudit import unlearning as core
    from qaudit.plugins import get_host

    model = mf.model
    target = ShotEstimatedModel(model, backend, shots, seed) if shots else model
    cls = get_host().get("unlearning", settings.unlearn)
    request = core.build_request(cls, dataset, fs, seed, settings.unlearn_options,
                                 model.n_classes or dataset.n_classes)
    start = time.perf_counter()
    outcome = core.run_method(settings.unlearn, target, request)
    seconds = time.perf_counter() - start
    new = outcome.model.unwrap() if isinstance(outcome.model, ShotEstimatedModel) else outcome.model
    # exact outputs with the study's own seed: the very verifier already built for the exact evaluation
    verifier = (exact_verifier if not shots and seed == exact_verifier.seed
                else core.Verifier(mf, dataset, fs, seed, backend if shots else None, shots))
    before = verifier.snapshot(model)
    after = verifier.snapshot(new)
    exact = exact_verifier.snapshot(new) if shots else after
    return {"forget_accuracy": after["accuracy"]["forget"], "retain_accuracy": after["accuracy"]["retain"],
            "holdout_accuracy": after["accuracy"]["holdout"], "forget_mia_before": before["forget_mia"],
            "forget_mia": after["forget_mia"], "forget_mia_auc": after["forget_mia_auc"],
            "forget_accuracy_exact": exact["accuracy"]["forget"], "retain_accuracy_exact": exact["accuracy"]["retain"],
            "seconds": round(seconds, 3), "gradient_evaluations": outcome.cost.gradient_evaluations,
            "circuit_runs": target.circuit_runs[0] if isinstance(target, ShotEstimatedModel) else None,
            "steps": outcome.details.get("steps")}


def _probe_outputs(mf: Any, X: np.ndarray, y: np.ndarray, settings: ShotSettings, shots: int | None, seed: int,
                   backend: Any) -> np.ndarray:
    from qaudit.query import TargetQueries

    probs = TargetQueries(mf.model, backend, shots, seed)(mf.model, X).probs
    return probs[np.arange(len(y)), y]


_VERIFIERS: dict[str, Any] = {}


def exact_verifier(mf: Any, dataset: Any, fs: Any, seed: int) -> Any:
    """The verifier on exact outputs (attacks fitted on the original model) for this model, data, forget set
    and seed, built once per process and reused: every run of a shot study needs it, and so does any other
    caller with the same inputs (``qaudit reproduce``'s unlearning stage). Keyed by content, so a different
    model, dataset, forget set or seed builds a new one."""
    key = content_key(mf.kind, mf.model.to_document(), mf.data.members, mf.data.holdout, fs.forget_ids,
                      fs.retain_ids, int(seed), dataset.X, dataset.y)
    if key not in _VERIFIERS:
        from qaudit import unlearning as core

        _VERIFIERS.clear()
        _VERIFIERS[key] = core.Verifier(mf, dataset, fs, seed, None, None)
    return _VERIFIERS[key]


def study_run(bundle: tuple[Any, str, dict[str, Any]], dataset: Any, truth: Any, settings: ShotSettings,
              shots: int | None, seed: int, probe: np.ndarray, fs: Any, checkpoint: Any) -> dict[str, Any]:
    """Job: one (shot count, repeat) run -- the leak audit, the probe outputs and, with ``--unlearn``, the
    unlearning run -- from the model file's fields and model document (*bundle*); stored as a checkpoint
    (a path) as soon as it exists, so an interrupted study keeps every finished run."""
    from qaudit.backends import resolve_backend
    from qaudit.model import from_portable

    mf = from_portable(bundle)
    backend, _ = resolve_backend(settings.backend, shots, mf.model)
    t0 = time.perf_counter()
    run: dict[str, Any] = {"shots": shots, "seed": seed}
    run["leak"] = _leak_run(mf, dataset, truth, settings, shots, seed, backend)
    probe_probs = _probe_outputs(mf, dataset.X[probe], dataset.y[probe], settings, shots, seed, backend)
    if settings.unlearn:
        run["unlearn"] = _unlearn_run(mf, dataset, fs, settings, shots, seed, backend,
                                      exact_verifier(mf, dataset, fs, settings.seed))
    run["seconds"] = round(time.perf_counter() - t0, 3)
    piece = {"run": run, "probe": probe_probs.tolist()}
    from qaudit.checkpoints import save_piece

    save_piece(checkpoint, piece)
    return piece


def run_study(mf: Any, dataset: Any, settings: ShotSettings, progress: Progress = SILENT,
              location: str = "", executor: Any = None) -> Report:
    """Run the shot study on ``mf`` and build its :class:`Report` (see the module docstring).

    The (shot count, repeat) runs are independent jobs on *executor* (None: in this process); each carries
    the model document, the indices and its seed, the dataset is shared once."""
    from qaudit.parallel import using

    study = plan_study(mf, dataset, settings, location)
    with progress.track("shot study", len(study.plan)) as task:
        progress.advance(task, len(study.plan) - len(study.todo))
        results: list[Any] = []
        if study.todo:
            with using(executor) as ex:
                results = ex.map(study_run, study.jobs(ex.share(dataset)), on_done=lambda: progress.advance(task))
    return study.finish(results)


@dataclass
class StudyPlan:
    """A shot study split into its independent runs (:meth:`jobs`, for any executor) and the step that
    assembles their results into the Report (:meth:`finish`); :func:`run_study` is plan, map, finish.
    Runs already checkpointed (``--resume``) are loaded here and left out of :attr:`todo`."""

    mf: Any
    settings: ShotSettings
    seeds: list[int]
    truth: Any
    probe: np.ndarray
    fs: Any
    plan: list[tuple[int | None, int]]
    keys: list[str]
    base_key: str
    store: Any
    pieces: list[Any]
    todo: list[int]
    location: str = ""

    def jobs(self, dataset: Any) -> list[Any]:
        """One :class:`qaudit.protocols.Job` of :func:`study_run` per run still to do; *dataset* is the
        dataset or the executor's handle for it."""
        from qaudit.model import portable
        from qaudit.protocols import Job

        bundle = portable(self.mf)
        return [Job((bundle, dataset, self.truth, self.settings, self.plan[i][0], self.plan[i][1], self.probe,
                     self.fs, self.store.path(self.keys[i])),
                    seed=self.plan[i][1], origin=f"shot study run ({shot_label(self.plan[i][0])} shots)")
                for i in self.todo]

    def finish(self, results: list[Any]) -> Report:
        """The Report from the results of :meth:`jobs` (in job order); discards the run checkpoints."""
        pieces = list(self.pieces)
        for i, piece in zip(self.todo, results):
            pieces[i] = piece
        runs = [piece["run"] for piece in pieces]
        jitter: dict[str, float] = {}
        for used in dict.fromkeys(used for used, _ in self.plan):
            stack = np.vstack([np.asarray(piece["probe"], dtype=np.float64)
                               for (u, _), piece in zip(self.plan, pieces) if u == used])
            jitter[shot_label(used)] = float(np.mean(stack.std(axis=0, ddof=1))) if len(self.seeds) > 1 else 0.0
        self.store.discard()
        return build_report(self.mf, self.settings, self.seeds, runs, jitter, self.location, len(self.probe),
                            self.fs)


def plan_study(mf: Any, dataset: Any, settings: ShotSettings, location: str = "") -> StudyPlan:
    """Validate *settings* against the model and backend and plan the study's runs (no run is made)."""
    from qaudit.audit import ground_truth
    from qaudit.backends import resolve_backend
    from qaudit.plugins import get_host, name_or_default

    settings.validate()
    host = get_host()
    # a copy with the defaults resolved (recorded in the report); the caller's settings are not changed
    settings = dataclasses.replace(
        settings, backend=name_or_default("backend", "shots", settings.backend, "--backend"),
        attack=name_or_default("attack", "verification", settings.attack, "--attack"))
    host.get("attack", settings.attack)
    seeds = repeat_seeds(settings.seed, settings.repeats)
    if not settings.shots:
        raise QauditError("no shot counts given")
    if any(s is not None for s in settings.shots) and not host.get("backend", settings.backend).capabilities.shots:
        raise QauditError(f"backend {settings.backend!r} cannot sample shots; use a shot-capable backend "
                          "(`qaudit backends`, column shots)")
    truth = ground_truth(mf, len(dataset))
    rng = np.random.default_rng(settings.seed)
    probe = np.sort(rng.choice(truth.members, min(settings.probe_size, len(truth.members)), replace=False))
    fs = None
    if settings.unlearn:
        from qaudit import unlearning as core

        host.get("unlearning", settings.unlearn)
        if settings.forget_class is None:
            raise QauditError("--unlearn needs --forget-class C (the class to forget)")
        require_shot_gradients(mf.model, mf.kind)
        fs = core.resolve_forget(mf, dataset, [settings.forget_class])
        check_idx = fs.forget_ids[:4]
        be0, _ = resolve_backend(settings.backend, None, mf.model)
        check_parameter_shift(mf.model, dataset.X[check_idx], dataset.y[check_idx], be0)
    store = Checkpoints("shot-study", settings.resume)
    base_key = content_key(mf.kind, mf.model.to_document(), dataset.X, dataset.y, probe,
                           {k: v for k, v in dataclasses.asdict(settings).items() if k != "resume"})
    plan = [(resolve_backend(settings.backend, shots, mf.model)[1], seed) for shots in settings.shots
            for seed in seeds]
    keys = [content_key(base_key, shot_label(used), seed) for used, seed in plan]
    pieces: list[Any] = [store.get(key, check=_check_piece) for key in keys]
    todo = [i for i, piece in enumerate(pieces) if piece is None]
    return StudyPlan(mf, settings, seeds, truth, probe, fs, plan, keys, base_key, store, pieces, todo, location)


def _check_piece(piece: Any) -> None:
    """A stored (shot count, repeat) run has the structure :func:`study_run` returns (else it is refused)."""
    if not (isinstance(piece, dict) and set(piece) == {"run", "probe"} and isinstance(piece["run"], dict)
            and isinstance(piece["run"].get("leak"), dict)):
        raise ValueError("expected an object with a run (holding its leak audit) and probe outputs")
    probe = np.asarray(piece["probe"], dtype=np.float64)
    if probe.ndim != 2 or not np.all(np.isfinite(probe)):
        raise ValueError("probe outputs must be a finite matrix")


def aggregate(runs: list[dict[str, Any]], shots: list[int | None], part: str, names: tuple[str, ...]
              ) -> dict[str, dict[str, dict[str, Any]]]:
    """shot label -> metric -> {mean, std, values} over the repeats of *part* (``leak``/``unlearn``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in shots:
        rows = [r[part] for r in runs if r["shots"] == s and part in r]
        entry = {}
        for name in names:
            values = [row.get(name) for row in rows]
            mean, std = mean_std(values)
            entry[name] = {"mean": mean, "std": std, "values": values}
        out[shot_label(s)] = entry
    return out


def _pm(entry: dict[str, Any], digits: int = 3) -> str:
    if entry["mean"] is None:
        return "-"
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}"


def trend(values: list[float | None]) -> float | None:
    """Spearman rank correlation of *values* with their position (the shot order), or None."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 3:
        return None
    from scipy.stats import spearmanr

    rho = spearmanr([p[0] for p in pts], [p[1] for p in pts]).statistic
    return None if not np.isfinite(rho) else float(rho)


def gated_metrics() -> tuple[str, ...]:
    """Measurement names ``--fail-above`` accepts (checked at every shot count)."""
    names = [f"{k}_{stat}" for k in LEAK_METRICS for stat in ("mean", "std")] + ["output_jitter"]
    names += [f"unlearn_{k}_{stat}" for k in UNLEARN_METRICS for stat in ("mean", "std")]
    return tuple(names)


def build_report(mf: Any, settings: ShotSettings, seeds: list[int], runs: list[dict[str, Any]],
                 jitter: dict[str, float], location: str, n_probe: int, fs: Any = None) -> Report:
    """The shot-study Report: tables, error-bar plots, measurements per shot count, the raw runs."""
    labels = [shot_label(s) for s in settings.shots]
    leak = aggregate(runs, settings.shots, "leak", LEAK_METRICS)
    unl = aggregate(runs, settings.shots, "unlearn", UNLEARN_METRICS) if settings.unlearn else {}
    report = Report(kind="shots", title=f"Shot study of {location or 'model'}", schema=SCHEMA, location=location)
    auc_means = [leak[s]["auc"]["mean"] for s in labels]
    rate_means = [leak[s]["member_rate"]["mean"] for s in labels]
    rho_auc, rho_rate = trend(auc_means), trend(rate_means)
    first, last = labels[0], labels[-1]
    report.verdict = (f"{settings.attack} AUC {_pm(leak[first]['auc'])} at {first} shots vs "
                      f"{_pm(leak[last]['auc'])} at {last}; paper MIA accuracy {_pm(leak[first]['member_rate'])} vs "
                      f"{_pm(leak[last]['member_rate'])} (mean ± std over {len(seeds)} repeats)")
    if settings.unlearn:
        report.verdict += (f"; {settings.unlearn} forget-accuracy spread {unl[first]['forget_accuracy']['std']:.3f} at "
                           f"{first} vs {unl[last]['forget_accuracy']['std']:.3f} at {last}")
    report.summary = {"model": location, "kind": mf.kind, "backend": settings.backend,
                      "shots": ",".join(labels), "repeats": len(seeds), "attack": settings.attack,
                      "forget_class": settings.forget_class, "unlearn": settings.unlearn,
                      "auc_trend_spearman": rho_auc, "mia_trend_spearman": rho_rate}
    rows = []
    for s in labels:
        e = leak[s]
        ci = (f"[{e['auc_low']['mean']:.3f}, {e['auc_high']['mean']:.3f}]" if e["auc_low"]["mean"] is not None
              else "-")
        rows.append([s, _pm(e["auc"]), ci, _pm(e["tpr@0.1%fpr"]), _pm(e["tpr@1%fpr"]), _pm(e["tpr@10%fpr"]),
                     _pm(e["advantage"]), _pm(e["member_rate"]), jitter.get(s)])
    scope = f"class {settings.forget_class}" if settings.forget_class is not None else "all"
    report.tables.append(Table("leakage vs shots", ["shots", "AUC", "AUC 95% CI (mean bounds)", "TPR@0.1%FPR",
                                                    "TPR@1%FPR", "TPR@10%FPR", "advantage", "MIA accuracy (paper)",
                                                    "output jitter"], rows,
                               f"mean ± std over {len(seeds)} repeats (seeds {seeds}); MIA accuracy = fraction of "
                               f"{scope} training members the {settings.attack} attack calls member; output jitter = "
                               f"std across repeats of p(true class) on {n_probe} members, averaged"))
    if settings.unlearn:
        rows = []
        for s in labels:
            e = unl[s]
            rows.append([s, _pm(e["forget_accuracy"]), _pm(e["retain_accuracy"]), _pm(e["forget_mia_before"]),
                         _pm(e["forget_mia"]), _pm(e["forget_accuracy_exact"]), _pm(e["retain_accuracy_exact"]),
                         _pm(e["seconds"], 1)])
        report.tables.append(Table(f"unlearning stability vs shots ({settings.unlearn}, forget class "
                                   f"{settings.forget_class})",
                                   ["shots", "forget acc", "retained acc", "forget MIA before", "forget MIA after",
                                    "forget acc (exact eval)", "retained acc (exact eval)", "seconds"], rows,
                                   "gradients estimated from the shots (parameter shift for the circuit, sampled "
                                   "<Z> for the head); measured with the same shots, and exactly; mean ± std over "
                                   "repeats -- the std is the stability"))
    cols = ["shots", "seed", "AUC", "MIA acc"] + (["forget acc", "retained acc", "forget MIA"] if settings.unlearn
                                                 else []) + ["seconds"]
    raw = []
    for r in runs:
        row = [shot_label(r["shots"]), r["seed"], r["leak"]["auc"], r["leak"]["member_rate"]]
        if settings.unlearn:
            row += [r["unlearn"]["forget_accuracy"], r["unlearn"]["retain_accuracy"], r["unlearn"]["forget_mia"]]
        raw.append(row + [r["seconds"]])
    report.tables.append(Table("every run", cols, raw))
    report.plots.append(Plot("leakage vs shots", "shots", "attack metric", labels, [
        Series(f"{settings.attack} AUC", [leak[s]["auc"]["mean"] for s in labels],
               [leak[s]["auc"]["std"] for s in labels]),
        Series("MIA accuracy (paper)", rate_means, [leak[s]["member_rate"]["std"] for s in labels]),
        Series("TPR@10%FPR", [leak[s]["tpr@10%fpr"]["mean"] for s in labels],
               [leak[s]["tpr@10%fpr"]["std"] for s in labels])],
        note="mean ± 1 std over repeats"))
    if settings.unlearn:
        report.plots.append(Plot(f"unlearning stability vs shots ({settings.unlearn})", "shots", "after unlearning",
                                 labels, [Series(name, [unl[s][key]["mean"] for s in labels],
                                                 [unl[s][key]["std"] for s in labels])
                                          for name, key in (("forget accuracy", "forget_accuracy"),
                                                            ("retained accuracy", "retain_accuracy"),
                                                            ("forget MIA", "forget_mia"))],
                                 note="error bars: ±1 std over repeats (the stability)"))
    for s in labels:
        m = {f"{k}_mean": leak[s][k]["mean"] for k in LEAK_METRICS}
        m.update({f"{k}_std": leak[s][k]["std"] for k in LEAK_METRICS})
        m["output_jitter"] = jitter.get(s)
        if settings.unlearn:
            m.update({f"unlearn_{k}_mean": unl[s][k]["mean"] for k in UNLEARN_METRICS})
            m.update({f"unlearn_{k}_std": unl[s][k]["std"] for k in UNLEARN_METRICS})
        report.measurements[f"shots={s}"] = {k: float(v) for k, v in m.items() if v is not None}
    report.seeds = {"study": settings.seed, **{f"repeat_{i}": s for i, s in enumerate(seeds)}}
    report.settings = {"shots": labels, "repeats": len(seeds), "backend": settings.backend,
                       "attack": settings.attack, "forget_class": settings.forget_class, "unlearn": settings.unlearn,
                       "unlearn_options": settings.unlearn_options, "bootstrap": settings.n_bootstrap,
                       "probe_size": n_probe, "repeat_seeds": seeds}
    report.payload = {"leak": leak, "unlearn": unl, "output_jitter": jitter, "runs": runs,
                      "forget_set_size": int(len(fs.forget_ids)) if fs is not None else None}
    return report
