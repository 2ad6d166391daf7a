"""The diffusion rates and the policy-instrument sections of the scenario schema."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from sim.scenario.schema_types import (
    CityList,
    ClusterList,
    CountSchedule,
    MoneySchedule,
    ParkCountSchedule,
    Rate,
    RateSchedule,
    Strict,
    Window,
    YearMonth,
    check_cities,
    check_clusters,
    check_window,
)

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
                check_clusters(list(d))
                if any(v < 0 for v in d.values()):
                    raise ValueError("cluster multipliers must be >= 0")
        return self


def default_cloud_rates() -> StageRates:
    # ASSUMPTION, hand-tuned so that the baseline passes 625,000 cloud firms at end-2021
    # (progress_reported.csv); issue 6 (calibration) replaces these by fitted values.
    return StageRates(market_rate_per_year=0.055, chain_weight_per_year=0.04, park_weight_per_year=0.03, cluster_city_weight_per_year=0.03)


def default_transform_rates() -> StageRates:
    # ASSUMPTION, hand-tuned to ~21,000 transformed above-scale firms at end-2021.
    return StageRates(market_rate_per_year=0.15, chain_weight_per_year=0.1, park_weight_per_year=0.1, cluster_city_weight_per_year=0.1)


class Diffusion(Strict):
    cloud: StageRates = Field(default_factory=default_cloud_rates, description="Hazard of a firm not on the cloud.")
    transform: StageRates = Field(default_factory=default_transform_rates, description="Hazard of an above-scale firm on the cloud becoming digitally transformed.")
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
    min_age_months: CountSchedule = Field(12, description="Eligibility: firm at least this old, months (2018 rules: >= 1 year, policy_instruments.csv); a number or a schedule by year or month: the rule in force in each month applies.")
    min_revenue_cny: MoneySchedule = Field(10e6, description="Eligibility: prior-year revenue at least this, CNY (2018 rules: >= 10 million CNY); a number or a schedule by year or month, e.g. {2018: 1.0e7, 2026: 5.0e6}: the rule in force in each month applies.")
    excluded_cities: CityList = Field(default_factory=lambda: ["Shenzhen"], description="Cities outside the provincial rounds (Shenzhen runs its own programmes: 2020 round notice).")
    city_quota_shares: dict[str, float] | None = Field(None, description="Optional budget share per city (2020 round set city quotas); null = one provincial pot.")
    subsidy_months: int = Field(12, ge=1, le=600, description="Months a voucher pays for; churn can start after. ASSUMPTION (one-year contracts).")
    carry_over_unspent: bool = Field(False, description="Whether unspent budget carries to the next year. ASSUMPTION: lapses.")

    @model_validator(mode="after")
    def _quotas(self) -> Vouchers:
        if self.city_quota_shares:
            check_cities(list(self.city_quota_shares))
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
        check_window(self.start, self.end)
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
        check_cities(list(self.schedule))
        return self


class TransformationProgramme(Window):
    """Programme quota of transformed above-scale firms following published annual targets
    (a count-like instrument, scaled with the population; sim/core/programme.py)."""

    enabled: bool = Field(False, description="Switch the quota on (off by default: the shipped baseline has no quota).")
    start: YearMonth = Field("2023-01", description="First month the quota acts (YYYY-MM; the first published annual target is for 2023, progress_reported.csv).")
    firms_per_year: CountSchedule = Field(0, description="Above-scale firms the programme must count as transformed in each calendar year (a number or a schedule by year), for the full 2,000,000-firm population (scaled by total_firms/2,000,000); delivered pro rata month by month, times scale. E.g. {2023: 5000, 2024: 9200} (progress_reported.csv annual targets).")
    mode: Literal["top_up", "additive"] = Field("top_up", description="top_up: the programme transforms firms only while the year's transformations (its own and all others) are below the target to date (a target that is met, not exceeded, by the programme); additive: the quota comes on top of every other transformation.")
    pool: Literal["above_scale", "on_cloud"] = Field("above_scale", description="Firms the programme can count: above_scale = any above-scale firm not transformed (one not yet on the cloud goes onto it with the transformation); on_cloud = only those already on the cloud (the transformation stage's own pool). The readiest firms go first (smallest remaining distance to their transformation threshold, divided by readiness); a firm outside diffusion.transform_candidate_share is never counted.")


class PlanLaunch(Window):
    """Launch campaign of the 2021-2025 manufacturing digital-transformation plan (opt-in).

    The plan (广东省制造业数字化转型实施方案, 2021-07-06: progress_reported.csv, 2025-12-31 target
    rows) and its nine measures (粤府〔2021〕45号, 2021-07: policy_instruments.csv,
    transformation_measures; they reward platforms by the number of cluster firms they serve) start
    in July 2021, when the record speeds up (cloud +50,000 in H1 2021, +75,000 in H2; transformed
    +2,000, then +4,000). The campaign adds a push to the hazard of every firm of each stage from
    ``start`` to ``end``, scaled by readiness like the other instruments (sim/core/policies.py).
    Off by default, and with rates 0 it acts on nothing: a scenario that does not set it runs the
    same bytes."""

    enabled: bool = Field(False, description="Switch the launch campaign on (off by default: no shipped scenario before issue 11's record match sets it).")
    start: YearMonth = Field("2021-07", description="First month of the campaign (YYYY-MM): the plan of 2021-07-06 and 粤府〔2021〕45号 of 2021-07 (progress_reported.csv, policy_instruments.csv).")
    end: YearMonth = Field("2021-12", description="Last month of the campaign (YYYY-MM). ASSUMPTION: the plan's first year, whose tallies were stated as the 2021 achievement (progress_reported.csv, 2021-12-31 rows).")
    cloud_rate_per_year: RateSchedule = Field(0.0, description="Added cloud hazard per year of every firm not on the cloud during the campaign (scaled by readiness). ASSUMPTION: no published magnitude; calibrated by the history match.")
    transform_rate_per_year: RateSchedule = Field(0.0, description="Added transformation hazard per year of every above-scale firm on the cloud during the campaign (scaled by readiness). ASSUMPTION: no published magnitude; calibrated by the history match.")


class Policies(Strict):
    vouchers: Vouchers = Field(default_factory=Vouchers)
    platforms: Platforms = Field(default_factory=Platforms)
    pilots: Pilots = Field(default_factory=Pilots)
    chain_leaders: ChainLeaders = Field(default_factory=ChainLeaders)
    service_capacity: ServiceCapacity = Field(default_factory=ServiceCapacity)
    sme_pilot_cities: SmePilotCities = Field(default_factory=SmePilotCities)
    transformation_programme: TransformationProgramme = Field(default_factory=TransformationProgramme)
    plan_launch: PlanLaunch = Field(default_factory=PlanLaunch)


