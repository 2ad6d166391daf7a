"""The ``gdcloud`` command line (a thin layer over :mod:`sim.api`)."""
