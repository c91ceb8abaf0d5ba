"""``dask``: jobs on a Dask cluster (``dask.distributed``), the scheduler the scientific-Python stack uses.

With a scheduler address (``--scheduler tcp://host:8786``, ``$QAUDIT_SCHEDULER`` or ``scheduler`` in
qaudit.toml) it connects to that scheduler and ships the jobs to its workers; without one it starts a
``LocalCluster`` (one single-threaded worker process per core). Jobs carry model documents, indices and
seeds; large arrays several jobs read go to the workers once (``share`` = ``Client.scatter``). Workers
must have qaudit and the plugins whose jobs they run installed: ``open`` checks ``qaudit``, ``map``
checks the job's plugin module, and a worker lacking one is named. A worker that dies mid-job has its
jobs rescheduled on the others by the scheduler (``distributed.scheduler.allowed-failures``); a job
that raises is not retried (it would raise again) and is reported with its seed and plugin.

Dask is imported only here, when the executor opens (optional extra ``pip install "qaudit[dask]"``).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from qaudit.errors import QauditError
from qaudit.parallel import SingleThreaded, in_job_order, plugin_of
from qaudit.protocols import ExecutorSettings, Job

#: Seconds to reach a scheduler (and to wait for its first worker) before giving up.
CONNECT_SECONDS = 5
INSTALL_HINT = 'pip install "qaudit[dask]"'


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise QauditError(f"--executor dask needs Dask, which is not installed: {INSTALL_HINT}") from None
    return distributed


def _missing_modules_probe() -> Callable[[list[str]], list[str]]:
    """A function shipped by value (defined here, not importable by name) so a worker without qaudit can
    still run it and say which modules it lacks."""

    def probe(modules: list[str]) -> list[str]:
        import importlib.util

        missing = []
        for module in modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(module)
        return missing

    return probe


class DaskExecutor:
    """``dask``: a Dask scheduler's workers, or a LocalCluster (role ``scheduler``)."""

    name: ClassVar[str] = "dask"
    description: ClassVar[str] = "A Dask cluster (--scheduler tcp://host:port) or a LocalCluster on this machine"
    roles: ClassVar[frozenset[str]] = frozenset({"scheduler"})

    def __init__(self, client: Any, cluster: Any = None, address: str = ""):
        self.client = client
        self.cluster = cluster
        self.address = address
        self.jobs_run = 0
        self.shipped_bytes = 0
        self._checked: set[str] = set()

    @classmethod
    def open(cls, settings: ExecutorSettings) -> DaskExecutor:
        """Connect to ``settings.scheduler`` (one-line error within :data:`CONNECT_SECONDS` when unreachable
        or without workers) or start a LocalCluster of ``settings.workers`` single-threaded processes."""
        distributed = _import_distributed()
        if not settings.scheduler:
            from qaudit_executors.local import default_workers

            cluster = local_cluster(settings.workers or default_workers())
            client = distributed.Client(cluster, set_as_default=False)
            executor = cls(client, cluster, cluster.scheduler_address)
        else:
            executor = cls(_connect(distributed, settings.scheduler), None, settings.scheduler)
        try:
            executor._check_workers(["qaudit"])
        except BaseException:
            executor.close()
            raise
        return executor

    def _check_workers(self, modules: list[str]) -> None:
        """Refuse workers that cannot import *modules* (named), once per module."""
        todo = [m for m in modules if m not in self._checked]
        if not todo:
            return
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except Exception:  # noqa: BLE001 - dask raises TimeoutError (various classes across versions)
            raise QauditError(f"the Dask scheduler at {self.address} has no workers (waited {CONNECT_SECONDS} s): "
                              "start some with `dask worker ADDRESS`") from None
        answers = self.client.run(_missing_modules_probe(), todo)
        for worker, missing in sorted(answers.items()):
            if missing:
                raise QauditError(f"Dask worker {worker} cannot import {', '.join(missing)}: install qaudit and "
                                  "the plugins on every worker (same versions; see docs/cluster.md)")
        self._checked.update(todo)

    def share(self, value: Any) -> Any:
        """Scatter *value* to every worker once; the returned future stands in for it in job arguments."""
        return self.client.scatter([value], broadcast=True, hash=False)[0]

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job], on_done: Callable[[], None] | None = None
            ) -> list[Any]:
        """Submit every job, gather the results in job order as they complete; cancel the rest on an error,
        Ctrl-C or SIGTERM."""
        if not jobs:
            return []
        distributed = _import_distributed()
        self._check_workers([fn.__module__.split(".")[0]])
        futures = []
        for job in jobs:
            self.shipped_bytes += _arg_bytes(job.args, distributed.Future)
            futures.append(self.client.submit(SingleThreaded(fn), *job.args, pure=False))
        position = {future.key: i for i, future in enumerate(futures)}

        def completed() -> Iterator[tuple[int, BaseException | None, Callable[[], Any]]]:
            for future in distributed.as_completed(futures, loop=self.client.loop):
                exc = future.exception() if future.status == "error" else None
                if isinstance(exc, ModuleNotFoundError):
                    raise QauditError(f"a Dask worker cannot import {exc.name!r} (plugin {plugin_of(fn)!r}): "
                                      "install it on every worker") from None
                yield position[future.key], exc, future.result

        try:
            results = in_job_order(completed(), fn, jobs, on_done)
            self.jobs_run += len(jobs)
        except BaseException:
            self.client.cancel(futures, force=True)
            raise
        return results

    def describe(self) -> dict[str, Any]:
        """Name, scheduler address, workers, jobs run, pickled bytes of the job arguments (scattered values
        counted where they were shared, not per job)."""
        workers = len(self.client.scheduler_info().get("workers", {})) if self.client is not None else 0
        return {"name": self.name, "scheduler": self.address, "workers": workers, "jobs": self.jobs_run,
                "shipped_bytes": self.shipped_bytes}

    def close(self) -> None:
        """Disconnect (and stop the LocalCluster this executor started)."""
        client, self.client = self.client, None
        cluster, self.cluster = self.cluster, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


#: Thread-count variables Dask's nanny sets in every worker (``distributed.nanny.pre-spawn-environ``).
BLAS_START_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of *workers* single-threaded worker processes whose BLAS starts as in this process.

    Dask starts workers with ``OPENBLAS_NUM_THREADS=1`` and the like; OpenBLAS started that way rounds some
    products differently in the last bits from one limited to a thread at run time, which is how every job
    runs (:class:`qaudit.parallel.SingleThreaded`). Leaving the variables out keeps reports byte-identical
    to a serial run (docs/cluster.md)."""
    import dask

    distributed = _import_distributed()
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k not in BLAS_START_VARIABLES}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None)


def _connect(distributed: Any, address: str) -> Any:
    """A Client for *address*, or a one-line error within :data:`CONNECT_SECONDS`."""
    try:
        return distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError/TimeoutError/ValueError by address and version
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise QauditError(f"cannot reach the Dask scheduler at {address} ({reason}): start one with "
                          "`dask scheduler` or fix --scheduler / $QAUDIT_SCHEDULER") from None


def _arg_bytes(args: tuple, future_type: type) -> int:
    """Pickled size of a job's arguments, a shared (scattered) value counted as its key."""
    total = 0
    for arg in args:
        total += len(str(arg.key)) if isinstance(arg, future_type) else len(pickle.dumps(arg, protocol=5))
    return total
