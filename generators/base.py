"""The :class:`Generator` interface shared by classical, quantum and post-quantum processes.

A generator of a stationary stochastic process over the symbols ``0..V-1`` has an exact
linear form, the GHMM (row-vector convention)::

    Pr(w1..wL) = initial @ T[w1] @ ... @ T[wL] @ tau

Each concrete class (:class:`~generators.HMM`, :class:`~generators.QuantumGenerator`,
:class:`~generators.GHMM`, :class:`~generators.ProductGenerator`) keeps its native state
(probability vector, density matrix, real vector, tuple of factor states) for the user,
and hands the fast batched math to its GHMM form (:meth:`Generator.to_ghmm`).  The
methods defined here work for every subclass through that form; subclasses override
them where a native algorithm is faster (e.g. sampling hidden states of an HMM).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ShapeError, ZeroProbabilityError

if TYPE_CHECKING:  # pragma: no cover
    from .ghmm import GHMM

__all__ = ["Generator", "as_rng", "check_words"]


class Generator(ABC):
    """Abstract base of every process generator.

    Subclasses implement :meth:`_build_ghmm`, :meth:`to_native`, :meth:`from_native`,
    :attr:`dim` and :attr:`initial_state`; everything else has a generic implementation
    on the GHMM form.
    """

    #: ``"classical"``, ``"quantum"`` or ``"post-quantum"``
    kind: str = "post-quantum"
    #: a short human-readable name (set by the library constructors)
    name: str | None = None

    _ghmm_cache: "GHMM | None" = None

    # ------------------------------------------------------------------ structure
    @property
    @abstractmethod
    def alphabet_size(self) -> int:
        """Number of symbols ``V``; symbols are the integers ``0..V-1``."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Native latent dimension (states of an HMM, ``d`` of a ``d x d`` density matrix)."""

    @property
    @abstractmethod
    def initial_state(self) -> Any:
        """Initial state in native form (stationary by default)."""

    @abstractmethod
    def _build_ghmm(self) -> "GHMM":
        """Construct the exact GHMM form (called once, then cached)."""

    @abstractmethod
    def to_native(self, eta: np.ndarray) -> Any:
        """Map GHMM-coordinate beliefs ``(..., n)`` to native states (batched)."""

    @abstractmethod
    def from_native(self, state: Any) -> np.ndarray:
        """Map native states to GHMM-coordinate beliefs ``(..., n)`` (batched)."""

    def to_ghmm(self) -> "GHMM":
        """The exact linear form ``(operators (V,n,n), tau (n,), initial (n,))``."""
        if self._ghmm_cache is None:
            self._ghmm_cache = self._build_ghmm()
        return self._ghmm_cache

    # ------------------------------------------------------------------ native Bayes
    def emission_probs(self, state: Any = None) -> np.ndarray:
        """Next-symbol distribution ``Pr(x | state)`` for all ``x``, shape ``(V,)``.

        ``state`` is native (default: :attr:`initial_state`).  Batched native states give
        ``(..., V)``.
        """
        g = self.to_ghmm()
        eta = g.initial if state is None else self.from_native(state)
        return g.emission_probs(eta)

    def update(self, state: Any, x: int) -> Any:
        """Bayesian update of a native state on symbol ``x``: ``eta' = eta T[x] / (eta T[x] tau)``.

        Raises :class:`~generators.errors.ZeroProbabilityError` if ``x`` has probability
        zero from ``state``.
        """
        g = self.to_ghmm()
        return self.to_native(g.update(self.from_native(state), x))

    def symbol_probabilities(self) -> np.ndarray:
        """Stationary single-symbol probabilities ``Pr(x)``, shape ``(V,)``."""
        return self.to_ghmm().emission_probs(self.to_ghmm().initial)

    @property
    def transition_matrix(self) -> np.ndarray:
        """``sum_x T[x]`` of the GHMM form, shape ``(n, n)``."""
        return self.to_ghmm().operators.sum(axis=0)

    # ------------------------------------------------------------------ word probabilities
    def word_probability(self, words: Any, state: Any = None) -> np.ndarray:
        """Exact probabilities of a batch of words.

        ``words``: integer array ``(..., L)``; returns ``(...)`` float64 with
        ``Pr(w) = initial T[w1] ... T[wL] tau`` computed as a batched product over all
        words at once (one matrix product per position).  ``state`` (native) replaces the
        initial state.  For long words use :meth:`log_word_probability` (no underflow).
        """
        g = self.to_ghmm()
        eta = None if state is None else self.from_native(state)
        return g.word_probability(words, initial=eta)

    def log_word_probability(self, words: Any, state: Any = None) -> np.ndarray:
        """Natural-log probabilities of a batch of words ``(..., L) -> (...)``.

        Normalizes the belief after every symbol and sums the log normalizers, so it stays
        finite for words of any length; impossible words give ``-inf``.
        """
        g = self.to_ghmm()
        eta = None if state is None else self.from_native(state)
        return g.log_word_probability(words, initial=eta)

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n: int,
        length: int,
        seed: int | np.random.Generator | None = None,
        state: Any = None,
        return_beliefs: bool = False,
    ):
        """Sample ``n`` sequences of ``length`` symbols, vectorized over the batch.

        Starts from ``state`` (native; default the stationary :attr:`initial_state`).
        Returns an int64 array ``(n, length)``, or ``(words, beliefs)`` with ``beliefs``
        ``(n, length + 1, n_ghmm)`` in GHMM coordinates when ``return_beliefs``
        (``beliefs[:, t]`` is the belief after the first ``t`` symbols).
        """
        g = self.to_ghmm()
        eta = None if state is None else self.from_native(state)
        return g.sample(n, length, seed=seed, initial=eta, return_beliefs=return_beliefs)

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        label = self.name or type(self).__name__
        return f"<{type(self).__name__} {label!s}: V={self.alphabet_size}, dim={self.dim}, {self.kind}>"


# ---------------------------------------------------------------------- helpers
def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from an int seed, a generator, or ``None``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def check_words(words: Any, alphabet_size: int) -> np.ndarray:
    """Validate an integer word array ``(..., L)`` with entries in ``0..V-1``; return int64."""
    arr = np.asarray(words)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
        else:
            raise ShapeError(f"words must be an integer array of shape (..., L); got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ShapeError("words must have at least one dimension (..., L); got a scalar")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= alphabet_size):
        bad = arr[(arr < 0) | (arr >= alphabet_size)].flat[0]
        raise ShapeError(f"symbol {bad} out of range: symbols must be in 0..{alphabet_size - 1}")
    return arr


def zero_probability(x: int, p: float) -> ZeroProbabilityError:
    return ZeroProbabilityError(
        f"symbol {x} has probability {p:.3g} from this state; cannot condition on it"
    )
