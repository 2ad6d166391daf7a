"""Figures whose axes are created before their data exist, so that less is left after the run.

A run's figure process (:class:`sim.plots.parallel.FigureProcess`) waits while the model runs.
Creating a figure's axes and the tick objects its axes will draw is about a fifth of the CPU a
run figure costs (20 panels of clusters: 1.42 -> 1.06 s left after the data arrive) and needs no
data, so it is done then: :func:`prepare` keeps a :class:`PreparedFigure` per file name, and
:func:`take` hands it to the drawing code, whose ``fig.subplots(...)`` or ``fig.add_subplot(...)``
call then returns the axes made in advance (the same call with the same arguments, so the same
figure; anything else gets a new figure as before).

A tick created in advance is the same object the drawing would create later: an axis copies a
new tick's properties from its first tick, and ``tick_params`` applies to the ticks that exist;
an axis draws only as many ticks as it has locations, so spare ones change no pixel (tested:
the PNGs are byte-identical with and without).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from sim.plots.parallel import call_waiting

_ready: dict[str, Any] = {}
"""``key`` (what the figures were prepared for) and ``figures`` (file name -> figure)."""


class PreparedFigure(Figure):
    """A figure holding axes made by one ``subplots``/``add_subplot`` call, returned by the
    drawing code's first such call if its arguments are the same."""

    _premade: tuple[str, tuple, dict, Any] | None = None

    def premake(self, call: str, args: tuple, kwargs: dict, ticks: Sequence[int] = (0, 0, 0)) -> None:
        """Make the axes of ``self.<call>(*args, **kwargs)`` now, with ``ticks`` = (x major, x
        minor, y major) tick objects on each axis."""
        made = getattr(super(), call)(*args, **kwargs)
        n_major, n_minor, n_y = ticks
        for ax in self.axes:
            for n, get in ((n_major, ax.xaxis.get_major_ticks), (n_minor, ax.xaxis.get_minor_ticks),
                           (n_y, ax.yaxis.get_major_ticks)):
                if n:
                    get(n)
        self._premade = (call, args, kwargs, made)

    def _take(self, call: str, args: tuple, kwargs: dict):
        premade, self._premade = self._premade, None
        if premade is None:
            return None
        if premade[:3] == (call, args, kwargs):
            return premade[3]
        self.clear()  # made for another call: start from an empty figure
        return None

    def subplots(self, *args, **kwargs):  # noqa: D102 - Figure.subplots
        made = self._take("subplots", args, kwargs)
        return made if made is not None else super().subplots(*args, **kwargs)

    def add_subplot(self, *args, **kwargs):  # noqa: D102 - Figure.add_subplot
        made = self._take("add_subplot", args, kwargs)
        return made if made is not None else super().add_subplot(*args, **kwargs)


def prepare(key: str, specs: dict[str, tuple[tuple[float, float], tuple[str, tuple, dict], Sequence[int]]]) -> None:
    """Make the figures of ``specs`` (file name -> (size in inches, (call, args, kwargs),
    ticks)) for :func:`take`, in that order, constrained layout like every run figure; ``key``
    says what they are for (figures prepared for anything else are dropped). Stops as soon as
    the figure process's call arrives (:func:`sim.plots.parallel.call_waiting`)."""
    figures = {}
    for name, (size, (call, args, kwargs), ticks) in specs.items():
        if call_waiting():  # the data are here: the rest is drawn as without preparation
            break
        fig = PreparedFigure(figsize=size, layout="constrained")
        fig.premake(call, args, kwargs, ticks)
        figures[name] = fig
    _ready.clear()
    _ready.update(key=key, figures=figures)


def take(key: str, name: str, size: tuple[float, float]) -> Figure:
    """The figure prepared for file ``name`` of ``key`` at this size, else a new empty one
    (``Figure(figsize=size, layout="constrained")``)."""
    fig = _ready.get("figures", {}).pop(name, None) if _ready.get("key") == key else None
    if fig is not None and tuple(fig.get_size_inches()) == tuple(size):
        return fig
    return Figure(figsize=size, layout="constrained")
