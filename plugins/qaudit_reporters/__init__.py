"""Built-in report formats: rich (terminal), json, markdown, html, html-fragment, sarif, junit.

Every reporter renders a :class:`qaudit.report.results.Report` -- from ``qaudit leak``
or any other command that builds one -- and computes nothing itself.
"""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_reporters(register):
    from qaudit_reporters.html import HtmlFragmentReporter, HtmlReporter
    from qaudit_reporters.machine import JsonReporter, JUnitReporter, SarifReporter
    from qaudit_reporters.text import MarkdownReporter, RichReporter

    for cls in (RichReporter, JsonReporter, MarkdownReporter, HtmlReporter, HtmlFragmentReporter, SarifReporter,
                JUnitReporter):
        register(cls)
