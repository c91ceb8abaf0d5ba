"""Undo an allocator setting that makes numpy-heavy jobs slow in Dask workers (issue 16).

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (config key
``distributed.nanny.pre-spawn-environ``) so that freed memory goes back to the operating system
(Dask docs, "Worker Memory Management: Memory not released back to the OS"). Setting any of glibc's
``M_TRIM_THRESHOLD``/``M_MMAP_THRESHOLD`` by hand switches off glibc's *dynamic* mmap threshold
(mallopt(3)), so the threshold stays at 128 KiB: every numpy temporary above that is a fresh ``mmap``
that page-faults in and is unmapped again. A LiRA reference-model job measured 1.64 s in a plain
process and 2.37 s with that one variable set (benchmarks/README.md, executors).

:func:`relax_malloc_trim` puts the thresholds where glibc's dynamic rule would settle on a 64-bit
machine (mmap threshold 32 MiB, trim threshold twice that). Memory is still returned above 64 MiB of
free heap top, so the reason Dask sets the variable still holds for these short jobs. It acts only
when the variable is set, only on glibc, and once per process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: mallopt(3) parameter numbers (glibc malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: glibc's largest dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX = 4 MiB * sizeof(long)).
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
#: Environment variables that pin glibc's thresholds (and so disable the dynamic mmap threshold).
PINNING_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

_done = False


def relax_malloc_trim() -> bool:
    """Raise glibc's pinned mmap/trim thresholds once per process; True if they were changed."""
    global _done
    if _done:
        return False
    _done = True
    if not any(os.environ.get(v) for v in PINNING_VARIABLES):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to undo
        return False
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
