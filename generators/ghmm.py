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

import itertools
from typing import Any

import numpy as np

from . import kernels
from ._linalg import eigvec_for_one
from .base import Generator, as_rng, check_words, zero_probability
from .errors import GeneratorError, NegativeProbabilityError, ShapeError

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
        Verify that all words up to this length (capped at 4096 words per length) have
        nonnegative probability; raises :class:`NegativeProbabilityError` otherwise.
        ``0`` skips the check.
    """

    kind = "post-quantum"

    def __init__(self, operators: Any, tau: Any = None, initial: Any = None, *, check_words_upto: int = 6,
                 name: str | None = None):
        T = np.asarray(operators, dtype=float)
        if T.ndim != 3 or T.shape[1] != T.shape[2] or T.shape[0] < 1:
            raise ShapeError(f"operators must have shape (V, n, n); got {T.shape}")
        if not np.all(np.isfinite(T)):
            raise GeneratorError("operators contain NaN or infinite entries")
        V, n, _ = T.shape
        total = T.sum(axis=0)
        if tau is None:
            tau = eigvec_for_one(total, side="right", what="GHMM tau")
            if initial is not None:
                s = float(np.asarray(initial, dtype=float) @ tau)
                if abs(s) < 1e-12:
                    raise GeneratorError("default tau is orthogonal to the given initial state")
                tau = tau / s
        tau = np.asarray(tau, dtype=float).reshape(-1)
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
        initial = np.asarray(initial, dtype=float).reshape(-1)
        if initial.shape != (n,):
            raise ShapeError(f"initial must have shape ({n},); got {initial.shape}")
        norm = float(initial @ tau)
        if abs(norm - 1.0) > 1e-9:
            raise GeneratorError(f"initial @ tau must be 1 (a normalized belief); got {norm:.12g}")
        self.operators = T
        self.tau = tau
        self.initial = initial
        self.name = name
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
        """The same operators and tau started from another belief."""
        return GHMM(self.operators, self.tau, initial, check_words_upto=0, name=self.name)

    def similarity(self, S: Any) -> "GHMM":
        """The equivalent GHMM in new coordinates: ``T' = S^-1 T S``, ``tau' = S^-1 tau``,
        ``initial' = initial S`` (same process, beliefs ``eta' = eta S``)."""
        S = np.asarray(S, dtype=float)
        Si = np.linalg.inv(S)
        return GHMM(Si @ self.operators @ S, Si @ self.tau, self.initial @ S, check_words_upto=0, name=self.name)

    # ------------------------------------------------------------------ Bayes on beliefs
    def emission_probs(self, state: Any = None) -> np.ndarray:
        eta = self.initial if state is None else self.from_native(state)
        return eta @ self.symbol_vectors.T

    def update(self, state: Any, x: int) -> np.ndarray:
        eta = self.from_native(state)
        if not 0 <= int(x) < self.alphabet_size:
            raise ShapeError(f"symbol {x} out of range 0..{self.alphabet_size - 1}")
        v = eta @ self.operators[int(x)]
        p = float(v @ self.tau) / float(eta @ self.tau)
        if p <= ZERO_TOL:
            raise zero_probability(int(x), p)
        return v / float(v @ self.tau)

    # ------------------------------------------------------------------ batched kernels
    def word_probability(self, words: Any, state: Any = None, *, initial: Any = None) -> np.ndarray:
        w = check_words(words, self.alphabet_size)
        eta = self._start(state, initial)
        lead, L = w.shape[:-1], w.shape[-1]
        flat = w.reshape(int(np.prod(lead)), L)
        return kernels.word_probabilities(self.operators, self.tau, flat, eta).reshape(lead)

    def log_word_probability(self, words: Any, state: Any = None, *, initial: Any = None) -> np.ndarray:
        w = check_words(words, self.alphabet_size)
        lead, L = w.shape[:-1], w.shape[-1]
        _, logp = self.forward(w.reshape(int(np.prod(lead)), L), initial=self._start(state, initial), keep_beliefs=False)
        return logp.reshape(lead)

    def forward(self, words: Any, *, initial: Any = None, keep_beliefs: bool = True, zero_tol: float = ZERO_TOL):
        """Forward filter: normalized beliefs and log prefix probabilities of a batch of words.

        Parameters
        ----------
        words : int array (B, L)
        initial : (n,) or (B, n), optional
            Starting belief(s), default :attr:`initial`.
        keep_beliefs : bool
            If False, only the final beliefs are returned (memory ``B x n``).
        zero_tol : float
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
        eta0 = self.initial if initial is None else np.asarray(initial, dtype=float)
        return kernels.forward_filter(self.operators, self.tau, w, eta0, zero_tol=zero_tol, keep_beliefs=keep_beliefs)

    def sample(self, n: int, length: int, seed=None, state: Any = None, return_beliefs: bool = False,
               *, initial: Any = None):
        rng = as_rng(seed)
        n, length = _check_counts(n, length)
        eta = self._start(state, initial)
        return kernels.sample_beliefs(self.operators, self.tau, eta, n, length, rng, return_beliefs=return_beliefs)

    # ------------------------------------------------------------------ internals
    def _start(self, state: Any, initial: Any) -> np.ndarray:
        if state is not None and initial is not None:
            raise ValueError("give either state or initial, not both")
        s = state if state is not None else initial
        return self.initial if s is None else self.from_native(s)

    def _check_nonnegative(self, upto: int) -> None:
        V = self.alphabet_size
        for L in range(1, upto + 1):
            if V**L > 4096:
                break
            words = np.array(list(itertools.product(range(V), repeat=L)), dtype=np.int64)
            p = self.word_probability(words)
            worst = int(np.argmin(p))
            if p[worst] < -1e-10:
                raise NegativeProbabilityError(
                    f"word {tuple(words[worst].tolist())} has probability {p[worst]:.3g} < 0; "
                    "a GHMM must give every word a nonnegative probability"
                )


def _check_counts(n: int, length: int) -> tuple[int, int]:
    if int(n) != n or n < 0 or int(length) != length or length < 0:
        raise ShapeError(f"n and length must be nonnegative integers; got n={n!r}, length={length!r}")
    return int(n), int(length)
