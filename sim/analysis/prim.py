"""PRIM scenario discovery (Friedman & Fisher 1999): boxes of inputs where a case of interest
(e.g. missing the 1,000,000 goal) is concentrated.

:func:`find_box` uses the EMA Workbench's ``prim`` (peeling + pasting, ``lenient1`` objective)
when ``ema_workbench`` is importable, and otherwise a compact numpy implementation of the
peeling trajectory (:func:`peel`, no pasting). Both return a :class:`PrimResult` with the whole
peeling trajectory and the selected box: the box of highest coverage whose density reaches
``threshold``.

Definitions (for a box B, cases of interest y = 1):
    coverage = (cases of interest in B) / (all cases of interest);
    density  = (cases of interest in B) / (points in B);
    mass     = (points in B) / (all points).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class PrimResult:
    """Trajectory and selected box.

    Attributes:
        trajectory: One row per box on the peeling trajectory: coverage, density, mass,
            res_dim (restricted dimensions) and ``box`` (its index in ``boxes``).
        boxes: Box limits along the trajectory, each a DataFrame (rows ``min``/``max``, one
            column per input).
        selected: Index of the selected box in ``boxes``.
        backend: ``"ema_workbench"`` or ``"numpy"``.
    """

    trajectory: pd.DataFrame
    boxes: list[pd.DataFrame]
    selected: int
    backend: str

    @property
    def box(self) -> pd.DataFrame:
        return self.boxes[self.selected]

    @property
    def stats(self) -> pd.Series:
        return self.trajectory.iloc[self.selected]

    def restrictions(self, x: pd.DataFrame) -> pd.DataFrame:
        """The restricted dimensions of the selected box (with the data range for reference)."""
        rows = []
        for col in self.box.columns:
            lo, hi = self.box.loc["min", col], self.box.loc["max", col]
            dlo, dhi = float(x[col].min()), float(x[col].max())
            if lo > dlo or hi < dhi:
                rows.append({"input": col, "box_min": lo, "box_max": hi, "data_min": dlo, "data_max": dhi})
        return pd.DataFrame(rows)


def _stats(inside: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    n_in = inside.sum()
    hits = (y & inside).sum()
    return hits / max(y.sum(), 1), hits / max(n_in, 1), n_in / y.size


def peel(x: pd.DataFrame, y: np.ndarray, *, peel_alpha: float = 0.05, mass_min: float = 0.05) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The PRIM peeling trajectory (numeric inputs; no pasting).

    At every step, for each input the ``peel_alpha`` quantile of the points still in the box is
    cut off from the bottom or the top; the cut that gives the highest density of the remaining
    box is taken. Peeling stops when the box would hold fewer than ``mass_min`` of the points.

    Args:
        x: Inputs (numeric columns).
        y: Boolean case-of-interest flags, one per row of ``x``.
        peel_alpha: Share of the box's points removed per peel.
        mass_min: Minimum box mass.

    Returns:
        (trajectory table, list of box limit frames).
    """
    xv = x.to_numpy(dtype=float)
    y = np.asarray(y, dtype=bool)
    n, d = xv.shape
    lo, hi = xv.min(axis=0), xv.max(axis=0)
    inside = np.ones(n, dtype=bool)
    boxes, rows = [], []

    def record() -> None:
        cov, den, mass = _stats(inside, y)
        res_dim = int(np.sum((lo > xv.min(axis=0)) | (hi < xv.max(axis=0))))
        rows.append({"coverage": cov, "density": den, "mass": mass, "res_dim": res_dim, "box": len(boxes)})
        boxes.append(pd.DataFrame([lo.copy(), hi.copy()], index=["min", "max"], columns=x.columns))

    record()
    while True:
        best = None
        pts = xv[inside]
        for j in range(d):
            for side in (0, 1):
                q = np.quantile(pts[:, j], peel_alpha if side == 0 else 1 - peel_alpha)
                keep = inside & ((xv[:, j] >= q) if side == 0 else (xv[:, j] <= q))
                # A peel must remove something; a tie at the quantile can remove everything.
                if keep.sum() == inside.sum() or keep.sum() < mass_min * n:
                    continue
                den = (y & keep).sum() / keep.sum()
                if best is None or den > best[0]:
                    best = (den, j, side, q, keep)
        if best is None:
            break
        _, j, side, q, keep = best
        if side == 0:
            lo[j] = q
        else:
            hi[j] = q
        inside = keep
        record()
    return pd.DataFrame(rows), boxes


def _select(traj: pd.DataFrame, threshold: float) -> int:
    ok = traj[traj.density >= threshold]
    if ok.empty:
        return int(traj.density.idxmax())
    return int(ok.coverage.idxmax())


def find_box(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, peel_alpha: float = 0.05,
             mass_min: float = 0.05, backend: str = "auto") -> PrimResult:
    """Run PRIM and select the box of highest coverage with density >= ``threshold``.

    Args:
        x: Inputs (numeric columns), one row per case.
        y: Boolean case-of-interest flags.
        threshold: Minimum density of the selected box (if no box reaches it, the densest).
        peel_alpha, mass_min: PRIM's peeling share and minimum box mass.
        backend: ``"auto"`` (EMA Workbench if importable), ``"ema_workbench"`` or ``"numpy"``.

    Returns:
        A :class:`PrimResult`.
    """
    y = np.asarray(y, dtype=bool)
    if len(y) != len(x):
        raise ValueError(f"{len(x)} input rows but {len(y)} outcomes")
    if backend in ("auto", "ema_workbench"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from ema_workbench.analysis import prim as ema_prim
        except ImportError:
            if backend == "ema_workbench":
                raise
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = ema_prim.Prim(x.reset_index(drop=True).astype(float), y, peel_alpha=peel_alpha,
                                  mass_min=mass_min)
                b = p.find_box()
            traj = b.peeling_trajectory[["coverage", "density", "mass", "res_dim"]].reset_index(drop=True).copy()
            traj["box"] = np.arange(len(traj))
            boxes = [pd.DataFrame(lims.to_numpy(), index=["min", "max"], columns=list(lims.columns))
                     for lims in b.box_lims]
            return PrimResult(traj, boxes, _select(traj, threshold), "ema_workbench")
    traj, boxes = peel(x, y, peel_alpha=peel_alpha, mass_min=mass_min)
    return PrimResult(traj, boxes, _select(traj, threshold), "numpy")
