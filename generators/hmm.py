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
from .base import STATE_TOL, Generator, as_rng, check_name, check_sample_size, real_state
from .errors import NotStochasticError, ShapeError, StateError
from .ghmm import GHMM
from .validation import check_real_array

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
        (left eigenvector of ``sum_x T[x]`` for eigenvalue 1).  Must be a probability
        vector (the state rule of :mod:`generators.base`).

    Raises
    ------
    ArgumentError, ShapeError, NotStochasticError, StateError (all ValueError)
        Non-real, boolean, NaN or infinite entries, wrong shapes, negative entries or
        rows of ``sum_x T[x]`` not summing to 1, an invalid ``initial``.
    """

    kind = "classical"

    def __init__(self, T: Any, initial: Any = None, *, name: str | None = None):
        T = check_real_array(T, "T")
        if T.ndim != 3 or T.shape[1] != T.shape[2] or T.shape[0] < 1 or T.shape[1] < 1:
            raise ShapeError(f"HMM matrices must have shape (V, n, n) with V, n >= 1; got {T.shape}")
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
        self.T = T
        self._initial = _probability_vector(initial, "initial", T.shape[1], False)
        self.name = check_name(name)

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
        """Probability vectors as given (an HMM's beliefs are its states); no validation:
        user-given states go through :meth:`check_state`."""
        p = np.asarray(state, dtype=float)
        if p.shape[-1:] != (self.dim,):
            raise ShapeError(f"an HMM state must be a distribution over {self.dim} states; got shape {p.shape}")
        return p

    def _checked_belief(self, state: Any, name: str, batch: bool) -> np.ndarray:
        return _probability_vector(state, name, self.dim, batch)

    # ------------------------------------------------------------------ fast sampling
    def sample(self, n: int, length: int, seed=None, state: Any = None, return_beliefs: bool = False):
        """Sample by walking the hidden states (:func:`generators.kernels.sample_hidden_states`:
        exact, a table lookup per step), vectorized over the batch; beliefs, if asked for,
        come from the forward filter on the words."""
        rng = as_rng(seed)
        n, length, return_beliefs = check_sample_size(n, length, self.dim, self.alphabet_size, return_beliefs)
        start = self._initial if state is None else self.check_state(state)
        words = kernels.sample_hidden_states(self.T, start, n, length, rng)
        if not return_beliefs:
            return words
        beliefs, _ = self.to_ghmm().forward(words, initial=start)
        return words, beliefs


def _probability_vector(p: Any, name: str, n: int, batch: bool) -> np.ndarray:
    """The HMM state rule: entries ``>= -STATE_TOL`` (clipped to 0), sums 1 within ``STATE_TOL``."""
    what = f"a probability vector over {n} hidden states"
    p = real_state(p, name, n, what, batch)
    if p.size and p.min() < -STATE_TOL:
        idx = tuple(int(i) for i in np.unravel_index(np.argmin(p), p.shape))
        at = ", ".join(map(str, idx))
        raise StateError(f"{name} must be nonnegative ({what}); {name}[{at}] = {p[idx]:.6g}")
    total = p.sum(axis=-1)
    bad = np.abs(total - 1.0) > STATE_TOL
    if np.any(bad):
        at = "" if np.ndim(bad) == 0 else "[" + ", ".join(str(int(i)) for i in np.argwhere(bad)[0]) + "]"
        got = float(total[bad].flat[0]) if np.ndim(total) else float(total)
        raise StateError(f"{name}{at} must sum to 1 ({what}); got sum {got:.12g}; divide it by its sum")
    return np.clip(p, 0.0, None)
