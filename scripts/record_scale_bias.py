"""Bias of the history match's population size: the match configuration at N firms vs full scale.

Runs the scenario the record commands use (``history`` if shipped, else the baseline with
vouchers since 2018-03 and platforms since 2019-01), from 2020-12 to 2025-12, at its default
parameter values: ``--replicates`` runs at ``--small`` firms and ``--full-replicates`` at
2,000,000, with the same replicate seeds, and writes the scaled provincial cloud and transformed
counts at 2023-09 and 2025-12 (mean, Monte Carlo standard error, relative bias) to
``docs/record/scale_bias.csv``. Heavy (a full-scale run takes ~10 s and ~1 GB): run by hand.

Usage::

    python scripts/record_scale_bias.py --small 50000 --replicates 8 --full-replicates 2 [--scenario NAME]

The standard deviation of one run at the small size (``small_se`` x sqrt(replicates)) is also the
Monte Carlo noise of one history-match particle: a floor for the ABC tolerance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.history_match import IN_FORCE_SINCE_2018, match_config
from sim.runs.jobs import run_totals
from sim.runs.runner import resolve_scenario
from sim.scenario.loader import scenarios_dir

ROOT = Path(__file__).resolve().parents[1]
DATES = ("2023-09-30", "2025-12-31")


def runs(base, overrides, n_firms: int, replicates: int) -> dict[str, np.ndarray]:
    cfg = match_config(base, total_firms=n_firms, start="2020-12", end="2025-12", seed=0, overrides=overrides)
    factor = 2_000_000 / n_firms
    out: dict[str, list[float]] = {}
    for r in range(replicates):
        res = run_totals(cfg, r)
        for m in ("cloud_cumulative", "transformed"):
            for d in DATES:
                out.setdefault(f"{m} {d[:7]}", []).append(float(res[m][res["dates"].index(d)]) * factor)
    return {k: np.array(v) for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=50_000)
    ap.add_argument("--replicates", type=int, default=8)
    ap.add_argument("--full-replicates", type=int, default=2)
    ap.add_argument("--scenario", default=None, help="scenario (default: history if shipped, else baseline)")
    args = ap.parse_args()
    name = args.scenario or ("history" if (scenarios_dir() / "history.yaml").is_file() else "baseline")
    base = resolve_scenario(name)
    overrides = {} if str(base.policies.vouchers.start) <= "2018-12" else IN_FORCE_SINCE_2018
    small = runs(base, overrides, args.small, args.replicates)
    full = runs(base, overrides, 2_000_000, args.full_replicates)
    rows = []
    for k in small:
        s, f = small[k], full[k]
        rows.append({"scenario": name, "quantity": k, "small_firms": args.small, "small_replicates": len(s),
                     "small_run_sd": s.std(ddof=1),
                     "small_mean": s.mean(), "small_se": s.std(ddof=1) / np.sqrt(len(s)),
                     "full_mean": f.mean(), "full_se": f.std(ddof=1) / np.sqrt(len(f)) if len(f) > 1 else np.nan,
                     "relative_bias": s.mean() / f.mean() - 1})
    table = pd.DataFrame(rows)
    path = ROOT / "docs" / "record" / "scale_bias.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
