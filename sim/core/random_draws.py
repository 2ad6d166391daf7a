"""NumPy's draws of the population's and the model's random columns, the same values and the
generator left where NumPy leaves it, faster: float32 uniforms and exponentials, float64 normals
and small-mean Poisson counts, drawn over the bit generator's raw outputs a block at a time and
consumed by compiled loops (:mod:`sim.core.column_kernel`, :mod:`sim.core.pcg_kernel`).

Without Numba (or for another bit generator, or a big-endian machine) NumPy draws.
``tests/test_population_build.py`` and ``tests/test_pcg_kernel.py`` compare the values and the
generator's state after the draw with NumPy's own calls.
"""

from __future__ import annotations

import sys

import numpy as np

from sim.core import column_kernel, pcg_kernel
from sim.core.kernel import kernel_name

RAW_BLOCK = 1 << 16
"""64-bit outputs of the bit generator drawn at a time by :func:`uniform_f32` and
:func:`exponential_f32` (512 KB, in the cache)."""


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.float32] | None:
    """NumPy's float32 exponential ziggurat tables (``ke_float``, ``we_float``, ``fe_float`` and
    the tail's start), from Numba's translation of NumPy's generators; None if this Numba has
    none (then NumPy draws)."""
    try:
        from numba.np.random import _constants as zig

        return (np.asarray(zig.ke_float, dtype=np.uint32), np.asarray(zig.we_float, dtype=np.float32),
                np.asarray(zig.fe_float, dtype=np.float32), np.float32(zig.ziggurat_exp_r_f))
    except (ImportError, AttributeError):
        return None


def _word_source(rng: np.random.Generator) -> np.random.PCG64 | pcg_kernel.WordStream | None:
    """A copy of ``rng``'s bit generator whose ``random_raw`` outputs, each split low half first,
    are the 32-bit words ``rng`` draws next (compiled, :mod:`sim.core.pcg_kernel`, when Numba is
    in use); None if that does not hold (not a PCG64, a 32-bit half kept from an earlier draw, or
    a big-endian machine): the caller lets NumPy draw."""
    bit_gen = rng.bit_generator
    if type(bit_gen) is not np.random.PCG64 or sys.byteorder != "little":
        return None
    state = bit_gen.state
    if state["has_uint32"]:
        return None
    if pcg_kernel.available(bit_gen):
        return pcg_kernel.WordStream(bit_gen)
    copy = np.random.PCG64()
    copy.state = state
    return copy


