"""Sensitivity analysis: the SALib pipeline against Ishigami's analytic indices, alignment of
samples and outputs, dry runs, and a tiny model run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sim.analysis.sensitivity import (
    ModelEvaluator,
    SensitivitySpec,
    n_model_runs,
    run_sensitivity,
)
from sim.errors import ScenarioError

REPO = Path(__file__).resolve().parents[1]
PI = float(np.pi)
ISHIGAMI_S1 = (0.314, 0.442, 0.0)
ISHIGAMI_ST = (0.558, 0.442, 0.244)


def ishigami(x: pd.DataFrame) -> pd.DataFrame:
    from SALib.test_functions import Ishigami

    return pd.DataFrame({"y": Ishigami.evaluate(x[["x1", "x2", "x3"]].to_numpy())}, index=x.index)


def _ishigami_spec(method: str, n: int) -> SensitivitySpec:
    return SensitivitySpec.model_validate({
        "parameters": [{"path": f"x{i}", "lower": -PI, "upper": PI} for i in (1, 2, 3)],
        "outcomes": ["y"], "method": method, "n": n, "seed": 11,
    })


def test_sobol_recovers_ishigami(tmp_path: Path) -> None:
    res = run_sensitivity(_ishigami_spec("sobol", 4096), evaluate=ishigami, out_dir=tmp_path)
    idx = res.indices.set_index(["index", "parameter"]).value
    for j, name in enumerate(("x1", "x2", "x3")):
        assert idx["S1", name] == pytest.approx(ISHIGAMI_S1[j], abs=0.04), name
        assert idx["ST", name] == pytest.approx(ISHIGAMI_ST[j], abs=0.04), name
    assert (res.indices.conf > 0).all()
    assert (tmp_path / "indices.csv").is_file() and (tmp_path / "sensitivity_y.png").is_file()
    table = pd.read_csv(tmp_path / "samples_outputs.csv", index_col="row")
    assert np.allclose(table.y, ishigami(table).y)  # rows stayed aligned through the CSV


def test_morris_screens_ishigami() -> None:
    res = run_sensitivity(_ishigami_spec("morris", 256), evaluate=ishigami)
    mu = res.indices[res.indices["index"] == "mu_star"].set_index("parameter").value
    # x3 acts only through its interaction with x1: smallest mu*, but clearly non-zero sigma.
    assert mu["x3"] < mu["x1"] and mu["x3"] < mu["x2"]
    sigma = res.indices[res.indices["index"] == "sigma"].set_index("parameter").value
    assert sigma["x3"] > 0.5


def test_misaligned_evaluator_is_refused() -> None:
    def shuffled(x: pd.DataFrame) -> pd.DataFrame:
        return ishigami(x).sample(frac=1.0, random_state=0)

    with pytest.raises(AssertionError, match="one row per sample row"):
        run_sensitivity(_ishigami_spec("sobol", 64), evaluate=shuffled)


def test_dry_run_and_spec_checks() -> None:
    spec = SensitivitySpec.load(REPO / "scenarios" / "analysis" / "sensitivity.yaml")
    res = run_sensitivity(spec, dry_run=True)
    d = len(spec.parameters)
    assert len(res.samples) == spec.n * (d + 2 if spec.method == "sobol" else d + 1)
    assert res.n_runs == 0 and n_model_runs(spec) >= len(res.samples) * spec.replicates
    with pytest.raises(ValidationError, match="power of two"):
        _ishigami_spec("sobol", 100)
    with pytest.raises(ValidationError):
        SensitivitySpec.model_validate({**spec.model_dump(), "typo": 1})
    with pytest.raises(ScenarioError, match=r"^\(sensitivity spec\): outcomes\[0\]: unknown outcome 'y'; "
                       r"allowed: cloud_firms, "):
        ModelEvaluator(_ishigami_spec("sobol", 64))
    typo = {**spec.model_dump(), "outcomes": ["cloud_firm"]}
    with pytest.raises(ScenarioError, match="did you mean 'cloud_firms'"):
        run_sensitivity(typo)
    with pytest.raises(ScenarioError, match=r"\(sensitivity spec\): metod: unknown key 'metod'.*did you mean 'method'"):
        run_sensitivity({**spec.model_dump(), "metod": "sobol"})


def test_model_evaluation_tiny() -> None:
    spec = SensitivitySpec.model_validate({
        "parameters": [{"path": "diffusion.cloud.market_rate_per_year", "lower": 0.02, "upper": 0.2},
                       {"path": "policies.vouchers.budget_cny_per_year", "lower": 1e8, "upper": 1e9}],
        "overrides": {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 700_000},
        "outcomes": ["cloud_firms", "p_cloud_goal", "voucher_cny_per_extra_cloud_firm"],
        "method": "sobol", "n": 2, "replicates": 1, "total_firms": 10_000, "seed": 3,
    })
    assert n_model_runs(spec) == 2 * 4 * 2
    res = run_sensitivity(spec)
    out = res.outputs
    assert out.index.equals(res.samples.index) and list(out.columns) == spec.outcomes
    assert set(out.p_cloud_goal.unique()) <= {0.0, 1.0}
    # Higher market rate -> more firms, row by row against the sample.
    hi = res.samples["cloud.market_rate_per_year"] > 0.11
    assert out.cloud_firms[hi].mean() > out.cloud_firms[~hi].mean()
    assert (out.voucher_cny_per_extra_cloud_firm.dropna() > 0).all()
    assert {"S1", "ST"} <= set(res.indices["index"])


# --------------------------------------------------------------------------- executors


def _tiny_morris() -> SensitivitySpec:
    """Morris, 2 trajectories x 3 points, 2 replicates, with the voucher outcome: 24 runs."""
    return SensitivitySpec.model_validate({
        "parameters": [{"path": "diffusion.cloud.market_rate_per_year", "lower": 0.02, "upper": 0.2},
                       {"path": "policies.vouchers.budget_cny_per_year", "lower": 1e8, "upper": 1e9}],
        "overrides": {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 700_000},
        "outcomes": ["cloud_firms", "p_cloud_goal", "voucher_cny_per_extra_cloud_firm"],
        "method": "morris", "n": 2, "replicates": 2, "total_firms": 5_000, "seed": 3,
    })


def test_processes_give_the_same_tables_as_serial(tmp_path: Path) -> None:
    spec = _tiny_morris()
    done: list[tuple[int, int]] = []
    serial = run_sensitivity(spec, out_dir=tmp_path / "serial")
    pooled = run_sensitivity(spec, out_dir=tmp_path / "pooled", workers=2,
                             progress=lambda k, n: done.append((k, n)))
    assert pooled.n_runs == serial.n_runs == n_model_runs(spec) == 24
    for name in ("samples_outputs.csv", "indices.csv"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "pooled" / name).read_bytes(), name
    assert serial.outputs.to_csv() == pooled.outputs.to_csv()
    # one call per completed sample row, whatever the completion order
    assert [k for k, _ in done] == list(range(1, 7)) and {n for _, n in done} == {6}
