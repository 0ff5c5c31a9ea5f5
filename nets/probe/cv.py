"""Closed-form k-fold cross-validation of the truncated-SVD affine probe, every rank at once.

The definition (slow, and what the tests compare against): assign rows to ``F`` folds by
a seeded permutation; for each fold ``f`` and each rank ``r`` fit the probe of
:func:`nets.probe.fit.fit_affine` (rank ``r``) on the other folds and add its weighted
squared error on fold ``f``::

    CV(r) = sum_f sum_{i in f} p_i |y_i - yhat_i^(-f, r)|^2 / (k sum_i p_i)

That is ``F x (R+1)`` refits.  The closed form needs one pass over the data.

Math
----
Per fold ``f`` keep the weighted moments of its rows (about the global weighted means,
which only improves conditioning)::

    sw_f = sum p_i        sx_f = sum p_i x_i       sy_f = sum p_i y_i
    Sxx_f = sum p_i x_i x_i^T     Sxy_f = sum p_i x_i y_i^T     syy_f = sum p_i y_i^2

The training part of fold ``f`` is the total minus the fold.  Its weighted means ``m_x``,
``m_y``, covariance ``C = V diag(lam) V^T`` and cross-covariance ``Cxy`` give the rank-r
coefficients ``B_r = sum_{i<r} v_i (v_i^T Cxy) / lam_i`` (the truncated pseudoinverse in
the eigenbasis of ``C``: the same as the SVD route, since ``C = Xc^T Xc``).  Writing the
held-out rows in that basis, ``A = (X_f - m_x) V``, ``E0 = Y_f - m_y`` and
``G = diag(1/lam) V^T Cxy`` (R, k), the held-out weighted SSE of every rank is ::

    SSE_r = |E0|_p^2 - 2 sum_{i<r} sum_j (A^T P E0)_ij G_ij + sum_{i,l<r} (A^T P A)_il (G G^T)_il

where ``A^T P A = V^T S_xx V`` and ``A^T P E0 = V^T S_xy`` are the fold's moments about
the training means (``S_xx = Sxx_f - sx_f m_x^T - m_x sx_f^T + sw_f m_x m_x^T``, and
likewise ``S_xy``).  The second term is a cumulative sum over ``i``, the third the
diagonal of a 2-D cumulative sum: all ranks in ``O(R^2 k)``.

Shapes and cost
---------------
``X (N, d)``, ``Y (N, k)``: moments ``O(N d (d + k))`` once; per fold one ``d x d``
eigendecomposition and ``O(d^2 (d + k))`` products: ``O(N d^2 + F d^3)`` in all, against
``O(F R N d^2)`` for the refits.  Memory ``O(F d (d + k))``.

A fold (or its complement) without weight is skipped; the candidate ranks stop at the
smallest numerical rank over the folds (eigenvalues above ``rcond^2 lam_max``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import check_xyw

__all__ = ["cross_validate_rank", "fold_stats", "cv_errors"]


def cross_validate_rank(X: Any, Y: Any, weights: Any = None, *, folds: int = 10, seed: int = 0, rcond: float = 1e-6,
                        max_rank: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out weighted MSE of the truncated-SVD affine probe for every rank (module doc).

    Parameters
    ----------
    X : (N, d), Y : (N, k) or (N,), weights : (N,), optional
    folds : int >= 2;  seed : fold assignment ``default_rng(seed).permutation(N) % folds``
    rcond : relative singular-value cutoff;  max_rank : largest candidate rank

    Returns
    -------
    ranks : (R+1,) int -- ``0..R``, ``R`` the smallest numerical rank over the folds
    errors : (R+1,) float -- pooled held-out weighted MSE (mean over coordinates)
    se : (R+1,) float -- standard error of the per-fold MSE across folds

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(200, 4)) * [3.0, 1.0, 1.0, 1.0]    # x_0 is the top principal axis
    >>> Y = X[:, :1] + 0.1 * rng.normal(size=(200, 1))
    >>> ranks, err, se = cross_validate_rank(X, Y, folds=5)
    >>> ranks.tolist(), bool(err[1] < 0.01 * err[0])
    ([0, 1, 2, 3, 4], True)
    """
    X, Y, p = check_xyw(X, Y, weights)
    stats = fold_stats(X - p @ X, Y - p @ Y, p, folds, seed)
    return cv_errors(stats, Y.shape[1], rcond, max_rank)


