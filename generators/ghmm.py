"""Generalized hidden Markov models: the linear form every generator shares.

A GHMM is real operators ``T`` of shape ``(V, n, n)``, a column ``tau`` (n,) with
``sum_x T[x] @ tau == tau`` and an initial row ``initial`` (n,) with
``initial @ tau == 1``.  Word probabilities are ``initial T[w1] ... T[wL] tau``; the
belief after a symbol is ``eta' = eta T[x] / (eta T[x] tau)``.  Entries may be
negative (post-quantum processes) as long as every word probability is nonnegative.

The batched kernels behind the methods here (word probabilities, the forward filter,
sampling) live in :mod:`generators.kernels`; they are the fast path of every generator class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels
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
        return kernels.word_probabilities(self.operators, self.tau, flat, eta).reshape(lead)

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
        return kernels.forward_filter(self.operators, self.tau, w, eta0, zero_tol=zero_tol, keep_beliefs=keep_beliefs)

    def sample(self, n: int, length: int, seed=None, state: Any = None, return_beliefs: bool = False,
               *, initial: Any = None):
        rng = as_rng(seed)
        n, length, return_beliefs = check_sample_size(n, length, self.dim, self.alphabet_size, return_beliefs)
        eta = self._start(state, initial)
        return kernels.sample_beliefs(self.operators, self.tau, eta, n, length, rng, return_beliefs=return_beliefs)

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
