"""Batches of independent jobs on one executor abstraction (issue 16).

The host knows no executor by name: executors are registered by plugins (``register_executors``)
and the defaults are roles -- ``default`` (no ``--executor``), ``inline`` (in this process: ``--jobs 1``),
``scheduler`` (only ``--scheduler``/``$QAUDIT_SCHEDULER`` given). Callers build :class:`Job` lists whose
seeds come from :func:`job_seeds` (``numpy.random.SeedSequence.spawn``), so a result depends on the
job's inputs and seed only -- never on the executor, the number of workers or the completion order.

:func:`run` is the one-line convenience: ``run(fn, jobs, executor, progress, "12 shards")``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from qaudit.sdk.errors import JobFailed, QauditError
from qaudit.sdk.protocols import ExecutorSettings, Job

#: Environment variable naming a Dask-style scheduler address (``tcp://host:8786``).
SCHEDULER_ENV = "QAUDIT_SCHEDULER"


def job_seeds(seed: int, n: int) -> list[int]:
    """*n* independent job seeds (0..2**32-1) spawned from *seed* (``SeedSequence(seed).spawn(n)``).

    Job k's seed depends on (seed, k) only, so the same jobs get the same seeds on every executor.
    """
    children = np.random.SeedSequence(int(seed)).spawn(int(n))
    return [int(child.generate_state(1, np.uint32)[0]) for child in children]


def scheduler_from_env() -> str | None:
    """``$QAUDIT_SCHEDULER`` (None when unset or empty)."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


def open_executor(name: str | None = None, scheduler: str | None = None, workers: int | None = None) -> Any:
    """Open the executor *name*, or the one the roles pick: ``scheduler`` when a scheduler address is given,
    ``inline`` for ``workers == 1``, else ``default``. ``$QAUDIT_SCHEDULER`` is read by the commands
    (:func:`scheduler_from_env`), not here, so library callers get what they ask for."""
    from qaudit.sdk.host import get_host

    host = get_host()
    if name is None:
        role = "scheduler" if scheduler else ("inline" if workers == 1 else "default")
        name = host.role("executor", role)
    cls = host.get("executor", name)
    return cls.open(ExecutorSettings(workers=workers, scheduler=scheduler))


def check_executor(name: str | None, scheduler: str | None) -> None:
    """Refuse, in one line and before anything starts, settings the executor :func:`open_executor` would pick
    cannot use (an unknown name; a scheduler address it cannot parse, through its optional ``check``)."""
    if scheduler is None:
        return
    from qaudit.sdk.host import get_host

    host = get_host()
    cls = host.get("executor", name if name is not None else host.role("executor", "scheduler"))
    check = getattr(cls, "check", None)  # optional Executor member
    if callable(check):
        check(ExecutorSettings(scheduler=scheduler))


def executor_for(executor: Any, n_jobs: int = 1) -> Any:
    """*executor* itself, or (None) a new one for *n_jobs* workers: the caller must close what it opened;
    use :func:`using` for that."""
    return executor if executor is not None else open_executor(workers=max(1, int(n_jobs)))


@contextmanager
def using(executor: Any, n_jobs: int = 1) -> Iterator[Any]:
    """``with using(context.executor, context.n_jobs) as ex:`` -- the given executor (left open) or a new one
    for *n_jobs* workers, closed at the end."""
    if executor is not None:
        yield executor
        return
    opened = open_executor(workers=max(1, int(n_jobs)))
    try:
        yield opened
    finally:
        opened.close()


def run(fn: Callable[..., Any], jobs: Sequence[Job | tuple], executor: Any = None, progress: Any = None,
        description: str = "jobs", n_jobs: int = 1) -> list[Any]:
    """``[fn(*job.args) for job in jobs]`` on *executor* (None: a new one for *n_jobs*) with a progress bar.

    Plain tuples are wrapped as :class:`Job` without a seed. Results come back in job order.
    """
    from qaudit.sdk.progress import SILENT

    progress = progress or SILENT
    batch = [job if isinstance(job, Job) else Job(tuple(job)) for job in jobs]
    with using(executor, n_jobs) as ex, progress.track(description, len(batch)) as task:
        return ex.map(fn, batch, on_done=lambda: progress.advance(task))


class SingleThreaded:
    """``SingleThreaded(fn)(*args)``: ``fn(*args)`` with BLAS/OpenMP limited to one thread.

    Executors run every job through it, in a worker or in this process: a multi-threaded BLAS sums in
    an order that depends on the thread count, so the same job could differ in the last bits between
    executors. One thread per job is also what makes one job per core fast. Picklable (``fn`` by name).
    """

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        from threadpoolctl import threadpool_limits

        from qaudit.run.allocator import relax_malloc_trim

        relax_malloc_trim()  # a Dask worker's MALLOC_TRIM_THRESHOLD_ made jobs 1.45x slower
        with threadpool_limits(limits=1):
            return self.fn(*args)


def plugin_of(fn: Callable[..., Any]) -> str | None:
    """The name of the plugin whose module defines *fn*, or None (host code / unknown)."""
    from qaudit.sdk.host import get_host

    module = getattr(fn, "__module__", "") or ""
    for name, info in get_host().plugins.items():
        root = info.module.split(":")[0]
        if module == root or module.startswith(root + "."):
            return name
    return None


def in_job_order(completed: Iterable[tuple[int, BaseException | None, Callable[[], Any]]], fn: Callable[..., Any],
                 jobs: Sequence[Job], on_done: Callable[[], None] | None = None) -> list[Any]:
    """The results in job order from ``(index, exception or None, result getter)`` triples as jobs complete
    (an executor's ``map`` feeds it its futures); the first failure is raised as :func:`failure`'s
    :class:`JobFailed`. *on_done* is called once per finished job."""
    results: list[Any] = [None] * len(jobs)
    for i, exc, result in completed:
        if exc is not None:
            raise failure(fn, jobs[i], i, len(jobs), exc) from exc
        results[i] = result()
        if on_done is not None:
            on_done()
    return results


def failure(fn: Callable[..., Any], job: Job, index: int, total: int, exc: BaseException) -> JobFailed:
    """The :class:`JobFailed` for job *index* (0-based) of *total* that raised *exc* (executors raise it)."""
    plugin = plugin_of(fn)
    where = ", ".join(part for part in (
        job.origin or getattr(fn, "__qualname__", "job"),
        f"plugin {plugin!r}" if plugin else "",
        f"seed {job.seed}" if job.seed is not None else "") if part)
    detail = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = detail if isinstance(exc, QauditError) else f"{type(exc).__name__}: {detail}".rstrip(": ")
    return JobFailed(f"job {index + 1} of {total} ({where}) failed: {text}",
                     exit_code=2 if isinstance(exc, QauditError) else 3)
