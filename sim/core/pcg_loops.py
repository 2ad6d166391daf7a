"""The compiled loops of :mod:`sim.core.pcg_kernel` (imported by it only when Numba is in use).

At module level, not in a closure as the other kernels' loops are: a loop that calls an
intrinsic defined in a closure is compiled again in every process (Numba's on-disk cache does
not match it: ~0.6 s), while this module's are loaded from the cache.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def umulh(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one multiply instruction)."""
    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(p, ir.Constant(wide, 64)), ir.IntType(64))
    return types.uint64(types.uint64, types.uint64), codegen


@numba.njit(cache=True, nogil=True, boundscheck=False)
def raw(lanes, ahi, alo, chi, clo, out):
    # out[t] = the output of state t (XSL-RR: rotate hi ^ lo right by hi >> 58), four states
    # at a time (lanes: hi, lo of states j .. j + 3, stepped by A, C); out.size % 4 == 0.
    h0, l0, h1, l1 = lanes[0], lanes[1], lanes[2], lanes[3]
    h2, l2, h3, l3 = lanes[4], lanes[5], lanes[6], lanes[7]
    s58, m63, s64 = np.uint64(58), np.uint64(63), np.uint64(64)
    for t in range(0, out.size, 4):
        x = h0 ^ l0
        r = h0 >> s58
        out[t] = (x >> r) | (x << ((s64 - r) & m63))
        x = h1 ^ l1
        r = h1 >> s58
        out[t + 1] = (x >> r) | (x << ((s64 - r) & m63))
        x = h2 ^ l2
        r = h2 >> s58
        out[t + 2] = (x >> r) | (x << ((s64 - r) & m63))
        x = h3 ^ l3
        r = h3 >> s58
        out[t + 3] = (x >> r) | (x << ((s64 - r) & m63))
        n0 = l0 * alo + clo
        h0 = h0 * alo + l0 * ahi + umulh(l0, alo) + chi + np.uint64(n0 < clo)
        l0 = n0
        n1 = l1 * alo + clo
        h1 = h1 * alo + l1 * ahi + umulh(l1, alo) + chi + np.uint64(n1 < clo)
        l1 = n1
        n2 = l2 * alo + clo
        h2 = h2 * alo + l2 * ahi + umulh(l2, alo) + chi + np.uint64(n2 < clo)
        l2 = n2
        n3 = l3 * alo + clo
        h3 = h3 * alo + l3 * ahi + umulh(l3, alo) + chi + np.uint64(n3 < clo)
        l3 = n3
    lanes[0], lanes[1], lanes[2], lanes[3] = h0, l0, h1, l1
    lanes[4], lanes[5], lanes[6], lanes[7] = h2, l2, h3, l3
    return 0

@numba.njit(cache=True, nogil=True, boundscheck=False)
def float32_of(halves, out):
    # Generator.random(dtype=float32) of each 32-bit half: (half >> 8) * 2**-24, exact.
    scale = np.float32(1.0 / 16777216.0)
    for j in range(out.size):
        out[j] = np.float32(halves[j] >> np.uint32(8)) * scale
    return 0
