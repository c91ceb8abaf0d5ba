"""Human-readable reporters: ``rich`` (terminal, the default) and ``markdown`` (PR comments).

Piped or written to a file, a rich table never breaks a word inside a cell: each column is at least as wide
as its longest word, and a table that then does not fit the 120/140 columns is printed wider (a terminal
keeps its width and folds). A LEAKS verdict is styled like a failure."""

from __future__ import annotations

from typing import Any, ClassVar, TextIO

from qaudit.sdk import Report, fmt

_STYLE = {"pass": "bold green", "fail": "bold red", "info": "bold"}


def _longest_word(texts: list[str]) -> int:
    return max((len(word) for text in texts for word in text.split()), default=1)


def _style(report: Report) -> str:
    leaks = isinstance(report.summary, dict) and bool(report.summary.get("leaks"))
    return _STYLE["fail"] if leaks else _STYLE.get(report.status, "bold")


def _piped_width(console: Any, table: Any) -> int:
    """The console's width, or -- when the table cannot fit it without breaking words -- the table's
    natural width (one line per row)."""
    from rich.measure import Measurement

    need = Measurement.get(console, console.options.update_width(100_000), table)
    return console.width if need.minimum <= console.width else need.maximum


def _summary_lines(report: Report) -> list[tuple[str, str]]:
    lines = []
    for key, value in report.summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
        lines.append((key.replace("_", " "), fmt(value)))
    return lines


class RichReporter:
    """Terminal report: verdict line, summary, every table, findings."""

    name: ClassVar[str] = "rich"
    roles: ClassVar[frozenset[str]] = frozenset({"console"})
    suffix: ClassVar[str] = ".txt"
    description: ClassVar[str] = "terminal tables (default)"

    def render(self, result: Report, stream: TextIO | None) -> None:
        """Print to *stream* (plain text, 120 columns) or to the terminal when *stream* is None."""
        import sys

        from rich.console import Console
        from rich.table import Table

        if stream is not None:
            console = Console(file=stream, width=120, force_terminal=False, no_color=True)
        else:
            console = Console(width=None if sys.stdout.isatty() else 140)
        piped = stream is not None or not console.is_terminal
        console.print(f"[{_style(result)}]{result.verdict}[/]", highlight=False, soft_wrap=True)
        console.print(f"[dim]{result.title}[/]", highlight=False)
        info = "  ".join(f"{k}: {v}" for k, v in _summary_lines(result))
        console.print(info, highlight=False, soft_wrap=True)
        for table in result.tables:
            t = Table(title=table.title, caption=table.note or None, caption_justify="left")
            cells = [[fmt(c) for c in row] for row in table.rows]
            for i, col in enumerate(table.columns):
                words = _longest_word([col, *(row[i] for row in cells if i < len(row))]) if piped else None
                t.add_column(col, overflow="fold", min_width=words)
            for row in cells:
                t.add_row(*row)
            width = console.width
            if piped:  # Console.print(width=) cannot exceed the console's own width
                console.width = _piped_width(console, t)
            console.print(t, crop=False)
            console.width = width
        for f in result.findings:
            mark = "[green]ok[/]  " if f.passed else "[red]FAIL[/]"
            console.print(f"{mark} {f.message}", highlight=False)


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured pipe table."""
    out = ["| " + " | ".join(_md_escape(c) for c in columns) + " |",
           "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(_md_escape(fmt(c)) for c in row) + " |" for row in rows]
    return "\n".join(out)


class MarkdownReporter:
    """Markdown for pull-request comments."""

    name: ClassVar[str] = "markdown"
    suffix: ClassVar[str] = ".md"
    description: ClassVar[str] = "Markdown (pull-request comments)"

    def render(self, result: Report, stream: TextIO) -> None:
        """Write the report as Markdown."""
        icon = {"pass": "✅", "fail": "❌"}.get(result.status, "ℹ️")
        parts = [f"## {_md_escape(result.title)}", "", f"{icon} **{_md_escape(result.verdict)}**", ""]
        parts += [f"- **{k}**: {_md_escape(v)}" for k, v in _summary_lines(result)]
        for table in result.tables:
            parts += ["", f"### {_md_escape(table.title)}", "", markdown_table(table.columns, table.rows)]
            if table.note:
                parts += ["", f"_{_md_escape(table.note)}_"]
        if result.findings:
            parts += ["", "### Gated checks", "", markdown_table(
                ["check", "subject", "value", "limit", "result"],
                [[f.rule_id, f.subject, f.value, f.threshold, "pass" if f.passed else "FAIL"]
                 for f in result.findings])]
        if result.seeds:
            parts += ["", "<sub>seeds: " + ", ".join(f"{k}={v}" for k, v in result.seeds.items()) + "</sub>"]
        stream.write("\n".join(parts) + "\n")
