"""qaudit's Python API: the commands as functions, for notebooks and scripts (docs/python-api.md).

Every function here is what the matching command runs -- ``qaudit train``, ``evaluate``, ``leak``,
``leak --outputs``, ``unlearn``, ``compare-unlearning``, ``shots`` and ``audit-dp`` parse their options, make
one call into this module and render what it returns -- so a report from the API equals the command's, byte
for byte, for the same inputs and seed (``tests/test_api.py``). Validation and default resolution happen
here, once; the settings objects passed in are never changed (the resolved values are in the report). Results are
:class:`qaudit.report.results.Report` objects, the same the reporters render: ``report.to_json()``,
``report.render("html")``, and in Jupyter they display themselves (``_repr_html_``) or through Rich.

Bad input raises :class:`qaudit.sdk.errors.QauditError` with a one-line message (the CLI turns it into
``error: ...`` and exit code 2). Nothing here writes a file unless a path is passed (``out=``).
Importing models from other frameworks (``qaudit import``) is a separate piece of work and not part of
this module yet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qaudit.files.data import Dataset
from qaudit.files.model_file import ModelFile
from qaudit.leak.audit import AuditSettings
from qaudit.report.results import Report
from qaudit.sdk.progress import SILENT, Progress
from qaudit.shots import ShotSettings
from qaudit.train.workflows import Evaluation

PathLike = str | Path
#: ``--fail-above`` thresholds: ``"auc=0.6,advantage=0.1"``, ``{"auc": 0.6}`` or parsed
#: :class:`qaudit.report.gating.Threshold` s.
FailAbove = str | dict[str, float] | list[Any] | None

__all__ = ["AuditSettings", "ShotSettings", "audit", "audit_dp", "audit_outputs", "compare_unlearning",
           "default_jobs", "evaluate", "import_model", "load_dataset", "load_model", "shots", "train", "unlearn"]


def default_jobs() -> int:
    """Local worker processes for a leak audit's reference models when neither ``--jobs`` nor
    ``AuditSettings.n_jobs`` says: this machine's cores, at most 2 (the one rule the CLI and the API share)."""
    return min(2, os.cpu_count() or 1)


def load_model(path: PathLike) -> ModelFile:
    """Load and validate a qaudit model file (JSON, data only: nothing in it is executed).

    Returns a :class:`qaudit.files.model_file.ModelFile`: ``.model`` (the estimator), ``.kind``, ``.data`` (the
    members/holdout record), ``.training`` and ``.provenance``.
    """
    from qaudit.files import model_file as model_io

    return model_io.load(path)


def load_dataset(name_or_path: str | None = None, *, data_dir: str | None = None, label_column: str | None = None,
                 model: ModelFile | None = None, allow_data_change: bool = False) -> Dataset:
    """A dataset by registered name (``qaudit datasets``) or ``.csv``/``.npz`` path, or -- with *model* -- the
    data the model file's data record names (its fingerprint checked unless *allow_data_change*).
    ``None`` and no model: the dataset plugins declare as default."""
    from qaudit.files.data import load_dataset as load
    from qaudit.sdk.host import name_or_default
    from qaudit.train.workflows import dataset_for

    if model is not None and name_or_path is None:
        return dataset_for(model, data_dir, allow_data_change=allow_data_change)
    options = {k: v for k, v in (("data_dir", data_dir), ("label_column", label_column)) if v}
    return load(name_or_default("dataset", "default", name_or_path, "--dataset"), options)


def _model_file(model: ModelFile | PathLike) -> ModelFile:
    return model if isinstance(model, ModelFile) else load_model(model)


def _location(model: ModelFile | PathLike) -> str:
    return (model.path or "") if isinstance(model, ModelFile) else str(model)


