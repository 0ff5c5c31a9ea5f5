"""B. RRXOR: the belief geometry across layers, and the pairwise-distance R^2.

Probe rows: the 1046 distinct prefixes of the 436 allowed 10-symbol inputs, each weighted
by its count (the number of inputs sharing it: every (input, position) pair counts once,
4360 in all).  Targets: the 5-state belief; ``next``: the next-symbol distribution.

- Layers (:func:`layer_fits`): the points of the paper's Figure 7 (embedding, each block's
  residual stream, the final LayerNorm) and their concatenation.  Ours: held-out R^2 with
  the rank chosen by cross-validation, with the shuffled-belief and untrained-network
  controls (:func:`nets.probe.probe`).  The paper's: the in-sample MSE of each point.
- Distances (:func:`distance_metrics`), two definitions side by side:
  ``paper`` -- OLS fitted in sample from the concatenation of all 12 residual hooks
  (:func:`.protocol.paper_hooks`, the authors' float32 cutoff), then the R^2 of all
  pairwise distances of the predicted beliefs against those of the true beliefs
  (``beliefs``) and of the next-symbol distributions (``next``);
  ``ours`` -- the probe of the concatenated layers fitted on 80% of the prefixes (rank by
  cross-validation) and the same distance R^2 over the held-out 20%.
  Each for the trained network, the untrained networks (the run's own initialization and
  the other one) and the shuffled-belief control (beliefs and next-symbol distributions
  permuted together among prefixes of the same length); ``ceiling``: true beliefs against
  true next-symbol distributions on the same rows (what ``next`` is for a perfect probe).
"""

from __future__ import annotations

import numpy as np

from .protocol import PAPER_COND, ols_in_sample, pairwise_distance_r2, paper_hooks, shuffle_rows

__all__ = ["PROCESS", "PAPER", "layer_points", "probe_rows", "layer_fits", "distance_metrics", "in_sample_fits",
           "geometry_figure", "geometry_view", "VIEW"]

#: where the analysis saves :func:`geometry_view` for the report (the first seed's)
VIEW = "rrxor_view.json"

PROCESS = "rrxor"
#: the paper's numbers: distinct beliefs, distance R^2 against true beliefs / next-symbol distributions
PAPER = {"n_beliefs": 36, "dist_r2_beliefs": 0.95, "dist_r2_next": 0.31}


def layer_points(n_layers: int) -> list[str]:
    """The points of the paper's per-layer panel: ``embed``, ``blocks.i.resid_post``, ``ln_final``."""
    return ["embed"] + [f"blocks.{i}.resid_post" for i in range(int(n_layers))] + ["ln_final"]


def probe_rows(generator, models: dict, n_layers: int) -> dict:
    """Activations of every network in ``models`` (name -> model) at every point used
    here, on the probe rows; plus ``beliefs``, ``next``, ``counts``, ``weights``,
    ``lengths``.  Cost: one forward pass of the allowed inputs per network."""
    from nets.probe import build_probe_dataset

    names = list(dict.fromkeys(layer_points(n_layers) + paper_hooks(n_layers)))
    out: dict = {"acts": {}}
    for key, model in models.items():
        ds = build_probe_dataset(generator, model, representations=["native"], weighting="uniform", names=names,
                                 untrained=None, markov_order=None)
        out["acts"][key] = ds.activations
    n_inputs = ds.meta["n_words"] * len(ds.meta["prefix_lengths"])
    out.update(beliefs=ds.beliefs["native"], next=ds.next_probs, weights=ds.weights, lengths=ds.lengths,
               counts=np.round(ds.weights * n_inputs))
    return out


def layer_fits(rows: dict, n_layers: int, *, seed: int, folds: int, untrained: str = "untrained") -> dict:
    """Per point and for the concatenation: ours (held-out ``r2``, ``shuffled_r2``,
    ``untrained_r2``, ``rank``) and the paper's in-sample ``mse`` (trained and untrained);
    ``concat_gain`` = concat R^2 minus the best single point's."""
    from nets.probe import probe

    pts = layer_points(n_layers)
    A, U = rows["acts"]["trained"], rows["acts"][untrained]
    Y, w, c = rows["beliefs"], rows["weights"], rows["counts"]
    pr = probe({p: A[p] for p in pts}, Y, w, untrained={p: U[p] for p in pts}, shuffle_groups=rows["lengths"],
               folds=folds, seed=seed, concat=True)
    out = {}
    for name, fit in pr.points.items():
        X = np.concatenate([A[p] for p in pts], 1) if name == "concat" else A[name]
        Xu = np.concatenate([U[p] for p in pts], 1) if name == "concat" else U[name]
        mse = lambda Z: float(c @ ((Y - ols_in_sample(Z, Y, c, cond=PAPER_COND)) ** 2).mean(1) / c.sum())  # noqa: E731
        out[name] = {"ours": {"r2": fit.r2, "shuffled_r2": fit.shuffled["r2"], "untrained_r2": fit.untrained["r2"],
                              "rank": fit.rank},
                     "paper": {"mse": mse(X), "untrained_mse": mse(Xu)}}
    best = max(out[p]["ours"]["r2"] for p in pts)
    return {"points": out, "concat_gain": out["concat"]["ours"]["r2"] - best,
            "best_single": max(pts, key=lambda p: out[p]["ours"]["r2"])}


