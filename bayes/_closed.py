"""Closed (finite) mixed-state presentations: recurrent beliefs, stationary mass, and the
partition refinement behind the eps-machine.

These act on the belief transition graph ``W`` (sparse ``(N, N)``, ``W[i, j] = sum of
Pr(x | i)`` over the symbols ``x`` leading from belief ``i`` to belief ``j``) of a
:class:`~bayes.manifold.BeliefManifold` that closed.

- :func:`bottom_components` -- recurrent nodes: the bottom strongly connected components,
  ``O(N + E)`` (scipy's Tarjan/Pearce).
- :func:`stationary_mass` -- Cesaro-limit mass ``lim (1/T) sum_{t<T} mass_t``: absorption
  probabilities through the transient part (one sparse solve) times each bottom
  component's stationary distribution (one dense least-squares per component).
- :func:`refine` -- Moore's partition refinement of the recurrent beliefs by next-symbol
  probabilities and successor classes, vectorized over states (``O(k)`` rounds).

References
----------
.. [1] J. P. Crutchfield, "Between order and chaos", Nature Physics 8, 17 (2012),
       arXiv:1112.4346 (causal states, eps-machines, mixed states).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bottom_components", "stationary_mass", "stationary_dense", "refine"]


# ---------------------------------------------------------------------- closed presentations
def bottom_components(W) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in bottom strongly connected components of the graph of ``W`` (sparse), and
    the component label of every node."""
    from scipy.sparse import csgraph

    _, labels = csgraph.connected_components(W, directed=True, connection="strong")
    coo = W.tocoo()
    leaving = labels[coo.row] != labels[coo.col]
    not_bottom = np.zeros(labels.max() + 1 if labels.size else 0, dtype=bool)
    not_bottom[labels[coo.row[leaving]]] = True
    return np.nonzero(~not_bottom[labels])[0], labels


def stationary_mass(W, start_ids: np.ndarray, start_mass: np.ndarray) -> np.ndarray:
    """Cesaro-limit mass over nodes of the Markov chain ``W`` (sparse, rows sum to 1)
    started from ``start_mass`` on ``start_ids``: absorption probabilities into each bottom
    component times that component's stationary distribution."""
    from scipy import sparse
    from scipy.sparse import linalg as splinalg

    N = W.shape[0]
    rec, labels = bottom_components(W)
    W = sparse.csr_matrix(W)
    start = np.zeros(N)
    start[start_ids] = start_mass
    is_rec = np.zeros(N, dtype=bool)
    is_rec[rec] = True
    tr = np.nonzero(~is_rec)[0]
    # mass entering the recurrent nodes: direct + via expected transient visits
    into = start.copy()
    if tr.size:
        Q = W[tr][:, tr]
        R = W[tr][:, rec]
        A = (sparse.identity(tr.size, format="csc") - Q.T.tocsc())
        visits = splinalg.spsolve(A, start[tr]) if tr.size > 1 else start[tr] / (1 - Q.toarray()[0, 0])
        visits = np.atleast_1d(visits)
        into[rec] += R.T @ visits
    into[tr] = 0.0
    out = np.zeros(N)
    for c in np.unique(labels[rec]):  # loop over bottom components (few)
        members = np.nonzero(labels == c)[0]
        weight = into[members].sum()
        if weight <= 0:
            continue
        P = W[members][:, members].toarray()
        pi = stationary_dense(P)
        out[members] = weight * pi
    return out


def stationary_dense(P: np.ndarray) -> np.ndarray:
    """Stationary distribution of an irreducible stochastic matrix (least squares on
    ``pi (P - I) = 0``, ``sum pi = 1``)."""
    k = P.shape[0]
    A = np.vstack([(P - np.eye(k)).T, np.ones((1, k))])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def refine(ns: np.ndarray, npr: np.ndarray, ids: np.ndarray, N: int, tol: float) -> np.ndarray:
    """Coarsest partition of states (rows) with equal next-symbol probabilities and
    equivalent successors (Moore's algorithm, vectorized over states). Returns class labels."""
    k = ids.size
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    local = -np.ones(N, dtype=np.int64)
    local[ids] = np.arange(k)
    # probabilities rounded to a grid coarse enough to absorb floating error
    scale = max(tol, 1e-9)
    probs_key = np.round(npr / scale).astype(np.int64)
    _, cls = np.unique(probs_key, axis=0, return_inverse=True)
    cls = cls.reshape(-1)
    succ = np.where(ns >= 0, local[np.maximum(ns, 0)], -1)
    for _ in range(k):
        succ_cls = np.where(succ >= 0, cls[np.maximum(succ, 0)], -1)
        sig = np.column_stack([cls, succ_cls])
        _, new = np.unique(sig, axis=0, return_inverse=True)
        new = new.reshape(-1)
        if new.max() == cls.max():
            break
        cls = new
    return cls