def train(model: str | None = None, dataset: Dataset | str | None = None, *, n_train: int | None = None,
          n_holdout: int | None = None, seed: int = 0, options: dict[str, Any] | None = None,
          exclude_class: list[int] | None = None, exclude_indices: str | None = None, out: PathLike | None = None,
          resume: bool = False, command: str | None = None, progress: Progress = SILENT,
          dp: Any = None, preset: str | None = None, data_dir: str | None = None,
          label_column: str | None = None) -> ModelFile:
    """Train a QNN of kind *model* (``qaudit models``; None: the default kind) on *dataset* (a
    :class:`~qaudit.files.data.Dataset`, a name or a path, read with *data_dir*/*label_column*; None: the default
    dataset) and return its model file (``qaudit train``).

    *options* are the model's hyper-parameters (``qubits``, ``layers``, ``epochs``, ``lr``...). With *out*
    the model file is written there (atomically; *command* is recorded as its provenance). *resume* continues
    an interrupted training with the same settings from its checkpoints. *dp* (a
    :class:`qaudit.dp.spec.DPSpec` or its option string ``"epsilon=2,delta=1e-5"``) trains with DP-SGD
    (docs/dp.md); it needs the ``dp`` extra and a model kind with per-sample gradients. *preset* names one of
    the kind's option bundles (``qaudit models``, e.g. basic-qnn's ``paper-code``); explicit *options* win.
    ``training["evaluation"]`` records the accuracy on members and holdout right after training (exact
    backend; :func:`evaluate`'s ``splits``).
    """
    from qaudit.files import model_file as model_io
    from qaudit.files.checkpoints import Checkpoints, content_key, training_checkpoints
    from qaudit.sdk.host import name_or_default
    from qaudit.train.workflows import evaluate_model, train_model

    kind = name_or_default("model", "default", model, "--model")
    dp_spec = _dp_spec(dp, kind)
    if out is not None:
        from qaudit.report.destinations import check_outputs

        check_outputs({"--out": Path(out)}, {"dataset file": dataset if isinstance(dataset, str) and
                                             Path(dataset).suffix else None,
                                             "--exclude-indices file": exclude_indices})
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, data_dir=data_dir,
                                                                   label_column=label_column)
    opts = dict(options or {})
    store = Checkpoints("training", resume)
    key = content_key(kind, opts, preset, seed, n_train, n_holdout, exclude_class, exclude_indices, ds.name, ds.X,
                      ds.y)
    with training_checkpoints(store, key):
        mf = train_model(kind, ds, n_train=n_train, n_holdout=n_holdout, seed=seed, options=opts,
                         exclude_class=exclude_class, exclude_indices=exclude_indices, progress=progress,
                         dp=dp_spec, preset=preset)
    ev = evaluate_model(mf, ds)
    mf.training["evaluation"] = {"backend": ev.backend, "splits": ev.splits}
    if out is not None:
        model_io.save(mf, out, command=command)
        mf.path = str(out)
    store.discard()
    return mf


def import_model(importer: str, source: str, *, dataset: Dataset | str, members: PathLike | Sequence[int],
                 holdout: PathLike | Sequence[int] | None = None, weights: str | None = None,
                 options: dict[str, Any] | None = None, recipe: dict[str, Any] | None = None, seed: int = 0,
                 check_samples: int | None = None, out: PathLike | None = None, command: str | None = None
                 ) -> ModelFile:
    """Import a model trained in another framework with importer *importer* (``qaudit plugins``, kind
    ``importer``) from *source* (e.g. ``"model.py:qnode"`` or ``"circuit.qpy"``) -- this RUNS the user's code.

    *dataset* holds the model's raw inputs; *members* (its training rows: an index file or indices) and
    *holdout* (default: every other row) index it. *recipe* (``optimizer`` ``"sgd"``/``"adam"``, ``epochs``,
    ``lr``, ``batch_size``, ``momentum``, ``nesterov``, ``seed``) is how qaudit trains reference models of this
    architecture. The import is checked
    against the framework's own outputs to 1e-8 before anything is written (QauditError otherwise); with *out*
    the data-only model file is written there. Returns the :class:`ModelFile` (``provenance["import"]`` holds
    the fidelity).
    """
    import numpy as np

    from qaudit.files import importing
    from qaudit.files import model_file as model_io
    from qaudit.files.data import read_indices
    from qaudit.sdk.errors import QauditError

    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)

    def rows(spec: PathLike | Sequence[int]) -> np.ndarray:
        if isinstance(spec, (str, Path)):
            return read_indices(str(spec), len(ds))
        return np.asarray(spec, dtype=np.int64)

    member_idx = rows(members)
    holdout_idx = rows(holdout) if holdout is not None else np.setdiff1d(np.arange(len(ds)), member_idx)
    if not len(member_idx) or not len(holdout_idx) or set(member_idx.tolist()) & set(holdout_idx.tolist()):
        raise QauditError("members and holdout must be non-empty and disjoint")
    mf, _ = importing.import_model(importer, source, weights=weights, dataset=ds, members=member_idx,
                                   holdout=holdout_idx, options=dict(options or {}), recipe=dict(recipe or {}),
                                   seed=seed, check_samples=check_samples)
    if out is not None:
        model_io.save(mf, out, command=command)
        mf.path = str(out)
    return mf


def _dp_spec(dp: Any, kind: str) -> Any:
    """Parse and check a DP request before any work (a missing extra or a kind without per-sample gradients)."""
    if dp is None:
        return None
    from qaudit.dp.accounting import library_version
    from qaudit.dp.sgd import require_dp
    from qaudit.dp.spec import DPSpec
    from qaudit.sdk.host import get_host

    spec = dp if isinstance(dp, DPSpec) else DPSpec.parse(dp)
    require_dp(get_host().get("model", kind), kind)
    library_version()  # a missing extra fails before any work
    return spec


