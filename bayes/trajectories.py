"""Belief trajectories: generalized Bayesian filtering of a batch of words.

For a generator in GHMM form ``(T, tau, initial)`` the belief after the prefix
``w_1..w_t`` is

    eta_t = eta_{t-1} T[w_t] / (eta_{t-1} T[w_t] tau),     eta_0 = initial,

and the prefix probability is the product of the normalizers,
``log Pr(w_1..w_t) = sum_{s<=t} log(eta_{s-1} T[w_s] tau)``.  Normalizing at every step
keeps the filter finite for words of any length (10^5 and more).  The work is one batched
matrix product per position (vectorized over the batch), done by
:meth:`generators.GHMM.forward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from generators import Generator
from generators.base import check_words
from generators.ghmm import ZERO_TOL
from generators.validation import check_real

from ._util import as_generator

__all__ = ["BeliefTrajectories", "belief_trajectories"]


@dataclass(frozen=True, eq=False)
class BeliefTrajectories:
    """Beliefs of a batch of words; unpacks as ``beliefs, log_prob = belief_trajectories(g, w)``.

    Attributes
    ----------
    beliefs : ndarray, shape (..., L+1, n), float64
        ``beliefs[..., t, :]`` is the belief (GHMM coordinates, ``eta @ tau == 1``) after
        the first ``t`` symbols; ``t = 0`` is the initial belief.  Zero vector once the
        prefix is impossible.
    log_prob : ndarray, shape (..., L+1), float64
        Natural-log prefix probabilities ``log Pr(w_1..w_t)``; ``-inf`` for impossible
        prefixes (never NaN).
    generator : Generator
        The generator whose beliefs these are (for :meth:`native`).
    """

    beliefs: np.ndarray
    log_prob: np.ndarray
    generator: Generator

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.beliefs
        yield self.log_prob

    @property
    def possible(self) -> np.ndarray:
        """Mask ``(..., L+1)``: True where the prefix has nonzero probability."""
        return np.isfinite(self.log_prob)

    @property
    def prob(self) -> np.ndarray:
        """Prefix probabilities ``(..., L+1)`` (may underflow to 0 for long words; use ``log_prob``)."""
        return np.exp(self.log_prob)

    @property
    def length(self) -> int:
        """Word length ``L``."""
        return self.beliefs.shape[-2] - 1

    def next_symbol_probs(self) -> np.ndarray:
        """Predictive distributions ``Pr(x | w_1..w_t)`` for every prefix: ``(..., L+1, V)``.

        ``eta_t @ T[x] @ tau``; rows of impossible prefixes are zero.
        """
        g = self.generator.to_ghmm()
        return self.beliefs @ g.symbol_vectors.T

    def native(self) -> Any:
        """The beliefs as native states of the generator.

        Probability vectors ``(..., L+1, n)`` for an HMM, density matrices
        ``(..., L+1, d, d)`` (Hermitian, trace 1, PSD) for a quantum generator, real vectors
        for a GHMM, tuples of factor states for a product.  Impossible prefixes map to
        the zero state.
        """
        return self.generator.to_native(self.beliefs)


def belief_trajectories(g: Generator, words: Any, *, initial: Any = None,
                        zero_tol: float | None = None) -> BeliefTrajectories:
    """Beliefs and log prefix probabilities of a batch of words.

    Parameters
    ----------
    g : Generator
        Any generator (HMM, QuantumGenerator, GHMM, product); its GHMM form is filtered.
        Not a spec string: build one with :func:`generators.io.resolve`.
    words : int array_like, shape (B, L) or (..., L)
        Symbols in ``0..V-1`` (an integer array: floats are rejected, cast them with
        ``.astype(int)``); a single word ``(L,)`` gives a batch of one (shape
        ``(L+1, n)`` results, leading dimensions are kept as given).
    initial : native state, optional
        Starting state (probability vector, density matrix, GHMM belief, ...); default the
        generator's (stationary) initial state.  Must be a valid normalized state
        (:meth:`generators.Generator.check_state`).
    zero_tol : float >= 0, finite, optional
        Conditional probabilities ``Pr(w_t | w_<t) <= zero_tol`` mark the prefix as
        impossible (default :data:`generators.ghmm.ZERO_TOL` = 1e-13).

    Returns
    -------
    BeliefTrajectories
        ``.beliefs (..., L+1, n)`` in GHMM coordinates, ``.log_prob (..., L+1)`` in nats,
        ``.possible`` mask, ``.native()`` views.  Unpacks as ``(beliefs, log_prob)``.

    Raises
    ------
    ShapeError (a ValueError)
        Words that are not integers in ``0..V-1``, or of the wrong shape.
    StateError, ArgumentError (ValueErrors)
        An invalid ``initial`` or ``zero_tol``.
    NotAGeneratorError (a ValueError and a TypeError)
        ``g`` is not a Generator.
    MemoryLimitError
        Beliefs above :data:`generators.limits.MAX_BYTES`.

    Notes
    -----
    Cost ``O(B L V n^2)`` flops in ``L`` batched products; memory ``B (L+1) (n+1)`` floats.
    """
    g = as_generator(g)
    h = g.to_ghmm()
    w = check_words(words, h.alphabet_size)
    lead, L = w.shape[:-1], w.shape[-1]
    eta0 = None if initial is None else g.check_state(initial, name="initial")
    zero_tol = ZERO_TOL if zero_tol is None else check_real(zero_tol, "zero_tol", minimum=0.0)
    beliefs, logp = h.forward(w.reshape(int(np.prod(lead, dtype=np.int64)), L), initial=eta0, keep_beliefs=True,
                              zero_tol=zero_tol)
    beliefs = beliefs.reshape(lead + (L + 1, h.dim))
    logp = logp.reshape(lead + (L + 1,))
    return BeliefTrajectories(beliefs, logp, g)
