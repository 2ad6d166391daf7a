"""The Solara page for decision makers: pick a scenario, run its replicates, read both goals.

Run with ``python -m sim.dashboard`` (http://127.0.0.1:8765) or ``solara run sim.dashboard.app``.

Sidebar: language (English / 中文), scenario picker (any shipped scenario, or an uploaded YAML
file validated with the command line's one-line errors), population size, replicates, parameter
uncertainty (the record posterior), the policy levers (a lever the scenario schedules by year is
shown as its schedule) and *Run*. Main area: headline tiles (median and 10-90% band of both
goals' province-equivalent counts, probability of meeting each goal), what the band shows and
whether the size biases the counts, the provincial paths with their bands, the scenario's
further goals (``goals.more``), progress of every city and cluster toward both goals, and one
button that downloads the current run's figures and tables. Everything drawn comes from
:mod:`sim.dashboard.report`; the Chinese text uses the embedded font of
:mod:`sim.dashboard.webfont`.
"""

from __future__ import annotations

import html
from typing import Any

import solara

from sim import i18n
from sim.dashboard import guard, report, webfont
from sim.dashboard.core import LEVER_BY_NAME
from sim.errors import ScenarioError
from sim.i18n.header import scale_text
from sim.i18n.messages import scenario_error_text
from sim.scenario.loader import load_scenario

CSS = """
.v-application, .v-application .title, .v-application .headline, .v-application [class*="text-"],
.v-application [class*="body-"], .v-application [class*="subtitle-"] {
    font-family: Roboto, "GD CJK", "Noto Sans CJK SC", sans-serif !important; }
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label { flex: 0 0 100%; max-width: 100%; white-space: normal;
    height: auto; line-height: 1.35; margin: 0 0 28px 0; }
.v-input--checkbox .v-label { white-space: normal; height: auto; line-height: 1.35; }
.gd-tiles { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin: 4px 0 8px 0; }
.gd-tile { border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 12px; background: #fafafa;
           font-family: Roboto, "GD CJK", "Noto Sans CJK SC", sans-serif; }
.gd-label { font-size: 13px; color: #555; }
.gd-value { font-size: 26px; font-weight: 600; line-height: 1.3; color: #1f5fa8; }
.gd-note { font-size: 12.5px; color: #444; }
.gd-text { font-size: 12.5px; color: #444; margin: 6px 0; }
.gd-goals { border-collapse: collapse; font-size: 13px; margin: 4px 0 6px 0;
    font-family: Roboto, "GD CJK", "Noto Sans CJK SC", sans-serif; }
.gd-goals th, .gd-goals td { border-bottom: 1px solid #e3e3e3; padding: 4px 10px; text-align: left;
    vertical-align: top; }
.gd-goals th { color: #555; font-weight: 600; }
.gd-goals td.num { text-align: right; white-space: nowrap; }
.gd-warn { color: #8a5a00; }
.gd-error { font-size: 13px; color: #a00000; background: #fff0f0; border: 1px solid #e0b0b0;
    border-radius: 4px; padding: 4px 8px; margin: 0 0 8px 0; }
"""

LANG_LABELS = {"en": "English", "zh": "中文"}

LANG_CODES = {label: code for code, label in LANG_LABELS.items()}

guard.install_origin_check()  # the server this module is loaded into accepts only its own origin


def scenario_choice(name: str, lang: str) -> str:
    """A scenario as the picker lists it: its name in English, ``基准情景（baseline）`` in Chinese."""
    title = i18n.scenario_title(name, lang)
    return name if title == name else f"{title}（{name}）"


