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

**The state rule.**  A state given by the user (``state=``, ``initial=``, the argument
of :meth:`Generator.update`) must be a valid *normalized* state of its generator, or it
is rejected with :class:`~generators.errors.StateError` (a ``ValueError``) naming the
value, what is wrong and what would be valid; nothing is rescaled silently.  Valid
means finite and real (complex only for quantum states), of the right shape, and

- HMM: a probability vector over the hidden states: entries ``>= -1e-9`` (tiny
  negatives are clipped to 0), sum ``1`` within ``1e-9``;
- quantum: a ``d x d`` density matrix, Hermitian and with trace 1 within ``1e-9`` and
  eigenvalues ``>= -1e-9``; a nonzero ket ``psi`` (shape ``(d,)`` or ``(d, 1)``) stands
  for ``|psi><psi| / <psi|psi>`` (a zero ket is rejected);
- GHMM: a real belief with ``eta @ tau = 1`` and next-symbol probabilities
  ``eta T[x] tau >= -1e-9`` (both tolerances scaled by ``max(1, |eta| . |v|)`` for the
  vector ``v`` it is paired with, so large coordinates are judged relative to their size);
- product: a tuple (or list) with one valid state per factor.

Every entry point that takes a state goes through the one check,
:meth:`Generator.check_state`, which returns the GHMM belief.  Code that passes beliefs
it computed itself (the forward filter, the mixed-state presentation) may skip it.

**Symbols and words** are integers: a symbol is a Python or numpy integer in
``0..V-1`` (not ``1.0``, not ``True``), a batch of words an integer array ``(..., L)``.
A float array is rejected even when its values are whole numbers (cast it with
``.astype(int)``): a float word array is almost always a bug upstream (a belief or a
probability passed where symbols were meant), so it is not converted silently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ArgumentError, NotAGeneratorError, ShapeError, StateError, ZeroProbabilityError
from .limits import check_bytes
from .validation import check_real_array, check_seed

if TYPE_CHECKING:  # pragma: no cover
    from .ghmm import GHMM

__all__ = ["Generator", "STATE_TOL", "as_rng", "check_words", "check_symbol", "check_generator", "check_name",
           "check_sample_size"]

#: tolerance of the state rule (normalization, nonnegativity, Hermiticity, positivity)
STATE_TOL = 1e-9


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

    # ------------------------------------------------------------------ the state rule
    def check_state(self, state: Any, *, name: str = "state", batch: bool = False) -> np.ndarray:
        """The GHMM belief of a user-given native ``state``, which must be valid (module docstring).

        Parameters
        ----------
        state : native state
            Probability vector (HMM), density matrix or ket (quantum), belief (GHMM),
            tuple of factor states (product).
        name : str
            How the messages call the value (``"state"``, ``"initial"``).
        batch : bool
            Also accept a batch of states (leading axes), as :meth:`emission_probs` does.

        Returns
        -------
        eta : ndarray, shape (n,) or (..., n)
            The belief in GHMM coordinates, ``eta @ tau == 1``.

        Raises
        ------
        StateError
            With the offending value, what is wrong and what would be valid, e.g.
            ``state must sum to 1 (a probability vector over 3 hidden states); got sum 15;
            divide it by its sum``.
        """
        if state is None:
            raise StateError(f"{name} must be a state of {self._label()}; got None")
        return self._checked_belief(state, name, bool(batch))

    def _checked_belief(self, state: Any, name: str, batch: bool) -> np.ndarray:
        """Per-class state check (the GHMM rule here; HMM, quantum, product override it)."""
        g = self.to_ghmm()
        what = f"a belief of this {g.dim}-dimensional GHMM, eta @ tau = 1"
        eta = real_state(state, name, g.dim, what, batch)
        return check_belief_rule(eta, g.tau, g.symbol_vectors, name, what)

    def _label(self) -> str:
        return f"{type(self).__name__} {self.name}" if self.name else type(self).__name__

    # ------------------------------------------------------------------ native Bayes
    def emission_probs(self, state: Any = None) -> np.ndarray:
        """Next-symbol distribution ``Pr(x | state)`` for all ``x``, shape ``(V,)``.

        ``state`` is native (default: :attr:`initial_state`) and must be valid
        (:meth:`check_state`).  Batched native states give ``(..., V)``.
        """
        g = self.to_ghmm()
        eta = g.initial if state is None else self.check_state(state, batch=True)
        return eta @ g.symbol_vectors.T

    def update(self, state: Any, x: int) -> Any:
        """Bayesian update of a native state on symbol ``x``: ``eta' = eta T[x] / (eta T[x] tau)``.

        ``state`` must be valid (:meth:`check_state`), ``x`` an integer in ``0..V-1``.
        Raises :class:`~generators.errors.ZeroProbabilityError` if ``x`` has probability
        zero from ``state``.
        """
        eta = self.check_state(state)
        x = check_symbol(x, self.alphabet_size)
        return self.to_native(self.to_ghmm()._update_belief(eta, x))

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
        words at once (one matrix product per position).  ``state`` (native, valid by
        :meth:`check_state`) replaces the initial state.  For long words use
        :meth:`log_word_probability` (no underflow).
        """
        g = self.to_ghmm()
        eta = None if state is None else self.check_state(state)
        return g.word_probability(words, initial=eta)

    def log_word_probability(self, words: Any, state: Any = None) -> np.ndarray:
        """Natural-log probabilities of a batch of words ``(..., L) -> (...)``.

        Normalizes the belief after every symbol and sums the log normalizers, so it stays
        finite for words of any length; impossible words give ``-inf``.  ``state`` as in
        :meth:`word_probability`.
        """
        g = self.to_ghmm()
        eta = None if state is None else self.check_state(state)
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

        Starts from ``state`` (native, valid by :meth:`check_state`; default the
        stationary :attr:`initial_state`).  Returns an int64 array ``(n, length)``, or
        ``(words, beliefs)`` with ``beliefs`` ``(n, length + 1, n_ghmm)`` in GHMM
        coordinates when ``return_beliefs`` (``beliefs[:, t]`` is the belief after the
        first ``t`` symbols).  Refuses (:class:`~generators.errors.MemoryLimitError`)
        when the output would exceed :data:`generators.limits.MAX_BYTES`.
        """
        g = self.to_ghmm()
        eta = None if state is None else self.check_state(state)
        return g.sample(n, length, seed=seed, initial=eta, return_beliefs=return_beliefs)

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        label = self.name or type(self).__name__
        return f"<{type(self).__name__} {label!s}: V={self.alphabet_size}, dim={self.dim}, {self.kind}>"


