"""The one path that evaluates a model: task -> backend -> head.

Every command (``evaluate``, the leak audit's target and reference queries, the
unlearning verification, shot studies and shot-estimated gradients) reaches a
model's outputs through :func:`query` (or :func:`run_task` for the quantum part
alone). The model builds its :class:`~qaudit.sdk.protocols.QuantumTask` (classical
pre-processing and encoders run there), the backend executes it and the model's
classical head turns expectation values into class probabilities:

* ``shots=None`` -- ``backend.expectation(task)``: exact values.
* ``shots=N`` and a backend with ``sample`` and a Z-product readout --
  ``backend.sample(task, N, seed)`` gives bit-string counts; the expectation
  values are read from them (so shot-aware attacks see the raw counts).
* ``shots=N`` otherwise -- ``backend.expectation(task, N, seed)``.

Models made of several models (ensembles) declare ``parts()`` and ``combine``;
each part is queried on the same backend and their probabilities combined.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError
from qaudit.sdk.protocols import ExecutionPlan, Outputs, QuantumTask

#: Samples evaluated at once: a larger query is streamed in batches of this size (batch b's shot seed is
#: mixed from the query's seed and b), so pre-processing and states never hold more than one batch --
#: a 60,000-sample audit stays below 2 GB (benchmarks/scale.py). Smaller queries are one batch.
QUERY_BATCH = 4096
#: Bytes of per-sample input states one batch may hold (16 B per amplitude): wide models get smaller
#: batches (20 qubits: 16 samples).
QUERY_STATE_BYTES = 1 << 28


def batch_size(model: Any) -> int:
    """Samples per batch for *model*: :data:`QUERY_BATCH`, fewer for wide circuits."""
    return max(1, min(QUERY_BATCH, QUERY_STATE_BYTES // (16 * 2 ** int(model.n_qubits))))


def exact_backend() -> Any:
    """An instance of the backend a plugin declares with role ``default`` (exact values; the default), built by
    :func:`qaudit.run.backend_choice.resolve_backend` -- the one place a backend is built, with its capability
    checks."""
    from qaudit.run.backend_choice import resolve_backend

    return resolve_backend(None, None)[0]


def run_task(task: QuantumTask, backend: Any, shots: int | None = None,
             seed: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Execute *task*: ``(expectations (n, n_obs), counts (n, 2**n) or None)``; see the module docstring."""
    if task.noise and not backend.capabilities.noise:
        raise QauditError(f"the model was trained under noise {task.noise!r}; backend {backend.name!r} simulates "
                          "no noise: use a backend that does (`qaudit backends`, column noise)")
    readout = None
    if shots and callable(getattr(backend, "sample", None)):  # SamplingBackend
        from qaudit.engine.tasks import task_observables

        readout = task_observables(task)
    if readout is not None and readout.diagonal:  # Z products: read the expectations from the counts
        counts = np.asarray(backend.sample(task, int(shots), seed), dtype=np.int64)
        if counts.shape != (task.n_samples, 2**task.n_qubits):
            raise QauditError(f"backend {backend.name!r} returned counts of shape {counts.shape}, "
                              f"expected {(task.n_samples, 2**task.n_qubits)}")
        return counts @ readout.table / shots, counts
    ev = np.asarray(backend.expectation(task, shots=shots or None, seed=seed), dtype=np.float64)
    if ev.shape != (task.n_samples, len(task.observables)):
        raise QauditError(f"backend {backend.name!r} returned expectation values of shape {ev.shape}, "
                          f"expected {(task.n_samples, len(task.observables))}")
    return ev, None


