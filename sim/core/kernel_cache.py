"""Load the compiled kernels from Numba's on-disk cache before their first call.

Numba loads a cached kernel lazily, at its first call with given argument types: a run of the
model pays about 20 such loads (0.4-0.5 s here) in the middle of its set-up and first month. A
single run can instead load them all while it waits for something else (the population built by
another process, :mod:`sim.runs.prebuild`): :func:`preload` loads every specialisation that the cache holds
for the current code and machine, exactly what the first calls would load, so the results are the
same bytes. It never compiles: an entry for other code or another machine is skipped (the first call
then compiles or loads as without this module). It reads Numba's cache index through Numba's
own internals (``Dispatcher._cache``, tested with Numba 0.68): with a version that changes them,
:func:`preload` loads nothing (the error is caught) and the kernels load at their first call.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.core import column_kernel, kernel, setup_kernel, stage_kernel


def model_dispatchers() -> list:
    """The Numba dispatchers of the set-up, step and stage kernels (empty without Numba)."""
    funcs = [*setup_kernel.load().values(), *column_kernel.load().values(), *kernel.load().values(), *stage_kernel.load().values()]
    return [getattr(f, "__wrapped__", f) for f in funcs]  # kernel.interruptible wraps each


def build_dispatchers() -> list:
    """The Numba dispatchers of the population build's kernels (the set-up and column loops, which
    the model's initialisation calls too; empty without Numba)."""
    funcs = [*setup_kernel.load().values(), *column_kernel.load().values()]
    return [getattr(f, "__wrapped__", f) for f in funcs]


def preload(dispatchers: Iterable) -> int:
    """Load every cached specialisation of ``dispatchers`` for this code and machine; the number loaded."""
    loaded = 0
    for disp in dispatchers:
        try:
            cache = disp._cache
            index = cache._cache_file._load_index()
            codegen = disp.targetctx.codegen()
            for key in index:
                sig = key[0]
                if key != cache._index_key(sig, codegen) or tuple(sig) in disp.overloads:
                    continue
                disp.compile(sig)
                loaded += 1
        except Exception:  # noqa: BLE001 - a warm-up only: the first call loads the kernel instead
            continue
    return loaded
