"""``serial`` (in this process) and ``local`` (``spawn``-started worker processes on this machine).

``local`` starts its processes on the first batch and keeps them for the command (one start-up cost
per command, not per batch); each worker uses single-threaded BLAS, so two workers use two cores
without oversubscription, and ignores Ctrl-C: the main process cancels pending jobs and terminates
the workers on Ctrl-C, SIGTERM or a failing job (killed if still alive after :data:`STOP_SECONDS`),
so no worker outlives the command. Measured against a Dask ``LocalCluster`` (benchmarks/scale.py) a
process pool starts faster and ships the same bytes, so it is the ``default``.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from qaudit.sdk import ExecutorSettings, Job, SingleThreaded, in_job_order, job_failure, signals_held

STOP_SECONDS = 0.8


def default_workers() -> int:
    """This machine's usable cores (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """``serial``: every job in the calling process, in order (role ``inline``)."""

    name: ClassVar[str] = "serial"
    description: ClassVar[str] = "One job after another in this process"
    roles: ClassVar[frozenset[str]] = frozenset({"inline"})

    def __init__(self) -> None:
        self.jobs_run = 0

    @classmethod
    def open(cls, settings: ExecutorSettings) -> SerialExecutor:
        """Nothing to start; the settings are not used."""
        return cls()

    def share(self, value: Any) -> Any:
        """In-process: the value itself."""
        return value

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job], on_done: Callable[[], None] | None = None
            ) -> list[Any]:
        """Run the jobs in order; a raising job becomes :class:`qaudit.sdk.JobFailed`."""
        results = []
        call = SingleThreaded(fn)
        for i, job in enumerate(jobs):
            try:
                results.append(call(*job.args))
            except Exception as exc:
                raise job_failure(fn, job, i, len(jobs), exc) from exc
            self.jobs_run += 1
            if on_done is not None:
                on_done()
        return results

    def describe(self) -> dict[str, Any]:
        """Name, one worker, jobs run, nothing shipped."""
        return {"name": self.name, "workers": 1, "jobs": self.jobs_run, "shipped_bytes": 0}

    def close(self) -> None:
        """Nothing to release."""


class LocalExecutor:
    """``local``: worker processes on this machine's cores (role ``default``)."""

    name: ClassVar[str] = "local"
    description: ClassVar[str] = "Worker processes on this machine (spawned once per command)"
    roles: ClassVar[frozenset[str]] = frozenset({"default"})

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.pool: Any = None
        self.jobs_run = 0
        self.shipped_bytes = 0

    @classmethod
    def open(cls, settings: ExecutorSettings) -> LocalExecutor:
        """*settings.workers* processes (default: the machine's cores); the scheduler is not used."""
        from qaudit.sdk import check_jobs

        workers = settings.workers if settings.workers is not None else default_workers()
        return cls(check_jobs(workers))

    def share(self, value: Any) -> Any:
        """The value itself (each job's arguments are pickled to its worker)."""
        return value

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job], on_done: Callable[[], None] | None = None
            ) -> list[Any]:
        """Run the jobs in the worker processes (in this process for one worker or one job)."""
        if self.workers <= 1 or len(jobs) <= 1:
            serial = SerialExecutor()
            results = serial.map(fn, jobs, on_done)
            self.jobs_run += serial.jobs_run
            return results
        from concurrent.futures import as_completed

        # No OPENBLAS_NUM_THREADS=1 for the workers: OpenBLAS started that way rounds some products
        # differently from one limited at run time (SingleThreaded), as a job in this process is.
        try:
            pool = self._pool()
            futures = {}
            with signals_held():  # workers start while submitting: Ctrl-C/SIGTERM wait until they are known
                for i, job in enumerate(jobs):
                    self.shipped_bytes += len(pickle.dumps(job.args, protocol=pickle.HIGHEST_PROTOCOL))
                    futures[pool.submit(SingleThreaded(fn), *job.args)] = i
            completed = ((futures[f], f.exception(), f.result) for f in as_completed(futures))
            results = in_job_order(completed, fn, jobs, on_done)
            self.jobs_run += len(jobs)
        except BaseException:
            self.close(now=True)
            raise
        return results

    def _pool(self) -> Any:
        if self.pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                            initializer=_worker_init)
        return self.pool

    def describe(self) -> dict[str, Any]:
        """Name, worker processes, jobs run, pickled bytes of the job arguments sent to them."""
        return {"name": self.name, "workers": self.workers, "jobs": self.jobs_run,
                "shipped_bytes": self.shipped_bytes}

    def close(self, now: bool = False) -> None:
        """Shut the workers down (at once with *now*: cancel pending jobs, terminate, kill)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        if now:
            stop(pool)
        else:
            pool.shutdown(wait=True)


def _worker_init() -> None:
    """Workers leave Ctrl-C to the main process (which stops them), so they print nothing of their own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop(pool: Any) -> None:
    """Cancel pending jobs and terminate the pool's worker processes now (kill after STOP_SECONDS), and let the
    pool's manager thread end."""
    processes = list(getattr(pool, "_processes", {}).values())  # the executor exposes no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(0.2)
    # The pool's manager thread closes its wake-up pipe as it ends; at interpreter exit concurrent.futures writes
    # to that pipe unlocked (CPython < 3.12), so a thread still ending then printed "OSError: [Errno 9] Bad file
    # descriptor" on one SIGTERM. Let it end here.
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(STOP_SECONDS)
