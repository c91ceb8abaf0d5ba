"""One renderer for every command that reports: a reporter plugin, to the terminal or a file."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any


def console_format() -> str:
    """The reporter a plugin declares for terminals (role ``console``)."""
    from qaudit.plugins import get_host

    return get_host().role("reporter", "console")


def check_format(fmt: str | None) -> str:
    """The reporter name for *fmt* (None: the console reporter); unknown names fail before any work."""
    from qaudit.plugins import get_host

    name = fmt or console_format()
    get_host().get("reporter", name)
    return name


def emit(text: str, output: Path | None) -> None:
    """Text to stdout, or atomically to *output* (a note on stderr)."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from rich.console import Console

    from qaudit.io import write_text_atomic

    write_text_atomic(output, text)
    Console(stderr=True).print(f"wrote {output}", highlight=False, markup=False)


def render_report(report: Any, fmt: str | None, output: Path | None) -> None:
    """Render *report* with reporter *fmt* (default: the console reporter) to stdout or *output*.

    The console reporter draws on the terminal itself (stream None) when no *output* is given.
    """
    from qaudit.plugins import get_host

    name = check_format(fmt)
    reporter = get_host().get("reporter", name)()
    if output is None and name == console_format():
        reporter.render(report, None)
        return
    buffer = io.StringIO()
    reporter.render(report, buffer)
    emit(buffer.getvalue(), output)


def is_console(fmt: str | None, output: Path | None) -> bool:
    """True when the report goes to the terminal through the console reporter."""
    return output is None and (fmt is None or fmt == console_format())
