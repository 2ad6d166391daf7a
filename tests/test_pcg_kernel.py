"""The compiled PCG64 (sim/core/pcg_kernel.py) gives NumPy's outputs and float32 uniforms, the
compiled normal ziggurat NumPy's normals, and the generator is left where NumPy's own draw leaves it."""

import importlib.util

import numpy as np
import pytest

from sim.core import pcg_kernel

HAS_NUMBA = importlib.util.find_spec("numba") is not None

pytestmark = pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")


@pytest.fixture(autouse=True)
def _compiled_kernel(monkeypatch):
    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")


def test_word_stream_gives_random_raw_over_calls_of_any_length():
    bit_gen = np.random.PCG64(np.random.SeedSequence(2024))
    stream = pcg_kernel.WordStream(bit_gen)
    ref = np.random.PCG64()
    ref.state = bit_gen.state
    for count in (0, 1, 3, 4, 5, 65_536, 7, 2, 131_075):
        got = stream.random_raw(count)
        assert got.dtype == np.uint64 and np.array_equal(got, ref.random_raw(count)), count
    assert bit_gen.state["state"] != ref.state["state"]  # the source itself is not advanced


@pytest.mark.parametrize("kept_half", [False, True])
def test_uniform_stream_draws_generator_random_float32(kept_half):
    seed = np.random.SeedSequence(7)
    source, ref = np.random.Generator(np.random.PCG64(seed)), np.random.Generator(np.random.PCG64(seed))
    if kept_half:  # an odd float32 draw leaves the high half of an output kept for the next one
        source.random(1, dtype=np.float32)
        ref.random(1, dtype=np.float32)
        assert source.bit_generator.state["has_uint32"] == 1
    stream = pcg_kernel.UniformStream(source.bit_generator)
    buf = np.empty(10_000, dtype=np.float32)
    for m in (5, 1, 4, 9_999, 3, 10_000, 0, 2):
        got = stream.random(out=buf[:m]) if m % 2 else stream.random(m)
        expect = ref.random(m, dtype=np.float32)
        assert got.dtype == np.float32 and got.tobytes() == expect.tobytes(), m


@pytest.mark.parametrize("kept_half", [False, True])
@pytest.mark.parametrize("n", [0, 1, 65_536, 1_000_003])
def test_compiled_standard_normal_is_numpys_and_leaves_the_generator_where_it_does(kept_half, n):
    from sim.core import random_draws

    seed = np.random.SeedSequence(3, spawn_key=(n,))
    rng, ref = np.random.default_rng(seed), np.random.default_rng(seed)
    if kept_half:
        rng.random(1, dtype=np.float32)
        ref.random(1, dtype=np.float32)
    for _ in range(2):  # twice: the second draw starts where the first left the generator
        got = random_draws.standard_normal(rng, n)
        expect = ref.standard_normal(n)
        assert got.dtype == np.float64 and got.tobytes() == expect.tobytes()
        assert rng.bit_generator.state == ref.bit_generator.state
    if n > 1_000_000:  # both slow paths were drawn: the tail beyond 3.654 and the wedges
        assert np.abs(got).max() > 3.66
        assert np.count_nonzero(np.abs(got) > 3.654) > 50
    assert rng.random(3).tobytes() == ref.random(3).tobytes()
