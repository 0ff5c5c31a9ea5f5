"""Belief representations: which coordinates a belief is written in, in one place.

A process has many generators, and each writes the same belief in its own coordinates.
A :class:`Representation` fixes one of them:

- ``"native"`` -- the generator's own GHMM form (probability vectors of an HMM,
  Gell-Mann coordinates ``tr(F_i rho)`` of a quantum state, a GHMM's vectors);
- ``"minimal"`` -- the canonical minimal form (:func:`generators.minimize`, cached per
  generator by :func:`minimal_form`): ``tau = e_0``, so the first coordinate is always 1
  and the others are orthonormal coordinates of the belief space (Riechers, Elliott, Shai
  2025, arXiv:2507.07432: networks represent this minimal geometry);
- any generator *equivalent* to the process (checked with :func:`generators.equivalent`).

Beliefs live on the affine hyperplane ``eta @ tau = 1``.  When ``tau`` is a multiple of a
unit vector ``e_i`` that coordinate is the constant ``1 / tau_i`` and carries no
information; :meth:`Representation.coordinates` drops it -- the one place in qbelief that
does.  (An HMM's ``tau`` is all ones: no coordinate is constant, the probabilities are
kept as they are.)

Examples
--------
>>> from generators import library
>>> r = representation(library.mess3(), "minimal")
>>> r.ghmm.dim, r.constant_index, r.dim
(3, 0, 2)
>>> import numpy as np
>>> b = r.trajectories(np.array([[0, 1]]))       # beliefs after "", "0", "01"
>>> b.shape, np.allclose(b[..., 0], 1.0)
((1, 3, 3), True)
>>> r.coordinates(b).shape                       # the constant first coordinate dropped
(1, 3, 2)
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import Generator, check_words
from .errors import ArgumentError
from .ghmm import GHMM

__all__ = ["Representation", "representation", "minimal_form", "REPRESENTATION_NAMES"]

#: the named representations (a Generator instance is the third kind)
REPRESENTATION_NAMES = ("native", "minimal")

_MINIMAL: "weakref.WeakKeyDictionary[Generator, GHMM]" = weakref.WeakKeyDictionary()


def minimal_form(g: Generator) -> GHMM:
    """The canonical minimal GHMM of ``g`` (:func:`generators.minimize`), computed once per
    generator object and cached (like :meth:`Generator.to_ghmm`)."""
    if not isinstance(g, Generator):
        raise ArgumentError(f"minimal_form needs a generators.Generator; got {type(g).__name__}")
    cached = _MINIMAL.get(g)
    if cached is None:
        from .reduction import minimize

        cached = _MINIMAL[g] = minimize(g)
    return cached


@dataclass(frozen=True, eq=False)
class Representation:
    """The coordinates in which beliefs of a process are written.

    Attributes
    ----------
    name : str
        ``"native"``, ``"minimal"`` or ``"custom:<generator name>"``.
    process : Generator
        The process whose beliefs these are.
    ghmm : GHMM
        The GHMM whose belief coordinates are used (equivalent to ``process``).
    constant_index : int or None
        Index of the coordinate that is constant on every belief (``tau`` proportional to
        ``e_i``), dropped by :meth:`coordinates`; None when there is none.
    """

    name: str
    process: Generator
    ghmm: GHMM
    constant_index: int | None

    @property
    def dim(self) -> int:
        """Number of coordinates :meth:`coordinates` returns (``n`` or ``n - 1``)."""
        return self.ghmm.dim - (self.constant_index is not None)

    def coordinates(self, beliefs: Any) -> np.ndarray:
        """Beliefs ``(..., n)`` in this GHMM's coordinates -> ``(..., dim)`` without the constant one."""
        b = np.asarray(beliefs, dtype=float)
        if b.shape[-1:] != (self.ghmm.dim,):
            raise ArgumentError(f"beliefs must have last dimension {self.ghmm.dim} ({self.name} representation); "
                                f"got shape {b.shape}")
        if self.constant_index is None:
            return b
        return np.delete(b, self.constant_index, axis=-1)

    def trajectories(self, words: Any) -> np.ndarray:
        """Beliefs after every prefix of ``words (..., L)``: ``(..., L+1, n)`` in this
        representation's GHMM coordinates (zero rows for impossible prefixes).  Cost as
        :meth:`GHMM.forward`: ``O(B L V n^2)``."""
        w = check_words(words, self.ghmm.alphabet_size)
        lead, L = w.shape[:-1], w.shape[-1]
        beliefs, _ = self.ghmm.forward(w.reshape(-1, L), keep_beliefs=True)
        return beliefs.reshape(lead + (L + 1, self.ghmm.dim))

    def final_beliefs(self, words: Any) -> np.ndarray:
        """Belief after all of each word ``(..., L) -> (..., n)`` (memory ``O(B n)``)."""
        w = check_words(words, self.ghmm.alphabet_size)
        lead, L = w.shape[:-1], w.shape[-1]
        eta, _ = self.ghmm.forward(w.reshape(-1, L), keep_beliefs=False)
        return eta.reshape(lead + (self.ghmm.dim,))

    def __repr__(self) -> str:
        return (f"<Representation {self.name} of {self.process.name or type(self.process).__name__}: "
                f"GHMM dim {self.ghmm.dim}, {self.dim} coordinates>")


def _constant_index(tau: np.ndarray) -> int | None:
    nz = np.flatnonzero(np.abs(tau) > 1e-12 * max(1.0, np.abs(tau).max()))
    return int(nz[0]) if nz.size == 1 else None


def representation(process: Generator, spec: "str | Generator | Representation" = "minimal") -> Representation:
    """The :class:`Representation` of ``process`` named by ``spec``.

    ``spec`` is ``"native"``, ``"minimal"``, a :class:`Generator` equivalent to
    ``process`` (same word probabilities; checked exactly, cost of
    :func:`generators.equivalent`), or a Representation (returned if it is of
    ``process``).
    """
    if not isinstance(process, Generator):
        raise ArgumentError(f"representation needs a generators.Generator process; got {type(process).__name__}")
    if isinstance(spec, Representation):
        if spec.process is not process:
            raise ArgumentError("this Representation belongs to another process object")
        return spec
    if isinstance(spec, Generator):
        from .reduction import equivalent

        if spec.alphabet_size != process.alphabet_size or not equivalent(process, spec):
            raise ArgumentError(f"representation generator {spec.name or type(spec).__name__} does not generate "
                                f"the process {process.name or type(process).__name__} (not equivalent)")
        h = spec.to_ghmm()
        return Representation(f"custom:{spec.name or type(spec).__name__}", process, h, _constant_index(h.tau))
    if spec == "native":
        h = process.to_ghmm()
    elif spec == "minimal":
        h = minimal_form(process)
    else:
        raise ArgumentError(f"representation must be one of {REPRESENTATION_NAMES} or an equivalent Generator; "
                            f"got {spec!r}")
    return Representation(spec, process, h, _constant_index(h.tau))