# ---------------------------------------------------------------------- helpers
def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a nonnegative int seed, a generator, or ``None``
    (:func:`generators.validation.check_seed`: ``1.5``, ``True`` or ``-1`` are rejected)."""
    seed = check_seed(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def check_words(words: Any, alphabet_size: int, name: str = "words") -> np.ndarray:
    """Validate an integer word array ``(..., L)`` with entries in ``0..V-1``; return int64.

    Float arrays are rejected even with whole values (see the module docstring); an
    empty array of any numeric dtype is accepted.
    """
    try:
        arr = np.asarray(words)
    except (TypeError, ValueError):
        raise ShapeError(f"{name} must be a rectangular integer array (..., L); got ragged "
                         f"{type(words).__name__}") from None
    if arr.size and (arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
        hint = ""
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(np.mod(arr, 1) == 0):
            hint = " (its values are whole numbers: cast it with .astype(int))"
        first = arr.flat[0]
        raise ShapeError(f"{name} must be an integer array of symbols in 0..{alphabet_size - 1}, shape (..., L); "
                         f"got dtype {arr.dtype} (first entry {first!r}){hint}")
    if arr.ndim == 0:
        raise ShapeError(f"{name} must have at least one dimension (..., L); got the scalar {arr.item()!r}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ShapeError(f"{name} must be an integer array; got dtype {arr.dtype}")  # pragma: no cover
    arr = arr.astype(np.int64, copy=False) if arr.size else np.zeros(arr.shape, dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= alphabet_size):
        bad = arr[(arr < 0) | (arr >= alphabet_size)].flat[0]
        raise ShapeError(f"symbol {bad} out of range in {name}: symbols must be in 0..{alphabet_size - 1}")
    return arr


def check_symbol(x: Any, alphabet_size: int, name: str = "symbol") -> int:
    """``int(x)`` for a Python or numpy integer in ``0..V-1`` (not a float, not a bool)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Integral, np.integer)):
        hint = ""
        if isinstance(x, (float, np.floating)) and float(x).is_integer():
            hint = f" (cast it with int({x!r}))"
        raise ShapeError(f"{name} must be an integer in 0..{alphabet_size - 1}; got {x!r} "
                         f"({type(x).__name__}){hint}")
    if not 0 <= int(x) < alphabet_size:
        raise ShapeError(f"{name} {int(x)} out of range: symbols must be in 0..{alphabet_size - 1}")
    return int(x)


