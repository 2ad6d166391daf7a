"""The population built in a forked process before the model is imported (sim.runs.prebuild) is
the one the model builds, and a run that takes it gives the same bytes."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.population import build_population
from sim.core.seeds import replicate_structure_seed
from sim.runs import prebuild
from sim.runs.replicate import ReplicateRun, run_one
from sim.scenario.schema import Scenario

SMALL = {"population": {"total_firms": 20_000}, "time": {"end": "2022-06"}}


@pytest.fixture
def scenario():
    sc = Scenario.model_validate(SMALL)
    if not prebuild.worth_it(sc):
        pytest.skip("needs fork, two CPUs and no other thread running")
    yield sc
    prebuild.discard()


def arrays(pop) -> dict[str, bytes]:
    return {k: (v.dtype.str, v.tobytes()) for k, v in vars(pop).items() if isinstance(v, np.ndarray)}


def test_the_prebuilt_population_is_the_one_the_model_builds(scenario):
    assert prebuild.start(scenario, 0)
    got = prebuild.take(scenario, 0, scenario.run.seed)
    assert got is not None and not prebuild.in_flight()
    ref = build_population(scenario, replicate_structure_seed(scenario, scenario.run.seed, 0))
    assert arrays(got) == arrays(ref)
    assert (got.n_initial, got.meta) == (ref.n_initial, ref.meta)
    assert got.adj_indices.size > 40_000  # real links came through the pipe


def test_a_build_for_another_run_is_not_used(scenario):
    assert prebuild.start(scenario, 0)
    assert prebuild.take(scenario, 1, scenario.run.seed) is None  # another replicate
    assert not prebuild.in_flight()  # discarded
    assert prebuild.start(scenario, 0)
    assert prebuild.take(scenario, 0, scenario.run.seed + 1) is None  # another root seed
    other = Scenario.model_validate({**SMALL, "population": {"total_firms": 20_001}})
    assert prebuild.start(scenario, 0)
    assert prebuild.take(other, 0, other.run.seed) is None  # another scenario


def test_a_run_taking_the_prebuilt_population_gives_the_same_bytes(scenario):
    spec = ReplicateRun(scenario, scenario.name, replicate=0, root_seed=scenario.run.seed)
    plain = run_one(spec)
    assert prebuild.start(scenario, 0)
    taken = run_one(spec)
    assert not prebuild.in_flight()  # the run took it
    assert plain.ok and taken.ok
    assert plain.timeseries.to_csv().encode() == taken.timeseries.to_csv().encode()


def test_no_build_for_a_scenario_whose_structure_is_shared_or_uncertain():
    shared = Scenario.model_validate({**SMALL, "population": {"total_firms": 20_000, "structure_pool": 2}})
    assert not prebuild.worth_it(shared)
    assert not prebuild.start(shared, 0) and not prebuild.in_flight()


def test_the_command_line_starts_a_build_only_for_one_replicate_in_this_process(scenario):
    from sim.cli.commands import start_population_build
    from sim.cli.parser import build_parser

    small = ["--set", "population.total_firms=20000", "--set", "time.end=2022-06"]
    for extra, expected in (([], True), (["-n", "2"], False), (["--executor", "dask"], False),
                            (["-j", "2"], True)):
        args = build_parser().parse_args(["run", "baseline", *small, *extra])
        start_population_build(args)
        assert prebuild.in_flight() is expected, extra
        prebuild.discard()
