"""Progress of a long run in Jupyter: a notebook widget bar (tqdm.auto), not silence.

In a Jupyter kernel stderr is not a terminal, so a bar shown only for terminals kept notebooks
silent; :func:`sim.runs.jobs.want_progress` also recognises the kernel's shell, and
:class:`sim.runs.jobs.Progress` draws with ``tqdm.auto`` (the notebook widget there).
"""

from __future__ import annotations

import sys
import types

from sim.runs import jobs


class ZMQInteractiveShell:  # the class name Jupyter's kernel shell has
    pass


class TerminalInteractiveShell:  # plain IPython in a terminal
    pass


def _ipython(monkeypatch, shell) -> None:
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)


def test_a_jupyter_kernel_gets_a_progress_bar(monkeypatch) -> None:
    class NotATerminal:
        def isatty(self) -> bool:
            return False

        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stderr", NotATerminal())
    _ipython(monkeypatch, ZMQInteractiveShell())
    assert jobs.want_progress(None) is True
    assert jobs.want_progress(False) is False  # progress=False still silences it
    _ipython(monkeypatch, TerminalInteractiveShell())
    assert jobs.want_progress(None) is False  # IPython without a kernel: the terminal rule
    monkeypatch.delitem(sys.modules, "IPython")
    assert jobs.want_progress(None) is False


def test_the_bar_is_tqdm_auto(monkeypatch) -> None:
    import tqdm.auto

    bar = jobs.Progress(3, "runs", enabled=True)
    try:
        assert isinstance(bar.bar, tqdm.auto.tqdm)
        bar.update(True)
        bar.update(False)
        assert bar.bar.n == 2 and bar.failed == 1
    finally:
        bar.close()
    assert jobs.Progress(3, "runs", enabled=False).bar is None
