"""Figures of the Shai et al. 2026 reproduction (first seed of a group): the PCA spectra,
the overlap matrices under both definitions, each factor's decoded belief geometry, and
the loss curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nets.probe.plots import new_figure, save_figure

__all__ = ["run_figures", "FIGURES"]

#: file name templates (``{group}``; ``{k}`` the factor) and captions
FIGURES = {"pca": ("pca_spectrum_{group}.png", "cumulative explained variance of the final residual stream "
                                               "(trained, untrained) and of the joint and factor beliefs"),
           "overlap": ("subspace_overlap_{group}.png", "factor-subspace overlap matrices, both definitions, "
                                                       "trained and at initialization"),
           "loss": ("loss_{group}.png", "training loss relative to the optimum")}


def run_figures(out: Path, group: str, res: Any, arrays: dict) -> None:
    """All per-run figures of ``group``'s first seed into ``out``."""
    from nets.probe.plots import plot_belief_geometry
    from nets.report import plot_loss_curve

    out = Path(out)
    _pca(arrays["cumulative"], out / FIGURES["pca"][0].format(group=group))
    _overlap(arrays["matrices"], [f.name for f in res.data.factors], out / FIGURES["overlap"][0].format(group=group))
    for k, pr in enumerate(arrays["probes"]):
        plot_belief_geometry(pr, out / f"factor{k}_geometry_{group}.png",
                             title=f"factor {k}: {res.data.factors[k].name} -- true beliefs | decoded")
    plot_loss_curve({group: res.history}, out / FIGURES["loss"][0].format(group=group),
                    title=f"{res.data.generator.name}: loss / optimum")


def _pca(cum: dict, path: Path) -> None:
    fig = new_figure((7, 4.2))
    ax = fig.subplots()
    for label, c in cum.items():
        c = np.asarray(c)
        ax.plot(np.arange(1, c.size + 1), c, "o-", ms=2.5, lw=1.2, label=f"{label} ({c.size} dims)")
    ax.axhline(0.95, color="k", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("principal components")
    ax.set_ylabel("cumulative explained variance")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _overlap(matrices: dict, labels: list, path: Path) -> None:
    K = len(labels)
    rows = [(d, k) for d in ("ours", "authors") for k in ("trained", "untrained")]
    fig = new_figure((4.2 * 2, 3.6 * 2))
    axes = fig.subplots(2, 2)
    for ax, (d, k) in zip(axes.ravel(), rows):
        M = np.asarray(matrices[d][k])
        im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis")
        for i in range(K):
            for j in range(K):
                ax.text(j, i, "1" if i == j else f"{M[i, j]:.1e}", ha="center", va="center", fontsize=7,
                        color="w" if M[i, j] < 0.5 else "k")
        ax.set_xticks(range(K))
        ax.set_yticks(range(K))
        ax.set_title(f"{d} definition, {k}", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.7)
    fig.suptitle("; ".join(f"{i}: {n}" for i, n in enumerate(labels)), fontsize=7)
    save_figure(fig, path)
