"""The 2021 plan's launch campaign (policies.plan_launch) against numbers derived by hand.

Degenerate populations (readiness 1, no entry or exit, every other rate and instrument off): the
campaign's push ``r`` per year is the only hazard, so a firm adopts inside the campaign's ``m``
months with probability ``1 - exp(-r m / 12)`` and never outside them.
"""

from __future__ import annotations

import math

import numpy as np

from sim.analysis.history_match import LAUNCH_PARAMETERS, parameters_for
from sim.core.model import CloudAdoptionModel
from sim.scenario.loader import load_scenario

N = 20_000


def _cfg(make_degenerate, launch: dict, *, above_on_cloud: bool = False):
    extra: dict = {"policies": {"plan_launch": launch}}
    if above_on_cloud:  # every firm above scale and on the cloud: the transformation stage's pool
        extra["population"] = {"total_firms": N, "industrial_firms": N, "above_scale_firms": N, "lead_firms": 0}
        extra["initial"] = {"above_scale_cloud_share": 1.0, "cloud_firms": N}
    return make_degenerate(0.0, 0.0, total_firms=N, substeps=1, years=1, extra=extra)


def test_cloud_push_acts_only_in_the_campaign_months(make_degenerate) -> None:
    """0.9/yr from 2021-09 to 2021-12 (months 3-6 of a run from 2021-06): 1 - exp(-0.3) = 25.9%
    of the firms adopt in those four months, none before or after."""
    cfg = _cfg(make_degenerate, {"enabled": True, "start": "2021-09", "end": "2021-12", "cloud_rate_per_year": 0.9})
    cloud = CloudAdoptionModel(cfg).run().total("cloud_cumulative")
    assert list(cloud[:3]) == [0, 0, 0]
    assert np.all(np.diff(cloud[3:7]) > 0)
    assert np.all(cloud[7:] == cloud[6])
    expected = N * (1 - math.exp(-0.9 * 4 / 12))  # 5,184
    sd = math.sqrt(expected * (1 - expected / N))  # binomial, ~62
    assert abs(cloud[6] - expected) < 4 * sd


def test_transform_push_acts_on_the_above_scale_firms_on_the_cloud(make_degenerate) -> None:
    """1.2/yr over the default months 2021-07 to 2021-12 (six): 1 - exp(-0.6) = 45.1% transform;
    the cloud push stays 0, so the cloud count does not move."""
    cfg = _cfg(make_degenerate, {"enabled": True, "transform_rate_per_year": 1.2}, above_on_cloud=True)
    out = CloudAdoptionModel(cfg).run()
    trans = out.total("transformed")
    assert trans[0] == 0 and np.all(trans[7:] == trans[6])
    expected = N * (1 - math.exp(-1.2 * 6 / 12))  # 9,024
    sd = math.sqrt(expected * (1 - expected / N))  # ~70
    assert abs(trans[6] - expected) < 4 * sd
    assert np.all(out.total("cloud_cumulative") == N)


def test_off_or_zero_campaign_reproduces_the_run_without_it(make_default_style) -> None:
    """Neutral defaults: switched on with zero pushes (or on with pushes but scale 0) the run is
    the same bytes as the scenario without the key."""
    plain = CloudAdoptionModel(make_default_style(10_000)).run().cells
    zero = make_default_style(10_000, policies={"plan_launch": {"enabled": True}})
    off = make_default_style(10_000, policies={"plan_launch": {"enabled": True, "scale": 0.0,
                                                               "cloud_rate_per_year": 0.5}})
    for cfg in (zero, off):
        assert np.array_equal(CloudAdoptionModel(cfg).run().cells, plain)


def test_history_launch_adds_only_the_campaign_and_the_match_calibrates_it() -> None:
    quota, launch = load_scenario("history_quota"), load_scenario("history_launch")
    a, b = quota.model_dump(mode="json"), launch.model_dump(mode="json")
    for d in (a, b):
        for key in ("name", "description"):
            d.pop(key)
        d["policies"].pop("plan_launch")
    assert a == b
    spec = launch.policies.plan_launch
    assert spec.enabled and (spec.start, spec.end) == ("2021-07", "2021-12")
    names = [p.name for p in parameters_for(launch)]
    assert names[-2:] == [p.name for p in LAUNCH_PARAMETERS]
    assert not set(names) & {p.name for p in LAUNCH_PARAMETERS} - set(names[-2:])
    assert not {p.name for p in LAUNCH_PARAMETERS} & {p.name for p in parameters_for(quota)}