class _Gates:
    """The leak gates (``--fail-on``, ``--fail-above``, ``--baseline``/``--tolerance``), parsed before any work."""

    def __init__(self, fail_above: FailAbove, baseline: PathLike | dict[str, Any] | None,
                 tolerance: str | dict[str, float] | None, fail_on: str) -> None:
        from qaudit.leak.audit import FAIL_ON, GATE_METRICS, SCHEMA
        from qaudit.report import gating
        from qaudit.sdk.errors import QauditError

        if fail_on not in FAIL_ON:
            raise QauditError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
        self.fail_on = fail_on
        self.thresholds = fail_above if isinstance(fail_above, list) else gating.parse_thresholds(fail_above,
                                                                                                  GATE_METRICS)
        self.baseline = None if baseline is None else baseline if isinstance(baseline, dict) else \
            gating.read_baseline(Path(baseline), SCHEMA)
        self.tolerance = tolerance if isinstance(tolerance, dict) else gating.parse_tolerance(tolerance, GATE_METRICS)

    def apply(self, report: Report) -> None:
        """Attach the verdict (``--fail-on leaks``), ``--fail-above`` and ``--baseline`` findings to the leak
        *report*; figures the report flags unreliable are gated on their bound."""
        from qaudit.leak.audit import gate_bounds, verdict_finding
        from qaudit.report import gating

        bounds = gate_bounds(report)
        findings = [verdict_finding(report)] if self.fail_on == "leaks" else []
        findings += gating.check_thresholds(report.measurements, self.thresholds, "leak", report.location, bounds)
        if self.baseline is not None:
            names = sorted({t.metric for t in self.thresholds}) or list(gating.DEFAULT_BASELINE_METRICS)
            findings += gating.check_baseline(report.measurements, self.baseline, names, self.tolerance, "leak",
                                              report.location, bounds)
        report.apply_findings(findings)


def _audit_settings(settings: AuditSettings | None, overrides: dict[str, Any]) -> AuditSettings:
    """A new :class:`AuditSettings`: *settings* (default: the class's defaults) with the given keyword overrides
    and ``n_jobs`` None resolved by :func:`default_jobs`; *settings* itself is not changed."""
    import dataclasses

    given = {k: v for k, v in overrides.items() if v is not None}
    s = AuditSettings(**given) if settings is None else dataclasses.replace(settings, **given)
    return s if s.n_jobs is not None else dataclasses.replace(s, n_jobs=default_jobs())


def _record_command(report: Report, command: str | None) -> Report:
    """The command line a report was made by (None from Python): recorded by every reporting function."""
    report.settings["command"] = command
    return report


def audit(model: ModelFile | PathLike, *, attacks: Sequence[str] | None = None, seed: int | None = None,
          shots: int | None = None, backend: str | None = None, dataset: str | None = None,
          data_dir: str | None = None, members: str | None = None, non_members: str | None = None,
          allow_data_change: bool = False, settings: AuditSettings | None = None,
          fail_above: FailAbove = None, baseline: PathLike | dict[str, Any] | None = None,
          tolerance: str | dict[str, float] | None = None, progress: Progress = SILENT,
          executor: Any = None, fail_on: str = "leaks", command: str | None = None) -> Report:
    """Membership-inference audit of a model (``qaudit leak MODEL``): the leak :class:`Report`.

    *model* is a model file path or a loaded :class:`~qaudit.files.model_file.ModelFile`. Members and non-members come
    from its data record, or from the index files *members*/*non_members* into *dataset*. *settings* holds
    every audit option (:class:`qaudit.leak.audit.AuditSettings`: attacks, seed, folds, alpha, slices, reference
    models...); *attacks*, *seed*, *shots* and *backend* override it. It is not changed: the report records the
    resolved values (backend, reference models, jobs -- None: :func:`default_jobs`). *fail_above*
    (``"auc=0.6,advantage=0.1"``) and *baseline* (a previous JSON report) gate the report as
    ``--fail-above``/``--baseline`` do, and a LEAKS verdict is a finding unless *fail_on* is ``"none"``
    (``--fail-on``): ``report.status == "fail"`` and ``report.failed`` list them. Reference/shadow models run on
    *executor* (:func:`qaudit.run.parallel.open_executor`; None: ``settings.n_jobs`` local workers); the report does
    not depend on which. *command* is recorded in ``report.settings["command"]``.
    """
    from qaudit.files.importing import record_import
    from qaudit.leak.audit import ground_truth, run_audit
    from qaudit.report.render import record_data_change
    from qaudit.run.backend_choice import resolve_backend

    s = _audit_settings(settings, {"attacks": list(attacks) if attacks else None, "seed": seed, "shots": shots,
                                   "backend": backend}).resolved()
    gates = _Gates(fail_above, baseline, tolerance, fail_on)
    mf = _model_file(model)
    location = _location(model)
    if dataset:
        ds = load_dataset(dataset, data_dir=data_dir)
    elif mf.data is not None:
        ds = load_dataset(model=mf, data_dir=data_dir, allow_data_change=allow_data_change)
    else:
        from qaudit.sdk.errors import QauditError

        raise QauditError(f"{location or 'the model'} has no data record: pass --dataset with "
                          "--members/--non-members index files")
    truth = ground_truth(mf, len(ds), members, non_members)
    be, _ = resolve_backend(s.backend, s.shots, mf.model)
    report = run_audit(mf, ds, truth, s, backend=be, progress=progress, location=location, executor=executor)
    if report.kind == "plan":  # --dry-run: nothing ran, nothing to gate
        return _record_command(report, command)
    record_data_change(report, ds)
    record_import(report, mf)
    gates.apply(report)
    return _record_command(report, command)


