"""The predictive subspace: the directions of activation space that linearly predict the future.

If a network represents the beliefs ``eta_t`` of a process affinely (``eta_t = [1,
(a_t - m) P]`` for some ``d x k`` matrix ``P``), then for every future word ``w`` of
length ``m``

    E[1{x_{t+1..t+m} = w} | a_t] = Pr(w | eta_t) = eta_t T[w] tau,

linear in ``eta_t`` and hence in ``a_t``.  The least-squares regression of the future-word
indicators on the activations therefore has coefficients of rank ``<= k``: in whitened
coordinates ``u_t = (a_t - m) W`` (identity covariance) the coefficient matrix is the
regression ``B = [Cov(u_t)^-1 Cov(u_t, 1{w})]_w`` over all words up to length ``l`` (each
length on the positions that have a complete word of it; ridge-regularized), and its column
space is the belief subspace.  Conversely that column space is all of it once the
*observability matrix* ``[T[w] tau]_w`` has rank ``n`` -- true of a minimal ``n``-dimensional
model for ``l >= n - 1`` (Jaeger's observable operator models [1]_; the Hankel-rank
argument behind spectral learning [2]_).  So the top ``k`` left singular vectors of ``B``
(reduced-rank regression) give the subspace without knowing the generator, and the
number of singular values above their sampling noise bounds its dimension.

Costs: ``O(M d^2 + d^3)`` for the whitening of ``M = N L`` rows of width ``d``,
``O(M r (l + r))`` for the regressions (a sparse product and an ``r x r`` covariance
per word length, ``r <= d`` whitened directions), ``O(r^2 C)`` for the SVD over ``C = V + ... + V^l`` words.

References
----------
.. [1] H. Jaeger, "Observable operator models for discrete stochastic time series",
   Neural Computation 12 (2000).
.. [2] D. Hsu, S. M. Kakade, T. Zhang, "A spectral algorithm for learning hidden Markov
   models", arXiv:0811.4413.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.errors import ShapeError

__all__ = ["PredictiveSubspace", "fit_subspace", "future_length", "MAX_FUTURE_COLUMNS", "RCOND", "RIDGE"]

#: most future words (columns of ``B``) used by the automatic future length
MAX_FUTURE_COLUMNS = 4096
#: whitened directions with standard deviation below ``RCOND`` times the largest are
#: dropped (float32 activations carry ~1e-7 relative rounding; exact linear dependencies,
#: e.g. between the points of a concatenation, would otherwise be amplified)
RCOND = 1e-4
#: ridge of the future-word regressions, in whitened units (a tenth of the activations'
#: variance along every direction; see ``_regression``)
RIDGE = 0.1


@dataclass(frozen=True)
class PredictiveSubspace:
    """Whitening and the predictive directions of one activation point.

    Attributes
    ----------
    mean : (d,) -- activation mean over the fitting rows
    whitening : (d, r) -- ``(a - mean) @ whitening`` has identity covariance
    directions : (r, K) -- orthonormal left singular vectors of ``B``, by decreasing singular value
    singular_values : (K,) -- of ``B`` (whitened units: the standard deviation of the
        predicted word probabilities along each direction, summed over words in quadrature)
    future_length : int -- longest future word ``l`` in ``B``
    """

    mean: np.ndarray
    whitening: np.ndarray
    directions: np.ndarray
    singular_values: np.ndarray
    future_length: int

    def projection(self, k: int) -> np.ndarray:
        """``P`` (d, k): coordinates ``z = (a - mean) @ P`` of the top ``k`` directions."""
        return self.whitening @ self.directions[:, :k]

    def coordinates(self, acts: np.ndarray, k: int) -> np.ndarray:
        """``z`` (..., k) of activations (..., d)."""
        return (acts - self.mean) @ self.projection(k)

    def whiten(self, acts: np.ndarray) -> np.ndarray:
        """Whitened activations ``u = (a - mean) @ whitening`` (..., r)."""
        return (acts - self.mean) @ self.whitening

    @property
    def max_dim(self) -> int:
        """Most coordinates available (``min(r, C)``)."""
        return int(self.directions.shape[1])


def future_length(V: int, L: int, requested: int | str = "auto") -> int:
    """``l``: as requested (``1 <= l <= L - 1``), or ``"auto"``: the largest ``l <= 3``
    with ``V + ... + V^l <= MAX_FUTURE_COLUMNS`` and ``l <= L - 1``."""
    if requested != "auto":
        if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)) or not 1 <= requested <= L - 1:
            raise ShapeError(f"future_length must be 'auto' or an integer in 1..{L - 1} (positions - 1); "
                             f"got {requested!r}")
        return int(requested)
    l, cols = 1, V
    while l < min(3, L - 1) and cols + V ** (l + 1) <= MAX_FUTURE_COLUMNS:
        l += 1
        cols += V**l
    return l


def fit_subspace(acts: np.ndarray, tokens: np.ndarray, V: int, l: int) -> PredictiveSubspace:
    """The :class:`PredictiveSubspace` of activations ``(N, L, d)`` and tokens ``(N, L)``.

    Position ``p`` is paired with the future words ``tokens[:, p+1 : p+1+m]``,
    ``m = 1..l`` (only positions with a complete word of that length).
    """
    N, L, d = acts.shape
    X = acts.reshape(-1, d)
    mean = X.mean(axis=0)
    Xc = X - mean
    lam, U = np.linalg.eigh(Xc.T @ Xc / X.shape[0])
    keep = lam > (RCOND**2) * max(lam[-1], 0.0)
    if not keep.any():
        raise ShapeError("the activations are constant: no direction varies across positions and sequences")
    W = U[:, keep][:, ::-1] / np.sqrt(lam[keep][::-1])
    Xw = (Xc @ W).reshape(N, L, -1)
    blocks = [_regression(Xw, tokens, V, m) for m in range(1, l + 1)]
    dirs, s, _ = np.linalg.svd(np.concatenate(blocks, axis=1), full_matrices=False)
    return PredictiveSubspace(mean, W, dirs, s, l)


def _regression(Xw: np.ndarray, tokens: np.ndarray, V: int, m: int) -> np.ndarray:
    """Ridge coefficients (r, V^m) of ``1{tokens[p+1 : p+1+m] = w}`` on the whitened
    activations ``u_p`` over positions ``p <= L - 1 - m``: ``(Cov(u) + RIDGE I)^-1 Cov(u, 1{w})``
    on those rows.  That subset leaves the last ``m`` positions out, so its covariance is
    not the identity, and directions that vary mostly there (early positions see few
    distinct inputs) are nearly singular on it: without the ridge their coefficients are
    noise amplified many times (:data:`RIDGE`).  The cross-covariance is one sparse product
    (words x rows) @ (rows x r)."""
    from scipy import sparse

    N, L, r = Xw.shape
    P = L - m
    codes = np.zeros((N, P), dtype=np.int64)
    for j in range(m):  # mixed-radix code of the future word, one symbol at a time
        codes = codes * V + tokens[:, 1 + j: 1 + j + P]
    U = Xw[:, :P].reshape(-1, r)
    U = U - U.mean(axis=0)
    rows = codes.ravel()
    onehot = sparse.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(V**m, rows.size))
    cross = np.asarray(onehot @ U).T / rows.size
    return np.linalg.solve(U.T @ U / rows.size + RIDGE * np.eye(r), cross)
