"""The analysis notebooks in ``notebooks/``: stored without outputs, public API only, and each
one runs from top to bottom without an error.

Execution uses nbclient with a ``python3`` kernel whose command is *this* interpreter
(``sys.executable``): a kernel spec is written to a temporary ``JUPYTER_PATH`` directory, which
takes precedence over any user-level ``python3`` kernel, and a probe cell inserted before the
notebook checks that the kernel runs in the same environment (``sys.prefix``) and imports the same
``sim`` package. Each notebook runs in a temporary working directory with
``GDCLOUD_RESULTS_DIR`` pointing into it, so its results folders are written there and not in
the project's ``results/``.

The execution tests are skipped (with the reason) when nbclient, nbformat or ipykernel is not
installed; all three are in the ``test`` extra (``pip install -e '.[test]'``).

Strip outputs before committing a notebook edited in Jupyter::

    python tests/test_notebooks.py          # strips every notebooks/*.ipynb in place
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_baseline.ipynb", "02_policy_comparison.ipynb", "03_sensitivity_and_calibration.ipynb",
            "04_the_record.ipynb"]

ALLOWED_IMPORTS = {"sim", "sim.core.model", "sim.analysis.summary", "sim.datasets", "sim.analysis.calibration", "sim.analysis.sensitivity", "sim.analysis"}
"""The parts of the package the notebooks may import: the notebook API (``sim``) and the
documented modules (the Mesa model, summaries and goals, public data, analysis tools)."""

RESULTS_WRITTEN = {
    "01_baseline": ["baseline"],
    "02_policy_comparison": ["compare", "baseline", "no_policy_at_all", "vouchers_doubled", "vouchers_halved",
                             "chain_leaders", "plan_2021"],
    "03_sensitivity_and_calibration": ["compare"],
    "04_the_record": ["baseline"],
}
"""Results folders each notebook must have written under ``GDCLOUD_RESULTS_DIR``."""

PROBE = """\
import json, os, sys
import sim
print(json.dumps({"prefix": sys.prefix, "executable": sys.executable, "sim": sim.__file__,
                  "cwd": os.getcwd(), "results": os.environ.get("GDCLOUD_RESULTS_DIR")}))
"""


def _ids(path: Path) -> str:
    return path.stem


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code(nb: dict) -> list[str]:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


def strip(path: Path) -> bool:
    """Remove outputs, execution counts and run metadata from a notebook in place.

    Returns:
        True if the file changed.
    """
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    for cell in nb["cells"]:
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items()
                            if k not in ("execution", "collapsed", "scrolled")}
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb["metadata"].pop("widgets", None)
    nb["metadata"]["language_info"] = {"name": "python"}
    new = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


# --------------------------------------------------------------------------- stored form


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_without_outputs(path):
    nb = _read(path)
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; "
                       f"strip them with `python tests/test_notebooks.py`")
    run_meta = [i for i, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
    assert not run_meta, f"{path.name}: cells {run_meta} carry execution metadata; strip them"
    assert "widgets" not in nb["metadata"], f"{path.name}: widget state is stored; strip it"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["nbformat"] == 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_uses_only_the_public_api(path):
    for source in _code(_read(path)):
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                mods = []
            for mod in mods:
                if mod == "sim" or mod.startswith("sim."):
                    assert mod in ALLOWED_IMPORTS, f"{path.name} imports {mod}; allowed: {sorted(ALLOWED_IMPORTS)}"
            if isinstance(node, ast.ImportFrom) and node.module in ALLOWED_IMPORTS:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private names {private} from {node.module}"
            if isinstance(node, ast.Attribute):
                name = node.attr
                assert not (name.startswith("_") and not name.startswith("__")), \
                    f"{path.name} uses the private attribute .{name}"


def test_strip_is_idempotent_on_the_stored_notebooks(tmp_path):
    for path in NOTEBOOKS:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        assert not strip(copy), f"{path.name} is not in stripped form; run `python tests/test_notebooks.py`"


# --------------------------------------------------------------------------- execution


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory) -> Path:
    """A JUPYTER_PATH directory whose ``python3`` kernel runs this interpreter."""
    pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[test]')")
    pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[test]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (gdcloud tests)",
        "language": "python",
    }), encoding="utf-8")
    return root


def _scenario_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ROOT / "scenarios").rglob("*.yaml"))}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_executes(path, kernel_dir, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    import sim

    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(kernel_dir), os.environ.get("JUPYTER_PATH", "")]).rstrip(os.pathsep))
    results = tmp_path / "results"
    monkeypatch.setenv("GDCLOUD_RESULTS_DIR", str(results))
    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    scenarios_before = _scenario_files()

    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=False,
                                     resources={"metadata": {"path": str(workdir)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the cell and traceback) on any error
    elapsed = time.perf_counter() - t0
    print(f"{path.name}: executed in {elapsed:.1f} s")

    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")
    info = json.loads(text)
    assert Path(info["prefix"]).resolve() == Path(sys.prefix).resolve(), \
        f"the kernel ran in {info['prefix']} ({info['executable']}), not in {sys.prefix}"
    assert Path(info["sim"]).resolve() == Path(sim.__file__).resolve()
    assert Path(info["cwd"]).resolve() == workdir.resolve()
    assert info["results"] == str(results)

    written = sorted(p.name for p in results.iterdir()) if results.is_dir() else []
    missing = [d for d in RESULTS_WRITTEN[path.stem] if d not in written]
    assert not missing, f"{path.name} wrote {written} under GDCLOUD_RESULTS_DIR, missing {missing}"
    assert not any(workdir.iterdir()), f"{path.name} wrote into its working directory: {list(workdir.iterdir())}"
    assert _scenario_files() == scenarios_before, f"{path.name} changed files under scenarios/"


if __name__ == "__main__":
    changed = [p.name for p in NOTEBOOKS if strip(p)]
    print("stripped: " + (", ".join(changed) if changed else "nothing to do"))