def _skip_words(rng: np.random.Generator, used: int, high: int) -> None:
    """Leave ``rng`` as drawing ``used`` 32-bit words leaves it: NumPy's PCG64 splits each 64-bit
    output in two, low half first, and keeps the high half (``high``, of the last output drawn)
    for the next 32-bit draw (marked pending when ``used`` is odd, kept in the state either way)."""
    if used == 0:
        return
    bit_gen = rng.bit_generator
    bit_gen.advance((used + 1) // 2)
    state = bit_gen.state
    state["has_uint32"], state["uinteger"] = used % 2, int(high)
    bit_gen.state = state


def uniform_f32(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.random(n, dtype=np.float32)``, the same values, leaving ``rng`` where that call
    leaves it: NumPy's ``(word >> 8) * 2**-24`` (exact in float32) over the bit generator's raw
    outputs drawn a block at a time, instead of NumPy's call per value (~1.4x faster)."""
    copy = _word_source(rng) if n else None
    if copy is None:
        return rng.random(n, dtype=np.float32)
    out = np.empty(n, dtype=np.float32)
    scale = np.float32(1.0 / 16777216.0)
    words = np.empty(0, dtype=np.uint32)
    loop = pcg_kernel.float32_loop() if kernel_name() == "numba" else None  # one pass, no temporary
    for lo in range(0, n, 2 * RAW_BLOCK):
        hi = min(lo + 2 * RAW_BLOCK, n)
        words = copy.random_raw((hi - lo + 1) // 2).view(np.uint32)
        if loop is not None:
            loop(words, out[lo:hi])
        else:
            np.multiply(words[:hi - lo] >> np.uint32(8), scale, out=out[lo:hi], dtype=np.float32, casting="unsafe")
    _skip_words(rng, n, words[-1])  # the last block's last word: the high half
    return out


def exponential_f32(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.standard_exponential(n, dtype=np.float32)``, the same values, leaving ``rng`` where
    that call leaves it: NumPy's ziggurat compiled over the bit generator's raw outputs drawn a
    block at a time (~2x faster than NumPy's call per value). NumPy draws without Numba, for
    another bit generator, or if Numba lacks the ziggurat tables."""
    copy = _word_source(rng) if n else None
    zig = _ziggurat_tables() if kernel_name() == "numba" else None
    if copy is None or zig is None:
        return rng.standard_exponential(n, dtype=np.float32)
    loop = column_kernel.load()["exponential_f32"]
    out = np.empty(n, dtype=np.float32)
    i = used = h = 0
    words = np.empty(0, dtype=np.uint32)
    while i < n:
        fresh = copy.random_raw(RAW_BLOCK).view(np.uint32)
        words = np.concatenate((words[h:], fresh)) if h < words.size else fresh
        i, h = loop(words, out, i, *zig)
        used += h
    _skip_words(rng, used, words[h] if used % 2 else words[h - 1])
    return out


def _normal_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """NumPy's float64 normal ziggurat tables (``ki_double``, ``wi_double``, ``fi_double``, the
    tail's start and its inverse), from Numba's translation of NumPy's generators; None if absent."""
    try:
        from numba.np.random import _constants as zig

        return (np.asarray(zig.ki_double, dtype=np.uint64), np.asarray(zig.wi_double, dtype=np.float64),
                np.asarray(zig.fi_double, dtype=np.float64), float(zig.ziggurat_nor_r),
                float(zig.ziggurat_nor_inv_r))
    except (ImportError, AttributeError):
        return None


def standard_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.standard_normal(n)`` (float64), the same values, leaving ``rng`` where that call
    leaves it: NumPy's ziggurat compiled over the compiled PCG64's outputs (:mod:`sim.core.pcg_kernel`),
    ~4x faster than NumPy's call per value. NumPy draws without Numba or for another bit generator."""
    bit_gen = rng.bit_generator
    zig = _normal_tables() if n and pcg_kernel.available(bit_gen) else None
    if zig is None:
        return rng.standard_normal(n)
    source = pcg_kernel.WordStream(bit_gen)
    loop = column_kernel.load()["normal_f64"]
    out = np.empty(n)
    i = used = h = 0
    words = np.empty(0, dtype=np.uint64)
    while i < n:
        # enough outputs for the rest as a rule (1.4% of the values take more than one)
        fresh = source.random_raw((n - i) + (n - i) // 32 + 64)
        words = np.concatenate((words[h:], fresh)) if h < words.size else fresh
        i, h = loop(words, out, i, *zig)
        used += h
    pcg_kernel.advance(bit_gen, used)
    return out


POISSON_BLOCK = 1 << 16
"""Uniforms drawn at a time for :func:`poisson` (512 KB)."""


def poisson(rng: np.random.Generator, lam: float, n: int) -> np.ndarray:
    """``rng.poisson(lam, size=n)`` as int32, leaving ``rng`` where that call leaves it, for
    ``0 < lam < 10`` (NumPy's multiplication method; other means are not handled here).

    The uniforms are drawn in blocks from a copy of the bit generator (what ``Generator.random``
    draws is what the Poisson draw reads, one 64-bit output each), consumed by the compiled loop,
    and ``rng`` is then advanced by the number used: ~2x faster than NumPy's draw, whose cost is
    a call per uniform, and no int64 column.
    """
    if not 0 < lam < 10:
        raise ValueError(f"poisson: lam={lam} outside (0, 10)")
    loop = column_kernel.load()["poisson_mult"]
    bit_gen = type(rng.bit_generator)()
    bit_gen.state = rng.bit_generator.state
    copy = np.random.Generator(bit_gen)
    out = np.empty(n, dtype=np.int32)
    enlam = np.exp(-lam)  # the C code's exp(-lam), computed once (the same double)
    i, x, prod, used = 0, 0, 1.0, 0
    while i < n:
        i, x, prod, j = loop(copy.random(POISSON_BLOCK), enlam, out, i, x, prod)
        used += j
    rng.bit_generator.advance(used)
    return out
