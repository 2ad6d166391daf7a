"""Build a run's population in a forked process and hand its arrays over in shared memory.

:mod:`sim.runs.prebuild` starts one of these as soon as the scenario of a single run is read, so
that the population is built on the second CPU while this process imports pandas, Mesa and the
model (about a second). The child builds it with the setup engineer's
:func:`sim.core.population.build_population` (the same function, scenario and structure seed the
model would use: the same bytes), copies every array into one anonymous shared-memory file
(``memfd``) that the parent created before the fork, and sends only the layout (offsets, dtypes,
shapes) and the small fields through a pipe. The parent maps the file: its arrays are the child's
pages, not copies (a pipe copy of the ~120 MiB into freshly faulted pages made the fourth
session's forked build slower than none).

Anything unexpected (no ``memfd`` or ``fork``, a failed build, a child that died) only means that
:meth:`PopulationProcess.take` returns None and the model builds the population itself.
"""

from __future__ import annotations

import dataclasses
import mmap
import multiprocessing
import os
import signal
import traceback
from typing import Any

import numpy as np

from sim.scenario.schema import Scenario

ALIGN = 64
"""Byte alignment of each array in the shared file (a cache line)."""


def available() -> bool:
    """Whether this platform can fork and has anonymous shared-memory files (Linux)."""
    return hasattr(os, "memfd_create") and "fork" in multiprocessing.get_all_start_methods()


class PopulationProcess:
    """A forked process building replicate ``replicate``'s population of ``config`` (root seed
    ``config.run.seed``); :meth:`take` waits for it and returns it, :meth:`close` stops it.

    Raises:
        OSError: The shared file or the process could not be created (the caller builds in
            process instead).
    """

    def __init__(self, config: Scenario, replicate: int):
        self._fd = os.memfd_create("gdcloud-population", os.MFD_CLOEXEC)
        try:
            ctx = multiprocessing.get_context("fork")
            self._recv, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_build, args=(config, replicate, self._fd, send),
                                     name="gdcloud-population", daemon=True)
            self._proc.start()
        except BaseException:
            os.close(self._fd)
            raise
        send.close()
        self._answered = False

    def ready(self) -> bool:
        """True once the child has answered (built, or failed)."""
        return self._proc is None or self._recv.poll()

    def take(self):
        """The population the child built (arrays mapped from the shared file), or None if it
        failed or ended without an answer."""
        if self._proc is None:
            return None
        try:
            status, payload = self._recv.recv()
            self._answered = True
        except (EOFError, OSError):
            status, payload = "error", "the population process ended without a result"
        try:
            return _mapped(self._fd, payload) if status == "ok" else None
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs, reap it and close the shared file (mapped arrays
        stay valid: the mapping keeps the memory)."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        proc.join(timeout=0.5 if self._answered else 0)  # it ends by itself once it has answered
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        self._recv.close()
        os.close(self._fd)


def _build(config: Scenario, replicate: int, fd: int, send) -> None:
    """The child: build, copy every array into the shared file, send the layout."""
    # Ctrl-C is the parent's to handle, and SIGTERM (close()) just ends this process: not the
    # parent's handlers inherited through the fork (sim.runs.lifecycle).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 0
    try:
        from sim.core.population import build_population
        from sim.core.seeds import replicate_structure_seed

        pop = build_population(config, replicate_structure_seed(config, config.run.seed, replicate))
        send.send(("ok", _share(pop, fd)))
    except BaseException:  # noqa: BLE001 - the parent builds the population itself
        code = 1
        try:
            send.send(("error", traceback.format_exc()))
        except OSError:  # the parent is gone
            pass
    send.close()
    # Nothing of this process is needed any more: end it without freeing the build's memory
    # object by object or running the interpreter's exit steps.
    os._exit(code)


def _share(pop, fd: int) -> dict[str, Any]:
    """Copy ``pop``'s arrays into the file ``fd``; return its layout and its other fields."""
    layout, other, size = {}, {}, 0
    for f in dataclasses.fields(pop):
        value = getattr(pop, f.name)
        if isinstance(value, np.ndarray) and value.nbytes and not value.dtype.hasobject:
            layout[f.name] = (size, value.dtype.str, value.shape, bool(value.flags.writeable))
            size += -(-value.nbytes // ALIGN) * ALIGN
        else:
            other[f.name] = value
    os.ftruncate(fd, max(size, 1))
    for name, (offset, _dtype, _shape, _writeable) in layout.items():
        # Written with pwrite, not copied into a mapping of the file: the kernel then fills the
        # file's pages as it allocates them, instead of a page fault and a zeroed page before
        # each page is copied (~0.05 instead of ~0.10 s for the ~120 MiB of a full-scale run).
        data = memoryview(np.ascontiguousarray(getattr(pop, name)).reshape(-1).view(np.uint8))
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], offset + done)
        data.release()
    return {"type": type(pop), "size": size, "layout": layout, "other": other}


def _mapped(fd: int, payload: dict[str, Any]):
    """The population whose arrays are mapped from ``fd`` (see :func:`_share`)."""
    size = max(payload["size"], 1)
    buf = mmap.mmap(fd, size)  # shared, read-write: the arrays keep the mapping alive
    fields = dict(payload["other"])
    for name, (offset, dtype, shape, writeable) in payload["layout"].items():
        arr = np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape)), offset=offset).reshape(shape)
        arr.flags.writeable = writeable
        fields[name] = arr
    cls = payload["type"]
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    pop = cls(**{k: v for k, v in fields.items() if k in init})
    for k, v in fields.items():
        if k not in init:
            setattr(pop, k, v)
    return pop