def audit_outputs(path: PathLike, *, attacks: Sequence[str] | None = None, seed: int | None = None,
                  settings: AuditSettings | None = None, fail_above: FailAbove = None,
                  baseline: PathLike | dict[str, Any] | None = None, tolerance: str | dict[str, float] | None = None,
                  progress: Progress = SILENT, fail_on: str = "leaks", command: str | None = None) -> Report:
    """Black-box audit of recorded outputs (``qaudit leak --outputs FILE.npz``; docs/outputs-format.md).

    With no *attacks*, every installed attack whose signals the file provides runs (the others are listed in
    ``report.payload["skipped_attacks"]`` with the reason); a named attack the file cannot serve is refused
    with a QauditError. *settings* holds the other audit options (``settings.attacks`` is not used: the attacks
    are *attacks* or the file's signals decide). Metrics, verdict, report and gating are those of :func:`audit`.
    """
    from qaudit.leak.recorded import load_outputs, run_outputs_audit

    s = _audit_settings(settings, {"seed": seed})
    gates = _Gates(fail_above, baseline, tolerance, fail_on)
    recorded = load_outputs(path)
    report = run_outputs_audit(recorded, s, list(attacks) if attacks else None, progress, str(path))
    gates.apply(report)
    return _record_command(report, command)


class _Unlearning:
    """What every unlearning run of :func:`unlearn` and :func:`compare_unlearning` shares, checked before any
    work: the model, its data, the forget request, the retraining reference's source, the judgement's margins
    and the gate. One code path: an option added here reaches both functions."""

    def __init__(self, model: ModelFile | PathLike, methods: list[str] | None, options: dict[str, dict[str, Any]],
                 seeds: list[int], *,
                 forget_class: list[int] | None, forget_indices: str | None,
                 oracle: ModelFile | PathLike | Sequence[ModelFile | PathLike] | None, oracles: int | None,
                 retain_fraction: float, data_dir: str | None, allow_data_change: bool,
                 tolerance: dict[str, float] | None, fail_above: FailAbove) -> None:
        from qaudit import unlearn as core
        from qaudit.sdk.errors import QauditError
        from qaudit.sdk.limits import MAX_ORACLES, check_option
        from qaudit.unlearn.verification import DEFAULT_TOLERANCE

        self.thresholds = core.parse_gate(fail_above)  # before any work: a typo must not cost a whole unlearning
        given = [] if oracle is None else [oracle] if isinstance(oracle, (ModelFile, str, os.PathLike)) \
            else list(oracle)
        if given and oracles is not None:
            raise QauditError("give either --oracle files or --oracles N, not both")
        self.n_oracles = core.DEFAULT_ORACLES if oracles is None else oracles
        check_option("--oracles", self.n_oracles, "int", 1, MAX_ORACLES)
        self.tolerance = {**DEFAULT_TOLERANCE, **(tolerance or {})}
        self.retain_fraction, self.seeds = retain_fraction, seeds
        self.mf = _model_file(model)
        self.ds = load_dataset(model=self.mf, data_dir=data_dir, allow_data_change=allow_data_change)
        self.fs = core.resolve_forget(self.mf, self.ds, forget_class, forget_indices)
        self.oracle_mfs = [_model_file(o) for o in given]
        names = methods or _runnable_methods(self.mf, self.ds, self.fs, seeds[0], retain_fraction, options)
        unknown = [m for m in options if m not in names]
        if unknown:
            raise QauditError(f"options for {unknown[0]!r}, which is not among the methods run "
                              f"({', '.join(names)}): write -O METHOD.KEY=VALUE")
        self.methods = {name: dict(options.get(name, {})) for name in names}
        for name, opts in self.methods.items():
            core.preflight(name, self.mf, self.ds, self.fs, seeds[0], opts, retain_fraction)

    def reference(self, backend: str | None, shots: int | None, progress: Progress, executor: Any
                  ) -> tuple[Any, Any, str, int | None]:
        """(the verifier on the backend *backend* builds -- :func:`qaudit.run.backend_choice.resolve_backend`, the one
        place a backend is built --, the retraining reference, the backend's name, the shots used)."""
        from qaudit import unlearn as core
        from qaudit.run.backend_choice import backend_or_default, resolve_backend

        name = backend_or_default(backend, shots)
        be, shots = resolve_backend(name, shots, self.mf.model)
        verifier = core.Verifier(self.mf, self.ds, self.fs, self.seeds[0], be, shots, progress=progress)
        reference = core.make_reference(self.mf, self.ds, self.fs, verifier, self.n_oracles, set(self.seeds),
                                        self.oracle_mfs, progress, executor=executor)
        return verifier, reference, name, shots

    def settings(self, backend: str | list[str], verifier: Any, reference: Any) -> dict[str, Any]:
        """The report's settings every unlearning report records."""
        return {"backend": backend, "retain_fraction": self.retain_fraction, "attack": verifier.attack_name,
                "oracles": len(reference.oracles), "oracle_seeds": [o.seed for o in reference.oracles],
                "tolerance": self.tolerance}


