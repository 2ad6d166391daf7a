"""Modules whose code runs at their first use (sim.lazy_imports) behave as imported ones.

Mesa's optional spaces (``mesa.discrete_space``, ``mesa.experimental.continuous_space``, with
networkx and SciPy's spatial module), ``numpy.f2py``/``numpy.testing`` and the ``scipy.linalg``
package (Numba's BLAS check needs only its ``cython_blas`` extension) are imported by ``import
mesa``, SciPy or Numba, never used by a run, and are loaded only when a user touches them. Each
check runs in a fresh interpreter (what is imported depends on the process's history); a run's
files are compared byte for byte with those of a run where every module was imported eagerly.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def _python(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_model_imports_without_running_the_deferred_modules_which_load_on_first_use():
    out = _python("""
        import json, sys, types
        import sim.cli  # first, as the command line does: installs the finder
        import numpy as np
        import numba.np.arraymath  # Numba's start-up: its BLAS check imports scipy.linalg.cython_blas
        import sim.core.model  # Mesa, and the model
        import sim.lazy_imports as lazy
        names = lazy.LAZY_MODULES
        res = {"ran_at_import": [n for n in names if type(sys.modules.get(n)) is types.ModuleType],
               "spatial": "scipy.spatial" in sys.modules}
        deferred = {n: sys.modules[n] for n in names if n in sys.modules}  # numpy.f2py: not even imported
        res["imported"] = sorted(deferred)
        res["blas"] = numba.np.arraymath._HAVE_BLAS
        dot = numba.njit(lambda a, b: np.dot(a, b))  # through BLAS, with scipy.linalg deferred
        res["dot"] = float(dot(np.arange(3.0), np.arange(3.0)))
        import mesa, networkx, scipy.linalg
        res["solve"] = scipy.linalg.solve(np.eye(2) * 2.0, np.ones(2)).tolist()
        # A user touching them gets the real modules, the same objects as bound before.
        grid = mesa.discrete_space.OrthogonalMooreGrid((3, 3), torus=False, random=None)
        res["cells"] = len(grid.all_cells)
        from mesa.experimental.continuous_space import ContinuousSpace
        res["continuous"] = ContinuousSpace.__module__
        res["path"] = networkx.shortest_path_length(networkx.path_graph(4), 0, 3)
        np.testing.assert_equal(np.arange(3), [0, 1, 2])
        res["f2py"] = callable(np.f2py.run_main)
        res["same"] = all(sys.modules[n] is m and type(m) is types.ModuleType for n, m in deferred.items())
        res["dir"] = "Graph" in dir(networkx)
        print(json.dumps(res))
    """)
    res = json.loads(out)
    assert res["ran_at_import"] == [] and res["spatial"] is False
    assert {"mesa.discrete_space", "networkx", "scipy.linalg"} <= set(res["imported"])
    assert res["cells"] == 9 and res["continuous"].startswith("mesa.experimental.continuous_space")
    assert res["path"] == 3 and res["f2py"] and res["same"] and res["dir"]
    assert res["blas"] is True and res["dot"] == 5.0 and res["solve"] == [0.5, 0.5]


def test_a_deferred_module_has_the_names_of_an_eagerly_imported_one():
    code = """
        import hashlib, sys
        if sys.argv[1] == "eager":
            import networkx, mesa.discrete_space  # before sim: nothing is deferred
        import sim.cli  # installs the finder (sim.lazy_imports)
        import mesa, networkx
        names = sorted(n for n in dir(mesa.discrete_space) + dir(networkx) if not n.startswith("__"))
        print(type(sys.modules["networkx"]).__name__, len(names), hashlib.sha256(" ".join(names).encode()).hexdigest())
    """
    eager, lazy = _python(code, "eager"), _python(code, "lazy")
    assert eager.split()[1:] == lazy.split()[1:] and eager.split()[0] == lazy.split()[0] == "module"


def test_a_run_writes_the_same_files_with_and_without_deferred_modules(tmp_path: Path):
    code = """
        import sys
        if sys.argv[1] == "eager":  # imported before sim: the finder has nothing left to defer
            import networkx, numpy.f2py, numpy.testing, scipy.linalg, mesa.discrete_space
            import mesa.experimental.continuous_space
        import types
        from sim.cli.main import main
        code = main(["run", "scenarios/demo.yaml", "--out", sys.argv[2], "--no-progress",
                     "--set", "population.total_firms=20000"])
        deferred = [n for n in ("networkx", "mesa.discrete_space") if type(sys.modules[n]) is not types.ModuleType]
        print(code, len(deferred))
    """
    digests = {}
    for how in ("eager", "lazy"):
        out = tmp_path / how
        assert _python(code, how, str(out)) == ("0 0" if how == "eager" else "0 2")
        files = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in (".csv", ".png", ".yaml"))
        folder = next(out.rglob("manifest.json")).parent
        digests[how] = {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert len(digests["lazy"]) >= 5 and any(k.endswith(".png") for k in digests["lazy"])
    assert digests["lazy"] == digests["eager"]


def test_a_deferred_module_that_fails_raises_at_first_use_and_is_imported_again(tmp_path: Path):
    (tmp_path / "broken_probe.py").write_text("import os\nif os.environ.get('PROBE_FAIL'):\n    "
                                             "raise ImportError('probe failed')\nVALUE = 7\n")
    out = _python("""
        import os, sys, types
        sys.path.insert(0, sys.argv[1])
        from sim.lazy_imports import DeferringFinder
        sys.meta_path.insert(0, DeferringFinder(("broken_probe",)))
        os.environ["PROBE_FAIL"] = "1"
        import broken_probe  # deferred: nothing runs yet
        res = [type(broken_probe).__name__]
        try:
            broken_probe.VALUE
        except ImportError as exc:
            res.append(str(exc))
        res.append("broken_probe" in sys.modules)
        del os.environ["PROBE_FAIL"]
        import broken_probe  # a new import, as after a failed eager import
        res.append(broken_probe.VALUE)
        print(res)
    """, str(tmp_path))
    assert out == "['DeferredModule', 'probe failed', False, 7]"


def test_a_notebook_import_of_the_library_leaves_the_import_system_alone():
    out = _python("""
        import sys, types
        import sim
        from sim.api import run  # the notebook API, Mesa and the model included
        import sim.core.model
        import networkx
        finders = [type(f).__name__ for f in sys.meta_path]
        print(type(sys.modules["networkx"]) is types.ModuleType, "DeferringFinder" in finders)
    """)
    assert out == "True False"  # the command line's finder: the first test
