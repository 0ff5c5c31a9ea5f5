"""How well a discovered GHMM fits: held-out log loss, update and filter residuals, word distances.

All losses are in nats per symbol and are computed the same way for every model
compared (the discovered GHMM, :func:`generators.learn_ghmm`'s, the unigram model), so
their differences are paired by sequence and have honest standard errors.  Models
estimated from data can give a word a slightly negative or zero probability: every
conditional probability is raised to :data:`PROB_FLOOR` before its logarithm (the
number of such events is reported) and a belief whose normalizer falls below it
restarts from the initial belief.
"""

from __future__ import annotations

import numpy as np

from generators.words import all_words

__all__ = ["PROB_FLOOR", "filter_steps", "sequence_log_loss", "unigram_log_loss", "update_residual", "filter_residual",
           "word_distance", "paired_difference"]

#: conditional probabilities are floored here before the log (``-log 1e-6 = 13.8`` nats)
PROB_FLOOR = 1e-6


def filter_steps(g, symbols: np.ndarray):
    """Forward pass of ``g`` over symbols (N, S) from its initial belief, with the floor.

    Yields ``(t, eta_before (N, n), p (N,) floored probability of symbol t, floored mask)``;
    cost ``O(N S n^2)``."""
    T, tau = g.operators, g.tau
    C = g.symbol_vectors  # (V, n)
    N = symbols.shape[0]
    eta = np.broadcast_to(g.initial, (N, g.dim)).copy()
    for t in range(symbols.shape[1]):
        x = symbols[:, t]
        p = np.einsum("ni,ni->n", eta, C[x])
        low = p < PROB_FLOOR
        yield t, eta, np.maximum(p, PROB_FLOOR), low
        v = np.einsum("ni,nij->nj", eta, T[x])
        den = v @ tau
        ok = den > PROB_FLOOR
        eta = np.where(ok[:, None], v / np.where(ok, den, 1.0)[:, None], g.initial[None, :])


def sequence_log_loss(g, symbols: np.ndarray, per_symbol: bool = False) -> tuple[np.ndarray, int]:
    """``(-log Pr_g(sequence) (N,) in nats, number of floored probabilities)`` of symbol
    sequences (N, S), each from ``g``'s initial belief; with ``per_symbol`` the terms
    ``-log Pr_g(x_t | x_<t)`` (N, S) instead of their sums."""
    loss = np.zeros(symbols.shape, dtype=float)
    floored = 0
    for t, _, p, low in filter_steps(g, symbols):
        loss[:, t] = -np.log(p)
        floored += int(low.sum())
    return (loss if per_symbol else loss.sum(axis=1)), floored


def filter_residual(g, symbols: np.ndarray, z: np.ndarray, seen_offset: int) -> float:
    """``sum |z_model - z_filter|^2 / sum |z_model - mean|^2``: how far the activations'
    coordinates ``z`` (N, L, k) are from ``g``'s own beliefs filtered from the symbols
    alone (position ``p`` <-> the belief after ``p + seen_offset`` symbols)."""
    k = z.shape[-1]
    if k == 0:
        return 0.0
    num = den = 0.0
    zbar = z.reshape(-1, k).mean(axis=0)
    L = z.shape[1]
    for t, eta, _, _ in filter_steps(g, np.concatenate([symbols, symbols[:, :1]], axis=1)):
        p = t - seen_offset  # eta = belief after t symbols
        if 0 <= p < L:
            num += float(((z[:, p] - eta[:, 1:]) ** 2).sum())
            den += float(((z[:, p] - zbar) ** 2).sum())
    return num / den if den > 0 else float("inf")


def unigram_log_loss(train: np.ndarray, test: np.ndarray, V: int) -> np.ndarray:
    """``-log`` probability (N_test,) of each test sequence under the i.i.d. model of the
    training symbols' frequencies (floored)."""
    f = np.maximum(np.bincount(train.ravel(), minlength=V) / train.size, PROB_FLOOR)
    return -np.log(f)[test].sum(axis=1)


def update_residual(g, eta: np.ndarray, x: np.ndarray, eta_next: np.ndarray) -> float:
    """How far coordinates are from updating like ``g``'s beliefs, relative to their spread:

        sum_t |eta_t T[x] - p_t eta_{t+1}|^2 / sum_t p_t^2 |z_{t+1} - mean z|^2,
        p_t = eta_t T[x] tau,

    over rows ``(eta_t (R, n), x (R,), eta_{t+1} (R, n))`` -- the Bayes update in its
    un-normalized form (the equation the operators are fitted to), so that rows with tiny
    or misestimated ``p_t`` cannot blow it up.  0: the coordinates update exactly as
    ``g``'s beliefs; about 1: no better than predicting their mean.
    """
    if eta.shape[1] == 1:
        return 0.0
    v = np.einsum("ri,rij->rj", eta, g.operators[x])
    p = v @ g.tau
    z1 = eta_next[:, 1:]
    num = float(((v[:, 1:] - p[:, None] * z1) ** 2).sum())
    den = float(((p[:, None] * (z1 - z1.mean(axis=0))) ** 2).sum())
    return num / den if den > 0 else float("inf")


def paired_difference(a: np.ndarray, b: np.ndarray, n_symbols: int) -> tuple[float, float]:
    """Mean per-symbol difference of two per-sequence losses and its standard error
    (sequences independent): ``(sum(a - b) / n_symbols, sqrt(N) std(a - b) / n_symbols)``."""
    d = np.asarray(a) - np.asarray(b)
    N = d.size
    return float(d.sum() / n_symbols), float(np.std(d, ddof=1) * np.sqrt(N) / n_symbols) if N > 1 else float("inf")


def word_distance(g1, g2, max_length: int = 5, max_words: int = 1 << 16) -> tuple[float, int]:
    """``max |Pr_1(w) - Pr_2(w)|`` over all words of length ``1..max_length``, stopping
    before the first length with more than ``max_words`` words; returns
    ``(distance, longest length compared)``.  Cost ``O(V^L L n^2)``."""
    V = g1.alphabet_size
    best, used = 0.0, 0
    for L in range(1, max_length + 1):
        if V**L > max_words:
            break
        w = all_words(V, L)
        best = max(best, float(np.abs(g1.word_probability(w) - g2.word_probability(w)).max()))
        used = L
    return best, used