def _runnable_methods(mf: ModelFile, ds: Dataset, fs: Any, seed: int, retain_fraction: float,
                      options: dict[str, dict[str, Any]]) -> list[str]:
    """Every installed unlearning method whose preflight accepts this model, request and its *options*."""
    from qaudit import unlearn as core
    from qaudit.sdk.errors import QauditError
    from qaudit.sdk.host import get_host

    names = []
    for name in get_host().names("unlearning"):
        try:
            core.preflight(name, mf, ds, fs, seed, options.get(name, {}), retain_fraction)
        except QauditError:
            continue
        names.append(name)
    if not names:
        raise QauditError("no installed unlearning method can run on this model and request")
    return names


def unlearn(model: ModelFile | PathLike, method: str | None = None, *, forget_class: list[int] | None = None,
            forget_indices: str | None = None, options: dict[str, Any] | None = None, seed: int = 0,
            oracle: ModelFile | PathLike | Sequence[ModelFile | PathLike] | None = None, oracles: int | None = None,
            retain_fraction: float = 1.0, backend: str | None = None,
            shots: int | None = None, forget_quality: int = 0, data_dir: str | None = None,
            allow_data_change: bool = False, tolerance: dict[str, float] | None = None, forget_gate: bool = True,
            fail_above: FailAbove = None, out: PathLike | None = None, command: str | None = None,
            progress: Progress = SILENT, executor: Any = None, audit: str | None = None,
            shadow_pairs: int = 32) -> Report:
    """Make *model* forget a class (*forget_class*) or samples (*forget_indices*, a file of dataset indices)
    with *method* (``qaudit plugins``; None: the default method), verify and judge it (``qaudit unlearn``).

    The input is never modified. With *out* the unlearned model file is written there (*command* recorded as
    its provenance and in the report's settings); the report's ``payload`` holds every measurement. The
    forget-request judgement (equivalent to retraining on forgetting and not worse on utility beyond
    *tolerance*'s margins, tested against *oracles* retrains from independent seeds, or the given *oracle*
    file(s); :mod:`qaudit.unlearn.equivalence`) and *fail_above* thresholds become the report's findings
    (``report.failed``); *forget_gate* False reports the judgement without gating on it. The retrains, SISA's
    shard trainings and the forget-quality pairs are jobs on *executor* (None: in this process). *audit*
    ``"ulira"`` adds the per-example U-LiRA audit with *shadow_pairs* shadow pairs (:mod:`qaudit.unlearn.ulira`), also
    on *executor*, named in the verdict. Shares its code path with :func:`compare_unlearning`.
    """
    from qaudit import unlearn as core
    from qaudit.report.render import record_data_change
    from qaudit.sdk.host import get_host, name_or_default
    from qaudit.unlearn import ulira
    from qaudit.unlearn.reports import unlearn_report

    method = name_or_default("unlearning", "default", method, "--method")
    get_host().get("unlearning", method)
    core.check_forget_quality(forget_quality)
    if out is not None:
        from qaudit.report.destinations import check_outputs

        check_outputs({"--out": Path(out)}, {"model file": _location(model) or None,
                                            **{f"--oracle {o}": o for o in _paths(oracle)},
                                            "--forget-indices file": forget_indices})
    job = _Unlearning(model, [method], {method: dict(options or {})}, [seed], forget_class=forget_class,
                      forget_indices=forget_indices, oracle=oracle, oracles=oracles, retain_fraction=retain_fraction,
                      data_dir=data_dir, allow_data_change=allow_data_change, tolerance=tolerance,
                      fail_above=fail_above)
    mf, ds, fs, opts = job.mf, job.ds, job.fs, job.methods[method]
    if audit is not None:
        ulira.check_audit(audit, mf, fs, shadow_pairs)
    verifier, reference, backend, shots = job.reference(backend, shots, progress, executor)
    before = verifier.snapshot(mf.model)
    result = core.apply_method(method, mf, ds, fs, verifier, reference, seed, opts, retain_fraction, progress,
                               job.tolerance, executor=executor)
    fq = core.forget_quality(mf, ds, fs, method, opts, forget_quality, seed, progress,
                             executor=executor) if forget_quality else None
    audited = ulira.audit(mf, ds, fs.forget_ids, method, opts, shadow_pairs, seed, progress=progress,
                          executor=executor) if audit is not None else None
    new_mf = core.unlearned_model_file(mf, result, fs)
    if out is not None:
        from qaudit.files import model_file as model_io

        model_io.save(new_mf, out, command=command)
    settings = job.settings(backend, verifier, reference)
    report = unlearn_report(mf, fs, before, reference, result, str(out or ""), {
        "backend": backend, "shots": shots, **settings}, verifier.is_forget)
    if fq is not None:
        core.attach_forget_quality(report, method, fq)
    if audited is not None:
        ulira.attach(report, audited)
    record_data_change(report, ds)
    core.gate(report, job.thresholds, result.findings(report.location) if forget_gate else None)
    if audited is not None:
        report.verdict += ulira.conclusion(audited, result.judgement)
    return _record_command(report, command)


