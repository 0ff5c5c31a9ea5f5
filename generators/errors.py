"""Exceptions raised for invalid generators and invalid input.

Every error is a :class:`ValueError` subclass, so ``except ValueError`` catches all
of them; the message says what was wrong, which value, and what would be valid.
"""

from __future__ import annotations

__all__ = [
    "GeneratorError",
    "NotStochasticError",
    "IncompleteInstrumentError",
    "NegativeProbabilityError",
    "ShapeError",
    "UnknownProcessError",
    "ZeroProbabilityError",
    "ArgumentError",
    "TooManyWordsError",
    "StateError",
    "NotAGeneratorError",
    "MemoryLimitError",
]


class GeneratorError(ValueError):
    """A generator (operators, tau, initial state) is invalid."""


class NotStochasticError(GeneratorError):
    """An HMM whose matrices are negative or whose rows do not sum to one."""


class IncompleteInstrumentError(GeneratorError):
    """Kraus operators whose effects do not sum to the identity."""


class NegativeProbabilityError(GeneratorError):
    """A GHMM that assigns a negative probability to some word."""


class ShapeError(ValueError):
    """An array of the wrong shape, dtype or value range."""


class UnknownProcessError(ValueError):
    """A process name that the library does not know."""


class ZeroProbabilityError(ValueError):
    """A Bayesian update on a symbol that cannot occur from the given state."""


class ArgumentError(ValueError):
    """A function argument of the wrong type or outside its valid range."""


class TooManyWordsError(ValueError):
    """A word enumeration that would exceed its word budget."""


class StateError(ArgumentError):
    """A state given by the user that is not a valid normalized state of its generator.

    Valid states: a probability vector (HMM), a Hermitian positive semidefinite
    density matrix of trace 1 or a nonzero ket (quantum), a real belief with
    ``eta @ tau = 1`` and nonnegative next-symbol probabilities (GHMM), a tuple of valid
    factor states (product); see :meth:`generators.Generator.check_state`.
    """


class NotAGeneratorError(ArgumentError, TypeError):
    """An argument that should be a :class:`generators.Generator` but is something else.

    Also a ``TypeError``, so code that expected the old ``TypeError`` still catches it.
    """


class MemoryLimitError(ValueError):
    """An operation refused because its arrays would exceed the memory cap
    (:data:`generators.limits.MAX_BYTES`); raised before anything large is allocated."""
