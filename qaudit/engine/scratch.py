"""Reusable work arrays for the engine's batch-sized temporaries.

A W1 step (1000 states of 256 amplitudes) allocates several 4 MB arrays; fresh
allocations of that size come from pages the allocator returned to the system
after the previous step, and re-faulting them cost about as much as the
arithmetic (measured: ~4000 minor page faults and 6-8 ms per step on the build
machine, see benchmarks/README.md). :func:`scratch` hands out an array from a
small per-thread pool instead, but only one that nothing else references: a
result still held by a caller (``Evaluation.psi``, a view of it, ...) keeps its
reference count up and is never handed out again while alive.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

#: Arrays kept per thread (a W1 step holds about twenty at once: U after each layer, ψ, G, ...).
POOL_SIZE = 32
#: Arrays larger than this are allocated normally (never pooled).
MAX_POOLED_BYTES = 1 << 24
#: Bytes the pool may keep per thread; beyond it new arrays are not pooled.
MAX_POOL_BYTES = 1 << 27

_LOCAL = threading.local()


def _free_index(pool: list, match=None) -> int:
    """Index of the first array in *pool* that nothing outside the pool references (and that
    satisfies *match*), or -1. References counted: the list, the local name, the call argument."""
    for i in range(len(pool)):
        array = pool[i]
        if (match is None or match(array)) and sys.getrefcount(array) <= _FREE_REFS:
            return i
    return -1


def _free_refs() -> int:
    """getrefcount of an array held only by a list, in :func:`_free_index`'s pattern (3 on CPython
    3.11; measured at import rather than assumed, since interpreters differ)."""
    probe = [np.empty(1)]
    for i in range(len(probe)):
        array = probe[i]
        return sys.getrefcount(array)
    return 0


_FREE_REFS = _free_refs()


def scratch(shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """An uninitialised array of *shape* and *dtype*, reused from the pool when one is free."""
    dtype = np.dtype(dtype)
    if int(np.prod(shape)) * dtype.itemsize > MAX_POOLED_BYTES:
        return np.empty(shape, dtype=dtype)
    pool = getattr(_LOCAL, "arrays", None)
    if pool is None:
        pool = _LOCAL.arrays = []
    i = _free_index(pool, lambda a: a.shape == shape and a.dtype == dtype)
    if i >= 0:
        return pool[i]
    array = np.empty(shape, dtype=dtype)
    if len(pool) >= POOL_SIZE or sum(a.nbytes for a in pool) + array.nbytes > MAX_POOL_BYTES:
        i = _free_index(pool)  # make room by dropping one free array
        if i < 0:
            return array
        del pool[i]
    pool.append(array)
    return array
