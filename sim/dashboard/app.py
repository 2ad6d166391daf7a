"""The Solara page: Mesa's ``SolaraViz`` around :class:`DashboardModel`.

Run with ``python -m sim.dashboard`` (http://127.0.0.1:8765) or ``solara run sim.dashboard.app``.

Sidebar: Mesa's Reset / Play / Step controls and the levers. As everywhere in Mesa, a changed
lever takes effect when *Reset* is pressed (a new model is built); *Step* advances one month.
"""

from __future__ import annotations

import html
from typing import Any

import solara
from mesa.visualization import SolaraViz

from sim.dashboard import figures, guard
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
/* Headline panel */
.gd-status { font-family: Roboto, sans-serif; padding: 4px 8px; }
.gd-month { font-size: 24px; font-weight: 500; margin: 2px 0 10px 0; }
.gd-month span { font-size: 14px; color: #666; font-weight: 400; margin-left: 8px; }
.gd-tiles { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.gd-tile { border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 10px; background: #fafafa; }
.gd-label { font-size: 12px; color: #555; text-transform: uppercase; letter-spacing: .02em; }
.gd-value { font-size: 24px; font-weight: 600; line-height: 1.3; }
.gd-note { font-size: 12px; color: #555; }
.gd-bar { height: 6px; background: #e6e6e6; border-radius: 3px; margin: 3px 0; overflow: hidden; }
.gd-bar > div { height: 100%; }
.gd-error { font-size: 13px; color: #a00000; background: #fff0f0; border: 1px solid #e0b0b0;
    border-radius: 4px; padding: 4px 8px; margin: 0 0 8px 0; }
.gd-text { font-size: 12.5px; color: #444; margin: 10px 0 0 0; line-height: 1.4; }
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


def _tile(label: str, value: str, note: str, share: float | None = None, colour: str = "#1f5fa8") -> str:
    bar = ""
    if share is not None:
        w = max(0.0, min(share, 1.0)) * 100
        bar = f'<div class="gd-bar"><div style="width:{w:.1f}%;background:{colour}"></div></div>'
    return (f'<div class="gd-tile"><div class="gd-label">{label}</div>'
            f'<div class="gd-value" style="color:{colour}">{value}</div>{bar}<div class="gd-note">{note}</div></div>')


def status_html(model: DashboardModel) -> str:
    """The headline panel as HTML: month, progress to both goals (province-equivalent)."""
    s = model.series()
    scale = model.scale
    cum, trans = float(s["cloud_cumulative"][-1]), float(s["transformed"][-1])
    wait = float(s["waiting"][-1])
    spend = float(s["voucher_spend_cny"].sum())
    g = model.config.goals
    n = model.config.population.total_firms
    lv = model.levers
    ratio = f"1 : {round(1 / scale):,}" if scale < 1 else "full scale"
    p_cloud, p_trans = cum / model.goal_cloud, trans / model.goal_transformed
    tiles = "".join((
        _tile("Firms on the cloud (ever)", _sig(cum / scale), f"{p_cloud:.0%} of the {g.cloud_firms:,} goal",
              p_cloud, figures.C_CUM),
        _tile("Above-scale firms transformed", _sig(trans / scale),
              f"{p_trans:.0%} of the {g.transformed_firms:,} goal", p_trans, figures.C_TRANS),
        _tile("Waiting for a service provider", _sig(wait / scale), "firms at month end", None, "#b07000"),
        _tile("Voucher money granted", f"CNY {spend / scale / 1e6:,.0f} m", "since the start", None, "#444444"),
    ))
    chain = f"on, x {lv['chain_leader_strength']:g}" if lv["chain_leaders_on"] else "off"
    refused = "".join(f'<p class="gd-error">{html.escape(m)}</p>' for m in getattr(model, "input_messages", []))
    return f"""
<div class="gd-status" data-model="{model.serial}">{refused}
  <div class="gd-month" data-month="{model.month}">{figures.month_label(model.dates[model.month])}
    <span>month {model.month} of {model.n_months}</span></div>
  <div class="gd-tiles">{tiles}</div>
  <p class="gd-text">Figures are <b>province-equivalent</b>: model counts x {1 / scale:,.0f}, rounded to
  3 significant figures. Simulated population: <b>{n:,} firms</b> at the start ({ratio} of Guangdong's 2,000,000).</p>
  <p class="gd-text">This run: vouchers CNY {lv['voucher_budget_m_cny']:,} m / year at {lv['voucher_subsidy_share']:.0%}
  subsidy; chain-leader programme {chain}; service capacity {lv['service_capacity_per_month']:,} / month;
  seed {model.config.run.seed}. <b>Change a lever in the sidebar, then press Reset</b> to apply it.</p>
</div>"""


def Status(model: DashboardModel) -> solara.Element:
    """Headline: the month and progress toward both goals."""
    return solara.HTML(tag="div", unsafe_innerHTML=status_html(model))


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


guard.install_origin_check()  # the server this module is loaded into accepts only its own origin


@solara.component
def Page():
    """One model per browser session (a reset builds a new one from the sidebar's levers)."""
    model = solara.use_memo(new_model, dependencies=[])
    solara.Style(CSS)
    SolaraViz(model, components=[(c, 0) for c in COMPONENTS], model_params=model_params(),
              name=TITLE, play_interval=150)
