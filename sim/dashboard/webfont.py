"""The page's Chinese web font: the shipped CJK font, cut down to the characters the page uses.

A browser draws the page's own text (tiles, sidebar, tables) with its fonts; a machine without a
Chinese font (a fresh Linux server, a headless browser) would show empty boxes. The figures do
not depend on it (they are images drawn with the font of :mod:`sim.i18n.fonts`). So the page
embeds Noto Sans CJK SC (SIL Open Font License, from ``mplfonts``), subset with fontTools (a
matplotlib dependency) to the Chinese of the translation table and of the city and cluster names
(about 150 kB instead of 16 MB), as a ``@font-face`` rule. Characters outside the subset (e.g.
in an uploaded scenario's texts) fall back to the browser's own fonts.
"""

from __future__ import annotations

import base64
import io
from functools import cache

from sim import datasets, i18n
from sim.i18n.fonts import cjk_font_path

FAMILY = "GD CJK"
"""CSS family name of the embedded font (first in the page's font list)."""


def page_characters() -> str:
    """Every character of the Chinese texts the page can show, plus printable ASCII."""
    chars = set().union(*(i18n.text(k, "zh") for k in i18n.keys()))
    chars |= set().union(*(i18n.cluster_name(c, "zh") for c in datasets.cluster_ids()))
    chars |= set().union(*(i18n.city_name(c, "zh") for c in datasets.city_names()))
    chars |= {chr(c) for c in range(32, 127)}
    return "".join(sorted(chars - {"\n"}))


@cache
def font_face_css() -> str:
    """The ``@font-face`` rule with the subset font inlined (WOFF, base64); computed once per
    process (about 2 s)."""
    from fontTools import subset

    opts = subset.Options()
    opts.flavor = "woff"
    opts.layout_features = ["*"]
    opts.notdef_outline = True
    font = subset.load_font(str(cjk_font_path()), opts)
    sub = subset.Subsetter(opts)
    sub.populate(text=page_characters())
    sub.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, opts)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'@font-face {{ font-family: "{FAMILY}"; font-weight: 100 900; font-display: swap; '
            f'src: url(data:font/woff;base64,{data}) format("woff"); }}')
