"""Building blocks of the scenario schema: months, schedules, the strict base model, windows and
the shared field types (city and cluster lists, rate/money/count schedules).

Split from :mod:`sim.scenario.schema`, which assembles the sections into :class:`Scenario`.
"""

from __future__ import annotations

import difflib
import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

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


def check_window(start: str, end: str) -> None:
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
        check_window(self.start, self.end)
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


def check_cities(values: list[str]) -> list[str]:
    known = set(datasets.city_names())
    for v in values:
        if v not in known:
            close = difflib.get_close_matches(str(v), datasets.city_names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown city {v!r}{hint}; allowed: {', '.join(datasets.city_names())}")
    return values


def check_clusters(values: list[str]) -> list[str]:
    known = set(datasets.cluster_ids())
    for v in values:
        if v != "all" and v not in known:
            close = difflib.get_close_matches(str(v), datasets.cluster_ids(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown cluster {v!r}{hint}; allowed: 'all' or {', '.join(datasets.cluster_ids())}")
    return values


CityList = Annotated[list[str], AfterValidator(check_cities)]
ClusterList = Annotated[list[str], AfterValidator(check_clusters)]
Rate = Annotated[float, Field(ge=0.0, le=100.0)]
RateSchedule = Scheduled(ge=0.0, le=100.0)
"""A rate or multiplier in [0, 100], or a schedule of them by year or month."""
MoneySchedule = Scheduled(ge=0.0)
"""An amount of money (CNY) >= 0, or a schedule of amounts by year or month."""
CountSchedule = Scheduled(int, ge=0)
"""A whole count >= 0, or a schedule of counts by year or month."""
ParkCountSchedule = Scheduled(int, ge=0, le=1_000_000)
"""A park count in [0, 1,000,000], or a schedule of them by year."""

SCALE_TEXT = (
    "Multiplier on every adoption effect of the instrument (1 = as specified, 0 = no effect); a number or a "
    "schedule by year or month, e.g. {2021: 1, 2023-07: 2} (programme intensity changing over time)."
)
ROUNDS_TEXT = (
    "Optional rounds (a list of {start, end}, in date order, not overlapping): the instrument then acts only "
    "in months inside a round (and inside start..end); null = one round from start to end."
)


class Window(Strict):
    """Common switches of a policy instrument."""

    enabled: bool = Field(True, description="Switch the instrument on or off.")
    start: YearMonth = Field("2021-07", description="First month the instrument acts (YYYY-MM).")
    end: YearMonth = Field("2025-12", description="Last month the instrument acts (YYYY-MM).")
    scale: RateSchedule = Field(1.0, description=SCALE_TEXT)
    rounds: list[Round] | None = Field(None, description=ROUNDS_TEXT)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        check_window(self.start, self.end)
        check_rounds(self.rounds)
        return self


