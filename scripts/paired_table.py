"""What the README's scenario tables share (``forward_table.py``, ``next_plan_table.py``): running
a family of scenarios under the record posterior with common random numbers, the number formats,
the README block between two markers, and the command line.

One implementation: each table script says which scenarios it runs and what it reads from the
runs (its ``compute``) and how a row reads (its ``render``); everything else is here.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def posterior_file(uncertainties_from: str) -> Path:
    """The saved posterior that ``uncertainties_from`` draws from (its ``posterior``)."""
    from sim.scenario.loader import load_scenario

    name = load_scenario(uncertainties_from).posterior
    return Path(name) if name and name.endswith(".csv") else REPO / "scenarios" / "posteriors" / f"{name}.csv"


@dataclass
class PairedRuns:
    """A family of scenarios run with common random numbers under one posterior.

    Attributes:
        compare: The :class:`sim.CompareResult` (first scenario = reference).
        scale: ``total_firms / 2,000,000`` (counts divided by it are province-equivalent).
        posterior: File name of the posterior the parameters were drawn from.
        posterior_sha256: First 12 hex digits of its sha256.
        wall_time_s: Wall time of the runs, seconds.
    """

    compare: object
    scale: float
    posterior: str
    posterior_sha256: str
    wall_time_s: float


def run_paired(names: list[str], total_firms: int, replicates: int, workers: int | None,
               uncertainties_from: str) -> PairedRuns:
    """Run ``names`` (the first is the reference) with ``uncertainties_from``'s posterior and
    ranges: replicate r of every scenario has the same parameter draw and the same seeds.

    Raises:
        RuntimeError: A run failed.
    """
    import sim

    post = posterior_file(uncertainties_from)
    digest = hashlib.sha256(post.read_bytes()).hexdigest()[:12]
    t0 = time.time()
    cmp = sim.compare(names, replicates=replicates, overrides=[f"population.total_firms={total_firms}"],
                      uncertainties_from=uncertainties_from, save=False, workers=workers)
    wall = time.time() - t0
    if not cmp.ok:
        raise RuntimeError("a run failed: " + ", ".join(n for n, r in cmp.results.items() if not r.ok))
    scale = sim.population_scale(next(iter(cmp.results.values())).scenario)
    return PairedRuns(cmp, scale, post.name, digest, wall)


def count(v: float) -> str:
    """A province-equivalent count to the nearest 100 firms (finer is noise at 1:10)."""
    return f"{round(float(v), -2):,.0f}".replace("-", "\u2212")


def signed(v: float) -> str:
    """A paired difference to the nearest 100 firms, with its sign."""
    r = round(float(v), -2)
    return ("+" if r > 0 else "") + f"{r:,.0f}".replace("-", "\u2212")


def probability(p: float, se: float, n: int) -> str:
    """A goal probability with its Monte Carlo error; 0 or 1 as a count of replicates (its
    standard error is 0 there, which says nothing about precision)."""
    if p in (0.0, 1.0):
        return f"{p:.2f} ({round(p * n)} of {n})"
    return f"{p:.2f} ± {se:.2f}"


@dataclass(frozen=True)
class Block:
    """A README block between two marker lines."""

    start: str
    end: str

    def write(self, text: str, readme: Path = README) -> None:
        """Replace the block's content in ``readme`` by ``text``."""
        old = readme.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(self.start) + r"\n.*?\n" + re.escape(self.end), re.S)
        if not pattern.search(old):
            raise SystemExit(f"{readme}: no {self.start} ... {self.end} block")
        readme.write_text(pattern.sub(lambda _m: f"{self.start}\n{text}\n{self.end}", old), encoding="utf-8")

    def read(self, readme: Path = README) -> str:
        """The text between the markers of ``readme``."""
        text = readme.read_text(encoding="utf-8")
        return text.split(self.start + "\n", 1)[1].split("\n" + self.end, 1)[0]


@dataclass(frozen=True)
class TableScript:
    """The command line of a table script: compute the CSV (or read it) and render the block."""

    description: str
    compute: Callable[[int, int, int | None], pd.DataFrame]
    render: Callable[[pd.DataFrame], str]
    block: Block
    csv: Path
    total_firms: int
    replicates: int

    def main(self, argv: list[str] | None = None) -> int:
        p = argparse.ArgumentParser(description=self.description)
        p.add_argument("--total-firms", type=int, default=self.total_firms)
        p.add_argument("--replicates", "-n", type=int, default=self.replicates)
        p.add_argument("--workers", "-j", type=int, default=2)
        p.add_argument("--csv", type=Path, default=self.csv, help="where the table is written")
        p.add_argument("--readme", type=Path, default=README, help="README whose block is replaced")
        p.add_argument("--render-only", action="store_true", help="only render the existing CSV into the README")
        args = p.parse_args(argv)
        if args.render_only:
            table = pd.read_csv(args.csv)
        else:
            table = self.compute(args.total_firms, args.replicates, args.workers)
            args.csv.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(args.csv, index=False, lineterminator="\n")
            table = pd.read_csv(args.csv)  # render what a reader of the CSV sees
        self.block.write(self.render(table), args.readme)
        print(self.render(table))
        return 0
