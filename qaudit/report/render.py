"""One renderer for every command that reports: a reporter plugin, to the terminal or a file."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from qaudit.sdk.errors import QauditError


def console_format() -> str:
    """The reporter a plugin declares for terminals (role ``console``)."""
    from qaudit.sdk.host import get_host

    return get_host().role("reporter", "console")


def check_format(fmt: str | None) -> str:
    """The reporter name for *fmt* (None: the console reporter); unknown names fail before any work."""
    from qaudit.sdk.host import get_host

    if fmt is not None and not fmt.strip():
        raise QauditError("--format is empty: name a format (see `qaudit reporters`) or leave it out for the "
                          "terminal report")
    name = fmt or console_format()
    get_host().get("reporter", name)
    return name


def emit(text: str, output: Path | None) -> None:
    """Text to stdout, or atomically to *output* (a note on stderr)."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from rich.console import Console

    from qaudit.files.io import write_text_atomic

    write_text_atomic(output, text)
    Console(stderr=True).print(f"wrote {output}", highlight=False, markup=False)


def render_all(report: Any, targets: list[tuple[str | None, Path | None]]) -> None:
    """Render *report* for every ``(format, path)`` target, then write them: every file report is
    rendered in memory first, so a reporter that fails writes nothing and removes nothing (one
    ``error:`` line); ``path`` None means stdout (the console reporter draws on the terminal)."""
    from qaudit.files.io import write_text_atomic
    from qaudit.sdk.host import get_host

    rendered: list[tuple[Path, str]] = []
    terminal: list[tuple[str, Any]] = []
    for fmt, path in targets:
        name = check_format(fmt)
        reporter = get_host().get("reporter", name)()
        if path is None and name == console_format():
            terminal.append((name, reporter))
            continue
        buffer = io.StringIO()
        try:
            reporter.render(report, buffer)
        except Exception as exc:  # a reporter plugin failed: nothing is written
            plugin = get_host().registry("reporter")[name].plugin
            raise QauditError(f"plugin {plugin!r} failed in reporter {name!r} ({type(reporter).__name__}.render): "
                              f"{type(exc).__name__}: {exc}; no report was written") from exc
        if path is None:
            terminal.append((name, buffer.getvalue()))
        else:
            rendered.append((path, buffer.getvalue()))
    for path, text in rendered:
        write_text_atomic(path, text)
    for _name, item in terminal:
        if isinstance(item, str):
            emit(item, None)
        else:
            item.render(report, None)
    if rendered:
        from rich.console import Console

        Console(stderr=True).print("wrote " + ", ".join(str(p) for p, _ in rendered), highlight=False, markup=False)


def is_console(fmt: str | None, output: Path | None) -> bool:
    """True when the report goes to the terminal through the console reporter."""
    return output is None and (fmt is None or fmt == console_format())


def record_data_change(report: Any, dataset: Any) -> None:
    """Put a ``--allow-data-change`` override in the report (settings, summary) and warn on stderr."""
    change = getattr(dataset, "data_change", None)
    if not change:
        return
    report.settings["data_change"] = change
    report.summary["data_changed_since_training"] = True
    from rich.console import Console

    Console(stderr=True).print(f"warning: the data changed since training (fingerprint "
                               f"{change.get('recorded', '?')!s:.12} -> {change.get('found', '?')!s:.12}); audited "
                               "anyway (--allow-data-change)", markup=False)
