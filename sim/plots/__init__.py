"""Figures (matplotlib, no pyplot state).

Importing this package registers the shipped CJK font with matplotlib
(:func:`sim.i18n.fonts.register_cjk_font`), so Chinese labels render without a system font.
"""

from sim.i18n.fonts import register_cjk_font

register_cjk_font()
