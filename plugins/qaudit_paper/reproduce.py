"""``qaudit reproduce``: the paper's experiments (arXiv 2509.06086) in one command, beside its claims.

Stages (every number in the report is computed in this run; the paper's
numbers are the only constants, in :data:`CLAIMS`):

1. train the basic QNN and the HQNN at the paper's settings (MNIST, 1000
   members / 500 holdout drawn with the seed, forget class 4);
2. gray-box MIA (plus the loss attack) on each model before unlearning
   (:func:`qaudit.leak.audit.run_audit`);
3. GA, SSD and RGA on each model against the retrain oracle, verified the same
   way (:mod:`qaudit.unlearn`; the comparison table of ``compare-unlearning``);
4. the shot study on the basic QNN (:func:`qaudit.shots.run_study`, GA under shots);
5. the paper's noise model on the basic QNN: leakage and accuracy on
   ``--backend noisy:paper`` (exact density-matrix semantics in the Heisenberg
   picture), before and after GA;
6. with ``--device BACKEND`` (off by default), the paper's device experiment offline: a small leaking basic QNN
   audited before and after unlearning the forget class on the exact backend and on the device, side by side
   (:mod:`qaudit_paper.device`);
7. the claims table: every paper claim, the measured value, the explicit
   criterion, the statistical test that judges it (test, statistic, CI or
   p-value, level) and its verdict: agrees / disagrees / inconclusive
   (:func:`judging_conventions` lists the rules; the report prints them).

Outputs (atomic): ``report.md``, ``report.html``, ``report.json`` and the
trained model files in the output folder.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.sdk import SILENT, Plot, Progress, QauditError, Report, Series, Table
from qaudit_paper import cache, origins, stages
from qaudit_paper import device as dev
from qaudit_paper import jobs as paper_jobs

SCHEMA = "qaudit.reproduce/1"
MNIST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: The paper's numbers (PAPER.md); fractions. The only constants in the report.
CLAIMS = {
    "mia_before_sim": 0.902,  # average MIA success in simulation before unlearning [paper, v1 abstract]
    "mia_after_sim": 0.0,  # ... after unlearning
    "mia_before_hw": 0.753,  # on the cloud device (noise stands in for it here)
    "mia_after_hw": 0.037,
    "basic_forget_acc": 0.81,  # basic QNN starting accuracy on digit 4 [code, hard-coded]
    "basic_retain_acc": 0.57,  # ... on the retained classes
}
#: Tolerances of the agreement criteria (absolute, fractions); ours, stated in the report.
TOL_RATE = 0.10
TOL_AFTER = 0.05
TOL_RETAIN_DROP = 0.05


@dataclass
class ReproduceConfig:
    """Everything the reproduction runs; recorded in the report."""

    dataset: str = "mnist"
    data_dir: str | None = None
    n_train: int = 1000
    n_holdout: int = 500
    forget_class: int = 4
    seed: int = 0
    models: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "basic-qnn": {"qubits": 8, "layers": 5, "epochs": 30, "lr": 0.05, "batch_size": 32, "momentum": 0.9,
                      "nesterov": True},
        "hqnn": {"qubits": 8, "layers": 1, "epochs": 25, "lr": 0.1, "batch_size": 8, "momentum": 0.9},
    })
    methods: list[str] = field(default_factory=lambda: ["ga", "ssd", "rga"])
    attacks: list[str] = field(default_factory=lambda: ["gray-box", "loss"])
    shots: list[int | None] = field(default_factory=lambda: [16, 256, 4096, None])
    repeats: int = 3
    shot_method: str = "ga"
    noise: str = "paper"
    bootstrap: int = 200
    #: The basic QNN trained with the authors' recipe (preset ``paper-code``) beside ours: option overrides of
    #: the preset ({} = the preset as is), or None to skip (:mod:`qaudit_paper.origins`).
    paper_code: dict[str, Any] | None = field(default_factory=dict)
    #: The device experiment (``--device``): None = off.
    device: dev.DeviceSettings | None = None

    @classmethod
    def quick(cls, data_dir: str | None = None, dataset: str = "digits") -> ReproduceConfig:
        """A tiny configuration (seconds) that exercises every stage; not the paper's settings."""
        models: dict[str, dict[str, Any]] = {"basic-qnn": {"qubits": 4, "layers": 2, "epochs": 8, "lr": 0.05,
                                                           "batch_size": 32}}
        if dataset == "mnist":
            models["hqnn"] = {"qubits": 4, "layers": 1, "epochs": 1, "lr": 0.1, "batch_size": 8}
        return cls(dataset=dataset, data_dir=data_dir, n_train=240, n_holdout=120, forget_class=4, models=models,
                   attacks=["gray-box"], shots=[16, None], repeats=2, bootstrap=50,
                   paper_code={"qubits": 4, "layers": 2, "epochs": 20})

    @classmethod
    def device_only(cls, device: dev.DeviceSettings | None) -> ReproduceConfig:
        """Only the device experiment (``--device-only``): no MNIST, no other stage."""
        return cls(dataset=device.dataset if device else "digits", models={}, shots=[], noise="", paper_code=None,
                   device=device)


def device_config(backends: list[str] | None, options: str | None, only: bool, quick: bool
                  ) -> dev.DeviceSettings | None:
    """The device experiment's settings from ``--device``/``--device-options``/``--device-only`` (None: off),
    each backend checked before anything trains (:func:`qaudit_paper.device.check_backend`)."""
    if not backends:
        if options is not None or only:
            raise QauditError("--device-options and --device-only need --device BACKEND (e.g. "
                              "--device ibm-fake:FakeSherbrooke)")
        return None
    base = dev.DeviceSettings.quick(backends) if quick else dev.DeviceSettings(backends=list(backends))
    settings = base.with_options(options)
    if len(set(backends)) != len(backends):
        raise QauditError("--device: each backend once")
    for spec in backends:
        dev.check_backend(spec, settings.shots)
    return settings


def check_mnist(data_dir: str | None) -> str:
    """The MNIST folder, or a one-line error saying where to get the files and which flag to pass."""
    from qaudit_datasets.sources import MNIST_ENV

    directory = data_dir or os.environ.get(MNIST_ENV)
    how = ("download t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (the MNIST test set, "
           "http://yann.lecun.com/exdb/mnist/ or any mirror) into a folder and pass --data-dir FOLDER "
           f"(or set ${MNIST_ENV})")
    if not directory:
        raise QauditError(f"no MNIST folder given: {how}")
    path = Path(directory)
    for stem in MNIST_FILES:
        if not any((path / (stem + ext)).is_file() for ext in ("", ".gz")):
            raise QauditError(f"MNIST file {stem}[.gz] not found in {directory}: {how}")
    return str(path)


