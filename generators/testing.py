"""Test helpers (like :mod:`numpy.testing`): slow reference definitions and tiny fixtures.

A fast path is tested against its slow definition.  The definitions here are written
as plainly as possible -- one sequence, one word, one symbol at a time -- so that a
vectorized implementation can be checked against them on small cases:

- :func:`loop_word_probability` -- ``Pr(w) = initial T[w1] ... T[wL] tau`` by explicit
  matrix products;
- :func:`loop_beliefs` -- the belief after every prefix by the Bayesian update
  ``eta' = eta T[x] / (eta T[x] tau)``, one symbol at a time;
- :func:`loop_sample` -- words drawn one sequence and one symbol at a time;
- :func:`enumerated_block_entropy` / :func:`enumerated_myopic_entropy` -- entropies from
  the probabilities of all words (:func:`generators.words.all_words`);
- :func:`tiny_processes`, :func:`tiny_product` -- small generators of every kind.

Costs are exponential in the word length (enumeration) or Python-loop slow: test sizes only.

Examples
--------
>>> from generators import library
>>> g = library.mess3(x=0.15, a=0.6)
>>> round(float(loop_word_probability(g, [0, 1])), 8)
0.10133333
>>> loop_beliefs(g, [0]).round(6).tolist()[1]
[0.6, 0.2, 0.2]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Generator
from .words import all_words

__all__ = ["all_words", "loop_word_probability", "loop_beliefs", "loop_native_beliefs", "loop_sample",
           "enumerated_block_entropy", "enumerated_myopic_entropy", "tiny_processes", "tiny_product"]


def _ghmm(g: Any):
    return g.to_ghmm() if isinstance(g, Generator) else g


def loop_word_probability(g: Any, word: Any) -> float:
    """``initial @ T[w1] @ ... @ T[wL] @ tau`` for one word, by explicit matrix products
    (``g`` a Generator or a GHMM)."""
    h = _ghmm(g)
    v = np.asarray(h.initial, dtype=float)
    for x in word:
        v = v @ h.operators[int(x)]
    return float(v @ h.tau)


def loop_beliefs(g: Any, word: Any) -> np.ndarray:
    """Beliefs after the prefixes ``"", w1, w1 w2, ...`` of one word, ``(L + 1, n)``, in the
    GHMM coordinates of ``g`` (a Generator's GHMM form, or a given GHMM such as a minimal
    form), by the update ``eta' = eta T[x] / (eta T[x] tau)`` one symbol at a time."""
    h = _ghmm(g)
    eta = np.asarray(h.initial, dtype=float)
    out = [eta]
    for x in word:
        v = eta @ h.operators[int(x)]
        eta = v / (v @ h.tau)
        out.append(eta)
    return np.array(out)


def loop_native_beliefs(g: Any, words: Any) -> list:
    """Native states after every prefix of every word, by ``g.update`` one symbol at a
    time (per sequence, per symbol: the slow reference of batched filtering); a list with
    one ``(L + 1, ...)`` array per word."""
    out = []
    for w in words:
        s = g.initial_state
        traj = [s]
        for x in w:
            s = g.update(s, int(x))
            traj.append(s)
        out.append(np.array(traj))
    return out


def loop_sample(g: Any, n: int, length: int, seed: int = 0) -> np.ndarray:
    """``n`` words of ``length`` symbols, ``(n, length)`` int64, drawn one sequence and one
    symbol at a time from ``Pr(x | past) = eta T[x] tau`` (``rng.choice`` per symbol)."""
    h = _ghmm(g)
    rng = np.random.default_rng(seed)
    V = h.alphabet_size
    words = np.zeros((n, length), dtype=np.int64)
    for i in range(n):
        eta = np.asarray(h.initial, dtype=float)
        for t in range(length):
            p = np.array([eta @ h.operators[x] @ h.tau for x in range(V)])
            p = np.clip(p, 0.0, None)
            x = int(rng.choice(V, p=p / p.sum()))
            v = eta @ h.operators[x]
            eta = v / (v @ h.tau)
            words[i, t] = x
    return words


def enumerated_block_entropy(g: Generator, L: int, base: float = 2) -> float:
    """``H(L) = -sum_w Pr(w) log Pr(w)`` over all ``V**L`` words (probabilities by
    :func:`loop_word_probability`), in units of ``log base``."""
    p = np.array([loop_word_probability(g, w) for w in all_words(g.alphabet_size, L)])
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / math.log(base))


def enumerated_myopic_entropy(g: Generator, L: int, base: float = 2) -> np.ndarray:
    """``h(l) = H(l) - H(l - 1)`` for ``l = 1..L`` from :func:`enumerated_block_entropy`."""
    H = [0.0] + [enumerated_block_entropy(g, l, base) for l in range(1, L + 1)]
    return np.diff(H)


def tiny_processes() -> dict[str, Generator]:
    """Small generators of every kind: a classical HMM (Mess3(0.15, 0.6)), one with forbidden
    words (the even process), a quantum one (Bloch walk(1, 3)) and a post-quantum GHMM (Moon)."""
    from . import library

    return {"mess3": library.mess3(x=0.15, a=0.6), "even_process": library.even_process(),
            "bloch_walk": library.bloch_walk(alpha=1.0, beta=3.0), "moon": library.moon()}


def tiny_product() -> Generator:
    """The independent product Mess3(0.15, 0.6) x Bloch walk(1, 3): 12 joint symbols, the
    smallest case of Shai et al. 2026 (arXiv 2602.02385)."""
    from . import library
    from .compose import product

    return product(library.mess3(x=0.15, a=0.6), library.bloch_walk(alpha=1.0, beta=3.0))
