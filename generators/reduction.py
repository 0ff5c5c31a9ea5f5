"""Minimal forms and exact equivalence of generators.

For a GHMM ``(T, tau, initial)`` the *forward* space is
``F = span{ initial T[w] : all words w }`` and the *backward* space
``B = span{ T[w] tau : all words w }``.  Restricting to ``F`` (reachability) and then
quotienting by the annihilator of ``B`` (observability) gives an equivalent GHMM whose
dimension is the rank of the Hankel matrix ``H[u, v] = Pr(u v)`` — the smallest
dimension of any linear generator of the process.

Two generators define the same process iff the forward space of their direct sum started
from ``[initial_1, -initial_2]`` is orthogonal to ``[tau_1; tau_2]`` (Tzeng 1992): the
difference of word probabilities vanishes on every word.  Both computations use
orthonormal bases built by SVD, one word length at a time.
"""

from __future__ import annotations

import numpy as np

from ._linalg import orthonormal_completion, row_space_closure
from .base import Generator
from .compose import ProductGenerator
from .ghmm import GHMM

__all__ = ["minimize", "hankel_rank", "equivalent"]


def minimize(g: Generator, *, rtol: float = 1e-10, canonical: bool = True) -> GHMM:
    """An equivalent GHMM of minimal dimension (= the Hankel rank of the process).

    Parameters
    ----------
    g : Generator
        Any generator (its GHMM form is reduced).
    rtol : float
        Relative singular-value cutoff for the reachable and observable subspaces.
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
    """
    if isinstance(g, ProductGenerator):
        parts = [minimize(f, rtol=rtol, canonical=canonical) for f in g.factors]
        return ProductGenerator(parts, name=g.name).to_ghmm()
    h = g.to_ghmm()
    T, tau, init = h.operators, h.tau, h.initial
    # 1. reachability: rows R (r x n), orthonormal, spanning {initial T[w]}
    R = row_space_closure(init, T, rtol=rtol)
    Tr = R @ T @ R.T
    tau_r = R @ tau
    init_r = init @ R.T
    # 2. observability: columns C (r x s) spanning {T_r[w] tau_r}
    C = row_space_closure(tau_r, Tr.transpose(0, 2, 1), rtol=rtol).T
    Tm = C.T @ Tr @ C
    tau_m = C.T @ tau_r
    init_m = init_r @ C
    if canonical:
        # S = |tau| Q with Q orthogonal, Q[:, 0] = tau/|tau|: then S^-1 tau = e0, and a
        # uniform scale keeps the geometry (angles, ratios of distances) of the beliefs
        scale = np.linalg.norm(tau_m)
        Q = orthonormal_completion(tau_m)
        Tm, tau_m, init_m = Q.T @ Tm @ Q, Q.T @ tau_m / scale, init_m @ Q * scale
        tau_m = np.where(np.abs(tau_m) < 1e-14, 0.0, tau_m)
    init_m = init_m / (init_m @ tau_m)
    return GHMM(Tm, tau_m, init_m, check_words_upto=0, name=g.name)


def hankel_rank(g: Generator, *, rtol: float = 1e-10) -> int:
    """Rank of the process's Hankel matrix ``Pr(u v)``: the minimal generator dimension."""
    return minimize(g, rtol=rtol, canonical=False).dim


def equivalent(g1: Generator, g2: Generator, tol: float = 1e-9) -> bool:
    """True iff ``g1`` and ``g2`` give every word the same probability (up to ``tol``).

    Decided exactly without enumerating words: the forward space of the direct sum from
    ``[initial_1, -initial_2]`` must be orthogonal to ``[tau_1; tau_2]``.  ``tol`` bounds
    ``|<b, tau>|`` for unit basis vectors ``b`` of that space, relative to ``|tau|`` — in
    effect a bound on the difference of word probabilities relative to their scale.
    """
    a, b = g1.to_ghmm(), g2.to_ghmm()
    if a.alphabet_size != b.alphabet_size:
        return False
    n1, n2 = a.dim, b.dim
    V = a.alphabet_size
    T = np.zeros((V, n1 + n2, n1 + n2))
    T[:, :n1, :n1] = a.operators
    T[:, n1:, n1:] = b.operators
    tau1 = a.tau / np.linalg.norm(a.tau)
    tau2 = b.tau / np.linalg.norm(a.tau)
    # scale so that both initial states are normalized against the same scaled tau
    start = np.concatenate([a.initial * np.linalg.norm(a.tau), -b.initial * np.linalg.norm(a.tau)])
    tau = np.concatenate([tau1, tau2])
    # directions below 1e-9 of the largest are rounding noise: generators derived from
    # one another numerically (minimal forms, similarity transforms) differ by ~1e-12
    basis = row_space_closure(start, T, rtol=1e-9)
    if basis.shape[0] == 0:
        return True
    return bool(np.abs(basis @ tau).max() <= tol * max(1.0, np.linalg.norm(tau)))
