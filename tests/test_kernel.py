"""The compiled kernel (Numba, optional) and the NumPy fallback give the same bytes.

Every mechanism that goes through the two inner loops is switched on: per-cluster chain
multipliers (a per-group chain weight), city voucher quotas (the per-city open flag), chain-leader
pull, entry, exit, churn and two sub-steps a month.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from sim.core import kernel, stage_kernel
from sim.core.links import symmetric_csr
from sim.core.model import CloudAdoptionModel, apply_overrides
from sim.scenario.schema import Scenario

HAS_NUMBA = importlib.util.find_spec("numba") is not None

CASES = {
    "default": {},
    "every_mechanism": {
        "population__exit_rate_per_year": 0.05,
        "time__substeps_per_month": 2,
        "diffusion__cloud__cluster_peer_multiplier": {"electronics": 1.5},
        "diffusion__churn_rate_per_year": 0.3,
        "policies__vouchers__budget_cny_per_year": 2.0e7,
        "policies__vouchers__city_quota_shares": {"Guangzhou": 0.5, "Foshan": 0.5},
    },
}


def run_cells(monkeypatch, name: str, overrides: dict) -> np.ndarray:
    monkeypatch.setenv("GDCLOUD_KERNEL", name)
    assert kernel.kernel_name() == name
    base = Scenario.model_validate({"population": {"total_firms": 30_000}, "time": {"end": "2023-12"}})
    return CloudAdoptionModel(apply_overrides(base, overrides), replicate=1).run().cells


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_numba_and_numpy_kernels_give_the_same_bytes(monkeypatch, case):
    a = run_cells(monkeypatch, "numpy", CASES[case])
    b = run_cells(monkeypatch, "numba", CASES[case])
    assert a.tobytes() == b.tobytes()
    assert a[-1, :, 1].sum() > a[0, :, 1].sum() + 500  # real adoption happened in the run


@pytest.mark.parametrize("name", ["numpy", "numba"] if HAS_NUMBA else ["numpy"])
def test_deciders_onboarded_in_ascending_order_give_the_same_bytes(monkeypatch, name):
    """Where the service capacity cannot bind, the deciders are onboarded in ascending order
    instead of priority order (no sort): every output and per-firm column is the same as with the
    sort, with vouchers (claimants in priority order, refusals), churn, exit and transformation."""
    from sim.core import stages

    monkeypatch.setenv("GDCLOUD_KERNEL", name)
    base = Scenario.model_validate({"population": {"total_firms": 30_000}, "time": {"end": "2024-06"}})
    config = apply_overrides(base, {**CASES["every_mechanism"], "policies__service_capacity__enabled": False})

    decide = stages.onboarding_order_matters

    def run(sort_always: bool):
        calls = []
        monkeypatch.setattr(stages, "onboarding_order_matters",
                            lambda *a: calls.append(decide(*a)) or sort_always or decide(*a))
        model = CloudAdoptionModel(config, replicate=2)
        out = model.run()
        st = model.state
        columns = (st.cloud_state, model.cloud_month, st.trans_month, st.subsidised, st.lam_trans, st.thr_cloud)
        return out.cells.tobytes() + b"".join(c.tobytes() for c in columns), calls

    sorted_run, calls = run(True)
    ascending_run, _ = run(False)
    assert calls and not any(calls)  # the capacity never binds: the default run skips the sort
    assert sorted_run == ascending_run


def test_unknown_kernel_is_refused(monkeypatch):
    monkeypatch.setenv("GDCLOUD_KERNEL", "fortran")
    with pytest.raises(ValueError, match="allowed: numpy, numba"):
        kernel.kernel_name()


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_compiled_adjacency_equals_the_key_sort(monkeypatch):
    rng = np.random.default_rng(5)
    n = 2_000
    src = np.sort(rng.integers(0, n, 9_000)).astype(np.int32)
    dst = rng.integers(-1, n, 9_000).astype(np.int32)
    dst[:300] = src[:300]  # self-links
    dst[300:600], src[300:600] = dst[600:900], src[600:900]  # links drawn twice
    hub = rng.integers(0, n, 3_000).astype(np.int32)  # a hub row longer than any sort threshold
    src, dst = np.concatenate((src, np.full(3_000, 7, dtype=np.int32))), np.concatenate((dst, hub))
    out = {}
    for name in ("numpy", "numba"):
        monkeypatch.setenv("GDCLOUD_KERNEL", name)
        out[name] = symmetric_csr(n, src, dst)
    assert out["numpy"][0].tobytes() == out["numba"][0].tobytes()
    assert out["numpy"][1].tobytes() == out["numba"][1].tobytes()
    assert out["numba"][1].dtype == np.int32 and out["numba"][0][-1] > 15_000


def test_ctrl_c_inside_a_compiled_call_is_a_keyboard_interrupt():
    def dispatcher_with_pending_interrupt(*args):  # what Numba's dispatcher does on a SIGINT
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("CPUDispatcher returned a result with an exception set") from exc

    def wrapped_twice(*args):  # the unpickler of a cached kernel, inside the dispatcher
        try:
            dispatcher_with_pending_interrupt()
        except SystemError as exc:
            raise SystemError("CPUDispatcher returned a result with an exception set") from exc

    for fn in (dispatcher_with_pending_interrupt, wrapped_twice):
        with pytest.raises(KeyboardInterrupt):
            kernel.interruptible(fn)(1, 2)

    def other_error(*args):
        raise SystemError("a real one")

    with pytest.raises(SystemError, match="a real one"):
        kernel.interruptible(other_error)()


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_ids_read_from_the_cell_give_the_same_bytes_as_the_columns(monkeypatch):
    """The compiled onboarding and count updates read the cluster-city and size class from the cell
    id when the structure encodes them so (checked per structure), else from their columns."""
    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    base = apply_overrides(Scenario.model_validate({"population": {"total_firms": 30_000}, "time": {"end": "2023-12"}}),
                           CASES["every_mechanism"])
    coded = CloudAdoptionModel(base, replicate=1)
    columns = CloudAdoptionModel(base, replicate=1)
    assert coded.state.cell_coded
    columns.state.cell_coded = False  # the months read the columns
    a, b = coded.run().cells, columns.run().cells
    assert a.tobytes() == b.tobytes()
    assert a[-1, :, 3].sum() > a[0, :, 3].sum()  # transformations (count updates of above-scale firms) happened


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_onboarding_words_hold_the_columns_and_give_the_same_bytes(monkeypatch):
    """Onboarding reads a firm's park, cell and link range from one word when the structure fits
    (checked per structure) and from the columns otherwise: the same bytes either way."""
    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    base = apply_overrides(Scenario.model_validate({"population": {"total_firms": 30_000}, "time": {"end": "2023-12"}}),
                           CASES["every_mechanism"])
    words = CloudAdoptionModel(base, replicate=1)
    columns = CloudAdoptionModel(base, replicate=1)
    st, pop = words.state, words.pop
    w = st.onboard_word
    assert w is not None and w.size == pop.n_firms
    np.testing.assert_array_equal(w & np.uint64(0xFFFFFFFF), pop.adj_indptr[:-1])
    np.testing.assert_array_equal((w >> np.uint64(32)) & np.uint64(0xFFFF), np.diff(pop.adj_indptr))
    group = (w >> np.uint64(48)).astype(np.int64)
    np.testing.assert_array_equal(group >> 2, pop.park)
    np.testing.assert_array_equal(st.pg_cell[group], pop.cell)
    pg = st.pg.copy()
    pg[5] ^= 1  # another size class than its cell's: no words
    assert stage_kernel.onboard_words(pop.adj_indptr, pg, pop.cell, st.pg_cell) is None
    columns.state.onboard_word = None  # the months read the columns
    a, b = words.run().cells, columns.run().cells
    assert a.tobytes() == b.tobytes()
    assert a[-1, :, 1].sum() > a[0, :, 1].sum() + 500  # onboarding happened


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_narrow_counts_give_the_same_bytes_as_float32_counts(monkeypatch):
    """The partner counts (int16) and leader-partner counts (int8) the cloud stage streams are
    narrowed while a structure's links fit; the float32 counts of a structure that does not fit
    give the same bytes."""
    from sim.core import tables

    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    base = apply_overrides(Scenario.model_validate({"population": {"total_firms": 30_000}, "time": {"end": "2023-12"}}),
                           CASES["every_mechanism"])
    narrow = CloudAdoptionModel(base, replicate=1)
    assert narrow.state.chain_n.dtype == np.int16 and narrow.state.lead_n.dtype == np.int8
    a = narrow.run().cells
    monkeypatch.setattr(tables, "partner_count_dtype", lambda pop: np.dtype(np.float32))
    monkeypatch.setattr(tables, "leader_count_dtype", lambda pop, is_lead, *start_counts: np.dtype(np.float32))
    wide = CloudAdoptionModel(base, replicate=1)
    assert wide.state.chain_cloud.dtype == np.float32 and wide.state.lead_trans.dtype == np.float32
    b = wide.run().cells
    assert a.tobytes() == b.tobytes()
    assert a[-1, :, 3].sum() > a[0, :, 3].sum()  # transformations (leader counts) happened


def test_the_kernels_size_class_codes_are_the_populations():
    """kernel.py restates three population constants (it must not import the population module):
    the compiled cloud pass's group ids (size class x parks + park) and the chain and above-scale
    tests are wrong if they drift."""
    from sim.core import population

    assert (kernel.ABOVE_CODE, kernel.LEAD_CODE, kernel.N_SIZE_CLASSES) == (population.ABOVE, population.LEAD,
                                                                            population.N_SIZE)
