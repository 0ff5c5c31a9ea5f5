"""Refining the subspace by the discovered GHMM's own beliefs (a self-consistency probe).

The predictive subspace (:mod:`~nets.discovery.subspace`) rests on how well activations
predict *tokens*, a weak signal when the next-token distribution hardly depends on the
belief (the Bloch walk's entropy rate is 1.4% below ``log 4``), so its directions carry
sampling noise.  The beliefs themselves move a lot.  One refinement step:

1. fit the GHMM ``g`` to the current coordinates ``z_t = u_t P`` (``u`` the whitened
   activations, ``P`` (r, k)) -- :func:`~nets.discovery.operators.fit_operators`;
2. filter every training sequence with ``g`` from its initial belief, on the tokens alone:
   ``eta^g_t = [1, f_t]`` at each position;
3. replace ``P`` by the least-squares probe of those beliefs, ``P' = argmin_P sum_t
   |u_t P - (f_t - mean f)|^2 = Cov(u, f)`` (``Cov(u) = I``), and refit ``g``.

If the activations hold the beliefs of some GHMM linearly, its coordinates are a fixed
point.  A step is kept only if it lowers the update residual of the coordinates
(:func:`~nets.discovery.scoring.update_residual`) *and* does not raise the training log
loss of the refitted GHMM (filtered from the tokens alone) by more than
:data:`REFINE_SE` standard errors (paired over sequences): away from a good model the
filtered beliefs can drift or blow up, or buy closure at the price of prediction; then
the step is refused and the iteration stops.  Cost per step:
``O(M n^2)`` for the filters and the fit, ``O(M r k)`` for the probe (``M`` positions).
"""

from __future__ import annotations

import numpy as np

from .operators import fit_operators, homogeneous
from .scoring import filter_steps, paired_difference, sequence_log_loss, update_residual

__all__ = ["fit_ghmm", "filtered_beliefs", "refine_projection", "REFINE_STEPS", "REFINE_SE"]

#: most refinement steps
REFINE_STEPS = 3
#: a step may raise the training log loss by at most this many standard errors
REFINE_SE = 2.0


def fit_ghmm(Z: np.ndarray, tokens: np.ndarray, V: int):
    """The GHMM fitted to coordinates ``Z`` (N, L, k) of sequences ``tokens`` (N, L) (all
    transitions ``p -> p + 1`` by ``tokens[:, p + 1]``; initial: the mean belief)."""
    n = Z.shape[-1] + 1
    eta = homogeneous(Z)
    return fit_operators(eta[:, :-1].reshape(-1, n), tokens[:, 1:].ravel(), eta[:, 1:].reshape(-1, n), V,
                         stationary=eta.reshape(-1, n).mean(axis=0))


def filtered_beliefs(g, symbols: np.ndarray, L: int, seen_offset: int) -> np.ndarray:
    """``g``'s beliefs (N, L, n) at the model positions: position ``p`` holds the belief
    after ``p + seen_offset`` symbols, filtered from ``g.initial``."""
    out = np.empty((symbols.shape[0], L, g.dim))
    ext = np.concatenate([symbols, symbols[:, :1]], axis=1)  # one more step to reach the last belief
    for t, eta, _, _ in filter_steps(g, ext):
        p = t - seen_offset
        if 0 <= p < L:
            out[:, p] = eta
    return out


def refine_projection(U: np.ndarray, tokens: np.ndarray, symbols: np.ndarray, V: int, P: np.ndarray,
                      seen_offset: int, steps: int = REFINE_STEPS):
    """Refine ``P`` (r, k) for whitened activations ``U`` (N, L, r); see the module docstring.

    Returns ``(P, g, steps kept)`` with ``g`` the GHMM fitted to ``U @ P``.
    """
    g = fit_ghmm(U @ P, tokens, V)
    k = P.shape[1]
    if k == 0:
        return P, g, 0
    best = _scores(g, U @ P, tokens, symbols)
    flat = U.reshape(-1, U.shape[-1])
    kept = 0
    for _ in range(steps):
        f = filtered_beliefs(g, symbols, U.shape[1], seen_offset)[..., 1:].reshape(-1, k)
        if not np.all(np.isfinite(f)):
            break
        P_new = flat.T @ (f - f.mean(axis=0)) / flat.shape[0]
        g_new = fit_ghmm(U @ P_new, tokens, V)
        score = _scores(g_new, U @ P_new, tokens, symbols)
        worse, se = paired_difference(score[0], best[0], symbols.size)
        if not (score[1] < best[1] and worse <= REFINE_SE * se):
            break
        P, g, best, kept = P_new, g_new, score, kept + 1
    return P, g, kept


def _scores(g, Z: np.ndarray, tokens: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, float]:
    """``(training log loss of g per sequence (N,), update residual of Z under g)``."""
    eta = homogeneous(Z)
    n = eta.shape[-1]
    resid = update_residual(g, eta[:, :-1].reshape(-1, n), tokens[:, 1:].ravel(), eta[:, 1:].reshape(-1, n))
    return sequence_log_loss(g, symbols)[0], resid
