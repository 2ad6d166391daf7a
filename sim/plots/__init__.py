"""Figures (matplotlib, no pyplot state).

The drawing modules (:mod:`sim.plots.common`, which the others import, and :mod:`sim.plots.maps`)
register the shipped CJK font with matplotlib when imported (:func:`sim.i18n.fonts.register_cjk_font`),
so Chinese labels render without a system font. Importing the package itself imports nothing, so
that :mod:`sim.plots.parallel` can fork a figure process before matplotlib is loaded.
"""
