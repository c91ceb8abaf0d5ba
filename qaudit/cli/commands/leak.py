"""``qaudit leak``: membership-inference audit with CI gating (wiring only; logic in qaudit.leak.audit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qaudit.cli.commands.common import (
    AllowDataChange,
    DataDirOpt,
    ExecutorOpt,
    SchedulerOpt,
    command_executor,
    command_line,
    err,
    finish_report,
    parse_options,
)
from qaudit.sdk.errors import QauditError


def _split_list(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out += [v.strip() for v in str(value).split(",") if v.strip()]
    return out


def _attack_options(pairs: list[str] | None, attacks: list[str]) -> dict[str, Any]:
    """``ATTACK.KEY=VALUE`` settings (``--attack-option``, or the config's ``attack-options`` table)."""
    opts = parse_options(pairs)
    names = {a.replace("-", "_"): a for a in attacks}  # parse_options turns '-' into '_' in keys
    out = {}
    for key, value in opts.items():
        if "." in key:
            owner, rest = key.split(".", 1)
            key = f"{names.get(owner, owner)}.{rest}"
        out[key] = value
    return out


def _given(ctx: typer.Context, name: str, value: Any) -> Any:
    """*value* when it came from the command line (or the environment), None when from the config file."""
    source = ctx.get_parameter_source(name)
    return None if source is None or source.name in ("DEFAULT_MAP", "DEFAULT") else value


def _config_file() -> str | None:
    from qaudit.cli.config import find_config

    found = find_config()
    return str(found[0]) if found else None


def _extra_reports(items: list[str] | None) -> list[tuple[str, Path]]:
    """``--report FORMAT=PATH`` pairs, formats checked before any work."""
    from qaudit.report.render import check_format

    extras = []
    for item in items or []:
        if "=" not in item:
            raise QauditError(f"--report expects FORMAT=PATH, got {item!r}")
        extra_fmt, extra_path = item.split("=", 1)
        extras.append((check_format(extra_fmt.strip()), Path(extra_path)))
    return extras


def leak_cmd(
    ctx: typer.Context,
    model_path: Annotated[Path | None, typer.Argument(help="Model file (default: 'model' from qaudit.toml).")] = None,
    attack: Annotated[list[str] | None, typer.Option(
        "--attack", "-a", help="Attack(s) to run, repeatable or comma-separated (see `qaudit attacks`). "
        "Default: the attacks declaring the default role (gray-box, loss, confidence, entropy and rmia with one "
        "pair of reference models).")] = None,
    fast: Annotated[bool, typer.Option(
        "--fast", help="Only the default attacks that train no reference models (about a second; weaker).")
    ] = False,
    shots: Annotated[int | None, typer.Option(help="Measurement shots per query (0/omitted = exact).")] = None,
    backend: Annotated[str | None, typer.Option(
        help="Backend for the target's queries (default exact; 'sampled' when --shots is given).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for splits, attacks, shots and bootstrap.")] = 0,
    data_dir: DataDirOpt = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", "-d", help="Dataset the index files refer to (default: the model's data record).")] = None,
    members: Annotated[str | None, typer.Option(metavar="FILE", help="File of member sample indices.")] = None,
    allow_data_change: AllowDataChange = False,
    non_members: Annotated[str | None, typer.Option(
        "--non-members", metavar="FILE", help="File of non-member indices.")] = None,
    slice_: Annotated[list[str] | None, typer.Option(
        "--slice", help="Slice metrics by class, correctness or loss-decile (repeatable).")] = None,
    forget_class: Annotated[int | None, typer.Option(
        "--forget-class", help="Class whose members the paper's member rate is computed on.")] = None,
    reference_models: Annotated[int | None, typer.Option(
        "--reference-models", "-K", help="Reference QNNs for lira/rmia/counts-lr (even; default: the largest "
        "number the selected attacks declare: 2 for rmia, 16 for lira).")] = None,
    jobs: Annotated[int | None, typer.Option(help="Worker processes for reference models (default: cores, max 2).")
                    ] = None,
    attack_option: Annotated[list[str] | None, typer.Option(
        "--attack-option", "-A", help="ATTACK.KEY=VALUE attack setting (repeatable).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="Report format (see `qaudit reporters`; default: the terminal report).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (atomic).")] = None,
    extra_report: Annotated[list[str] | None, typer.Option(
        "--report", help="Also write FORMAT=PATH (repeatable), e.g. --report html=leak.html.")] = None,
    scores: Annotated[bool, typer.Option("--scores", help="Include per-sample scores in JSON.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", help="Most exposed members listed.")] = 10,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", help="'leaks': a LEAKS verdict is a finding (exit 1); 'none': report it only.")
    ] = "leaks",
    exit_zero: Annotated[bool, typer.Option(
        "--exit-zero", help="Report every finding but exit 0 (like ruff/bandit --exit-zero).")] = False,
    fail_above: Annotated[str | None, typer.Option(
        "--fail-above", help="Exit 1 if a metric exceeds its threshold, e.g. auc=0.6,tpr@1%fpr=0.05,advantage=0.1.")
    ] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="Previous JSON report: exit 1 only on regression beyond --tolerance.")] = None,
    tolerance: Annotated[str | None, typer.Option(
        help="Allowed increase over the baseline: a number or metric=value pairs (default 0.02).")] = None,
    folds: Annotated[int, typer.Option(
        "--folds", help="Cross-fitting folds: every sample is scored by attacks fitted on the others.")] = 5,
    alpha: Annotated[float, typer.Option(
        "--alpha", help="Family-wise error rate of the LEAKS verdict and 1 - confidence of the distinguishability "
        "bound.")] = 0.05,
    delta: Annotated[float, typer.Option(
        "--delta", help="delta in the distinguishability figure log((1 - delta - FPR)/FNR).")] = 1e-5,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", help="Resamples of the percentile-bootstrap AUC interval reported beside the main one "
        "for comparison (auc_bootstrap).")] = 1000,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Reuse reference/shadow models an interrupted run with the same inputs and seed "
        "finished, and collect its hardware jobs instead of resubmitting them (checkpoints in "
        "$QAUDIT_CACHE_DIR).")] = False,
    outputs: Annotated[Path | None, typer.Option(
        "--outputs", help="Audit recorded outputs instead of a model: a .npz file of per-sample probabilities or "
        "logits, labels and membership, optionally reference-model outputs (docs/outputs-format.md). Without "
        "--attack every attack these outputs can serve runs.")] = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print what the target's queries would submit and cost (circuits, bindings, shots, depth, "
        "two-qubit gates, QPU seconds, jobs) and exit; nothing runs (docs/hardware.md).")] = False,
    max_qpu_seconds: Annotated[float | None, typer.Option(
        "--max-qpu-seconds", help="Refuse (exit 2) a run whose estimated device time exceeds this.")] = None,
) -> None:
    """Measure how much a QNN's outputs reveal about who was in its training set.

    Exit codes: 0 no finding, 1 a finding (a LEAKS verdict, a threshold or a baseline check; --exit-zero and
    --fail-on none opt out), 2 usage/input error.
    """
    from qaudit import api
    from qaudit.leak.audit import AuditSettings, default_attacks
    from qaudit.report.destinations import check_outputs
    from qaudit.report.render import check_format
    from qaudit.sdk.host import get_host
    from qaudit.sdk.progress import RichProgress

    if outputs is not None:  # values the config supplies for a model audit do not apply to recorded outputs
        model_path, shots, backend, reference_models = (_given(ctx, name, value) for name, value in (
            ("model_path", model_path), ("shots", shots), ("backend", backend),
            ("reference_models", reference_models)))
        _check_outputs_options(model_path, shots=shots, backend=backend, data_dir=_given(ctx, "data_dir", data_dir),
                               dataset=_given(ctx, "dataset", dataset), members=_given(ctx, "members", members),
                               non_members=_given(ctx, "non_members", non_members),
                               allow_data_change=allow_data_change, reference_models=reference_models,
                               resume=resume, dry_run=dry_run, max_qpu_seconds=max_qpu_seconds)
    path = model_path
    if path is None and outputs is None:
        raise QauditError("no model file: pass MODEL_PATH or set 'model' in qaudit.toml")
    named = _split_list(attack)
    if fast and named and _given(ctx, "attack", attack):
        raise QauditError("--fast picks the attacks; do not combine it with --attack")
    chosen = default_attacks("default", fast=True) if fast else named  # [] -> the API's default attacks
    fmt = check_format(fmt)
    extras = _extra_reports(extra_report)
    given = {"backend": backend, "shots": shots, "seed": seed, "slices": _split_list(slice_),
             "forget_class": forget_class, "n_reference": reference_models, "n_jobs": jobs, "top_k": top_k,
             "include_scores": scores, "folds": folds, "alpha": alpha, "delta": delta, "n_bootstrap": bootstrap,
             "resume": resume, "dry_run": dry_run, "max_qpu_seconds": max_qpu_seconds,
             "attack_options": _attack_options(attack_option, named or get_host().names("attack") if outputs
                                               else chosen or default_attacks("default"))}
    if chosen and outputs is None:
        given["attacks"] = chosen
    settings = AuditSettings(**{k: v for k, v in given.items() if v is not None})  # the API resolves and checks
    check_outputs({"--output": output, **{f"--report {f}": p for f, p in extras}},
                  {"model file": path, "--members file": members, "--non-members file": non_members,
                   "--baseline": baseline, "dataset file": dataset, "config file": _config_file(),
                   "--outputs file": outputs})
    gates = {"fail_above": fail_above, "baseline": baseline, "tolerance": tolerance, "fail_on": fail_on,
             "command": command_line()}
    with command_executor(executor, scheduler, settings.n_jobs) as ex, RichProgress(err) as progress:
        report = _run(api, path, outputs, settings, chosen, gates, progress, ex, dataset=dataset, data_dir=data_dir,
                      members=members, non_members=non_members, allow_data_change=allow_data_change)
    finish_report(report, [(fmt, output), *extras], exit_zero=exit_zero)


def _run(api: Any, path: Path | None, outputs: Path | None, settings: Any, chosen: list[str], gates: dict[str, Any],
         progress: Any, executor: Any, **data: Any) -> Any:
    """The one ``qaudit.api`` call of ``leak``: an audit of recorded *outputs*, or of the model at *path*."""
    if outputs is not None:
        return api.audit_outputs(outputs, attacks=chosen or None, settings=settings, progress=progress, **gates)
    return api.audit(path, settings=settings, progress=progress, executor=executor, **data, **gates)


def _check_outputs_options(model_path: Path | None, **given: Any) -> None:
    """``--outputs`` audits recorded outputs: refuse a model file and the options that query a model."""
    if model_path is not None:
        raise QauditError("pass a model file or --outputs FILE, not both")
    for name, value in given.items():
        if value not in (None, False):
            flag = "--" + name.replace("_", "-")
            raise QauditError(f"{flag} does not apply to --outputs (the file records the outputs, membership and "
                              "any reference models)")


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("leak")(leak_cmd)
