"""Small dense linear-algebra helpers shared by the generator classes (private)."""

from __future__ import annotations

import numpy as np

from .errors import GeneratorError


def fixed_space(matrix: np.ndarray, *, side: str, rtol: float = 1e-9) -> np.ndarray:
    """Orthonormal basis of the eigenvalue-1 space of ``matrix``.

    ``side="left"`` returns rows ``v`` with ``v @ M = v``; ``"right"`` returns columns
    ``v`` with ``M @ v = v`` (as rows of the returned array).  Computed as the null
    space of ``M - I`` by SVD, so it is stable also when ``M`` is not diagonalizable.
    """
    m = np.asarray(matrix, dtype=float)
    a = (m.T if side == "left" else m) - np.eye(m.shape[0])
    _, s, vt = np.linalg.svd(a)
    scale = max(1.0, np.abs(m).max())
    return vt[s <= rtol * scale * max(1, m.shape[0])]


def eigvec_for_one(matrix: np.ndarray, *, side: str, what: str) -> np.ndarray:
    """The unique eigenvector of ``matrix`` for eigenvalue 1 (real, largest entry +1).

    Raises :class:`GeneratorError` when eigenvalue 1 is missing or degenerate.
    """
    space = fixed_space(matrix, side=side)
    if space.shape[0] == 0:
        vals = np.linalg.eigvals(matrix)
        k = int(np.argmin(np.abs(vals - 1.0)))
        raise GeneratorError(
            f"{what}: sum_x T[x] has no eigenvalue 1 (closest is {vals[k]:.6g}); "
            "a generator's total operator must have spectral radius 1 with eigenvalue 1"
        )
    if space.shape[0] > 1:
        raise GeneratorError(
            f"{what}: eigenvalue 1 of sum_x T[x] is {space.shape[0]}-fold degenerate, so the "
            "default is ambiguous; pass it explicitly"
        )
    v = space[0]
    return v / v[np.argmax(np.abs(v))]


def stationary_from(start: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cesaro limit ``lim (1/N) sum_t start M^t``: ``start`` projected onto the
    eigenvalue-1 space of ``M`` along the other spectral subspaces.

    For an ergodic chain this is the stationary distribution whatever ``start`` is; for a
    reducible one it is the mixture of stationary states reached from ``start``.  Assumes
    eigenvalue 1 is semisimple (true for stochastic matrices and quantum channels).
    """
    left = fixed_space(matrix, side="left")  # rows l with l M = l
    right = fixed_space(matrix, side="right")  # rows r with M r^T = r^T
    if left.shape[0] == 0 or left.shape[0] != right.shape[0]:
        raise GeneratorError("sum_x T[x] has no (semisimple) eigenvalue 1; no stationary state")
    # projector P = R (L R)^-1 L with R columns = right vectors, L rows = left vectors
    gram = left @ right.T
    return ((start @ right.T) @ np.linalg.solve(gram, left))


def weighted_closure(start: np.ndarray, operators: np.ndarray, *, atol: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis (rows) of ``span{ start T[w] : all words w }`` with a weight per row.

    Works with the Gram matrices of the vectors themselves, not with re-normalized
    directions: ``G_k = sum_{|w| = k} (start T[w])^T (start T[w])`` is propagated one
    word length at a time as ``G_{k+1} = sum_x T[x]^T G_k T[x]``, each ``G_k`` kept in
    factored form ``F_k^T F_k`` (rows ``sigma v``: singular values times right singular
    vectors, components of weight ``<= atol`` dropped).  The basis and weights are the
    singular vectors and values of the accumulated ``sum_{j <= k} G_j``; the loop stops
    when a word length adds no component of weight above ``atol`` outside the span so far
    (then the span is closed under every ``T[x]``), or after ``2 n + 2`` lengths.

    A weight is the root-sum-square of the coefficients along its direction of all the
    vectors ``start T[w]`` seen, in the units of ``start``.  A direction reached only
    through a rounding-level (or genuinely tiny) difference keeps a tiny weight, and the
    direction of a weak component is re-estimated each round from all the evidence, so a
    later strong appearance fixes its orientation: rounding is never promoted to a unit
    direction of full weight, as a closure that re-normalizes its basis would do.
    Orientation errors are about ``eps * max(weights) / weight``, so ``weight * |b . v|``
    is accurate to about ``eps * max(weights) * |v|`` for any vector ``v``.

    Cost ``O(V n^3)`` per word length, at most ``2 n + 2`` lengths (usually a few).

    Returns
    -------
    basis : (r, n) orthonormal rows
    weights : (r,) decreasing, ``> atol``
    """
    T = np.asarray(operators, dtype=float)
    n = T.shape[-1]
    frontier = _weighted_rows(np.atleast_2d(np.asarray(start, dtype=float)), atol)
    total = frontier
    for _ in range(2 * n + 2):
        frontier = _weighted_rows(np.einsum("ri,xij->xrj", frontier, T).reshape(-1, n), atol)
        if frontier.shape[0] == 0:
            break
        q = total / np.linalg.norm(total, axis=1)[:, None]
        outside = frontier - (frontier @ q.T) @ q
        outside -= (outside @ q.T) @ q  # twice: orthogonal to rounding
        total = _weighted_rows(np.vstack([total, frontier]), atol)
        if _weighted_rows(outside, atol).shape[0] == 0:
            break  # the new length adds no direction: the span is closed
    weights = np.linalg.norm(total, axis=1)
    return total / weights[:, None], weights


def _weighted_rows(m: np.ndarray, atol: float) -> np.ndarray:
    """Rows ``sigma_k v_k`` (``m = U diag(sigma) V^T``) with ``sigma_k > atol``: the same
    Gram matrix ``m^T m`` up to the dropped components, in at most ``n`` rows."""
    if m.shape[0] == 0:
        return m
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    keep = s > atol
    return s[keep, None] * vt[keep]


def orthonormal_completion(v: np.ndarray) -> np.ndarray:
    """Orthogonal matrix whose first column is ``v / |v|`` (a Householder reflection with
    the sign chosen to avoid cancellation, first column's sign then fixed)."""
    v = np.asarray(v, dtype=float)
    u = v / np.linalg.norm(v)
    s = 1.0 if u[0] >= 0 else -1.0
    w = u.copy()
    w[0] += s  # H = I - 2 w w^T / |w|^2 maps u to -s e0, so H e0 = -s u
    Q = np.eye(v.size) - 2.0 * np.outer(w, w) / (w @ w)
    Q[:, 0] *= -s
    return Q
