"""The ``qaudit`` command line: the Typer app, its built-in commands (``qaudit/commands/``, added with
the same ``register_commands(app)`` signature plugins use), plugin commands and the error boundary."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qaudit import __version__
from qaudit.commands.common import err
from qaudit.errors import QauditError

app = typer.Typer(
    name="qaudit",
    help="Audit quantum neural networks for membership-privacy leakage and make them forget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
DisableOpt = Annotated[
    list[str] | None,
    typer.Option("--disable-plugin", "-p", help="Do not load this plugin (repeatable; also $QAUDIT_DISABLE_PLUGINS)."),
]


def _version(value: bool) -> None:
    if value:
        print(f"qaudit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    disable_plugin: DisableOpt = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """qaudit: does my QNN leak who was in its training set, and can I make it forget?"""
    # --disable-plugin is applied before parsing, in main(), so plugin commands honour it.


def _register_builtin_commands() -> None:
    import importlib

    from qaudit.commands import MODULES

    for name in MODULES:
        importlib.import_module(f"qaudit.commands.{name}").register_commands(app)


_register_builtin_commands()


def main() -> None:
    """Console entry point: one-line errors with exit code 2, never a traceback."""
    try:
        _register_plugin_commands()
        app(standalone_mode=True)
    except QauditError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        sys.exit(130)


def _register_plugin_commands() -> None:
    """Plugins add subcommands before parsing (honours --disable-plugin / env)."""
    from qaudit import plugins

    plugins.configure(disabled=plugins.disabled_from_argv(sys.argv[1:])).commands(app)


if __name__ == "__main__":
    main()
