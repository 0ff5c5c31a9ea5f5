"""The gasket (the linear update attention can compute) and the picture of the two
residual streams in their top principal components.

Gasket coordinates of a prefix ``x_0 .. x_d`` at rate ``r``::

    g = sum_s r^(d-s) e_{x_s} / sum_s |r|^(d-s)          (e one-hot, shape (V,))

Piotrowski et al. (arXiv:2502.01954) take ``r = lambda = 1 - 3x``; the effective rate of
:func:`bayes.attention_decay_rates` is the other candidate.  Its image over all prefixes
is the Sierpinski-like gasket of the paper.  Principal components come from
:func:`bayes.geometry.weighted_pca` (probability-weighted).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["gasket_coordinates", "top_variance_share", "plot_gasket_vs_fractal"]


def gasket_coordinates(prefixes: np.ndarray, lengths: np.ndarray, rate: float, V: int = 3) -> np.ndarray:
    """Gasket coordinates (N, V) of ``prefixes`` (N, L) (``-1`` padded, ``lengths`` (N,)
    symbols each) at ``rate`` (module docstring).  Cost ``O(N L)``."""
    N, L = prefixes.shape
    out = np.zeros((N, V))
    norm = np.zeros(N)
    rows = np.arange(N)
    for s in range(L):  # a loop over positions
        ok = s < lengths
        w = np.where(ok, np.power(float(rate), np.where(ok, lengths - 1 - s, 0)), 0.0)
        out[rows[ok], prefixes[ok, s]] += w[ok]
        norm += np.abs(w)
    return out / norm[:, None]


def top_variance_share(X: np.ndarray, weights: np.ndarray, k: int = 3) -> float:
    """Share of the weighted variance of the rows of ``X`` in its top ``k`` principal
    components (:func:`bayes.geometry.weighted_pca`)."""
    from bayes.geometry import weighted_pca

    var = weighted_pca(np.asarray(X, dtype=np.float64), weights).variances
    return float(var[:k].sum() / var.sum()) if var.sum() > 0 else float("nan")


def plot_gasket_vs_fractal(ds, rows: np.ndarray, path: Path, *, max_points: int = 12000, title: str = "") -> None:
    """True beliefs in the simplex beside the top-3 weighted principal components of the
    post-attention (``blocks.0.resid_mid``) and post-MLP (``blocks.0.resid_post``) residual
    streams of a :class:`nets.probe.ProbeDataset`, every point coloured by its belief."""
    from bayes.geometry import barycentric_coordinates, weighted_pca
    from nets.probe.plots import new_figure, save_figure

    idx = np.flatnonzero(rows)
    w = ds.weights[idx]
    if idx.size > max_points:
        pick = np.random.default_rng(0).choice(idx.size, size=max_points, replace=False, p=w / w.sum())
        idx, w = idx[pick], w[pick]
    B = ds.beliefs["native"][idx]
    col = np.clip(B, 0, 1)
    fig = new_figure((15, 4.8))
    ax = fig.add_subplot(1, 3, 1)
    xy = barycentric_coordinates(B)
    ax.scatter(xy[:, 0], xy[:, 1], c=col, s=1.5, lw=0)
    ax.set_aspect("equal")
    ax.set_title("true beliefs (simplex)", fontsize=9)
    ax.axis("off")
    for k, n in enumerate(("blocks.0.resid_mid", "blocks.0.resid_post")):
        A = ds.activations[n][idx].astype(np.float64)
        pca = weighted_pca(A, w)
        P = (A - pca.mean) @ pca.axes[:3].T
        frac = pca.variances[:3] / pca.variances.sum()
        ax = fig.add_subplot(1, 3, k + 2, projection="3d")
        ax.scatter(P[:, 0], P[:, 1], P[:, 2], c=col, s=1.2, lw=0, depthshade=False)
        ax.view_init(elev=25, azim=45)
        ax.set_title(f"{n} (PC variance {', '.join(f'{f:.2f}' for f in frac)})", fontsize=9)
        for set_labels in (ax.set_xticklabels, ax.set_yticklabels, ax.set_zticklabels):
            set_labels([])
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)
