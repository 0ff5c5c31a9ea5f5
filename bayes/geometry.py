"""Coordinates a person would draw, and exact maps between representations.

- :func:`barycentric_coordinates` -- points of the probability simplex in an equilateral
  triangle (3 states) or regular tetrahedron (4 states);
- :func:`bloch_vectors` -- ``(x, y, z)`` of qubit density matrices,
  ``rho = (I + x X + y Y + z Z) / 2``;
- :func:`affine_projection` -- for any GHMM: beliefs satisfy ``eta @ tau = 1``, an
  affine hyperplane; project onto the plane orthogonal to ``tau`` (exactly when it is
  2-D or 3-D, by principal components beyond);
- :func:`affine_dimension` -- dimension of the affine hull of a set of beliefs (equals
  the minimal generator dimension minus 1 when the beliefs span their space);
- :func:`linear_map` / :func:`representation_map` -- the linear map ``A`` with
  ``eta_target = eta_source @ A``, fitted exactly (least squares, zero residual) from
  beliefs of the same words under two representations of one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from generators import Generator, ShapeError
from generators.errors import ArgumentError
from generators.validation import check_real, check_real_array, check_weights

from ._util import as_generator, check_positive_int

__all__ = [
    "barycentric_coordinates", "bloch_vectors", "AffineProjection", "affine_projection",
    "affine_dimension", "LinearMap", "linear_map", "representation_map", "WeightedPCA", "weighted_pca",
]

_TRIANGLE = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]])
_TETRAHEDRON = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, np.sqrt(3.0) / 2.0, 0.0],
                         [0.5, np.sqrt(3.0) / 6.0, np.sqrt(2.0 / 3.0)]])


def barycentric_coordinates(p: Any) -> np.ndarray:
    """Cartesian coordinates of simplex points: ``(..., 3) -> (..., 2)``, ``(..., 4) -> (..., 3)``.

    ``p @ vertices`` with the vertices of a unit equilateral triangle
    ``(0,0), (1,0), (1/2, sqrt(3)/2)`` (or a regular tetrahedron), so state ``i`` sits at
    vertex ``i`` and the uniform distribution at the centroid.  Rows need not be exactly
    normalized (they are used as given); they must be finite and real.
    """
    p = check_real_array(p, "p")
    if p.shape[-1:] == (3,):
        return p @ _TRIANGLE
    if p.shape[-1:] == (4,):
        return p @ _TETRAHEDRON
    raise ShapeError(f"barycentric coordinates need distributions over 3 or 4 states (last axis 3 or 4); "
                     f"got shape {p.shape}; use affine_projection for other dimensions")


def bloch_vectors(states: Any) -> np.ndarray:
    """Bloch vectors of qubit density matrices: ``(..., 2, 2) -> (..., 3)`` real.

    ``x = 2 Re rho_01``, ``y = -2 Im rho_01``, ``z = rho_00 - rho_11``.  A qutip ``Qobj``
    (anything with ``.full()``) is accepted.
    """
    if hasattr(states, "full") and callable(states.full):
        states = states.full()
    rho = np.asarray(states)
    if rho.dtype == bool or not np.issubdtype(rho.dtype, np.number):
        raise ShapeError(f"Bloch vectors need numeric 2x2 density matrices; got dtype {rho.dtype}")
    if rho.size and not np.all(np.isfinite(rho)):
        raise ShapeError("Bloch vectors need finite density matrices; got NaN or infinite entries")
    if rho.shape[-2:] != (2, 2):
        raise ShapeError(f"Bloch vectors need 2x2 density matrices (..., 2, 2); got shape {rho.shape}")
    r01 = rho[..., 0, 1]
    return np.stack([2 * np.real(r01), -2 * np.imag(r01), np.real(rho[..., 0, 0] - rho[..., 1, 1])], axis=-1)


@dataclass(frozen=True)
class AffineProjection:
    """An affine map ``eta -> (eta - center) @ components.T`` to ``dim`` coordinates.

    Attributes
    ----------
    center : (n,)          weighted mean of the fitted beliefs
    components : (dim, n)  orthonormal rows, orthogonal to ``tau``
    explained_variance_ratio : (dim,)  share of the (weighted) variance along each row
    exact : bool           True when no dimension was dropped (``n - 1 <= dim``)
    """

    center: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    exact: bool

    @property
    def dim(self) -> int:
        return self.components.shape[0]

    def __call__(self, beliefs: Any) -> np.ndarray:
        """Project beliefs ``(..., n) -> (..., dim)``."""
        return (np.asarray(beliefs, dtype=float) - self.center) @ self.components.T


def affine_projection(beliefs: Any, tau: Any = None, dim: int = 2, *, weights: Any = None) -> AffineProjection:
    """Fit the projection of beliefs onto the plane orthogonal to ``tau``.

    Parameters
    ----------
    beliefs : (N, n)
        Beliefs with ``eta @ tau = 1`` (e.g. ``BeliefManifold.beliefs``).
    tau : (n,), optional
        The GHMM's ``tau`` (default: the normal of the beliefs' best-fit hyperplane is
        not guessed; ``tau = None`` means plain PCA of the centered beliefs).
    dim : int
        Output dimension.  If the hyperplane ``tau^perp`` has ``n - 1 <= dim``
        dimensions it is used as is (an isometry: no information lost, ``exact``);
        otherwise the ``dim`` principal directions within it (weighted by ``weights``).
    weights : (N,), optional
        Nonnegative weights (e.g. belief probabilities) for the center and the PCA.
    """
    X = check_real_array(beliefs, "beliefs")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ShapeError(f"beliefs must be a nonempty (N, n) array; got shape {X.shape}")
    dim = check_positive_int(dim, "dim")
    N, n = X.shape
    w = check_weights(weights, N)
    center = w @ X
    if tau is None:
        basis = np.eye(n)
    else:
        tau = check_real_array(tau, "tau").reshape(-1)
        if tau.shape != (n,) or not np.linalg.norm(tau) > 0:
            raise ShapeError(f"tau must be a nonzero vector of length {n}; got shape {tau.shape}")
        basis = _orthogonal_complement(tau)  # (n-1, n) orthonormal rows
    Y = (X - center) @ basis.T
    if basis.shape[0] <= dim:
        var = (w[:, None] * Y**2).sum(axis=0)
        total = var.sum()
        ratio = var / total if total > 0 else np.zeros_like(var)
        return AffineProjection(center, basis, ratio, True)
    pca = weighted_pca(Y, w)
    vals = pca.variances
    comps = pca.axes[:dim] @ basis
    # fix signs deterministically: largest-magnitude entry positive
    sign = np.sign(comps[np.arange(dim), np.argmax(np.abs(comps), axis=1)])
    comps *= np.where(sign == 0, 1.0, sign)[:, None]
    total = vals.sum()
    ratio = vals[:dim] / total if total > 0 else np.zeros(dim)
    return AffineProjection(center, comps, ratio, False)


def affine_dimension(beliefs: Any, tol: float = 1e-8) -> int:
    """Dimension of the affine hull of beliefs ``(N, n)``: the numerical rank of the
    centered set: singular values above ``tol`` times the largest and above
    ``tol sqrt(N)`` (so a set of identical beliefs up to rounding has dimension 0)."""
    X = check_real_array(beliefs, "beliefs")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ShapeError(f"beliefs must be a nonempty (N, n) array; got shape {X.shape}")
    tol = check_real(tol, "tol", minimum=0.0, min_open=True)
    Y = X - X.mean(axis=0)
    if Y.shape[0] > 4 * Y.shape[1]:
        Y = np.linalg.qr(Y, mode="r")  # same singular values, n x n
    s = np.linalg.svd(Y, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    s_tol = max(tol * s[0], tol * np.sqrt(X.shape[0]))
    return int(np.sum(s > s_tol))


@dataclass(frozen=True)
class LinearMap:
    """``eta_target = eta_source @ matrix``, with the fit's worst residual (max-norm)."""

    matrix: np.ndarray
    residual: float

    def __call__(self, beliefs: Any) -> np.ndarray:
        return np.asarray(beliefs, dtype=float) @ self.matrix


