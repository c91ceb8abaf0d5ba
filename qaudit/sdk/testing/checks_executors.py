"""Conformance checks of a job executor (:class:`qaudit.sdk.protocols.Executor`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from qaudit.sdk.testing.checks import Check, Step, Suite, check_class_attributes, fail

ROLES = frozenset({"default", "inline", "scheduler"})
DESCRIBE_KEYS = ("name", "workers", "jobs", "shipped_bytes")
N_JOBS = 6


def _draw(seed: int) -> int:
    """A job whose result depends only on its argument (run in the executor's workers)."""
    return int(np.random.default_rng(seed).integers(1 << 30))


def _shared_sum(values: np.ndarray, k: int) -> float:
    """A job reading a shared array (the executor hands the job the value, not the handle)."""
    return float(np.asarray(values).sum()) + k


def _refuse(k: int) -> int:
    """A job that raises on k == 1."""
    if k == 1:
        raise ValueError("conformance check: this job fails on purpose")
    return k


def executor_suite(executor_cls: Any, settings: Any = None) -> Suite:
    """The checks of :func:`executor_checks` with their shared steps; ``result()`` is the executor's
    ``describe()`` after the checks ran."""
    from qaudit.sdk.protocols import ExecutorSettings

    suite = Suite(executor_cls)
    opened = Step("open", lambda: _open(executor_cls, settings or ExecutorSettings(workers=2)))
    described: dict[str, Any] = {}
    suite.add("class_attributes", lambda: check_class_attributes(executor_cls))
    suite.add("roles_are_known", lambda: _roles(executor_cls))
    suite.add("opens", opened)
    suite.add("results_in_job_order", lambda: _order(opened.need()))
    suite.add("shared_values_reach_jobs", lambda: _shared(opened.need()))
    suite.add("failing_job_is_named", lambda: _failing(opened.need()))
    suite.add("describe_is_json", lambda: described.update(_describe(executor_cls, opened.need())))
    suite.add("close_is_idempotent", lambda: _close(opened.need()))
    suite.result = lambda: described
    return suite


def executor_checks(executor_cls: Any, settings: Any = None) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.Executor` class (arguments as :func:`check_executor`):
    ``class_attributes``, ``roles_are_known``, ``opens``, ``results_in_job_order``,
    ``shared_values_reach_jobs``, ``failing_job_is_named``, ``describe_is_json`` and ``close_is_idempotent``
    (the last one closes the executor the others share)."""
    return executor_suite(executor_cls, settings).named()


def check_executor(executor_cls: Any, settings: Any = None) -> dict[str, Any]:
    """Check a :class:`qaudit.sdk.protocols.Executor` class: ``open(settings)`` (default: 2 workers) returns a
    ready executor; ``map`` returns every job's result in job order and calls ``on_done`` once per job;
    ``share`` hands jobs the value itself; a raising job stops the batch with
    :class:`qaudit.sdk.errors.JobFailed` naming its origin and seed; ``describe()`` is JSON with ``name``,
    ``workers``, ``jobs``, ``shipped_bytes``; ``close()`` may be called twice. Every check runs
    (:func:`executor_checks` names them); one ``AssertionError`` lists every failure. Returns ``describe()``.
    """
    return executor_suite(executor_cls, settings).run()


# --------------------------------------------------------------------------- checks
def _open(executor_cls: Any, settings: Any) -> Any:
    executor = executor_cls.open(settings)
    missing = [m for m in ("share", "map", "describe", "close") if not callable(getattr(executor, m, None))]
    if missing:
        fail(f"open(settings) must return a ready executor; it lacks {', '.join(missing)}")
    return executor


def _roles(executor_cls: Any) -> None:
    roles = getattr(executor_cls, "roles", frozenset())
    if not isinstance(roles, (set, frozenset)) or not set(roles) <= ROLES:
        fail(f"roles must be a subset of {sorted(ROLES)}, got {roles!r}")


def _order(executor: Any) -> None:
    from qaudit.run.parallel import job_seeds
    from qaudit.sdk.protocols import Job

    jobs = [Job((int(s),), seed=int(s), origin=f"conformance job {k}") for k, s in enumerate(job_seeds(0, N_JOBS))]
    done: list[int] = []
    got = executor.map(_draw, jobs, on_done=lambda: done.append(1))
    if list(got) != [_draw(job.args[0]) for job in jobs]:
        fail("map must return every job's result in job order, whatever order the jobs finish in")
    if len(done) != len(jobs):
        fail(f"on_done must be called once per finished job ({len(jobs)}), was called {len(done)} times")


def _shared(executor: Any) -> None:
    from qaudit.sdk.protocols import Job

    values = np.arange(1000, dtype=np.float64)
    handle = executor.share(values)
    got = executor.map(_shared_sum, [Job((handle, k), seed=k) for k in range(3)])
    if [float(g) for g in got] != [float(values.sum()) + k for k in range(3)]:
        fail("a job given share(value)'s handle must receive the value itself")


def _failing(executor: Any) -> None:
    from qaudit.sdk.errors import JobFailed
    from qaudit.sdk.protocols import Job

    jobs = [Job((k,), seed=100 + k, origin=f"conformance job {k}") for k in range(3)]
    try:
        executor.map(_refuse, jobs)
    except JobFailed as exc:
        if "conformance job 1" not in str(exc) or "101" not in str(exc):
            fail(f"JobFailed must name the job's origin and seed, got: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - the wrong exception is the finding
        fail(f"a raising job must stop the batch with qaudit.sdk.errors.JobFailed, got {type(exc).__name__}: {exc}")
    fail("a raising job must stop the batch with qaudit.sdk.errors.JobFailed; map returned normally")


def _describe(executor_cls: Any, executor: Any) -> dict[str, Any]:
    facts = executor.describe()
    try:
        json.dumps(facts)
    except (TypeError, ValueError) as exc:
        fail(f"describe() must be JSON-serialisable ({exc})")
    missing = [k for k in DESCRIBE_KEYS if k not in facts]
    if missing:
        fail(f"describe() lacks {', '.join(missing)}")
    if facts["name"] != executor_cls.name:
        fail(f"describe()['name'] is {facts['name']!r}, the class is named {executor_cls.name!r}")
    return dict(facts)


def _close(executor: Any) -> None:
    executor.close()
    executor.close()
