"""Private helpers shared by the ``bayes`` modules: validation, entropies, progress bars."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from generators import Generator
from generators.base import check_generator
from generators.errors import ArgumentError
from generators.validation import check_int
from generators.validation import check_real as _check_real

__all__ = ["Estimate", "as_generator", "check_base", "check_positive_int", "entropy_rows", "progress_bar"]


class Estimate(float):
    """A float that also carries how it was obtained.

    Behaves as the value itself (``entropy_rate(g) == pytest.approx(2/3)`` works); the
    attributes say how much to trust it:

    - ``exact`` -- True when computed in closed form (up to floating point),
    - ``stderr`` -- standard error of a sampled estimate (0 when exact),
    - ``bound`` -- a bound on the truncation error (0 when exact),
    - ``method`` -- a short description.
    """

    exact: bool
    stderr: float
    bound: float
    method: str

    def __new__(cls, value: float, *, exact: bool = False, stderr: float = 0.0, bound: float = 0.0,
                method: str = "") -> "Estimate":
        obj = super().__new__(cls, float(value))
        obj.exact = bool(exact)
        obj.stderr = float(stderr)
        obj.bound = float(bound)
        obj.method = method
        return obj

    def __repr__(self) -> str:
        if self.exact:
            return f"Estimate({float(self)!r}, exact, {self.method})"
        return (f"Estimate({float(self)!r}, stderr={self.stderr:.3g}, bound={self.bound:.3g}, "
                f"{self.method})")

    def __reduce__(self):
        return (_rebuild_estimate, (float(self), self.exact, self.stderr, self.bound, self.method))


def _rebuild_estimate(value, exact, stderr, bound, method):
    return Estimate(value, exact=exact, stderr=stderr, bound=bound, method=method)


def as_generator(g: Any, what: str = "g") -> Generator:
    """``g`` if it is a :class:`generators.Generator`, else
    :class:`~generators.errors.NotAGeneratorError` (a ValueError and a TypeError) saying
    how to build one from a spec string (:func:`generators.base.check_generator`)."""
    return check_generator(g, what)


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``int(value)`` if it is an integer ``>= minimum`` (:func:`generators.validation.check_int`)."""
    return check_int(value, name, minimum=minimum)


def check_base(base: Any) -> float:
    """Logarithm base as a float (``2`` bits, ``e`` nats, ``10`` bans); must be > 0 and != 1
    (a real number: not a string, a bool or NaN)."""
    try:
        b = _check_real(base, "base", minimum=0.0, min_open=True)
    except ArgumentError:
        b = math.nan
    if not (b > 0 and b != 1):
        raise ArgumentError(f"base must be a positive number other than 1 (2 for bits, math.e for nats); "
                            f"got {base!r}")
    return b


def entropy_rows(p: np.ndarray, base: float) -> np.ndarray:
    """Shannon entropy ``-sum_x p_x log_base p_x`` of each row of ``p`` (..., V) -> (...).

    Rows are distributions up to rounding: tiny negative entries (post-quantum round-off)
    are clipped to 0 and each row renormalized; ``0 log 0 = 0``.
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, None)
    s = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, s, out=np.zeros_like(p), where=s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=-1) / math.log(base)


def progress_bar(progress: bool | None, total: int, desc: str, *, auto: bool):
    """A tqdm bar, or a no-op one.

    ``progress=None`` shows the bar only when ``auto`` (the work is long) and stderr is a
    terminal; ``True``/``False`` force it on/off.
    """
    show = bool(progress) if progress is not None else (auto and _isatty())
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass
