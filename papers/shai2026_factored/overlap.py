"""Factor-subspace overlap: how much the read-outs of different factors share directions.

Shai et al. 2026 (arXiv 2602.02385) [1] find that a transformer trained on an independent
product of processes writes each factor's belief into its own subspace of the residual
stream, the subspaces nearly orthogonal.  The number is an *overlap* of linear decoders:

1. fit a linear decoder ``W_k`` (d, m_k) of factor ``k``'s belief coordinates ``B_k``
   (N, m_k) from activations ``A`` (N, d);
2. take an orthonormal basis ``Q_k`` of its column space (:func:`orthonormal_basis`);
3. the overlap of factors ``j, k`` is the mean squared cosine of the principal angles
   between the two subspaces (:func:`subspace_overlap`)::

       overlap(j, k) = ||Q_j^T Q_k||_F^2 / min(dim S_j, dim S_k)  =  mean_i cos^2(theta_i)

   0 for orthogonal subspaces, 1 when one contains the other, ``k / d`` in expectation
   for two uniformly random ``k``-dimensional subspaces of ``R^d``;
4. report the mean over factor pairs (:func:`factor_overlap`).

Two decoders (step 1), reported side by side:

- ``"pca"`` (ours): the least-squares decoder restricted to the top weighted principal
  components of ``A`` that hold ``var_keep`` of its variance
  (:func:`bayes.geometry.weighted_pca`): ``W_k = V_r diag(1 / lam_r) V_r^T Cov(A, B_k)``.
  Directions of (numerically) zero variance can never be used.
- ``"lstsq"`` (the authors' analysis code, simplexity ``analysis/linear_regression.py``):
  a plain least-squares fit with an intercept, ``[1, A] beta = B_k``, solved by a
  pseudoinverse whose singular-value cutoff is JAX's ``lstsq`` default for float32 data,
  ``eps_32 * max(N, d + 1)`` relative to the largest singular value (``rcond`` changes
  it); ``W_k = beta[1:]``.  On a post-LayerNorm stream every row satisfies one linear
  relation (``sum_i (a_i - b_i) / g_i = 0``), so ``[1, A]`` has an (almost) null
  direction; a decoder that keeps it loads on it, and every factor's decoder loads on the
  same direction.

Costs: ``"pca"`` ``O(N d^2 + d^3)`` once plus ``O(N d m_k)`` per factor; ``"lstsq"``
``O(N d^2)`` for one SVD of the design, shared by the factors.

References
----------
.. [1] A. Shai et al., "Transformers learn factored representations", arXiv 2602.02385 (2026).

Examples
--------
Two factors written into orthogonal directions, and into the same directions:

>>> rng = np.random.default_rng(0)
>>> B1, B2 = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
>>> A = np.c_[B1, B2, np.zeros((500, 4))] + 1e-6 * rng.normal(size=(500, 8))
>>> round(factor_overlap(A, [B1, B2])["mean"], 6)
0.0
>>> A2 = np.c_[B1 + B2, np.zeros((500, 6))] + 1e-6 * rng.normal(size=(500, 8))
>>> round(factor_overlap(A2, [B1, B2])["mean"], 3)
1.0
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from bayes.geometry import weighted_pca
from generators.validation import check_choice, check_real, check_real_array

__all__ = ["subspace_overlap", "orthonormal_basis", "pca_decoders", "lstsq_decoders", "factor_overlap",
           "random_overlap", "DECODERS", "FLOAT32_RCOND"]

#: the decoders of :func:`factor_overlap`
DECODERS = ("pca", "lstsq")
#: marker for the authors' cutoff: ``eps_32 * max(N, d + 1)`` (JAX ``lstsq``'s default on float32)
FLOAT32_RCOND = "float32"


def orthonormal_basis(M: Any, rtol: float | None = None) -> np.ndarray:
    """Orthonormal basis (d, r) of the column space of ``M`` (d, m).

    Singular values below ``rtol * s_max`` are dropped; the default ``rtol`` is
    ``max(d, m) * eps`` of ``M``'s dtype (the authors' ``get_robust_basis``).  A zero
    matrix has the empty basis (d, 0).

    >>> orthonormal_basis(np.array([[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]])).shape
    (3, 1)
    """
    M = np.asarray(M)
    if M.ndim != 2:
        raise ValueError(f"M must be a matrix (d, m); got shape {M.shape}")
    U, s, _ = np.linalg.svd(M.astype(np.float64), full_matrices=False)
    if s.size == 0 or s[0] <= 0:
        return np.zeros((M.shape[0], 0))
    tol = (max(M.shape) * np.finfo(M.dtype if M.dtype.kind == "f" else np.float64).eps) if rtol is None else rtol
    return U[:, s > tol * s[0]]


def subspace_overlap(Q1: Any, Q2: Any) -> float:
    """Mean squared cosine of the principal angles between the column spaces of the
    orthonormal bases ``Q1`` (d, k1) and ``Q2`` (d, k2): ``||Q1^T Q2||_F^2 / min(k1, k2)``
    (NaN when a basis is empty).

    >>> I = np.eye(4)
    >>> subspace_overlap(I[:, :2], I[:, :2]), subspace_overlap(I[:, :2], I[:, 2:]), subspace_overlap(I[:, :2], I[:, 1:3])
    (1.0, 0.0, 0.5)
    """
    Q1, Q2 = np.asarray(Q1, dtype=np.float64), np.asarray(Q2, dtype=np.float64)
    if Q1.ndim != 2 or Q2.ndim != 2 or Q1.shape[0] != Q2.shape[0]:
        raise ValueError(f"bases must be matrices with the same number of rows; got {Q1.shape} and {Q2.shape}")
    k = min(Q1.shape[1], Q2.shape[1])
    return float(np.sum((Q1.T @ Q2) ** 2) / k) if k else float("nan")


def random_overlap(dims: Sequence[int], d: int) -> float:
    """Expected overlap, averaged over pairs, of independent uniformly random subspaces of
    dimensions ``dims`` in ``R^d``: ``E ||Q_j^T Q_k||_F^2 / min = k_j k_k / (d min(k_j, k_k))
    = max(k_j, k_k) / d``.

    >>> random_overlap([2, 2, 2], 64)
    0.03125
    """
    pairs = list(itertools.combinations([int(k) for k in dims], 2))
    if not pairs or d < 1:
        raise ValueError(f"need at least two subspace dimensions and d >= 1; got {list(dims)}, d={d}")
    return float(np.mean([max(a, b) / d for a, b in pairs]))


def pca_decoders(A: Any, beliefs: Sequence[Any], var_keep: float = 0.999) -> list[np.ndarray]:
    """Our decoders (d, m_k): least squares on the top principal components of ``A`` (N, d)
    holding ``var_keep`` of its variance (module doc)."""
    A = check_real_array(A, "A", ndim=2)
    var_keep = check_real(var_keep, "var_keep", minimum=0.0, maximum=1.0, min_open=True)
    pca = weighted_pca(A)
    r = max(1, int(np.searchsorted(pca.explained, var_keep * (1 - 1e-12)) + 1)) if pca.variances[0] > 0 else 0
    r = min(r, int(np.sum(pca.variances > 0)))
    V, lam = pca.axes[:r], pca.variances[:r]
    Z = pca.project(A, r)  # (N, r) centered coordinates on the kept axes; Z^T Z / N = diag(lam)
    out = []
    for B in _beliefs(beliefs, A.shape[0]):
        Bc = B - B.mean(axis=0)
        out.append(V.T @ ((Z.T @ Bc) / (A.shape[0] * lam[:, None])))
    return out


def lstsq_decoders(A: Any, beliefs: Sequence[Any], rcond: Any = FLOAT32_RCOND) -> list[np.ndarray]:
    """The authors' decoders (d, m_k): ``[1, A] beta = B_k`` by a truncated pseudoinverse,
    ``W_k = beta[1:]``; ``rcond`` a float (relative cutoff) or ``"float32"`` for
    ``eps_32 * max(N, d + 1)`` (module doc)."""
    A = check_real_array(A, "A", ndim=2)
    N, d = A.shape
    if isinstance(rcond, str):
        check_choice(rcond, "rcond", (FLOAT32_RCOND,))
        rcond = float(np.finfo(np.float32).eps) * max(N, d + 1)
    rcond = check_real(rcond, "rcond", minimum=0.0)
    D = np.concatenate([np.ones((N, 1)), A.astype(np.float64)], axis=1)
    U, s, Vt = np.linalg.svd(D, full_matrices=False)
    inv = np.where(s > rcond * s[0], 1.0 / np.where(s > 0, s, 1.0), 0.0)
    return [(Vt.T @ (inv[:, None] * (U.T @ B)))[1:] for B in _beliefs(beliefs, N)]


def factor_overlap(A: Any, beliefs: Sequence[Any], decoder: str = "pca", **options: Any) -> dict:
    """Overlap of the factors' decoder subspaces from activations ``A`` (N, d).

    Parameters
    ----------
    A : (N, d) activations;  beliefs : list of (N, m_k), one per factor (>= 2)
    decoder : "pca" (ours) or "lstsq" (the authors'); ``options`` go to
        :func:`pca_decoders` (``var_keep``) or :func:`lstsq_decoders` (``rcond``)

    Returns
    -------
    dict with ``matrix`` (K, K) list of lists (1 on the diagonal), ``mean`` (over the
    ``K (K - 1) / 2`` pairs), ``dims`` (each decoder's rank) and ``random`` (the expected
    overlap of random subspaces of those ranks, :func:`random_overlap`).
    """
    check_choice(decoder, "decoder", DECODERS)
    if len(beliefs) < 2:
        raise ValueError(f"factor_overlap needs at least two factors; got {len(beliefs)}")
    W = pca_decoders(A, beliefs, **options) if decoder == "pca" else lstsq_decoders(A, beliefs, **options)
    Q = [orthonormal_basis(w) for w in W]
    K = len(Q)
    M = np.eye(K)
    for j, k in itertools.combinations(range(K), 2):
        M[j, k] = M[k, j] = subspace_overlap(Q[j], Q[k])
    pairs = [M[j, k] for j, k in itertools.combinations(range(K), 2)]
    dims = [int(q.shape[1]) for q in Q]
    return {"matrix": M.tolist(), "mean": float(np.mean(pairs)), "dims": dims,
            "random": random_overlap(dims, np.asarray(A).shape[1]) if min(dims) > 0 else float("nan")}


def _beliefs(beliefs: Sequence[Any], n: int) -> list[np.ndarray]:
    out = []
    for k, B in enumerate(beliefs):
        B = check_real_array(B, f"beliefs[{k}]", ndim=2)
        if B.shape[0] != n:
            raise ValueError(f"beliefs[{k}] has {B.shape[0]} rows; the activations have {n}")
        out.append(B)
    return out
