"""How this process's large NumPy arrays get their memory: on ordinary 4 KiB pages by default.

NumPy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
4 MiB or more. On the developers' machine (a Firecracker VM, THP in ``madvise`` mode) memory new
to a process costs 1-2.5 s of system time per GiB when it comes as huge pages and ~0.4 s per GiB
as 4 KiB pages (the host backs each 2 MiB page when it is first touched), and the model's
memory is mostly new: its set-up writes ~1.2 GB at 5,000,000 firms. Measured side by side in
fresh processes (``benchmarks/README.md``, fifth session), without the advice the set-up took
0.70x the CPU at 5,000,000 firms and 0.79x at 2,000,000, while the simulation was not
measurably slower (2,000,000 firms: 1.13 against 1.07 s, five pairs; the batch path's
simulation 1.14 / 0.82 against 1.20 / 0.86 s). Results are the same bytes either way.

``GDCLOUD_HUGEPAGES=1`` keeps NumPy's advice (e.g. on a machine where huge pages are cheap), and
an explicit ``NUMPY_MADVISE_HUGEPAGE`` (NumPy's own switch) is left as the user set it.
"""

from __future__ import annotations

import os

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
