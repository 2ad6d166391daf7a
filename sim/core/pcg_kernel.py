"""NumPy's PCG64 bit generator compiled (Numba, the optional ``fast`` extra): the same 64-bit
outputs as ``PCG64.random_raw`` and the same float32 uniforms as ``Generator.random(dtype=float32)``.

Why: the set-up draws four float32 uniforms per supply link (55 M at 5,000,000 firms), which
NumPy makes with a call per value, and the thresholds' and normals' compiled ziggurats
(:mod:`sim.core.random_draws`) read raw outputs. PCG64's step is a 128-bit multiply-add, so one
state after another is a chain of dependent multiplies: the compiled loop advances four states at
once (lane ``l`` holds state ``j + l`` and steps by ``A = M**4``, ``C = inc (1 + M + M**2 +
M**3)``, mod 2**128), which gives the outputs in the same order. Measured in one process,
alternating with NumPy's calls (2026-11-30, load 6-7): float32 uniforms 0.50x NumPy's time, raw
outputs 0.87x ``random_raw``. (float64 uniforms are not faster than NumPy's own loop: not used.)

The streams here are read-only copies: callers leave the generator itself where NumPy would
(:func:`advance`, or ``bit_generator.advance`` as :mod:`sim.core.links` does);
``tests/test_pcg_kernel.py`` checks every output and value against NumPy's.
"""

from __future__ import annotations

import sys

import numpy as np

from sim.core.kernel import interruptible, kernel_name

MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
"""PCG64's 128-bit multiplier (NumPy's ``PCG_DEFAULT_MULTIPLIER_128``, pcg64.h)."""

LANES = 4
MASK128 = (1 << 128) - 1
MASK64 = (1 << 64) - 1

_compiled: dict[str, object] = {}


def _kernels() -> dict[str, object]:
    """Load the generator loops (:mod:`sim.core.pcg_loops`, compiled or from Numba's on-disk
    cache), once per process."""
    if _compiled:
        return _compiled
    from sim.core import pcg_loops

    _compiled.update({name: interruptible(getattr(pcg_loops, name)) for name in ("raw", "float32_of")})
    return _compiled


def float32_loop():
    """The compiled loop ``(halves uint32, out float32)`` writing NumPy's float32 uniform of each
    32-bit half (``(half >> 8) * 2**-24``)."""
    return _kernels()["float32_of"]


def available(bit_gen: np.random.BitGenerator) -> bool:
    """Whether the compiled stream can copy ``bit_gen``: Numba in use, a PCG64, little-endian."""
    return kernel_name() == "numba" and type(bit_gen) is np.random.PCG64 and sys.byteorder == "little"


class WordStream:
    """The 64-bit outputs ``bit_gen.random_raw`` would give from its current state, compiled
    (``bit_gen`` itself is not advanced; a kept 32-bit half is the caller's business).

    Args:
        bit_gen: A PCG64 (:func:`available`).
    """

    def __init__(self, bit_gen: np.random.PCG64):
        state = bit_gen.state["state"]
        s, inc = state["state"], state["inc"]
        lanes = []
        for _ in range(LANES):
            s = (s * MULTIPLIER + inc) & MASK128
            lanes += [s >> 64, s & MASK64]
        a, c = 1, 0
        for _ in range(LANES):
            a, c = (a * MULTIPLIER) & MASK128, (c * MULTIPLIER + inc) & MASK128
        self.lanes = np.array(lanes, dtype=np.uint64)
        self.step = tuple(np.uint64(v) for v in (a >> 64, a & MASK64, c >> 64, c & MASK64))
        self.pending = np.empty(0, dtype=np.uint64)  # outputs made (a multiple of four) not yet given
        self.loop = _kernels()["raw"]

    def random_raw(self, count: int) -> np.ndarray:
        """The next ``count`` outputs (uint64), as ``PCG64.random_raw(count)``."""
        out = np.empty(count, dtype=np.uint64)
        had = min(self.pending.size, count)
        out[:had] = self.pending[:had]
        self.pending = self.pending[had:]
        whole = had + (count - had) // LANES * LANES
        if whole > had:
            self.loop(self.lanes, *self.step, out[had:whole])
        if whole < count:
            extra = np.empty(LANES, dtype=np.uint64)
            self.loop(self.lanes, *self.step, extra)
            out[whole:] = extra[:count - whole]
            self.pending = extra[count - whole:]
        return out


class UniformStream:
    """What ``np.random.Generator(bit_gen).random(dtype=np.float32)`` draws next, compiled
    (``bit_gen`` is not advanced): each float32 takes a 32-bit half of an output, low half first,
    the high half kept for the next draw, as NumPy does.

    Args:
        bit_gen: A PCG64 (:func:`available`); its kept 32-bit half, if any, is the first half.
    """

    def __init__(self, bit_gen: np.random.PCG64):
        self.words = WordStream(bit_gen)
        state = bit_gen.state
        self.half = np.uint32(state["uinteger"]) if state["has_uint32"] else None
        self.to_f32 = _kernels()["float32_of"]

    def random(self, size: int | None = None, dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
        """``Generator.random(size, dtype=np.float32, out=out)`` for a 1-d ``size`` or ``out``."""
        if np.dtype(dtype) != np.float32 or (out is not None and out.dtype != np.float32):
            raise TypeError("UniformStream draws float32 only")
        out = np.empty(size, dtype=np.float32) if out is None else out
        m = out.size
        if m == 0:
            return out
        at = 0
        if self.half is not None:
            self.to_f32(np.array([self.half], dtype=np.uint32), out[:1])
            self.half, at = None, 1
        need = m - at
        if need:
            halves = self.words.random_raw((need + 1) // 2).view(np.uint32)
            self.to_f32(halves[:need], out[at:])
            if need % 2:
                self.half = halves[-1]
        return out


def advance(bit_gen: np.random.PCG64, outputs: int) -> None:
    """Leave ``bit_gen`` where drawing ``outputs`` 64-bit outputs (float64 normals, uniforms...)
    leaves it: ``advance`` forgets a kept 32-bit half, which those draws keep."""
    kept = bit_gen.state
    bit_gen.advance(outputs)
    state = bit_gen.state
    state["has_uint32"], state["uinteger"] = kept["has_uint32"], kept["uinteger"]
    bit_gen.state = state
