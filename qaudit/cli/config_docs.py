"""The ``qaudit.toml`` key reference, generated from the commands' own Click parameters (docs/config.md).

Regenerate the reference after changing a command's options with::

    python -m qaudit.cli.config_docs --write
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from qaudit.cli import config
from qaudit.cli.config import command_keys, param_key, value_kind

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"
MARKERS = ("<!-- config-keys:start -->", "<!-- config-keys:end -->")


def root_command() -> tuple[Any, Any]:
    """The ``qaudit`` Click group with every plugin command registered, and a context for it."""
    import typer

    from qaudit.cli import app as cli
    from qaudit.sdk import host as plugins

    saved = list(cli.app.registered_commands)
    try:
        plugins.get_host().commands(cli.app)
        group = typer.main.get_command(cli.app)
    finally:
        cli.app.registered_commands[:] = saved  # the app stays as it was; the group keeps the plugin commands
    return group, group.make_context("qaudit", [], resilient_parsing=True)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(param: Any) -> str:
    default = param.default
    if default is None or default == () or default == []:
        return ""
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, (list, tuple)):
        return "[" + ", ".join(f"`{v}`" for v in default) + "]"
    return f"`{default}`"


def _kind(param: Any) -> str:
    kind = value_kind(param)
    kind = "value" if kind == "other" else kind
    return f"list of {kind}" if getattr(param, "multiple", False) else kind


def reference(group: Any, ctx: Any) -> str:
    """One Markdown table per command: key, flag, type, default, help."""
    parts = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        keys = command_keys(command)
        rows = []
        for param in command.params:
            key = param_key(param)
            if key is None:
                continue
            plural = f" (or `{config.plural(key)}`)" if keys.get(config.plural(key)) is param else ""
            flag = ", ".join(f"`{o}`" for o in param.opts) if param.param_type_name == "option" else \
                f"`{param.name.upper()}` (argument)"
            rows.append(f"| `{key}`{plural} | {flag} | {_kind(param)} | {_default(param)} | "
                        f"{_cell(getattr(param, 'help', '') or '')} |")
        if rows:
            parts.append(f"### `[{name}]`\n\n| key | flag | type | default | meaning |\n|---|---|---|---|---|\n"
                         + "\n".join(rows) + "\n")
    return "\n".join(parts)


def current(text: str) -> str:
    """The generated block of docs/config.md."""
    start, end = MARKERS
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def main(argv: list[str]) -> int:
    group, ctx = root_command()
    text = DOC.read_text(encoding="utf-8")
    fresh = reference(group, ctx).strip("\n")
    if "--write" in argv:
        start, end = MARKERS
        head, rest = text.split(start, 1)
        DOC.write_text(f"{head}{start}\n{fresh}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")
        return 0
    return 0 if current(text) == fresh else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
