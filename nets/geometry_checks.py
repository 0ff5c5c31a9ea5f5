"""Geometry checks for probes: weighted PCA dimension, affine dimension, distance R^2.

All functions take plain arrays with one row per input and optional nonnegative row
weights (normalized internally to ``p``); weighted statistics use ``p``.  The principal
components come from the one weighted PCA, :func:`bayes.geometry.weighted_pca`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes.geometry import weighted_pca
from generators.validation import check_real_array, check_weights

__all__ = ["weighted_covariance", "weighted_pca_dimension", "affine_dimension", "distance_r2"]


def weighted_covariance(X: Any, weights: Any = None) -> np.ndarray:
    """Weighted covariance ``sum_i p_i (x_i - mu)(x_i - mu)^T`` of rows ``X`` (N, d) -> (d, d)."""
    return weighted_pca(*_xw(X, weights)).covariance


def weighted_pca_dimension(X: Any, weights: Any = None, threshold: float = 0.95) -> tuple[int, np.ndarray]:
    """Number of weighted principal components explaining ``threshold`` of the variance
    (:func:`bayes.geometry.weighted_pca`).

    Parameters
    ----------
    X : array_like (N, d)
    weights : array_like (N,), optional
    threshold : float in (0, 1]

    Returns
    -------
    dim : int
        Smallest ``m`` with ``sum_{i<m} lam_i >= threshold * sum lam`` (0 if ``X`` is
        constant).
    explained : (d,) float
        Cumulative explained-variance ratios ``sum_{i<=m} lam_i / sum lam``.

    >>> weighted_pca_dimension([[0.0, 0.0], [1.0, 0.0], [2.0, 0.01]])[0]
    1
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1]; got {threshold!r}")
    pca = weighted_pca(*_xw(X, weights))
    if pca.variances.sum() <= 0:
        return 0, np.zeros_like(pca.variances)
    cum = pca.explained
    return int(np.searchsorted(cum, threshold * (1 - 1e-12)) + 1), cum


def affine_dimension(Y: Any, weights: Any = None, rtol: float = 1e-6) -> int:
    """Dimension of the affine hull of the weighted rows ``Y`` (numerical rank of the
    weighted covariance: eigenvalues above ``rtol^2 * lam_max``, i.e. singular values of the
    centered data above ``rtol * s_max``).  For beliefs this is the belief-geometry
    dimension, e.g. 2 for a 3-state simplex, ``hankel_rank - 1`` for minimal beliefs."""
    lam = weighted_pca(*_xw(Y, weights)).variances
    if lam.size == 0 or lam[0] <= 0:
        return 0
    return int(np.sum(lam > (rtol ** 2) * lam[0]))


def distance_r2(A: Any, B: Any, weights: Any = None, *, n_pairs: int = 20000, seed: int = 0) -> float:
    """R^2 between pairwise Euclidean distances in two embeddings of the same inputs.

    Pairs ``(i, j)``, ``i != j``, are drawn independently with probability ``p_i p_j``
    (seeded); the result is the squared Pearson correlation of ``|a_i - a_j|`` and
    ``|b_i - b_j|`` over the pairs (the R^2 of the best affine fit of one distance by the
    other).  Shai et al. 2024 report 0.95 for represented vs true beliefs of RRXOR and
    0.31 vs next-token distributions.

    Parameters
    ----------
    A : (N, dA), B : (N, dB)
    weights : (N,), optional
    n_pairs : int
    seed : int

    Returns
    -------
    float (NaN when either distance set has zero variance, e.g. fewer than 2 rows with
    weight).
    """
    A, p = _xw(A, weights)
    B = np.asarray(B, dtype=np.float64)
    if B.ndim == 1:
        B = B[:, None]
    if B.shape[0] != A.shape[0]:
        raise ValueError(f"A and B need the same rows; got {A.shape[0]} and {B.shape[0]}")
    rng = np.random.default_rng(seed)
    i = rng.choice(A.shape[0], size=int(n_pairs), p=p)
    j = rng.choice(A.shape[0], size=int(n_pairs), p=p)
    ok = i != j
    i, j = i[ok], j[ok]
    if i.size < 3:
        return float("nan")
    da = np.linalg.norm(A[i] - A[j], axis=1)
    db = np.linalg.norm(B[i] - B[j], axis=1)
    da, db = da - da.mean(), db - db.mean()
    den = float(np.sum(da * da) * np.sum(db * db))
    if den <= 0:
        return float("nan")
    return float(np.sum(da * db) ** 2 / den)


def _xw(X: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(N, d)`` (a vector is one column) and their normalized weights."""
    X = check_real_array(X, "X")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a nonempty array of rows (N, d); got shape {X.shape}")
    return X, check_weights(weights, X.shape[0])
