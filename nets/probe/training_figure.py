"""Figures and report of the belief geometry over training (:mod:`nets.probe.over_training`).

- :func:`plot_geometry_over_training`: small multiples (PNG) -- the probe's projection of
  the held-out activations at chosen training steps, beside the true beliefs, all in the
  same 2-D coordinates (the top two weighted principal axes of the true beliefs,
  :func:`bayes.geometry.weighted_pca`) and colours (each point's true belief, as
  :func:`nets.probe.plots.plot_belief_geometry`), and the held-out R^2 against the step.
- :func:`over_training_report`: ``report.md`` + ``report.html`` -- the figure, the metrics
  per step, and the newest checkpoint's probe section whose geometry has the training
  slider (:func:`nets.interactive.geometry_spec` with ``checkpoints``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .plots import _belief_colors, new_figure, plot_belief_geometry, plot_fit_by_layer, save_figure

__all__ = ["plot_geometry_over_training", "over_training_report", "spread"]


def spread(n: int, k: int) -> list[int]:
    """``min(n, k)`` indices of ``range(n)`` spread evenly, the first and the last included.

    >>> spread(10, 4), spread(3, 8)
    ([0, 3, 6, 9], [0, 1, 2])
    """
    if n <= k:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})


def plot_geometry_over_training(checkpoints: Sequence[dict], beliefs: Any, weights: Any,
                                path: str | os.PathLike | None = None, *, max_panels: int = 8,
                                title: str | None = None):
    """Small multiples of the probed geometry across training (see the module docstring).

    Parameters
    ----------
    checkpoints : the slider entries (:mod:`nets.interactive`), sorted by step; each
        ``points`` is (n_test, k)
    beliefs : (n_test, k) true beliefs of the held-out rows;  weights : (n_test,)
    path : PNG path (written atomically), optional
    max_panels : at most this many steps are drawn (spread over training, first and last kept)

    Returns
    -------
    matplotlib.figure.Figure
    """
    from bayes.geometry import weighted_pca

    Y = np.asarray(beliefs, dtype=float)
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    pca = weighted_pca(Y, w)
    colors, order = _belief_colors(pca, Y), np.argsort(w, kind="stable")
    size = 1 + 14 * np.sqrt(w[order] / w.max())
    chosen = [checkpoints[i] for i in spread(len(checkpoints), max_panels)]
    n = len(chosen) + 2  # the steps, the true beliefs, R^2 against the step
    rows = -(-n // 5)
    cols = -(-n // rows)  # balanced rows of at most 5
    fig = new_figure((2.5 * cols, 2.6 * rows + 0.3))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    truth = _pad(pca.project(Y, 2))
    lo, hi = truth.min(axis=0), truth.max(axis=0)
    margin = 0.15 * np.maximum(hi - lo, 1e-9)
    panels = [(c["points"], f"step {c['step']}" + (f"\nR² {c['metrics']['r2']:.3f}" if "r2" in c["metrics"] else ""))
              for c in chosen] + [(Y, "true beliefs")]
    for ax, (pts, label) in zip(axes, panels):
        xy = _pad(pca.project(np.asarray(pts, dtype=float), 2))
        ax.scatter(xy[order, 0], xy[order, 1], c=colors[order], s=size, linewidths=0, alpha=0.85)
        ax.set_xlim(lo[0] - margin[0], hi[0] + margin[0])
        ax.set_ylim(lo[1] - margin[1], hi[1] + margin[1])
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="box")
    ax = axes[len(panels)]
    steps = [c["step"] for c in checkpoints]
    ax.plot(steps, [c["metrics"].get("r2", np.nan) for c in checkpoints], "o-", ms=3, color="tab:blue")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("held-out R²", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title("probe fit over training", fontsize=8)
    for extra in axes[len(panels) + 1:]:
        extra.set_visible(False)
    fig.suptitle(title or "probe projection of activations over training (colour: true belief)", fontsize=10)
    save_figure(fig, path)
    return fig


def _pad(a: np.ndarray) -> np.ndarray:
    return a if a.shape[1] >= 2 else np.column_stack([a, np.zeros(a.shape[0])])


def over_training_report(found: Any, out: Path, *, run: Path | None = None) -> Path:
    """Write the figures and ``report.md`` / ``report.html`` of an
    :class:`~nets.probe.over_training.OverTraining` into ``out``; returns the Markdown path."""
    from ..document import Report
    from .over_training import FIGURE

    result, cps = found.result, found.checkpoints
    arr = result.arrays
    meta = result.meta
    what = f"{meta.get('process', '')} [{meta.get('representation', '')}]".strip()
    plot_geometry_over_training(cps, arr["beliefs"], arr["weights"], out / FIGURE,
                                title=f"{what}: probe projection over training")
    geo, fit = out / "probe_geometry.png", out / "probe_by_layer.png"
    plot_belief_geometry(result, geo)
    plot_fit_by_layer(result, fit)
    result.to_json(out / "probe.json")
    rep = Report(f"Belief geometry over training: {what}")
    rep.text(f"Run: `{run}`. {len(cps)} probed steps, from step {cps[0]['step']} to {cps[-1]['step']}; every "
             "step is probed on the same held-out rows (same dataset and seed), so the panels show the same "
             "inputs moving.")
    rep.figure(out / FIGURE, "The probe's projection of held-out activations at training steps spread over the "
                             "run, beside the true beliefs (same axes and colours), and the held-out R² by step")
    rep.table(["step", "source", "held-out R²", "cos R²", "RMSE"],
              [[c["step"], found.sources.get(c["step"], ""), c["metrics"].get("r2"), c["metrics"].get("cos_r2"),
                c["metrics"].get("rmse")] for c in cps], caption="Probe metrics by training step")
    result.report_section(rep, figures=(geo, fit), dataset=found.dataset, checkpoints=cps,
                          heading=f"Newest checkpoint (step {cps[-1]['step']}), with the controls; the geometry's "
                                  "slider moves through training")
    if run is not None:
        rep.reproduce(f"qbelief probe {run} --over-training --representation {meta.get('representation', 'minimal')}")
    return rep.write(out / "report.md")
