"""``python -m sim.dashboard [--host H] [--port P] [--dev] [more solara run options]``.

Serves the dashboard with ``solara run sim.dashboard.app`` on http://127.0.0.1:8765 (local
only; pass ``--host 0.0.0.0`` deliberately to expose it). The WebSocket is accepted only from
the page's own origin or those given with ``--allow-origin`` (:mod:`sim.dashboard.guard`). Production mode by default: no file
watching, no call-home or version check; ``--dev`` turns on Solara's auto-reload for development. Solara's
usage telemetry is switched off unless ``SOLARA_TELEMETRY_MIXPANEL_ENABLE`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.dashboard",
                                 description="Serve the cloud-adoption dashboard (Mesa SolaraViz).")
    ap.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    ap.add_argument("--dev", action="store_true", help="development mode: reload when the code changes")
    ap.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                    help="also accept the WebSocket from this origin, e.g. https://dash.example.org "
                         "behind a proxy (repeatable; default: only the page's own origin)")
    args, rest = ap.parse_known_args(argv)
    os.environ["GDCLOUD_DASHBOARD_HOST"] = args.host  # the names the page may be reached by
    if args.allow_origin:
        known = [o for o in os.environ.get("GDCLOUD_DASHBOARD_ORIGINS", "").split(",") if o]
        os.environ["GDCLOUD_DASHBOARD_ORIGINS"] = ",".join(known + args.allow_origin)
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    # No English "This website runs on Solara" banner on a page that switches to Chinese, and the
    # page's own title (not "Solara") while it loads.
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    os.environ.setdefault("SOLARA_THEME_TITLE", "Guangdong firms on the cloud · 广东省企业上云用云")
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        from solara.__main__ import cli
    except ImportError:
        print("The dashboard needs its optional dependencies: pip install -e '.[dashboard]'", file=sys.stderr)
        return 2
    cmd = ["run", "sim.dashboard.app", "--host", args.host, "--port", str(args.port), "--no-open",
           "--no-check-version"]
    if not args.dev:
        cmd.append("--production")
    print(f"Dashboard: http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    cli([*cmd, *rest], standalone_mode=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
