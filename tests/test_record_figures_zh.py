"""The Chinese copies of the committed record figures are the output of
scripts/record_figures_zh.py on docs/record/ (drawn again from the saved tables, no model run)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "record"


def _script():
    spec = importlib.util.spec_from_file_location("record_figures_zh", ROOT / "scripts" / "record_figures_zh.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_committed_chinese_record_figures_are_the_script_output(tmp_path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = _script().draw(tmp_path)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert not missing, missing[:3]
    drawn = {p.relative_to(tmp_path).as_posix() for p in written}
    # every English figure committed beside a saved table has its Chinese copy
    assert "evaluate/zh/instruments.png" in drawn
    for name in ("evaluate", "backtest"):
        for png in (RECORD / name).glob("*.png"):
            table = {"predictive.png": "predictive_fan.csv", "instruments.png": "instruments.csv"}.get(
                png.name, png.stem + ".csv")
            if (RECORD / name / table).is_file():
                assert f"{name}/zh/{png.name}" in drawn, png
    committed = {p.relative_to(RECORD).as_posix() for p in RECORD.glob("*/zh/*.png")}
    assert committed == drawn, "regenerate with: python scripts/record_figures_zh.py --write"
    for rel in sorted(drawn):
        assert (tmp_path / rel).read_bytes() == (RECORD / rel).read_bytes(), \
            f"{rel} is stale: regenerate with: python scripts/record_figures_zh.py --write"


def test_redraw_from_the_fan_table_is_the_figure_of_the_match(tmp_path) -> None:
    """A figure drawn again from the saved fan table is the one the command drew (same bytes)."""
    import sim
    from sim.plots.record import FAN_FILE, redraw

    run = sim.history_match("baseline", particles=4, generations=2, max_simulations=4, total_firms=3000,
                            out_dir=tmp_path / "run")
    fan = pd.read_csv(run.folder / FAN_FILE)
    assert list(fan.columns) == ["metric", "date", "p05", "p25", "p50", "p75", "p95"]
    assert (fan.p05 <= fan.p50).all() and (fan.p50 <= fan.p95).all()
    [again] = redraw(run.folder, tmp_path / "en", "en")
    assert again.read_bytes() == (run.folder / "predictive.png").read_bytes()
    [zh] = redraw(run.folder, tmp_path / "zh", "zh")
    assert zh.read_bytes() != again.read_bytes()
