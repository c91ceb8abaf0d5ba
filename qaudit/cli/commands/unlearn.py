"""``qaudit unlearn`` and ``qaudit compare-unlearning``: parse, call :mod:`qaudit.api`, render."""

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
    parse_options,
)
from qaudit.sdk.errors import QauditError

ForgetClass = Annotated[list[int] | None, typer.Option(
    "--forget-class", help="Forget every training member of this class (repeatable).")]
ForgetIndices = Annotated[str | None, typer.Option(
    "--forget-indices", metavar="FILE", help="File of dataset indices (training members) to forget.")]
Fmt = Annotated[str | None, typer.Option(
    "--format", "-f", help="Report format (see `qaudit reporters`; default: the terminal report).")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (atomic).")]
FailAbove = Annotated[str | None, typer.Option(
    "--fail-above", help="Exit 1 if a metric exceeds its threshold, e.g. forget_mia_auc=0.6,forget_accuracy=0.2.")]
Audit = Annotated[str | None, typer.Option(
    "--audit", help="Also run a per-example unlearning audit: ulira (U-LiRA, Hayes et al. 2025: shadow pairs "
    "unlearned by the method vs retrained; gate with --fail-above ulira_auc=0.6).")]
ShadowPairs = Annotated[int, typer.Option(
    "-K", "--shadow-pairs", help="U-LiRA shadow pairs (even, >= 8; each trains two models and runs the method).")]


def parse_tolerance(text: str | None, utility: float | None = None) -> dict[str, float]:
    """``acc=0.1,auc=0.05`` (and ``--utility-tolerance``) -> the judgement's margins (accuracies as fractions,
    AUC)."""
    from qaudit.unlearn.verification import DEFAULT_TOLERANCE

    out = dict(DEFAULT_TOLERANCE)
    if utility is not None:
        if not 0 <= utility <= 1:
            raise QauditError(f"--utility-tolerance {utility!r}: must lie in [0, 1]")
        out["utility"] = float(utility)
    names = {"acc": "accuracy", "accuracy": "accuracy", "auc": "auc"}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        if key.strip() not in names:
            raise QauditError(f"--forget-tolerance: unknown key {key.strip()!r} (use acc=..., auc=...)")
        try:
            number = float(value)
        except ValueError:
            raise QauditError(f"--forget-tolerance {part.strip()!r}: not a number") from None
        if not 0 <= number <= 1:
            raise QauditError(f"--forget-tolerance {part.strip()!r}: must lie in [0, 1]")
        out[names[key.strip()]] = number
    return out


def unlearn_cmd(
    model_path: Annotated[Path, typer.Argument(help="Trained model file (never modified).")],
    method: Annotated[str | None, typer.Option(
        "--method", "-m", help="Unlearning method (see `qaudit plugins`; default: the plugin-declared default).")
    ] = None,
    forget_class: ForgetClass = None,
    forget_indices: ForgetIndices = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Unlearned model file to write "
                                                  "(default <input>.unlearned.json; -o is the report).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="Method option KEY=VALUE.")] = None,
    importance: Annotated[str | None, typer.Option(help="ssd importance: fisher or qfi.")] = None,
    seed: Annotated[int, typer.Option(
        help="Seed for batches, subsampling, the attack and --method retrain's model.")] = 0,
    oracle: Annotated[list[Path] | None, typer.Option(
        "--oracle", help="Retrained model file to compare with (repeatable; default: train --oracles retrains).")]
    = None,
    oracles: Annotated[int | None, typer.Option(
        "--oracles", help="Retrains from independent seeds the judgement compares with (default 5; cached).")]
    = None,
    retain_fraction: Annotated[float, typer.Option(help="Fraction of the retained data the method may use.")] = 1.0,
    backend: Annotated[str | None, typer.Option(
        help="Backend for the verification queries (default: exact, or the shot backend with --shots).")] = None,
    shots: Annotated[int | None, typer.Option(help="Shots for the verification queries (default exact).")] = None,
    forget_quality: Annotated[int, typer.Option(
        "--forget-quality", help="Also compute the NeurIPS'23 forget quality with N unlearned/N retrained models.")]
    = 0,
    data_dir: DataDirOpt = None,
    allow_data_change: AllowDataChange = False,
    fmt: Fmt = None,
    output: Output = None,
    fail_above: FailAbove = None,
    forget_tolerance: Annotated[str | None, typer.Option(
        "--forget-tolerance", help="Equivalence margins for forgetting: forget accuracy and forget-MIA AUC within "
        "this of retraining, acc=0.10,auc=0.10 (the defaults).")] = None,
    utility_tolerance: Annotated[float | None, typer.Option(
        "--utility-tolerance", help="Non-inferiority margin for utility: retained and holdout accuracy at most this "
        "far below retraining (fraction; default 0.25).")] = None,
    forget_gate: Annotated[bool, typer.Option(
        "--forget-gate/--no-forget-gate", help="Exit 1 when the forget request was not met (default on).")] = True,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
    audit: Audit = None,
    shadow_pairs: ShadowPairs = 32,
) -> None:
    """Make a trained model forget a class or a set of samples, then verify and judge it (accuracy, held-out
    MIA, K retrains from independent seeds). Met = equivalent to retraining on forgetting and not worse on utility
    (tests at alpha 0.05, docs/statistics.md §8). Exit 0 request met, 1 not met or a --fail-above threshold
    breached, 2 input error."""
    from qaudit import api
    from qaudit.report.destinations import check_outputs
    from qaudit.report.render import check_format, render_all
    from qaudit.sdk.progress import RichProgress

    check_format(fmt)
    tolerance = parse_tolerance(forget_tolerance, utility_tolerance)
    opts = parse_options(option)
    if importance is not None:
        opts["importance"] = importance
    out_path = out_path or model_path.with_name(model_path.name.removesuffix(".json") + ".unlearned.json")
    check_outputs({"--out": out_path, "--output": output},
                  {"model file": model_path, **{f"--oracle {o}": o for o in oracle or []},
                   "--forget-indices file": forget_indices})
    with command_executor(executor, scheduler) as ex, RichProgress(err) as progress:
        report = api.unlearn(model_path, method, forget_class=forget_class, forget_indices=forget_indices,
                             options=opts, seed=seed, oracle=oracle or None, oracles=oracles,
                             retain_fraction=retain_fraction, backend=backend,
                             shots=shots, forget_quality=forget_quality, data_dir=data_dir,
                             allow_data_change=allow_data_change, tolerance=tolerance, forget_gate=forget_gate,
                             fail_above=fail_above, out=out_path, command=command_line(), progress=progress,
                             executor=ex, audit=audit, shadow_pairs=shadow_pairs)
    err.print(f"wrote {out_path}", markup=False, highlight=False)
    render_all(report, [(fmt, output)])
    raise typer.Exit(1 if report.failed else 0)


def compare_cmd(
    model_path: Annotated[Path, typer.Argument(help="Trained model file (never modified).")],
    methods: Annotated[str | None, typer.Option(
        help="Comma-separated methods (default: every installed method that can run on this model).")] = None,
    forget_class: ForgetClass = None,
    forget_indices: ForgetIndices = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds (robustness = mean ± std).")] = "0",
    shots: Annotated[str | None, typer.Option(help="Comma-separated shot counts for the verification "
                                              "queries (0 = exact).")] = None,
    backend: Annotated[str | None, typer.Option(
        help="Backend for the verification queries (default: exact, or the shot backend with --shots).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="METHOD.KEY=VALUE.")] = None,
    oracle: Annotated[list[Path] | None, typer.Option("--oracle", help="Retrained model file (repeatable).")] = None,
    oracles: Annotated[int | None, typer.Option(
        "--oracles", help="Retrains from independent seeds to compare with (default 5; cached).")] = None,
    data_dir: DataDirOpt = None,
    allow_data_change: AllowDataChange = False,
    fmt: Fmt = None,
    output: Output = None,
    fail_above: FailAbove = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """The paper's comparative table: data needed, cost, forget/retained accuracy, forget MIA, distance to oracle."""
    from qaudit import api
    from qaudit.report.destinations import check_outputs
    from qaudit.report.render import check_format, render_all
    from qaudit.sdk.progress import RichProgress

    check_format(fmt)
    check_outputs({"--output": output}, {"model file": model_path, **{f"--oracle {o}": o for o in oracle or []},
                                         "--forget-indices file": forget_indices})
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else None
    seed_list = _ints(seeds, "--seeds")
    shot_list = [s or None for s in _ints(shots, "--shots")] if shots else [None]
    with command_executor(executor, scheduler) as ex, \
            RichProgress(err) as progress:
        report = api.compare_unlearning(model_path, names, options=_per_method_options(parse_options(option)),
                                        forget_class=forget_class, forget_indices=forget_indices, seeds=seed_list,
                                        shots=shot_list, backend=backend, oracle=oracle or None, oracles=oracles,
                                        data_dir=data_dir, allow_data_change=allow_data_change,
                                        fail_above=fail_above, command=command_line(), progress=progress,
                                        executor=ex)
    render_all(report, [(fmt, output)])
    raise typer.Exit(1 if report.failed else 0)


def _per_method_options(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``-O METHOD.KEY=VALUE`` pairs grouped by method (the API checks that each names a method it runs)."""
    per_method: dict[str, dict[str, Any]] = {}
    for key, value in options.items():
        if "." not in key:
            raise QauditError(f"-O {key}: write METHOD.KEY=VALUE")
        m, k = key.split(".", 1)
        per_method.setdefault(m, {})[k] = value
    return per_method


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise QauditError(f"{flag}: expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise QauditError(f"{flag}: expected non-negative integers")
    return values


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("unlearn")(unlearn_cmd)
    app.command("compare-unlearning")(compare_cmd)
