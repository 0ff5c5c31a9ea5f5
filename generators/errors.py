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
