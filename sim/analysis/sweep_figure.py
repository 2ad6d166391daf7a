"""The figure of a sweep (``figures/sweep.png``): P(goal met) against one parameter, or the first two
parameters coloured by the median cloud firms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import i18n
from sim.analysis.sweep_plan import SweepPlan
from sim.analysis.sweep_spec import value_text
from sim.fileio import save_figure
from sim.i18n.header import figure_header
from sim.scenario.labels import parameter_label


def _axis(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numeric positions of a parameter column, and tick labels if it is not numeric."""
    try:
        if values.isna().any() or values.map(lambda v: isinstance(v, bool | np.bool_)).any():
            raise TypeError
        return values.astype(np.float64).to_numpy(), None
    except (TypeError, ValueError):
        text = values.map(value_text)
        cats = list(dict.fromkeys(text))
        return np.array([cats.index(t) for t in text], dtype=np.float64), cats


def plot_sweep(plan: SweepPlan, summary: pd.DataFrame, path: Path) -> Path:
    """Write ``figures/sweep.png``: P(goal) against one parameter, or the first two parameters
    coloured by the median cloud firms at the goal date."""
    from matplotlib.figure import Figure


    path.parent.mkdir(parents=True, exist_ok=True)
    done = summary[summary.n_replicates > 0]
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    reps = f"{plan.replicates} replicate{'s' if plan.replicates != 1 else ''} per point, same seeds at every point"
    if len(plan.parameters) == 1:
        from sim.analysis.questions import binomial_interval

        p = plan.parameters[0]
        x, ticks = _axis(done[p])
        order = np.argsort(x, kind="stable")
        for goal, col, color in (("cloud", "p_meet_cloud_goal", "C0"), ("transformed", "p_meet_transformed_goal", "C1")):
            y = done[col].to_numpy(dtype=np.float64)
            n = done.n_replicates.to_numpy()
            ci = np.array([binomial_interval(int(round(pi * ni)), int(ni)) for pi, ni in zip(y, n, strict=True)])
            ax.errorbar(x[order], y[order], yerr=[y[order] - ci[order, 0], ci[order, 1] - y[order]],
                        marker="o", capsize=3, color=color, label=f"{goal} goal (95% Clopper-Pearson)")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
        ax.set_xlabel(parameter_label(p))
        ax.set_ylabel("Share of replicates meeting the goal")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=8)
        ax.set_title(f"Probability of meeting each goal\n({reps})", fontsize=10)
    else:
        px, py = plan.parameters[:2]
        x, xt = _axis(done[px])
        y, yt = _axis(done[py])
        c = done.cloud_firms_median.to_numpy(dtype=np.float64)
        sc = ax.scatter(x, y, c=c, cmap="viridis", s=180 if len(done) <= 100 else 40, marker="s",
                        edgecolors="0.3", linewidths=0.5)
        cb = fig.colorbar(sc, ax=ax)
        goal = done.cloud_goal.iloc[0] if len(done) else float("nan")
        cb.set_label(f"median cloud firms at the goal date (goal {goal:,.0f})")
        if len(done) <= 60:
            for xi, yi, pc, pt in zip(x, y, done.p_meet_cloud_goal, done.p_meet_transformed_goal, strict=True):
                ax.annotate(f"{pc:.2f} / {pt:.2f}", (xi, yi), textcoords="offset points", xytext=(0, 9),
                            ha="center", fontsize=7)
        if xt is not None:
            ax.set_xticks(range(len(xt)), xt)
        if yt is not None:
            ax.set_yticks(range(len(yt)), yt)
        ax.set_xlabel(parameter_label(px))
        ax.set_ylabel(parameter_label(py))
        more = "; other parameters vary too" if len(plan.parameters) > 2 else ""
        numbers = "; numbers: P(cloud goal met) / P(transformed goal met)" if len(done) <= 60 else ""
        ax.set_title(f"Median cloud firms at the goal date by point\n({reps}{numbers}{more})", fontsize=9)
        ax.margins(0.08)
    base, lang = plan.base, plan.base.outputs.lang
    note = i18n.text("analysis_note", lang, points=len(done), n=plan.replicates,
                     runs=len(done) * plan.replicates)
    figure_header(fig, base.name, base.population.total_firms, plan.replicates, lang, note=note)
    try:
        save_figure(fig, path)
    finally:
        fig.clear()
    return path
