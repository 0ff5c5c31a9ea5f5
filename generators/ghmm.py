"""Generalized hidden Markov models: the linear form every generator shares.

A GHMM is real operators ``T`` of shape ``(V, n, n)``, a column ``tau`` (n,) with
``sum_x T[x] @ tau == tau`` and an initial row ``initial`` (n,) with
``initial @ tau == 1``.  Word probabilities are ``initial T[w1] ... T[wL] tau``; the
belief after a symbol is ``eta' = eta T[x] / (eta T[x] tau)``.  Entries may be
negative (post-quantum processes) as long as every word probability is nonnegative.

The batched kernels here (word probabilities, the forward filter, sampling) are the fast
path of every generator class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._linalg import eigvec_for_one
from .base import (Generator, as_rng, check_belief_rule, check_name, check_sample_size, check_symbol, check_words,
                   real_state, zero_probability)
from .errors import GeneratorError, NegativeProbabilityError, ShapeError, StateError
from .limits import check_bytes
from .validation import check_int, check_real, check_real_array

__all__ = ["GHMM", "ZERO_TOL"]

#: conditional probabilities at or below this are treated as exact zeros (pruned branches)
ZERO_TOL = 1e-13


class GHMM(Generator):
    """A generalized HMM ``(operators, tau, initial)`` in row-vector convention.

    Parameters
    ----------
    operators : array_like, shape (V, n, n)
        Real operators ``T[x]``.
    tau : array_like, shape (n,), optional
        Right fixed point of ``sum_x T[x]``; default the right eigenvector for eigenvalue
        1, scaled so that ``initial @ tau == 1`` when ``initial`` is given, else with its
        largest entry 1.
    initial : array_like, shape (n,), optional
        Initial belief; default the stationary one (left eigenvector of ``sum_x T[x]``
        for eigenvalue 1), normalized by ``initial @ tau = 1``.
    check_words_upto : int, default 6
        Verify that all words up to this length have nonnegative probability, stopping
        before the first length with more than 4096 words (so ``V = 5`` symbols are checked
        up to length 5); raises :class:`NegativeProbabilityError` otherwise.  Longer words
        are *not* checked -- nonnegativity of all words is undecidable in general; use
        :func:`generators.check_nonnegative` for a deeper bounded search.  ``0`` skips it.

    Raises
    ------
    ArgumentError, ShapeError, GeneratorError, StateError (all ValueError)
        Non-real, boolean, NaN or infinite entries (complex entries with a zero imaginary
        part are taken as real), wrong shapes, a ``tau`` that is not a fixed point, an
        ``initial`` that breaks the state rule of :mod:`generators.base`.
    """

    kind = "post-quantum"

    def __init__(self, operators: Any, tau: Any = None, initial: Any = None, *, check_words_upto: int = 6,
                 name: str | None = None):
        T = check_real_array(operators, "operators")
        if T.ndim != 3 or T.shape[1] != T.shape[2] or T.shape[0] < 1 or T.shape[1] < 1:
            raise ShapeError(f"operators must have shape (V, n, n) with V, n >= 1; got {T.shape}")
        check_words_upto = check_int(check_words_upto, "check_words_upto", minimum=0)
        V, n, _ = T.shape
        total = T.sum(axis=0)
        if initial is not None:
            initial = real_state(initial, "initial", n, f"a belief of this {n}-dimensional GHMM", False)
        if tau is None:
            tau = eigvec_for_one(total, side="right", what="GHMM tau")
            if initial is not None:
                s = float(initial @ tau)
                if abs(s) < 1e-12:
                    raise GeneratorError("default tau is orthogonal to the given initial state")
                tau = tau / s
        tau = check_real_array(tau, "tau")
        if tau.shape != (n,):
            raise ShapeError(f"tau must have shape ({n},); got {tau.shape}")
        resid = np.abs(total @ tau - tau).max()
        if resid > 1e-9 * max(1.0, np.abs(tau).max()):
            raise GeneratorError(
                f"tau is not a fixed point of sum_x T[x]: |sum_x T[x] tau - tau| = {resid:.3g}; "
                "pass tau=None to use the right eigenvector for eigenvalue 1"
            )
        if initial is None:
            initial = eigvec_for_one(total, side="left", what="GHMM stationary state")
            s = float(initial @ tau)
            if abs(s) < 1e-12:
                raise GeneratorError("stationary left eigenvector is orthogonal to tau; give `initial`")
            initial = initial / s
        self.operators = T
        self.tau = tau
        # the construction checks eta @ tau = 1 only: the sign of eta T[x] tau is part of
        # the word check (length 1), which check_words_upto=0 deliberately skips
        self.initial = check_belief_rule(initial, tau, np.zeros((0, n)), "initial",
                                         f"a belief of this {n}-dimensional GHMM")
        self.name = check_name(name)
        self._ghmm_cache = self
        if check_words_upto:
            self._check_nonnegative(check_words_upto)

    # ------------------------------------------------------------------ interface
    @property
    def alphabet_size(self) -> int:
        return self.operators.shape[0]

    @property
    def dim(self) -> int:
        return self.operators.shape[1]

    @property
    def initial_state(self) -> np.ndarray:
        return self.initial.copy()

    def _build_ghmm(self) -> "GHMM":
        return self

    def to_native(self, eta: np.ndarray) -> np.ndarray:
        return np.asarray(eta, dtype=float)

    def from_native(self, state: Any) -> np.ndarray:
        """Beliefs as given (a GHMM's native states are its beliefs); no validation:
        user-given states go through :meth:`check_state`."""
        eta = np.asarray(state, dtype=float)
        if eta.shape[-1:] != (self.dim,):
            raise ShapeError(f"a GHMM state must have last dimension {self.dim}; got shape {eta.shape}")
        return eta

    # ------------------------------------------------------------------ derived arrays
    @property
    def symbol_vectors(self) -> np.ndarray:
        """``T[x] @ tau`` for every symbol, shape ``(V, n)``: ``Pr(x | eta) = eta @ T[x] @ tau``."""
        cached = self.__dict__.get("_symbol_vectors")
        if cached is None:
            cached = self.__dict__["_symbol_vectors"] = self.operators @ self.tau
        return cached

    def with_initial(self, initial: Any) -> "GHMM":
        """The same operators and tau started from another belief (valid by :meth:`check_state`)."""
        return GHMM(self.operators, self.tau, self.check_state(initial, name="initial"), check_words_upto=0,
                    name=self.name)

    def similarity(self, S: Any) -> "GHMM":
        """The equivalent GHMM in new coordinates: ``T' = S^-1 T S``, ``tau' = S^-1 tau``,
        ``initial' = initial S`` (same process, beliefs ``eta' = eta S``)."""
        S = check_real_array(S, "S", shape=(self.dim, self.dim))
        if np.linalg.cond(S) > 1e12:
            raise ShapeError(f"S must be an invertible {self.dim}x{self.dim} matrix; its condition number is "
                             f"{np.linalg.cond(S):.3g}")
        Si = np.linalg.inv(S)
        return GHMM(Si @ self.operators @ S, Si @ self.tau, self.initial @ S, check_words_upto=0, name=self.name)

    # ------------------------------------------------------------------ Bayes on beliefs
    def update(self, state: Any, x: int) -> np.ndarray:
        return self._update_belief(self.check_state(state), check_symbol(x, self.alphabet_size))

    def _update_belief(self, eta: np.ndarray, x: int) -> np.ndarray:
        """``eta T[x] / (eta T[x] tau)`` for a checked belief and symbol."""
        v = eta @ self.operators[x]
        p = float(v @ self.tau) / float(eta @ self.tau)
        if p <= ZERO_TOL:
            raise zero_probability(x, p)
        return v / float(v @ self.tau)

    # ------------------------------------------------------------------ batched kernels
    def word_probability(self, words: Any, state: Any = None, *, initial: Any = None) -> np.ndarray:
        w = check_words(words, self.alphabet_size)
        eta = self._start(state, initial)
        self._check_batch_bytes(w)
        lead, L = w.shape[:-1], w.shape[-1]
        flat = w.reshape(int(np.prod(lead)), L)
        if flat.shape[0] >= 2048 and L >= 4 and (L - L // 2) * np.log2(self.alphabet_size) < 62:
            return self._meet_in_middle(flat, eta).reshape(lead)
        return (_products(self.operators, flat, eta) @ self.tau).reshape(lead)

    def log_word_probability(self, words: Any, state: Any = None, *, initial: Any = None) -> np.ndarray:
        w = check_words(words, self.alphabet_size)
        self._check_batch_bytes(w)
        lead, L = w.shape[:-1], w.shape[-1]
        _, logp = self.forward(w.reshape(int(np.prod(lead)), L), initial=self._start(state, initial), keep_beliefs=False)
        return logp.reshape(lead)

    def forward(self, words: Any, *, initial: Any = None, keep_beliefs: bool = True, zero_tol: float = ZERO_TOL):
        """Forward filter: normalized beliefs and log prefix probabilities of a batch of words.

        Parameters
        ----------
        words : int array (B, L)
        initial : (n,) or (B, n), optional
            Starting belief(s), default :attr:`initial`; each must be valid
            (:meth:`check_state`: ``eta @ tau = 1``, nonnegative next-symbol probabilities).
        keep_beliefs : bool
            If False, only the final beliefs are returned (memory ``B x n``).  Kept
            beliefs above :data:`generators.limits.MAX_BYTES` are refused.
        zero_tol : float >= 0, finite
            A conditional probability ``Pr(x | prefix) <= zero_tol`` marks the prefix as
            impossible: from then on its log probability is ``-inf`` and its belief the
            zero vector (never NaN).

        Returns
        -------
        beliefs : (B, L+1, n) float64 (or (B, n) final beliefs if not ``keep_beliefs``)
        log_prefix : (B, L+1) float64 natural-log prefix probabilities (``(B,)`` final if
            not ``keep_beliefs``).
        """
        w = check_words(words, self.alphabet_size)
        if w.ndim != 2:
            raise ShapeError(f"forward expects words of shape (B, L); got {w.shape}")
        B, L = w.shape
        eta0, zero_tol = self._forward_args(B, L, initial, keep_beliefs, zero_tol)
        self._check_batch_bytes(w)
        eta = np.array(np.broadcast_to(eta0, (B, self.dim)), dtype=float)
        eta /= (eta @ self.tau)[:, None]
        logp = np.zeros(B)
        if keep_beliefs:
            beliefs = np.empty((B, L + 1, self.dim))
            logs = np.empty((B, L + 1))
            beliefs[:, 0] = eta
            logs[:, 0] = 0.0
        for t in range(L):
            v = self._apply(eta, w[:, t])
            c = v @ self.tau
            ok = c > zero_tol
            with np.errstate(divide="ignore", invalid="ignore"):
                eta = np.where(ok[:, None], v / np.where(ok, c, 1.0)[:, None], 0.0)
                logp = np.where(ok, logp + np.log(np.where(ok, c, 1.0)), -np.inf)
            if keep_beliefs:
                beliefs[:, t + 1] = eta
                logs[:, t + 1] = logp
        if keep_beliefs:
            return beliefs, logs
        return eta, logp

    def sample(self, n: int, length: int, seed=None, state: Any = None, return_beliefs: bool = False,
               *, initial: Any = None):
        rng = as_rng(seed)
        n, length, return_beliefs = check_sample_size(n, length, self.dim, self.alphabet_size, return_beliefs)
        eta = np.array(np.broadcast_to(self._start(state, initial), (n, self.dim)), dtype=float)
        V, d = self.alphabet_size, self.dim
        words = np.empty((n, length), dtype=np.int64)
        beliefs = np.empty((n, length + 1, d)) if return_beliefs else None
        if return_beliefs:
            beliefs[:, 0] = eta
        flat_ops = self.operators.transpose(1, 0, 2).reshape(d, V * d)
        rows = np.arange(n)
        for t in range(length):
            nxt = (eta @ flat_ops).reshape(n, V, d)  # eta T[x] for all x at once
            probs = nxt @ self.tau  # (n, V)
            x = _draw(probs, rng)
            v = nxt[rows, x]
            eta = v / (v @ self.tau)[:, None]
            words[:, t] = x
            if return_beliefs:
                beliefs[:, t + 1] = eta
        return (words, beliefs) if return_beliefs else words

    # ------------------------------------------------------------------ internals
    def _start(self, state: Any, initial: Any) -> np.ndarray:
        """The starting belief of ``state=`` / ``initial=`` (synonyms for a GHMM), checked."""
        if state is not None and initial is not None:
            raise StateError("give either state or initial, not both (they are the same thing for a GHMM)")
        if state is None and initial is None:
            return self.initial
        return self.check_state(initial if state is None else state, name="initial" if state is None else "state")

    def _check_batch_bytes(self, w: np.ndarray) -> None:
        """Refuse batches whose working arrays (about ``3 B n`` floats, ``B V n`` for small
        ``V n``) exceed the memory cap."""
        B = int(np.prod(w.shape[:-1], dtype=np.int64))
        check_bytes(8.0 * B * self.dim * max(3, self.alphabet_size if self.alphabet_size * self.dim <= 512 else 0),
                    f"word probabilities of {B} words: the {B} x {self.dim} partial products")

    def _forward_args(self, B: int, L: int, initial: Any, keep_beliefs: Any, zero_tol: Any):
        """Checked ``(initial (n,) or (B, n), zero_tol)`` of :meth:`forward`; refuses kept
        beliefs above the memory cap."""
        zero_tol = check_real(zero_tol, "zero_tol", minimum=0.0)
        if not isinstance(keep_beliefs, (bool, np.bool_)):
            raise ShapeError(f"keep_beliefs must be True or False; got {keep_beliefs!r}")
        if keep_beliefs:
            check_bytes(8.0 * B * (L + 1) * (self.dim + 1), f"forward on {B} words of length {L}: the beliefs")
        if initial is None:
            return self.initial, zero_tol
        eta0 = self.check_state(initial, name="initial", batch=True)
        if eta0.ndim > 2 or (eta0.ndim == 2 and eta0.shape[0] != B):
            raise StateError(f"initial must be one belief ({self.dim},) or one per word ({B}, {self.dim}); "
                             f"got shape {eta0.shape}")
        return eta0, zero_tol

    def _apply(self, v: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Rows ``v[b] @ T[x[b]]`` for a batch: (B, n), (B,) -> (B, n)."""
        return _apply(self.operators, v, x)

    def _meet_in_middle(self, words: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """``Pr(w) = (eta T[u]) . (T[v] tau)`` with ``w = u v`` split in half, each half
        computed once per *distinct* half-word (a batch of many words shares halves:
        all 3^10 words have only 3^5 distinct halves)."""
        h = words.shape[1] // 2
        ul, il = _unique_rows(words[:, :h], self.alphabet_size)
        ur, ir = _unique_rows(words[:, h:], self.alphabet_size)
        fwd = _products(self.operators, ul, eta)
        # (T[v1] ... T[vk] tau)^T = tau^T T[vk]^T ... T[v1]^T: the transposed automaton read backwards
        bwd = _products(self.operators.transpose(0, 2, 1), ur[:, ::-1], self.tau)
        return np.einsum("bi,bi->b", fwd[il], bwd[ir])

    def _check_nonnegative(self, upto: int) -> None:
        """The construction check: every word up to length ``upto`` (stopping before the
        first length with more than 4096 words) must have nonnegative probability.
        Longer words are not examined; :func:`generators.check_nonnegative` searches
        further (beam over prefixes, repeated cycles)."""
        from .nonnegativity import search_negative_words

        r = search_negative_words(self.operators, self.tau, self.initial, upto, beam_width=0,
                                  exhaustive_words=4096, bank_words=1, cycle_words=0)
        if r.found:
            raise NegativeProbabilityError(
                f"word {r.word} has probability {r.probability:.6g} < 0; a GHMM must give every word a "
                f"nonnegative probability (checked all words up to length {r.exhaustive_length}; longer "
                "words were not checked: generators.check_nonnegative searches further)"
            )


def _apply(ops: np.ndarray, v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rows ``v[b] @ ops[x[b]]`` for a batch: (B, n), (B,) -> (B, n)."""
    V, d = ops.shape[0], ops.shape[1]
    if V * d <= 512:
        # one GEMM against all operators, then pick each row's symbol
        allv = (v @ ops.transpose(1, 0, 2).reshape(d, V * d)).reshape(-1, V, d)
        return allv[np.arange(v.shape[0]), x]
    out = np.empty_like(v)
    for sym in np.unique(x):  # loop over symbols (not sequences): one GEMM each
        idx = np.nonzero(x == sym)[0]
        out[idx] = v[idx] @ ops[sym]
    return out


def _products(ops: np.ndarray, words: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Unnormalized rows ``start ops[w1] ... ops[wL]`` for words (B, L) -> (B, n)."""
    v = np.array(np.broadcast_to(start, (words.shape[0], ops.shape[1])), dtype=float)
    for t in range(words.shape[1]):
        v = _apply(ops, v, words[:, t])
    return v


def _unique_rows(words: np.ndarray, V: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of an int array (B, L) and the inverse index, via mixed-radix codes."""
    codes = words @ (V ** np.arange(words.shape[1] - 1, -1, -1, dtype=np.int64))
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return words[first], inverse.reshape(-1)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of (unnormalized, tiny-negative-clipped) ``probs``."""
    cum = np.cumsum(np.clip(probs, 0.0, None), axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    x = (cum <= u[:, None]).sum(axis=1)
    return np.minimum(x, probs.shape[1] - 1)


def _check_counts(n: int, length: int) -> tuple[int, int]:
    return check_int(n, "n", minimum=0), check_int(length, "length", minimum=0)
