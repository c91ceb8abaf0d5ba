"""The ``qaudit`` command line: the Typer app, its built-in commands (``qaudit/cli/commands/``, added with
the same ``register_commands(app)`` signature plugins use), plugin commands and the error boundary."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qaudit import __version__

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
    ctx: typer.Context,
    disable_plugin: DisableOpt = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Print the full traceback of unexpected errors "
                                        "(also $QAUDIT_DEBUG=1).")] = False,
) -> None:
    """qaudit: does my QNN leak who was in its training set, and can I make it forget?

    Every option can also be set in qaudit.toml (or [tool.qaudit] in pyproject.toml): shared keys at the top,
    one table per command (docs/config.md); flags override it.
    """
    # --disable-plugin is applied before parsing, in main(), so plugin commands honour it.
    _apply_config(ctx)


def _apply_config(ctx: typer.Context) -> None:
    """The project config becomes Click's default map before the subcommand parses (:mod:`qaudit.cli.config`), so
    each value is a default of the command's own parameter, converted by its type, and a flag overrides it.
    With ``--help`` on the command line a broken config is not an error (the help shows how to fix it; Click has
    consumed the arguments by now, so ``sys.argv`` tells)."""
    from qaudit.cli.config import default_map
    from qaudit.sdk.errors import QauditError

    try:
        defaults = default_map(ctx.command, ctx)
    except QauditError:
        if "--help" in sys.argv[1:]:
            return
        raise
    if defaults:
        ctx.default_map = defaults


def _register_builtin_commands() -> None:
    import importlib

    from qaudit.cli.commands import MODULES

    for name in MODULES:
        importlib.import_module(f"qaudit.cli.commands.{name}").register_commands(app)


_register_builtin_commands()


def main() -> None:
    """Console entry point: one-line errors and documented exit codes (see :mod:`qaudit.cli.boundary`)."""
    sys.exit(run(sys.argv[1:], console=True))


def run(argv: list[str], *, console: bool = False) -> int:
    """Run ``qaudit ARGV`` behind the error boundary; returns the exit code. In-process (*console* False) a SIGTERM
    received during the command is handed back to the caller's handler afterwards (``timeout`` stops a test
    session); the console entry point exits 143 instead."""
    from qaudit.cli import boundary
    from qaudit.sdk.host import get_host

    debug = boundary.debug_requested(argv)
    argv = [a for a in argv if a != "--debug"]

    def go() -> object:
        _register_plugin_commands(argv)
        return app(argv, prog_name="qaudit", standalone_mode=False)

    with boundary.signal_handlers(hand_back=not console):
        code, _ = boundary.guarded(go, _print_line, get_host, debug)
    return code


def _print_line(line: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _register_plugin_commands(argv: list[str]) -> None:
    """Plugins add subcommands before parsing (honours --disable-plugin / env)."""
    from qaudit.sdk import host as plugins

    plugins.configure(disabled=plugins.disabled_from_argv(argv)).commands(app)


if __name__ == "__main__":
    main()