def _paths(oracle: Any) -> list[Any]:
    """The paths among ``oracle=`` (one or several files or loaded model files)."""
    items = [] if oracle is None else [oracle] if isinstance(oracle, (ModelFile, str, os.PathLike)) else list(oracle)
    return [o for o in items if not isinstance(o, ModelFile)]


def compare_unlearning(model: ModelFile | PathLike, methods: Sequence[str] | None = None, *,
                       options: dict[str, dict[str, Any]] | None = None, forget_class: list[int] | None = None,
                       forget_indices: str | None = None,
                       seeds: Sequence[int] = (0,), shots: Sequence[int | None] = (None,),
                       backend: str | None = None, oracle: ModelFile | PathLike | Sequence[ModelFile | PathLike]
                       | None = None, oracles: int | None = None, retain_fraction: float = 1.0,
                       data_dir: str | None = None, allow_data_change: bool = False,
                       tolerance: dict[str, float] | None = None, fail_above: FailAbove = None,
                       command: str | None = None, progress: Progress = SILENT, executor: Any = None) -> Report:
    """The paper's comparative table (``qaudit compare-unlearning``): every method in *methods* (None: every
    installed method that can run on this model and request), with its *options* (``{method: {key: value}}``,
    ``-O METHOD.KEY=VALUE``), unlearns the
    same request once per seed in *seeds* and shot count in *shots* (None or 0: exact), each run verified and
    judged against the same retraining reference as :func:`unlearn` (whose code path it shares: the forget
    request, oracles, *retain_fraction*, *tolerance*, *backend* and *fail_above* mean the same here).

    Returns the compare-unlearning :class:`Report`: data needed, cost, forget/retained accuracy, forget MIA,
    distance to the retrains, how often each request was met; *fail_above* thresholds are its findings. The
    runs are jobs on *executor* (None: in this process). At most ``qaudit.sdk.limits.MAX_COMPARE_RUNS`` runs.
    """
    from qaudit import unlearn as core
    from qaudit.report.render import record_data_change
    from qaudit.sdk.errors import QauditError
    from qaudit.sdk.host import get_host
    from qaudit.sdk.limits import MAX_COMPARE_RUNS, check_seed
    from qaudit.unlearn.reports import compare_report

    chosen = None if methods is None else list(dict.fromkeys(methods))
    if chosen is not None and not chosen:
        raise QauditError("--methods is empty")
    for name in chosen or []:
        get_host().get("unlearning", name)
    seed_list, shot_list = list(seeds), [s or None for s in shots]
    if not seed_list or not shot_list:
        raise QauditError("give at least one seed and one shot count")
    for seed in seed_list:
        check_seed(seed, "--seeds")
    job = _Unlearning(model, chosen, dict(options or {}), seed_list, forget_class=forget_class,
                      forget_indices=forget_indices, oracle=oracle, oracles=oracles,
                      retain_fraction=retain_fraction, data_dir=data_dir, allow_data_change=allow_data_change,
                      tolerance=tolerance, fail_above=fail_above)
    names = list(job.methods)
    n_runs = len(names) * len(seed_list) * len(shot_list)
    if n_runs > MAX_COMPARE_RUNS:
        raise QauditError(f"{len(names)} methods x {len(seed_list)} seeds x {len(shot_list)} shot counts are "
                          f"{n_runs} unlearning runs; at most {MAX_COMPARE_RUNS} are allowed (fewer --seeds, "
                          "--shots or --methods)")
    runs, backends = [], []
    for n_shots in shot_list:
        verifier, reference, backend_name, used = job.reference(backend, n_shots, progress, executor)
        backends.append(backend_name)
        before = core.public(verifier.snapshot(job.mf.model))
        for r in core.compare_runs(job.mf, verifier, reference, seed_list, names, job.methods, progress, executor,
                                   retain_fraction=retain_fraction, tolerance=job.tolerance):
            runs.append({**r, "shots": used, "before": before})
    used_backends = list(dict.fromkeys(backends))  # one name, or one per shot count (exact vs a shot backend)
    settings = {"methods": names, "seeds": seed_list, "shots": shot_list,
                **job.settings(used_backends[0] if len(used_backends) == 1 else used_backends, verifier, reference)}
    report = compare_report(job.mf, job.fs, runs, settings, reference.to_json(), verifier.is_forget)
    record_data_change(report, job.ds)
    core.gate(report, job.thresholds)
    return _record_command(report, command)