def linear_map(source: Any, target: Any, *, tol: float = 1e-8) -> LinearMap:
    """The linear map ``A`` (n_s, n_t) with ``target = source @ A`` for paired beliefs.

    Least squares (minimum-norm solution when the source beliefs do not span their
    space).  Raises ValueError when the worst residual exceeds ``tol`` times the scale of
    ``target``: then the two sets of beliefs are not linearly related (not two
    representations of the same process, or not paired by the same words).
    """
    S = check_real_array(source, "source")
    Tg = check_real_array(target, "target")
    tol = check_real(tol, "tol", minimum=0.0, min_open=True)
    if S.ndim != 2 or Tg.ndim != 2 or S.shape[0] != Tg.shape[0] or S.shape[0] == 0:
        raise ShapeError(f"source and target must be (N, n_s) and (N, n_t) with the same N > 0; "
                         f"got {S.shape} and {Tg.shape}")
    A = np.linalg.lstsq(S, Tg, rcond=None)[0]
    resid = float(np.abs(S @ A - Tg).max())
    scale = max(1.0, float(np.abs(Tg).max()))
    if resid > tol * scale:
        raise ArgumentError(f"no linear map fits: worst residual {resid:.3g} > tol {tol:g} x scale {scale:.3g}; "
                         "are these beliefs of the same words under two representations of one process?")
    return LinearMap(A, resid)


