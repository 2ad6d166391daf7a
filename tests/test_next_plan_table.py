"""The README's next-plan table is the rendering of the committed docs/next_plan/next_plan.csv,
and scripts/next_plan_table.py produces such a CSV and README block end to end (at a tiny size):
every variant equals the continuation up to 2025-12 and differs after it."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import sim

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import next_plan_table  # noqa: E402


def test_readme_table_is_the_rendering_of_the_committed_csv() -> None:
    table = pd.read_csv(next_plan_table.CSV)
    assert list(table.columns) == next_plan_table.COLUMNS
    assert set(next_plan_table.COLUMNS) <= set(next_plan_table.COLUMNS_ZH)
    assert list(table["scenario"]) == list(next_plan_table.NEXT_PLAN)
    assert next_plan_table.BLOCK.read() == next_plan_table.render(table)
    assert (table["posterior"] == "record.csv").all() and table["replicates"].nunique() == 1
    assert (table["total_firms"] == next_plan_table.TOTAL_FIRMS).all()
    assert table.loc[0, [f"d_{k}_median" for k in next_plan_table.SHOWN]].tolist() == [0, 0, 0]  # the reference
    # every variant changes only policy after 2025: the same counts at 2025-12, replicate by replicate
    assert (table["d_2025_max_abs"] == 0).all()
    for key in next_plan_table.SHOWN:
        assert (table[f"{key}_p10"] <= table[f"{key}_median"]).all()
        assert (table[f"{key}_median"] <= table[f"{key}_p90"]).all()
    assert (table["cloud_2027_median"] < table["cloud_2030_median"]).all()
    for key in next_plan_table.GOALS:
        assert table[f"p_{key}"].between(0, 1).all()
    # keeping the instruments makes the illustrative 2030 cloud goal likelier than stopping them
    by = table.set_index("scenario")
    assert by.loc["next_plan_stop_all", "p_cloud_goal_2030"] < by.loc["next_plan_continue", "p_cloud_goal_2030"]


def test_variants_extend_outlook_2030_and_change_only_later_policy() -> None:
    for name in next_plan_table.NEXT_PLAN:
        sc = sim.load_scenario(name)
        assert (sc.time.start, sc.time.end) == ("2020-12", "2030-12")
        assert any(g.indicator == "sme_cloud_rate" and g.date == "2027-12" for g in sc.goals.more)
    assert sim.load_scenario("next_plan_stop_all").policies.vouchers.end == "2025-12"
    assert sim.load_scenario("next_plan_no_targets").policies.transformation_programme.end == "2025-12"


def test_script_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{next_plan_table.START}\nold\n{next_plan_table.END}\n\nafter\n",
                      encoding="utf-8")
    csv = tmp_path / "next_plan.csv"
    assert next_plan_table.main(["--total-firms", "5000", "--replicates", "2", "--workers", "1",
                                 "--csv", str(csv), "--readme", str(readme)]) == 0
    table = pd.read_csv(csv)
    assert list(table["scenario"]) == list(next_plan_table.NEXT_PLAN)
    assert (table["replicates"] == 2).all() and (table["total_firms"] == 5000).all()
    # common random numbers: up to 2025-12 every variant is the continuation, firm for firm
    assert (table["d_2025_max_abs"] == 0).all()
    by = table.set_index("scenario")
    # province-equivalent counts (x400) of the order of the 2025 record and beyond
    assert by["cloud_2030_median"].between(1_000_000, 3_000_000).all()
    assert by["transformed_2030_median"].between(40_000, 120_000).all()
    # stopping every instrument after 2025 loses cloud firms in every pair by 2030
    assert by.loc["next_plan_stop_all", "d_cloud_2030_p90"] < 0
    assert by.loc["next_plan_stop_all", "voucher_cny_2026_2030_median"] == 0
    assert by.loc["next_plan_continue", "voucher_cny_2026_2030_median"] > 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert next_plan_table.BLOCK.read(readme) == next_plan_table.render(table)
    assert "each of the 2 replicates" in text.lower() and "5,000 firms (1:400)" in text
    # --render-only re-renders the CSV without running anything
    readme.write_text(text.replace("`next_plan_continue`", "`changed`"), encoding="utf-8")
    assert next_plan_table.main(["--render-only", "--csv", str(csv), "--readme", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == text
