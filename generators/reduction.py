"""Minimal forms and exact equivalence of generators.

For a GHMM ``(T, tau, initial)`` the *forward* space is
``F = span{ initial T[w] : all words w }`` and the *backward* space
``B = span{ T[w] tau : all words w }``.  Restricting to ``F`` (reachability) and then
quotienting by the annihilator of ``B`` (observability) gives an equivalent GHMM whose
dimension is the rank of the Hankel matrix ``H[u, v] = Pr(u v)`` — the smallest
dimension of any linear generator of the process.

Two generators define the same process iff the forward space of their direct sum started
from ``[initial_1, -initial_2]`` is orthogonal to ``[tau_1; tau_2]`` (Tzeng 1992): the
difference of word probabilities vanishes on every word.

Both computations build orthonormal bases one word length at a time with
:func:`generators._linalg.weighted_closure`, which keeps for every basis direction a
*weight*: a bound on the coefficient along it of any vector ``initial T[w]``.  A
direction reached only through a rounding-level (or a genuinely tiny) difference keeps
its tiny weight, so it can neither inflate the minimal dimension nor make two
generators that agree to rounding look different; thresholds are absolute in the units
of probabilities (``initial @ tau = 1``, ``|tau| = 1``), not relative to a re-normalized
basis.
"""

from __future__ import annotations

import numpy as np

from ._linalg import orthonormal_completion, weighted_closure
from .base import Generator, check_generator
from .compose import ProductGenerator
from .errors import ArgumentError
from .ghmm import GHMM
from .validation import check_real

__all__ = ["minimize", "hankel_rank", "equivalent"]

_EPS = np.finfo(float).eps


