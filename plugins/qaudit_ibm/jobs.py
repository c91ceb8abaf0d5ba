"""Submitting, checkpointing and collecting primitive jobs: resumable, never paying twice.

A *job service* is the seam between the backend and where jobs run:

* :class:`LocalJobs` -- Qiskit Runtime's local testing mode (``Sampler(mode=<fake device or AerSimulator>)``, the
  sampler of :func:`sampler_class`):
  jobs run in this process and vanish with it;
* :class:`RuntimeJobs` -- IBM Quantum through ``QiskitRuntimeService()`` and its *saved* account
  configuration (qaudit never reads, writes or prints the token, instance or account id): jobs run remotely
  and can be collected by id from another process.

Both (and the tests' fake service) have ``submit(pubs, shots, seed) -> job id``, ``status(job id) -> one of
STATES`` and ``counts(job id, widths) -> [counts per PUB]``. :func:`run_jobs` writes every job id to the
checkpoint store the moment it exists (atomic JSON, key = content of the job), then its counts once
collected; with ``--resume`` it collects stored jobs instead of resubmitting them and resubmits only
failed or lost ones. Ctrl-C while waiting leaves the jobs running and says how to collect them.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.sdk import QauditError

#: Normalised job states.
DONE, PENDING, FAILED, LOST = "done", "pending", "failed", "lost"
#: Times a job that fails while we wait for it is resubmitted before the run gives up.
RETRIES = 1
#: Largest count table stored in one checkpoint entry (cells); larger results are collected again by id.
MAX_STORED_CELLS = 1 << 24
#: Decimals of angle / (pi/2) the local testing mode keeps (Runtime's client-side Sampler rounds bound angles
#: to 5 by default, about 1.6e-5 rad: below shot noise, but not the circuit asked for).
ANGLE_DECIMALS = 12


@dataclass
class JobSpec:
    """One job: its PUBs ``[(transpiled circuit, (n_bindings, n_params) values)]``, shots, simulator seed, the
    measured width of each PUB and its content key."""

    key: str
    pubs: list
    shots: int
    seed: int | None
    widths: list[int]


def _state(status: Any) -> str:
    name = str(getattr(status, "name", status)).upper()
    if name in ("DONE", "COMPLETED"):
        return DONE
    if name in ("ERROR", "CANCELLED", "FAILED"):
        return FAILED
    return PENDING


class LocalJobs:
    """Runtime's local testing mode: ``Sampler(mode=simulator)``; jobs live in this process only."""

    persistent = False
    poll_seconds = 0.02

    def __init__(self, simulator: Any):
        """*simulator*: an Aer backend, or a function of the measured width returning one."""
        self.simulator = simulator
        self._jobs: dict[str, Any] = {}

    def submit(self, pubs: list, shots: int, seed: int | None) -> str:
        mode = self.simulator(int(pubs[0][0].num_clbits)) if callable(self.simulator) else self.simulator
        sampler = runtime_sampler(mode)
        if seed is not None:
            sampler.options.simulator.seed_simulator = int(seed)
        if hasattr(sampler.options.simulator, "angle_decimals"):  # the client-side Sampler's local mode rounds
            sampler.options.simulator.angle_decimals = ANGLE_DECIMALS  # angles/(pi/2) to 5 decimals by default
        job = sampler.run(pubs, shots=int(shots))
        job_id = str(job.job_id())
        self._jobs[job_id] = job
        return job_id

    def status(self, job_id: str) -> str:
        job = self._jobs.get(job_id)
        return LOST if job is None else _state(job.status())

    def counts(self, job_id: str, widths: list[int]) -> list[np.ndarray]:
        return pub_counts(self._jobs[job_id].result(), widths)


class RuntimeJobs:
    """IBM Quantum hardware through ``QiskitRuntimeService()`` (the saved account; see docs/hardware.md)."""

    persistent = True
    poll_seconds = 10.0

    def __init__(self, service: Any, device: Any):
        self.service, self.device = service, device

    def submit(self, pubs: list, shots: int, seed: int | None) -> str:
        return str(runtime_sampler(self.device).run(pubs, shots=int(shots)).job_id())

    def _job(self, job_id: str) -> Any:
        try:
            return self.service.job(job_id)
        except Exception:  # unknown id, expired, another account
            return None

    def status(self, job_id: str) -> str:
        job = self._job(job_id)
        return LOST if job is None else _state(job.status())

    def counts(self, job_id: str, widths: list[int]) -> list[np.ndarray]:
        return pub_counts(self._job(job_id).result(), widths)


def sampler_class() -> Any:
    """Runtime's sampler primitive: the client-side ``executor_sampler.Sampler`` where it exists (qiskit-ibm-runtime
    0.50+, which deprecates ``SamplerV2``), else ``SamplerV2``. Both take ``(circuit, values)`` PUBs and return
    bit arrays per PUB; neither twirls nor adds dynamical decoupling by default."""
    try:
        from qiskit_ibm_runtime.executor_sampler import Sampler
    except ImportError:  # qiskit-ibm-runtime < 0.50
        from qiskit_ibm_runtime import SamplerV2 as Sampler
    return Sampler


def sampler_name() -> str:
    """The import path of :func:`sampler_class` (recorded in the report's backend facts)."""
    legacy = sampler_class().__name__ == "SamplerV2"
    return "qiskit_ibm_runtime." + ("SamplerV2" if legacy else "executor_sampler.Sampler")


