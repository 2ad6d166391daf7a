"""The strict schema of a scenario: every parameter a run needs, with unit, default and source.

Every model refuses unknown keys (``extra="forbid"``) and checks ranges, so a misspelt or
out-of-range value in a YAML file is rejected before anything runs. Field descriptions are the
single reference of the scenario format (``docs/scenario_reference.md`` is generated from them).
Defaults marked ASSUMPTION are modelling choices, not data; the others cite their source.

Long module (about 770 lines), on purpose for now: it is the one reference of the scenario format
(docs/scenario_reference.md and the JSON Schema are generated from it, section by section), most of
its length is field descriptions with their sources, and its classes and helpers (``month_number``,
``PopulationSpec``, ``StageRates``, the instrument sections) are imported by name throughout
``sim/core``. A split (building blocks: months, schedules, ``Strict``, ``Window``; then population,
policies) moves those imports in modules other engineers are changing in parallel this session,
and their new schema fields with them; it is left until those changes are merged.
"""

from __future__ import annotations

import difflib
import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim import datasets
from sim.scenario import limits

_YM = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _check_year_month(value: str) -> str:
    if not isinstance(value, str) or not _YM.match(value):
        raise ValueError(f"expected a month as 'YYYY-MM' (e.g. '2021-06'), got {value!r}")
    return value


YearMonth = Annotated[str, AfterValidator(_check_year_month)]
"""A calendar month written ``YYYY-MM``; a state "at" a month means at the end of that month."""


def month_number(ym: str) -> int:
    """Months since year 0 for a ``YYYY-MM`` string (so differences are month counts)."""
    return int(ym[:4]) * 12 + int(ym[5:7]) - 1


def _check_window(start: str, end: str) -> None:
    if month_number(end) < month_number(start):
        raise ValueError(f"end {end} is before start {start}")


# --------------------------------------------------------------------------- schedules

_SCHEDULE_KEY = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2]))?$")


def schedule_month(key: str) -> int:
    """Month number of a schedule key: ``YYYY`` means January of that year, ``YYYY-MM`` that month."""
    return month_number(key if len(key) == 7 else f"{key}-01")


def _schedule_keys(value: Any) -> Any:
    # YAML reads an unquoted year key (2023:) as an integer: schedule keys are always text.
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ScheduleBounds:
    """Bounds of every value of a number-or-schedule field (read by the checks and the docs)."""

    ge: float | None = None
    le: float | None = None

    def text(self) -> str:
        lower = "" if self.ge is None else f"{self.ge:g} <= "
        upper = "" if self.le is None else f" <= {self.le:g}"
        return f"{lower}x{upper}" if lower or upper else ""

    def check(self, what: str, v: float) -> None:
        if (self.ge is not None and v < self.ge) or (self.le is not None and v > self.le):
            raise ValueError(f"{what} {v:g} is out of range; allowed: {self.text()}")


def _schedule_checker(bounds: ScheduleBounds):
    def _check_schedule(value: Any) -> Any:
        if not isinstance(value, dict):
            bounds.check("value", value)
            return value
        if not value:
            raise ValueError("a schedule needs at least one entry 'YYYY: value' or 'YYYY-MM: value'")
        seen: dict[int, str] = {}
        for key, v in value.items():
            if not _SCHEDULE_KEY.match(key):
                raise ValueError(f"schedule key {key!r}: expected a year 'YYYY' or a month 'YYYY-MM' (month 01-12)")
            m = schedule_month(key)
            if m in seen:
                raise ValueError(f"schedule keys {seen[m]!r} and {key!r} name the same month")
            seen[m] = key
            bounds.check(f"schedule value at {key}:", v)
        return {seen[m]: value[seen[m]] for m in sorted(seen)}

    return _check_schedule


def Scheduled(kind: type = float, *, ge: float | None = None, le: float | None = None) -> Any:  # noqa: N802 (a type factory)
    """A number, or a schedule ``{YYYY or YYYY-MM: number}`` of values that change over time.

    A schedule is a step function: each value holds from the start of its year (January) or month
    until the next entry; before the first entry the first value holds. ``ge`` / ``le`` bound every
    value.
    """
    bounds = ScheduleBounds(ge, le)
    return Annotated[kind | dict[str, kind], BeforeValidator(_schedule_keys), AfterValidator(_schedule_checker(bounds)),
                     bounds]


