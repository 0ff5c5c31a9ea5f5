"""Figures for probes and attention (matplotlib Agg, imported lazily; PNG output).

- :func:`plot_belief_geometry`: the true belief geometry beside the probe's projection of
  the activations (held-out rows), in the same 2-D coordinates and colours.
- :func:`plot_fit_by_layer`: held-out RMSE and R^2 per probe point with the baselines.
- :func:`plot_attention_decay`: mean attention by distance per head with the fitted decay.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from generators.fileio import atomic_path

__all__ = ["plot_belief_geometry", "plot_fit_by_layer", "plot_attention_decay"]


def plot_belief_geometry(result: Any, path: str | os.PathLike | None = None, *, max_points: int = 20000,
                         seed: int = 0, title: str | None = None):
    """True beliefs (left) and the probe's prediction of them from activations (right).

    Both panels use the same 2-D coordinates -- the top two weighted principal axes of the
    true beliefs (for a 3-state simplex, the plane of the triangle) -- and the same colours:
    each point's true belief mapped to RGB (its first three principal coordinates,
    min-max scaled).  Point area grows with the prefix weight.

    Parameters
    ----------
    result : nets.probe.ProbeResult with ``arrays`` (``beliefs``, ``predicted``, ``weights``)
    path : PNG path (written atomically-enough: ``savefig`` to the final name); optional
    max_points : plot at most this many held-out rows (weighted sample without replacement)

    Returns
    -------
    matplotlib Figure
    """
    plt = _pyplot()
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
    mu = w @ Y
    C = ((Y - mu) * w[:, None]).T @ (Y - mu)
    lam, V = np.linalg.eigh(C)
    V = V[:, ::-1]
    V = np.concatenate([V, np.zeros((V.shape[0], max(0, 3 - V.shape[1])))], axis=1)
    ty, tp = (Y - mu) @ V[:, :2], (P - mu) @ V[:, :2]
    c3 = (Y - mu) @ V[:, :3]
    lo, hi = c3.min(axis=0), c3.max(axis=0)
    colors = np.clip((c3 - lo) / np.where(hi > lo, hi - lo, 1.0), 0, 1)
    lam = np.clip(lam[::-1], 0.0, None)
    if lam.size < 3 or lam[2] <= 1e-9 * max(lam[0], 1e-300):  # planar geometry: 3rd channel from the other two
        colors[:, 2] = 1.0 - 0.5 * (colors[:, 0] + colors[:, 1])
    order = idx[np.argsort(w[idx])]
    size = 2 + 30 * np.sqrt(w[order] / w[order].max())
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), constrained_layout=True)
    for ax, pts, name in ((axes[0], ty, "true beliefs"), (axes[1], tp, "probe projection of activations")):
        ax.scatter(pts[order, 0], pts[order, 1], c=colors[order], s=size, linewidths=0, alpha=0.8)
        ax.set_title(name)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("belief PC 1")
        ax.set_ylabel("belief PC 2")
    # same limits on both panels
    xs = np.concatenate([ty[order, 0], tp[order, 0]])
    ys = np.concatenate([ty[order, 1], tp[order, 1]])
    for ax in axes:
        ax.set_xlim(np.percentile(xs, 0.1) - 0.05 * np.ptp(xs), np.percentile(xs, 99.9) + 0.05 * np.ptp(xs))
        ax.set_ylim(np.percentile(ys, 0.1) - 0.05 * np.ptp(ys), np.percentile(ys, 99.9) + 0.05 * np.ptp(ys))
    pt = result.points[result.headline]
    meta = result.meta
    fig.suptitle(title or f"{meta.get('process', '')} [{meta.get('representation', '')}] at {result.headline}: "
                 f"held-out R$^2$ {pt.r2:.4f}, RMSE {pt.rmse:.4g} -- verdict: {result.verdict}", fontsize=10)
    _save(fig, path)
    return fig


def plot_fit_by_layer(result: Any, path: str | os.PathLike | None = None, *, title: str | None = None):
    """Held-out RMSE (left) and R^2 (right) per probe point, with the shuffled-belief and
    untrained-network baselines beside each bar and the Markov-k baseline as a line."""
    plt = _pyplot()
    names = list(result.points)
    pts = [result.points[n] for n in names]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.3 * len(names) + 3), 4.5), constrained_layout=True)
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
        ax.set_xticklabels([n.replace("blocks.", "b").replace(".resid_post", "") for n in names], rotation=30,
                           ha="right")
        ax.set_ylabel(label)
    axes[1].set_ylim(min(0.0, min(p.shuffled["r2"] for p in pts) - 0.02), 1.02)
    axes[0].legend(fontsize=8)
    meta = result.meta
    fig.suptitle(title or f"{meta.get('process', '')} [{meta.get('representation', '')}]: probe fit by layer "
                 f"(verdict: {result.verdict})", fontsize=10)
    _save(fig, path)
    return fig


def plot_attention_decay(report: Any, path: str | os.PathLike | None = None, *, title: str | None = None):
    """Mean attention vs distance per head (log scale) with the fitted ``C |lambda|^D``."""
    plt = _pyplot()
    layers = sorted(report.profiles)
    fig, axes = plt.subplots(1, len(layers), figsize=(4.5 * len(layers), 4), squeeze=False, constrained_layout=True)
    for ax, i in zip(axes[0], layers):
        prof = np.asarray(report.profiles[i])
        D = np.arange(prof.shape[1])
        for h in range(prof.shape[0]):
            line = ax.semilogy(D, np.clip(prof[h], 1e-6, None), "o", ms=4, label=f"head {h}")[0]
            fit = [hd for hd in report.heads if hd.layer == i and hd.head == h]
            if fit and fit[0].lam_abs > 0:
                hd = fit[0]
                Df = D if hd.parity == "all" else D[D % 2 == (0 if hd.parity == "even" else 1)]
                ax.semilogy(Df, hd.amplitude * hd.lam_abs ** Df, "-", color=line.get_color(), lw=1,
                            label=f"fit $\\lambda$={hd.lam:.2f} ({hd.parity})")
        ax.set_xlabel("distance d - s")
        ax.set_ylabel("mean attention weight")
        ax.set_title(f"layer {i}")
        ax.legend(fontsize=7)
    ev = ", ".join(f"{complex(e).real:.3f}" + (f"{complex(e).imag:+.3f}i" if abs(complex(e).imag) > 1e-9 else "")
                   for e in report.eigenvalues[:4])
    fig.suptitle(title or f"{report.meta.get('process', '')}: attention decay (eigenvalues of sum T: {ev})",
                 fontsize=10)
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------- private helpers
def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Any) -> None:
    if path is None:
        return
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
