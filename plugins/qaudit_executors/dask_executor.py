"""``dask``: jobs on a Dask cluster (``dask.distributed``), the scheduler the scientific-Python stack uses.

With a scheduler address (``--scheduler tcp://host:8786``, ``$QAUDIT_SCHEDULER`` or ``scheduler`` in
qaudit.toml) it connects to that scheduler and ships the jobs to its workers; without one it starts a
``LocalCluster`` (one single-threaded worker process per core). Jobs carry model documents, indices and
seeds; large arrays several jobs read go to the workers once (``share`` = ``Client.scatter``). Workers
must have qaudit and the plugins whose jobs they run installed: ``open`` checks ``qaudit``, ``map``
checks the job's plugin module, and a worker lacking one is named. A worker that dies mid-job has its
jobs rescheduled on the others by the scheduler (``distributed.scheduler.allowed-failures``); a job
that raises is not retried (it would raise again) and is reported with its seed and plugin.

The scheduler address is parsed before Dask is imported (:func:`parse_address`): an address Dask could
not use is one line at once, never a half-made ``Client``. Everything the executor starts is closed on every
path: a LocalCluster's workers keep their scratch space (``dask-scratch-space``, lock files) in a temporary
folder removed on close, start with Ctrl-C held (:func:`qaudit.cli.boundary.signals_held`: a Ctrl-C to the
terminal's process group reaches this process only), and on Ctrl-C, SIGTERM or an error are stopped at
once (:data:`STOP_SECONDS`) with Dask's shutdown warnings silenced.

Dask is imported only here, when the executor opens (optional extra ``pip install "qaudit[dask]"``).
"""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from qaudit.sdk import ExecutorSettings, Job, QauditError, SingleThreaded, in_job_order, plugin_of, signals_held

#: Seconds to reach a scheduler (and to wait for its first worker) before giving up.
CONNECT_SECONDS = 5
#: Seconds a stopped worker process gets before it is killed, when a run is interrupted or fails.
STOP_SECONDS = 0.5
INSTALL_HINT = 'pip install "qaudit[dask]"'
#: Dask's communication schemes a scheduler can be reached by over a network (``inproc://`` is
#: in-process only, and ``http://`` is the dashboard, not the scheduler).
SCHEMES = ("tcp", "tls", "ucx")
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
#: Where the address came from, for the error line.
ADDRESS_SOURCES = "--scheduler, $QAUDIT_SCHEDULER or `scheduler` in qaudit.toml"


