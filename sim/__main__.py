"""``python -m sim`` is the ``gdcloud`` command line."""

from sim.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
