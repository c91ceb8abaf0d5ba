"""``qaudit evaluate``: accuracy on members and holdout, through the query path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from qaudit.cli.commands.common import AllowDataChange, DataDirOpt, emit, out, render_text, warn


def evaluate_cmd(
    model_path: Annotated[Path, typer.Argument(help="Model file.")],
    data_dir: DataDirOpt = None,
    backend: Annotated[str | None, typer.Option(
        help="Execution backend (see `qaudit backends`; default: exact, or the shot backend with --shots).")] = None,
    shots: Annotated[int | None, typer.Option(help="Measurement shots (0 or omitted = exact).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for shot sampling.")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here (atomic).")] = None,
    allow_data_change: AllowDataChange = False,
) -> None:
    """Accuracy of a model on its members and holdout, overall and per class."""
    from qaudit import api
    from qaudit.report.destinations import check_outputs

    check_outputs({"--output": output}, {"model file": model_path})
    ev = api.evaluate(model_path, backend=backend, shots=shots, seed=seed, data_dir=data_dir,
                      allow_data_change=allow_data_change)
    if ev.data_change:
        warn(f"the data changed since training (fingerprint {ev.data_change['recorded'][:12]} recorded, "
             f"{ev.data_change['found'][:12]} found); evaluated anyway (--allow-data-change)")
    if ev.warning():
        warn(ev.warning())
    if as_json:
        emit(json.dumps(ev.to_json(), indent=1), output)
        return
    from rich.markup import escape
    from rich.table import Table

    noise = f"{ev.shots} shots" if ev.shots else "no shot noise"
    changed = ", DATA CHANGED since training" if ev.data_change else ""
    table = Table(title=f"{model_path} ({ev.kind}, backend {ev.backend}, {noise}{changed})")
    table.add_column("class")
    for name in ev.splits:
        table.add_column(f"{name} acc")
    classes = sorted({c for s in ev.splits.values() for c in s["per_class"]}, key=int)
    names = ev.label_names or []
    for c in classes:
        label = f"{c} ({escape(names[int(c)])})" if int(c) < len(names) else c
        table.add_row(label, *[f"{s['per_class'][c]['accuracy']:.3f}" if c in s["per_class"] else "-"
                           for s in ev.splits.values()])
    table.add_row("[bold]all", *[f"[bold]{s['accuracy']:.3f}" for s in ev.splits.values()])
    if output:
        emit(render_text(table), output)
    else:
        out.print(table)


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("evaluate")(evaluate_cmd)
