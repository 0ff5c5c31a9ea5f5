"""Classical (edge-emitting) hidden Markov models.

``T[x, i, j] = Pr(emit x, next state j | current state i)``; every ``T[x] >= 0`` and the
rows of ``sum_x T[x]`` sum to 1.  Beliefs are probability vectors over hidden states
(the simplex); the GHMM form is ``(T, tau = ones, initial)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels
from ._linalg import stationary_from
from .base import Generator, as_rng
from .errors import NotStochasticError, ShapeError
from .ghmm import GHMM, _check_counts

__all__ = ["HMM"]


class HMM(Generator):
    """A classical edge-emitting HMM.

    Parameters
    ----------
    T : array_like, shape (V, n, n)
        Labelled transition matrices, ``T[x, i, j] = Pr(x, next=j | now=i)``: nonnegative,
        rows of ``sum_x T[x]`` summing to 1 (checked to 1e-9).
    initial : array_like, shape (n,), optional
        Initial distribution over hidden states; default the stationary distribution
        (left eigenvector of ``sum_x T[x]`` for eigenvalue 1).
    """

    kind = "classical"

    def __init__(self, T: Any, initial: Any = None, *, name: str | None = None):
        T = np.asarray(T, dtype=float)
        if T.ndim != 3 or T.shape[1] != T.shape[2] or T.shape[0] < 1:
            raise ShapeError(f"HMM matrices must have shape (V, n, n); got {T.shape}")
        if not np.all(np.isfinite(T)):
            raise NotStochasticError("HMM matrices contain NaN or infinite entries")
        if T.min() < -1e-12:
            x, i, j = np.unravel_index(np.argmin(T), T.shape)
            raise NotStochasticError(
                f"HMM matrices must be nonnegative; T[{x}][{i}, {j}] = {T[x, i, j]:.6g}"
            )
        T = np.clip(T, 0.0, None)
        rows = T.sum(axis=(0, 2))
        bad = np.abs(rows - 1.0) > 1e-9
        if bad.any():
            i = int(np.argmax(bad))
            raise NotStochasticError(
                f"rows of sum_x T[x] must sum to 1; row {i} sums to {rows[i]:.12g}"
            )
        if initial is None:
            pi = np.clip(stationary_from(np.full(T.shape[1], 1.0 / T.shape[1]), T.sum(axis=0)), 0.0, None)
            initial = pi / pi.sum()
        initial = np.asarray(initial, dtype=float).reshape(-1)
        if initial.shape != (T.shape[1],):
            raise ShapeError(f"initial must have shape ({T.shape[1]},); got {initial.shape}")
        if initial.min() < -1e-12 or abs(initial.sum() - 1.0) > 1e-9:
            raise NotStochasticError(
                f"initial must be a probability vector (nonnegative, summing to 1); got {initial}"
            )
        self.T = T
        self._initial = np.clip(initial, 0.0, None)
        self.name = name

    # ------------------------------------------------------------------ interface
    @property
    def alphabet_size(self) -> int:
        return self.T.shape[0]

    @property
    def dim(self) -> int:
        return self.T.shape[1]

    @property
    def initial_state(self) -> np.ndarray:
        return self._initial.copy()

    def _build_ghmm(self) -> GHMM:
        return GHMM(self.T, np.ones(self.dim), self._initial, check_words_upto=0, name=self.name)

    def to_native(self, eta: np.ndarray) -> np.ndarray:
        return np.asarray(eta, dtype=float)

    def from_native(self, state: Any) -> np.ndarray:
        p = np.asarray(state, dtype=float)
        if p.shape[-1:] != (self.dim,):
            raise ShapeError(f"an HMM state must be a distribution over {self.dim} states; got shape {p.shape}")
        return p

    # ------------------------------------------------------------------ fast sampling
    def sample(self, n: int, length: int, seed=None, state: Any = None, return_beliefs: bool = False):
        """Sample by walking the hidden states (:func:`generators.kernels.sample_hidden_states`:
        exact, a table lookup per step), vectorized over the batch; beliefs, if asked for,
        come from the forward filter on the words."""
        rng = as_rng(seed)
        n, length = _check_counts(n, length)
        start = self._initial if state is None else self.from_native(state)
        words = kernels.sample_hidden_states(self.T, start, n, length, rng)
        if not return_beliefs:
            return words
        beliefs, _ = self.to_ghmm().forward(words, initial=start)
        return words, beliefs
