"""Why the rate variants do not bend the transformed count upward: the transformation pool, measured.

Every transformation hazard of the model acts on one pool: above-scale firms present, on the
cloud, not yet transformed and inside ``diffusion.transform_candidate_share``. This script runs a
scenario at the posterior mean of a saved posterior (``docs/record/variants/<scenario>/posterior.csv``)
and records, at chosen months, the above-scale firms split into: transformed, the pool, on the
cloud but outside the candidate share ("never ready"), and not on the cloud; plus the
transformations per year since the previous row. Stress cases multiply the 2024-2025 programme
intensity of the transformation stage: if even a tenfold push cannot reach the published counts,
the rates are not what is missing, the pool is (two stages in series: the flow is capped by the
rate at which above-scale firms reach the cloud). Counts are scaled to 2,000,000 firms.

Usage::

    python scripts/record_diagnose.py                 # print the table (200,000 firms)
    python scripts/record_diagnose.py --write         # also write docs/record/diagnosis.csv
    python scripts/record_diagnose.py --total-firms 20000 --cases intensity   # a quick check

``tests/test_record_figures.py`` runs it at a small size and checks that the parts add up; the
README's diagnosis lines are rendered from the written CSV by ``scripts/record_figures.py``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "record" / "diagnosis.csv"
MONTHS = ("2021-12", "2023-09", "2024-12", "2025-06", "2025-12")
"""Months of the published figures the rows are taken at (progress_reported.csv)."""

CASES: dict[str, tuple[str, dict]] = {
    "intensity": ("history_intensity", {}),
    # the 2024 target-following factor 1.53 x 10 (and the cluster programme's push likewise)
    "intensity_x10_from_2024": ("history_intensity", {
        "diffusion.transform.intensity": {"2020": 1.0, "2022": 0.83, "2024": 15.3},
        "policies.pilots.items.1.transform_rate_per_year": {"2022": 0.0415, "2024": 0.765}}),
    # and every above-scale firm ready to transform (no saturation of the ready firms)
    "intensity_x10_all_ready": ("history_intensity", {
        "diffusion.transform.intensity": {"2020": 1.0, "2022": 0.83, "2024": 15.3},
        "policies.pilots.items.1.transform_rate_per_year": {"2022": 0.0415, "2024": 0.765},
        "diffusion.transform_candidate_share": 1.0}),
    "quota": ("history_quota", {}),
}
"""Label -> (scenario, overrides on top of the posterior mean)."""


def posterior_mean(scenario: str) -> dict[str, float]:
    """Weighted mean of the saved posterior of ``scenario`` (empty if none is saved)."""
    path = ROOT / "docs" / "record" / "variants" / scenario / "posterior.csv"
    if not path.is_file():
        return {}
    p = pd.read_csv(path)
    return {c: float(np.average(p[c], weights=p["weight"])) for c in p.columns if c != "weight"}


def pool_rows(label: str, scenario: str, overrides: dict, total_firms: int, seed: int) -> list[dict]:
    """Run one case and split the above-scale firms at :data:`MONTHS`."""
    from sim.core import uncertainty
    from sim.core.model import CloudAdoptionModel
    from sim.core.population import NEVER
    from sim.core.state import ON_CLOUD
    from sim.scenario.loader import load_scenario

    cfg = load_scenario(ROOT / "scenarios" / f"{scenario}.yaml")
    values = {**posterior_mean(scenario), "population.total_firms": total_firms, "run.seed": seed}
    cfg = uncertainty.apply(cfg, values)
    if overrides:
        cfg = uncertainty.apply(cfg, overrides)
    model = CloudAdoptionModel(cfg)
    factor = 2_000_000 / total_firms
    rows, last = [], None
    while True:
        month = model.dates[model.month][:7]
        if month in MONTHS:
            ab = model.present & model.is_above
            tr = ab & (model.trans_month != NEVER)
            on = ab & (model.cloud_state == ON_CLOUD) & ~tr
            ready = np.isfinite(model.state.thr_trans)
            row = {"case": label, "scenario": scenario, "month": month, "above_scale": ab.sum() * factor,
                   "transformed": tr.sum() * factor, "pool": (on & ready).sum() * factor,
                   "never_ready_on_cloud": (on & ~ready).sum() * factor,
                   "not_on_cloud": (ab & ~tr & (model.cloud_state != ON_CLOUD)).sum() * factor}
            if last is not None:
                years = (model.month - last[0]) / 12
                row["transformed_per_year"] = (row["transformed"] - last[1]) / years
            rows.append(row)
            last = (model.month, row["transformed"])
        if model.month >= model.n_months:
            break
        model.step()
    return rows


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total-firms", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated labels of CASES")
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    rows = []
    for label in args.cases.split(","):
        scenario, ov = CASES[label]
        rows += pool_rows(label, scenario, ov, args.total_firms, args.seed)
    table = pd.DataFrame(rows)
    table["total_firms"] = args.total_firms
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    table["commit"] = commit or "unknown"
    print(table.round(0).to_string(index=False))
    if args.write:
        table.to_csv(OUT, index=False, float_format="%.0f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