def versions() -> dict[str, str]:
    """Python and the versions of the packages whose code produced the numbers."""
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("qaudit", "numpy", "scipy", "scikit-learn", "cirq-core", "pluggy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _pct(v: Any) -> Any:
    return None if v is None or not np.isfinite(v) else f"{100.0 * float(v):.1f}"


#: Expected seconds of each stage's jobs at paper settings on one core (measured, issue 19): only the order
#: in which a batch's jobs start (longest first) depends on them, never a result.
STAGE_COST = {"model": 0.5, "leak": 10.0, "unlearn": 15.0, "paper-code": 6.0, "shot run": 10.0, "noise": 15.0,
              "device": 150.0}


def run(config: ReproduceConfig, out_dir: Path, command: str = "", progress: Progress = SILENT,
        say: Any = None, executor: Any = None, jobs: int = 1, use_cache: bool = True) -> Report:
    """Run every stage (module docstring), save the models into *out_dir*, return the Report.

    Independent work runs as jobs on *executor* (None: a new one for *jobs* workers; 1 = in this process):
    first the trainings, then every other stage at once (:mod:`qaudit_paper.stages`). Trained models and
    stage results are cached by content (:mod:`qaudit_paper.cache`; *use_cache* False turns both off), so a
    rerun with the same settings, code and data only reads them back; the report is the same in every case
    (timings aside)."""
    from qaudit.sdk import load_dataset, using_executor

    say = say or (lambda text: None)
    start = time.perf_counter()
    options = {"data_dir": check_mnist(config.data_dir)} if config.dataset == "mnist" else {}
    ds = load_dataset(config.dataset, options)
    data = {"main": (ds, stages.DatasetRef.of(ds, options))}
    if config.device is not None:
        dds = ds if config.device.dataset == config.dataset else load_dataset(config.device.dataset, {})
        data["device"] = (dds, data["main"][1] if dds is ds else stages.DatasetRef.of(dds, {}))
    for d, _ in data.values():
        if config.forget_class not in set(d.y.tolist()):
            raise QauditError(f"forget class {config.forget_class} does not occur in {d.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    store = cache.StageStore(use_cache)
    with using_executor(executor, jobs) as ex:
        t0 = time.perf_counter()
        model_files, seconds = _train_all(config, data, out_dir, command, ex, progress, say, use_cache)
        wall = {"wall: trainings": round(time.perf_counter() - t0, 2)}
        todo = _stages(config, data, model_files)
        say(", ".join(stage.name for stage in todo)
            + (" (concurrently)" if ex.describe().get("workers", 1) > 1 else ""))
        t0 = time.perf_counter()
        values, stage_seconds = stages.run_stages(todo, ex, store, progress, "reproduce stages")
        wall["wall: stages"] = round(time.perf_counter() - t0, 2)
    cached = [name for name, s in stage_seconds.items() if s == "cached"]
    if cached:
        say(f"{len(cached)} of {len(stage_seconds)} stages read from the content-addressed cache")
    for path in store.rejected:
        say(f"ignored a damaged stage cache entry (recomputed): {path}")
    results, compare_tables, shot_part = _assemble(config, values, model_files)
    total = round(time.perf_counter() - start, 1)
    return build_report(config, results, compare_tables, shot_part, {**seconds, **stage_seconds, **wall}, total,
                        command)


def _wanted(config: ReproduceConfig) -> list[tuple[Any, ...]]:
    """(label, kind, options, preset, dataset, members, holdout) of every model the run trains."""
    n, h = config.n_train, config.n_holdout
    wanted = [(kind, kind, opts, None, "main", n, h) for kind, opts in config.models.items()]
    if "basic-qnn" in config.models and "gray-box" in config.attacks and config.paper_code is not None:
        wanted.append(("paper-code", "basic-qnn", config.paper_code, "paper-code", "main", n, h))
    d = config.device
    if d is not None:
        wanted.append((DEVICE_MODEL, "basic-qnn", d.model, None, "device", d.n_train, d.n_holdout))
    return wanted


#: The device experiment's model (label and file stem).
DEVICE_MODEL = "device-basic-qnn"


def _train_all(config: ReproduceConfig, data: dict[str, Any], out_dir: Path, command: str, ex: Any,
               progress: Progress, say: Any, use_cache: bool) -> tuple[dict[str, Any], dict[str, float]]:
    """Every model the run needs (``config.models``, the ``paper-code`` basic QNN and the device experiment's
    model), from the model cache or trained as concurrent jobs, each saved into *out_dir* and read back from
    there. *data* maps ``main``/``device`` to (dataset, its reference)."""
    from qaudit.sdk import Job, from_portable, load_model_file, run_jobs, save_model_file

    wanted = _wanted(config)
    found: dict[str, Any] = {}
    todo = []
    for label, kind, opts, preset, which, n, h in wanted:
        mf = cache.load_cached(kind, data[which][0], n, h, config.seed, opts, preset, use_cache)
        if mf is not None:
            say(f"{label}: trained model loaded from the content-addressed cache")
            found[label] = mf
        else:
            say(f"training {label} {opts}")
            todo.append((label, kind, opts, preset, which, n, h))
    jobs = [Job((paper_jobs.train, data[which][1], kind, n, h, config.seed, opts, preset, use_cache),
                seed=config.seed, origin=f"reproduce training {label}")
            for label, kind, opts, preset, which, n, h in todo]
    seconds: dict[str, Any] = {f"train {label}": "cached" for label in found}
    done = run_jobs(stages.call, jobs, ex, progress, "trainings") if jobs else []
    for (label, *_), (bundle, took) in zip(todo, done):
        found[label] = from_portable(bundle)
        seconds[f"train {label}"] = round(took, 2)
    model_files = {}
    for label, *_ in wanted:
        path = out_dir / f"{label}.json"
        save_model_file(found[label], path, command=command)
        model_files[label] = load_model_file(path)
    return model_files, seconds


def _stages(config: ReproduceConfig, data: dict[str, Any], model_files: dict[str, Any]) -> list[stages.Stage]:
    """The stages after training, each with its inputs (the cache key) and jobs."""
    ds, dref = data["main"]
    fc, seed, boot = config.forget_class, config.seed, config.bootstrap
    refs = {label: stages.ModelRef(mf, f"{label}.json") for label, mf in model_files.items()}
    out = []
    for kind in config.models:
        m = refs[kind]
        out += [stages.Stage(f"model {kind}", [m, dref, fc], [(paper_jobs.model_entry, m, dref, fc)],
                             cost=STAGE_COST["model"], required=("options",)),
                stages.Stage(f"leak {kind}", [m, dref, config.attacks, seed, fc, boot],
                             [(paper_jobs.leak, m, dref, list(config.attacks), seed, fc, boot)],
                             cost=STAGE_COST["leak"], required=("leak", "origin")),
                stages.Stage(f"unlearn {kind}", [m, dref, config.methods, seed, fc],
                             [(paper_jobs.unlearn, m, dref, list(config.methods), seed, fc)],
                             cost=STAGE_COST["unlearn"], required=("unlearning", "tables"))]
    if "paper-code" in refs:
        shown = origins.paper_code_shown(config.paper_code or {})
        m = refs["paper-code"]
        out.append(stages.Stage("paper-code recipe", [m, dref, seed, fc, boot, shown],
                                [(paper_jobs.paper_code, m, dref, seed, fc, boot, shown)],
                                cost=STAGE_COST["paper-code"], required=("preset", "leak", "accuracy")))
    basic = refs.get("basic-qnn")
    if basic is not None and config.shots:
        out.append(_shot_stage(config, ds, dref, model_files["basic-qnn"], basic))
    if basic is not None and config.noise:
        method = config.shot_method if config.shot_method in config.methods else None
        out.append(stages.Stage("noise", [basic, dref, config.noise, seed, fc, boot, method],
                                [(paper_jobs.noise, basic, dref, config.noise, seed, fc, boot, method)],
                                cost=STAGE_COST["noise"], required=("backend", "before")))
    if config.device is not None:
        out.append(_device_stage(config, data["device"], model_files[DEVICE_MODEL], refs[DEVICE_MODEL]))
    return out


def _device_stage(config: ReproduceConfig, data: tuple[Any, stages.DatasetRef], mf: Any, ref: stages.ModelRef
                  ) -> stages.Stage:
    """The device experiment: one job per (model before/after unlearning, backend), exact and every device."""
    d = config.device
    assert d is not None
    ds, dref = data
    fc, seed, boot = config.forget_class, config.seed, config.bootstrap
    n_forget = int(np.sum(ds.y[np.asarray(mf.data.members)] == fc))
    jobs = [(dev.run_one, ref, dref, which, backend, d.shots, list(d.attacks), seed, fc, boot, d.method,
             d.max_qpu_seconds) for which, backend in dev.cells(d.backends)]

    def finish(pieces: list[Any]) -> dict[str, Any]:
        return {"entries": pieces, "n_forget_members": n_forget, "settings": asdict(d),
                "survives": {b: dev.survives(pieces, b) for b in d.backends}}

    return stages.Stage("device", [ref, dref, d, seed, fc, boot], jobs, finish,
                        cost=STAGE_COST["device"] * len(d.backends), required=("entries", "survives"))


def _shot_stage(config: ReproduceConfig, ds: Any, dref: stages.DatasetRef, mf: Any, ref: stages.ModelRef
                ) -> stages.Stage:
    """The shot study on the basic QNN: one job per (shot count, repeat), planned only when not cached."""
    from dataclasses import asdict as as_dict

    from qaudit.sdk.workflows import ShotSettings, plan_study, study_run

    def settings() -> ShotSettings:
        return ShotSettings(shots=list(config.shots), repeats=config.repeats, seed=config.seed, backend="sampled",
                            forget_class=config.forget_class, unlearn=config.shot_method,
                            n_bootstrap=config.bootstrap)

    plan: list[Any] = []

    def make_jobs() -> list[tuple[Any, ...]]:
        study = plan_study(mf, ds, settings(), location=mf.path or "")
        plan.append(study)
        return [(study_run, *job.args) for job in study.jobs(dref)]

    def finish(pieces: list[Any]) -> dict[str, Any]:
        rep = plan[0].finish(pieces)
        p = rep.payload
        return {"results": {"leak": p["leak"], "unlearn": p["unlearn"], "output_jitter": p["output_jitter"],
                            "runs": p["runs"], "summary": rep.summary},
                "tables": [as_dict(t) for t in rep.tables if t.title != "every run"],
                "plots": [as_dict(pl) for pl in rep.plots],
                "seeds": {k: v for k, v in rep.seeds.items() if k != "study"}}

    return stages.Stage("shot study", [ref, dref, settings()], make_jobs, finish,
                        cost=STAGE_COST["shot run"] * len(config.shots) * config.repeats,
                        required=("results", "tables", "plots", "seeds"))


def _assemble(config: ReproduceConfig, values: dict[str, dict[str, Any]], model_files: dict[str, Any]
              ) -> tuple[dict[str, Any], list[Table], dict[str, Any] | None]:
    """The report's ``results``, the unlearning comparison tables and the shot-study part, from the stage
    values (in the configuration's order, whatever order the jobs finished in)."""
    results: dict[str, Any] = {"models": {}, "leak": {}, "unlearning": {}, "shots": None, "noise": None,
                               "device": None, "origins": {"leak": {}}}
    compare_tables: list[Table] = []
    for kind in config.models:
        results["models"][kind] = {**values[f"model {kind}"], "file": model_files[kind].path}
        leak = values[f"leak {kind}"]
        if leak["origin"] is not None:
            results["origins"]["leak"][kind] = leak["origin"]
        results["leak"][kind] = leak["leak"]
        unl = values[f"unlearn {kind}"]
        results["unlearning"][kind] = unl["unlearning"]
        compare_tables += [Table(f"{kind}: {t['title']}", t["columns"], t["rows"], t["note"]) for t in unl["tables"]]
    if "paper-code recipe" in values:
        results["origins"]["paper_code"] = values["paper-code recipe"]
    shot_part = values.get("shot study")
    if shot_part is not None:
        results["shots"] = shot_part["results"]
    if "noise" in values:
        results["noise"] = values["noise"]
    if "device" in values:
        results["device"] = {**values["device"], "file": model_files[DEVICE_MODEL].path}
    return results, compare_tables, shot_part


# --------------------------------------------------------------------------- statistical judging
#: Significance level of every test in the claims table (two-sided intervals at 1 - ALPHA).
ALPHA = 0.05
#: Fewest repeats per shot count for the trend and spread tests.
MIN_REPEATS = 3
#: Bootstrap draws (resampling repeats) for the CI of Spearman's rho.
TREND_BOOTSTRAP = 2000
AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive"
NEEDS_REPEATS = f"{INCONCLUSIVE} (needs ≥ {MIN_REPEATS} repeats)"
NO_LEAKAGE = f"{INCONCLUSIVE} (no leakage to shrink)"
EXACT_EXCLUDED = ("exact excluded: no shot noise enters its updates, so its spread is 0 by construction and any "
                  "finite shot count would trivially look less stable")


@dataclass
class Judgement:
    """A claim's verdict (``agrees`` / ``disagrees`` / ``inconclusive ...``), the test and its outcome."""

    verdict: str
    test: str
    result: str


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _count(rate: float, n: int) -> int:
    return int(round(float(rate) * n))


def proportion_ci(k: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Clopper–Pearson (exact binomial) two-sided ``1 - alpha`` interval for *k* successes in *n* trials."""
    from scipy.stats import beta

    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def _wilson(k: int, n: int, alpha: float) -> tuple[float, float]:
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def difference_ci(k1: int, n1: int, k2: int, n2: int, alpha: float = ALPHA) -> tuple[float, float, float]:
    """``(d, low, high)`` for ``d = k1/n1 - k2/n2``: Newcombe's hybrid score interval (his method 10).

    It treats the two rates as independent samples; for two models evaluated on the same samples
    (positively correlated) it is wider than a paired interval, i.e. conservative.
    """
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1, alpha)
    l2, u2 = _wilson(k2, n2, alpha)
    d = p1 - p2
    return d, float(d - np.hypot(p1 - l1, u2 - p2)), float(d + np.hypot(u1 - p1, p2 - l2))


def judge_band(rate: float | None, n: int, target: float, tol: float, alpha: float = ALPHA) -> Judgement:
    """Equivalence of a measured rate with a paper number: the rate's CI inside ``target ± tol`` agrees,
    wholly outside disagrees, straddling a band edge is inconclusive."""
    test = f"Clopper–Pearson {_level(alpha)} CI vs {100 * target:.1f}% ± {100 * tol:.0f} pp (α = {alpha:g})"
    if rate is None or not np.isfinite(rate) or n <= 0:
        return Judgement(INCONCLUSIVE, test, "no measurement")
    k = _count(rate, n)
    low, high = proportion_ci(k, n, alpha)
    lo_b, hi_b = target - tol, target + tol
    verdict = (AGREES if lo_b <= low and high <= hi_b else DISAGREES if high < lo_b or low > hi_b else INCONCLUSIVE)
    return Judgement(verdict, test, f"{k}/{n} = {100 * k / n:.1f}%, CI [{100 * low:.1f}, {100 * high:.1f}]%")


def judge_at_most(rate: float | None, n: int, bound: float, alpha: float = ALPHA) -> Judgement:
    """One rate against an upper bound: CI upper end ≤ bound agrees, CI lower end > bound disagrees."""
    test = f"Clopper–Pearson {_level(alpha)} CI vs ≤ {100 * bound:.0f}% (α = {alpha:g})"
    if rate is None or not np.isfinite(rate) or n <= 0:
        return Judgement(INCONCLUSIVE, test, "no measurement")
    k = _count(rate, n)
    low, high = proportion_ci(k, n, alpha)
    verdict = AGREES if high <= bound else DISAGREES if low > bound else INCONCLUSIVE
    return Judgement(verdict, test, f"{k}/{n} = {100 * k / n:.1f}%, CI [{100 * low:.1f}, {100 * high:.1f}]%")


def judge_difference_at_most(rate1: float | None, n1: int, rate2: float | None, n2: int, bound: float,
                             alpha: float = ALPHA, what: str = "difference") -> Judgement:
    """``rate1 - rate2 ≤ bound``: the CI of the difference wholly ≤ bound agrees, wholly > bound disagrees."""
    test = f"Newcombe {_level(alpha)} CI of the {what} vs ≤ {100 * bound:.0f} pp (α = {alpha:g})"
    if rate1 is None or rate2 is None or not (np.isfinite(rate1) and np.isfinite(rate2)) or min(n1, n2) <= 0:
        return Judgement(INCONCLUSIVE, test, "no measurement")
    d, low, high = difference_ci(_count(rate1, n1), n1, _count(rate2, n2), n2, alpha)
    verdict = AGREES if high <= bound else DISAGREES if low > bound else INCONCLUSIVE
    return Judgement(verdict, test, f"{100 * d:+.1f} pp, CI [{100 * low:+.1f}, {100 * high:+.1f}] pp")


def judge_auc_above_chance(auc: float | None, low: float | None, high: float | None,
                           level: str = "95%") -> Judgement:
    """Leakage: the AUC's CI wholly above 0.5 agrees, wholly below disagrees, containing 0.5 is inconclusive."""
    test = f"AUC {level} bootstrap CI vs 0.5 (the audit's stratified percentile bootstrap)"
    if auc is None or low is None or high is None:
        return Judgement(INCONCLUSIVE, test, "no AUC")
    verdict = AGREES if low > 0.5 else DISAGREES if high < 0.5 else INCONCLUSIVE
    return Judgement(verdict, test, f"AUC {auc:.3f}, CI [{low:.3f}, {high:.3f}]")


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def spearman_trend(points: list[tuple[int | None, int, float]], n_boot: int = TREND_BOOTSTRAP, seed: int = 0,
                   alpha: float = ALPHA) -> dict[str, Any]:
    """Spearman's rho between log2(shots) and the metric over every (shot count, repeat) run.

    *points* are ``(shots, repeat, value)``; ``shots=None`` (exact) ranks above every finite count.
    The CI is a percentile bootstrap that resamples the repeats with replacement within each shot
    count. (Resampling whole repeats across shot counts has too few distinct resamples with 3
    repeats -- 10 -- for a percentile interval; and since a repeat's seed is shared across shot
    counts, treating the repeats as independent between shot counts is conservative for a trend.)
    Returns rho, its CI, the number of runs, the fewest repeats at any shot count and the shot counts.
    """
    pts = [(np.inf if s is None else float(np.log2(s)), float(v)) for s, _, v in points
           if v is not None and np.isfinite(v)]
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    levels = np.unique(x)
    groups = [np.flatnonzero(x == level) for level in levels]
    out: dict[str, Any] = {"rho": _rank_corr(x, y) if len(pts) > 2 else float("nan"), "low": float("nan"),
                           "high": float("nan"), "n": len(pts), "levels": len(levels),
                           "repeats": min((len(g) for g in groups), default=0)}
    if out["repeats"] < 2 or out["levels"] < 2:
        return out
    rng = np.random.default_rng(seed)
    boots = np.array([_rank_corr(x[idx], y[idx]) for idx in
                      (np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups]) for _ in range(n_boot))])
    boots = boots[np.isfinite(boots)]
    if len(boots):
        out["low"], out["high"] = (float(v) for v in np.quantile(boots, [alpha / 2, 1 - alpha / 2]))
    return out


def judge_trend(points: list[tuple[int | None, int, float]], leaks: bool | None = True, direction: int = 1,
                alpha: float = ALPHA, n_boot: int = TREND_BOOTSTRAP, seed: int = 0) -> Judgement:
    """A monotone claim across shot counts (``direction=+1``: the metric grows with the shots).

    Agrees only if leakage at the most shots is established (*leaks*) and the bootstrap CI of Spearman's
    rho excludes 0 in the claimed direction; disagrees if it excludes 0 in the opposite direction.
    """
    test = (f"Spearman ρ, metric vs log2(shots) over all (shot, repeat) runs, exact ranked highest; "
            f"{_level(alpha)} bootstrap CI resampling repeats within each shot count ({n_boot} draws); claimed sign "
            f"{'+' if direction > 0 else '−'} (α = {alpha:g})")
    t = spearman_trend(points, n_boot, seed, alpha)
    if t["levels"] < 2:
        return Judgement(INCONCLUSIVE + " (needs ≥ 2 shot counts)", test, f"{t['levels']} shot count(s)")
    if t["repeats"] < MIN_REPEATS:
        return Judgement(NEEDS_REPEATS, test, f"{t['repeats']} repeat(s) at some shot count, {t['n']} runs")
    result = (f"ρ = {t['rho']:+.2f}, CI [{t['low']:+.2f}, {t['high']:+.2f}] ({t['n']} runs, ≥ {t['repeats']} "
              "repeats per shot count)")
    if not leaks:
        return Judgement(NO_LEAKAGE, test, result)
    lo, hi = direction * t["low"], direction * t["high"]
    lo, hi = min(lo, hi), max(lo, hi)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return Judgement(INCONCLUSIVE, test, result)
    return Judgement(AGREES if lo > 0 else DISAGREES if hi < 0 else INCONCLUSIVE, test, result)


def leakage_at_most_shots(runs: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether the leakage at the largest shot count (exact if run) is distinguishable from chance:
    every repeat's AUC CI lies above 0.5. Returns (established, description)."""
    shots = [r["shots"] for r in runs if "leak" in r]
    if not shots:
        return False, "no leakage runs"
    top = None if None in shots else max(shots)
    lows = [r["leak"].get("auc_low") for r in runs if "leak" in r and r["shots"] == top]
    label = "exact" if top is None else f"{top} shots"
    if any(v is None for v in lows):
        return False, f"no AUC CI at {label}"
    ok = bool(lows) and min(lows) > 0.5
    return ok, f"AUC CI low at {label}: min {min(lows):.3f} over {len(lows)} repeats ({'>' if ok else '≤'} 0.5)"


def judge_spread(few: list[float], many: list[float], few_label: str, many_label: str,
                 alpha: float = ALPHA) -> Judgement:
    """"Less stable with fewer shots": Brown–Forsythe test (Levene, median-centred) between two finite
    shot counts. Agrees if p < alpha and the spread is larger at *few*; disagrees if p < alpha and it
    is larger at *many*; inconclusive otherwise, or with fewer than MIN_REPEATS values per group."""
    from scipy.stats import levene

    test = (f"Brown–Forsythe (Levene, median-centred) {few_label} vs {many_label} shots, two-sided, "
            f"α = {alpha:g}; {EXACT_EXCLUDED}")
    a = np.array([v for v in few if v is not None and np.isfinite(v)], dtype=float)
    b = np.array([v for v in many if v is not None and np.isfinite(v)], dtype=float)
    if min(len(a), len(b)) < MIN_REPEATS:
        return Judgement(NEEDS_REPEATS, test, f"{len(a)} and {len(b)} repeats")
    with np.errstate(divide="ignore", invalid="ignore"):
        stat, p = levene(a, b, center="median")
    sa, sb = float(np.std(a, ddof=1)), float(np.std(b, ddof=1))
    result = f"std {sa:.3f} ({few_label}) vs {sb:.3f} ({many_label}); "
    if not np.isfinite(p):
        return Judgement(INCONCLUSIVE, test, result + "no spread in either group")
    result += f"W = {float(stat):.2f}, p = {float(p):.3g}"
    mad_a, mad_b = np.mean(np.abs(a - np.median(a))), np.mean(np.abs(b - np.median(b)))
    if p >= alpha or mad_a == mad_b:
        return Judgement(INCONCLUSIVE, test, result)
    return Judgement(AGREES if mad_a > mad_b else DISAGREES, test, result)


def judging_conventions(alpha: float = ALPHA) -> list[list[str]]:
    """The rows of the report's "How the claims are judged" table: one line per test convention."""
    lvl = _level(alpha)
    return [
        ["level", f"α = {alpha:g} for every test; {lvl} two-sided intervals; no multiplicity correction (each row is "
                  "its own claim); the paper's numbers are taken as constants (it gives no uncertainty); the "
                  "tolerances are ours"],
        ["verdicts", "agrees = the test backs the claim; disagrees = the test backs the opposite; inconclusive = "
                     "the interval straddles the claim's boundary, or too little data for the test"],
        ["rate vs paper number", f"Clopper–Pearson exact binomial {lvl} CI of the rate (successes over the samples "
                                 "scored): inside the paper's number ± tolerance agrees, wholly outside disagrees"],
        ["rate vs bound", f"Clopper–Pearson {lvl} CI: upper end ≤ bound agrees, lower end > bound disagrees"],
        ["two rates", f"Newcombe hybrid score {lvl} CI of the difference (before vs after, model vs oracle): upper "
                      "end ≤ tolerance agrees, lower end > tolerance disagrees; it treats the rates as independent, "
                      "which is conservative for two models scored on the same samples"],
        ["leakage", f"the audit's {lvl} stratified bootstrap CI of the attack AUC: above 0.5 agrees, below 0.5 "
                    "disagrees, containing 0.5 inconclusive"],
        ["trend across shots", f"Spearman's rank correlation ρ between log2(shots) and the metric over every (shot "
                               f"count, repeat) run, exact ranked above all finite counts; {lvl} percentile "
                               "bootstrap CI resampling the repeats within each shot count "
                               f"({TREND_BOOTSTRAP} draws): CI > 0 in the "
                               "claimed direction agrees, in the opposite direction disagrees; 'agrees' also needs "
                               "leakage at the most shots (every repeat's AUC CI above 0.5), else 'inconclusive (no "
                               f"leakage to shrink)'; needs ≥ {MIN_REPEATS} repeats"],
        ["stability across shots", "Brown–Forsythe test (Levene's test centred on the median, "
                                   "scipy.stats.levene(center='median')) of the spread across repeats between the "
                                   "smallest and largest finite shot counts: p < α with the larger spread at fewer "
                                   "shots agrees, at more shots disagrees; " + EXACT_EXCLUDED +
                                   f"; needs ≥ {MIN_REPEATS} repeats per group"],
    ]


# --------------------------------------------------------------------------- claims and report
def _row(claim: str, paper: str, measured: str, criterion: str, j: Judgement) -> list[Any]:
    return [claim, paper, measured, criterion, j.test, j.result, j.verdict]


def _leak_claims(config: ReproduceConfig, results: dict[str, Any]) -> list[list[Any]]:
    rows = []
    fc = config.forget_class
    for kind, leak in results["leak"].items():
        g = leak.get("gray-box")
        if g is None:
            continue
        rate, m = g["member_rate"], g["metrics"]
        n = results["models"][kind]["n_forget_members"]
        rows.append(_row(f"{kind}: gray-box MIA success on class-{fc} members before unlearning (simulation)",
                         f"{100 * CLAIMS['mia_before_sim']:.1f}%", f"{_pct(rate)}% (AUC {m['auc']:.3f} "
                         f"[{m['auc_low']:.3f}, {m['auc_high']:.3f}], non-member rate "
                         f"{_pct(g['non_member_rate'])}%)", f"within ±{100 * TOL_RATE:.0f} pp",
                         judge_band(rate, n, CLAIMS["mia_before_sim"], TOL_RATE)))
        rows.append(_row(f"{kind}: the model leaks membership (MIA far above chance)", "yes",
                         f"AUC {m['auc']:.3f}", "AUC CI excludes 0.5 from above",
                         judge_auc_above_chance(m["auc"], m["auc_low"], m["auc_high"])))
    return rows


def _mia_after(a: dict[str, Any], o: dict[str, Any], n: int) -> Judgement:
    """MIA success after unlearning ≤ TOL_AFTER, or at most TOL_AFTER above the oracle's."""
    j1 = judge_at_most(a["forget_mia"], n, TOL_AFTER)
    j2 = judge_difference_at_most(a["forget_mia"], n, o["forget_mia"], n, TOL_AFTER, what="excess over the oracle")
    verdict = (AGREES if AGREES in (j1.verdict, j2.verdict) else
               DISAGREES if j1.verdict == j2.verdict == DISAGREES else INCONCLUSIVE)
    return Judgement(verdict, f"{j1.test}; or {j2.test}", f"{j1.result}; excess {j2.result}")


def _unlearning_claims(results: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for kind, unl in results["unlearning"].items():
        b, o = unl["before"], unl["oracle"]
        nf, nr = unl["forget_size"], unl["retain_size"]
        for method, entry in unl["methods"].items():
            a = entry["after"]
            rows.append(_row(f"{kind} {method}: MIA success after unlearning", f"~{100 * CLAIMS['mia_after_sim']:.0f}%",
                             f"{_pct(a['forget_mia'])}% (before {_pct(b['forget_mia'])}%, oracle "
                             f"{_pct(o['forget_mia'])}%)",
                             f"≤ {100 * TOL_AFTER:.0f}%, or at most {100 * TOL_AFTER:.0f} pp above the oracle",
                             _mia_after(a, o, nf)))
            rows.append(_row(f"{kind} {method}: retained accuracy held", "held",
                             f"{_pct(b['accuracy']['retain'])}% -> {_pct(a['accuracy']['retain'])}%",
                             f"drop ≤ {100 * TOL_RETAIN_DROP:.0f} pp",
                             judge_difference_at_most(b["accuracy"]["retain"], nr, a["accuracy"]["retain"], nr,
                                                      TOL_RETAIN_DROP, what="drop")))
            rows.append(_row(f"{kind} {method}: forget-class accuracy drops to the oracle's level", "→ 0 / oracle",
                             f"{_pct(b['accuracy']['forget'])}% -> {_pct(a['accuracy']['forget'])}% "
                             f"(oracle {_pct(o['accuracy']['forget'])}%)", f"≤ oracle + {100 * TOL_AFTER:.0f} pp",
                             judge_difference_at_most(a["accuracy"]["forget"], nf, o["accuracy"]["forget"], nf,
                                                      TOL_AFTER, what="excess over the oracle")))
    return rows


def _start_claims(config: ReproduceConfig, results: dict[str, Any]) -> list[list[Any]]:
    basic = results["models"].get("basic-qnn")
    if basic is None:
        return []
    rows = []
    fc = config.forget_class
    for key, n_key, label, claim in (("forget_class_accuracy", "n_forget_members", f"digit {fc}", "basic_forget_acc"),
                                     ("retained_accuracy", "n_retained_members", "retained classes",
                                      "basic_retain_acc")):
        v = basic[key]
        rows.append(_row(f"basic-qnn starting training accuracy on {label}", f"≈{100 * CLAIMS[claim]:.0f}%",
                         f"{_pct(v)}%", f"within ±{100 * TOL_RATE:.0f} pp",
                         judge_band(v, basic[n_key], CLAIMS[claim], TOL_RATE)))
    return rows


def _shot_values(runs: list[dict[str, Any]], part: str, metric: str) -> list[tuple[int | None, int, float]]:
    return [(r["shots"], r["seed"], r[part][metric]) for r in runs if part in r and r[part].get(metric) is not None]


def _shot_claims(config: ReproduceConfig, sh: dict[str, Any]) -> list[list[Any]]:
    from qaudit.sdk.workflows import shot_label

    rows = []
    runs = sh["runs"]
    leaks, leak_text = leakage_at_most_shots(runs)
    for metric, name in (("member_rate", "MIA accuracy"), ("auc", "gray-box AUC")):
        measured = ", ".join(f"{s}: {e[metric]['mean']:.3f} ± {e[metric]['std']:.3f}"
                             for s, e in sh["leak"].items() if e[metric]["mean"] is not None)
        j = judge_trend(_shot_values(runs, "leak", metric), leaks, +1, seed=config.seed)
        rows.append(_row(f"fewer shots → less leakage ({name})", "yes", f"{measured} (mean ± std); {leak_text}",
                         "leakage rises with log(shots): ρ > 0, and leakage at the most shots", j))
    finite = sorted({r["shots"] for r in runs if r["shots"] is not None and "unlearn" in r})
    if not sh["unlearn"]:
        return rows
    for metric, what in (("forget_accuracy", "forget accuracy spread"),
                         ("retain_accuracy_exact", "retained accuracy spread, exact evaluation = update noise only")):
        claim = f"fewer shots → less stable unlearning ({config.shot_method} {what})"
        criterion = "spread across repeats larger at the fewest than at the most finite shots"
        if len(finite) < 2:
            j = Judgement(INCONCLUSIVE + " (needs ≥ 2 finite shot counts)", f"Brown–Forsythe; {EXACT_EXCLUDED}",
                          f"finite shot counts run: {', '.join(map(str, finite)) or 'none'}")
            rows.append(_row(claim, "yes", "-", criterion, j))
            continue
        lo, hi = finite[0], finite[-1]
        few = [v for s, _, v in _shot_values(runs, "unlearn", metric) if s == lo]
        many = [v for s, _, v in _shot_values(runs, "unlearn", metric) if s == hi]
        spreads = ", ".join(f"{s}: {e[metric]['std']:.3f}" for s, e in sh["unlearn"].items()
                            if e[metric]["std"] is not None)
        rows.append(_row(claim, "yes", f"std {spreads}", criterion,
                         judge_spread(few, many, shot_label(lo), shot_label(hi))))
    return rows


def _noise_claims(results: dict[str, Any]) -> list[list[Any]]:
    nz = results.get("noise")
    if not nz:
        return []
    rows = [_row(f"noise ({nz['backend']} stands in for the device): MIA success before unlearning",
                 f"{100 * CLAIMS['mia_before_hw']:.1f}% (hardware)",
                 f"{_pct(nz['member_rate'])}% (AUC {nz['auc']:.3f})", f"within ±{100 * TOL_RATE:.0f} pp",
                 judge_band(nz["member_rate"], results["models"]["basic-qnn"]["n_forget_members"],
                            CLAIMS["mia_before_hw"], TOL_RATE))]
    if "after" in nz:
        v = nz["after"]["forget_mia"]
        rows.append(_row(f"noise: MIA success after {nz['method']}", f"{100 * CLAIMS['mia_after_hw']:.1f}% (hardware)",
                         f"{_pct(v)}% (before {_pct(nz['before']['forget_mia'])}%)", f"≤ {100 * TOL_AFTER:.0f}%",
                         judge_at_most(v, results["unlearning"]["basic-qnn"]["forget_size"], TOL_AFTER)))
    return rows


def _device_claims(results: dict[str, Any]) -> list[list[Any]]:
    """The paper's hardware figures (MIA success before / after unlearning) on each device backend, and
    whether the exact audit's leakage survives its noise (the audit's own Holm verdict)."""
    d = results.get("device")
    if not d:
        return []
    by = {(e["model"], e["backend"]): e for e in d["entries"]}
    n = d["n_forget_members"]
    rows = []
    for backend in d["settings"]["backends"]:
        before, after, exact = by[("before", backend)], by[("after", backend)], by[("before", dev.EXACT)]
        rows.append(_row(f"device ({backend}): MIA success before unlearning", f"{100 * CLAIMS['mia_before_hw']:.1f}% "
                         "(hardware)", f"{_pct(before['member_rate'])}% (exact backend {_pct(exact['member_rate'])}%)",
                         f"within ±{100 * TOL_RATE:.0f} pp",
                         judge_band(before["member_rate"], n, CLAIMS["mia_before_hw"], TOL_RATE)))
        rows.append(_row(f"device ({backend}): MIA success after unlearning", f"{100 * CLAIMS['mia_after_hw']:.1f}% "
                         "(hardware)", f"{_pct(after['member_rate'])}%", f"≤ {100 * TOL_AFTER:.0f}%",
                         judge_at_most(after["member_rate"], n, TOL_AFTER)))
        test = "the leak audit's verdict on the device: Holm over the attacks' held-out p-values (α = 0.05)"
        verdict = (f"{INCONCLUSIVE} (no leakage on the exact backend)" if not exact["leaks"] else
                   AGREES if before["leaks"] else INCONCLUSIVE)
        measured = ", ".join(f"{where} {'LEAKS' if e['leaks'] else 'no significant leakage'} (AUC "
                             f"{e['metrics']['auc']:.3f})" for where, e in (("exact", exact), ("device", before)))
        rows.append(_row(f"device ({backend}): leakage survives on the device", "yes", measured,
                         "the device audit finds the leakage the exact audit finds",
                         Judgement(verdict, test, d["survives"][backend])))
    return rows


#: Columns of the claims table (rows from :func:`claims`); the verdict is last.
CLAIM_COLUMNS = ["claim", "paper", "this run", "criterion (ours)", "test (level)", "statistic / CI", "verdict"]
CLAIM_KEYS = ["claim", "paper", "measured", "criterion", "test", "result", "verdict"]


def claims(config: ReproduceConfig, results: dict[str, Any]) -> list[list[Any]]:
    """Rows [claim, paper, measured, criterion, test, result, verdict]; every measured value comes from
    *results*, every verdict from a stated test (:func:`judging_conventions`)."""
    rows = _leak_claims(config, results) + _unlearning_claims(results) + _start_claims(config, results)
    if results.get("shots"):
        rows += _shot_claims(config, results["shots"])
    return rows + _noise_claims(results) + _device_claims(results)


def build_report(config: ReproduceConfig, results: dict[str, Any], compare_tables: list[Table],
                 shot_part: dict[str, Any] | None, stage_seconds: dict[str, Any], total: float, command: str
                 ) -> Report:
    """Assemble the reproduction Report (rendered by the markdown and html reporters)."""
    rep = Report(kind="reproduce", title="Reproduction of arXiv 2509.06086 (QNN membership leakage and unlearning)",
                 schema=SCHEMA)
    claim_rows = claims(config, results)
    n_ok = sum(r[-1] == AGREES for r in claim_rows)
    n_dis = sum(r[-1] == DISAGREES for r in claim_rows)
    n_inc = sum(str(r[-1]).startswith(INCONCLUSIVE) for r in claim_rows)
    rep.verdict = (f"{n_ok} of {len(claim_rows)} checks agree with the paper, {n_dis} disagree, {n_inc} inconclusive "
                   f"(each by a stated test at α = {ALPHA:g}; runtime {total:.0f} s)")
    rep.summary = {"dataset": config.dataset, "members": config.n_train, "holdout": config.n_holdout,
                   "forget_class": config.forget_class, "seed": config.seed, "runtime_seconds": total,
                   "cpu_count": os.cpu_count(), "command": command}
    rep.tables.append(Table("paper claims vs this run", CLAIM_COLUMNS,
                            claim_rows, "criteria and tolerances are ours (the paper gives single numbers); every "
                            "'this run' value is computed by this run. MIA success before unlearning comes from the "
                            "leak audit (attack trained on half the members and half the holdout, all forget-class "
                            "members scored); the unlearning rows use the verifier's attack (trained on the original's "
                            "members vs the holdout and applied unchanged to each model), hence their own 'before'"))
    rep.tables.append(Table("How the claims are judged", ["convention", "rule"], judging_conventions(),
                            "every verdict in the claims table comes from the test named in its row"))
    paper_settings = config.dataset == "mnist" and config.n_train == 1000
    title = "models" + (" (paper settings)" if paper_settings else " (reduced settings, not the paper's)")
    rep.tables.append(Table(title, ["model", "options", "train s", f"digit {config.forget_class} acc %",
                                    "retained acc %", "member acc %", "holdout acc %"],
                            [[k, ", ".join(f"{a}={b}" for a, b in config.models[k].items()), v["train_seconds"],
                              _pct(v["forget_class_accuracy"]), _pct(v["retained_accuracy"]),
                              _pct(v["member_accuracy"]), _pct(v["holdout_accuracy"])]
                             for k, v in results["models"].items()],
                            "accuracies on the training members; the paper gives no epoch count for the basic QNN "
                            "(30 is ours: its training loss still falls at 10)"))
    leak_rows = []
    for kind, per in results["leak"].items():
        for attack, v in per.items():
            m = v["metrics"]
            leak_rows.append([kind, attack, m["auc"], f"[{m['auc_low']:.3f}, {m['auc_high']:.3f}]", m["tpr@1%fpr"],
                              m["tpr@10%fpr"], m["advantage"], _pct(v["member_rate"]), _pct(v["non_member_rate"])])
    rep.tables.append(Table("membership inference before unlearning (exact outputs)",
                            ["model", "attack", "AUC", "95% CI", "TPR@1%FPR", "TPR@10%FPR", "advantage",
                             f"MIA success % (class {config.forget_class})", "non-member flagged %"], leak_rows,
                            "MIA success = the paper's number: share of forget-class training members called member"))
    rep.tables += origins.tables(config, results, CLAIMS["mia_before_sim"])
    rep.tables += compare_tables
    if shot_part is not None:
        rep.tables += [Table(**t) for t in shot_part["tables"]]
        rep.plots += [Plot(**{**p, "series": [Series(**s) for s in p["series"]]}) for p in shot_part["plots"]]
    nz = results.get("noise")
    if nz:
        rows = [["original", _pct(nz["before"]["accuracy"]["forget"]), _pct(nz["before"]["accuracy"]["retain"]),
                 _pct(nz["before"]["forget_mia"]), nz["before"]["forget_mia_auc"]]]
        if "after" in nz:
            a = nz["after"]
            rows.append([f"after {nz['method']}", _pct(a["accuracy"]["forget"]), _pct(a["accuracy"]["retain"]),
                         _pct(a["forget_mia"]), a["forget_mia_auc"]])
        rep.tables.append(Table(f"paper noise model on the basic QNN ({nz['backend']}; gray-box audit AUC "
                                f"{nz['auc']:.3f} [{nz['auc_low']:.3f}, {nz['auc_high']:.3f}])",
                                ["model", "forget acc %", "retained acc %", "forget MIA %", "forget MIA AUC"], rows,
                                "depolarising 0.0005 after U3, 0.005 after CNOT, bit flip 0.01 per layer; outputs "
                                "exact "
                                "(no shots); attack fitted on the noisy original"))
    if results.get("device"):
        rep.tables.append(_device_table(config, results["device"]))
        rep.summary["device_noise"] = results["device"]["survives"]
    vers = versions()
    rep.tables.append(Table("provenance", ["item", "value"],
                            [["command", command], ["seed", config.seed],
                             *[[f"version {k}", v] for k, v in vers.items()],
                             *[[f"stage seconds: {k}", v] for k, v in stage_seconds.items()],
                             ["total seconds", total], ["cpu count", os.cpu_count()]],
                            "rerun the command with the same versions for the same numbers; stage seconds are the "
                            "stage's job time ('cached': read from the cache), wall = elapsed time of each batch"))
    rep.seeds = {"split/init/training": config.seed, "attacks": config.seed, "unlearning": config.seed,
                 **({f"shot_repeat_{k}": v for k, v in shot_part["seeds"].items()} if shot_part else {})}
    if not config.models:  # --device-only: no empty tables of the stages that did not run
        rep.tables = [t for t in rep.tables if t.rows]
    cfg = asdict(config)
    cfg["shots"] = ["exact" if s is None else s for s in config.shots]
    rep.settings = {"config": cfg, "command": command}
    rep.payload = {"results": results, "claims": [dict(zip(CLAIM_KEYS, r)) for r in claim_rows],
                   "versions": vers, "stage_seconds": stage_seconds, "runtime_seconds": total, "paper_claims": CLAIMS}
    return rep


def _device_table(config: ReproduceConfig, d: dict[str, Any]) -> Table:
    s = d["settings"]
    m = s["model"]
    rows = [dev.row(e, config.forget_class) for e in d["entries"]]
    note = (f"basic-qnn {m.get('qubits')} qubits, {m.get('layers')} layers, {m.get('epochs')} epochs on "
            f"{s['dataset']}, "
            f"{s['n_train']} members / {s['n_holdout']} non-members ({d['n_forget_members']} class-"
            f"{config.forget_class} members), attacks {', '.join(s['attacks'])}, unlearning {s['method']}; every AUC "
            "held out, the verdict Holm over the attacks; MIA accuracy = the paper's figure (a rate, not an AUC: "
            "compare it with the non-member column). " + " ".join(f"{b}: {t}." for b, t in d["survives"].items()))
    return Table("the paper's device experiment, offline (exact backend beside the device)", dev.COLUMNS, rows, note)


def write_outputs(report: Report, out_dir: Path) -> list[Path]:
    """report.md / report.html / report.json in *out_dir*, each written atomically."""
    import io

    from qaudit.sdk import dump_json, get_host, write_text_atomic

    host = get_host()
    paths = []
    for fmt, name in (("markdown", "report.md"), ("html", "report.html")):
        buffer = io.StringIO()
        host.get("reporter", fmt)().render(report, buffer)
        write_text_atomic(out_dir / name, buffer.getvalue())
        paths.append(out_dir / name)
    write_text_atomic(out_dir / "report.json", dump_json(report.to_json()))
    paths.append(out_dir / "report.json")
    return paths
