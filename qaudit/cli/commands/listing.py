"""``qaudit plugins``, ``datasets``, ``models``, ``attacks``, ``reporters``, ``executors``: what is installed."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from qaudit.cli.commands.common import err, out


def plugins_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List installed plugins, their versions, what they register and load failures."""
    from rich.markup import escape

    from qaudit import api

    doc = api.plugins()
    if as_json:
        print(json.dumps(doc, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"qaudit plugins (plugin API {doc['api_version']})")
    for col in ("plugin", "version", "distribution", "registers", "status"):
        table.add_column(col)
    for row in doc["plugins"]:
        regs = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(row["registers"].items()))
        status = {"ok": "[green]ok[/]", "disabled": "[dim]disabled[/]"}.get(row["status"], "[red]failed[/]")
        table.add_row(row["name"], row["version"], row["distribution"], escape(regs), status)
    out.print(table)
    for row in doc["plugins"]:
        if row["status"] == "failed":
            out.print(f"[red]failed[/] [bold]{escape(row['name'])}[/]: {escape(row['error'] or '')}", soft_wrap=True)
    for warning in doc["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(warning)}")


def datasets_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered datasets."""
    list_kind("dataset", "datasets", as_json)


def models_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered model kinds."""
    list_kind("model", "model kinds", as_json)


def attacks_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered membership-inference attacks."""
    list_kind("attack", "membership-inference attacks", as_json)


def reporters_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered report formats."""
    list_kind("reporter", "report formats", as_json)


def executors_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered executors (--executor) and their roles."""
    list_kind("executor", "executors", as_json)


def list_kind(kind: str, title: str, as_json: bool) -> None:
    """Print the registered things of one kind (:func:`qaudit.api.registered`) as a table, or as JSON."""
    from qaudit import api

    document = api.registered(kind)
    rows = document["items"]
    if as_json:
        print(json.dumps(document, indent=1))
        return
    from rich.table import Table

    table = Table(title=title)
    for col in rows[0].keys() if rows else ("name",):
        table.add_column(col)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    out.print(table)


def register_commands(app: typer.Typer) -> None:
    """Add this module's commands (the same hook signature a plugin's ``register_commands`` has)."""
    app.command("plugins")(plugins_cmd)
    app.command("datasets")(datasets_cmd)
    app.command("models")(models_cmd)
    app.command("attacks")(attacks_cmd)
    app.command("reporters")(reporters_cmd)
    app.command("executors")(executors_cmd)
