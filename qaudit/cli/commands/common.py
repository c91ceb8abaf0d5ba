"""What every command module shares: the consoles, option parsing, the command line, output."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from qaudit.report.render import emit, record_data_change  # noqa: F401 - commands use them from here
from qaudit.sdk.errors import QauditError

#: ``--allow-data-change``: audit data whose fingerprint differs from the one the model file recorded.
AllowDataChange = Annotated[bool, typer.Option(
    "--allow-data-change", help="Use the data even if its fingerprint differs from the model file's (recorded "
    "in the report).")]

#: ``--data-dir``: the folder of a dataset's files (metavar DIR: a config value is relative to the config file).
DataDirOpt = Annotated[str | None, typer.Option("--data-dir", metavar="DIR", help="Folder with MNIST IDX files.")]


def _check_executor_early(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """Callback of ``--executor`` and ``--scheduler``: once both are read (in either order; their config keys and
    ``$QAUDIT_SCHEDULER`` arrive through the options), check the executor's settings -- a scheduler address is
    parsed, nothing imported or connected -- before the command body imports its modules or loads a model, so a
    malformed address is one line at once."""
    other = "scheduler" if param.name == "executor" else "executor"
    if not ctx.resilient_parsing and other in ctx.params:
        from qaudit.run import parallel

        chosen = {param.name: value, other: ctx.params[other]}
        parallel.check_executor(chosen["executor"], (chosen["scheduler"] or "").strip() or None)
    return value


#: ``--executor``: where batches of independent jobs run (see `qaudit executors`).
ExecutorOpt = Annotated[str | None, typer.Option(
    "--executor", help="Where independent jobs (reference models, shards, repeats) run: see `qaudit executors` "
    "(default: worker processes on this machine; with --scheduler: the Dask cluster).",
    callback=_check_executor_early)]
#: ``--scheduler``: a Dask scheduler's address (the flag, else ``$QAUDIT_SCHEDULER``, else the config's key).
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", envvar="QAUDIT_SCHEDULER", show_envvar=False, help="Dask scheduler address, e.g. "
    "tcp://host:8786 (or $QAUDIT_SCHEDULER / 'scheduler' in qaudit.toml); workers need qaudit, its plugins and "
    "--data-dir.", callback=_check_executor_early)]
#: ``-o/--output`` on a command that writes a model file but no report (``train``, ``import``): ``-o`` is the
#: report in every command, so the old ``-o MODEL`` spelling is refused (:func:`refuse_output`), never written.
NoReportOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", hidden=True, help="Refused: this command writes no report (the model file is --out).")]


def refuse_output(output: Path | None, command: str) -> None:
    """One-line error for ``-o/--output`` on a command without a report (it used to name the model file)."""
    if output is not None:
        raise QauditError(f"qaudit {command} writes no report, and -o/--output names a report in every command: "
                          f"write the model file with --out {output}")


@contextmanager
def command_executor(executor: str | None, scheduler: str | None, workers: int | None = None) -> Iterator[Any]:
    """The executor ``--executor``/``--scheduler`` name (their config keys and ``$QAUDIT_SCHEDULER`` arrive through
    the options), with *workers* (``--jobs``; None: the executor's default); closed when the command ends. None
    when nothing names one: the ``qaudit.api`` function then runs its jobs as it documents (``leak``:
    ``settings.n_jobs`` local workers; the others in this process), so the CLI and the API agree."""
    from qaudit.run import parallel

    address = (scheduler or "").strip() or None
    if executor is None and address is None:
        yield None
        return
    opened = parallel.open_executor(executor, address, workers)
    try:
        yield opened
    finally:
        opened.close()


#: Progress, logs and errors (stderr); reports go to stdout or --output.
err = Console(stderr=True)
out = Console()


def finish_report(report: Any, targets: list[tuple[str | None, Any]], exit_zero: bool = False) -> None:
    """The end of every reporting command: record the command line (unless recorded), render *report* to every
    ``(format, path)`` target, print the verdict on stderr when the report did not go to the terminal,
    and exit 1 when the report has findings (unless *exit_zero*: ``--exit-zero`` reports them and exits 0)."""
    from qaudit.report.render import is_console, render_all

    report.settings.setdefault("command", command_line())  # the qaudit.api functions record it themselves
    render_all(report, targets)
    fmt, output = targets[0]
    if not is_console(fmt, output):
        err.print(report.verdict, highlight=False, soft_wrap=True, markup=False)
    if report.failed and not exit_zero:
        raise typer.Exit(1)


def command_line() -> str:
    return "qaudit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values parsed as JSON when they parse, else kept as strings."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise QauditError(f"--option expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        options[key.strip().replace("-", "_")] = _option_value(key.strip(), value)
    return options


def _option_value(key: str, text: str) -> Any:
    """A ``KEY=VALUE`` value: JSON when it parses, else the string; integers beyond 64 bits refused (no option
    takes one, and Python cannot even print one of more than 4300 digits)."""
    from qaudit.sdk.limits import shown

    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    except ValueError:  # an integer literal beyond Python's 4300-digit conversion limit
        raise QauditError(f"option {key}: a number of {len(text.strip())} characters is out of range "
                          "(integers must fit in 64 bits)") from None
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool) and not -(2**63) <= item < 2**64:
            raise QauditError(f"option {key}: {shown(item)} is out of range (integers must fit in 64 bits)")
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
    return value


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr (never wrapped)."""
    from rich.markup import escape

    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)




def render_text(renderable: Any, width: int = 100) -> str:
    """Render a Rich object to plain text (for ``--output`` files)."""
    import io

    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(renderable)
    return console.export_text()
