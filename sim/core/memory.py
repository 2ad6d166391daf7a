"""How this process's large NumPy arrays get their memory: on ordinary 4 KiB pages by default,
and from memory the process already has when it freed some (glibc's heap, not fresh mappings).

NumPy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
4 MiB or more. On the developers' machine (a Firecracker VM, THP in ``madvise`` mode) memory new
to a process costs 1-2.5 s of system time per GiB when it comes as huge pages and ~0.4 s per GiB
as 4 KiB pages (the host backs each 2 MiB page when it is first touched), and the model's
memory is mostly new: its set-up writes ~1.2 GB at 5,000,000 firms. Measured side by side in
fresh processes (``benchmarks/HISTORY.md``, fifth session), without the advice the set-up took
0.70x the CPU at 5,000,000 firms and 0.79x at 2,000,000, while the simulation was not
measurably slower (2,000,000 firms: 1.13 against 1.07 s, five pairs; the batch path's
simulation 1.14 / 0.82 against 1.20 / 0.86 s). Results are the same bytes either way.

``GDCLOUD_HUGEPAGES=1`` keeps NumPy's advice (e.g. on a machine where huge pages are cheap), and
an explicit ``NUMPY_MADVISE_HUGEPAGE`` (NumPy's own switch) is left as the user set it.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys

import numpy as np


def use_small_pages() -> bool:
    """Turn NumPy's huge-page advice off for this process unless ``GDCLOUD_HUGEPAGES=1`` or
    ``NUMPY_MADVISE_HUGEPAGE`` says otherwise; returns whether it is off now.

    Only the pages of arrays allocated afterwards change; values never do.
    """
    if os.environ.get("GDCLOUD_HUGEPAGES", "0") == "1" or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return os.environ.get("NUMPY_MADVISE_HUGEPAGE", "1") == "0"
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:  # a NumPy without the switch: nothing to turn off
        return False
    setter(False)  # the call NumPy itself makes for NUMPY_MADVISE_HUGEPAGE=0 at import
    return True


KEEP_BYTES = 1 << 30
"""glibc's mmap and trim thresholds set by :func:`keep_freed_memory` (1 GiB)."""

_GLIBC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Serve arrays of up to 1 GiB from glibc's heap and keep the heap's freed memory in the
    process (``mallopt`` mmap and trim thresholds), unless ``GDCLOUD_KEEP_MEMORY=0``, glibc's own
    ``MALLOC_*_`` variables or ``GLIBC_TUNABLES`` say otherwise; returns whether it is set now.

    Why: glibc gives every block above 32 MiB a fresh mapping and returns it to the kernel when it
    is freed, so each large temporary of the set-up costs new memory, and memory new to the
    process is what costs system time on the developers' machine: ~0.4 s per GiB when the guest
    freed it a moment ago, 2-3 s per GiB when the host has taken it back (a Firecracker VM whose
    balloon reports free pages to the host after ~2 s; measured 2026-11-29). At 1,000,000 firms
    the set-up's temporaries are below 32 MiB and glibc already reuses them; at 5,000,000 they
    are not, which made the set-up grow faster than the firms. Measured side by side (fresh
    processes, 8 alternating rounds, load 4-6; ``benchmarks/HISTORY.md``, sixth session): set-up at
    5,000,000 firms 2.86 -> 2.75 s CPU (system 0.59 -> 0.45 s, memory touched 1,415 -> 1,117 MB),
    at 1,000,000 0.573 -> 0.563 s; at 2,000,000 with the simulation no difference shown; peak RSS
    at 5,000,000 firms +24 MiB. Values never change; the process's resident memory after a large
    free stays up to 1 GiB higher (reused by the next model of the process).
    """
    if os.environ.get("GDCLOUD_KEEP_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in _GLIBC_SETTINGS) or "malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to set
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, KEEP_BYTES)) and bool(mallopt(m_trim_threshold, KEEP_BYTES))


SPARSE_MIN_BYTES = 1 << 20
"""Columns smaller than this come from :func:`numpy.zeros` in :func:`sparse_zeros` (a mapping of
their own would save nothing)."""


def sparse_zeros(n: int, dtype) -> np.ndarray:
    """A zero column of ``n`` values that a run writes at few of its firms (e.g. the transformation
    clock of the above-scale candidates): in an anonymous mapping of its own, so the process is
    given memory only for the pages written (reads of the others see the kernel's zero page).

    Why: :func:`numpy.zeros` takes the column from glibc's heap, which (:func:`keep_freed_memory`)
    serves it from memory the process already has and clears every page of it, so a sparse column
    took a full column of the process's memory: 27.5 MB at 5,000,000 firms, which later arrays then
    took afresh. The values are the same zeros; the mapping is released with the array.
    """
    dtype = np.dtype(dtype)
    nbytes = n * dtype.itemsize
    if nbytes < SPARSE_MIN_BYTES or not hasattr(mmap, "MAP_PRIVATE"):
        return np.zeros(n, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype, count=n)
