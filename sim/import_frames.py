"""Let ``inspect`` find the module of an import-machinery frame without scanning every module.

Mesa's loggers call ``inspect.stack()`` and ``inspect.getouterframes()`` while Mesa is being
imported (``mesa.mesa_logging``: twice when ``mesa.model`` is imported, once more for its
``Model`` class). For each frame, ``inspect`` looks up the module of the frame's file; the frames of
the import machinery (``<frozen importlib._bootstrap>`` and ``_bootstrap_external``, five per
nested import) are in no module's ``__file__``, so every such look-up scans all of
``sys.modules`` again (~1,600 modules in a run's process, ~200 look-ups): ~0.1 s of CPU of
``import mesa`` in ``gdcloud run``, on the path to the model's initialisation.
:func:`name_frozen_import_frames` records in ``inspect``'s own file-to-module cache
(``inspect.modulesbyfile``, which ``getmodule`` consults first) the module those frames belong
to. ``inspect`` then answers at once; what it returns for such a frame is the same (no source
lines: frozen code has none; the same file name).
"""

from __future__ import annotations

import sys

FROZEN_IMPORT_MODULES = ("importlib._bootstrap", "importlib._bootstrap_external")
"""The import machinery's frozen modules, whose frames every import puts on the stack."""


def name_frozen_import_frames() -> None:
    """Map the file name of each frozen import module's code to that module in ``inspect``'s
    file-to-module cache (idempotent; does nothing if ``inspect`` has no such cache)."""
    import inspect

    cache = getattr(inspect, "modulesbyfile", None)
    if not isinstance(cache, dict):
        return
    for name in FROZEN_IMPORT_MODULES:
        module = sys.modules.get(name)
        code = next((v.__code__ for v in vars(module).values() if hasattr(v, "__code__")), None) if module else None
        if code is not None and code.co_filename.startswith("<frozen "):
            cache.setdefault(code.co_filename, name)