def check_generator(g: Any, name: str = "g") -> Generator:
    """``g`` if it is a :class:`Generator`, else :class:`~generators.errors.NotAGeneratorError`.

    Library functions take generator objects, not spec strings; the message says how to
    build one from a string (:func:`generators.io.resolve`).
    """
    if isinstance(g, Generator):
        return g
    hint = ""
    if isinstance(g, str):
        hint = f"; build one from a process spec or file with generators.io.resolve({g!r})"
    shown = repr(g) if len(repr(g)) <= 60 else repr(g)[:57] + "..."
    raise NotAGeneratorError(f"{name} must be a generators.Generator (HMM, QuantumGenerator, GHMM, "
                             f"ProductGenerator); got {type(g).__name__} {shown}{hint}")


def check_name(name: Any) -> str | None:
    """A generator's ``name``: a string or ``None``."""
    if name is not None and not isinstance(name, str):
        raise ArgumentError(f"name must be a string or None; got {name!r} ({type(name).__name__})")
    return name


def check_sample_size(n: Any, length: Any, dim: int, V: int, return_beliefs: Any) -> tuple[int, int, bool]:
    """Validate ``sample``'s counts and refuse outputs above the memory cap.

    Estimate: the words ``8 n L`` bytes, the beliefs ``8 n (L+1) dim`` if asked for, and
    the per-step work arrays ``24 n V dim``.
    """
    from .validation import check_int

    n = check_int(n, "n", minimum=0)
    length = check_int(length, "length", minimum=0)
    if not isinstance(return_beliefs, (bool, np.bool_)):
        raise ArgumentError(f"return_beliefs must be True or False; got {return_beliefs!r}")
    nbytes = 8.0 * n * length + 24.0 * n * V * dim + (8.0 * n * (length + 1) * dim if return_beliefs else 0.0)
    what = "the words and beliefs" if return_beliefs else "the words"
    check_bytes(nbytes, f"sample(n={n}, length={length}): {what}")
    return n, length, bool(return_beliefs)


def real_state(state: Any, name: str, dim: int, what: str, batch: bool) -> np.ndarray:
    """A real float64 state ``(dim,)`` (or ``(..., dim)`` if ``batch``), else StateError."""
    try:
        eta = check_real_array(state, name)
    except ArgumentError as e:
        raise StateError(f"{e} ({what})") from None
    ok = eta.shape[-1:] == (dim,) if batch else eta.shape == (dim,)
    if not ok:
        want = f"(..., {dim})" if batch else f"({dim},)"
        raise StateError(f"{name} must have shape {want} ({what}); got shape {eta.shape}")
    return eta


def check_belief_rule(eta: np.ndarray, tau: np.ndarray, symbol_vectors: np.ndarray, name: str,
                      what: str) -> np.ndarray:
    """The GHMM rule: ``eta @ tau = 1`` and ``eta T[x] tau >= 0`` within :data:`STATE_TOL`
    (scaled by ``max(1, |eta| . |v|)``); returns ``eta``."""
    norm = eta @ tau
    bad = np.abs(norm - 1.0) > STATE_TOL * np.maximum(1.0, np.abs(eta) @ np.abs(tau))
    if np.any(bad):
        at = _first(bad)
        raise StateError(f"{name}{at} must satisfy eta @ tau = 1 ({what}); got eta @ tau = "
                         f"{float(norm[bad].flat[0] if np.ndim(norm) else norm):.12g}; divide it by that")
    p = eta @ symbol_vectors.T
    neg = p < -STATE_TOL * np.maximum(1.0, np.abs(eta) @ np.abs(symbol_vectors).T)
    if np.any(neg):
        idx = tuple(int(i) for i in np.argwhere(neg)[0])
        raise StateError(f"{name}{_first(neg.any(axis=-1))} gives symbol {idx[-1]} the negative probability "
                         f"{float(p[idx]):.3g} ({what} needs eta T[x] tau >= 0 for every symbol x)")
    return eta


def _first(bad: Any) -> str:
    """``"[i, j]"`` locating the first True of a batch mask, ``""`` for a single state."""
    if np.ndim(bad) == 0:
        return ""
    return "[" + ", ".join(str(int(i)) for i in np.argwhere(bad)[0]) + "]"


def zero_probability(x: int, p: float) -> ZeroProbabilityError:
    return ZeroProbabilityError(
        f"symbol {x} has probability {p:.3g} from this state; cannot condition on it"
    )
