"""Word enumeration: the one place that lists words.

- :func:`all_words` -- every word of a length over ``V`` symbols, in lexicographic order;
- :func:`words_upto` -- every word of length ``0..L`` (shortest first), left-aligned and
  padded with ``-1``;
- :func:`allowed_words` -- the words of a length that a generator can emit, with their
  exact probabilities, enumerated without visiting impossible branches.

Words are int64 arrays ``(M, L)``; word ``i`` of :func:`all_words` is the base-``V``
expansion of ``i`` (first symbol most significant), so ``all_words(V, L)[i]`` is the
word with mixed-radix code ``i``.

Examples
--------
>>> all_words(2, 3).tolist()
[[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]]
>>> from generators import library
>>> w, p = allowed_words(library.golden_mean(), 3)     # no two consecutive 1s
>>> w.tolist(), p.round(4).tolist()
([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 0, 1]], [0.1667, 0.1667, 0.3333, 0.1667, 0.1667])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import TooManyWordsError
from .validation import check_int

__all__ = ["all_words", "words_upto", "allowed_words", "word_codes", "MAX_WORDS"]

#: default cap on the number of words any enumeration here materializes
MAX_WORDS = 10_000_000


def all_words(V: int, L: int, *, max_words: int = MAX_WORDS) -> np.ndarray:
    """All ``V**L`` words of length ``L`` over ``0..V-1`` in lexicographic order, ``(V**L, L)`` int64.

    Cost ``O(V**L L)`` time and memory; raises :class:`TooManyWordsError` (a ValueError)
    above ``max_words`` words.
    """
    V = check_int(V, "V", minimum=1)
    L = check_int(L, "L", minimum=0)
    count = V ** L
    if count > max_words:
        raise TooManyWordsError(f"{V}**{L} = {count:,} words exceed max_words={max_words:,}; "
                                "use a shorter length or raise max_words")
    if L == 0:
        return np.zeros((1, 0), dtype=np.int64)
    idx = np.arange(count, dtype=np.int64)
    powers = V ** np.arange(L - 1, -1, -1, dtype=np.int64)
    return (idx[:, None] // powers[None, :]) % V


def words_upto(V: int, L: int, *, max_words: int = MAX_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """All words of length ``0..L``, shortest first, each length in lexicographic order.

    Returns ``(words (M, L) int64 padded with -1, lengths (M,) int64)`` with
    ``M = sum_l V**l``.
    """
    V = check_int(V, "V", minimum=1)
    L = check_int(L, "L", minimum=0)
    total = sum(V ** l for l in range(L + 1))
    if total > max_words:
        raise TooManyWordsError(f"{total:,} words of length <= {L} over {V} symbols exceed max_words={max_words:,}")
    out = np.full((total, L), -1, dtype=np.int64)
    lengths = np.empty(total, dtype=np.int64)
    row = 0
    for l in range(L + 1):  # loop over lengths only
        w = all_words(V, l, max_words=max_words)
        out[row:row + w.shape[0], :l] = w
        lengths[row:row + w.shape[0]] = l
        row += w.shape[0]
    return out, lengths


def word_codes(words: Any, V: int) -> np.ndarray:
    """Mixed-radix codes ``sum_t w_t V**(L-1-t)`` of words ``(..., L) -> (...)`` int64
    (the row index of the word in :func:`all_words`)."""
    w = np.asarray(words, dtype=np.int64)
    powers = V ** np.arange(w.shape[-1] - 1, -1, -1, dtype=np.int64)
    return w @ powers


def allowed_words(g: Any, length: int, *, max_words: int = MAX_WORDS, tol: float = 1e-12,
                  initial: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The words of ``length`` that ``g`` emits with probability ``> tol``, with their probabilities.

    Enumerated one symbol at a time from the GHMM form, pruning prefixes of probability
    ``<= tol``, so the cost is proportional to the allowed words (``O(M V n^2)`` for ``M``
    allowed prefixes per level), not to ``V**length``.

    Parameters
    ----------
    g : Generator
    length : int >= 0
    max_words : int
        Raise :class:`TooManyWordsError` rather than enumerate more words than this.
    tol : float >= 0
        Prefixes of (unnormalized) probability at or below ``tol`` are pruned.
    initial : (n,) GHMM belief, optional
        Start here instead of the generator's initial belief; it must be a valid belief
        of ``g.to_ghmm()`` (:meth:`generators.Generator.check_state`).

    Returns
    -------
    words : (M, length) int64, lexicographic order
    probs : (M,) float64, ``Pr(w)`` renormalized to sum 1 over the allowed words (the
        pruned mass is at most ``V**length * tol``).
    """
    from .base import check_generator
    from .validation import check_real

    h = check_generator(g).to_ghmm()
    length = check_int(length, "length", minimum=0)
    max_words = check_int(max_words, "max_words", minimum=1)
    tol = check_real(tol, "tol", minimum=0.0)
    V = h.alphabet_size
    words = np.zeros((1, 0), dtype=np.int64)
    vec = (h.initial if initial is None else h.check_state(initial, name="initial"))[None, :].copy()
    flat = h.operators.transpose(1, 0, 2).reshape(h.dim, V * h.dim)
    for _ in range(length):
        M = words.shape[0]
        if M * V > 4 * max_words:
            raise TooManyWordsError(f"more than {max_words:,} allowed words of length {length}; "
                                    "sample sequences instead, or use a shorter length")
        nv = (vec @ flat).reshape(M * V, h.dim)
        p = nv @ h.tau
        keep = p > tol
        words = np.concatenate([np.repeat(words, V, axis=0), np.tile(np.arange(V), M)[:, None]], axis=1)[keep]
        vec = nv[keep]
    if words.shape[0] > max_words:
        raise TooManyWordsError(f"{words.shape[0]:,} allowed words of length {length} exceed "
                                f"max_words={max_words:,}; sample sequences instead")
    probs = vec @ h.tau
    return words, probs / probs.sum()
