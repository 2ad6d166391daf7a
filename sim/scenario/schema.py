"""The strict schema of a scenario: every parameter a run needs, with unit, default and source.

Every model refuses unknown keys (``extra="forbid"``) and checks ranges, so a misspelt or
out-of-range value in a YAML file is rejected before anything runs. Field descriptions are the
single reference of the scenario format (``docs/scenario_reference.md`` is generated from them).
Defaults marked ASSUMPTION are modelling choices, not data; the others cite their source.

The sections live in modules of their own: building blocks (months, schedules, ``Strict``,
``Window``, shared field types) in :mod:`sim.scenario.schema_types`; time, population and initial
state in :mod:`sim.scenario.schema_population`; diffusion rates and policy instruments in
:mod:`sim.scenario.schema_policies`. This module holds the goals, run, outputs and uncertainty
sections and assembles them into :class:`Scenario`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from sim.scenario import limits
from sim.scenario.schema_policies import Diffusion, Policies
from sim.scenario.schema_population import InitialState, PopulationSpec, TimeSpec, peak_firms
from sim.scenario.schema_types import Strict, YearMonth, month_number

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

