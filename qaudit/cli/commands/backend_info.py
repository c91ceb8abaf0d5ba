"""``qaudit backends``: list execution backends and their capabilities (wiring only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from qaudit.cli.commands.common import emit, out


def _yes(value: bool) -> str:
    return "[green]yes[/]" if value else "-"


def backends_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (qaudit.backends/1).")] = False,
    describe: Annotated[str | None, typer.Option(
        help="Instantiate this backend (e.g. google:rainbow) and describe it.")] = None,
    model: Annotated[Path | None, typer.Option(
        help="With --describe: compile this model file and report depth / two-qubit gates.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the listing here (atomic).")] = None,
) -> None:
    """List execution backends and their capabilities (exact, shots, noise, hardware, max qubits)."""
    from qaudit import api
    from qaudit.report.destinations import check_outputs

    check_outputs({"--output": output}, {"--model file": model})
    document = api.backends(describe, model)
    rows = document["backends"]
    if as_json:
        emit(json.dumps(document, indent=1), output)
        return
    from rich.table import Table

    table = Table(title="backends (--backend NAME[:ARG], --shots N; 0/omitted = exact)")
    table.add_column("name", no_wrap=True)
    for col in ("exact", "shots", "noise", "hw", "max q"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", ratio=1)
    for row in rows:
        caps = row["capabilities"] or {}
        name = row["name"] + (":ARG" if row["takes_argument"] else "")
        table.add_row(name, _yes(caps.get("exact", False)), _yes(caps.get("shots", False)),
                      _yes(caps.get("noise", False)), _yes(caps.get("hardware", False)),
                      str(caps.get("max_qubits") or "-"), row["description"])
    if output:
        from qaudit.cli.commands.common import render_text

        text = render_text(table)
        if describe:
            text += "\n" + json.dumps(document["described"], indent=1) + "\n"
        emit(text, output)
        return
    out.print(table)
    if describe:
        for key, value in document["described"].items():
            out.print(f"  {key}: {value}", markup=False, highlight=False)


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("backends")(backends_cmd)
