"""An axis's ticks updated once per layout measurement or draw instead of up to four times.

Matplotlib 3.11 recomputes an axis's ticks (``Axis._update_ticks``: the locator's positions, the
formatter's labels, each tick moved and relabelled) whenever something asks which ticks are drawn:
in one ``Axes.get_tightbbox`` (each constrained-layout pass measures every axes) the x and y axes
each ask twice (their own box, then again for their label's place among aligned siblings) and
each of the four spines asks once more for its axis; ``Axis.draw`` asks twice. Nothing that the
answer depends on (view limits, the axes' position, locator, formatter) changes within one of
those calls: ``get_tightbbox`` applies the aspect first, and measuring or drawing artists does not
move an axes. :func:`ticks_once` answers the repeated questions within one such call from the
first answer (the same tick objects, already moved and labelled), so the pixels are the same
(tested) with ~0.1-0.2 s less CPU over a run's figures. Another matplotlib updates as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

REPLICATED_VERSION = (3, 11)
"""The matplotlib minor version whose tick updates were checked to depend only on that state."""


def available() -> bool:
    """True if this matplotlib is the one whose tick updates :func:`ticks_once` was checked on."""
    import matplotlib
    from matplotlib.axis import Axis

    version = tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit())
    return version == REPLICATED_VERSION and hasattr(Axis, "_update_ticks")


class _Scope:
    """Answers of ``_update_ticks`` per axis while an outermost measuring or drawing call runs."""

    def __init__(self) -> None:
        self.depth = 0
        self.answers: dict[int, list[Any]] = {}

    def around(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def scoped(*args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            try:
                return call(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.answers.clear()
        return scoped

    def once(self, axis: Any, update: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
        def update_once() -> list[Any]:
            if self.depth == 0:
                return update()
            got = self.answers.get(id(axis))
            if got is None:
                got = self.answers[id(axis)] = update()
            return list(got)
        return update_once


@contextlib.contextmanager
def ticks_once(fig: Figure) -> Iterator[Figure]:
    """While the figure is laid out and drawn (``savefig``), each axis's ticks are updated once
    per ``Axes.get_tightbbox`` and per ``Axis.draw`` (see the module's docstring); the methods
    are set on the figure's axes and axis objects and removed afterwards."""
    if not available():
        yield fig
        return
    scope = _Scope()
    patched: list[tuple[Any, str, Any]] = []
    for ax in fig.axes:
        patched.append((ax, "get_tightbbox", scope.around(ax.get_tightbbox)))
        for axis in (ax.xaxis, ax.yaxis):
            patched.append((axis, "_update_ticks", scope.once(axis, axis._update_ticks)))
            patched.append((axis, "draw", scope.around(axis.draw)))
    for obj, name, method in patched:
        setattr(obj, name, method)
    try:
        yield fig
    finally:
        for obj, name, method in patched:
            if vars(obj).get(name) is method:
                delattr(obj, name)
