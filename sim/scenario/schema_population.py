"""The time, population and initial-state sections of the scenario schema."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import (
    Field,
    model_validator,
)

from sim import datasets
from sim.scenario import limits
from sim.scenario.schema_types import Strict, YearMonth, check_cities, check_clusters, month_number

# --------------------------------------------------------------------------- time, population


class TimeSpec(Strict):
    start: YearMonth = Field(
        "2021-06",
        description="Month whose end is the initial state (default 2021-06: 550,000 cloud firms reported, progress_reported.csv).",
    )
    end: YearMonth = Field("2025-12", description="Last simulated month (the plan's horizon, 2025-12-31). Runs may go on to 2030 and beyond; entry after the data then follows the ASSUMPTION growth rates of the population section.")
    substeps_per_month: int = Field(
        1,
        ge=1,
        le=100,
        description="Synchronous updates per month. 1 (monthly) is within ~0.009 of the population of the continuous Bass curve (measured; validation_reference.md s.2); raise for verification runs.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> TimeSpec:
        n = month_number(self.end) - month_number(self.start)
        if n < 1:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        if n > 600:
            raise ValueError(f"at most 600 months can be simulated, got {n}")
        return self


class SizeReadiness(Strict):
    lead: float = Field(4.0, gt=0, le=100, description="Readiness multiplier of chain-leader/lead firms. ASSUMPTION (large firms adopt IT earlier: Eurostat 2018, large 56% vs small 23% cloud use). Plausible range 2-6; a starting assumption to calibrate or carry as an uncertainty.")
    above_scale: float = Field(2.5, gt=0, le=100, description="Readiness multiplier of other above-scale industrial firms. ASSUMPTION (same basis). Plausible range 1.5-3.5. The transformation answer moves with it more than with the transformation rates: calibrate it or carry it as an uncertainty. Constrained by the transformed-firm path (17,000 at 2021-06, 21,000 at end-2021 and the later figures of progress_reported.csv) together with initial.above_scale_cloud_share.")
    industrial_sme: float = Field(1.0, gt=0, le=100, description="Readiness multiplier of below-scale industrial firms (reference class; the market and peer rates carry the level, so it stays 1).")
    service_sme: float = Field(1.0, gt=0, le=100, description="Readiness multiplier of service/other SMEs relative to industrial SMEs. ASSUMPTION. Plausible range 0.5-1.5; constrained by the cloud-firm path (progress_reported.csv) only through the SME mix, so weakly.")


class PopulationSpec(Strict):
    total_firms: int = Field(
        2_000_000,
        ge=1_000,
        le=limits.MAX_FIRMS,
        description=(
            "Firms at the start date that can be counted toward the cloud goal. Default 2,000,000 = "
            "industrial legal units (~668,000 mid-2021, interpolated from the 2018 and 2023 censuses, "
            "population.csv) + ~1.33 M service and trade firms around the clusters (ASSUMPTION: ~42% of "
            "the ~3.15 M other secondary/tertiary legal units mid-2021: 3,127,000 x 1.49^0.5 - 668,000). See docs/model.md."
        ),
    )
    industrial_firms: int | None = Field(
        None,
        ge=0,
        le=limits.MAX_FIRMS,
        description=(
            "Industrial firms (lead + above-scale + below-scale industrial) at the start; default: "
            "total_firms x 0.334 (industrial share of the default, from the census interpolation)."
        ),
    )
    above_scale_firms: int | None = Field(
        None,
        ge=0,
        le=limits.MAX_FIRMS,
        description="Above-scale industrial firms at the start (incl. leads); default interpolated from year-end counts (58,504 end-2020, 66,329 end-2021: 广东统计年鉴2024 t.12-6), scaled by total_firms/2,000,000.",
    )
    lead_firms: int | None = Field(
        None,
        ge=0,
        le=limits.MAX_FIRMS,
        description="Chain-leader/lead firms (一企一策, 链主); default 300 x total_firms/2,000,000 but at least one per cluster with firms (20), so the supplier pull reaches every cluster at any population size. ASSUMPTION: 20 clusters x ~5 key chains x 2-3 leaders per chain (百链 programme, policy_instruments.csv).",
    )
    above_scale_year_end: dict[int, Annotated[int, Field(ge=0, le=limits.MAX_FIRMS)]] = Field(
        default_factory=lambda: {**datasets.above_scale_year_end(), 2024: 73_292, 2025: 74_611},
        description="Above-scale industrial firms at year ends; 2019-2023 reported (广东统计年鉴2024 t.12-6), 2024-2025 ASSUMPTION: +1.8%/yr as in 2022-2023. Entry of above-scale firms follows this path.",
    )
    above_scale_growth_after_data_per_year: float = Field(
        0.018,
        ge=-0.5,
        le=1.0,
        description="Growth per year of the above-scale firms after the last year of above_scale_year_end (runs beyond 2025, up to 2030). ASSUMPTION: +1.8%/yr as in 2022-2023 (广东统计年鉴2024 t.12-6); no data beyond 2024.",
    )
    industrial_growth_per_year: float = Field(0.055, ge=-0.5, le=1.0, description="Net growth of below-scale industrial firms per year: +30.7% 2018-2023 = 5.5%/yr (5th economic census, population.csv).")
    service_growth_per_year: float = Field(0.083, ge=-0.5, le=1.0, description="Net growth of service/other firms per year: +49.0% 2018-2023 = 8.3%/yr (5th economic census, population.csv).")
    exit_rate_per_year: float = Field(0.0, ge=0.0, le=1.0, description="Exit hazard of every firm; 0 by default because census growth rates are net of exits. ASSUMPTION.")
    park_size_mean: int = Field(400, ge=2, le=1_000_000, description="Mean firms per industrial park/cluster area within one cluster and city. ASSUMPTION.")
    customers_per_firm: float = Field(2.0, ge=0.0, le=50.0, description="Mean supply-chain customers per firm (links are undirected for peer influence). ASSUMPTION.")
    same_city_link_share: float = Field(0.8, ge=0.0, le=1.0, description="Share of supply links to a customer in the same city. ASSUMPTION (spillovers are larger within one city: data README).")
    leader_link_share: float = Field(0.1, ge=0.0, le=1.0, description="Share of industrial firms' links that go to a chain leader of their cluster (chain leaders at the hubs). ASSUMPTION.")
    readiness_sigma: float = Field(0.8, ge=0.0, le=5.0, description="Std. dev. of log digital readiness across firms (heterogeneous propensity). ASSUMPTION.")
    readiness_by_size: SizeReadiness = Field(default_factory=SizeReadiness)
    cluster_readiness: dict[str, float] | None = Field(None, description="Override of cluster readiness multipliers (cluster_assumptions.csv, ASSUMPTION).")
    sme_city_shares: dict[str, float] | None = Field(
        None,
        description=(
            "Override of the city distribution of SMEs (below-scale industrial and service firms); cities left out keep "
            "their default weight, then all are renormalized. Default: like above-scale firms (广东统计年鉴2024), which "
            "understates service-heavy cities: Guangzhou reported >100,000 cloud firms at end-2021 (16% of 625,000; "
            "policy_instruments.csv) against ~10% of firms in the default."
        ),
    )
    sme_guangzhou_odds_ratio: float = Field(
        1.0,
        gt=0.0,
        le=10.0,
        description=(
            "Odds of an SME (below-scale industrial or service firm) being in Guangzhou relative to an above-scale "
            "firm of the same cluster; the other cities keep their relative weights. Default 1: SMEs spread like "
            "above-scale industrial firms (广东统计年鉴2024; ASSUMPTION), about 10% in Guangzhou. The data say "
            "otherwise for service-heavy Guangzhou: more than 100,000 of the province's 625,000 cloud firms at end-2021 "
            "(16%) and a target of 200,000 by 2025 (policy_instruments.csv rows guangzhou_status, guangzhou_measures), "
            "i.e. an odds ratio of at least (0.16/0.84)/(0.10/0.90) = 1.7 if SMEs there adopt like elsewhere "
            "(scripts/guangzhou_check.py prints the model's Guangzhou count at a given ratio). Plausible range "
            "1-2.5; a starting assumption to calibrate against the Guangzhou figure or carry as an uncertainty. Not "
            "combinable with a Guangzhou entry in sme_city_shares."
        ),
    )
    cluster_cities_from_data: bool = Field(
        True,
        description=(
            "Where the data give a cluster's split over cities, its firms follow it instead of the above-scale city "
            "distribution. Only the electronics cluster has such data: its value added in Q1-Q3 2020 in Shenzhen (3,706), "
            "Dongguan (1,017), Huizhou (457) and Guangzhou (305 亿 CNY) (clusters.csv row electronics); ASSUMPTION: its "
            "firms in these four cities are split like that value added, the four cities keeping their combined share."
        ),
    )
    cluster_shares: dict[str, float] | None = Field(None, description="Override of the share of firms in each cluster (cluster_assumptions.csv, ASSUMPTION); renormalized.")
    sme_revenue_median_cny: float = Field(3.0e6, gt=0, description="Median annual revenue of SMEs (below-scale and service firms). ASSUMPTION; used only for voucher eligibility.")
    sme_revenue_sigma: float = Field(1.2, ge=0, le=5, description="Std. dev. of log SME revenue. ASSUMPTION.")
    network: Literal["supply_chain", "ring", "none"] = Field(
        "supply_chain",
        description="Supply-chain network: 'supply_chain' (built from the rules above), 'ring' (each firm linked to its two neighbours; for verification against Fibich & Gibori 2010) or 'none'.",
    )
    structure_seed: int | None = Field(
        None,
        ge=0,
        description="If set, the population structure (firms, parks, links, readiness) is built from this seed and shared by all replicates (and cached); if null it is drawn anew from each replicate's seed.",
    )
    structure_pool: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description=(
            "If set (K) and structure_seed is null, replicates cycle over a pool of K population structures: replicate r "
            "runs on the structure replicate r mod K draws, so a worker builds at most K of them (the batch path: "
            "sim/core/batch.py) while structural variation stays; null: every replicate draws its own."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> PopulationSpec:
        if any(not 1900 <= year <= 2200 for year in self.above_scale_year_end):
            raise ValueError("above_scale_year_end years must be from 1900 to 2200")
        if self.structure_seed is not None and self.structure_pool is not None:
            raise ValueError("set structure_seed (one shared structure) or structure_pool (K structures), not both")
        if self.industrial_firms is not None and self.industrial_firms > self.total_firms:
            raise ValueError("industrial_firms cannot exceed total_firms")
        if self.above_scale_firms is not None:
            cap = self.industrial_firms if self.industrial_firms is not None else self.total_firms
            if self.above_scale_firms > cap:
                raise ValueError("above_scale_firms cannot exceed industrial_firms")
        if self.sme_city_shares:
            check_cities(list(self.sme_city_shares))
            if "Guangzhou" in self.sme_city_shares and self.sme_guangzhou_odds_ratio != 1.0:
                raise ValueError("set Guangzhou's SMEs either in sme_city_shares or by sme_guangzhou_odds_ratio, not both")
            if any(v < 0 for v in self.sme_city_shares.values()):
                raise ValueError("sme_city_shares values must be >= 0")
            _check_some_weight("sme_city_shares", self.sme_city_shares, datasets.city_names())
        for name, d in (("cluster_readiness", self.cluster_readiness), ("cluster_shares", self.cluster_shares)):
            if d:
                check_clusters(list(d))
                if any(v < 0 for v in d.values()):
                    raise ValueError(f"{name} values must be >= 0")
        if self.cluster_shares:
            _check_some_weight("cluster_shares", self.cluster_shares, datasets.cluster_ids())
        return self


def _check_some_weight(name: str, shares: dict[str, float], every: list[str]) -> None:
    """Shares left out keep their default weight; all given and all zero leaves nothing to share."""
    if set(every) <= set(shares) and not sum(shares.values()) > 0:
        raise ValueError(f"{name} gives every entry a weight of 0; allowed: at least one positive share")


def peak_firms(population: PopulationSpec, time: TimeSpec) -> float:
    """An upper bound on the firms alive at any month of the run (for the memory limit).

    Below-scale firms grow at most at the larger of the two growth rates; above-scale firms
    follow ``above_scale_year_end`` rescaled to the start count, as
    :func:`sim.core.population.above_scale_path` does.
    """
    start = month_number(time.start)
    years = month_number(time.end) - start
    growth = max(1.0, 1.0 + population.industrial_growth_per_year, 1.0 + population.service_growth_per_year)
    bound = population.total_firms * growth ** (years / 12)
    path = population.above_scale_year_end
    if path:
        xs = np.array([y * 12 + 11 for y in sorted(path)], dtype=float)
        ys = np.array([path[y] for y in sorted(path)], dtype=float)
        first = float(np.interp(start, xs, ys))
        if first > 0:
            scale = population.total_firms / 2_000_000
            a0 = population.above_scale_firms if population.above_scale_firms is not None else first * scale
            bound += float(ys.max()) * a0 / first
    return bound


class InitialState(Strict):
    cloud_firms: int | None = Field(None, ge=0, description="Firms on the cloud at the start; default: reported figure for the start month (550,000 at 2021-06, progress_reported.csv), scaled by total_firms/2,000,000.")
    transformed_firms: int | None = Field(None, ge=0, description="Above-scale firms transformed at the start; default: reported (17,000 at 2021-06), scaled like cloud_firms.")
    above_scale_cloud_share: float = Field(0.50, ge=0.0, le=1.0, description="Share of above-scale firms on the cloud at the start. ASSUMPTION: above the 27% already transformed (17,000 of ~62,400) and near Guangzhou's 44% of above-scale firms on cloud/platform at end-2021 under the narrower 上云上平台 count (policy_instruments.csv); a transformation pipeline this large is needed to match 21,000 transformed at end-2021. Plausible range 0.35-0.65: it sets the pool of transformation candidates, so the transformation answer moves with it; calibrate it or carry it as an uncertainty. Constrained by the transformed-firm path (progress_reported.csv) and the Guangzhou figure.")