def query(model: Any, X: np.ndarray, backend: Any = None, shots: int | None = None,
          seed: int | None = 0) -> Outputs:
    """Outputs of *model* on raw features *X* run on *backend* (default: the exact backend)."""
    backend = exact_backend() if backend is None else backend
    parts = model.parts() if callable(getattr(model, "parts", None)) else None  # EnsembleModel
    if parts:
        outs = [query(part, X, backend, shots, None if seed is None else _mix(seed, i))
                for i, part in enumerate(parts)]
        return Outputs(np.asarray(model.combine([o.probs for o in outs]), dtype=np.float64), shots=shots or None)
    X = np.asarray(X, dtype=np.float64)
    size = batch_size(model)
    if len(X) > size:
        return _concat([query(model, X[start:start + size], backend, shots,
                              None if seed is None else _mix(seed, start // size))
                        for start in range(0, len(X), size)])
    task = model.task(X)
    ev, counts = run_task(task, backend, shots, seed)
    probs = np.asarray(model.head(ev), dtype=np.float64)
    if not np.all(np.isfinite(probs)):
        raise QauditError(f"model {model.name!r} produced non-finite probabilities (numerically unstable "
                          "parameters)")
    return Outputs(probs, expectations=ev, counts=counts, shots=shots or None, observables=list(task.observables),
                   n_qubits=task.n_qubits)


def plan_query(model: Any, X: np.ndarray, backend: Any, shots: int | None = None) -> ExecutionPlan:
    """What :func:`query` of *model* on *X* would submit to *backend*, batch by batch, computed without running
    anything: the backend's own :meth:`~qaudit.sdk.protocols.PlanningBackend.plan` when it has one, else a plan
    of a simulator (nothing submitted, no device time)."""
    parts = model.parts() if callable(getattr(model, "parts", None)) else None  # EnsembleModel
    if parts:
        plans = [plan_query(part, X, backend, shots) for part in parts]
        total = plans[0]
        for more in plans[1:]:
            total = total.add(more)
        return total
    X = np.asarray(X, dtype=np.float64)
    size = batch_size(model)
    total = ExecutionPlan("")  # the first batch's plan names the backend as it calls itself (with its argument)
    for start in range(0, len(X), size):
        task = model.task(X[start:start + size])
        plan = backend.plan(task, shots or None) if callable(getattr(backend, "plan", None)) else \
            ExecutionPlan(backend.name, circuits=1, bindings=task.n_samples, shots=int(shots or 0),
                          notes=["a simulator: nothing is submitted and no device time is spent"])
        total = total.add(plan)
    return total


def _concat(outs: list[Outputs]) -> Outputs:
    """One :class:`Outputs` from the outputs of consecutive batches."""
    first = outs[0]

    def stack(values: list[np.ndarray | None]) -> np.ndarray | None:
        return None if any(v is None for v in values) else np.concatenate(values)

    return Outputs(np.concatenate([o.probs for o in outs]), expectations=stack([o.expectations for o in outs]),
                   counts=stack([o.counts for o in outs]), shots=first.shots, observables=first.observables,
                   n_qubits=first.n_qubits)


def predict_proba(model: Any, X: np.ndarray, backend: Any = None, shots: int | None = None,
                  seed: int | None = 0) -> np.ndarray:
    """(n, n_classes) class probabilities through :func:`query`."""
    return query(model, X, backend, shots, seed).probs


def basis_distribution(model: Any, X: np.ndarray) -> np.ndarray:
    """(n, 2**n_qubits) exact measurement distribution of *model*'s circuit on raw features *X*."""
    from qaudit.engine.tasks import basis_distribution as distribution

    return distribution(model.task(np.asarray(X, dtype=np.float64)))


def digest(X: np.ndarray) -> int:
    """A 63-bit content digest of an array (seeds shot noise per batch)."""
    raw = hashlib.blake2b(memoryview(np.ascontiguousarray(X)).cast("B"), digest_size=8).digest()  # no copy
    return int.from_bytes(raw, "little") % (2**63)


def _mix(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


class TargetQueries:
    """``queries(model, X, exact=False) -> Outputs``: the audit's view of models, cached.

    The *target* runs on the audit's backend with its shots; any other model (the
    attacker's own reference models) and ``exact=True`` queries run on the exact
    backend. Shot noise is seeded from (seed, digest of X), so the same batch
    always gets the same draw. ``count`` is the number of target samples queried.
    """

    def __init__(self, target: Any, backend: Any, shots: int | None, seed: int):
        self.target, self.backend, self.shots, self.seed = target, backend, shots or None, int(seed)
        self.exact = exact_backend()
        self._cache: dict[tuple, Outputs] = {}
        self._keep: list[Any] = []
        self.count = 0
        self._rows: dict[bytes, int] = {}
        self._prefetched: Outputs | None = None

    def prefetch(self, X: np.ndarray) -> Outputs:
        """Query the target once on every row of *X* (all the samples the audit may score); later target
        queries of any subset of these rows are answered from this one query. Budgeted backends
        (:class:`~qaudit.sdk.protocols.PlanningBackend`) thus receive one task with every sample as a binding,
        not one task per attack and fold."""
        X = np.asarray(X, dtype=np.float64)
        out = self(self.target, X)
        self._rows = {row.tobytes(): i for i, row in enumerate(X)}
        self._prefetched = out
        return out

    def _from_prefetch(self, X: np.ndarray) -> Outputs | None:
        """The prefetched outputs of the rows *X*, or None when a row was not prefetched."""
        if self._prefetched is None:
            return None
        rows = [self._rows.get(row.tobytes()) for row in X]
        if any(r is None for r in rows):
            return None
        idx, out = np.asarray(rows, dtype=np.int64), self._prefetched

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return Outputs(out.probs[idx], expectations=pick(out.expectations), counts=pick(out.counts), shots=out.shots,
                       observables=out.observables, n_qubits=out.n_qubits)

    def __call__(self, model: Any, X: np.ndarray, exact: bool = False) -> Outputs:
        X = np.asarray(X, dtype=np.float64)
        is_target = model is self.target and not exact
        key = (id(model), is_target, X.shape, digest(X))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        self._keep.append(model)  # keeps id(model) unique while cached
        prefetched = self._from_prefetch(X) if is_target else None
        if prefetched is not None:
            out = prefetched
        elif is_target:
            seed = int(np.random.SeedSequence([self.seed, digest(X)]).generate_state(1)[0])
            out = query(model, X, self.backend, self.shots, seed)
            self.count += len(X)
        else:
            out = query(model, X, self.exact, None, self.seed)
        self._cache[key] = out
        return out
