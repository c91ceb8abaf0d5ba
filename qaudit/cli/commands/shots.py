"""``qaudit shots``: leakage and unlearning stability across shot counts (wiring only; logic in qaudit.shots)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


def shots_cmd(
    model_path: Annotated[Path, typer.Argument(help="Trained model file (with its data record).")],
    shots: Annotated[str, typer.Option(
        help="Increasing comma-separated shot counts; 'exact' (no shot noise) may come last.")
    ] = "16,64,256,1024,4096,exact",
    repeats: Annotated[int, typer.Option("--repeats", "-R", help="Repeats per shot count (seeds seed..seed+R-1).")
                       ] = 5,
    backend: Annotated[str | None, typer.Option(
        help="Shot-capable backend (see `qaudit backends`; default: the shot backend).")] = None,
    seed: Annotated[int, typer.Option(help="First repeat seed.")] = 0,
    attack: Annotated[str | None, typer.Option(
        "--attack", "-a", help="Attack for the leakage metrics (default: the verification attack).")] = None,
    forget_class: Annotated[int | None, typer.Option(
        "--forget-class", help="Class whose members the paper's MIA accuracy counts (and --unlearn forgets).")
    ] = None,
    unlearn: Annotated[str | None, typer.Option(
        "--unlearn", help="Also run this unlearning method under every shot count (gradients from shots).")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="KEY=VALUE for the --unlearn method.")
                      ] = None,
    data_dir: DataDirOpt = None,
    allow_data_change: AllowDataChange = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Reuse the (shot count, repeat) runs an interrupted study with the same inputs finished.")
    ] = False,
    bootstrap: Annotated[int, typer.Option(
        help="Resamples of the comparison percentile-bootstrap AUC interval (auc_bootstrap).")] = 200,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="Report format (see `qaudit reporters`; default: the terminal report).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (atomic).")] = None,
    fail_above: Annotated[str | None, typer.Option(
        "--fail-above", help="Exit 1 if any shot count exceeds a threshold, e.g. auc_mean=0.6,mia_accuracy_mean=0.8."
    )] = None,
    executor: ExecutorOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """How the shot count shapes leakage (mean ± std over repeats) and the stability of unlearning."""
    from qaudit import api
    from qaudit.report.destinations import check_outputs
    from qaudit.report.render import check_format
    from qaudit.sdk.progress import RichProgress
    from qaudit.shots import ShotSettings, parse_shots

    check_format(fmt)
    check_outputs({"--output": output}, {"model file": model_path})
    settings = ShotSettings(shots=parse_shots(shots), repeats=repeats, seed=seed, backend=backend, attack=attack,
                            forget_class=forget_class, unlearn=unlearn, unlearn_options=parse_options(option),
                            n_bootstrap=bootstrap, resume=resume)
    with command_executor(executor, scheduler) as ex, RichProgress(err) as progress:
        report = api.shots(model_path, settings=settings, data_dir=data_dir, allow_data_change=allow_data_change,
                           fail_above=fail_above, progress=progress, executor=ex, command=command_line())
    finish_report(report, [(fmt, output)])


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("shots")(shots_cmd)
