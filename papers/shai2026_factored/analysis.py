"""The science of Shai et al. 2026 (arXiv 2602.02385): does the residual stream hold each
factor's belief in its own low-dimensional subspace, or the joint belief?

:func:`analyze_factored` measures, on fresh sequences (all positions pooled, uniform
weights -- probability weighting by sampling):

1. dimensions: the 95%-variance weighted-PCA dimension (:func:`bayes.geometry.weighted_pca`
   via :func:`nets.geometry_checks.weighted_pca_dimension`) of every layer's residual
   stream, trained and at initialization, against the factored prediction (the sum of the
   factors' belief dimensions) and the joint beliefs' own 95% dimension (Kronecker
   products of the factor beliefs, :func:`joint_coordinates`);
2. per-factor decoding: the held-out R^2 of a probe (:func:`nets.probe.probe`) of each
   factor's minimal belief coordinates from the final residual stream, with the
   untrained-network and shuffled controls;
3. the factor-subspace overlap (:mod:`.overlap`) under our definition (``"pca"`` decoders
   on the final residual stream) and the authors' (``"lstsq"`` decoders on the
   post-LayerNorm stream), each for the trained net, the untrained net and beliefs shuffled
   across rows (each factor independently), beside the expectation for random subspaces;
   and the authors' decoder with a float64 cutoff (``eps_64 max(N, d + 1)``, numpy's
   default), which keeps LayerNorm's null direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .overlap import factor_overlap

__all__ = ["analyze_factored", "joint_coordinates", "explained_share", "eval_rows"]


def joint_coordinates(factor_coords: list) -> np.ndarray:
    """Joint beliefs of an independent product from the factors' minimal coordinates ``c_k``
    (rows, m_k): the Kronecker product of the factor beliefs ``(1, c_k)`` without its
    constant first entry, ``(rows, prod(m_k + 1) - 1)``.

    >>> joint_coordinates([np.array([[2.0]]), np.array([[3.0, 5.0]])]).tolist()
    [[3.0, 5.0, 2.0, 6.0, 10.0]]
    """
    ones = np.ones((factor_coords[0].shape[0], 1))
    return _kron_rows([np.concatenate([ones, c], axis=1) for c in factor_coords])[:, 1:]


def _kron_rows(vs: list) -> np.ndarray:
    out = vs[0]
    for v in vs[1:]:
        out = (out[:, :, None] * v[:, None, :]).reshape(out.shape[0], -1)
    return out


def explained_share(A: np.ndarray, X: np.ndarray) -> float:
    """Share of the total variance of activations ``A`` (N, d) explained by an affine
    least-squares fit on features ``X`` (N, k), in sample (k << N).

    >>> X = np.arange(10.0)[:, None]; explained_share(np.c_[2 * X, np.ones(10)], X)
    1.0
    """
    Ac, Xc = A - A.mean(axis=0), X - X.mean(axis=0)
    coef, *_ = np.linalg.lstsq(Xc, Ac, rcond=1e-10)
    return float(1.0 - np.sum((Ac - Xc @ coef) ** 2) / np.sum(Ac ** 2))


def eval_rows(data: Any, n_eval: int, seed: int) -> dict:
    """``n_eval`` fresh sequences of a factored :class:`nets.data.BeliefData` as rows
    (sequence-major, every position): tokens (n_eval, L), each factor's minimal belief
    coordinates (rows, m_k) and the joint coordinates in minimal and native form."""
    from generators import factor_symbols
    from generators.representations import representation

    ev = data.sample(n_eval, np.random.default_rng([seed, 12345]))
    L, rows = data.context, n_eval * data.context
    fb = [r.coordinates(b.numpy()).reshape(rows, -1) for r, b in zip(data.representations, ev.factor_beliefs)]
    fw = factor_symbols(ev.words.numpy(), data.factor_sizes)
    native = [representation(f, "native").trajectories(fw[..., k])[:, 1:L + 1].reshape(rows, -1)
              for k, f in enumerate(data.factors)]
    return {"tokens": ev.tokens.numpy(), "factors": fb, "joint": joint_coordinates(fb), "joint_native": _kron_rows(native),
            "L": L, "rows": rows}


def analyze_factored(model: Any, untrained: Any, data: Any, *, n_eval: int, folds: int, seed: int) -> tuple[dict, dict]:
    """The metrics of one trained net (module doc) and arrays for figures
    (``{"cumulative": ..., "probes": [ProbeResult per factor]}``).  Cost: two forward
    passes over ``n_eval`` sequences, weighted PCAs of (rows, d), one probe per factor, six
    overlap fits."""
    from nets.activations import collect
    from nets.geometry_checks import affine_dimension, weighted_pca_dimension
    from nets.probe import probe

    ev = eval_rows(data, n_eval, seed)
    rows, L = ev["rows"], ev["L"]
    n = model.config.n_layers
    names = ["embed"] + [f"blocks.{i}.resid_post" for i in range(n)] + ["ln_final"]
    acts = {k: {a: v.reshape(rows, -1).astype(np.float64) for a, v in collect(m, ev["tokens"], names).items()}
            for k, m in (("trained", model), ("untrained", untrained))}
    final, fb = f"blocks.{n - 1}.resid_post", ev["factors"]
    factored = np.concatenate(fb, axis=1)
    pca = lambda X: weighted_pca_dimension(X)[0]  # noqa: E731
    last = (np.arange(rows) % L) == L - 1  # rows are sequence-major: position = row % L
    m = {"dims": {"factored_prediction": int(sum(affine_dimension(b) for b in fb)), "factored_pca95": pca(factored),
                  "joint_coords": int(ev["joint"].shape[1]), "joint_pca95": pca(ev["joint"]),
                  "joint_pca95_native": pca(ev["joint_native"]), "joint_affine_dim": affine_dimension(ev["joint"]),
                  "trained_pca95": pca(acts["trained"][final]), "untrained_pca95": pca(acts["untrained"][final]),
                  "last_position": {"trained_pca95": pca(acts["trained"][final][last]),
                                    "untrained_pca95": pca(acts["untrained"][final][last]),
                                    "joint_pca95": pca(ev["joint"][last]), "factored_pca95": pca(factored[last])}},
         "layers": {a: {k: pca(acts[k][a]) for k in acts} for a in names},
         "explained": {k: {"factor_beliefs": explained_share(acts[k][final], factored),
                           "joint_beliefs": explained_share(acts[k][final], ev["joint"]),
                           "current_token": explained_share(acts[k][final], np.eye(data.alphabet_size)[
                               ev["tokens"].reshape(-1)])} for k in acts},
         "rows": rows}
    probes, decode = [], {}
    for k, B in enumerate(fb):
        pr = probe({final: acts["trained"][final]}, B, concat=False, untrained={final: acts["untrained"][final]},
                   folds=folds, seed=seed, meta={"process": data.factors[k].name, "representation": "minimal"})
        pt = pr.points[final]
        decode[f"factor{k}"] = {"r2": pt.r2, "untrained_r2": pt.untrained["r2"], "shuffled_r2": pt.shuffled["r2"]}
        probes.append(pr)
    m["decode"] = decode
    m["overlap"], matrices = _overlaps(acts, final, fb, seed)
    cum = {k: weighted_pca_dimension(acts[k][final])[1] for k in acts}
    cum.update({"joint beliefs": weighted_pca_dimension(ev["joint"])[1],
                "factor beliefs": weighted_pca_dimension(factored)[1]})
    return m, {"cumulative": cum, "probes": probes, "matrices": matrices}


def _overlaps(acts: dict, final: str, fb: list, seed: int) -> tuple[dict, dict]:
    """Both definitions of the overlap for the trained and untrained nets and shuffled beliefs."""
    rng = np.random.default_rng([seed, 777])
    shuffled = [B[rng.permutation(B.shape[0])] for B in fb]
    f64 = float(np.finfo(np.float64).eps) * max(acts["trained"]["ln_final"].shape[0],
                                                acts["trained"]["ln_final"].shape[1] + 1)
    defs = {"ours": (final, "pca", {}), "authors": ("ln_final", "lstsq", {}),
            "authors_float64": ("ln_final", "lstsq", {"rcond": f64})}
    out, matrices = {}, {}
    for name, (point, dec, opts) in defs.items():
        res = {"trained": factor_overlap(acts["trained"][point], fb, dec, **opts),
               "untrained": factor_overlap(acts["untrained"][point], fb, dec, **opts),
               "shuffled": factor_overlap(acts["trained"][point], shuffled, dec, **opts)}
        out[name] = {k: r["mean"] for k, r in res.items()}
        out[name]["random"] = res["trained"]["random"]
        matrices[name] = {k: r["matrix"] for k, r in res.items()}
    return out, matrices
