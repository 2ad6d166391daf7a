"""The batch path (sim/core/batch.py): structures reused across replicates give the same bytes.

A cached population and its static model tables must give exactly what a model building its own
population gives, for a fixed structure, a pool of K structures and per-replicate structures.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from sim.core import batch
from sim.core.model import CloudAdoptionModel, apply_overrides
from sim.scenario.schema import Scenario


def scenario(**population) -> Scenario:
    return Scenario.model_validate({"population": {"total_firms": 6_000, **population},
                                    "time": {"start": "2021-06", "end": "2022-12"}})


def cells(config: Scenario, replicate: int, population=None) -> np.ndarray:
    return CloudAdoptionModel(config, replicate=replicate, population=population).run().cells


def test_pool_cycles_k_structures_and_matches_models_building_their_own():
    batch.clear_cache()
    pooled, unpooled = scenario(structure_pool=2), scenario()
    pops = [batch.structure_for(pooled, r) for r in range(5)]
    assert [cached for _, cached in pops] == [False, False, True, True, True]
    assert pops[4][0] is pops[0][0] and pops[3][0] is pops[1][0] and pops[0][0] is not pops[1][0]
    assert batch.cached_structures() == 2
    for r in (0, 1, 4):
        got = cells(pooled, r, pops[r][0])
        np.testing.assert_array_equal(got, cells(pooled, r))  # the model draws the same structure
    # The first K replicates of a pool are those of an unpooled run; later ones differ from it.
    np.testing.assert_array_equal(cells(pooled, 1, pops[1][0]), cells(unpooled, 1))
    assert not np.array_equal(cells(pooled, 4, pops[4][0]), cells(unpooled, 4))
    batch.clear_cache()


def test_reused_structure_and_static_tables_give_the_same_bytes_as_fresh_ones():
    batch.clear_cache()
    sc = scenario(exit_rate_per_year=0.05)
    pop, _ = batch.structure_for(sc, 3)
    first = cells(sc, 3, pop)
    tables = pop.derived["model"]
    second = cells(sc, 3, pop)  # static tables reused, counts copied (the first run changed its own)
    assert pop.derived["model"] is tables
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, cells(sc, 3))
    assert first[-1, :, 1].sum() > first[0, :, 1].sum()  # adoption happened: a real run
    with pytest.raises(ValueError):
        tables["chain_n"][0] = 1.0  # read-only: a model cannot corrupt the shared tables
    # other parameters on the same structure: another result, same structure object
    other = apply_overrides(sc, {"diffusion__cloud__market_rate_per_year": 0.2})
    again, cached = batch.structure_for(other, 3)
    assert cached and again is pop
    assert not np.array_equal(cells(other, 3, again), first)
    batch.clear_cache()


def test_fixed_structure_is_one_structure_and_pool_excludes_it():
    batch.clear_cache()
    sc = scenario(structure_seed=5)
    assert batch.structure_for(sc, 0)[0] is batch.structure_for(sc, 7)[0]
    with pytest.raises(ValidationError, match="not both"):
        scenario(structure_seed=5, structure_pool=3)
    batch.clear_cache()


def test_docstring_examples():
    import doctest

    batch.clear_cache()
    failed, _ = doctest.testmod(batch)
    assert failed == 0
    batch.clear_cache()


def test_structure_reused_for_other_readiness_multipliers_gives_the_same_bytes():
    # The history match calibrates population.readiness_by_size.above_scale: a pooled structure
    # is reused with only its readiness column redrawn, exactly what a fresh build gives.
    from dataclasses import fields

    from sim.core.population import build_population
    from sim.core.seeds import replicate_structure_seed

    batch.clear_cache()
    sc = scenario(structure_pool=2)
    first, _ = batch.structure_for(sc, 0)
    cells(sc, 0, first)  # a run on the first column fills the structure's cached model tables
    other = apply_overrides(sc, {"population__readiness_by_size__above_scale": 3.1})
    pop, cached = batch.structure_for(other, 2)  # replicate 2 runs on structure 0
    assert cached and pop is not first and batch.cached_structures() == 1
    fresh = build_population(other, replicate_structure_seed(other, other.run.seed, 2))
    for f in fields(fresh):
        if isinstance(getattr(fresh, f.name), np.ndarray):
            np.testing.assert_array_equal(getattr(pop, f.name), getattr(fresh, f.name), err_msg=f.name)
    above = fresh.size_class == 1
    ratio = pop.readiness[above] / first.readiness[above]
    assert np.allclose(ratio, 3.1 / sc.population.readiness_by_size.above_scale, rtol=1e-6)
    assert np.array_equal(pop.readiness[~above], first.readiness[~above])
    np.testing.assert_array_equal(cells(other, 2, pop), cells(other, 2))
    assert batch.structure_for(other, 0)[0] is pop  # the cache now holds the new column
    batch.clear_cache()


def test_close_frees_the_state_at_once_and_simulate_closes(monkeypatch):
    """A closed model's firm columns are freed without waiting for the cyclic garbage collector
    (Mesa models hold reference cycles); simulate() closes its model; a model dropped unclosed is
    collected before the next large model is built."""
    import gc
    import weakref

    from sim.core import model as model_mod

    config = scenario()
    gc.disable()
    try:
        model = CloudAdoptionModel(config, replicate=1)
        column = weakref.ref(model.state.lam_cloud)
        out = model.run()
        assert not model.closed
        model.close()
        assert model.closed and column() is None  # freed now, not at the next collection
        del model
        closed, close = [], CloudAdoptionModel.close
        monkeypatch.setattr(CloudAdoptionModel, "close", lambda self: (closed.append(self.replicate), close(self)))
        np.testing.assert_array_equal(model_mod.simulate(config, 1).cells, out.cells)
        assert closed == [1]
        # A large model dropped without close() is collected when the next one is built.
        monkeypatch.setattr(model_mod, "COLLECT_ABOVE_FIRMS", 1_000)
        dropped = CloudAdoptionModel(config, replicate=2)
        column = weakref.ref(dropped.state.lam_cloud)
        del dropped  # Mesa models hold reference cycles: only the collector frees it
        CloudAdoptionModel(config, replicate=3)
        assert column() is None
    finally:
        gc.enable()


def test_voucher_push_start_column_is_kept_for_the_next_run_on_the_structure():
    from sim.core.state import VoucherPush

    rng = np.random.default_rng(4)
    n = 5_000
    readiness_dt = rng.random(n, dtype=np.float32)
    static_ok = rng.random(n) < 0.7
    young = np.sort(rng.choice(n, 800, replace=False))
    young_month = np.sort(rng.integers(1, 12, young.size)).astype(np.int32)

    def push(cache, rate=0.3, ready=readiness_dt):
        return VoucherPush(ready, rate, static_ok, young, young_month, cache=cache)

    cache: dict = {}
    first, again = push(cache), push(cache)
    assert len(cache) == 1 and again.current is not first.current and again.current.flags.writeable
    for month in (0, 6, 11):  # switched on month by month as without the cache
        want = push(None).now(month).tobytes()
        assert first.now(month).tobytes() == want and again.now(month).tobytes() == want
    assert np.count_nonzero(again.current) > np.count_nonzero(push(None).current) > 2500
    faster = push(cache, rate=0.5)  # another rate: its own start column
    assert len(cache) == 2 and faster.current.tobytes() == push(None, rate=0.5).current.tobytes()
    redrawn = push(cache, ready=readiness_dt * 2)  # another readiness column: computed again
    assert redrawn.current.tobytes() == push(None, ready=readiness_dt * 2).current.tobytes()