def tiles_html(run: report.DashboardRun, lang: str) -> str:
    """The headline tiles as HTML (``data-scenario``/``data-lang`` let a test read the state)."""
    h = run.headline()
    g = run.scenario.goals
    n = len(run.result.replicates_done)
    tiles = []
    for key, goal in (("cloud", g.cloud_firms), ("transformed", g.transformed_firms)):
        label = i18n.text(f"dash.tile_{key}", lang, date=run.goals.date)
        band = i18n.text("dash.tile_band", lang, lo=i18n.format_count(_sig(h[f"{key}_p10"])),
                         hi=i18n.format_count(_sig(h[f"{key}_p90"])))
        prob = i18n.text("dash.tile_prob", lang, goal=i18n.format_count(goal),
                         p=f"{h[f'{key}_p_meet']:.0%}")
        tiles.append(f'<div class="gd-tile"><div class="gd-label">{label}</div>'
                     f'<div class="gd-value">{i18n.format_count(_sig(h[f"{key}_median"]))}</div>'
                     f'<div class="gd-note">{band}</div><div class="gd-note">{prob}</div></div>')
    firms = run.scenario.population.total_firms
    note = i18n.text("dash.province_equivalent", lang, scale=f"{run.scale:g}",
                     scale_text=scale_text(firms, lang), n=n)
    caveat = i18n.text("caveat", lang)
    extra = "".join(f'<p class="gd-text {cls}">{html.escape(t)}</p>' for cls, t in notes_text(run, lang))
    refused = "".join(f'<p class="gd-error">{html.escape(m)}</p>' for m in run.messages)
    return (f'<div class="gd-status" data-scenario="{html.escape(run.scenario.name)}" '
            f'data-lang="{lang}" data-firms="{firms}" data-replicates="{n}">{refused}'
            f'<div class="gd-tiles">{"".join(tiles)}</div>'
            f'<p class="gd-text">{note}</p>{extra}<p class="gd-text">{caveat}</p></div>')


def _pct(x: float) -> str:
    return i18n.minus(f"{x:+.2f}%")


def notes_text(run: report.DashboardRun, lang: str) -> list[tuple[str, str]]:
    """The notes under the tiles as ``(css class, text)``: what the band shows (the model's
    own randomness, or parameter uncertainty) and whether the population size biases the
    counts more than the replicates' Monte Carlo error (:func:`report.size_check`)."""
    sc = run.scenario
    if sc.posterior is not None:
        band = i18n.text("dash.band_posterior", lang, name=sc.posterior)
    elif sc.uncertainties:
        band = i18n.text("dash.band_uncertain", lang)
    else:
        band = i18n.text("dash.band_noise", lang)
    firms, n = sc.population.total_firms, len(run.result.replicates_done)
    if firms not in report.SIZE_STATS:
        return [("", band)]
    if firms == max(report.SIZE_STATS):
        return [("", band), ("", i18n.text("dash.size_full", lang))]
    check = report.size_check(firms, n)
    ok = all(c[2] for c in check.values())
    (cb, ce, _), (tb, te, _) = check["cloud_cumulative"], check["transformed"]
    size = i18n.text("dash.size_ok" if ok else "dash.size_warn", lang, firms=i18n.format_count(firms),
                     cloud=_pct(cb), transformed=_pct(tb), n=n, cloud_err=f"±{ce:.2f}%",
                     transformed_err=f"±{te:.2f}%")
    return [("", band), ("" if ok else "gd-warn", size)]


def goals_html(run: report.DashboardRun, lang: str) -> str:
    """The scenario's further goals (``goals.more``) as an HTML table, or "" if it lists none."""
    table = run.more_goals(lang)
    if table.empty:
        return ""
    head = "".join(f"<th>{i18n.text(f'dash.more_{k}', lang)}</th>"
                   for k in ("goal", "due", "target", "sim", "p", "scope"))
    body = []
    for r in table.itertuples(index=False):
        if r.n_evaluable == 0:
            sim_text, p_text = i18n.text("dash.more_outside", lang), "–"
        elif r.rate:
            sim_text = f"{r.median:.1%} ({r.p10:.1%}–{r.p90:.1%})"
            p_text = f"{r.p_meet:.0%}"
        else:
            sim_text = (f"{i18n.format_count(_sig(r.median))} ({i18n.format_count(_sig(r.p10))}–"
                        f"{i18n.format_count(_sig(r.p90))})")
            p_text = f"{r.p_meet:.0%}"
        body.append(f'<tr data-indicator="{html.escape(r.indicator)}" data-date="{html.escape(r.date)}">'
                    f"<td>{html.escape(r.indicator_name)}</td><td>{html.escape(r.date)}</td>"
                    f'<td class="num">{html.escape(r.goal_text)}</td><td class="num">{sim_text}</td>'
                    f'<td class="num">{p_text}</td>'
                    f'<td title="{html.escape(r.source)}">{html.escape(r.scope)}</td></tr>')
    note = i18n.text("dash.more_note", lang, scale=f"{run.scale:g}")
    return (f'<div class="gd-more"><b>{i18n.text("dash.more_title", lang)}</b>'
            f'<table class="gd-goals"><tr>{head}</tr>{"".join(body)}</table>'
            f'<p class="gd-text">{html.escape(note)}</p></div>')


