"""A CJK font for Chinese figures, shipped with the install (no system font needed).

The font is Noto Sans CJK SC (SIL Open Font License) from the ``mplfonts`` package, a dependency
of gdcloud-sim. :func:`register_cjk_font` adds it to matplotlib's font manager and appends it to
``rcParams["font.family"]`` as a fallback: Latin text keeps the default font (DejaVu Sans) and
every character that font lacks is drawn with Noto Sans CJK SC (matplotlib >= 3.6 falls back
glyph by glyph). It is called when a drawing module of :mod:`sim.plots` is imported
(:mod:`sim.plots.common`, :mod:`sim.plots.maps`), so notebooks that draw with
``sim`` get Chinese labels without any set-up, and when :mod:`sim.i18n.header` is imported (by
every module that draws a figure), so the analysis figures, drawn without importing
:mod:`sim.plots`, get them too.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager

FONT_FILE = "NotoSansCJKsc-Regular.otf"
"""File name of the CJK font inside the ``mplfonts`` package (``mplfonts/fonts/``)."""


def cjk_font_path() -> Path:
    """Path of the shipped CJK font file.

    Raises:
        RuntimeError: If ``mplfonts`` is not installed or lacks the font (reinstall gdcloud-sim).
    """
    spec = importlib.util.find_spec("mplfonts")  # located, not imported: it has import side effects
    if spec is None or spec.origin is None:
        raise RuntimeError("the CJK font package mplfonts is not installed; "
                           "reinstall gdcloud-sim (pip install -e .)")
    path = Path(spec.origin).parent / "fonts" / FONT_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; reinstall mplfonts")
    return path


@cache
def register_cjk_font() -> str:
    """Register the CJK font with matplotlib (once) and add it as a fallback family.

    Returns:
        The family name (``"Noto Sans CJK SC"``).
    """
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    family = list(matplotlib.rcParams["font.family"])
    if name not in family:
        matplotlib.rcParams["font.family"] = [*family, name]
    return name
