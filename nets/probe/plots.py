"""Figures of a probe result (PNG), drawn on :class:`matplotlib.figure.Figure` objects.

No pyplot and no backend switch: the figures work in scripts, notebooks and servers
alike, and are saved atomically (:func:`generators.fileio.atomic_path`).

- :func:`plot_belief_geometry`: the true belief geometry beside the probe's projection of
  the activations (held-out rows), in the same 2-D coordinates and colours.
- :func:`plot_fit_by_layer`: held-out RMSE and R^2 per probe point with the baselines.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from generators.fileio import atomic_path

__all__ = ["plot_belief_geometry", "plot_fit_by_layer", "new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float]) -> Any:
    """A :class:`matplotlib.figure.Figure` with constrained layout (matplotlib imported here)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig: Any, path: str | os.PathLike | None, dpi: int = 110) -> None:
    """Write ``fig`` as PNG to ``path`` atomically (nothing when ``path`` is None)."""
    if path is None:
        return
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def plot_belief_geometry(result: Any, path: str | os.PathLike | None = None, *, max_points: int = 20000,
                         seed: int = 0, title: str | None = None):
    """True beliefs (left) and the probe's prediction of them from activations (right).

    Both panels use the same 2-D coordinates -- the top two weighted principal axes of the
    true beliefs (:func:`bayes.geometry.weighted_pca`; for a 3-state simplex, the plane of
    the triangle) -- and the same colours: each point's true belief mapped to RGB (its
    first three principal coordinates, min-max scaled).  Point area grows with the weight.

    Parameters
    ----------
    result : nets.probe.ProbeResult with ``arrays`` (``beliefs``, ``predicted``, ``weights``)
    path : PNG path (written atomically), optional
    max_points : plot at most this many held-out rows (weighted sample without replacement)

    Returns
    -------
    matplotlib.figure.Figure
    """
    from bayes.geometry import weighted_pca

    arr = getattr(result, "arrays", None) or {}
    if not {"beliefs", "predicted", "weights"} <= set(arr):
        raise ValueError("the result has no held-out arrays (results loaded from JSON without include_arrays=True "
                         "cannot be plotted); rerun the probe or save with include_arrays=True")
    Y, P, w = (np.asarray(arr[k], dtype=float) for k in ("beliefs", "predicted", "weights"))
    w = w / w.sum()
    idx = np.arange(Y.shape[0])
    if idx.size > max_points:
        nz = np.flatnonzero(w > 0)
        idx = np.random.default_rng(seed).choice(nz, size=min(max_points, nz.size), replace=False,
                                                 p=w[nz] / w[nz].sum())
    pca = weighted_pca(Y, w)
    ty, tp = pca.project(Y, 2), pca.project(P, 2)
    colors = _belief_colors(pca, Y)
    order = idx[np.argsort(w[idx])]
    size = 2 + 30 * np.sqrt(w[order] / w[order].max())
    fig = new_figure((10, 5))
    axes = fig.subplots(1, 2)
    for ax, pts, name in ((axes[0], ty, "true beliefs"), (axes[1], tp, "probe projection of activations")):
        ax.scatter(pts[order, 0], pts[order, 1] if pts.shape[1] > 1 else 0 * pts[order, 0], c=colors[order], s=size,
                   linewidths=0, alpha=0.8)
        ax.set_title(name)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("belief PC 1")
        ax.set_ylabel("belief PC 2")
    both = np.concatenate([ty[order], tp[order]])  # same limits on both panels
    for ax in axes:
        for j, setter in enumerate((ax.set_xlim, ax.set_ylim)[:both.shape[1]]):
            v = both[:, j]
            setter(np.percentile(v, 0.1) - 0.05 * np.ptp(v), np.percentile(v, 99.9) + 0.05 * np.ptp(v))
    pt = result.points[result.headline]
    meta = result.meta
    fig.suptitle(title or f"{meta.get('process', '')} [{meta.get('representation', '')}] at {result.headline}: "
                 f"held-out R$^2$ {pt.r2:.4f}, RMSE {pt.rmse:.4g} -- verdict: {result.verdict}", fontsize=10)
    save_figure(fig, path)
    return fig


def _belief_colors(pca: Any, Y: np.ndarray) -> np.ndarray:
    """RGB per row: the first three principal coordinates, min-max scaled (planar
    geometry: the third channel from the other two)."""
    c3 = pca.project(Y, 3)
    c3 = np.concatenate([c3, np.zeros((c3.shape[0], 3 - c3.shape[1]))], axis=1)
    lo, hi = c3.min(axis=0), c3.max(axis=0)
    colors = np.clip((c3 - lo) / np.where(hi > lo, hi - lo, 1.0), 0, 1)
    lam = pca.variances
    if lam.size < 3 or lam[2] <= 1e-9 * max(lam[0], 1e-300):
        colors[:, 2] = 1.0 - 0.5 * (colors[:, 0] + colors[:, 1])
    return colors


def plot_fit_by_layer(result: Any, path: str | os.PathLike | None = None, *, title: str | None = None):
    """Held-out RMSE (left) and R^2 (right) per probe point, with the shuffled-belief and
    untrained-network baselines beside each bar and the Markov-k baseline as a line."""
    names = list(result.points)
    pts = [result.points[n] for n in names]
    x = np.arange(len(names))
    fig = new_figure((max(8, 1.3 * len(names) + 3), 4.5))
    axes = fig.subplots(1, 2)
    width = 0.27
    has_u = any(p.untrained is not None for p in pts)
    for ax, key, label in ((axes[0], "rmse", "held-out RMSE"), (axes[1], "r2", "held-out R$^2$")):
        ax.bar(x - width, [p.test[key] for p in pts], width, label="trained", color="tab:blue")
        ax.bar(x, [p.shuffled[key] for p in pts], width, label="shuffled beliefs", color="tab:gray")
        if has_u:
            ax.bar(x + width, [np.nan if p.untrained is None else p.untrained[key] for p in pts], width,
                   label="untrained net", color="tab:orange")
        mk = result.baselines.get("markov")
        if mk:
            ax.axhline(mk[key], color="tab:red", ls="--", lw=1, label=f"Markov-{mk['order']} beliefs")
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(label)
    axes[1].set_ylim(min(0.0, min(p.shuffled["r2"] for p in pts) - 0.02), 1.02)
    axes[0].legend(fontsize=8)
    meta = result.meta
    fig.suptitle(title or f"{meta.get('process', '')} [{meta.get('representation', '')}]: probe fit by layer "
                 f"(verdict: {result.verdict})", fontsize=10)
    save_figure(fig, path)
    return fig
