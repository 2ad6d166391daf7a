"""The ``gdcloud`` command line (a thin layer over :mod:`sim.api`).

Importing it defers the code of the modules a run never uses (:mod:`sim.lazy_imports`) before
Mesa, SciPy or Numba are imported: the command's start-up is on a single run's critical path. A
notebook's ``import sim`` leaves the import system alone.
"""

from sim import lazy_imports

lazy_imports.install()
