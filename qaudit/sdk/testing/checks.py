"""Named conformance checks (scikit-learn's ``parametrize_with_checks`` style).

Every seam's checks are a generator of ``(check_name, check)`` pairs (``model_checks``, ``backend_checks``,
``attack_checks``, ``unlearning_method_checks``, ``reporter_checks``, ``executor_checks``, ``importer_checks``)
where ``check()`` raises ``AssertionError`` naming the broken promise. The checks of one plugin class share
their expensive steps (training, fitting, unlearning), each run at most once: a check whose step failed
reports ``not run: STEP failed (...)`` instead of repeating the work.

:func:`~qaudit.sdk.testing.parametrize.parametrize_with_checks` turns them into one pytest test per check, so
a plugin author sees every failure at once; ``check_attack(...)`` and the other ``check_*`` functions run
every check of one class and raise a single ``AssertionError`` listing all failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, NoReturn, TypeVar

import numpy as np

T = TypeVar("T")
#: One named check: ``(name, check)``; ``check()`` returns nothing or raises ``AssertionError``.
Check = tuple[str, Callable[[], None]]


def fail(message: str) -> NoReturn:
    """Fail the running check with *message* (one line naming the broken promise)."""
    raise AssertionError(message)


def label(cls: Any) -> str:
    """``ClassName ('registered-name')`` (or the bare class name when ``name`` is not a string)."""
    base = getattr(cls, "__name__", repr(cls))
    name = getattr(cls, "name", None)
    return f"{base} ({name!r})" if isinstance(name, str) and name else base


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return first if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {first}"


class Step(Generic[T]):
    """Work several checks of one subject share, run at most once; its value or its exception is kept.

    The check that owns the step calls it (``step()``: its exception propagates as it is); the checks that
    only need its value call :meth:`need`, which turns a failed step into ``not run: NAME failed (...)``.
    """

    def __init__(self, name: str, fn: Callable[[], T]):
        self.name, self._fn = name, fn
        self._done, self._value, self._error = False, None, None

    def _run(self) -> None:
        if not self._done:
            try:
                self._value = self._fn()
            except Exception as exc:  # noqa: BLE001 - kept and reported by every check that needs it
                self._error = exc
            self._done = True

    def __call__(self) -> T:
        self._run()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def need(self) -> T:
        """The step's value, or ``AssertionError("not run: ...")`` when it failed."""
        self._run()
        if self._error is not None:
            raise AssertionError(f"not run: {self.name} failed ({_one_line(self._error)})") from self._error
        return self._value  # type: ignore[return-value]


class Suite:
    """The named checks of one plugin class, in order, and what they computed (:attr:`result`)."""

    def __init__(self, subject: Any):
        self.subject = subject
        self.what = label(subject)
        self.checks: list[Check] = []
        self.result: Callable[[], Any] = lambda: None

    def add(self, name: str, check: Callable[[], None]) -> None:
        """Append the check *name* (names are unique within a suite)."""
        if any(n == name for n, _ in self.checks):
            raise ValueError(f"duplicate check name {name!r}")
        self.checks.append((name, check))

    def named(self) -> Iterator[Check]:
        """``(name, check)`` pairs whose failures carry the subject's label and the check's name."""
        for name, check in self.checks:
            yield name, _labelled(self.what, name, check)

    def run(self) -> Any:
        """Run every check; raise one ``AssertionError`` listing every failure, else return :attr:`result`."""
        failures = []
        for name, check in self.checks:
            try:
                check()
            except Exception as exc:  # noqa: BLE001 - every failure is reported, not only the first
                failures.append(f"- {name}: {_one_line(exc)}")
        if failures:
            raise AssertionError(f"{self.what}: {len(failures)} of {len(self.checks)} conformance checks "
                                 "failed:\n" + "\n".join(failures))
        return self.result()


def _labelled(what: str, name: str, check: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            check()
        except AssertionError as exc:
            raise AssertionError(f"{what} {name}: {exc}") from exc

    run.__name__ = run.__qualname__ = name
    return run


def snapshot(model: Any) -> dict[str, np.ndarray]:
    """Copies of a model's weight arrays (to prove later that nothing modified them)."""
    return {k: np.array(v, copy=True) for k, v in getattr(model, "weights", {}).items()}


def check_class_attributes(cls: Any, attrs: Sequence[str] = ("name", "description")) -> None:
    """The class attributes *attrs* are non-empty strings."""
    for attr in attrs:
        value = getattr(cls, attr, None)
        if not isinstance(value, str) or not value:
            fail(f"class attribute {attr!r} must be a non-empty string")


def assert_probabilities(probs: Any, n: int) -> np.ndarray:
    """*probs* is (n, n_classes), finite, non-negative, rows summing to 1; returned as float64."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != n:
        fail(f"class probabilities must have shape (n_samples, n_classes), got {probs.shape} for {n} samples")
    if not np.all(np.isfinite(probs)) or probs.min() < -1e-12:
        fail("class probabilities are negative or not finite")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-9):
        fail(f"class probabilities: rows must sum to 1 (worst {np.abs(probs.sum(axis=1) - 1).max():.2e} off)")
    return probs
