"""Searching a GHMM for words of negative probability.

A GHMM ``(T, tau, initial)`` defines a process only if ``Pr(w) = initial T[w1] ... T[wL] tau``
is nonnegative for *every* word.  Deciding this is undecidable in general (it contains the
positivity problem of linear recurrences and the emptiness problem of probabilistic
automata [1]_), so every check here is bounded: it proves nothing about words longer than
the ones it examined, and a negative word it misses is not evidence of validity.

Two checks share one engine (:func:`search_negative_words`):

- :meth:`GHMM.__init__ <generators.GHMM>` runs the **exhaustive** part only: every word up
  to length ``check_words_upto`` (default 6), stopping at the first length with more than
  4096 words.
- :func:`check_nonnegative` goes further: after the exhaustive levels it continues with a
  **beam search** over prefixes and a search over **repeated short cycles**.

The engine works on a *forward* vector ``v_u = initial T[u]`` (kept normalized,
``v_u / |v_u|``) and a bank of *backward* vectors ``b_s = T[s] tau`` for every suffix ``s``
up to a short length (also normalized).  The **margin** of the split ``w = u s`` is the
cosine

    m(u, s) = Pr(u s) / (|initial T[u]| |T[s] tau|)  in [-1, 1],

scale-free, so long words with tiny probabilities are judged as sharply as short ones.
Every normalized vector carries a bound on its rounding error: a step ``v -> v T[x]``
multiplies the relative error by the cancellation factor ``|T[x]|_2 / |v T[x]|`` (plus
``n eps``).  A word is reported negative when ``m + (bounds) < -tol``, so a reported
negative is negative beyond rounding.  A vector whose direction is known to worse than
``LOST = 1e-6`` is treated as zero and dropped (an impossible prefix, e.g. a forbidden
word computed as ``1e-17`` instead of 0): its extensions are not resolvable in floating
point.

- Exhaustive levels: all prefixes of each length, each tested against the whole bank,
  so every word up to ``exhaustive length + bank length`` is examined.
- Beam (beyond the exhaustive levels): prefixes are ranked by their *danger*
  ``min_s m(u, s)`` over the bank -- the forward vectors closest to leaving the cone
  where every short continuation is nonnegative; margins within ``tol`` of zero are
  structural zeros (forbidden words) and do not count -- duplicates (equal normalized
  vectors) are merged, and the ``beam_width`` most dangerous are expanded by every symbol.
- Cycles: for every word ``c`` up to ``cycle_length`` and every start (the initial vector
  and each one-symbol prefix), the powers ``v T[c]^k`` are tested against the bank for
  ``k |c| <= max_length``.  Rotation-like operators (a complex eigenvalue pair turning a
  probability negative after many steps) are caught by these words even when the beam
  ranks their early prefixes as harmless.

Cost, for ``n = dim``, ``V`` symbols and a bank of ``K`` suffixes: exhaustive levels
``O(V^L (n^2 + K n))`` per level (at most ``exhaustive_words`` prefixes each), beam
``O(max_length beam_width V (n^2 + K n))``, cycles ``O(C (V + 1) max_length (n^2 + K n))``
for ``C`` cycle words.  With the defaults (bank and cycle words up to 256, beam 256,
``max_length`` 32) this is a few million ``n``-vector products: well under a second for
``n <= 20``.

References
----------
.. [1] V. D. Blondel, V. Canterini, "Undecidable problems for probabilistic automata of
   fixed dimension", Theory Comput. Syst. 36 (2003); A. Paz, "Introduction to
   probabilistic automata" (1971).  For GHMMs (quasi-realizations): M. Fanizza et al.,
   arXiv:1509.04208.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import NegativeProbabilityError, ShapeError
from .words import all_words

__all__ = ["NonnegativityResult", "check_nonnegative", "search_negative_words"]

@dataclass(frozen=True)
class NonnegativityResult:
    """Outcome of a bounded search for negative word probabilities.

    Attributes
    ----------
    found : bool
        True if some examined word has margin ``< -tol`` (a negative probability).
    word : tuple of int or None
        The examined word with the smallest margin (the negative one when ``found``);
        None if no word of positive length was examined.
    probability : float
        ``Pr(word)`` computed directly as ``initial T[word] tau``.
    margin : float
        ``Pr(u s) / (|initial T[u]| |T[s] tau|)`` at the split where the word was examined,
        plus its rounding-error bound (negative means negative beyond rounding).
    exhaustive_length : int
        Every word up to this length was examined.
    max_length : int
        The longest word examined (beam prefixes and cycle powers plus a bank suffix).
    n_words : int
        Number of (prefix, suffix) pairs whose margin was computed.
    method : str
        What was run, e.g. ``"exhaustive<=8 + beam(256) + cycles(<=4), words <= 38"``.
    """

    found: bool
    word: tuple | None
    probability: float
    margin: float
    exhaustive_length: int
    max_length: int
    n_words: int
    method: str

    def summary(self) -> str:
        head = "NEGATIVE word found" if self.found else "no negative word found"
        w = "-" if self.word is None else "".join(map(str, self.word)) if max(self.word, default=0) < 10 \
            else str(self.word)
        return (f"{head}: worst word {w} (length {0 if self.word is None else len(self.word)}), "
                f"Pr = {self.probability:.6g}, margin {self.margin:.3g}; all words up to length "
                f"{self.exhaustive_length} examined, searched to length {self.max_length} "
                f"({self.n_words} words; {self.method}).  Longer words were not examined.")

    def error(self) -> NegativeProbabilityError:
        """The :class:`NegativeProbabilityError` describing a found negative word."""
        return NegativeProbabilityError(
            f"word {self.word} has probability {self.probability:.6g} < 0; a GHMM must give every "
            f"word a nonnegative probability (all words up to length {self.exhaustive_length} were "
            f"examined, selected words up to length {self.max_length} by {self.method})"
        )


def check_nonnegative(g, max_length: int = 32, *, beam_width: int = 256, exhaustive_words: int = 4096,
                      bank_words: int = 256, cycle_words: int = 256, tol: float = 1e-9,
                      raise_error: bool = False) -> NonnegativityResult:
    """Search a generator for words of negative probability, beyond exhaustive enumeration.

    Parameters
    ----------
    g : Generator
        Any generator (its GHMM form is searched).
    max_length : int, default 32
        Depth of the prefix search; words up to ``max_length`` plus the bank's suffix
        length are examined (see :attr:`NonnegativityResult.max_length`).
    beam_width : int, default 256
        Prefixes kept per level once a level has more than ``exhaustive_words`` words.
    exhaustive_words : int, default 4096
        Levels with at most this many prefixes are enumerated completely.
    bank_words : int, default 256
        Size cap of the suffix bank (all suffixes up to the largest length that fits).
    cycle_words : int, default 256
        Size cap of the set of cycle words (all words up to the largest length that fits).
    tol : float, default 1e-9
        A word is negative when its margin (a cosine, see the module docstring) is below
        ``-tol``.
    raise_error : bool, default False
        Raise :class:`~generators.NegativeProbabilityError` when a negative word is found.

    Returns
    -------
    NonnegativityResult

    Notes
    -----
    Nonnegativity of all words is undecidable in general; ``found=False`` means only that
    this bounded search found nothing.  Cost: see the module docstring.

    Examples
    --------
    A renewal process whose survival function ``0.9^k (0.49 + 0.51 cos(k pi/8))`` turns
    negative at ``k = 8`` passes the construction check (words up to length 6):

    >>> import numpy as np
    >>> from generators import GHMM
    >>> c, s = np.cos(np.pi / 8), np.sin(np.pi / 8)
    >>> T0 = 0.9 * np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    >>> tau, mu = np.array([1.0, 1, 0]), np.array([0.49, 0.51, 0])
    >>> g = GHMM([T0, np.outer(tau - T0 @ tau, mu)], tau)
    >>> r = check_nonnegative(g)
    >>> r.found, len(r.word), bool(g.word_probability(r.word) < 0)
    (True, 9, True)
    """
    h = g.to_ghmm()
    for name, val in (("max_length", max_length), ("beam_width", beam_width), ("exhaustive_words", exhaustive_words),
                      ("bank_words", bank_words), ("cycle_words", cycle_words)):
        _check_count(name, val, minimum=1 if name in ("beam_width", "bank_words") else 0)
    if isinstance(tol, bool) or not np.isfinite(tol) or tol < 0:
        raise ShapeError(f"tol must be a finite number >= 0; got {tol!r}")
    result = search_negative_words(h.operators, h.tau, h.initial, max_length, beam_width=beam_width,
                                   exhaustive_words=exhaustive_words, bank_words=bank_words,
                                   cycle_words=cycle_words, tol=tol)
    if raise_error and result.found:
        raise result.error()
    return result


def search_negative_words(operators: np.ndarray, tau: np.ndarray, initial: np.ndarray, max_length: int, *,
                          beam_width: int = 256, exhaustive_words: int = 4096, bank_words: int = 256,
                          cycle_words: int = 256, tol: float = 1e-9) -> NonnegativityResult:
    """The search engine on raw arrays ``(V, n, n), (n,), (n,)`` (see the module docstring).

    ``beam_width=0`` and ``cycle_words=0`` give the exhaustive check alone (what
    :class:`~generators.GHMM` runs at construction, with ``bank_words=1``: the empty suffix).
    """
    T = np.asarray(operators, dtype=float)
    opnorm = np.linalg.norm(T, ord=2, axis=(1, 2))
    bank = _Bank(T, np.asarray(tau, dtype=float), bank_words, opnorm)
    best = _Best(tol)
    start = np.asarray(initial, dtype=float)[None, :]
    ex_len, depth = _prefix_search(T, start, bank, opnorm, max_length, beam_width, exhaustive_words, best)
    k = bank.k  # the bank holds every live suffix up to this length
    parts = [f"all prefixes <= {ex_len}"]
    if depth > ex_len:
        parts.append(f"beam({beam_width}) prefixes <= {depth}")
    searched = depth + k
    if cycle_words and not best.found:
        c = _cycle_search(T, start, bank, opnorm, max_length, cycle_words, best)
        parts.append(f"cycle powers (cycles <= {c}) <= {max_length}")
        searched = max(searched, max_length + k)
    word = best.word()
    prob = float("nan") if word is None else _word_probability(T, tau, initial, word)
    return NonnegativityResult(found=best.found, word=word, probability=prob, margin=best.margin,
                               exhaustive_length=ex_len + k, max_length=searched, n_words=best.count,
                               method=" + ".join(parts) + f", times every suffix <= {k}; tol {tol:g}")


# ---------------------------------------------------------------------- engine parts
EPS = np.finfo(float).eps


class _Best:
    """Running minimum of the conservative margin over examined (prefix, suffix) pairs."""

    def __init__(self, tol: float):
        self.tol, self.margin, self.count = tol, np.inf, 0
        self.prefix: np.ndarray | None = None
        self.suffix: np.ndarray | None = None

    @property
    def found(self) -> bool:
        return self.margin < -self.tol

    def update(self, margins: np.ndarray, prefixes: np.ndarray, suffixes: np.ndarray) -> None:
        """``margins`` (P, K), rounding bounds added, for prefix words (P, L) against
        suffix words (K, k)."""
        self.count += margins.size
        if margins.size == 0:
            return
        i, j = np.unravel_index(int(np.argmin(margins)), margins.shape)
        if margins[i, j] < self.margin:
            self.margin = float(margins[i, j])
            self.prefix, self.suffix = prefixes[i].copy(), suffixes[j].copy()

    def word(self) -> tuple | None:
        if self.prefix is None:
            return None
        w = tuple(int(x) for x in np.concatenate([self.prefix, _strip(self.suffix)]))
        return w or None


class _Bank:
    """Unit backward vectors ``b_s = T[s] tau / |T[s] tau|`` (K, n) of all live suffixes up
    to length ``k``, their words padded with -1 (K, k) and rounding bounds ``err`` (K,)."""

    def __init__(self, T: np.ndarray, tau: np.ndarray, cap: int, opnorm: np.ndarray):
        n = T.shape[1]
        self.k = k = _level_cap(T.shape[0], cap)
        t = tau / np.linalg.norm(tau)
        words, vecs, errs = [np.full((1, k), -1, dtype=np.int64)], [t[None, :]], [np.full(1, n * EPS)]
        cur_w, cur_v, cur_e = np.zeros((1, 0), dtype=np.int64), t[None, :], np.full(1, n * EPS)
        for _ in range(k):
            child = np.einsum("xij,bj->bxi", T, cur_v)  # T[x] b for every b and x: suffix x + s
            cur_v, cur_e, b, x = _unit_children(child, cur_e, opnorm, n)
            cur_w = np.concatenate([x[:, None], cur_w[b]], axis=1)
            words.append(np.concatenate([cur_w, np.full((len(b), k - cur_w.shape[1]), -1, dtype=np.int64)], axis=1))
            vecs.append(cur_v)
            errs.append(cur_e)
        self.words, self.vecs, self.err = np.concatenate(words), np.vstack(vecs), np.concatenate(errs)

    def margins(self, v: np.ndarray, err: np.ndarray) -> np.ndarray:
        """Cosines ``v . b_s`` (P, K) plus their rounding bounds (conservative margins)."""
        n = v.shape[-1]
        return v @ self.vecs.T + err[..., None] + self.err + n * EPS


#: a forward or backward direction known to worse than this (relative) counts as zero
LOST = 1e-6


def _unit_children(child: np.ndarray, err: np.ndarray, bound: np.ndarray, n: int):
    """Normalize children ``child`` (P, V, n) of unit parents with rounding bounds ``err``
    (P,); ``bound`` (V,) bounds ``|T[x]|``.  The relative error of a child grows by the
    cancellation factor ``bound / |child|``: ``err' = (err + n eps) bound / |child|``.
    Returns the live children (those with ``err' <= LOST``), their bounds, and the
    (parent, symbol) indices."""
    norms = np.linalg.norm(child, axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for a zero operator: NaN, dropped
        new = (err[:, None] + n * EPS) * bound[None, :] / norms
    b, x = np.nonzero(new <= LOST)
    return child[b, x] / norms[b, x][:, None], new[b, x], b, x


def _prefix_search(T, start, bank, opnorm, max_length, beam_width, cap, best) -> tuple[int, int]:
    """Exhaustive levels, then the beam; returns the last completely enumerated prefix
    length and the deepest prefix length reached."""
    V, n = T.shape[0], T.shape[1]
    flat = T.transpose(1, 0, 2).reshape(n, V * n)
    v, err = start / np.linalg.norm(start), np.full(1, n * EPS)
    words = np.zeros((1, 0), dtype=np.int64)
    margins = bank.margins(v, err)
    best.update(margins, words, bank.words)
    exhaustive, ex_len, depth = True, 0, 0
    for L in range(1, max_length + 1):
        if best.found or v.shape[0] == 0:
            break
        if exhaustive and v.shape[0] * V > cap:
            if not beam_width:
                break
            exhaustive = False
        if not exhaustive:  # rank by the smallest margin not indistinguishable from zero
            danger = np.where(margins > best.tol, margins, np.inf).min(axis=1)
            keep = _beam(v, danger, beam_width)
            v, err, words = v[keep], err[keep], words[keep]
        v, err, b, x = _unit_children((v @ flat).reshape(-1, V, n), err, opnorm, n)
        words = np.concatenate([words[b], x[:, None]], axis=1)
        margins = bank.margins(v, err)
        best.update(margins, words, bank.words)
        depth = L
        if exhaustive:
            ex_len = L
    if exhaustive and v.shape[0] == 0:  # every prefix died: all longer words have probability 0
        ex_len = depth = max_length
    return ex_len, depth


def _beam(v: np.ndarray, danger: np.ndarray, width: int) -> np.ndarray:
    """Indices of the ``width`` most dangerous distinct forward vectors (smallest danger)."""
    _, first = np.unique(np.round(v, 9), axis=0, return_index=True)
    order = first[np.argsort(danger[first], kind="stable")]
    return np.sort(order[:width])


def _cycle_search(T, start, bank, opnorm, max_length, cap, best) -> int:
    """Powers of every cycle word up to the cap's length, from the initial vector and
    from each one-symbol prefix, tested against the bank after each full cycle; returns
    the longest cycle length used."""
    V, n = T.shape[0], T.shape[1]
    s0 = start / np.linalg.norm(start)
    one, err1, _, first = _unit_children(np.einsum("bi,xij->bxj", s0, T), np.full(1, n * EPS), opnorm, n)
    starts, serr = np.vstack([s0, one]), np.concatenate([[n * EPS], err1])
    start_words = [[]] + [[int(x)] for x in first]
    for ell in range(1, _level_cap(V, cap) + 1):
        cyc = all_words(V, ell)
        P = np.broadcast_to(np.eye(n), (cyc.shape[0], n, n)).copy()
        for t in range(ell):
            P = P @ T[cyc[:, t]]
        pn = np.prod(opnorm[cyc], axis=1)  # bound on |T[c]|: a nilpotent T[c] is a zero, not a direction
        S, C = len(starts), len(cyc)
        v, err = np.broadcast_to(starts[:, None, :], (S, C, n)), np.broadcast_to(serr[:, None], (S, C))
        for k in range(1, max_length // ell + 1):
            child = np.einsum("scj,cjk->sck", v, P)
            norms = np.linalg.norm(child, axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                err = (err + ell * n * EPS) * pn[None, :] / norms
            alive = err <= LOST
            v = np.where(alive[..., None], child / np.where(alive, norms, 1.0)[..., None], 0.0)
            m = np.where(alive[..., None], bank.margins(v, np.where(alive, err, 0.0)), np.inf)  # (S, C, K)
            s, c = np.unravel_index(int(np.argmin(m.min(axis=2))), m.shape[:2])
            pre = np.array(start_words[s] + list(np.tile(cyc[c], k)), dtype=np.int64)
            best.update(m[s, c][None, :], pre[None, :], bank.words)
            best.count += m.size - m.shape[2]
            if best.found:
                return ell
            if not alive.any():
                break
    return _level_cap(V, cap)


def _level_cap(V: int, cap: int) -> int:
    """Largest ``k`` with ``1 + V + ... + V^k <= cap`` (0 if only the empty word fits)."""
    k, total = 0, 1
    while total + V ** (k + 1) <= cap:
        k += 1
        total += V**k
    return k


def _strip(w: np.ndarray) -> np.ndarray:
    return w[w >= 0]


def _word_probability(T, tau, initial, word) -> float:
    v = np.asarray(initial, dtype=float)
    for x in word:
        v = v @ T[x]
    return float(v @ tau)


def _check_count(name: str, val, minimum: int = 0) -> None:
    if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < minimum:
        raise ShapeError(f"{name} must be an integer >= {minimum}; got {val!r}")