def fold_stats(Xg: np.ndarray, Yg: np.ndarray, p: np.ndarray, folds: int, seed: int) -> tuple[np.ndarray, ...]:
    """Per-fold weighted moments ``(sw (F,), sx (F, d), sy (F, k), Sxx (F, d, d),
    Sxy (F, d, k), syy (F, k))`` of centered rows ``Xg``, ``Yg`` with weights ``p``."""
    N = Xg.shape[0]
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2; got {folds!r}")
    folds = int(folds)
    if N < folds:
        raise ValueError(f"cross-validation with {folds} folds needs at least {folds} rows; got {N}")
    fold_of = np.random.default_rng(seed).permutation(N) % folds
    out: list[list[np.ndarray]] = [[] for _ in range(6)]
    for f in range(folds):
        idx = np.nonzero(fold_of == f)[0]
        pf, xf, yf = p[idx], Xg[idx], Yg[idx]
        xw = xf * pf[:, None]
        for lst, v in zip(out, (pf.sum(), pf @ xf, pf @ yf, xw.T @ xf, xw.T @ yf, pf @ yf ** 2)):
            lst.append(v)
    return tuple(np.stack(v) for v in out)


def cv_errors(stats: tuple[np.ndarray, ...], k: int, rcond: float, max_rank: int | None):
    """``(ranks, errors, se)`` of every rank from the per-fold moments of :func:`fold_stats`."""
    tot = [a.sum(axis=0) for a in stats]
    per_fold, masses, R = [], [], None
    for f in range(stats[0].shape[0]):
        fold = [a[f] for a in stats]
        if tot[0] - fold[0] <= 1e-14 * tot[0] or fold[0] <= 1e-14 * tot[0]:
            continue  # a fold (or its complement) carrying no weight says nothing
        sse, r_f = _fold_sse(fold, tot, rcond, max_rank)
        R = r_f if R is None else min(R, r_f)
        per_fold.append(sse)
        masses.append(fold[0])
    if not per_fold:
        raise ValueError("cross-validation failed: all weight lies in a single fold; use more rows or fewer folds")
    sse = np.stack([s[:R + 1] for s in per_fold])  # (F, R+1)
    m = np.asarray(masses)[:, None]
    errors = sse.sum(axis=0) / (m.sum() * k)
    fold_mse = sse / (m * k)
    se = fold_mse.std(axis=0, ddof=1) / np.sqrt(len(per_fold)) if len(per_fold) > 1 else np.zeros(R + 1)
    return np.arange(R + 1), errors, se


def _fold_sse(fold: list[np.ndarray], tot: list[np.ndarray], rcond: float, max_rank: int | None):
    """Held-out SSE of ranks ``0..r_f`` on one fold (module doc), and ``r_f``, the
    numerical rank of its training part."""
    sw_f, sx_f, sy_f, sxx_f, sxy_f, syy_f = fold
    sw = tot[0] - sw_f
    mx, my = (tot[1] - sx_f) / sw, (tot[2] - sy_f) / sw
    C = (tot[3] - sxx_f) / sw - np.outer(mx, mx)
    Cxy = (tot[4] - sxy_f) / sw - np.outer(mx, my)
    lam, V = np.linalg.eigh((C + C.T) / 2)
    lam, V = lam[::-1], V[:, ::-1]
    r_f = int(np.sum(lam > (rcond ** 2) * lam[0])) if lam[0] > 0 else 0
    if max_rank is not None:
        r_f = min(r_f, int(max_rank))
    V, lam = V[:, :r_f], lam[:r_f]
    G = (V.T @ Cxy) / lam[:, None]  # (r_f, k)
    # held-out moments about the training means
    Sxx = sxx_f - np.outer(sx_f, mx) - np.outer(mx, sx_f) + sw_f * np.outer(mx, mx)
    Sxy = sxy_f - np.outer(sx_f, my) - np.outer(mx, sy_f) + sw_f * np.outer(mx, my)
    s0 = float(syy_f.sum() - 2.0 * sy_f @ my + sw_f * my @ my)
    g = np.sum((V.T @ Sxy) * G, axis=1)
    M = (V.T @ Sxx @ V) * (G @ G.T)
    lead = np.cumsum(np.cumsum(M, axis=0), axis=1).diagonal()
    sse = np.concatenate([[0.0], -2.0 * np.cumsum(g) + lead]) + s0
    return np.maximum(sse, 0.0), r_f
