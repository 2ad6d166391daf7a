"""The one header of every figure: scenario, population scale, replicates and the caveat line.

Run figures (provincial path, clusters, cities, comparisons), analysis figures (sweep,
sensitivity, calibration, what-it-takes, attribution, discovery) and the record's figures
(history match, backtest, evaluation) all call :func:`figure_header`, so every PNG a report
takes names the scenario it comes from, the population it was simulated on (``full scale`` or
``scale 1:40``), how many replicates (or posterior runs) stand behind it, and that its results
are conditional on the scenario's stated assumptions, in the figure's language.

It lives here, beside the translation table it reads, so that the analysis layer (which draws
its own figures) and the plots layer use the same helper without importing upwards.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from sim import i18n
from sim.i18n.fonts import register_cjk_font

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# A text takes its font family when it is created: registering in figure_header (called last)
# came too late for the titles, axis labels and ticks drawn before it in a fresh process
# (`gdcloud sensitivity --lang zh` drew them as empty boxes). Every module that draws a figure
# imports this one, so registering here comes before any text is made.
register_cjk_font()

FULL_SCALE_FIRMS = 2_000_000
"""Firms of the full-scale population (population scale 1; sim.core.population's default)."""

CAVEAT_COLOR = "#555555"
"""Colour of the caveat line at the bottom of a figure."""


def scale_text(total_firms: int, lang: str = "en") -> str:
    """The population scale in words: full scale, or ``scale 1:40 (50,000 firms)``."""
    firms = i18n.format_count(total_firms, lang)
    if total_firms == FULL_SCALE_FIRMS:
        return i18n.text("scale_full", lang, firms=firms)
    ratio = FULL_SCALE_FIRMS / total_firms
    # 1:40, 1:667 (never "1:6.7e+02"), 1:2.5
    shown = f"{ratio:,.0f}" if abs(ratio - round(ratio)) < 0.05 or ratio >= 100 else i18n.format_number(ratio, 2)
    return i18n.text("scale_part", lang, ratio=shown, firms=firms)


def header_text(scenario: str, total_firms: int, n_replicates: int, lang: str = "en", *,
                runs: str = "replicates") -> str:
    """The header line: scenario, scale and replicates.

    Args:
        scenario: Scenario name (or a comparison's label); in Chinese its title
            (:func:`sim.i18n.scenario_title`: ``baseline`` is 基准情景).
        total_firms: Simulated firms at the start.
        n_replicates: Runs behind the figure.
        lang: ``"en"`` or ``"zh"``.
        runs: What the runs are: ``"replicates"`` (seeds of one scenario, or per point of an
            analysis) or ``"posterior"`` (one run per posterior particle).
    """
    key = {"replicates": "header", "posterior": "header_posterior"}[runs]
    return i18n.text(key, lang, scenario=i18n.scenario_title(scenario, lang), scale=scale_text(total_firms, lang),
                     n=n_replicates)


def figure_header(fig: Figure, scenario: str, total_firms: int, n_replicates: int,
                  lang: str = "en", *, title: str | None = None, note: str | None = None,
                  runs: str = "replicates") -> None:
    """Title a figure with ``title`` (default: its current suptitle, if any), the scenario, its
    scale and replicates; write ``note`` (optional) and the caveat line at the bottom.

    The figure is switched to the constrained layout (if it is not already) so that the header
    and the caveat line get room; call this last, just before saving.
    """
    register_cjk_font()  # analysis figures are drawn without importing sim.plots
    if title is None:
        title = fig.get_suptitle() or None
    lines = [title] if title else []
    lines.append(header_text(scenario, total_firms, n_replicates, lang, runs=runs))
    fig.suptitle("\n".join(lines), fontsize=11 if title else 10)
    bottom = i18n.text("caveat", lang)
    if note:
        width = 160 if lang == "en" else 90
        bottom = textwrap.fill(note, width) + "\n" + bottom
    fig.supxlabel(bottom, fontsize=7.5, color=CAVEAT_COLOR, x=0.01, ha="left")
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        fig.set_layout_engine("constrained")


def plain_numbers(axis) -> None:
    """Tick labels of a numeric axis as plain numbers with thousands separators and the one minus
    sign: no scientific offset (``1e9``) and no exponent, whatever the range."""
    from matplotlib.ticker import FuncFormatter

    def fmt(x: float, _pos: int | None) -> str:
        return i18n.format_number(x, 6) if x != 0 else "0"

    axis.set_major_formatter(FuncFormatter(fmt))


def figure_texts(fig: Figure) -> str:
    """Every text drawn on a figure (titles, labels, header, caveat), one per line: what tests
    and reviewers read to check a figure says what it should."""
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text") and
                                                      callable(a.get_text)) if t.get_text())