def _sig(x: float, digits: int = 3) -> float:
    """Round a province-equivalent count to ``digits`` significant figures (a scaled-up model
    count is not precise to the firm)."""
    if x == 0 or x != x:
        return x
    from math import floor, log10

    return round(x, -int(floor(log10(abs(x)))) + digits - 1)


def schedule_text(schedule: dict[str, float]) -> str:
    """A lever's schedule as a short text: ``2021: 300, 2022: 547.65``."""
    return ", ".join(f"{k}: {v:,.6g}" for k, v in schedule.items())


@solara.component
def LeverInputs(values: dict[str, Any], on_change, lang: str,
                scheduled: dict[str, dict[str, float]] | None = None):
    """One input per policy lever (labels in ``lang``; ranges from :data:`LEVERS`); a lever the
    scenario schedules over time is shown as its schedule, not as a slider."""
    for name in report.POLICY_LEVERS:
        lv = LEVER_BY_NAME[name]
        label = i18n.text(f"lever.{name}", lang)
        if scheduled and name in scheduled:
            line = i18n.text("dash.scheduled", lang, label=label, schedule=schedule_text(scheduled[name]))
            solara.HTML(tag="div", unsafe_innerHTML=f'<p class="gd-text gd-scheduled">{html.escape(line)}</p>')
            continue
        if values.get(name) is None:  # the scenario changed under a pending render
            continue

        def set_value(v, name=name):
            on_change({**values, name: v})

        if lv.kind == "bool":
            solara.Checkbox(label=label, value=bool(values[name]), on_value=set_value)
        elif lv.kind == "int":
            solara.SliderInt(label=label, value=int(values[name]), min=int(lv.min), max=int(lv.max),
                             step=int(lv.step), on_value=set_value, thumb_label="always")
        else:
            solara.SliderFloat(label=label, value=float(values[name]), min=lv.min, max=lv.max,
                               step=lv.step, on_value=set_value, thumb_label="always")


