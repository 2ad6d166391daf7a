"""What a command's start-up skips or shortens changes nothing a user sees.

Not timed (speed is measured in benchmarks/): ``gdcloud --version`` still prints the installed
version on stdout although the version is read only when asked for, and the frames of the import
machinery that ``inspect`` now resolves from its cache (sim.import_frames, for Mesa's loggers) give
the same frame records as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_version_is_printed_on_stdout_and_not_read_at_start_up():
    done = subprocess.run([sys.executable, "-m", "sim", "--version"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"gdcloud-sim {metadata.version('gdcloud-sim')}\n"
    probe = "import sys, sim, sim.cli.main; sim.cli.main.build_parser(); print('importlib.metadata' in sys.modules)"
    started = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert started.stdout.strip() == "False"


def test_frozen_import_frames_give_the_same_frame_records(tmp_path: Path):
    # A module that, like Mesa's loggers, inspects the stack while it is being imported: the
    # records are the same with the mapping as without it, and with it inspect no longer scans
    # sys.modules for the import machinery's frames.
    (tmp_path / "probe_stack.py").write_text(textwrap.dedent("""
        import inspect, sys
        scans = []
        own = inspect.getabsfile
        inspect.getabsfile = lambda *a, **k: scans.append(1) or own(*a, **k)
        RECORDS = [(f.filename, f.lineno, f.function, f.code_context, f.index) for f in inspect.stack()]
        SCANS = len(scans)
        inspect.getabsfile = own
    """))
    script = textwrap.dedent("""
        import json, sys
        sys.path.insert(0, sys.argv[2])
        if sys.argv[1] == "mapped":
            from sim.import_frames import name_frozen_import_frames
            name_frozen_import_frames()
        import probe_stack
        print(json.dumps([probe_stack.RECORDS, probe_stack.SCANS]))
    """)
    out = {}
    for how in ("plain", "mapped"):
        done = subprocess.run([sys.executable, "-c", script, how, str(tmp_path)], capture_output=True,
                              text=True, cwd=REPO, check=True, env={"PYTHONPATH": str(REPO)})
        out[how] = json.loads(done.stdout)
    assert any(r[0].startswith("<frozen importlib") for r in out["plain"][0])
    assert out["mapped"][0] == out["plain"][0]
    assert out["mapped"][1] < out["plain"][1]
