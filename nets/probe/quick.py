"""A quick belief-fit check for benchmarks and training runs: :func:`sampled_belief_r2`."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sampled_belief_r2"]


def sampled_belief_r2(model: Any, data: Any, n_words: int = 4096, seed: int = 123, holdout: float = 0.2) -> float:
    """Held-out R^2 of a plain affine least-squares map from all layers' activations
    (the model's default probe points but the embedding and final norm:
    ``blocks.*.resid_post`` or ``layers.*.hidden``, concatenated, all positions) to the
    beliefs' coordinates (:meth:`generators.representations.Representation.coordinates`:
    the constant coordinate of the minimal representation dropped).

    ``n_words`` words are sampled from ``data`` (a :class:`nets.data.BeliefData`), so the
    unweighted fit is the probability-weighted one; ``holdout`` of the words (not rows) are
    held out.  R^2 pools all coordinates.  For the full analysis with baselines use
    :func:`nets.probe.probe` / :func:`nets.probe.probe_model`.
    """
    from generators.representations import representation

    from ..activations import collect

    b = data.sample(n_words, np.random.default_rng(seed))
    names = "blocks.*.resid_post" if getattr(model, "kind", None) == "transformer" else "layers.*.hidden"
    X = collect(model, b.tokens, names).concat().astype(np.float64)
    Y = representation(data.generator, data.representation).coordinates(b.beliefs.numpy())
    perm = np.random.default_rng(seed + 1).permutation(n_words)
    te, tr = perm[: int(n_words * holdout)], perm[int(n_words * holdout):]
    Xtr, Xte = X[tr].reshape(-1, X.shape[-1]), X[te].reshape(-1, X.shape[-1])
    Ytr, Yte = Y[tr].reshape(-1, Y.shape[-1]), Y[te].reshape(-1, Y.shape[-1])
    W, *_ = np.linalg.lstsq(np.c_[Xtr, np.ones(len(Xtr))], Ytr, rcond=None)
    P = np.c_[Xte, np.ones(len(Xte))] @ W
    return float(1 - ((P - Yte) ** 2).sum() / ((Yte - Ytr.mean(0)) ** 2).sum())
