"""``qaudit backends``: list execution backends and their capabilities (wiring only)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from qaudit.cli.commands.common import emit, out

SCHEMA = "qaudit.backends/1"


def backend_rows() -> list[dict[str, Any]]:
    """One row per registered backend: name, plugin, description, capabilities, argument syntax."""
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


def describe_backend(name: str, model_path: Path | None) -> dict[str, Any]:
    """Instantiate *name* and ask it to describe itself (compiled depth etc. for a model)."""
    from qaudit.run.backend_choice import resolve_backend

    model = task = None
    if model_path is not None:
        from qaudit.files import model_file as model_io
        from qaudit.train.workflows import dataset_for

        mf = model_io.load(model_path)
        model = mf.model
        dataset = dataset_for(mf)
        task = model.task(dataset.X[mf.data.members[:1]])  # one real training input
    backend, _ = resolve_backend(name, None if _cls(name).capabilities.exact else 1, model)
    info: dict[str, Any] = {"backend": name}
    describe = getattr(backend, "describe", None)  # optional Backend member
    if callable(describe):
        info.update(describe(task) if task is not None else describe())
    return info


def _cls(name: str) -> Any:
    from qaudit.sdk.host import get_host

    return get_host().get("backend", name)


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
    rows = backend_rows()
    document: dict[str, Any] = {"schema": SCHEMA, "backends": rows}
    from qaudit.report.destinations import check_outputs

    check_outputs({"--output": output}, {"--model file": model})
    if describe:
        document["described"] = describe_backend(describe, model)
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