def runtime_sampler(mode: Any) -> Any:
    """A sampler (:func:`sampler_class`) for *mode*: a device, a fake device or an Aer simulator."""
    return sampler_class()(mode=mode)


def pub_counts(result: Any, widths: list[int]) -> list[np.ndarray]:
    """(n_bindings, 2**width) counts of every PUB of a sampler result."""
    from qaudit_ibm.export import CREG, counts_from_bitarray

    return [counts_from_bitarray(getattr(pub.data, CREG), width) for pub, width in zip(result, widths)]


def encode_counts(tables: list[np.ndarray]) -> list[dict[str, Any]] | None:
    """Sparse JSON form of count tables (None when too large to checkpoint)."""
    if sum(t.size for t in tables) > MAX_STORED_CELLS:
        return None
    out = []
    for t in tables:
        flat = t.reshape(-1)
        nz = np.flatnonzero(flat)
        out.append({"shape": list(t.shape), "index": nz.tolist(), "value": flat[nz].tolist()})
    return out


def decode_counts(doc: Any, spec: JobSpec) -> list[np.ndarray] | None:
    """Count tables from a checkpoint entry, validated against *spec* (None when anything is off)."""
    try:
        if not isinstance(doc, list) or len(doc) != len(spec.pubs):
            return None
        tables = []
        for entry, (_, values), width in zip(doc, spec.pubs, spec.widths):
            shape = (len(values), 2**width)
            if list(entry["shape"]) != list(shape):
                return None
            flat = np.zeros(shape[0] * shape[1], dtype=np.int64)
            flat[np.asarray(entry["index"], dtype=np.int64)] = np.asarray(entry["value"], dtype=np.int64)
            table = flat.reshape(shape)
            if table.min() < 0 or not np.all(table.sum(axis=1) == spec.shots):
                return None
            tables.append(table)
        return tables
    except (KeyError, TypeError, ValueError, IndexError):
        return None


class JobLedger:
    """What this backend instance submitted and collected (the ``submitted`` record and the report's job ids)."""

    def __init__(self) -> None:
        self.submissions = 0
        self.collected_from_checkpoint = 0
        self.collected_by_id = 0
        self.job_ids: list[str] = []


def _submit(service: Any, spec: JobSpec, store: Any, ledger: JobLedger, label: str) -> str:
    job_id = service.submit(spec.pubs, spec.shots, spec.seed)
    ledger.submissions += 1
    ledger.job_ids.append(job_id)
    if store is not None:  # the id is on disk before we wait for anything
        store.put(spec.key, {"backend": label, "job_id": job_id, "persistent": bool(service.persistent)})
    return job_id


def _reuse(service: Any, spec: JobSpec, store: Any, ledger: JobLedger) -> tuple[list | None, str | None]:
    """A stored job's counts, or its id when it is still collectable; (None, None) to submit afresh."""
    doc = store.get(spec.key) if store is not None and store.resume else None
    if not isinstance(doc, dict):
        return None, None
    counts = decode_counts(doc.get("counts"), spec)
    if counts is not None:
        ledger.collected_from_checkpoint += 1
        return counts, None
    job_id = doc.get("job_id")
    if isinstance(job_id, str) and service.status(job_id) in (DONE, PENDING):
        ledger.job_ids.append(job_id)
        return None, job_id
    return None, None


def run_jobs(service: Any, specs: list[JobSpec], store: Any, ledger: JobLedger, label: str) -> list[list[np.ndarray]]:
    """Counts of every job of *specs* (in order): reuse checkpointed ones, submit the rest, wait, collect."""
    results: list[list[np.ndarray] | None] = [None] * len(specs)
    pending: dict[int, str] = {}
    for i, spec in enumerate(specs):
        counts, job_id = _reuse(service, spec, store, ledger)
        if counts is not None:
            results[i] = counts
        else:
            pending[i] = job_id or _submit(service, spec, store, ledger, label)
    retries = {i: RETRIES for i in pending}
    try:
        while pending:
            for i, job_id in list(pending.items()):
                state = service.status(job_id)
                if state == DONE:
                    results[i] = service.counts(job_id, specs[i].widths)
                    ledger.collected_by_id += 1
                    del pending[i]
                    if store is not None:
                        store.put(specs[i].key, {"backend": label, "job_id": job_id,
                                                 "counts": encode_counts(results[i])})
                elif state in (FAILED, LOST):
                    if retries[i] <= 0:
                        raise QauditError(f"{label}: job {job_id} {state}; rerun with --resume to retry it "
                                          "(finished jobs are kept)")
                    retries[i] -= 1
                    pending[i] = _submit(service, specs[i], store, ledger, label)
            if pending:
                time.sleep(service.poll_seconds)
    except KeyboardInterrupt:
        _interrupted(service, list(pending.values()), label)
        raise
    return [r for r in results if r is not None]


def _interrupted(service: Any, job_ids: list[str], label: str) -> None:
    if not job_ids:
        return
    if service.persistent:
        print(f"{label}: interrupted; {len(job_ids)} job(s) left running ({', '.join(job_ids)}): rerun the same "
              "command with --resume to collect them without paying again", file=sys.stderr)
    else:
        print(f"{label}: interrupted; {len(job_ids)} local job(s) stop with this process (local testing mode); "
              "finished jobs are checkpointed: rerun with --resume to reuse them", file=sys.stderr)