def shots(model: ModelFile | PathLike, *, settings: ShotSettings | None = None, data_dir: str | None = None,
          allow_data_change: bool = False, fail_above: FailAbove = None,
          progress: Progress = SILENT, executor: Any = None, command: str | None = None) -> Report:
    """How the shot count shapes leakage and unlearning stability (``qaudit shots``): the shots Report.

    *settings* (:class:`qaudit.shots.ShotSettings`) lists the shot counts, repeats, seed, attack and the
    optional unlearning method; it is not changed (the report records the resolved backend and attack).
    *fail_above* (``"auc_mean=0.6"``) gates every shot count. The (shots, repeat) runs are jobs on *executor*
    (None: in this process).
    """
    from qaudit.report.gating import check_thresholds, parse_thresholds
    from qaudit.report.render import record_data_change
    from qaudit.shots import gated_metrics, run_study

    settings = settings or ShotSettings()
    settings.validate()
    thresholds = fail_above if isinstance(fail_above, list) else parse_thresholds(fail_above, gated_metrics())
    mf = _model_file(model)
    ds = load_dataset(model=mf, data_dir=data_dir, allow_data_change=allow_data_change)
    report = run_study(mf, ds, settings, progress=progress, location=_location(model), executor=executor)
    record_data_change(report, ds)
    if thresholds:
        report.apply_findings(check_thresholds(report.measurements, thresholds, "shots", report.location))
    return _record_command(report, command)


def evaluate(model: ModelFile | PathLike, *, backend: str | None = None, shots: int | None = None, seed: int = 0,
             data_dir: str | None = None, allow_data_change: bool = False) -> Evaluation:
    """Accuracy of *model* on its members and holdout, overall and per class (``qaudit evaluate``), through the
    query path on *backend* (None: the exact backend, or the shot backend with *shots*) with *shots*
    measurements (None or 0: exact) seeded by *seed*.

    Returns a :class:`qaudit.train.workflows.Evaluation`: ``splits`` (``members``/``holdout`` -> ``n``,
    ``accuracy``, ``majority``, ``predicted_classes``, ``per_class``), the resolved ``backend`` and ``shots``,
    ``data_change`` (with *allow_data_change*), ``to_json()`` (the ``qaudit.evaluation/1`` document
    ``--json`` prints) and ``warning()`` (a model no better than the majority class).
    """
    from qaudit.run.backend_choice import backend_or_default, resolve_backend
    from qaudit.train.workflows import evaluate_model

    mf = _model_file(model)
    ds = load_dataset(model=mf, data_dir=data_dir, allow_data_change=allow_data_change)
    name = backend_or_default(backend, shots)
    be, shots = resolve_backend(name, shots, mf.model)
    ev = evaluate_model(mf, ds, be, name, shots, seed)
    ev.model_path = _location(model)
    return ev


def audit_dp(model: str | None = None, dataset: Dataset | str | None = None, *, data_dir: str | None = None,
             n_train: int | None = None, n_holdout: int | None = None, canaries: int = 200,
             canary_kind: str = "mislabel", dp: Any = None, attacks: Sequence[str] | None = None,
             guesses: Sequence[int] | None = None, confidence: float = 0.95, delta: float = 1e-5, seed: int = 0,
             shots: int | None = None, options: dict[str, Any] | None = None, unlearn: str | None = None,
             unlearn_options: dict[str, Any] | None = None, progress: Progress = SILENT,
             command: str | None = None) -> Report:
    """One-run privacy audit (``qaudit audit-dp``; Steinke, Nasr & Jagielski 2023; docs/dp.md): *canaries*
    canaries of *canary_kind* (``mislabel`` or ``ood``), each included with probability 1/2, one training run of
    a *model* kind (None: the default) on *dataset* (None: the default), with DP-SGD when *dp* is given (a
    :class:`qaudit.dp.spec.DPSpec` or ``"epsilon=2,delta=1e-5"``); *attacks* (None: the ``fast`` ones) score
    the canaries with *shots* measurements (None or 0: exact) and every (attack, k in *guesses*) gives an
    epsilon lower bound at *confidence* (Bonferroni-corrected; *delta* for a model trained without DP).
    *unlearn* then forgets the included canaries with that method (*unlearn_options*) and audits again.

    Returns the audit-dp :class:`Report` ("claimed epsilon ..., audited epsilon >= ..."); an audited epsilon
    above the claim is a finding.
    """
    from qaudit.dp.audit import DPAuditSettings, run_dp_audit
    from qaudit.dp.spec import DPSpec
    from qaudit.sdk.host import name_or_default

    spec = None if dp is None else dp if isinstance(dp, DPSpec) else DPSpec.parse(dp)
    if spec is not None:
        from qaudit.dp.accounting import library_version

        library_version()  # the missing extra fails before any work
    kind = name_or_default("model", "default", model, "--model")
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(
        name_or_default("dataset", "default", dataset, "--dataset"), data_dir=data_dir)
    settings = DPAuditSettings(model=kind, canaries=canaries, canary_kind=canary_kind, dp=spec,
                               attacks=list(attacks or []), guesses=list(guesses) if guesses else None,
                               confidence=confidence, delta=delta, seed=seed, n_train=n_train, n_holdout=n_holdout,
                               options=dict(options or {}), unlearn=unlearn,
                               unlearn_options=dict(unlearn_options or {}), shots=shots or None)
    return _record_command(run_dp_audit(settings, ds, progress), command)


