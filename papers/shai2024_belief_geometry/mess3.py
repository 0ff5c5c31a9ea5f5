"""A. Mess3(0.05, 0.85): the belief simplex in the final residual stream, during training.

For a network kept at some step (0 = the untrained network the run started from) and the
probe rows of all ``3^L`` inputs at all ``L`` positions (a distinct prefix weighted by the
number of inputs sharing it: every (input, position) pair counts once):

- the paper's protocol (:mod:`.protocol`): in-sample affine least squares from the final
  residual stream before (``blocks.{n-1}.resid_post``) and after (``ln_final``) the final
  LayerNorm to the 3-state belief, MSE averaged over inputs x positions x coordinates; the
  paper's shuffled-belief control (the beliefs of all (input, position) pairs permuted,
  refit, the prediction scored against the true beliefs: :func:`.protocol.shuffled_copies`)
  and how far its prediction collapsed (:func:`.protocol.collapse`);
- ours: the same rows and weights, a seeded 80/20 split of the prefixes, the truncated-SVD
  rank chosen by k-fold cross-validation, MSE and R^2 on the held-out prefixes, with the
  probe's shuffled control (beliefs permuted among prefixes of the same length:
  :func:`nets.probe.probe`); at the last step also the Markov-3 baseline (beliefs
  predicted from the last 3 symbols).
"""

from __future__ import annotations

import numpy as np

from .protocol import PAPER_COND, collapse, ols_in_sample, shuffled_copies

__all__ = ["PROCESS", "PAPER_MSE", "PAPER_MSE_FINAL", "stage_metrics", "simplex_figure"]

#: the process, as a library spec
PROCESS = "mess3:x=0.05,a=0.85"
#: the paper's MSE (final residual stream before the final LayerNorm) by training tokens
PAPER_MSE = {64_000: 0.0118, 640_000: 0.0084, 3_200_000: 0.0025, 630_000_000: 0.0004}
#: after 6.3e8 tokens: before / after the final LayerNorm
PAPER_MSE_FINAL = {"pre_ln": 0.0004, "post_ln": 0.0003}


def _mse(Y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean over rows x coordinates of the squared error."""
    return float(w @ ((Y - pred) ** 2).mean(axis=1) / w.sum())


def stage_metrics(model, generator, n_layers: int, *, seed: int, folds: int, markov: bool = False):
    """The metrics of one kept network (module doc) and the arrays its figure needs.

    Returns ``(metrics, arrays)``: ``metrics = {"paper": {"mse_pre_ln", "mse_post_ln",
    "shuffled": {"mse", "spread", "centre_distance"}}, "ours": {"mse", "r2", "rank",
    "shuffled_mse"[, "markov_mse"]}}``; ``arrays``: beliefs, prefix lengths, the paper
    fit's predictions and the shuffled control's.  Cost: one
    forward pass over the ``3^L`` inputs and three affine fits.
    """
    from nets.probe import build_probe_dataset

    last = f"blocks.{n_layers - 1}.resid_post"
    ds = build_probe_dataset(generator, model, representations=["native"], weighting="uniform",
                             names=[last, "ln_final"], untrained=None, markov_order=3 if markov else None)
    Y, w = ds.beliefs["native"], ds.weights
    pre = ols_in_sample(ds.activations[last], Y, w, cond=PAPER_COND)
    post = ols_in_sample(ds.activations["ln_final"], Y, w, cond=PAPER_COND)
    counts = np.round(w * ds.meta["n_words"] * len(ds.meta["prefix_lengths"]))
    shuf = ols_in_sample(ds.activations[last], shuffled_copies(Y, counts, seed + 1), w, cond=PAPER_COND)
    paper = {"mse_pre_ln": _mse(Y, pre, w), "mse_post_ln": _mse(Y, post, w),
             "shuffled": {"mse": _mse(Y, shuf, w), **collapse(shuf, Y, w)}}
    pr = ds.probe("native", names=[last], rank="cv", folds=folds, seed=seed)
    h = pr.points[last]
    ours = {"mse": h.test["mse"], "r2": h.r2, "rank": h.rank, "shuffled_mse": h.shuffled["mse"]}
    if markov:
        ours["markov_mse"] = pr.baselines["markov"]["mse"]
    arrays = {"beliefs": Y, "lengths": ds.lengths, "predicted": pre, "shuffled_predicted": shuf}
    return {"paper": paper, "ours": ours}, arrays


def simplex_figure(arrays: dict, path, *, title: str) -> None:
    """True beliefs | the paper fit's projection | the shuffled control's, in the
    probability triangle, every point coloured by its true belief (RGB); prefixes of
    length >= 6 (the fractal's fine detail), at most 15,000 of them."""
    from matplotlib.figure import Figure

    from bayes.geometry import barycentric_coordinates
    from nets.report import save_figure

    Y, L = arrays["beliefs"], arrays["lengths"]
    rows = np.nonzero(L >= min(int(L.max()), 6))[0]
    if rows.size > 15000:
        rows = np.random.default_rng(0).choice(rows, 15000, replace=False)
    panels = [("true beliefs (Bayes)", Y[rows]),
              ("network: affine map of the final residual stream", arrays["predicted"][rows]),
              ("shuffled-belief control", arrays["shuffled_predicted"][rows])]
    fig = Figure(figsize=(13, 4.6), constrained_layout=True)
    tri = barycentric_coordinates(np.eye(3))
    for ax, (name, P) in zip(fig.subplots(1, 3), panels):
        c = barycentric_coordinates(P)
        ax.plot(*np.vstack([tri, tri[:1]]).T, color="0.6", lw=0.8)
        ax.scatter(c[:, 0], c[:, 1], c=np.clip(Y[rows], 0, 1), s=1.5, linewidths=0)
        ax.set_title(name, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 0.92)
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path, dpi=100)
