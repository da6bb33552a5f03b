"""The C allocator of a worker: a large sync's buffers come from the heap and stay for the next.

A sync of 10,000 children reads a 13 MB body and writes a 4.7 MB answer. glibc serves any
allocation above its mmap threshold with fresh pages of its own and returns them when freed, so
every such sync faulted in ~4,400 new pages (~18 MB) before it could use them: 10-18% of its time
(bench/README.md). With the threshold at glibc's largest (32 MiB, the most a request body may
be) and freed memory kept up to 128 MiB, the next sync reuses the last one's pages (~250-500
faults). The worker's resident memory then stays near the peak it already
reached, instead of falling back after each large sync: a worker's memory limit has to allow
that peak anyway.

glibc only: under another C library (musl has no `mallopt`) nothing is changed.
"""

from __future__ import annotations

import ctypes

# mallopt(3) parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

LARGEST_FROM_HEAP = 32 * 2**20
"""Allocations up to this size come from the heap (glibc's maximum on 64-bit systems)."""
KEPT_FREE = 128 * 2**20
"""Freed memory at the top of a heap is kept up to this size before it is returned."""
ARENAS = 1
"""One heap for all of a worker's threads: a request runs in whichever thread is free, and a
heap of its own per thread would keep a large sync's pages where the next one may not run.
Python's threads allocate under one lock (the GIL) anyway."""


def keep_large_buffers() -> bool:
    """Set the thresholds for this process; False when the C library has no `mallopt` or
    refuses a value (then whatever was set stays, and glibc's defaults otherwise)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    accepted: list[int] = [
        mallopt(_M_ARENA_MAX, ARENAS),
        mallopt(_M_MMAP_THRESHOLD, LARGEST_FROM_HEAP),
        mallopt(_M_TRIM_THRESHOLD, KEPT_FREE),
    ]
    return accepted == [1, 1, 1]