# --------------------------------------------------------------------------- what is installed
#: Extra columns of ``qaudit models|reporters|executors`` (optional members of the registered classes).
_LIST_COLUMNS: dict[str, Any] = {
    "model": lambda cls: {"presets": ", ".join(sorted(getattr(cls, "PRESETS", None) or {})) or "-"},
    "reporter": lambda cls: {"suffix": getattr(cls, "suffix", "")},
    "executor": lambda cls: {"roles": ", ".join(sorted(getattr(cls, "roles", ())))},
}


def plugins() -> dict[str, Any]:
    """What ``qaudit plugins`` shows (``qaudit.plugins/1``): the plugin API version, every installed plugin with
    its version, distribution, what it registers and its status (a failed plugin's one-line error), and warnings.
    The commands a plugin adds are listed (``registers["command"]``) once a CLI app has registered them, as
    ``qaudit plugins`` does; from Python they are absent."""
    from qaudit.sdk.host import get_host

    return get_host().describe()


def registered(kind: str) -> dict[str, Any]:
    """What ``qaudit datasets|models|attacks|reporters|executors`` list (``qaudit.<kind>s/1``): one row per
    registered name of *kind* -- its plugin and description, plus the kind's own columns (model presets, a
    reporter's file suffix, an executor's roles)."""
    from qaudit.sdk.host import get_host

    extra = _LIST_COLUMNS.get(kind)
    rows = []
    for name, entry in sorted(get_host().registry(kind).items()):
        row = {"name": name, "plugin": entry.plugin, "description": getattr(entry.obj, "description", "")}
        if extra:
            row.update(extra(entry.obj))
        rows.append(row)
    return {"schema": f"qaudit.{kind}s/1", "items": rows}


def backends(describe: str | None = None, model: PathLike | None = None) -> dict[str, Any]:
    """What ``qaudit backends`` shows (``qaudit.backends/1``): every registered backend's name, plugin,
    description, argument syntax and capabilities; with *describe* (e.g. ``"google:rainbow"``) that backend built
    and asked to describe itself -- with *model*, the compiled depth and two-qubit gates of one real input."""
    document: dict[str, Any] = {"schema": "qaudit.backends/1", "backends": _backend_rows()}
    if describe:
        document["described"] = _describe_backend(describe, Path(model) if model is not None else None)
    return document


def _backend_rows() -> list[dict[str, Any]]:
    """One row per registered backend: name, plugin, description, capabilities, argument syntax."""
    from dataclasses import asdict

    from qaudit.sdk.host import get_host

    rows = []
    for name, entry in sorted(get_host().registry("backend").items()):
        cls = entry.obj
        caps = getattr(cls, "capabilities", None)
        rows.append({
            "name": name,
            "plugin": entry.plugin,
            "description": getattr(cls, "description", ""),
            "takes_argument": bool(getattr(cls, "takes_argument", False)),
            "capabilities": asdict(caps) if caps is not None else None,
        })
    return rows


def _describe_backend(name: str, model_path: Path | None) -> dict[str, Any]:
    """Instantiate *name* and ask it to describe itself (compiled depth etc. for a model)."""
    model = task = None
    if model_path is not None:
        from qaudit.train.workflows import dataset_for

        mf = load_model(model_path)
        model = mf.model
        dataset = dataset_for(mf)
        task = model.task(dataset.X[mf.data.members[:1]])  # one real training input
    from qaudit.run.backend_choice import resolve_backend

    backend, _ = resolve_backend(name, None if _cls(name).capabilities.exact else 1, model)
    info: dict[str, Any] = {"backend": name}
    describe = getattr(backend, "describe", None)  # optional Backend member
    if callable(describe):
        info.update(describe(task) if task is not None else describe())
    return info


def _cls(name: str) -> Any:
    from qaudit.sdk.host import get_host

    return get_host().get("backend", name)
