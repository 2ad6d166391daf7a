"""Guangzhou's cloud firms against its reported figures, under two SME city assumptions.

Guangzhou reported more than 100,000 firms on the cloud at end-2021 and targets 200,000 by 2025
(``policy_instruments.csv`` rows guangzhou_status, guangzhou_measures). The model puts SMEs in
cities like above-scale industrial firms unless ``population.sme_guangzhou_odds_ratio`` says
otherwise. This script runs the baseline (one replicate at 200,000 firms, scaled to 2,000,000)
with the default ratio 1 and with 1.7 and prints Guangzhou's and the province's cloud firms at
end-2021 and 2025-12. ``docs/model.md`` (section 9) describes the result; ``tests/test_docs_numbers.py``
runs it.

Usage::

    PYTHONPATH=. .venv/bin/python scripts/guangzhou_check.py
"""

from __future__ import annotations

from sim import datasets
from sim.core.model import simulate
from sim.core.policies import cell_grid
from sim.core.population import DEFAULT_TOTAL_FIRMS
from sim.core.run_output import METRICS
from sim.scenario.loader import load_scenario

TOTAL_FIRMS = 200_000
RATIOS = (1.0, 1.7)
DATES = ("2021-12", "2025-12")


def guangzhou_cloud(ratio: float, total_firms: int = TOTAL_FIRMS) -> dict[str, tuple[float, float]]:
    """Date -> (Guangzhou, province) cloud firms ever, scaled to 2,000,000 firms."""
    sc = load_scenario("baseline", [f"population.total_firms={total_firms}",
                                    f"population.sme_guangzhou_odds_ratio={ratio}"])
    out = simulate(sc, replicate=0)
    _, city, _ = cell_grid()
    gz = city == datasets.city_names().index("Guangzhou")
    cum = out.cells[:, :, METRICS.index("cloud_cumulative")]
    f = DEFAULT_TOTAL_FIRMS / total_firms
    result = {}
    for d in DATES:
        k = next(i for i, x in enumerate(out.dates) if x.startswith(d))
        result[d] = (float(cum[k, gz].sum() * f), float(cum[k].sum() * f))
    return result


def main() -> None:
    for ratio in RATIOS:
        res = guangzhou_cloud(ratio)
        parts = [f"{d}: Guangzhou {g:,.0f} of {p:,.0f} ({g / p:.1%})" for d, (g, p) in res.items()]
        print(f"sme_guangzhou_odds_ratio {ratio}: " + "; ".join(parts))
    print("reported: Guangzhou > 100,000 of 625,000 at end-2021; target 200,000 by 2025")


if __name__ == "__main__":
    main()
