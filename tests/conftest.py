"""Shared fixtures: degenerate scenarios for the analytic checks and a small default-style one.

Every scenario is built with ``Scenario.model_validate({...})`` from the strict schema, so a test
can only use switches that a user could also write in a YAML file.

Degenerate configuration (``validation_reference.md``: homogeneous firms, no entry, no policy):

* one cluster (``population.cluster_shares``: one cluster 1.0, all others 0), or two clusters at
  0.5 each for the two-group check;
* homogeneous readiness: ``readiness_sigma = 0`` and every size-class and cluster multiplier 1.0
  (the cluster readiness of ``cluster_assumptions.csv`` is overridden for all 20 clusters);
* no entry or exit: both growth rates 0, a constant ``above_scale_year_end`` path (no growth after it), exit rate 0;
* no policy: every instrument ``enabled: false``;
* nobody on the cloud at the start: ``initial.cloud_firms = 0``, ``transformed_firms = 0``,
  ``above_scale_cloud_share = 0``;
* Bass complete mixing: ``diffusion.cloud.market_rate_per_year = p`` and
  ``province_weight_per_year = q``; the other peer weights 0, network ``none``;
* ring: network ``ring`` and ``chain_weight_per_year = q`` (the chain share is adopted
  neighbours / 2, so each of the two neighbours carries q/2).

Time: rates are per year and the step is ``1 / (12 * substeps_per_month)`` years; ten years are
``start = 2021-06``, ``end = 2031-06`` (120 months; month k is k/12 years).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim import datasets
from sim.scenario.schema import Scenario

POLICIES = ("vouchers", "platforms", "pilots", "chain_leaders", "service_capacity", "sme_pilot_cities")
"""Every policy instrument of ``Scenario.policies``."""

ZERO_STAGE = {
    "market_rate_per_year": 0.0,
    "chain_weight_per_year": 0.0,
    "park_weight_per_year": 0.0,
    "cluster_city_weight_per_year": 0.0,
    "province_weight_per_year": 0.0,
}
"""Stage rates that give a hazard of exactly zero."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``extra`` into a copy of ``base`` (dicts merged, other values replaced)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def degenerate_scenario(
    p: float,
    q: float,
    *,
    total_firms: int = 100_000,
    substeps: int = 10,
    years: int = 10,
    network: str = "none",
    groups: dict[str, float] | None = None,
    market_multiplier: dict[str, float] | None = None,
    peer_multiplier: dict[str, float] | None = None,
    seed: int = 20210706,
    extra: dict[str, Any] | None = None,
) -> Scenario:
    """A scenario in which the model reduces to an analytic diffusion model.

    Args:
        p: external (innovation) rate per year.
        q: internal (imitation) rate per year; it goes to the province-wide share for
            ``network="none"`` (Bass complete mixing) and to the supply-chain share for
            ``network="ring"`` (each neighbour q/2).
        total_firms: number of firms (no entry, no exit).
        substeps: synchronous updates per month (time step ``1/(12 substeps)`` years).
        years: horizon in whole years from 2021-06.
        network: ``"none"`` or ``"ring"``.
        groups: cluster id -> share of firms; default: all firms in the first cluster.
        market_multiplier: per-cluster multiplier of ``p`` (two-group check).
        peer_multiplier: per-cluster multiplier of ``q`` (two-group check).
        seed: ``run.seed``.
        extra: nested overrides merged into the scenario dictionary before validation.

    Returns:
        The validated scenario.
    """
    ids = datasets.cluster_ids()
    groups = groups or {ids[0]: 1.0}
    years_end = {2019: 60_000, 2020: 60_000, 2021: 60_000}
    on_ring = network == "ring"
    data: dict[str, Any] = {
        "name": "degenerate",
        "time": {"start": "2021-06", "end": f"{2021 + years}-06", "substeps_per_month": substeps},
        "population": {
            "total_firms": total_firms,
            "cluster_shares": {c: float(groups.get(c, 0.0)) for c in ids},
            "cluster_readiness": dict.fromkeys(ids, 1.0),
            "readiness_sigma": 0.0,
            "readiness_by_size": {"lead": 1.0, "above_scale": 1.0, "industrial_sme": 1.0, "service_sme": 1.0},
            "industrial_growth_per_year": 0.0,
            "service_growth_per_year": 0.0,
            "above_scale_year_end": years_end,
            "above_scale_growth_after_data_per_year": 0.0,
            "exit_rate_per_year": 0.0,
            "network": network,
        },
        "initial": {"cloud_firms": 0, "transformed_firms": 0, "above_scale_cloud_share": 0.0},
        "diffusion": {
            "cloud": {
                **ZERO_STAGE,
                "market_rate_per_year": p,
                "chain_weight_per_year": q if on_ring else 0.0,
                "province_weight_per_year": 0.0 if on_ring else q,
                "cluster_market_multiplier": market_multiplier,
                "cluster_peer_multiplier": peer_multiplier,
            },
            "transform": dict(ZERO_STAGE),
            "churn_rate_per_year": 0.0,
        },
        "policies": {name: {"enabled": False} for name in POLICIES},
        "run": {"seed": seed},
    }
    if extra:
        data = _merge(data, extra)
    return Scenario.model_validate(data)


VOUCHER_QUOTAS = {"Guangzhou": 0.25, "Foshan": 0.2, "Dongguan": 0.2, "Shenzhen": 0.1, "Huizhou": 0.1, "Zhongshan": 0.1}
"""City quota shares used by the default-style scenario (Shenzhen's share can never be spent)."""


def default_style_scenario(total_firms: int = 50_000, **extra: Any) -> Scenario:
    """Default parameters at a small population with every mechanism switched on.

    Entry (census growth), exit (``exit_rate_per_year`` 0.05), churn (default 0.1/yr), city
    voucher quotas and every policy instrument are on.

    Args:
        total_firms: population size (counts and budgets scale with total_firms / 2,000,000).
        **extra: nested overrides (as keyword sections, e.g. ``policies={...}``).

    Returns:
        The validated scenario.
    """
    data: dict[str, Any] = {
        "name": "default_style",
        "population": {"total_firms": total_firms, "exit_rate_per_year": 0.05},
        "policies": {"vouchers": {"city_quota_shares": VOUCHER_QUOTAS}},
    }
    return Scenario.model_validate(_merge(data, extra))


@pytest.fixture(scope="session")
def make_degenerate() -> Callable[..., Scenario]:
    """The :func:`degenerate_scenario` builder."""
    return degenerate_scenario


@pytest.fixture(scope="session")
def make_default_style() -> Callable[..., Scenario]:
    """The :func:`default_style_scenario` builder."""
    return default_style_scenario


@pytest.fixture(scope="session")
def full_model():
    """The default scenario at full scale (2,000,000 firms), built once (~6 s), not run."""
    from sim.core.model import CloudAdoptionModel

    return CloudAdoptionModel(Scenario())


@pytest.fixture(scope="session")
def merge() -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    """Recursive dictionary merge used to derive scenario variants."""
    return _merge


def scenario_variant(config: Scenario, extra: dict[str, Any]) -> Scenario:
    """``config`` with nested overrides ``extra`` applied and re-validated."""
    return Scenario.model_validate(_merge(config.model_dump(), extra))


@pytest.fixture(scope="session")
def variant() -> Callable[[Scenario, dict[str, Any]], Scenario]:
    """The :func:`scenario_variant` helper."""
    return scenario_variant
