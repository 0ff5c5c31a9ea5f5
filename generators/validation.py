"""Argument checks shared by every layer: the one implementation of each.

Each check returns the cleaned value or raises :class:`~generators.errors.ArgumentError`
(a ``ValueError``) whose message names the argument, shows the value and says what would
be valid.  Nothing is coerced silently: ``True`` is not an integer, ``3.0`` is not a
count, ``nan`` is not a number in range, ``1+0j`` is not real.

Examples
--------
>>> check_int(3, "depth", minimum=0)
3
>>> check_int(3.0, "depth")
Traceback (most recent call last):
...
generators.errors.ArgumentError: depth must be an integer; got 3.0 (float)
>>> check_weights([1, 3], 2).tolist()
[0.25, 0.75]
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np

from .errors import ArgumentError

__all__ = ["check_int", "check_real", "check_probability", "check_choice", "check_weights", "check_real_array",
           "check_seed"]


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``int(value)`` for a Python or numpy integer in ``[minimum, maximum]``.

    Rejects bools, floats (also integral ones such as ``3.0``), strings and ``None``.
    """
    want = "an integer" + (f" >= {minimum}" if minimum is not None else "") + \
        (f" <= {maximum}" if maximum is not None else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ArgumentError(f"{name} must be {want}; got {_show(value)}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise ArgumentError(f"{name} must be {want}; got {v}")
    return v


def check_real(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
               min_open: bool = False, max_open: bool = False, finite: bool = True) -> float:
    """``float(value)`` for a real number in the given interval.

    ``min_open``/``max_open`` make the bounds strict.  Rejects bools, complex numbers,
    strings, ``None`` and NaN; infinities too unless ``finite=False``.
    """
    want = ("a finite real number" if finite else "a real number") + \
        (f" {'>' if min_open else '>='} {minimum:g}" if minimum is not None else "") + \
        (f"{' and' if minimum is not None else ''} {'<' if max_open else '<='} {maximum:g}" if maximum is not None else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise ArgumentError(f"{name} must be {want}; got {_show(value)}")
    v = float(value)
    bad = math.isnan(v) or (finite and math.isinf(v))
    bad = bad or (minimum is not None and (v <= minimum if min_open else v < minimum))
    bad = bad or (maximum is not None and (v >= maximum if max_open else v > maximum))
    if bad:
        raise ArgumentError(f"{name} must be {want}; got {v:g}")
    return v


def check_probability(value: Any, name: str) -> float:
    """A real number in ``[0, 1]``."""
    return check_real(value, name, minimum=0.0, maximum=1.0)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared with ``==``, type-strict for strings)."""
    choices = tuple(choices)
    if not any(type(value) is type(c) and value == c for c in choices):
        import difflib

        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1) if isinstance(value, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ArgumentError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}{hint}")
    return value


def check_real_array(a: Any, name: str, *, ndim: int | None = None, shape: tuple | None = None,
                     finite: bool = True) -> np.ndarray:
    """A float64 array from real numeric data.

    Rejects complex data with a nonzero imaginary part (complex data whose imaginary
    parts are all exactly zero is taken as real), booleans, strings and objects, ragged
    nesting, NaN and infinities (unless ``finite=False``), and a wrong ``ndim``/``shape``
    (``None`` entries of ``shape`` match any size).
    """
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"{name} must be a rectangular (not ragged) array of real numbers; got {type(a).__name__} ({e})") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(complex) if any(isinstance(v, complex) for v in arr.flat) else arr.astype(float)
        except (TypeError, ValueError):
            raise ArgumentError(f"{name} must be a (rectangular) array of real numbers; got ragged or "
                                "non-numeric entries") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        raise ArgumentError(f"{name} must be an array of real numbers; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        if np.any(arr.imag != 0):
            k = np.flatnonzero(arr.imag != 0)[0]
            raise ArgumentError(f"{name} must be real; entry {_index(k, arr.shape)} is {complex(arr.flat[k])} "
                                "(complex)")
        arr = arr.real
    arr = np.asarray(arr, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ArgumentError(f"{name} must be {ndim}-dimensional; got shape {arr.shape}")
    if shape is not None and (arr.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, arr.shape))):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ArgumentError(f"{name} must have shape {want}; got {arr.shape}")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        k = np.flatnonzero(~np.isfinite(arr))[0]
        raise ArgumentError(f"{name} must be finite; entry {_index(k, arr.shape)} is {float(arr.flat[k])}")
    return arr


def _index(k: int, shape: tuple) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(k, shape))


def check_weights(weights: Any, n: int, name: str = "weights") -> np.ndarray:
    """Nonnegative finite weights ``(n,)`` with a positive sum, normalized to sum 1.

    ``None`` gives uniform weights ``1/n``.
    """
    if weights is None:
        return np.full(n, 1.0 / n)
    w = check_real_array(weights, name, ndim=1)
    if w.shape != (n,):
        raise ArgumentError(f"{name} must have shape ({n},); got {w.shape}")
    if w.size and w.min() < 0:
        raise ArgumentError(f"{name} must be nonnegative; {name}[{int(np.argmin(w))}] = {w.min():g}")
    s = w.sum()
    if not s > 0:
        raise ArgumentError(f"{name} must have a positive sum; got {s:g}")
    return w / s


def check_seed(seed: Any, name: str = "seed") -> int | np.random.Generator | None:
    """A seed for :func:`numpy.random.default_rng`: ``None``, a nonnegative integer, or a
    :class:`numpy.random.Generator` (returned as is)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_int(seed, name, minimum=0)
