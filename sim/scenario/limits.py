"""Upper bounds on everything a user can make large, and the rule behind them.

The rule: one model run holds every firm in NumPy columns, about 250 bytes per firm at the peak
(measured: ~0.65 GB per worker at the full 2,000,000-firm scale, of which ~0.2 GB is the Python
process itself; ``benchmarks/``). A machine with 16-32 GB of memory (the project's reference
machine has 23 GB) must be able to hold one run of the largest allowed population with room to
spare, so the population is capped at :data:`MAX_FIRMS` = 20,000,000 firms at any month of the
run (~5 GB). Before runs start, :func:`sim.runs.limits.check_memory` also compares the peak
population times the number of workers with the memory available now and refuses a run that
cannot fit.

Designs (sweep points, sensitivity samples, calibration draws, profile grids, discover samples)
are materialised as one validated scenario per point (measured: ~19 kB and ~2-3 ms each) and
every point's outcomes are kept, so a design is capped at :data:`MAX_DESIGN_POINTS` = 50,000
points (~1 GB, a few minutes to check) and an analysis at :data:`MAX_RUNS` model runs (the run
records alone stay far below 1 GB). The size of a design is computed from the spec before any
point is built, so an oversized design is refused at once, also by ``--dry-run``. Input files are
small text: a scenario or spec file is capped at :data:`MAX_FILE_BYTES`, a YAML document at
:data:`MAX_YAML_DEPTH` nesting levels, :data:`MAX_YAML_ALIASES` aliases and
:data:`MAX_YAML_NODES` nodes once aliases are expanded (so an alias bomb is refused before it
is built), and free text such as ``description`` at :data:`MAX_TEXT_CHARS` characters.
"""

from __future__ import annotations

BYTES_PER_FIRM = 250
"""Peak memory of one firm in a run (NumPy columns, network links, outputs), bytes."""

MAX_FIRMS = 20_000_000
"""Most firms a scenario may hold at any month (~5 GB at :data:`BYTES_PER_FIRM`)."""

MAX_DESIGN_POINTS = 50_000
"""Most points of a sweep design, sensitivity sample, ABC draw set, profile grid or discovery."""

MAX_RUNS = 1_000_000
"""Most model runs (points x replicates) of one analysis."""

MAX_REPLICATES = 100_000
"""Most replicates of one scenario."""

MAX_FILE_BYTES = 2_000_000
"""Largest scenario, spec or table file read, bytes."""

MAX_TEXT_CHARS = 10_000
"""Longest free text (``description``), characters."""

MAX_NAME_CHARS = 64
"""Longest name (scenario name, label): it becomes a folder name."""

MAX_YAML_DEPTH = 64
"""Deepest nesting of YAML mappings and lists."""

MAX_YAML_ALIASES = 100
"""Most YAML aliases (``*name``) in one document."""

MAX_YAML_NODES = 200_000
"""Most YAML nodes in one document once every alias is expanded."""

SAFE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
"""A name that is one safe path component: no separator, not ``.``/``..``, not hidden."""


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a folder name (None if it can): see :data:`SAFE_NAME_PATTERN`."""
    import re

    if not isinstance(name, str) or not re.fullmatch(SAFE_NAME_PATTERN, name):
        return ("not a single safe folder name (letters, digits, '_', '-', '.', not starting "
                "with '.')")
    if len(name) > MAX_NAME_CHARS:
        return f"longer than {MAX_NAME_CHARS} characters"
    return None


def check_design(points: int, replicates: int, counted: str, noun: str = "points") -> None:
    """A design of ``points`` points run ``replicates`` times each must stay within
    :data:`MAX_DESIGN_POINTS` and :data:`MAX_RUNS` (the analysis specs' one size rule).

    Args:
        points: Points (trials, sample points) of the design.
        replicates: Runs per point.
        counted: How the points were counted, e.g. ``n = 16384, 2 parameter(s)``.
        noun: What a point is called in the message.

    Raises:
        ValueError: ``<counted>: <points> <noun> (<runs> runs); allowed: at most ...`` (pydantic
            turns it into the spec's one-line error).
    """
    if points > MAX_DESIGN_POINTS or points * replicates > MAX_RUNS:
        raise ValueError(f"{counted}: {points:,} {noun} ({points * replicates:,} runs); allowed: at most "
                         f"{MAX_DESIGN_POINTS:,} {noun} and {MAX_RUNS:,} runs (sim/scenario/limits.py)")
