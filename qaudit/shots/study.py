"""The shot study: its plan, and one leak and one unlearning run per shot budget and seed, on the executor."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.files.checkpoints import Checkpoints, content_key
from qaudit.report.results import Report
from qaudit.sdk.errors import QauditError
from qaudit.sdk.progress import SILENT, Progress
from qaudit.shots.estimated_model import ShotEstimatedModel, check_parameter_shift, require_shot_gradients
from qaudit.shots.report import build_report
from qaudit.shots.settings import LEAK_METRICS, ShotSettings, repeat_seeds, shot_label


def _leak_run(mf: Any, dataset: Any, truth: Any, settings: ShotSettings, shots: int | None, seed: int,
              backend: Any) -> dict[str, Any]:
    from qaudit.leak.audit import AuditSettings, run_audit

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
    from qaudit import unlearn as core
    from qaudit.sdk.host import get_host

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
    from qaudit.run.query import TargetQueries

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
        from qaudit import unlearn as core

        _VERIFIERS.clear()
        _VERIFIERS[key] = core.Verifier(mf, dataset, fs, seed, None, None)
    return _VERIFIERS[key]


def study_run(bundle: tuple[Any, str, dict[str, Any]], dataset: Any, truth: Any, settings: ShotSettings,
              shots: int | None, seed: int, probe: np.ndarray, fs: Any, checkpoint: Any) -> dict[str, Any]:
    """Job: one (shot count, repeat) run -- the leak audit, the probe outputs and, with ``--unlearn``, the
    unlearning run -- from the model file's fields and model document (*bundle*); stored as a checkpoint
    (a path) as soon as it exists, so an interrupted study keeps every finished run."""
    from qaudit.files.model_file import from_portable
    from qaudit.run.backend_choice import resolve_backend

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
    from qaudit.files.checkpoints import save_piece

    save_piece(checkpoint, piece)
    return piece


def run_study(mf: Any, dataset: Any, settings: ShotSettings, progress: Progress = SILENT,
              location: str = "", executor: Any = None) -> Report:
    """Run the shot study on ``mf`` and build its :class:`Report` (see the module docstring).

    The (shot count, repeat) runs are independent jobs on *executor* (None: in this process); each carries
    the model document, the indices and its seed, the dataset is shared once."""
    from qaudit.run.parallel import using

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
        """One :class:`qaudit.sdk.protocols.Job` of :func:`study_run` per run still to do; *dataset* is the
        dataset or the executor's handle for it."""
        from qaudit.files.model_file import portable
        from qaudit.sdk.protocols import Job

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
    from qaudit.leak.audit import ground_truth
    from qaudit.run.backend_choice import resolve_backend
    from qaudit.sdk.host import get_host, name_or_default

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
        from qaudit import unlearn as core

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