def parse_address(address: str) -> str:
    """``SCHEME://HOST:PORT`` (scheme tcp when omitted, as Dask does) for a scheduler address, or a one-line
    error saying what is wrong with it -- checked before Dask is imported or anything connects."""
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    bad = f"Dask scheduler address {address!r}"
    example = "write tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    if scheme not in SCHEMES:
        schemes = ", ".join(s + "://" for s in SCHEMES)
        raise QauditError(f"{bad}: {scheme}:// cannot reach a Dask scheduler (use {schemes}; {example}; from "
                          f"{ADDRESS_SOURCES})")
    host, colon, port = rest.rpartition(":")
    if not colon or not _HOST.fullmatch(host):
        raise QauditError(f"{bad} is not SCHEME://HOST:PORT: {example} (from {ADDRESS_SOURCES})")
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and 1 <= int(port) <= 65535):
        raise QauditError(f"{bad}: the port must be a number in 1..65535, got {port!r} ({example})")
    return f"{scheme}://{host}:{int(port)}"


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

    def __init__(self, client: Any, cluster: Any = None, address: str = "", scratch: str | None = None):
        self.client = client
        self.cluster = cluster
        self.address = address
        self.scratch = scratch
        self.jobs_run = 0
        self.shipped_bytes = 0
        self._checked: set[str] = set()

    @classmethod
    def check(cls, settings: ExecutorSettings) -> None:
        """A scheduler address that does not parse is one line (:func:`parse_address`), Dask not imported."""
        if settings.scheduler:
            parse_address(settings.scheduler)

    @classmethod
    def open(cls, settings: ExecutorSettings) -> DaskExecutor:
        """Connect to ``settings.scheduler`` (parsed first: one-line error at once when malformed, within
        :data:`CONNECT_SECONDS` when unreachable or without workers) or start a LocalCluster of
        ``settings.workers`` single-threaded processes. A failure or an interruption while opening closes
        whatever was started."""
        address = parse_address(settings.scheduler) if settings.scheduler else None
        executor = cls(None, None, address or "")
        distributed = _import_distributed()  # starts nothing: a Ctrl-C meanwhile needs no hold
        try:
            with signals_held():  # Dask's threads and worker processes start with Ctrl-C blocked
                if address is None:
                    executor._start_local(distributed, settings.workers)
                else:
                    executor.client = _connect(distributed, address)
            executor._check_workers(["qaudit"])
        except BaseException:
            executor.close(now=True, grace=0.1)  # no job runs yet: nothing to wait for
            raise
        return executor

    def _start_local(self, distributed: Any, workers: int | None) -> None:
        import tempfile

        from qaudit_executors.local import default_workers

        self.scratch = tempfile.mkdtemp(prefix="qaudit-dask-")
        self.cluster = local_cluster(workers or default_workers(), self.scratch)
        self.address = self.cluster.scheduler_address
        self.client = distributed.Client(self.cluster, set_as_default=False)

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
        except BaseException as exc:
            _quietly(self.client.cancel, futures=futures, force=True)  # nothing left running on the cluster
            if not isinstance(exc, Exception):  # Ctrl-C or SIGTERM: stop now (a failed job leaves it open)
                self.close(now=True)
            raise
        return results

    def describe(self) -> dict[str, Any]:
        """Name, scheduler address, workers, jobs run, pickled bytes of the job arguments (scattered values
        counted where they were shared, not per job)."""
        workers = len(self.client.scheduler_info().get("workers", {})) if self.client is not None else 0
        return {"name": self.name, "scheduler": self.address, "workers": workers, "jobs": self.jobs_run,
                "shipped_bytes": self.shipped_bytes}

    def close(self, now: bool = False, grace: float = STOP_SECONDS) -> None:
        """Disconnect, stop the LocalCluster this executor started and remove its scratch folder. With *now*
        (an interruption or a failure) the workers get *grace* seconds before they are killed and Dask's
        loggers in this process stay silent from then on (Dask warns about the cancelled jobs, and its exit
        handlers about scratch folders already removed). Safe to call twice."""
        client, self.client = self.client, None
        cluster, self.cluster = self.cluster, None
        scratch, self.scratch = self.scratch, None
        if now:
            logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
        try:
            if cluster is not None and now:
                _stop_workers(cluster, grace)
            if client is not None:
                _quietly(client.close, timeout=STOP_SECONDS * 4 if now else CONNECT_SECONDS)
            if cluster is not None:
                _quietly(cluster.close, timeout=STOP_SECONDS * 4 if now else None)
        finally:
            if scratch is not None:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)


def _quietly(call: Callable[..., Any], **kwargs: Any) -> None:
    """Call a Dask close method; a close that times out or fails leaves nothing the rest of close needs."""
    try:
        call(**{k: v for k, v in kwargs.items() if v is not None})
    except Exception:  # noqa: BLE001 - closing: Dask raises TimeoutError/OSError/CommClosedError by version
        pass


def _stop_workers(cluster: Any, grace: float = STOP_SECONDS) -> None:
    """Close every nanny of *cluster* at once: its worker process gets *grace* * 0.8 seconds to stop, then is
    killed (Dask's graceful default waits 4 s for a worker busy in a job)."""
    import asyncio

    nannies = list(getattr(cluster, "workers", {}).values())

    async def stop() -> None:
        await asyncio.gather(*(n.close(timeout=grace, reason="qaudit-interrupted") for n in nannies),
                             return_exceptions=True)

    if nannies:
        _quietly(cluster.sync, func=stop, callback_timeout=STOP_SECONDS * 4)


#: Thread-count variables Dask's nanny sets in every worker (``distributed.nanny.pre-spawn-environ``).
BLAS_START_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def local_cluster(workers: int, scratch: str | None = None) -> Any:
    """A ``LocalCluster`` of *workers* single-threaded worker processes whose BLAS starts as in this process,
    with their scratch space under *scratch* (default: Dask's, ``$TMPDIR/dask-scratch-space``) and only
    nothing logged below CRITICAL (qaudit reports failed jobs and lost workers itself).

    Dask starts workers with ``OPENBLAS_NUM_THREADS=1`` and the like; OpenBLAS started that way rounds some
    products differently in the last bits from one limited to a thread at run time, which is how every job
    runs (:class:`qaudit.sdk.SingleThreaded`). Leaving the variables out keeps reports byte-identical
    to a serial run (docs/cluster.md)."""
    import dask

    distributed = _import_distributed()
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k not in BLAS_START_VARIABLES}
    settings: dict[str, Any] = {"distributed.nanny.pre-spawn-environ": environ}
    if scratch is not None:  # the scheduler's and nannies' scratch space too, not only the workers'
        settings["temporary-directory"] = scratch
    with dask.config.set(settings):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, local_directory=scratch,
                                        silence_logs=logging.CRITICAL)


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