def representation_map(g_from: Generator, g_to: Generator, depth: int = 6, *, tol: float = 1e-8,
                       max_beliefs: int = 20_000) -> LinearMap:
    """Exact linear map from ``g_from``'s beliefs to ``g_to``'s beliefs of the same words.

    The distinct beliefs of ``g_from`` up to ``depth`` (its mixed-state presentation)
    are paired with ``g_to``'s beliefs after the same shortest words, and
    :func:`linear_map` is fitted.  E.g. an HMM's simplex beliefs onto its minimal GHMM's
    (``generators.minimize``) beliefs.  Raises ValueError when the processes differ.
    """
    from .manifold import mixed_state_presentation
    from .trajectories import belief_trajectories

    g_from, g_to = as_generator(g_from, "g_from"), as_generator(g_to, "g_to")
    if g_from.alphabet_size != g_to.alphabet_size:
        raise ArgumentError(f"the generators have different alphabets ({g_from.alphabet_size} vs "
                         f"{g_to.alphabet_size} symbols); they cannot be the same process")
    depth = check_positive_int(depth, "depth", minimum=0)
    tol = check_real(tol, "tol", minimum=0.0, min_open=True)
    m = mixed_state_presentation(g_from, depth, max_beliefs=check_positive_int(max_beliefs, "max_beliefs"))
    words = m.words()
    target = np.empty((m.n_beliefs, g_to.to_ghmm().dim))
    for L in np.unique(m.depth):  # loop over word lengths only
        ids = np.nonzero(m.depth == L)[0]
        tr = belief_trajectories(g_to, words[ids, :L].reshape(ids.size, int(L)))
        if not np.all(tr.possible[:, -1]):
            raise ArgumentError("a word allowed by g_from has probability 0 under g_to; not the same process")
        target[ids] = tr.beliefs[:, -1]
    return linear_map(m.beliefs, target, tol=tol)


def _orthogonal_complement(v: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning the complement of ``v`` (deterministic: QR of [v, I])."""
    n = v.size
    q, _ = np.linalg.qr(np.column_stack([v, np.eye(n)]))
    comp = q[:, 1:n].T
    # orient so the basis is close to the standard axes (first nonzero entry positive)
    sign = np.sign(comp[np.arange(n - 1), np.argmax(np.abs(comp) > 1e-12, axis=1)])
    return comp * np.where(sign == 0, 1.0, sign)[:, None]


# ---------------------------------------------------------------------- weighted PCA
@dataclass(frozen=True)
class WeightedPCA:
    """Principal axes of weighted rows: the one weighted PCA of qbelief.

    Attributes
    ----------
    mean : (d,)            weighted mean ``mu = sum_i p_i x_i``
    variances : (d,)       eigenvalues of the weighted covariance, descending, clipped at 0
    axes : (d, d)          orthonormal rows: the principal directions, in the same order
    """

    mean: np.ndarray
    variances: np.ndarray
    axes: np.ndarray

    @property
    def covariance(self) -> np.ndarray:
        """``sum_i p_i (x_i - mu)(x_i - mu)^T`` (d, d), rebuilt from the eigenpairs."""
        return (self.axes.T * self.variances) @ self.axes

    @property
    def explained(self) -> np.ndarray:
        """Cumulative explained-variance ratios (d,) (zeros for constant data)."""
        total = self.variances.sum()
        return np.cumsum(self.variances) / total if total > 0 else np.zeros_like(self.variances)

    def project(self, X: Any, k: int | None = None) -> np.ndarray:
        """Coordinates ``(X - mean) @ axes[:k].T`` of rows ``X (..., d)`` on the top ``k`` axes."""
        return (np.asarray(X, dtype=float) - self.mean) @ self.axes[:k].T


def weighted_pca(X: Any, weights: Any = None) -> WeightedPCA:
    """Weighted principal component analysis of rows ``X (N, d)``.

    With normalized weights ``p`` (uniform when ``weights`` is None), the weighted
    covariance ``C = sum_i p_i (x_i - mu)(x_i - mu)^T = V diag(lam) V^T`` gives the axes
    (rows of ``V^T``) and variances ``lam`` (descending).  Cost ``O(N d^2 + d^3)``.

    >>> pca = weighted_pca([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]], [1, 2, 1])
    >>> pca.mean.tolist(), np.round(pca.variances, 12).tolist(), np.abs(pca.axes[0]).tolist()
    ([2.0, 0.0], [2.0, 0.0], [1.0, 0.0])
    """
    X = check_real_array(X, "X", ndim=2)
    if X.shape[0] == 0:
        raise ShapeError("weighted_pca needs at least one row")
    p = check_weights(weights, X.shape[0])
    mu = p @ X
    Xc = X - mu
    C = (Xc * p[:, None]).T @ Xc
    lam, V = np.linalg.eigh((C + C.T) / 2)
    return WeightedPCA(mean=mu, variances=np.clip(lam[::-1], 0.0, None), axes=V[:, ::-1].T)
