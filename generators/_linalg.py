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


def row_space_closure(start: np.ndarray, operators: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis (rows) of the smallest space containing ``start`` rows, closed under
    right multiplication by every ``operators[x]``: span{ start T[w] : all words w }.

    Built one word length at a time; each round multiplies the whole current basis by
    all operators in one batched product and re-orthonormalizes with an SVD, so it needs
    at most ``n`` rounds.  Directions with singular value below ``rtol`` times the
    largest are dropped.
    """
    n = operators.shape[-1]
    start = np.atleast_2d(np.asarray(start, dtype=float))
    scale = max(np.abs(start).max(), 1e-300)
    basis = _orth_rows(start / scale, rtol)
    if basis.shape[0] == 0:
        return basis
    for _ in range(n):
        cand = np.einsum("ri,xij->xrj", basis, operators).reshape(-1, n)
        new = _orth_rows(np.vstack([basis, cand]), rtol, ref=1.0)
        if new.shape[0] == basis.shape[0]:
            break
        basis = new
    return basis


def _orth_rows(m: np.ndarray, rtol: float, ref: float | None = None) -> np.ndarray:
    if m.size == 0:
        return m.reshape(0, m.shape[-1])
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    top = s[0] if ref is None else max(ref, s[0] if s.size else 0.0)
    rank = int(np.sum(s > rtol * top)) if top > 0 else 0
    return vt[:rank]


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
