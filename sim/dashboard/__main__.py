"""``python -m sim.dashboard [--host H] [--port P] [extra solara run options]``: serve the dashboard.

Runs ``solara run sim.dashboard.app`` on 127.0.0.1:8765 by default (local only; pass
``--host 0.0.0.0`` deliberately to expose it).
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.dashboard", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    args, rest = ap.parse_known_args(argv)
    try:
        import solara  # noqa: F401
        from solara.__main__ import cli
    except ImportError:
        print("The dashboard needs its optional dependencies: pip install -e '.[dashboard]'", file=sys.stderr)
        return 2
    os.environ.setdefault("MPLBACKEND", "Agg")
    cmd = ["run", "sim.dashboard.app", "--host", args.host, "--port", str(args.port), "--no-open", *rest]
    print(f"Dashboard: http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    cli(cmd, standalone_mode=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
