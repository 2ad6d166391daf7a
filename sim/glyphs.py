"""Text drawn by matplotlib's Agg renderer with the per-glyph work that does not change hoisted.

Matplotlib 3.11 draws text glyph by glyph in Python (``RendererAgg._draw_text_glyphs_and_boxes``):
for each glyph it builds the same 2x2 rotation matrix with NumPy (a few microseconds: ~7 of the
~40-90 us a glyph costs), sets the font's size and transform, renders the glyph with FreeType and
blends the bitmap. A run's seven figures draw ~6,000 glyphs (~0.45 s of CPU in that loop).
:func:`draw_text_faster` makes the same FreeType and Agg calls with the same arguments in the same
order, but builds the matrix once per text (it depends only on the angle, the slant and the
extend), so the pixels are the same (tested against matplotlib's own loop). Anything else (boxes:
mathtext rules and TeX; text without antialiasing; another matplotlib) goes to matplotlib's loop.
:class:`FontLookups` answers the same figure's repeated font look-ups (font files of a font
property, a font's height metrics) from what it computed the first time.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

REPLICATED_VERSION = (3, 11)
"""The matplotlib minor version whose glyph loop :func:`draw_glyphs` restates."""


def available() -> bool:
    """True if this matplotlib's Agg glyph loop is the one :func:`draw_glyphs` restates."""
    import matplotlib
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.ft2font import FT2Font

    version = tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit())
    return (version == REPLICATED_VERSION and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
            and hasattr(FT2Font, "_set_transform") and hasattr(FT2Font, "_render_glyph"))


def draw_glyphs(renderer: Any, gc: Any, x: float, y: float, angle: float, glyphs: Any, boxes: Any) -> None:
    """``renderer._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)`` of matplotlib
    3.11's ``RendererAgg``, with the glyph matrix built once per (slant, extend) instead of once
    per glyph. ``y`` is downwards, each glyph's ``dy`` upwards (as there)."""
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag

    boxes = tuple(boxes)
    if boxes or not gc.get_antialiased():  # rules to fill, or monochrome glyphs: matplotlib's loop
        RendererAgg._draw_text_glyphs_and_boxes(renderer, gc, x, y, angle, glyphs, boxes)
        return
    import numpy as np
    from matplotlib.ft2font import RenderMode

    cos = math.cos(math.radians(angle))
    sin = math.sin(math.radians(angle))
    load_flags = get_hinting_flag()
    mode = RenderMode.NORMAL
    height, dpi = renderer.height, renderer.dpi
    top = int(height)
    draw_image = renderer._renderer.draw_text_image
    matrices: dict[tuple[float, float], Any] = {}
    for font, size, glyph_index, slant, extend, dx, dy in glyphs:
        matrix = matrices.get((slant, extend))
        if matrix is None:  # the expression matplotlib evaluates for every glyph
            matrix = matrices[slant, extend] = (
                0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[extend, extend * slant], [0, 1]]
            ).round().astype(int)
        font.set_size(size, dpi)
        font._set_transform(matrix, [round(0x40 * (x + dx * cos - dy * sin)),
                                     round(0x40 * (height - y + dx * sin + dy * cos))])  # FreeType's y is upwards
        bitmap = font._render_glyph(glyph_index, load_flags, mode)
        buffer = bitmap.buffer
        draw_image(buffer, bitmap.left, top - bitmap.top + buffer.shape[0], 0, gc)


def _prop_key(prop: Any) -> Any:
    """A value key of a ``FontProperties`` (what its ``__hash__`` hashes) or a fontconfig string."""
    return prop if isinstance(prop, str) else (type(prop), tuple(vars(prop).items()))


class FontLookups:
    """The font look-ups of one figure's draw, each done once: the font files for a font
    property (``FontManager._find_fonts_by_props``, ~46 us a call: it rebuilds a tuple of 12
    rcParams for each family of each of ~2,700 calls a run), and a font's height metrics
    (the renderer hook ``_get_font_height_metrics`` that ``Text._get_layout`` asks for before
    reading the font's ``OS/2``/``hhea`` and ``head`` tables itself, ~2,000 times a run). Both
    computed as matplotlib computes them; rcParams do not change while a figure is drawn."""

    def __init__(self, fig: Figure, find: Any):
        self._fig, self._find = fig, find
        self._files: dict[Any, Any] = {}
        self._heights: dict[Any, tuple] = {}

    def find_fonts(self, prop: Any, *args: Any, **kwargs: Any) -> Any:
        """``fontManager._find_fonts_by_props(prop, ...)``, remembered."""
        key = (_prop_key(prop), args, tuple(sorted(kwargs.items())))
        found = self._files.get(key)
        if found is None:
            found = self._files[key] = self._find(prop, *args, **kwargs)
        return found

    def height_metrics(self, prop: Any) -> tuple:
        """(ascent, descent, line gap) in pixels of ``prop``'s font at the figure's dpi, as
        ``Text._get_layout`` computes them from the font's tables (None: it measures "lp")."""
        dpi = self._fig.get_figure(root=True).dpi
        key = (_prop_key(prop), dpi)
        metrics = self._heights.get(key)
        if metrics is None:
            metrics = self._heights[key] = self._height_metrics(prop, dpi)
        return metrics

    def _height_metrics(self, prop: Any, dpi: float) -> tuple:
        from matplotlib.font_manager import get_font

        font = get_font(self.find_fonts(prop))
        for table_name, linegap_key, ascent_key, descent_key in (
                ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                ("hhea", "lineGap", "ascent", "descent")):
            table = font.get_sfnt_table(table_name)
            if table is None:
                continue
            fontsize = prop.get_size_in_points()
            units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
            scale = 1 / units_per_em * fontsize * dpi / 72
            return table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale
        return None, None, None


@contextlib.contextmanager
def faster_text(fig: Figure):
    """While the figure is drawn (``savefig``), an Agg renderer draws its text with
    :func:`draw_glyphs` and answers its font look-ups from :class:`FontLookups`; any other
    renderer, or another matplotlib, draws as usual."""
    if not available():
        yield fig
        return
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import fontManager

    inner = fig.draw  # the figure's draw, or a wrapper of it (sim.fileio.layout_pass_only)
    wrapped = "draw" in vars(fig)
    lookups = FontLookups(fig, fontManager._find_fonts_by_props)

    def draw(renderer, *args: Any, **kwargs: Any) -> None:
        if type(renderer) is RendererAgg and "_draw_text_glyphs_and_boxes" not in vars(renderer):
            renderer._draw_text_glyphs_and_boxes = (
                lambda gc, x, y, angle, glyphs, boxes: draw_glyphs(renderer, gc, x, y, angle, glyphs, boxes))
            renderer._get_font_height_metrics = lookups.height_metrics
        inner(renderer, *args, **kwargs)

    fig.draw = draw  # type: ignore[method-assign]
    fontManager._find_fonts_by_props = lookups.find_fonts
    try:
        yield fig
    finally:
        if vars(fontManager).get("_find_fonts_by_props") == lookups.find_fonts:
            del fontManager._find_fonts_by_props
        if vars(fig).get("draw") is draw:
            if wrapped:
                fig.draw = inner  # type: ignore[method-assign]
            else:
                del fig.draw
