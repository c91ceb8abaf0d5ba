"""Conformance checks of a report format (:class:`qaudit.sdk.protocols.Reporter`)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from qaudit.sdk.testing.checks import Check, Step, Suite, check_class_attributes, fail
from qaudit.sdk.testing.sample_data import sample_report


def reporter_suite(reporter_cls: Any, result: Any = None) -> Suite:
    """The checks of :func:`reporter_checks` with their shared steps; ``result()`` is the rendered text."""
    suite = Suite(reporter_cls)

    def render_twice() -> list[str]:
        report = sample_report() if result is None else result
        texts = []
        for _ in range(2):
            stream = io.StringIO()
            reporter_cls().render(report, stream)
            texts.append(stream.getvalue())
        return texts

    rendered = Step("render", render_twice)
    suite.add("class_attributes", lambda: check_class_attributes(reporter_cls, ("name", "suffix")))
    suite.add("suffix_starts_with_a_dot", lambda: _suffix(reporter_cls))
    suite.add("writes_text", lambda: _writes(rendered()))
    suite.add("renders_identically_twice", lambda: _same(rendered.need()))
    if getattr(reporter_cls, "suffix", None) == ".json":
        suite.add("valid_json", lambda: _json(rendered.need()))
    suite.result = lambda: rendered.need()[0]
    return suite


def reporter_checks(reporter_cls: Any, result: Any = None) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.Reporter` class (arguments as :func:`check_reporter`):
    ``class_attributes``, ``suffix_starts_with_a_dot``, ``writes_text``, ``renders_identically_twice`` and,
    for a ``.json`` suffix, ``valid_json``."""
    return reporter_suite(reporter_cls, result).named()


def check_reporter(reporter_cls: Any, result: Any = None) -> str:
    """Check a :class:`qaudit.sdk.protocols.Reporter` class renders *result* to a stream.

    *result* defaults to :func:`sample_report`. The output must be non-empty
    text, identical when rendered twice (reporters compute nothing), and valid
    JSON when the reporter's ``suffix`` is ``.json``. Every check runs (:func:`reporter_checks` names
    them); one ``AssertionError`` lists every failure. Returns the text.
    """
    return reporter_suite(reporter_cls, result).run()


def _suffix(reporter_cls: Any) -> None:
    suffix = getattr(reporter_cls, "suffix", None)
    if not isinstance(suffix, str) or not suffix.startswith("."):
        fail(f"suffix must start with '.', got {suffix!r}")


def _writes(texts: list[str]) -> None:
    if not texts[0].strip():
        fail("render wrote nothing")


def _same(texts: list[str]) -> None:
    if texts[0] != texts[1]:
        fail("rendering the same result twice gave different output")


def _json(texts: list[str]) -> None:
    try:
        json.loads(texts[0])
    except ValueError as exc:
        fail(f"output is not valid JSON ({exc})")