def distance_metrics(rows: dict, n_layers: int, *, seed: int, folds: int) -> dict:
    """``{network or control: {"paper": {"beliefs", "next"}, "ours": {"beliefs", "next"}}}``
    and ``ceiling`` (module doc).  Networks: every key of ``rows["acts"]``; control
    ``shuffled``: the trained network's activations with permuted targets."""
    from nets.probe import fit_affine, train_test_split

    Y, P, w, c = rows["beliefs"], rows["next"], rows["weights"], rows["counts"]
    tr, te = train_test_split(Y.shape[0], 0.2, seed)
    perm = shuffle_rows(rows["lengths"], seed + 1)
    cases = {k: (acts, Y, P) for k, acts in rows["acts"].items()}
    cases["shuffled"] = (rows["acts"]["trained"], Y[perm], P[perm])
    out = {}
    for key, (acts, T, N) in cases.items():
        hooks = np.concatenate([acts[h] for h in paper_hooks(n_layers)], 1)
        pred = ols_in_sample(hooks, T, c, cond=PAPER_COND)
        X = np.concatenate([acts[p] for p in layer_points(n_layers)], 1)
        held = fit_affine(X[tr], T[tr], w[tr], rank="cv", folds=folds, seed=seed).predict(X[te])
        out[key] = {"paper": {"beliefs": pairwise_distance_r2(pred, T, c), "next": pairwise_distance_r2(pred, N, c)},
                    "ours": {"beliefs": pairwise_distance_r2(held, T[te], c[te]),
                             "next": pairwise_distance_r2(held, N[te], c[te])}}
    out["ceiling"] = {"paper": pairwise_distance_r2(Y, P, c), "ours": pairwise_distance_r2(Y[te], P[te], c[te])}
    return out


def in_sample_fits(rows: dict, n_layers: int) -> dict:
    """The paper's in-sample fit of the beliefs from all residual hooks concatenated, for
    the trained and the untrained network: ``{key: (N, k) predicted beliefs}`` (what
    :func:`geometry_figure` and :func:`geometry_view` draw)."""
    Y, c = rows["beliefs"], rows["counts"]
    return {key: ols_in_sample(np.concatenate([rows["acts"][key][h] for h in paper_hooks(n_layers)], 1), Y, c,
                               cond=PAPER_COND) for key in ("trained", "untrained")}


def geometry_figure(rows: dict, fits: dict, manifold_beliefs: np.ndarray, path, *, title: str) -> None:
    """The 36 belief states (top 3 weighted principal axes of the beliefs) beside the paper
    fit's projection (``fits``: :func:`in_sample_fits`) of the trained and of the untrained
    network (large dots: the count-weighted mean per true belief).  PCA:
    :func:`bayes.geometry.weighted_pca`."""
    from matplotlib.figure import Figure

    from bayes.geometry import weighted_pca
    from nets.report import save_figure

    Y, c = rows["beliefs"], rows["counts"]
    pca = weighted_pca(Y, c)
    proj = lambda Z: (Z - pca.mean) @ pca.axes[:3].T  # noqa: E731
    _, inv = np.unique(np.round(Y, 9), axis=0, return_inverse=True)
    inv = inv.ravel()
    scale = 2 * np.abs(proj(Y)).max()
    colour = lambda Z: np.clip(0.5 + proj(Z) / scale, 0, 1)  # noqa: E731  (RGB from the true belief)
    fig = Figure(figsize=(13, 4.6), constrained_layout=True)
    lim = np.abs(proj(manifold_beliefs)).max() * 1.3
    for k, key in enumerate([None, "trained", "untrained"]):
        ax = fig.add_subplot(1, 3, k + 1, projection="3d")
        if key is None:
            P, name = proj(manifold_beliefs), f"true beliefs: {len(manifold_beliefs)} states"
            ax.scatter(*P.T, c=colour(manifold_beliefs), s=40, depthshade=False)
        else:
            P, name = proj(fits[key]), f"{key} network (paper's in-sample fit)"
            ax.scatter(*P.T, c=colour(Y), s=3, alpha=0.25, depthshade=False)
            m = np.bincount(inv, weights=c)
            cent = np.stack([np.bincount(inv, weights=c * P[:, j]) / m for j in range(3)], 1)
            ax.scatter(*cent.T, c="k", s=18, depthshade=False)
        ax.set_title(name, fontsize=9)
        for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            setter(-lim, lim)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
        ax.view_init(elev=25, azim=35)
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path, dpi=100)


def geometry_view(rows: dict, fits: dict) -> dict:
    """The interactive counterpart of :func:`geometry_figure` for report.html: the beliefs
    of the probe rows beside the paper's in-sample fit (``fits``: :func:`in_sample_fits`)
    of the trained and of the untrained network, in the top 3 weighted principal axes of
    the beliefs (drag to rotate all)."""
    from nets.interactive import projections_spec

    Y, c = rows["beliefs"], rows["counts"]
    named = {f"{key} network (paper's in-sample fit)": P for key, P in fits.items()}
    return projections_spec(Y, named, c, title=f"RRXOR: the {len(np.unique(np.round(Y, 9), axis=0))} belief "
                            "states and the paper's in-sample fit from all residual hooks (first seed)")