@solara.component
def Page():
    """The dashboard page (one state per browser session)."""
    lang, set_lang = solara.use_state("en")
    name, set_name = solara.use_state("baseline")
    uploaded, set_uploaded = solara.use_state(None)
    upload_error, set_upload_error = solara.use_state("")
    firms, set_firms = solara.use_state(report.DASHBOARD_POPULATION)
    reps, set_reps = solara.use_state(report.DEFAULT_REPLICATES)
    request, set_request = solara.use_state(1)  # bumped by Run; the first run starts on load
    base = solara.use_memo(lambda: uploaded if uploaded is not None else load_scenario(name),
                           dependencies=[name, uploaded])
    levers, set_levers = solara.use_state(report.lever_values(base))
    posterior, set_posterior = solara.use_state(base.posterior is not None)

    def on_base() -> None:
        set_levers(report.lever_values(base))
        set_posterior(base.posterior is not None)

    solara.use_effect(on_base, dependencies=[base])

    def toggle_posterior(on: bool) -> None:
        set_posterior(bool(on))
        if on and reps < report.POSTERIOR_REPLICATES:
            set_reps(report.POSTERIOR_REPLICATES)

    def start() -> report.DashboardRun | None:
        if request == 0:
            return None
        # Checked on the server: a scripted client can send any value over the WebSocket.
        values, n_firms, messages, token = report.check_inputs(base, levers, firms)
        sc = report.build_scenario(base, levers=values, total_firms=n_firms, replicates=reps,
                                   lang=lang, posterior=posterior is True)
        return report.run_dashboard(sc, messages=tuple(messages), token=token)

    result = solara.use_thread(start, dependencies=[request])
    run = result.value if result.state == solara.ResultState.FINISHED else None

    def on_file(info) -> None:
        try:
            sc = report.scenario_from_upload(info["name"], info["file_obj"].read())
        except ScenarioError as exc:
            set_upload_error(scenario_error_text(exc, lang))  # the command line's line, in the page's language
            return
        set_upload_error("")
        set_uploaded(sc)

    choices = {scenario_choice(n, lang): n for n in report.scenario_names()}

    def pick(label: str) -> None:
        value = choices.get(label, label)
        if value not in report.scenario_names():  # only a shipped scenario can be picked
            return
        set_uploaded(None)
        set_upload_error("")
        set_name(value)

    title = i18n.text("dash.title", lang)
    solara.Title(title)
    solara.Style(webfont.font_face_css() + CSS)
    with solara.AppBar():
        solara.AppBarTitle(title)
    with solara.Sidebar():
        solara.ToggleButtonsSingle(value=LANG_LABELS[lang], values=list(LANG_LABELS.values()),
                                   on_value=lambda v: set_lang(LANG_CODES.get(v, "en")))
        solara.Select(label=i18n.text("dash.scenario", lang), value=scenario_choice(name, lang),
                      values=list(choices), on_value=pick)
        solara.FileDrop(label=i18n.text("dash.upload", lang), on_file=on_file, lazy=True)
        if upload_error:
            solara.Error(upload_error, classes=["gd-upload-error"])
        elif uploaded is not None:
            solara.Info(i18n.text("dash.uploaded", lang, name=uploaded.name))
        solara.Select(label=i18n.text("dash.population", lang), value=f"{firms:,}",
                      values=[f"{p:,}" for p in report.POPULATIONS],
                      on_value=lambda v: set_firms(int(v.replace(",", ""))))
        solara.SliderInt(label=i18n.text("dash.replicates", lang), value=reps, min=1,
                         max=report.MAX_REPLICATES, on_value=set_reps, thumb_label="always")
        solara.Checkbox(label=i18n.text("dash.posterior", lang), value=posterior, on_value=toggle_posterior)
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>{i18n.text('dash.levers', lang)}</b>")
        LeverInputs(levers, set_levers, lang, report.scheduled_levers(base))
        solara.Button(i18n.text("dash.run", lang), color="primary",
                      on_click=lambda: set_request(request + 1),
                      disabled=result.state == solara.ResultState.RUNNING)

    if result.state == solara.ResultState.RUNNING:
        solara.Info(i18n.text("dash.running", lang, n=reps, name=base.name,
                              firms=i18n.format_count(firms)))
        solara.ProgressLinear(True)
    if result.state == solara.ResultState.ERROR:
        solara.Error(i18n.text("dash.error", lang, message=str(result.error)))
    if run is not None:
        Results(run, lang)


@solara.component
def Results(run: report.DashboardRun, lang: str):
    """Tiles, figures and the download of one finished run, in ``lang``."""
    figs = solara.use_memo(lambda: report.figures_for(run, lang), dependencies=[run, lang])
    solara.HTML(tag="div", unsafe_innerHTML=tiles_html(run, lang))
    solara.FileDownload(lambda: report.download_bundle(run, lang), filename=report.bundle_name(run),
                        label=i18n.text("dash.download", lang), mime_type="application/zip")
    with solara.Columns([1, 1]):
        solara.FigureMatplotlib(figs["cloud"], format="png")
        solara.FigureMatplotlib(figs["transformed"], format="png")
    more = goals_html(run, lang)
    if more:
        solara.HTML(tag="div", unsafe_innerHTML=more)
        solara.FigureMatplotlib(figs["goals_more"], format="png")
    solara.FigureMatplotlib(figs["progress_city"], format="png")
    solara.FigureMatplotlib(figs["progress_cluster"], format="png")
