"""The README's forward-scenario table is the rendering of the committed docs/forward/forward.csv,
and scripts/forward_table.py produces such a CSV and README block end to end (at a tiny size)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import forward_table  # noqa: E402


def test_readme_table_is_the_rendering_of_the_committed_csv() -> None:
    table = pd.read_csv(forward_table.CSV)
    assert list(table.columns) == forward_table.COLUMNS
    assert list(table["scenario"]) == list(forward_table.FORWARD)
    assert forward_table.BLOCK.read() == forward_table.render(table)
    # what the README states about the table holds for the CSV
    assert (table["posterior"] == "record.csv").all() and table["replicates"].nunique() == 1
    assert (table["total_firms"] == forward_table.TOTAL_FIRMS).all()
    assert table.loc[0, ["d_cloud_median", "d_transformed_median"]].tolist() == [0, 0]  # the reference
    for key in ("cloud", "transformed"):
        assert (table[f"{key}_p10"] <= table[f"{key}_median"]).all()
        assert (table[f"{key}_median"] <= table[f"{key}_p90"]).all()
        assert table[f"p_{key}_goal"].between(0, 1).all()


def test_script_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{forward_table.START}\nold\n{forward_table.END}\n\nafter\n", encoding="utf-8")
    csv = tmp_path / "forward.csv"
    assert forward_table.main(["--total-firms", "5000", "--replicates", "2", "--workers", "1",
                               "--csv", str(csv), "--readme", str(readme)]) == 0
    table = pd.read_csv(csv)
    assert list(table["scenario"]) == list(forward_table.FORWARD)
    assert (table["replicates"] == 2).all() and (table["total_firms"] == 5000).all()
    # province-equivalent counts: a 5,000-firm run is shown x400, near the 2025 goals' order
    assert table["cloud_median"].between(500_000, 2_000_000).all()
    assert table["transformed_median"].between(20_000, 100_000).all()
    # no policy at all has fewer transformed firms than the baseline, replicate by replicate
    assert table.set_index("scenario").loc["no_policy_at_all", "d_transformed_p90"] < 0
    # the implemented mechanisms (launch campaign, annual targets) add transformed firms
    assert table.set_index("scenario").loc["as_implemented", "d_transformed_median"] > 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert forward_table.BLOCK.read(readme) == forward_table.render(table)
    assert "data-conditioned" in text and "each of the 2 replicates" in text and "5,000 firms (1:400)" in text
    # --render-only re-renders the CSV without running anything
    readme.write_text(text.replace("`baseline`", "`changed`"), encoding="utf-8")
    assert forward_table.main(["--render-only", "--csv", str(csv), "--readme", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == text
