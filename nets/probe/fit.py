"""The probe's affine fit: probability-weighted least squares by a truncated-SVD pseudoinverse.

Rows ``i = 1..N`` carry activations ``x_i`` (d,), targets ``y_i`` (k,) and weights
``w_i >= 0``.  With normalized weights ``p_i = w_i / sum w`` and weighted means
``mu_x = sum p_i x_i``, ``mu_y = sum p_i y_i``, the weighted, centered design and
targets are ::

    Xc = diag(sqrt p) (X - mu_x)         (N, d)
    Yc = diag(sqrt p) (Y - mu_y)         (N, k)

With the SVD ``Xc = U S V^T`` (singular values descending) the rank-``r`` truncated
pseudoinverse solution is ::

    B_r = V_r S_r^-1 U_r^T Yc            (d, k)      intercept  c = mu_y - mu_x B_r

so that ``y_hat = x B_r + c``.  It minimizes ``sum_i p_i |y_i - x_i B - c|^2`` over ``B``
in the span of the top ``r`` right singular vectors.  The rank comes from k-fold
cross-validation (:mod:`nets.probe.cv`), ``"full"`` (the numerical rank) or the caller.
Duplicated rows are exactly equivalent to a doubled weight.

Cost: ``O(N (d + k)^2)`` for the QR route (``solver="svd"``), ``O(N d^2)`` for the
Gram route, plus ``O(d^3)``.

Example: an exact affine map is recovered.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(50, 3)); Y = X @ [[1.0], [2.0], [3.0]] + 4.0
>>> f = fit_affine(X, Y, rank="full")
>>> np.allclose(f.coef[:, 0], [1, 2, 3]), np.allclose(f.intercept, 4.0)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import check_xyw
from .cv import cv_errors, fold_stats

__all__ = ["AffineProbe", "fit_affine", "select_rank"]


@dataclass
class AffineProbe:
    """A fitted affine map ``y_hat = x @ coef + intercept``.

    Attributes
    ----------
    coef : (d, k) float64
    intercept : (k,) float64
    rank : int
        Truncation rank of the SVD pseudoinverse (0: predict the weighted mean).
    singular_values : (min(N, d),) float64
        Of the weighted, centered training design ``diag(sqrt p)(X - mu_x)`` with
        normalized weights (so ``s_i^2`` are the weighted covariance eigenvalues).
    cv_ranks, cv_errors, cv_se : arrays or None
        Candidate ranks, their pooled held-out weighted MSE (mean over coordinates), and
        the standard error across folds, when the rank came from cross-validation.
    """

    coef: np.ndarray
    intercept: np.ndarray
    rank: int
    singular_values: np.ndarray
    cv_ranks: np.ndarray | None = None
    cv_errors: np.ndarray | None = None
    cv_se: np.ndarray | None = None

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``(N, k)`` for activations ``X`` of shape ``(N, d)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X must have shape (N, {self.coef.shape[0]}); got {X.shape}")
        return X @ self.coef + self.intercept


def fit_affine(X: Any, Y: Any, weights: Any = None, *, rank: int | str = "cv", folds: int = 10, seed: int = 0,
               rcond: float = 1e-6, select: str = "min", max_rank: int | None = None,
               solver: str = "auto") -> AffineProbe:
    """Probability-weighted affine least squares via a truncated-SVD pseudoinverse.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Activations (any float dtype; computed in float64).
    Y : array_like, shape (N, k) or (N,)
        Targets (beliefs).
    weights : array_like, shape (N,), optional
        Nonnegative row weights (default uniform); only their ratios matter.
    rank : "cv", "full" or int
        ``"cv"``: chosen by ``folds``-fold cross-validation
        (:func:`nets.probe.cv.cross_validate_rank`); ``"full"``: every singular value
        above ``rcond * s_max``; an int: that rank (capped at the numerical rank).
    folds : int
        Number of CV folds (>= 2), rows assigned by a permutation seeded with ``seed``.
    rcond : float
        Singular values below ``rcond * s_max`` are never used (numerical rank).
    select : "min" or "1se"
        ``"min"`` (default): the rank with the smallest CV error -- the best expected
        held-out prediction, and the conservative choice for baselines (it never makes a
        baseline look worse than its best fit); ``"1se"``: the smallest rank whose CV error
        is within one standard error (across folds) of that minimum -- the
        one-standard-error rule, which finds the true rank of low-rank data where
        ``"min"`` may add a few noise directions.
    max_rank : int, optional
        Largest candidate rank.
    solver : "auto", "svd" or "gram"
        How the SVD of the weighted centered design ``Xc`` is obtained.  ``"svd"``: from
        a Householder QR of ``[Xc | Yc]`` and the SVD of its ``d x d`` triangle (backward
        stable; no ``N x d`` ``U`` formed).  ``"gram"``: from the eigendecomposition of
        ``Xc^T Xc = V S^2 V^T`` (the same ``V`` and ``S``; about 3x cheaper and reusing the
        cross-validation's statistics, with relative accuracy ``~eps / (s_i/s_max)^2``
        instead of ``~eps / (s_i/s_max)`` in the smallest kept directions -- immaterial
        for ``rcond >= 1e-6``).  ``"auto"``: ``"gram"`` when ``N d^2 > 5e7``.

    Returns
    -------
    AffineProbe
    """
    X, Y, p = check_xyw(X, Y, weights)
    if select not in ("min", "1se"):
        raise ValueError(f"select must be 'min' or '1se'; got {select!r}")
    if solver not in ("auto", "svd", "gram"):
        raise ValueError(f"solver must be 'auto', 'svd' or 'gram'; got {solver!r}")
    _check_rank(rank)
    N, d = X.shape
    if solver == "auto":
        solver = "gram" if N * d * d > 5e7 else "svd"
    mu_x, mu_y = p @ X, p @ Y
    Xg, Yg = X - mu_x, Y - mu_y
    cv = stats = None
    if rank == "cv":
        stats = fold_stats(Xg, Yg, p, folds, seed)
        cv = cv_errors(stats, Y.shape[1], rcond, max_rank)
    s, Vt, UtY = _weighted_svd(Xg, Yg, p) if solver == "svd" else _gram_svd(Xg, Yg, p, stats)
    numerical = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    if max_rank is not None:
        numerical = min(numerical, int(max_rank))
    r = select_rank(*cv, select) if cv is not None else numerical if rank == "full" else int(rank)
    r = min(r, numerical)
    coef = Vt[:r].T @ (UtY[:r] / s[:r, None])
    return AffineProbe(coef=coef, intercept=mu_y - mu_x @ coef, rank=r, singular_values=s,
                       cv_ranks=None if cv is None else cv[0], cv_errors=None if cv is None else cv[1],
                       cv_se=None if cv is None else cv[2])


def select_rank(ranks: np.ndarray, err: np.ndarray, se: np.ndarray, select: str) -> int:
    """The rank the CV errors pick: ``"min"`` -- the smallest rank within round-off of
    the minimum error (ties go to the simpler probe); ``"1se"`` -- the smallest rank
    within one standard error of it."""
    i = int(np.argmin(err))
    if select == "1se":
        ok = np.nonzero(err <= err[i] + se[i])[0]
    else:
        ok = np.nonzero(err <= err[i] * (1 + 1e-9) + 1e-300)[0]
    return int(ranks[ok[0]])


def _check_rank(rank: Any) -> None:
    if isinstance(rank, str):
        if rank not in ("cv", "full"):
            raise ValueError(f"rank must be 'cv', 'full' or a nonnegative int; got {rank!r}")
    elif isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise ValueError(f"rank must be 'cv', 'full' or a nonnegative int; got {rank!r}")


def _weighted_svd(Xg: np.ndarray, Yg: np.ndarray, p: np.ndarray):
    """``s``, ``V^T`` and ``U^T Yc`` of the weighted centered design ``Xc = U S V^T``
    (``Xg``, ``Yg`` already centered by the weighted means).

    For tall designs the SVD goes through a Householder QR of ``[Xc | Yc]`` (LAPACK
    ``geqrf``, no ``Q`` formed): with ``R = [[R11, R12], [0, R22]]``, ``Xc = Q1 R11`` and
    ``Q1^T Yc = R12``, so the SVD ``R11 = U' S V^T`` gives ``U^T Yc = U'^T R12`` -- the same
    numbers as a direct SVD at a fraction of the cost (no ``N x d`` ``U``).
    """
    N, d = Xg.shape
    k = Yg.shape[1]
    sp = np.sqrt(p)[:, None]
    if N >= 2 * (d + k):
        import scipy.linalg as sla

        Z = np.empty((N, d + k), order="F")
        Z[:, :d] = sp * Xg
        Z[:, d:] = sp * Yg
        (geqrf,) = sla.get_lapack_funcs(("geqrf",), (Z,))
        qr, _tau, _work, info = geqrf(Z, overwrite_a=True)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK geqrf failed with info={info}")
        R = np.triu(qr[: d + k])
        U1, s, Vt = np.linalg.svd(R[:d, :d])
        return s, Vt, U1.T @ R[:d, d:]
    U, s, Vt = np.linalg.svd(sp * Xg, full_matrices=False)
    return s, Vt, U.T @ (sp * Yg)


def _gram_svd(Xg: np.ndarray, Yg: np.ndarray, p: np.ndarray, stats: tuple | None):
    """``s``, ``V^T`` and ``U^T Yc`` from the weighted Gram matrix ``Xc^T Xc = V S^2 V^T``
    and ``U^T Yc = S^-1 V^T Xc^T Yc`` (zero where ``s = 0``); the Gram and cross moments
    are summed from the CV's per-fold moments when given (no second pass over the data)."""
    if stats is not None:
        sw, sx, sy, sxx, sxy = (a.sum(axis=0) for a in stats[:5])  # global centering: sx, sy ~ 0
        C = sxx / sw - np.outer(sx, sx) / sw ** 2
        Cxy = sxy / sw - np.outer(sx, sy) / sw ** 2
    else:
        C = (Xg * p[:, None]).T @ Xg
        Cxy = (Xg * p[:, None]).T @ Yg
    lam, V = np.linalg.eigh((C + C.T) / 2)
    lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]
    s = np.sqrt(lam)
    Vt = V.T
    with np.errstate(divide="ignore", invalid="ignore"):
        UtY = np.where(s[:, None] > 0, (Vt @ Cxy) / np.where(s > 0, s, 1.0)[:, None], 0.0)
    return s, Vt, UtY
