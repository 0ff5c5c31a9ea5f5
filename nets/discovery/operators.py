"""Operators ``T[x]`` under which given belief coordinates update like beliefs.

Homogeneous coordinates ``eta_t = [1, z_t]`` (``z_t`` the projected activation at
position ``t``) and ``tau = e_0``, so ``eta @ tau = 1`` for every row.  A GHMM whose
beliefs these are satisfies, for the symbol ``x = x_{t+1}`` read next,

    Pr(x | eta_t) = eta_t c_x,  c_x = T[x] tau          (next token linear in eta)
    eta_t T[x] = Pr(x | eta_t) eta_{t+1}                 (Bayes update, un-normalized)

Estimation (:func:`fit_operators`), each step a linear least-squares problem:

1. ``C = [c_x] = argmin_C sum_t |onehot(x_{t+1}) - eta_t C|^2`` (n, V): the linear
   conditional expectation of the next token.  The constant column of ``eta`` makes the
   fitted ``sum_x c_x = e_0 = tau`` exact (the one-hot rows sum to 1).
2. For each symbol ``x``, over the rows with ``x_{t+1} = x``: ``T[x] = [c_x | B_x]`` with
   ``B_x = argmin_B sum_t |eta_t B - (eta_t c_x) z_{t+1}|^2`` (n, k) -- the update
   equation with the first column of ``T[x]`` held at ``c_x`` (minimum-norm solution
   where those rows do not span belief space).
3. ``sum_x T[x] tau = tau`` holds by step 1 (the rounding residual is spread evenly over
   the ``c_x``).
4. Stationarity at the data: ``pi`` = the mean of ``eta`` over the data (the stationary
   belief, for sequences of a stationary process) is made the left fixed point of
   ``S = sum_x T[x]`` by the rank-one corrections ``T[x] += w_x pi^T D / |pi|^2``,
   ``D = pi - pi S``, ``w_x`` the symbol frequencies.  Since ``D tau = 0`` this keeps
   ``tau`` and every ``c_x``; ``pi`` becomes the initial belief.  (The left eigenvector of
   the estimated ``S`` amplifies its errors by ``1 / (1 - |lambda_2|)``; the data's mean
   belief does not.)

Costs: ``O(R n^2)`` for ``R`` rows, ``n = k + 1``.
"""

from __future__ import annotations

import numpy as np

from generators import GHMM

__all__ = ["fit_operators", "homogeneous"]


def homogeneous(z: np.ndarray) -> np.ndarray:
    """``eta = [1, z]``: (..., k) -> (..., k + 1)."""
    return np.concatenate([np.ones(z.shape[:-1] + (1,)), z], axis=-1)


def fit_operators(eta: np.ndarray, x: np.ndarray, eta_next: np.ndarray, V: int, *,
                  stationary: np.ndarray | None = None) -> GHMM:
    """The GHMM ``(T, tau = e_0, initial = pi)`` of the module docstring.

    Parameters
    ----------
    eta : (R, n) -- ``[1, z_t]`` before each transition
    x : int (R,) -- the symbol read, ``0 <= x < V``
    eta_next : (R, n) -- ``[1, z_{t+1}]`` after it
    V : alphabet size
    stationary : (n,), optional -- ``pi`` (first entry 1); default the mean of ``eta``

    Returns
    -------
    GHMM of dimension ``n`` (word probabilities not checked for sign: see
    :func:`generators.check_nonnegative`).

    Examples
    --------
    Exact beliefs of a process give back its operators (in the same coordinates):

    >>> from generators import library, equivalent
    >>> from generators.representations import representation
    >>> g = representation(library.mess3(), "minimal").ghmm
    >>> words, beliefs = g.sample(200, 10, seed=0, return_beliefs=True)
    >>> eta, nxt = beliefs[:, 1:-1].reshape(-1, 3), beliefs[:, 2:].reshape(-1, 3)
    >>> h = fit_operators(eta, words[:, 1:].ravel(), nxt, 3, stationary=g.initial)
    >>> equivalent(h, g, 0.05)
    True
    """
    R, n = eta.shape
    Y_sum = np.stack([np.bincount(x, weights=eta[:, j], minlength=V) for j in range(n)], axis=1)  # (V, n): E^T Y
    C = np.linalg.lstsq(eta.T @ eta, Y_sum.T, rcond=None)[0]  # (n, V)
    tau = np.zeros(n)
    tau[0] = 1.0
    C -= ((C.sum(axis=1) - tau) / V)[:, None]
    T = np.zeros((V, n, n))
    T[:, :, 0] = C.T
    for s in range(V):  # one small least-squares problem per symbol
        rows = x == s
        if n > 1 and rows.any():
            E = eta[rows]
            T[s, :, 1:] = np.linalg.lstsq(E, (E @ C[:, s])[:, None] * eta_next[rows, 1:], rcond=None)[0]
    pi = eta.mean(axis=0) if stationary is None else np.asarray(stationary, dtype=float)
    D = pi - pi @ T.sum(axis=0)
    w = np.bincount(x, minlength=V) / max(R, 1)
    T += w[:, None, None] * (np.outer(pi, D) / (pi @ pi))[None]
    return GHMM(T, tau, pi, check_words_upto=0)
