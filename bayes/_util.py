"""Private helpers shared by the ``bayes`` modules: validation, entropies, progress bars."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from typing import Any

import numpy as np

from generators import Generator

__all__ = ["Estimate", "as_generator", "check_base", "check_positive_int", "check_real", "entropy_rows",
           "progress_bar", "atomic_path"]


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
    """Check that ``g`` is a :class:`generators.Generator`."""
    if not isinstance(g, Generator):
        raise TypeError(f"{what} must be a generators.Generator (HMM, QuantumGenerator, GHMM, ...); "
                        f"got {type(g).__name__}")
    return g


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``int(value)`` if it is an integer ``>= minimum``, else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_real(value: Any, name: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    """``float(value)`` if it is a finite real number ``> minimum`` (``>=`` when not
    ``strict``), else a ValueError naming it (bools, complex numbers, NaN and inf included)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    v = float(value) if ok else math.nan
    if not (math.isfinite(v) and (v > minimum if strict else v >= minimum)):
        if minimum == 0:
            what = "a positive" if strict else "a nonnegative"
        else:
            what = f"a real number {'>' if strict else '>='} {minimum:g}, a"
        raise ValueError(f"{name} must be {what} finite real number (not bool, complex, NaN or inf); got {value!r}")
    return v


def check_base(base: Any) -> float:
    """Logarithm base as a float (``2`` bits, ``e`` nats, ``10`` bans); must be > 0 and != 1."""
    try:
        b = float(base)
    except (TypeError, ValueError):
        raise ValueError(f"base must be a positive number other than 1 (2 for bits, math.e for nats); "
                         f"got {base!r}") from None
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ValueError(f"base must be a positive number other than 1 (2 for bits, math.e for nats); got {base!r}")
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


class atomic_path:
    """Context manager yielding a temporary path that is renamed to ``path`` on success.

    The temporary file lives in the destination folder (same file system, so the final
    ``os.replace`` is atomic) and keeps the suffix, so writers that pick a format from
    the extension (matplotlib's ``savefig``) still work.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)

    def __enter__(self) -> str:
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        suffix = os.path.splitext(self.path)[1]
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.remove(self.tmp)
