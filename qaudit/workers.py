"""Independent jobs in worker processes that stop when the user does.

:func:`run_jobs` runs ``fn(*args)`` for every argument tuple, serially for ``n_jobs <= 1`` or in
``spawn``-started worker processes with single-threaded BLAS (two workers use two cores without
oversubscription). Results come back in submission order, whatever the completion order.
On Ctrl-C, SIGTERM (:class:`qaudit.boundary.Terminated`) or any error, pending jobs are
cancelled and the workers are terminated (killed if still alive after
:data:`STOP_SECONDS`), so no worker outlives the command.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

STOP_SECONDS = 0.8
_BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_jobs(fn: Callable[..., Any], jobs: Sequence[tuple], n_jobs: int, on_done: Callable[[], None] | None = None
             ) -> list[Any]:
    """``[fn(*args) for args in jobs]``, in up to *n_jobs* processes; *on_done* after each job."""
    if n_jobs <= 1 or len(jobs) <= 1:
        results = []
        for args in jobs:
            results.append(fn(*args))
            if on_done is not None:
                on_done()
        return results
    return _in_processes(fn, jobs, n_jobs, on_done)


def _in_processes(fn: Callable[..., Any], jobs: Sequence[tuple], n_jobs: int,
                  on_done: Callable[[], None] | None) -> list[Any]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    saved = {k: os.environ.get(k) for k in _BLAS_VARS}
    os.environ.update({k: "1" for k in _BLAS_VARS})
    pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init)
    results: list[Any] = [None] * len(jobs)
    try:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done()
    except BaseException:
        stop(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return results


def _worker_init() -> None:
    """Workers leave Ctrl-C to the main process (which stops them), so they print nothing of their own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop(pool: Any) -> None:
    """Cancel pending jobs and terminate the pool's worker processes now (kill after STOP_SECONDS)."""
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
