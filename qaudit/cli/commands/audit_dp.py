"""``qaudit audit-dp``: one-run privacy audit (canaries, one training run, an epsilon lower bound)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.cli.commands.common import DataDirOpt, command_line, err, finish_report, parse_options


def _int_list(text: str | None, flag: str) -> list[int] | None:
    from qaudit.sdk.errors import QauditError

    if not text:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise QauditError(f"{flag} expects comma-separated integers, got {text!r}") from None


def audit_dp_cmd(
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Model kind (see `qaudit models`; default: the plugins' default model).")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", "-d", help="Dataset name or .csv/.npz path (default: the plugins' default dataset).")] = None,
    data_dir: DataDirOpt = None,
    n_train: Annotated[int | None, typer.Option("--n-train", help="Members besides the canaries.")] = None,
    n_holdout: Annotated[int | None, typer.Option("--n-holdout", help="Holdout samples.")] = None,
    canaries: Annotated[int, typer.Option(
        "--canaries", help="Number m of canaries; each is included in training with probability 1/2.")] = 200,
    canary_kind: Annotated[str, typer.Option(
        "--canary-kind", help="mislabel (a wrong label) or ood (uniform random features, random label).")]
        = "mislabel",
    dp: Annotated[str | None, typer.Option(
        "--dp", help="Train with DP-SGD: epsilon=2,delta=1e-5[,clip=1.0] or noise_multiplier=1.1[,...] "
        "(needs the dp extra: pip install 'qaudit\\[dp]'). Without it the model's own training is audited.")] = None,
    attack: Annotated[list[str] | None, typer.Option(
        "--attack", "-a", help="Attack scoring the canaries (repeatable; default: the `fast` attacks).")] = None,
    guesses: Annotated[str | None, typer.Option(
        "--guesses", help="Guesses per side k, comma-separated (default: m/20, m/10, m/5, m/4); every "
        "(attack, k) bound is Bonferroni-corrected.")] = None,
    confidence: Annotated[float, typer.Option(help="Confidence of the lower bound.")] = 0.95,
    delta: Annotated[float, typer.Option(help="δ of the bound for a model trained without --dp.")] = 1e-5,
    seed: Annotated[int, typer.Option(help="Seed for canaries, inclusion, split, training and attacks.")] = 0,
    shots: Annotated[int | None, typer.Option(
        help="Measurement shots of the attacker's queries (0 or omitted = exact expectation values).")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Model option KEY=VALUE (repeatable), e.g. -O epochs=30.")] = None,
    unlearn: Annotated[str | None, typer.Option(
        "--unlearn", help="Then forget the included canaries with this unlearning method and audit again.")] = None,
    unlearn_option: Annotated[list[str] | None, typer.Option(
        "--unlearn-option", help="Unlearning option KEY=VALUE (repeatable).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="Report format (see `qaudit reporters`; default: the terminal report).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (atomic).")] = None,
) -> None:
    """One-run privacy audit: canaries in, one training run, "claimed ε = …, audited ε ≥ … (95 %)"."""
    from qaudit import api
    from qaudit.report.destinations import check_outputs
    from qaudit.report.render import check_format
    from qaudit.sdk.progress import RichProgress

    check_format(fmt)
    check_outputs({"--output": output}, {"dataset file": dataset if dataset and Path(dataset).suffix else None})
    with RichProgress(err) as progress:
        report = api.audit_dp(model, dataset, data_dir=data_dir, n_train=n_train, n_holdout=n_holdout,
                              canaries=canaries, canary_kind=canary_kind, dp=dp, attacks=attack,
                              guesses=_int_list(guesses, "--guesses"), confidence=confidence, delta=delta, seed=seed,
                              shots=shots, options=parse_options(option), unlearn=unlearn,
                              unlearn_options=parse_options(unlearn_option), progress=progress,
                              command=command_line())
    finish_report(report, [(fmt, output)])


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("audit-dp")(audit_dp_cmd)