def minimize(g: Generator, *, rtol: float = 1e-10, canonical: bool = True) -> GHMM:
    """An equivalent GHMM of minimal dimension (= the Hankel rank of the process).

    Parameters
    ----------
    g : Generator
        Any generator (its GHMM form is reduced).  Not a spec string: build one with
        :func:`generators.io.resolve`.
    rtol : float in (0, 1)
        Directions whose weight (the root-sum-square coefficient along them of the forward
        vectors ``initial T[w]`` with ``|tau| = 1``, or of the backward vectors
        ``T[w] tau``) is at most ``rtol`` are dropped, and so are directions whose Hankel
        singular value is at most ``rtol / 1000`` of the largest (reached and observed,
        but with a rounding-level product); word probabilities of the result agree with
        ``g``'s to about ``rtol``.
    canonical : bool
        If True, rotate and scale coordinates so that ``tau = (1, 0, ..., 0)``: the first
        belief coordinate is then always 1 and the rest are orthonormal coordinates of the
        reduced belief space, scaled uniformly by ``|tau|`` (for the Bloch walk: ``(1, x, z)``
        up to a rotation of the ``(x, z)`` plane, with ``(x, y, z)`` the Bloch vector).

    Returns
    -------
    GHMM with ``dim == hankel_rank(g)`` and the same word probabilities as ``g``.

    An independent product (:class:`~generators.ProductGenerator`) is reduced factor by
    factor: its minimal form is the Kronecker product of the factors' minimal forms (the
    Hankel matrix of a product is the Kronecker product of the factors'), which never
    builds the unreduced joint operators.

    Cost ``O(n^3 V)`` for an ``n``-dimensional GHMM form.
    """
    g = check_generator(g)
    rtol = check_real(rtol, "rtol", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    if not isinstance(canonical, (bool, np.bool_)):
        raise ArgumentError(f"canonical must be True or False; got {canonical!r}")
    if isinstance(g, ProductGenerator):
        parts = [minimize(f, rtol=rtol, canonical=canonical) for f in g.factors]
        return ProductGenerator(parts, name=g.name).to_ghmm()
    h = g.to_ghmm()
    t = np.linalg.norm(h.tau)
    T, tau, init = h.operators, h.tau / t, h.initial * t  # units: |tau| = 1, init @ tau = 1
    # 1. reachability: rows R (r x n), orthonormal, spanning {initial T[w]}
    R, wr = weighted_closure(init, T, atol=max(rtol, _floor(T, init)))
    Tr, tau_r, init_r = _consistent(R @ T @ R.T, R @ tau, init @ R.T, (T @ tau) @ R.T)
    # 2. observability: columns C (r x s) spanning {T_r[w] tau_r}
    Ct, wc = weighted_closure(tau_r, Tr.transpose(0, 2, 1), atol=max(rtol, _floor(Tr, tau_r)))
    C = Ct.T
    Tm, tau_m, init_m = C.T @ Tr @ C, C.T @ tau_r, init_r @ C
    # 3. joint significance: Hankel singular values of the weighted forward and backward spaces
    Tm, tau_m, init_m = _hankel_truncate(Tm, tau_m, init_m, wr[:, None] * C, wc, rtol)
    tau_m, init_m = tau_m * t, init_m / t
    if canonical:
        # S = |tau| Q with Q orthogonal, Q[:, 0] = tau/|tau|: then S^-1 tau = e0, and a
        # uniform scale keeps the geometry (angles, ratios of distances) of the beliefs
        scale = np.linalg.norm(tau_m)
        Q = orthonormal_completion(tau_m)
        Tm, tau_m, init_m = Q.T @ Tm @ Q, Q.T @ tau_m / scale, init_m @ Q * scale
        tau_m = np.where(np.abs(tau_m) < 1e-14, 0.0, tau_m)
    init_m = init_m / (init_m @ tau_m)
    return GHMM(Tm, tau_m, init_m, check_words_upto=0, name=g.name)


def _consistent(Tr: np.ndarray, tau_r: np.ndarray, init_r: np.ndarray, target: np.ndarray):
    """Make ``Tr[x] tau_r`` equal ``target[x]`` (the projection of ``T[x] tau``) exactly.

    A direction dropped for its small weight leaves ``sum_x Tr[x] tau_r - tau_r`` of order
    (dropped weight) / (kept weight), large in the unit coordinates of a weakly reached
    direction; the rank-one correction ``+ d tau_r^T / |tau_r|^2`` per symbol moves word
    probabilities by about the dropped weight only, and makes ``tau_r`` an exact fixed point.
    """
    defect = target - Tr @ tau_r  # (V, r)
    return Tr + defect[:, :, None] * tau_r[None, None, :] / (tau_r @ tau_r), tau_r, init_r


def _hankel_truncate(Tm, tau_m, init_m, Wf: np.ndarray, wb: np.ndarray, rtol: float):
    """Drop the directions whose Hankel singular value is at most ``rtol / 1000`` times the
    largest (``1e-13`` by default: below what float64 word probabilities resolve).

    In the coordinates of steps 1-2, the forward vectors have the Gram factor ``Wf``
    (reach weights times ``C``) and the backward vectors ``diag(wb)``, so the Hankel matrix
    of all words has the singular values of ``M = Wf diag(wb)``.  A direction may be
    reached (weight above ``rtol``) and observed (weight above ``rtol``) yet have a
    rounding-level product; keeping it would exceed the Hankel rank.  The kept coordinates are
    the orthogonal projection onto ``Q = orth(diag(wb) V_k)`` (the same process as the
    balanced truncation, up to a ``k x k`` change of coordinates), with the oblique
    left inverse ``B^T = (U_k^T Wf Q)^-1 U_k^T Wf``.
    """
    U, S, Vt = np.linalg.svd(Wf * wb[None, :], full_matrices=False)
    k = int(np.sum(S > 1e-3 * rtol * S[0])) if S.size and S[0] > 0 else 0
    if k >= Tm.shape[-1] or k == 0:
        return Tm, tau_m, init_m
    Q = np.linalg.qr(wb[:, None] * Vt[:k].T)[0]  # (s, k)
    UW = U[:, :k].T @ Wf  # (k, s)
    Bt = np.linalg.solve(UW @ Q, UW)  # (k, s), Bt @ Q = I
    Tk, tau_k, init_k = Bt @ Tm @ Q, Bt @ tau_m, init_m @ Q
    return _consistent(Tk, tau_k, init_k, (Tm @ tau_m) @ Bt.T)


def hankel_rank(g: Generator, *, rtol: float = 1e-10) -> int:
    """Rank of the process's Hankel matrix ``Pr(u v)``: the minimal generator dimension
    (directions of weight at most ``rtol`` do not count; see :func:`minimize`)."""
    return minimize(g, rtol=rtol, canonical=False).dim


def equivalent(g1: Generator, g2: Generator, tol: float = 1e-9) -> bool:
    """True iff ``g1`` and ``g2`` give every word the same probability (up to ``tol``).

    Decided without enumerating words: the forward space of the direct sum from
    ``[initial_1, -initial_2]`` must be orthogonal to ``[tau_1; tau_2]`` (each block
    scaled so that ``|tau_k| = 1`` and ``initial_k @ tau_k = 1``).  Every vector of that
    space is ``initial_1 T_1[w] - initial_2 T_2[w]`` (up to combinations), and its product
    with ``tau`` is ``Pr_1(w) - Pr_2(w)``.  The test is, for every basis direction ``b``
    of weight ``w_b`` (the largest coefficient along ``b`` of such a vector),
    ``w_b |b . tau| <= tol``: ``tol`` is an absolute bound, in probability units, on the
    difference each direction can make to a word probability.  Directions of weight
    below ``tol / 1000`` (or the rounding floor) are not followed further.

    Rounding in derived generators (minimal forms, similarity transforms, files) differs
    by ~1e-15 and passes; a difference of word probabilities above ``tol`` at any word
    length fails.  Differences confined to words whose probabilities are themselves
    below ``tol`` are not seen (nor are they meaningful in floating point).

    ``g1`` and ``g2`` must be :class:`Generator` instances (build them from spec strings
    with :func:`generators.io.resolve`); generators over different alphabets are never
    equivalent.
    """
    g1, g2 = check_generator(g1, "g1"), check_generator(g2, "g2")
    tol = check_real(tol, "tol", minimum=0.0)
    a, b = g1.to_ghmm(), g2.to_ghmm()
    if a.alphabet_size != b.alphabet_size:
        return False
    n1, n2 = a.dim, b.dim
    V = a.alphabet_size
    T = np.zeros((V, n1 + n2, n1 + n2))
    T[:, :n1, :n1] = a.operators
    T[:, n1:, n1:] = b.operators
    t1, t2 = np.linalg.norm(a.tau), np.linalg.norm(b.tau)
    start = np.concatenate([a.initial * t1, -b.initial * t2])
    tau = np.concatenate([a.tau / t1, b.tau / t2])
    floor = _floor(T, start)
    basis, weights = weighted_closure(start, T, atol=max(tol / 1000.0, floor))
    return bool(np.all(weights * np.abs(basis @ tau) <= tol + floor))


def _floor(T: np.ndarray, start: np.ndarray) -> float:
    """Rounding floor of the closure: ``64 n eps |start| max(1, max_x |T[x]|_2)``."""
    n = T.shape[-1]
    norm = max(1.0, float(np.linalg.norm(T, ord=2, axis=(1, 2)).max())) if T.size else 1.0
    return 64.0 * n * _EPS * max(float(np.linalg.norm(start)), 1e-300) * norm
