"""``qaudit train``: train a QNN on a dataset and save a validated model file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qaudit.cli.commands.common import DataDirOpt, NoReportOpt, command_line, err, parse_options, refuse_output, warn
from qaudit.sdk.errors import QauditError


def train_cmd(
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Model kind (see `qaudit models`; default: the plugins' default model).")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", "-d", help="Dataset name or .csv/.npz path (default: the plugins' default dataset).")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Model file to write.")] = Path("model.json"),
    output: NoReportOpt = None,
    data_dir: DataDirOpt = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a CSV dataset.")] = None,
    n_train: Annotated[int | None, typer.Option("--n-train", help="Members (training samples).")] = None,
    n_holdout: Annotated[int | None, typer.Option("--n-holdout", help="Holdout (non-member) samples.")] = None,
    qubits: Annotated[int | None, typer.Option(help="Number of qubits.")] = None,
    layers: Annotated[int | None, typer.Option(help="Number of circuit layers.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Minibatch size.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split, initialisation and shuffling.")] = 0,
    exclude_class: Annotated[list[int] | None, typer.Option(
        help="Train without this class (retrain oracle; repeatable).")] = None,
    exclude_indices: Annotated[str | None, typer.Option(
        metavar="FILE", help="Train without the sample indices in this file.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-O", help="Model-specific option KEY=VALUE (repeatable; VALUE is JSON or a string), e.g. "
        "`--model sisa -O shards=4 -O slices=3 -O constituent=basic-qnn`.")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", help="A named option bundle of the model kind (listed by `qaudit models`), e.g. basic-qnn's "
        "paper-code; explicit options win.")] = None,
    noise: Annotated[str | None, typer.Option(
        help="Train under a noise model with exact noisy gradients: 'paper' or p1=..,p2=..,bitflip=..")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out file.")] = False,
    dp: Annotated[str | None, typer.Option(
        "--dp", help="Differentially private training (DP-SGD): epsilon=2,delta=1e-5[,clip=1.0] or "
        "noise_multiplier=1.1[,delta=..,clip=..] (needs the dp extra: pip install 'qaudit\\[dp]'; "
        "docs/dp.md).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted training with the same settings from its last finished epoch "
        "(checkpoints in $QAUDIT_CACHE_DIR); the result equals an uninterrupted run.")] = False,
) -> None:
    """Train a QNN and save it as a validated model file (--out)."""
    from rich.markup import escape

    refuse_output(output, "train")
    from qaudit import api
    from qaudit.sdk.progress import RichProgress

    if out_path.exists() and not force:  # fail before training, not after it
        raise QauditError(f"{out_path} already exists; pass --force to overwrite it")
    opts = parse_options(option)
    for key, value in (("qubits", qubits), ("layers", layers), ("epochs", epochs), ("lr", lr),
                       ("batch_size", batch_size), ("noise", noise)):
        if value is not None:
            opts[key] = value
    with RichProgress(err) as progress:
        mf = api.train(model, dataset, n_train=n_train, n_holdout=n_holdout, seed=seed, options=opts,
                       exclude_class=exclude_class, exclude_indices=exclude_indices, out=out_path, resume=resume,
                       command=command_line(), progress=progress, dp=dp, preset=preset, data_dir=data_dir,
                       label_column=label_column)
    from qaudit.train.workflows import Evaluation

    ev = Evaluation("", mf.kind, mf.training["evaluation"]["backend"], None, mf.training["evaluation"]["splits"])
    accs = ", ".join(f"{k} accuracy {v['accuracy']:.3f}" for k, v in ev.splits.items())
    err.print(f"[bold green]trained[/] {escape(mf.kind)} on {escape(mf.data.dataset)} ({len(mf.data.members)} "
              f"members, {len(mf.data.holdout)} holdout) in {mf.training['seconds']:.1f} s: {accs}")
    warning = ev.warning()
    if warning:
        warn(warning)
    err.print(f"wrote {out_path}", markup=False, highlight=False)


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("train")(train_cmd)
