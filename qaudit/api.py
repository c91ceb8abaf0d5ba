"""qaudit's Python API: the commands as functions, for notebooks and scripts (docs/python-api.md).

Every function here is what the matching command runs -- ``qaudit train``, ``leak``,
``leak --outputs``, ``unlearn`` and ``shots`` parse their options and make one call into this
module -- so a report from the API equals the command's for the same inputs and seed. Results are
:class:`qaudit.results.Report` objects, the same the reporters render: ``report.to_json()``,
``report.render("html")``, and in Jupyter they display themselves (``_repr_html_``) or through Rich.

Bad input raises :class:`qaudit.errors.QauditError` with a one-line message (the CLI turns it into
``error: ...`` and exit code 2). Nothing here writes a file unless a path is passed (``out=``).
Importing models from other frameworks (``qaudit import``) is a separate piece of work and not part of
this module yet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qaudit.audit import AuditSettings
from qaudit.data import Dataset
from qaudit.model import ModelFile
from qaudit.progress import SILENT, Progress
from qaudit.results import Report
from qaudit.shot_study import ShotSettings

PathLike = str | Path
#: ``--fail-above`` thresholds: ``"auc=0.6,advantage=0.1"``, ``{"auc": 0.6}`` or parsed
#: :class:`qaudit.gating.Threshold` s.
FailAbove = str | dict[str, float] | list[Any] | None

__all__ = ["AuditSettings", "ShotSettings", "audit", "audit_outputs", "import_model", "load_dataset", "load_model",
           "shots", "train", "unlearn"]


def load_model(path: PathLike) -> ModelFile:
    """Load and validate a qaudit model file (JSON, data only: nothing in it is executed).

    Returns a :class:`qaudit.model.ModelFile`: ``.model`` (the estimator), ``.kind``, ``.data`` (the
    members/holdout record), ``.training`` and ``.provenance``.
    """
    from qaudit import model as model_io

    return model_io.load(path)


def load_dataset(name_or_path: str | None = None, *, data_dir: str | None = None, label_column: str | None = None,
                 model: ModelFile | None = None, allow_data_change: bool = False) -> Dataset:
    """A dataset by registered name (``qaudit datasets``) or ``.csv``/``.npz`` path, or -- with *model* -- the
    data the model file's data record names (its fingerprint checked unless *allow_data_change*).
    ``None`` and no model: the dataset plugins declare as default."""
    from qaudit.data import load_dataset as load
    from qaudit.plugins import name_or_default
    from qaudit.workflows import dataset_for

    if model is not None and name_or_path is None:
        return dataset_for(model, data_dir, allow_data_change=allow_data_change)
    options = {k: v for k, v in (("data_dir", data_dir), ("label_column", label_column)) if v}
    return load(name_or_default("dataset", "default", name_or_path, "dataset"), options)


def _model_file(model: ModelFile | PathLike) -> ModelFile:
    return model if isinstance(model, ModelFile) else load_model(model)


def _location(model: ModelFile | PathLike) -> str:
    return (model.path or "") if isinstance(model, ModelFile) else str(model)


def train(model: str | None = None, dataset: Dataset | str | None = None, *, n_train: int | None = None,
          n_holdout: int | None = None, seed: int = 0, options: dict[str, Any] | None = None,
          exclude_class: list[int] | None = None, exclude_indices: str | None = None, out: PathLike | None = None,
          resume: bool = False, command: str | None = None, progress: Progress = SILENT,
          dp: Any = None, preset: str | None = None) -> ModelFile:
    """Train a QNN of kind *model* (``qaudit models``; None: the default kind) on *dataset* (a
    :class:`~qaudit.data.Dataset`, a name or a path; None: the default dataset) and return its model file.

    *options* are the model's hyper-parameters (``qubits``, ``layers``, ``epochs``, ``lr``...). With *out*
    the model file is written there (atomically; *command* is recorded as its provenance). *resume* continues
    an interrupted training with the same settings from its checkpoints. *dp* (a
    :class:`qaudit.dp.spec.DPSpec` or its option string ``"epsilon=2,delta=1e-5"``) trains with DP-SGD
    (docs/dp.md); it needs the ``dp`` extra and a model kind with per-sample gradients. *preset* names one of
    the kind's option bundles (``qaudit models``, e.g. basic-qnn's ``paper-code``); explicit *options* win.
    """
    from qaudit import model as model_io
    from qaudit.checkpoints import Checkpoints, content_key, training_checkpoints
    from qaudit.plugins import name_or_default
    from qaudit.workflows import train_model

    kind = name_or_default("model", "default", model, "model")
    dp_spec = _dp_spec(dp, kind)
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    opts = dict(options or {})
    store = Checkpoints("training", resume)
    key = content_key(kind, opts, preset, seed, n_train, n_holdout, exclude_class, exclude_indices, ds.name, ds.X,
                      ds.y)
    with training_checkpoints(store, key):
        mf = train_model(kind, ds, n_train=n_train, n_holdout=n_holdout, seed=seed, options=opts,
                         exclude_class=exclude_class, exclude_indices=exclude_indices, progress=progress,
                         dp=dp_spec, preset=preset)
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

    from qaudit import importing
    from qaudit import model as model_io
    from qaudit.data import read_indices
    from qaudit.errors import QauditError

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
    from qaudit.plugins import get_host

    spec = dp if isinstance(dp, DPSpec) else DPSpec.parse(dp)
    require_dp(get_host().get("model", kind), kind)
    library_version()  # a missing extra fails before any work
    return spec


def _gate(report: Report, fail_above: FailAbove, baseline: PathLike | dict[str, Any] | None,
          tolerance: str | dict[str, float] | None, metrics: tuple[str, ...], kind: str,
          fail_on: str = "leaks") -> None:
    """Attach the verdict (``--fail-on leaks``), ``--fail-above`` and ``--baseline`` findings to the leak
    *report* (strings parsed as on the CLI); figures the report flags unreliable are gated on their bound."""
    from qaudit import gating
    from qaudit.audit import FAIL_ON, gate_bounds, verdict_finding
    from qaudit.errors import QauditError

    if fail_on not in FAIL_ON:
        raise QauditError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    thresholds = fail_above if isinstance(fail_above, list) else gating.parse_thresholds(fail_above, metrics)
    bounds = gate_bounds(report)
    findings = [verdict_finding(report)] if fail_on == "leaks" else []
    findings += gating.check_thresholds(report.measurements, thresholds, kind, report.location, bounds)
    if baseline is not None:
        from qaudit.audit import SCHEMA

        base = baseline if isinstance(baseline, dict) else gating.read_baseline(Path(baseline), SCHEMA)
        tol = tolerance if isinstance(tolerance, dict) else gating.parse_tolerance(tolerance, metrics)
        names = sorted({t.metric for t in thresholds}) or list(gating.DEFAULT_BASELINE_METRICS)
        findings += gating.check_baseline(report.measurements, base, names, tol, kind, report.location, bounds)
    report.apply_findings(findings)


def _settings(settings: AuditSettings | None, overrides: dict[str, Any]) -> AuditSettings:
    """*settings* (default: :class:`AuditSettings`'s defaults) with the given keyword overrides."""
    import dataclasses

    given = {k: v for k, v in overrides.items() if v is not None}
    if settings is None:
        return AuditSettings(**given)
    return dataclasses.replace(settings, **given)


def audit(model: ModelFile | PathLike, *, attacks: Sequence[str] | None = None, seed: int | None = None,
          shots: int | None = None, backend: str | None = None, dataset: str | None = None,
          data_dir: str | None = None, members: str | None = None, non_members: str | None = None,
          allow_data_change: bool = False, settings: AuditSettings | None = None,
          fail_above: FailAbove = None, baseline: PathLike | dict[str, Any] | None = None,
          tolerance: str | dict[str, float] | None = None, progress: Progress = SILENT,
          executor: Any = None, fail_on: str = "leaks") -> Report:
    """Membership-inference audit of a model (``qaudit leak MODEL``): the leak :class:`Report`.

    *model* is a model file path or a loaded :class:`~qaudit.model.ModelFile`. Members and non-members come
    from its data record, or from the index files *members*/*non_members* into *dataset*. *settings* holds
    every audit option (:class:`qaudit.audit.AuditSettings`: attacks, seed, folds, alpha, slices, reference
    models...); *attacks*, *seed*, *shots* and *backend* override it. *fail_above* (``"auc=0.6,advantage=0.1"``)
    and *baseline* (a previous JSON report) gate the report as ``--fail-above``/``--baseline`` do, and a LEAKS
    verdict is a finding unless *fail_on* is ``"none"`` (``--fail-on``): ``report.status == "fail"`` and
    ``report.failed`` list them. Reference/shadow models run on
    *executor* (:func:`qaudit.parallel.open_executor`; None: ``settings.n_jobs`` local workers); the report does
    not depend on which.
    """
    from qaudit.audit import GATE_METRICS, ground_truth, run_audit
    from qaudit.importing import record_import
    from qaudit.reporting import record_data_change

    s = _settings(settings, {"attacks": list(attacks) if attacks else None, "seed": seed, "shots": shots,
                             "backend": backend})
    s.validate()
    mf = _model_file(model)
    location = _location(model)
    if dataset:
        ds = load_dataset(dataset, data_dir=data_dir)
    elif mf.data is not None:
        ds = load_dataset(model=mf, data_dir=data_dir, allow_data_change=allow_data_change)
    else:
        from qaudit.errors import QauditError

        raise QauditError(f"{location or 'the model'} has no data record: pass --dataset with "
                          "--members/--non-members index files")
    truth = ground_truth(mf, len(ds), members, non_members)
    report = run_audit(mf, ds, truth, s, progress=progress, location=location, executor=executor)
    if report.kind == "plan":  # --dry-run: nothing ran, nothing to gate
        return report
    record_data_change(report, ds)
    record_import(report, mf)
    _gate(report, fail_above, baseline, tolerance, GATE_METRICS, "leak", fail_on)
    return report


def audit_outputs(path: PathLike, *, attacks: Sequence[str] | None = None, seed: int | None = None,
                  settings: AuditSettings | None = None, fail_above: FailAbove = None,
                  baseline: PathLike | dict[str, Any] | None = None, tolerance: str | dict[str, float] | None = None,
                  progress: Progress = SILENT, fail_on: str = "leaks") -> Report:
    """Black-box audit of recorded outputs (``qaudit leak --outputs FILE.npz``; docs/outputs-format.md).

    With no *attacks*, every installed attack whose signals the file provides runs (the others are listed in
    ``report.payload["skipped_attacks"]`` with the reason); a named attack the file cannot serve is refused
    with a QauditError. *settings* holds the other audit options (``settings.attacks`` is not used: the attacks
    are *attacks* or the file's signals decide). Metrics, verdict, report and gating are those of :func:`audit`.
    """
    from qaudit.audit import GATE_METRICS
    from qaudit.blackbox import load_outputs, run_outputs_audit

    s = _settings(settings, {"seed": seed})
    recorded = load_outputs(path)
    report = run_outputs_audit(recorded, s, list(attacks) if attacks else None, progress, str(path))
    _gate(report, fail_above, baseline, tolerance, GATE_METRICS, "leak", fail_on)
    return report


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
    its provenance); the report's ``payload`` holds every measurement. The forget-request judgement (equivalent
    to retraining on forgetting and not worse on utility beyond *tolerance*'s margins, tested against *oracles*
    retrains from independent seeds, or the given *oracle* file(s); :mod:`qaudit.equivalence`) and *fail_above*
    thresholds become the report's findings (``report.failed``); *forget_gate* False reports the judgement
    without gating on it. The retrains, SISA's shard trainings and the forget-quality pairs are jobs on
    *executor* (None: in this process). *audit* ``"ulira"`` adds the per-example U-LiRA audit with
    *shadow_pairs* shadow pairs (:mod:`qaudit.ulira`), also on *executor*, named in the verdict.
    """
    from qaudit import ulira
    from qaudit import unlearning as core
    from qaudit.backends import backend_or_default, resolve_backend
    from qaudit.errors import QauditError
    from qaudit.plugins import get_host, name_or_default
    from qaudit.reporting import record_data_change
    from qaudit.unlearn_reports import unlearn_report
    from qaudit.verification import DEFAULT_TOLERANCE

    method = name_or_default("unlearning", "default", method, "--method")
    get_host().get("unlearning", method)
    thresholds = core.parse_gate(fail_above)  # before any work: a typo must not cost a whole unlearning
    core.check_forget_quality(forget_quality)
    opts = dict(options or {})
    mf = _model_file(model)
    ds = load_dataset(model=mf, data_dir=data_dir, allow_data_change=allow_data_change)
    fs = core.resolve_forget(mf, ds, forget_class, forget_indices)
    core.preflight(method, mf, ds, fs, seed, opts, retain_fraction)
    if audit is not None:
        ulira.check_audit(audit, mf, fs, shadow_pairs)
    given = [] if oracle is None else [oracle] if isinstance(oracle, (ModelFile, str, os.PathLike)) else list(oracle)
    if given and oracles is not None:
        raise QauditError("give either --oracle files or --oracles N, not both")
    oracle_mfs = [_model_file(o) for o in given]
    n_oracles = core.DEFAULT_ORACLES if oracles is None else oracles
    from qaudit.limits import MAX_ORACLES, check_option

    check_option("--oracles", n_oracles, "int", 1, MAX_ORACLES)
    backend = backend_or_default(backend, shots)
    be, shots = resolve_backend(backend, shots, mf.model)
    tol = {**DEFAULT_TOLERANCE, **(tolerance or {})}
    verifier = core.Verifier(mf, ds, fs, seed, be, shots, progress=progress)
    before = verifier.snapshot(mf.model)
    reference = core.make_reference(mf, ds, fs, verifier, n_oracles, {int(seed)}, oracle_mfs, progress,
                                    executor=executor)
    result = core.apply_method(method, mf, ds, fs, verifier, reference, seed, opts, retain_fraction, progress, tol,
                               executor=executor)
    fq = core.forget_quality(mf, ds, fs, method, opts, forget_quality, seed, progress,
                             executor=executor) if forget_quality else None
    audited = ulira.audit(mf, ds, fs.forget_ids, method, opts, shadow_pairs, seed, progress=progress,
                          executor=executor) if audit is not None else None
    new_mf = core.unlearned_model_file(mf, result, fs)
    if out is not None:
        from qaudit import model as model_io

        model_io.save(new_mf, out, command=command)
    report = unlearn_report(mf, fs, before, reference, result, str(out or ""),
                            {"backend": backend, "shots": shots, "retain_fraction": retain_fraction,
                             "attack": verifier.attack_name, "oracles": len(reference.oracles),
                             "oracle_seeds": [o.seed for o in reference.oracles], "tolerance": tol},
                            verifier.is_forget)
    if fq is not None:
        core.attach_forget_quality(report, method, fq)
    if audited is not None:
        ulira.attach(report, audited)
    record_data_change(report, ds)
    core.gate(report, thresholds, result.findings(report.location) if forget_gate else None)
    if audited is not None:
        report.verdict += ulira.conclusion(audited, result.judgement)
    return report


def shots(model: ModelFile | PathLike, *, settings: ShotSettings | None = None, data_dir: str | None = None,
          allow_data_change: bool = False, fail_above: FailAbove = None,
          progress: Progress = SILENT, executor: Any = None) -> Report:
    """How the shot count shapes leakage and unlearning stability (``qaudit shots``): the shots Report.

    *settings* (:class:`qaudit.shot_study.ShotSettings`) lists the shot counts, repeats, seed, attack and the
    optional unlearning method; *fail_above* (``"auc_mean=0.6"``) gates every shot count. The (shots, repeat)
    runs are jobs on *executor* (None: in this process).
    """
    from qaudit.gating import check_thresholds, parse_thresholds
    from qaudit.reporting import record_data_change
    from qaudit.shot_study import gated_metrics, run_study

    thresholds = fail_above if isinstance(fail_above, list) else parse_thresholds(fail_above, gated_metrics())
    mf = _model_file(model)
    ds = load_dataset(model=mf, data_dir=data_dir, allow_data_change=allow_data_change)
    report = run_study(mf, ds, settings or ShotSettings(), progress=progress, location=_location(model),
                       executor=executor)
    record_data_change(report, ds)
    if thresholds:
        report.apply_findings(check_thresholds(report.measurements, thresholds, "shots", report.location))
    return report
