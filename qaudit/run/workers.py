"""``run_jobs``: the one-line way to run independent jobs (kept for callers written before executors).

:func:`run_jobs` runs ``fn(*args)`` for every argument tuple on the executor the roles pick for
*n_jobs* workers (:func:`qaudit.run.parallel.open_executor`: in this process for ``n_jobs <= 1``, else the
``default`` executor -- worker processes that stop with the command on Ctrl-C or SIGTERM). Results come
back in submission order, whatever the completion order. New code passes an executor:
:func:`qaudit.run.parallel.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def run_jobs(fn: Callable[..., Any], jobs: Sequence[tuple], n_jobs: int, on_done: Callable[[], None] | None = None,
             executor: Any = None) -> list[Any]:
    """``[fn(*args) for args in jobs]``, in up to *n_jobs* workers (or on *executor*); *on_done* after each job."""
    from qaudit.run.parallel import using
    from qaudit.sdk.protocols import Job

    with using(executor, n_jobs if len(jobs) > 1 else 1) as ex:
        return ex.map(fn, [Job(tuple(args)) for args in jobs], on_done=on_done)