def schedule_values(value: float | dict[str, float]) -> list[tuple[int, float]]:
    """``[(month number from which it holds, value)]`` of a number or a schedule, in date order."""
    if isinstance(value, dict):
        return sorted((schedule_month(str(k)), float(v)) for k, v in value.items())
    return [(-1, float(value))]


def schedule_max(value: float | dict[str, float]) -> float:
    """Largest value a number or schedule takes."""
    return max(v for _, v in schedule_values(value))


def _accepts_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_accepts_bool(a) for a in get_args(annotation))
    return False


class Strict(BaseModel):
    """Base for every scenario section: unknown keys are errors, values are re-checked on set,
    numbers must be finite (no NaN or infinity) and ``true``/``false`` is not a number."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would read `seed: true` as 1; a switch given where a number belongs is a mistake.
        if isinstance(value, bool) and info.field_name is not None:
            if not _accepts_bool(cls.model_fields[info.field_name].annotation):
                raise ValueError(f"got {str(value).lower()}, which is not a value of this key")
        return value


class Round(Strict):
    """One round of an instrument: it acts from ``start`` to ``end`` (inclusive)."""

    start: YearMonth = Field(description="First month of the round (YYYY-MM).")
    end: YearMonth = Field(description="Last month of the round (YYYY-MM).")

    @model_validator(mode="after")
    def _ordered(self) -> Round:
        _check_window(self.start, self.end)
        return self


def check_rounds(rounds: list[Round] | None) -> None:
    """Rounds must be in date order and must not overlap (a month belongs to at most one round)."""
    for i in range(1, len(rounds or [])):
        a, b = rounds[i - 1], rounds[i]
        if month_number(b.start) <= month_number(a.end):
            raise ValueError(
                f"rounds {i - 1} ({a.start} to {a.end}) and {i} ({b.start} to {b.end}) overlap or are not in "
                "date order; each round must start after the previous one ends"
            )


def _check_cities(values: list[str]) -> list[str]:
    known = set(datasets.city_names())
    for v in values:
        if v not in known:
            close = difflib.get_close_matches(str(v), datasets.city_names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown city {v!r}{hint}; allowed: {', '.join(datasets.city_names())}")
    return values


def _check_clusters(values: list[str]) -> list[str]:
    known = set(datasets.cluster_ids())
    for v in values:
        if v != "all" and v not in known:
            close = difflib.get_close_matches(str(v), datasets.cluster_ids(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown cluster {v!r}{hint}; allowed: 'all' or {', '.join(datasets.cluster_ids())}")
    return values


CityList = Annotated[list[str], AfterValidator(_check_cities)]
ClusterList = Annotated[list[str], AfterValidator(_check_clusters)]
Rate = Annotated[float, Field(ge=0.0, le=100.0)]
RateSchedule = Scheduled(ge=0.0, le=100.0)
"""A rate or multiplier in [0, 100], or a schedule of them by year or month."""
MoneySchedule = Scheduled(ge=0.0)
"""An amount of money (CNY) >= 0, or a schedule of amounts by year or month."""
CountSchedule = Scheduled(int, ge=0)
"""A whole count >= 0, or a schedule of counts by year or month."""
ParkCountSchedule = Scheduled(int, ge=0, le=1_000_000)
"""A park count in [0, 1,000,000], or a schedule of them by year."""

_SCALE_TEXT = (
    "Multiplier on every adoption effect of the instrument (1 = as specified, 0 = no effect); a number or a "
    "schedule by year or month, e.g. {2021: 1, 2023-07: 2} (programme intensity changing over time)."
)
_ROUNDS_TEXT = (
    "Optional rounds (a list of {start, end}, in date order, not overlapping): the instrument then acts only "
    "in months inside a round (and inside start..end); null = one round from start to end."
)


class Window(Strict):
    """Common switches of a policy instrument."""

    enabled: bool = Field(True, description="Switch the instrument on or off.")
    start: YearMonth = Field("2021-07", description="First month the instrument acts (YYYY-MM).")
    end: YearMonth = Field("2025-12", description="Last month the instrument acts (YYYY-MM).")
    scale: RateSchedule = Field(1.0, description=_SCALE_TEXT)
    rounds: list[Round] | None = Field(None, description=_ROUNDS_TEXT)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        _check_window(self.start, self.end)
        check_rounds(self.rounds)
        return self


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
            _check_cities(list(self.sme_city_shares))
            if "Guangzhou" in self.sme_city_shares and self.sme_guangzhou_odds_ratio != 1.0:
                raise ValueError("set Guangzhou's SMEs either in sme_city_shares or by sme_guangzhou_odds_ratio, not both")
            if any(v < 0 for v in self.sme_city_shares.values()):
                raise ValueError("sme_city_shares values must be >= 0")
            _check_some_weight("sme_city_shares", self.sme_city_shares, datasets.city_names())
        for name, d in (("cluster_readiness", self.cluster_readiness), ("cluster_shares", self.cluster_shares)):
            if d:
                _check_clusters(list(d))
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


# --------------------------------------------------------------------------- diffusion


class StageRates(Strict):
    market_rate_per_year: Rate = Field(description="External (market pull) hazard, per year, scaled by readiness.")
    intensity: RateSchedule = Field(
        1.0,
        description="Multiplier of market_rate_per_year over time: a number or a schedule by year or month (programme intensity following annual targets and funds, a competing explanation of the bend in the record: docs/model.md 7.9). 1 = constant.",
    )
    chain_weight_per_year: Rate = Field(description="Internal hazard per year at 100% of supply-chain partners adopted.")
    park_weight_per_year: Rate = Field(description="Internal hazard per year at 100% of the park adopted.")
    cluster_city_weight_per_year: Rate = Field(description="Internal hazard per year at 100% of the cluster in the firm's city adopted.")
    province_weight_per_year: Rate = Field(0.0, description="Internal hazard per year at 100% of the whole population adopted (complete mixing, Bass q). 0 by default.")
    cluster_market_multiplier: dict[str, float] | None = Field(None, description="Per-cluster multiplier of the market rate (null = 1 everywhere).")
    cluster_peer_multiplier: dict[str, float] | None = Field(None, description="Per-cluster multiplier of all peer weights (null = 1 everywhere).")

    @model_validator(mode="after")
    def _multipliers(self) -> StageRates:
        for d in (self.cluster_market_multiplier, self.cluster_peer_multiplier):
            if d:
                _check_clusters(list(d))
                if any(v < 0 for v in d.values()):
                    raise ValueError("cluster multipliers must be >= 0")
        return self


def _cloud_rates() -> StageRates:
    # ASSUMPTION, hand-tuned so that the baseline passes 625,000 cloud firms at end-2021
    # (progress_reported.csv); issue 6 (calibration) replaces these by fitted values.
    return StageRates(market_rate_per_year=0.055, chain_weight_per_year=0.04, park_weight_per_year=0.03, cluster_city_weight_per_year=0.03)


def _transform_rates() -> StageRates:
    # ASSUMPTION, hand-tuned to ~21,000 transformed above-scale firms at end-2021.
    return StageRates(market_rate_per_year=0.15, chain_weight_per_year=0.1, park_weight_per_year=0.1, cluster_city_weight_per_year=0.1)


class Diffusion(Strict):
    cloud: StageRates = Field(default_factory=_cloud_rates, description="Hazard of a firm not on the cloud.")
    transform: StageRates = Field(default_factory=_transform_rates, description="Hazard of an above-scale firm on the cloud becoming digitally transformed.")
    churn_rate_per_year: Rate = Field(0.1, description="Dis-adoption hazard of subsidised adopters after their subsidy ends. ASSUMPTION (no churn-adjusted figure is published: data README).")
    cloud_candidate_share: float = Field(
        1.0, ge=0.0, le=1.0,
        description="Finite addressable pool (a competing explanation of the bend in the cloud count): share of the SMEs not on the cloud at the start (and of SME entrants) that are candidates for the programme tally; the others never join it. 1 = every firm is a candidate. ASSUMPTION (the tallies count firms reached by the programmes: data README).",
    )
    transform_candidate_share: float = Field(
        1.0, ge=0.0, le=1.0,
        description="Saturation of the ready above-scale firms: share of the above-scale firms not transformed at the start (and of above-scale entrants) that can become transformed; the others never do. 1 = all can. ASSUMPTION.",
    )


# --------------------------------------------------------------------------- policy instruments


class Vouchers(Window):
    """上云上平台 service vouchers: first come, first served under a yearly budget."""

    budget_cny_per_year: MoneySchedule = Field(300e6, description="Voucher money per calendar year, CNY (a number or a schedule by year or month, e.g. {2021: 3.0e8, 2023: 6.0e8}), for the full 2,000,000-firm population (scaled by total_firms/2,000,000). ASSUMPTION (amounts not published; order of magnitude of the 24.765亿 CNY 2022 SME fund: policy_instruments.csv).")
    contract_value_cny: float = Field(50_000, gt=0, description="Typical cloud contract value per firm, CNY. ASSUMPTION (Guizhou first voucher <= 50,000 CNY; Qingxi cap 40,000 CNY/yr: policy_instruments.csv).")
    subsidy_share: float = Field(0.3, ge=0, le=1, description="Government share of the contract value (平台让一点、政府补一点、企业出一点). ASSUMPTION (Guizhou 40-60%, Qingxi 20%).")
    max_voucher_cny: float = Field(50_000, ge=0, description="Cap per voucher, CNY (Guizhou first voucher cap, policy_instruments.csv).")
    rate_per_year_at_full_subsidy: RateSchedule = Field(0.5, description="Added cloud-adoption hazard per year for an eligible firm at subsidy_share = 1 (scaled linearly). ASSUMPTION.")
    min_age_months: int = Field(12, ge=0, description="Eligibility: firm at least this old (2018 rules: >= 1 year, policy_instruments.csv).")
    min_revenue_cny: float = Field(10e6, ge=0, description="Eligibility: prior-year revenue at least this (2018 rules: >= 10 million CNY).")
    excluded_cities: CityList = Field(default_factory=lambda: ["Shenzhen"], description="Cities outside the provincial rounds (Shenzhen runs its own programmes: 2020 round notice).")
    city_quota_shares: dict[str, float] | None = Field(None, description="Optional budget share per city (2020 round set city quotas); null = one provincial pot.")
    subsidy_months: int = Field(12, ge=1, le=600, description="Months a voucher pays for; churn can start after. ASSUMPTION (one-year contracts).")
    carry_over_unspent: bool = Field(False, description="Whether unspent budget carries to the next year. ASSUMPTION: lapses.")

    @model_validator(mode="after")
    def _quotas(self) -> Vouchers:
        if self.city_quota_shares:
            _check_cities(list(self.city_quota_shares))
            if any(v < 0 for v in self.city_quota_shares.values()):
                raise ValueError("city_quota_shares must be >= 0")
            if sum(self.city_quota_shares.values()) > 1.0 + 1e-9:
                raise ValueError("city_quota_shares must sum to at most 1")
        return self

    @property
    def voucher_cny(self) -> float:
        return min(self.contract_value_cny * self.subsidy_share, self.max_voucher_cny)


class Platform(Strict):
    clusters: ClusterList = Field(default_factory=lambda: ["all"], description="Clusters the platform serves ('all' or cluster ids).")
    start: YearMonth = Field("2021-07", description="First month the platform serves firms (YYYY-MM).")
    end: YearMonth = Field("2025-12", description="Last month the platform serves firms (YYYY-MM).")
    cloud_rate_per_year: RateSchedule = Field(0.01, description="Added cloud hazard per year in served clusters (lower adoption cost). ASSUMPTION.")
    transform_rate_per_year: RateSchedule = Field(0.02, description="Added transformation hazard per year in served clusters. ASSUMPTION.")

    @model_validator(mode="after")
    def _ordered(self) -> Platform:
        _check_window(self.start, self.end)
        return self


class Platforms(Strict):
    """Industrial internet platforms (4 national cross-industry platforms in Guangdong in 2021, 6 by 2022: policy_instruments.csv)."""

    enabled: bool = Field(True, description="Switch all platforms on or off.")
    scale: RateSchedule = Field(1.0, description="Multiplier on every adoption effect of the platforms (1 = as specified, 0 = no effect; a number or a schedule by year or month).")
    items: list[Platform] = Field(default_factory=lambda: [Platform()], max_length=100, description="The platforms (a list; each item as in the next table).")


class Pilot(Strict):
    level: Literal["park", "cluster"] = Field("park", description="Pilot whole clusters or selected parks (一园一策; annual pilots: 粤府〔2021〕45号).")
    clusters: ClusterList = Field(default_factory=lambda: ["all"], description="Clusters the pilots are drawn from ('all' or cluster ids).")
    cities: CityList | None = Field(None, description="Restrict to these cities (null = all).")
    parks_per_year: ParkCountSchedule = Field(20, description="Parks newly selected each year (level=park); a number or a schedule by year (annual programme targets). Given for the full 2,000,000-firm population where a park holds ~park_size_mean firms; a smaller population selects parks covering the same expected share of firms (stochastic rounding, docs/model.md 7.3). ASSUMPTION.")
    years: list[int] = Field(default_factory=lambda: [2021, 2022, 2023, 2024, 2025], max_length=100, description="Calendar years in which pilots are selected.")
    duration_months: int = Field(24, ge=1, le=600, description="How long a selected park/cluster is boosted. ASSUMPTION.")
    cloud_rate_per_year: RateSchedule = Field(0.1, description="Added cloud hazard per year in pilots. ASSUMPTION.")
    transform_rate_per_year: RateSchedule = Field(0.2, description="Added transformation hazard per year in pilots. ASSUMPTION.")


class Pilots(Strict):
    enabled: bool = Field(True, description="Switch all pilot programmes on or off.")
    scale: RateSchedule = Field(1.0, description="Multiplier on every adoption effect of the pilots (1 = as specified, 0 = no effect; a number or a schedule by year or month).")
    items: list[Pilot] = Field(default_factory=lambda: [Pilot()], max_length=100, description="The pilot programmes (a list; each item as in the next table).")


class ChainLeaders(Window):
    """链主 programme: leaders transform; their suppliers feel a stronger pull (一链一策)."""

    start: YearMonth = Field("2021-07", description="First month the programme acts (YYYY-MM).")
    leader_transform_rate_per_year: RateSchedule = Field(0.5, description="Added transformation hazard of chain leaders, per year. ASSUMPTION.")
    supplier_cloud_pull_per_year: RateSchedule = Field(0.1, description="Added cloud hazard of a supplier whose chain-leader customers are all transformed. ASSUMPTION (a major customer's transformation raises its suppliers': data README).")
    supplier_transform_pull_per_year: RateSchedule = Field(0.1, description="Added transformation hazard of such a supplier. ASSUMPTION.")


class ServiceCapacity(Window):
    """Service-provider capacity: at most so many cloud onboardings a month; excess demand waits."""

    scale: RateSchedule = Field(1.0, description="Strength of the constraint: capacity = onboardings_per_month / scale (1 = as specified, 2 = half the capacity, 0 = no constraint); a number or a schedule by year or month.")
    onboardings_per_month: CountSchedule = Field(25_000, description="Onboardings the provider pool can do per month at the start (a number or a schedule by year or month), for the full 2,000,000-firm population (scaled by total_firms/2,000,000). ASSUMPTION (144 providers in the provincial pool in 2019: policy_instruments.csv).")
    growth_per_year: float = Field(0.10, ge=-0.9, le=10, description="Growth of capacity per year (cultivation of service providers, 粤府〔2021〕45号). ASSUMPTION.")


class SmePilotCities(Window):
    """National SME digital-transformation pilot cities (policy_instruments.csv)."""

    start: YearMonth = Field("2023-01", description="First month the instrument acts (YYYY-MM; the first national batch was named for 2023).")
    schedule: dict[str, int] = Field(
        default_factory=lambda: {"Shenzhen": 2023, "Dongguan": 2023, "Guangzhou": 2024, "Zhongshan": 2024, "Foshan": 2025, "Jiangmen": 2025},
        description="City -> first pilot year (national batches 2023-2025, policy_instruments.csv).",
    )
    duration_months: int = Field(24, ge=1, le=600, description="Months each city's pilot lasts (national pilots run two years). ASSUMPTION.")
    cloud_rate_per_year: RateSchedule = Field(0.05, description="Added cloud hazard per year for SMEs in pilot cities. ASSUMPTION.")
    transform_rate_per_year: RateSchedule = Field(0.05, description="Added transformation hazard per year for firms in pilot cities. ASSUMPTION.")

    @model_validator(mode="after")
    def _cities(self) -> SmePilotCities:
        _check_cities(list(self.schedule))
        return self


class TransformationProgramme(Window):
    """Programme quota of transformed above-scale firms following published annual targets
    (a count-like instrument, scaled with the population; sim/core/programme.py)."""

    enabled: bool = Field(False, description="Switch the quota on (off by default: the shipped baseline has no quota).")
    start: YearMonth = Field("2023-01", description="First month the quota acts (YYYY-MM; the first published annual target is for 2023, progress_reported.csv).")
    firms_per_year: CountSchedule = Field(0, description="Above-scale firms the programme must count as transformed in each calendar year (a number or a schedule by year), for the full 2,000,000-firm population (scaled by total_firms/2,000,000); delivered pro rata month by month, times scale. E.g. {2023: 5000, 2024: 9200} (progress_reported.csv annual targets).")
    mode: Literal["top_up", "additive"] = Field("top_up", description="top_up: the programme transforms firms only while the year's transformations (its own and all others) are below the target to date (a target that is met, not exceeded, by the programme); additive: the quota comes on top of every other transformation.")
    pool: Literal["above_scale", "on_cloud"] = Field("above_scale", description="Firms the programme can count: above_scale = any above-scale firm not transformed (one not yet on the cloud goes onto it with the transformation); on_cloud = only those already on the cloud (the transformation stage's own pool). The readiest firms go first (smallest remaining distance to their transformation threshold, divided by readiness); a firm outside diffusion.transform_candidate_share is never counted.")


class Policies(Strict):
    vouchers: Vouchers = Field(default_factory=Vouchers)
    platforms: Platforms = Field(default_factory=Platforms)
    pilots: Pilots = Field(default_factory=Pilots)
    chain_leaders: ChainLeaders = Field(default_factory=ChainLeaders)
    service_capacity: ServiceCapacity = Field(default_factory=ServiceCapacity)
    sme_pilot_cities: SmePilotCities = Field(default_factory=SmePilotCities)
    transformation_programme: TransformationProgramme = Field(default_factory=TransformationProgramme)


# --------------------------------------------------------------------------- goals, run, outputs


GOAL_RATES = ("cloud_rate", "sme_cloud_rate", "transformed_rate")
"""Goal indicators that are shares in [0, 1] (the others are firm counts)."""


class Goal(Strict):
    """One goal of ``goals.more``: an indicator, a value and the month by whose end it is due."""

    indicator: Literal["cloud_firms", "transformed_firms", "cloud_firms_added", "transformed_firms_added",
                       "cloud_rate", "sme_cloud_rate", "transformed_rate"] = Field(
        description="What the model compares: cloud_firms (firms ever on the cloud, cumulative); transformed_firms (above-scale firms transformed, cumulative); cloud_firms_added / transformed_firms_added (added in the 12 months up to the date: an annual target); cloud_rate (share of the firms present ever on the cloud); sme_cloud_rate (the same among SMEs: below-scale industrial and service firms); transformed_rate (share of the above-scale firms present that are transformed).")
    value: float = Field(ge=0, le=limits.MAX_FIRMS, description="Firms for the counts (given for the full 2,000,000-firm population and scaled like the headline goals), a share in [0, 1] for the rates.")
    date: YearMonth = Field(description="Month by whose end the goal is due (YYYY-MM).")
    scope: str = Field("", max_length=limits.MAX_TEXT_CHARS, description="What the published goal covers, in words (e.g. 'national; SMEs'); the indicator says what the model compares.")
    source: str = Field("", max_length=limits.MAX_TEXT_CHARS, description="Where the goal comes from (file and row of shared/data, or the publication), or ASSUMPTION.")
    denominator_firms: int | None = Field(None, ge=1, le=limits.MAX_FIRMS, description="Rates only: the firms the published rate is taken over (full scale, scaled like the counts), when that is not the modelled population (e.g. all 7,745,000 registered private enterprises at end-2024, population.csv); null = the modelled firms of the indicator.")

    @model_validator(mode="after")
    def _rate_or_count(self) -> Goal:
        if self.indicator in GOAL_RATES and self.value > 1:
            raise ValueError(f"{self.indicator} is a share: value must be in [0, 1], got {self.value:g}")
        if self.denominator_firms is not None and self.indicator not in GOAL_RATES:
            raise ValueError(f"denominator_firms applies to the rates ({', '.join(GOAL_RATES)}), not to {self.indicator}")
        return self


class Goals(Strict):
    """The plan's two headline goals (the old two-goal form, still read as before) and a list of
    further goals, each evaluated in the run summary."""

    date: YearMonth = Field("2025-12", description="Month by whose end the goals are to be met (广东省制造业数字化转型实施方案 2021-2025).")
    cloud_firms: int = Field(1_000_000, ge=0, description="Firms on the cloud (上云用云), cumulative (progress_reported.csv target).")
    transformed_firms: int = Field(50_000, ge=0, description="Above-scale industrial firms digitally transformed (progress_reported.csv target).")
    more: list[Goal] = Field(default_factory=list, max_length=100, description="Further goals (a list; each item as in the next table): any indicator, value and date, e.g. the annual targets or the national SME cloud rate above 40% by 2027. Each is evaluated in summary.csv.")


class RunSpec(Strict):
    replicates: int = Field(1, ge=1, le=limits.MAX_REPLICATES, description="Independent replicates (seeds spawned from `seed`).")
    seed: int = Field(20210706, ge=0, le=2**63 - 1, description="Root seed of numpy.random.SeedSequence (default: the plan's publication date).")


class Outputs(Strict):
    figures: bool = Field(True, description="Write PNG figures.")
    cells: bool = Field(False, description="Also write cluster x city x size-class cell counts (large).")
    lang: Literal["en", "zh"] = Field("en", description="Language of figures, table headers, category names and summary sentences: en (English) or zh (Simplified Chinese); `--lang` overrides it.")


class Uncertainty(Strict):
    """A parameter whose value is uncertain: each replicate draws its own value.

    Replicate r of every scenario draws the same values (a stream of its own seed), so scenario
    comparisons keep common random numbers; without uncertainties a replicate differs from
    another only by the model's stochasticity.
    """

    path: str = Field(description="Dotted key of a numeric scenario value, e.g. diffusion.cloud.market_rate_per_year.")
    distribution: Literal["uniform", "triangular", "loguniform"] = Field("uniform", description="Distribution of the value.")
    lower: float = Field(description="Lowest value.")
    upper: float = Field(description="Highest value.")
    mode: float | None = Field(None, description="Most likely value (triangular only).")

    @model_validator(mode="after")
    def _bounds(self) -> Uncertainty:
        if not self.upper > self.lower:
            raise ValueError(f"upper ({self.upper}) must be above lower ({self.lower})")
        if self.distribution == "triangular":
            if self.mode is None or not self.lower <= self.mode <= self.upper:
                raise ValueError("a triangular distribution needs lower <= mode <= upper")
        elif self.mode is not None:
            raise ValueError("mode is only used by the triangular distribution")
        if self.distribution == "loguniform" and self.lower <= 0:
            raise ValueError("a loguniform distribution needs lower > 0")
        return self


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str = Field(
        "unnamed",
        pattern=limits.SAFE_NAME_PATTERN,
        max_length=limits.MAX_NAME_CHARS,
        description=f"Short name, used as the results folder name: letters, digits, '_', '-', '.', not starting with '.', at most {limits.MAX_NAME_CHARS} characters.",
    )
    description: str = Field("", max_length=limits.MAX_TEXT_CHARS, description="The question this scenario answers.")
    time: TimeSpec = Field(default_factory=TimeSpec)
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    initial: InitialState = Field(default_factory=InitialState)
    diffusion: Diffusion = Field(default_factory=Diffusion)
    policies: Policies = Field(default_factory=Policies)
    goals: Goals = Field(default_factory=Goals)
    run: RunSpec = Field(default_factory=RunSpec)
    outputs: Outputs = Field(default_factory=Outputs)
    uncertainties: list[Uncertainty] = Field(
        default_factory=list,
        max_length=100,
        description="Parameters drawn anew for every replicate (parametric uncertainty); the draws are saved in parameters.csv.",
    )
    posterior: str | None = Field(
        None,
        description=(
            "Saved posterior every replicate draws its parameter set from, jointly (one weighted row per replicate, "
            "from the replicate's uncertainties stream after the 'uncertainties' list: common random numbers across "
            "scenarios): a shipped name (scenarios/posteriors/<name>.csv, e.g. 'history') or a path to a .csv with "
            "one column per dotted key and a 'weight' column. Null: no posterior (a goal probability is then "
            "stochastic-only unless 'uncertainties' are given)."
        ),
    )

    @model_validator(mode="after")
    def _within_limits(self) -> Scenario:
        # Cross-field checks that would otherwise fail only after every replicate has run.
        if month_number(self.goals.date) < month_number(self.time.start):
            raise ValueError(
                f"goals.date {self.goals.date} is before time.start {self.time.start}; allowed: a month "
                f"from {self.time.start} on (a goal after time.end is evaluated at time.end)"
            )
        peak = peak_firms(self.population, self.time)
        if peak > limits.MAX_FIRMS:
            raise ValueError(
                f"the population would reach about {peak:,.0f} firms by {self.time.end}, more than the "
                f"{limits.MAX_FIRMS:,} a run may hold (~{limits.BYTES_PER_FIRM} bytes per firm); allowed: "
                "a smaller population.total_firms, growth rates or above_scale_year_end, or a shorter run"
            )
        return self

    @model_validator(mode="after")
    def _uncertain_paths(self) -> Scenario:
        data = self.model_dump(mode="python", exclude={"uncertainties"})
        seen = set()
        for i, u in enumerate(self.uncertainties):
            node: object = data
            for part in u.path.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise ValueError(f"uncertainties[{i}].path: unknown scenario key {u.path!r}")
                node = node[part]
            if isinstance(node, bool) or not isinstance(node, int | float):
                raise ValueError(f"uncertainties[{i}].path: {u.path!r} is not a number (it is {node!r})")
            if u.path in seen:
                raise ValueError(f"uncertainties[{i}].path: {u.path!r} is listed twice")
            seen.add(u.path)
        if self.posterior is not None:
            from sim.scenario.posterior import read_posterior

            try:
                paths, _, _ = read_posterior(self.posterior)
            except ValueError as exc:
                raise ValueError(f"posterior: {exc}") from None
            for path in paths:
                node = data
                for part in path.split("."):
                    if not isinstance(node, dict) or part not in node:
                        raise ValueError(f"posterior: column {path!r} of {self.posterior!r} is not a scenario key")
                    node = node[part]
                if isinstance(node, bool) or not isinstance(node, int | float):
                    raise ValueError(f"posterior: column {path!r} of {self.posterior!r} is not a number")
                if path in seen:
                    raise ValueError(f"posterior: {path!r} is also in 'uncertainties'")
        return self
