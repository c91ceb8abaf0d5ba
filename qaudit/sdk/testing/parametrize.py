"""Named checks of any plugin class, and the pytest helper that makes one test per check."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from qaudit.sdk.testing import (
    checks_attacks,
    checks_backends,
    checks_executors,
    checks_importers,
    checks_models,
    checks_reporters,
    checks_unlearning,
)
from qaudit.sdk.testing.checks import Check, Suite, label


def suite_for(subject: Any, **kwargs: Any) -> Suite:
    """The check suite of a plugin class, chosen by the protocol it follows (or ``kind=`` in *kwargs*:
    ``"model"``, ``"backend"``, ``"attack"``, ``"unlearning"``, ``"reporter"``, ``"executor"``, ``"importer"``);
    *kwargs* go to that seam's checks (e.g. ``options=``, ``shots=``, ``reference=``; an importer needs
    ``source=``, ``X=``, ``n_classes=``)."""
    builders = {"model": checks_models.model_suite, "backend": checks_backends.backend_suite,
                "attack": checks_attacks.attack_suite, "unlearning": checks_unlearning.unlearning_suite,
                "reporter": checks_reporters.reporter_suite, "executor": checks_executors.executor_suite,
                "importer": checks_importers.importer_suite}
    kind = kwargs.pop("kind", None) or kind_of(subject)
    if kind not in builders:
        raise ValueError(f"unknown kind {kind!r} (one of {', '.join(builders)})")
    return builders[kind](subject, **kwargs)


def kind_of(cls: Any) -> str:
    """Which seam's protocol *cls* follows, by the members it defines."""
    def has(*names: str) -> bool:
        return all(callable(getattr(cls, n, None)) for n in names)

    if hasattr(cls, "extra") and has("load"):
        return "importer"
    if hasattr(cls, "needs") and has("unlearn"):
        return "unlearning"
    if has("render"):
        return "reporter"
    if has("open", "map", "share"):
        return "executor"
    if has("expectation"):
        return "backend"
    if has("fit", "score"):
        return "attack"
    if has("from_options", "fit"):
        return "model"
    raise TypeError(f"{label(cls)} follows none of the protocols the checks cover "
                    "(Model, Backend, Attack, UnlearningMethod, Reporter, Executor, Importer); pass kind=")


def plugin_checks(subject: Any, **kwargs: Any) -> Iterator[Check]:
    """The named checks of any plugin class (:func:`suite_for` picks the seam)."""
    return suite_for(subject, **kwargs).named()


def parametrize_with_checks(objects: Iterable[Any]) -> Any:
    """A ``pytest.mark.parametrize`` over every named check of every plugin class in *objects*.

    Each object is a class, or ``(cls, {keyword arguments of its seam's checks})``. The test ids are
    ``ClassName-check_name``, so every failure is reported on its own::

        from qaudit.sdk.testing import parametrize_with_checks

        @parametrize_with_checks([MyAttack, (MyBackend, {"shots": 2000})])
        def test_conformance(check):
            check()

    Collecting the tests builds no model: the shared steps run when the first check needing them runs.
    """
    import pytest

    params = []
    for obj in objects:
        cls, kwargs = obj if isinstance(obj, tuple) else (obj, {})
        suite = suite_for(cls, **dict(kwargs))
        base = getattr(cls, "__name__", "plugin")
        params += [pytest.param(check, id=f"{base}-{name}") for name, check in suite.named()]
    return pytest.mark.parametrize("check", params)

