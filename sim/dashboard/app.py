"""The Solara page: Mesa's ``SolaraViz`` around :class:`DashboardModel`.

Run with ``python -m sim.dashboard`` (http://127.0.0.1:8765) or ``solara run sim.dashboard.app``.

Sidebar: Mesa's Reset / Play / Step controls and the levers. As everywhere in Mesa, a changed
lever takes effect when *Reset* is pressed (a new model is built); *Step* advances one month.
"""

from __future__ import annotations

from typing import Any

import solara
from mesa.visualization import SolaraViz

from sim.dashboard import figures
from sim.dashboard.core import LEVERS, DashboardModel, default_levers

TITLE = "Guangdong enterprises on the cloud, 2021-2025: scenario dashboard"

CSS = """
/* Sidebar sliders: label on its own line above a full-width track, current value shown. */
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label {
    flex: 0 0 100%; max-width: 100%; white-space: normal; margin: 0 0 14px 0 !important;
    font-size: 13px; color: rgba(0, 0, 0, 0.75) !important;
}
.v-input__slider .v-slider__thumb-container::after {
    content: attr(aria-valuenow); position: absolute; top: -19px; left: 50%;
    transform: translateX(-50%); font-size: 11px; font-weight: 600; color: #1f5fa8; white-space: nowrap;
}
/* Panels: figures shrink to their grid cell instead of overflowing it. */
.vue-grid-item img.widget-image { max-width: 100%; max-height: 100%; height: auto; object-fit: contain; }
.vue-grid-item { overflow: hidden; }
"""


def model_params() -> dict[str, dict[str, Any]]:
    """Mesa ``model_params``: one input per lever, default = scenario default."""
    out: dict[str, dict[str, Any]] = {}
    for lv in LEVERS:
        d = lv.default()
        if lv.kind == "bool":
            out[lv.name] = {"type": "Checkbox", "value": d, "label": lv.label}
        elif lv.kind == "text_int":
            out[lv.name] = {"type": "InputText", "value": str(d), "label": lv.label}
        elif lv.kind == "int":
            out[lv.name] = {"type": "SliderInt", "value": d, "label": lv.label,
                            "min": int(lv.min), "max": int(lv.max), "step": int(lv.step)}
        else:
            out[lv.name] = {"type": "SliderFloat", "value": d, "label": lv.label,
                            "min": lv.min, "max": lv.max, "step": lv.step}
    return out


def _png(fig) -> solara.Element:
    return solara.FigureMatplotlib(fig, format="png")


def _sig(x: float, digits: int = 3) -> str:
    """Round a province-equivalent count to ``digits`` significant figures (x 40 of a model
    count is not precise to the firm)."""
    if x == 0:
        return "0"
    from math import floor, log10

    return f"{round(x, -int(floor(log10(abs(x)))) + digits - 1):,.0f}"


def Status(model: DashboardModel) -> solara.Element:
    """Headline: the month and progress toward both goals, in province-equivalent firms."""
    s = model.series()
    scale = model.scale
    cum, trans = float(s["cloud_cumulative"][-1]), float(s["transformed"][-1])
    wait = float(s["waiting"][-1])
    spend = float(s["voucher_spend_cny"].sum())
    g = model.config.goals
    n = model.config.population.total_firms
    lv = model.levers
    text = f"""
### {figures.month_label(model.dates[model.month])}: month {model.month} of {model.n_months}

Simulated population: **{n:,} firms** at the start ({'1 : ' + format(round(1 / scale), ',') if scale < 1 else 'full scale'} of Guangdong);
figures below are **province-equivalent** (model count x {1 / scale:,.0f}).

| | now | goal end-2025 | progress |
|---|---:|---:|---:|
| Firms on the cloud (ever) | {_sig(cum / scale)} | {g.cloud_firms:,} | **{cum / model.goal_cloud:.0%}** |
| Above-scale firms transformed | {_sig(trans / scale)} | {g.transformed_firms:,} | **{trans / model.goal_transformed:.0%}** |
| Firms waiting for a service provider | {_sig(wait / scale)} | | |
| Voucher money granted so far | CNY {spend / scale / 1e6:,.1f} m | | |

Levers of this run: vouchers CNY {lv['voucher_budget_m_cny']:,} m/yr at {lv['voucher_subsidy_share']:.0%} subsidy;
chain-leader programme {'on x ' + format(lv['chain_leader_strength'], 'g') if lv['chain_leaders_on'] else 'off'};
service capacity {lv['service_capacity_per_month']:,}/month; seed {model.config.run.seed}.
Change a lever in the sidebar, then press **Reset** to apply it.
"""
    return solara.Markdown(text)


def CloudChart(model: DashboardModel) -> solara.Element:
    return _png(figures.cloud_figure(model))


def TransformedChart(model: DashboardModel) -> solara.Element:
    return _png(figures.transformed_figure(model))


def ClusterChart(model: DashboardModel) -> solara.Element:
    return _png(figures.cluster_figure(model))


def NetworkChart(model: DashboardModel) -> solara.Element:
    return _png(figures.network_figure(model))


def BottleneckChart(model: DashboardModel) -> solara.Element:
    return _png(figures.bottleneck_figure(model))


COMPONENTS = [Status, CloudChart, TransformedChart, ClusterChart, NetworkChart, BottleneckChart]
"""Panels on the dashboard's page, in grid order (two per row)."""


def new_model() -> DashboardModel:
    return DashboardModel(**default_levers())


@solara.component
def Page():
    """One model per browser session (a reset builds a new one from the sidebar's levers)."""
    model = solara.use_memo(new_model, dependencies=[])
    solara.Style(CSS)
    SolaraViz(model, components=[(c, 0) for c in COMPONENTS], model_params=model_params(),
              name=TITLE, play_interval=150)
