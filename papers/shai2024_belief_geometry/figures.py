"""Figures pooled over seeds (means with 95% intervals) for the report."""

from __future__ import annotations

import numpy as np

from .mess3 import PAPER_MSE
from .rrxor import layer_points

__all__ = ["mse_trajectory", "fit_by_layer", "loss_curves"]

_INIT = {"torch": "PyTorch init", "transformer_lens": "TransformerLens init"}


def _errorbar(ax, x, ivs, **kw):
    m = np.array([iv.mean for iv in ivs])
    err = np.array([[iv.mean - iv.lo for iv in ivs], [iv.hi - iv.mean for iv in ivs]])
    ax.errorbar(x, m, yerr=err, capsize=3, **kw)


def mse_trajectory(results, path) -> None:
    """The paper-protocol MSE (before the final LayerNorm) against training tokens, per
    initialization, with the shuffled control, the untrained networks and the paper's values."""
    from matplotlib.figure import Figure

    from nets.report import save_figure

    fig = Figure(figsize=(6.8, 4.4), constrained_layout=True)
    ax = fig.subplots()
    for k, g in enumerate(g for g in results.groups if g.startswith("mess3-")):
        init = g.split("-", 1)[1]
        stages = sorted(int(s) for s in results.metrics(results.group_runs(g)[0].key)["stages"] if int(s) > 0)
        t = [results.values(g, f"stages.{s}.tokens")[0] for s in stages]
        _errorbar(ax, t, [results.interval(g, f"stages.{s}.paper.mse_pre_ln") for s in stages], fmt="o-",
                  color=f"C{k}", label=f"ours, {_INIT[init]}")
        ax.axhline(results.interval(g, "stages.0.paper.mse_pre_ln").mean, color=f"C{k}", ls=":", lw=1,
                   label=f"untrained, {_INIT[init]}")
        if k == 0:
            _errorbar(ax, t, [results.interval(g, f"stages.{s}.paper.shuffled.mse") for s in stages], fmt="s--",
                      color="0.5", ms=3, label="shuffled-belief control")
    ax.plot(list(PAPER_MSE), list(PAPER_MSE.values()), "k*", ms=11, label="paper")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training tokens")
    ax.set_ylabel("MSE (paper's in-sample fit)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title("Mess3: belief-probe MSE during training")
    save_figure(fig, path, dpi=100)


def fit_by_layer(results, path) -> None:
    """Held-out R^2 of every RRXOR probe point and the concatenation, with the controls."""
    from matplotlib.figure import Figure

    from nets.report import save_figure

    key = results.group_runs("rrxor")[0].key
    pts = [p for p in results.metrics(key)["layers"]["points"]]
    L = sum(p.startswith("blocks.") for p in pts)
    pts = layer_points(L) + ["concat"]
    x = np.arange(len(pts))
    fig = Figure(figsize=(7.5, 4.2), constrained_layout=True)
    ax = fig.subplots()
    for dx, (field, label, fmt) in zip((-0.15, 0.0, 0.15), (("r2", "trained", "o"),
                                                          ("untrained_r2", "untrained", "s"),
                                                          ("shuffled_r2", "shuffled beliefs", "^"))):
        _errorbar(ax, x + dx, [results.interval("rrxor", f"layers.points.{p}.ours.{field}") for p in pts],
                  fmt=fmt, ls="none", label=label)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([p.replace("blocks.", "b").replace(".resid_post", "") for p in pts], rotation=30)
    ax.set_ylabel("held-out R$^2$ (5-state belief)")
    ax.legend(fontsize=8)
    ax.set_title("RRXOR: held-out fit by layer")
    save_figure(fig, path, dpi=100)


def loss_curves(histories: dict, path) -> None:
    """Training loss / optimum of the given runs (:func:`nets.report.plot_loss_curve`)."""
    from nets.report import plot_loss_curve

    plot_loss_curve({k: v for k, v in histories.items() if v}, path, title="Training loss / Bayes-optimal loss")
