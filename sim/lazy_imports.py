"""Load a few modules that a run never uses only when they are first used.

``import mesa`` imports all of Mesa's optional spaces: ``mesa.discrete_space`` (grids, networks
and Voronoi cells: it imports networkx and SciPy's spatial module) and
``mesa.experimental.continuous_space`` (SciPy's spatial module again), ~0.3 s of CPU in
``gdcloud run``, whose model keeps its firms in NumPy columns and uses no Mesa space. And
SciPy's array-API layer (imported with ``scipy.linalg``, which Numba imports at its start-up to
check for BLAS) asks NumPy for every public attribute, which imports ``numpy.f2py`` (a Fortran
wrapper generator) and ``numpy.testing``, although Numba needs only ``scipy.linalg``'s
``cython_blas`` extension module, not the package's ``__init__``: ~0.1-0.15 s before a single
run can fork its population build (:mod:`sim.runs.prebuild`).

:func:`install` puts a finder first on ``sys.meta_path`` that gives each module of
:data:`LAZY_MODULES`, when it is first imported, a loader that defers its code: the import
machinery creates the module from the spec Python's own path finder returns, sets its
``__file__``, ``__path__``, ``__spec__``... and binds it in ``sys.modules`` and on its parent
package as usual, but the module's code runs only when an attribute it would define is first
read (``mesa.discrete_space.OrthogonalMooreGrid``, ``from numpy.testing import assert_equal``,
``dir(module)``...); from then on it is a plain module, the same object. Each name is served
once; anything unexpected (not found, a loader without ``exec_module``) leaves the import to the
normal machinery.

Why not the standard library's :class:`importlib.util.LazyLoader`: its module loads on ANY
attribute access, ``__file__`` included, and Mesa's loggers call ``inspect.stack()`` while
``mesa.model`` is imported, which reads ``__file__`` of every module in ``sys.modules``: every
deferred module would load right there. Here only the attributes the import machinery did not
set trigger the load.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

LAZY_MODULES = ("mesa.discrete_space", "mesa.experimental.continuous_space", "networkx", "numpy.f2py", "numpy.testing",
                "scipy.linalg")
"""Modules whose code runs at their first attribute access instead of at their import."""


class DeferredModule(types.ModuleType):
    """A module whose code has not run yet: reading an attribute it lacks runs it first."""

    def __getattr__(self, name: str):
        if not self.__dict__.get("_deferred_armed"):  # the import machinery still sets it up
            raise AttributeError(name)
        load(self)
        return getattr(self, name)

    def __dir__(self) -> list[str]:
        load(self)
        return dir(self)


def load(module: types.ModuleType) -> None:
    """Run a :class:`DeferredModule`'s code now (once; a plain module is left alone). If the
    code raises, the module leaves ``sys.modules`` as a failed import would (a later import
    tries again) and the error reaches the attribute access that triggered the load."""
    if type(module) is not DeferredModule:
        return
    module.__class__ = types.ModuleType  # first: its code reads its own attributes
    del module._deferred_armed
    try:
        module.__spec__.loader.exec_module(module)
    except BaseException:
        if sys.modules.get(module.__name__) is module:
            del sys.modules[module.__name__]
        raise


class DeferredLoader:
    """Creates a :class:`DeferredModule` and leaves running its code to :func:`load` (a loader
    as the import system calls one; not derived from ``importlib.abc``, whose import pulls in
    ``typing``, ``inspect``, ``tempfile``... at every start-up)."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):  # noqa: D102 - Loader.create_module
        return DeferredModule(spec.name)

    def exec_module(self, module) -> None:  # noqa: D102 - Loader.exec_module
        module.__spec__.loader = self.loader  # what load() runs, and what the module reports
        module.__loader__ = self.loader
        module._deferred_armed = True  # from now on a missing attribute runs the code (load)


class DeferringFinder:
    """Finds the modules of ``names`` as Python's path finder does, with a :class:`DeferredLoader`
    (a meta path finder as the import system calls one)."""

    def __init__(self, names: tuple[str, ...]):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 - MetaPathFinder.find_spec
        if fullname not in self.names:
            return None
        self.names.discard(fullname)  # once: a later import finds the module in sys.modules
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = DeferredLoader(spec.loader)
        return spec


def install(names: tuple[str, ...] = LAZY_MODULES) -> None:
    """Defer the code of the modules of ``names`` that are not imported yet (idempotent)."""
    if any(isinstance(f, DeferringFinder) for f in sys.meta_path):
        return
    pending = tuple(n for n in names if n not in sys.modules)
    if pending:
        sys.meta_path.insert(0, DeferringFinder(pending))
