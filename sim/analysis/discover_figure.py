"""The figure of a scenario discovery (``discovery.png``): the sampled points of the two inputs
the selected PRIM box restricts most, coloured by whether the goal is missed, with the box drawn,
and the peeling trajectory (coverage against density) with the selected box marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from sim import i18n
from sim.analysis.prim import PrimResult
from sim.fileio import save_figure
from sim.i18n.header import figure_header
from sim.scenario.labels import parameter_axis
from sim.scenario.schema import Scenario


def _axes_inputs(box: pd.DataFrame, labels: list[str]) -> list[str]:
    """The two inputs to show: the box's restricted ones first (most narrowed first), then the
    others in sweep order."""
    order = []
    if len(box):
        width = (box.box_max - box.box_min) / (box.data_max - box.data_min).replace(0, 1)
        order = list(box.assign(w=width.to_numpy()).sort_values("w", kind="stable").input)
    order += [x for x in labels if x not in order]
    return order[:2]


def plot_discovery(cases: pd.DataFrame, prim: PrimResult, box: pd.DataFrame, labels: list[str],
                   cfg: Scenario, replicates: int, goal: str, path: Path, *,
                   paths: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Write the discovery figure (see the module docstring) with the one figure header.

    Args:
        cases: :attr:`sim.analysis.discover.DiscoveryResult.cases`.
        prim: The PRIM result.
        box: The restricted dimensions of the selected box.
        labels: The swept inputs' labels (columns of ``cases``).
        cfg: The base scenario of the sweep.
        replicates: Replicates per point.
        goal: The goal whose miss is the case of interest.
        path: Where the PNG goes.
        paths: The keys each input sets (names the axes by the human name of a key).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    lang = cfg.outputs.lang
    fig = Figure(figsize=(12, 5))
    ax, tr = fig.subplots(1, 2, width_ratios=(1.3, 1))
    shown = _axes_inputs(box, labels)
    missed = cases.missed.to_numpy()
    if len(shown) == 2:
        px, py = shown
        ax.scatter(cases[px][~missed], cases[py][~missed], s=18, color="#2e8b57", label=i18n.text("disc.met", lang))
        ax.scatter(cases[px][missed], cases[py][missed], s=18, color="#c0392b", marker="x",
                   label=i18n.text("disc.missed", lang))
        lim = prim.box
        x0, x1 = lim.loc["min", px], lim.loc["max", px]
        y0, y1 = lim.loc["min", py], lim.loc["max", py]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, ls="--", color="0.2",
                               label=i18n.text("disc.box", lang)))
        keys = paths or {}
        parameter_axis(ax.xaxis, px, cases[px], lang, paths=keys.get(px, ()))
        parameter_axis(ax.yaxis, py, cases[py], lang, paths=keys.get(py, ()))
        ax.legend(fontsize=7, loc="best")
    ax.set_title(i18n.text("disc.points", lang, goal=i18n.text(f"goal.{goal}", lang)), fontsize=10)
    t = prim.trajectory
    tr.plot(t.coverage, t.density, marker="o", ms=3, color="#1f5fa8", label=i18n.text("disc.trajectory", lang))
    s = prim.stats
    tr.scatter([s.coverage], [s.density], s=80, facecolors="none", edgecolors="#c0392b", lw=1.5,
               label=i18n.text("disc.selected", lang, coverage=f"{s.coverage:.2f}", density=f"{s.density:.2f}"),
               zorder=5)
    tr.set_xlabel(i18n.text("disc.coverage", lang))
    tr.set_ylabel(i18n.text("disc.density", lang))
    tr.set_xlim(-0.02, 1.02)
    tr.set_ylim(-0.02, 1.02)
    tr.legend(fontsize=7, loc="lower left")
    tr.set_title(i18n.text("disc.trajectory_title", lang), fontsize=10)
    n = len(cases)
    note = i18n.text("analysis_note", lang, points=n, n=replicates, runs=n * replicates)
    figure_header(fig, cfg.name, cfg.population.total_firms, replicates, lang,
                  title=i18n.text("disc.title", lang), note=note)
    save_figure(fig, path)
    return path
