"""Intervals for reported numbers: across seeds (Student t) and across inputs (bootstrap).

Every number an experiment reports is a mean with a 95% interval: over independent
training seeds with :func:`seed_interval` (the t interval ``mean +- t_{n-1} s / sqrt(n)``),
or over the probe's inputs with :func:`bootstrap_interval` (percentile bootstrap of a
weighted statistic, resampling rows with replacement) where the data, not the training,
is the noise.  An :class:`Interval` knows whether it excludes a value (a paper's number, a
control) -- the test a verdict is written from.

Examples
--------
>>> iv = seed_interval([0.90, 0.92, 0.94])
>>> round(iv.mean, 4), round(iv.lo, 4), round(iv.hi, 4)
(0.92, 0.8703, 0.9697)
>>> iv.excludes(0.5), iv.excludes(0.95)
(True, False)
>>> str(iv)
'0.920 [0.870, 0.970] (n=3)'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from generators.validation import check_int, check_real, check_real_array, check_seed

__all__ = ["Interval", "seed_interval", "bootstrap_interval", "compare", "paired_interval"]


@dataclass(frozen=True)
class Interval:
    """A mean with a two-sided interval.

    Attributes
    ----------
    mean, lo, hi : float
        Estimate and interval bounds (``lo == hi == mean`` for a single value).
    n : int
        Number of seeds (or bootstrap replicates' source rows).
    level : float
        Coverage, e.g. 0.95.
    method : str
        ``"t"`` (seeds), ``"bootstrap"`` or ``"single"`` (one value: no interval).
    sd : float
        Sample standard deviation of the values (NaN for one value).
    """

    mean: float
    lo: float
    hi: float
    n: int
    level: float = 0.95
    method: str = "t"
    sd: float = float("nan")

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def excludes(self, value: float) -> bool:
        """True when ``value`` lies outside ``[lo, hi]`` (a single value excludes nothing
        it does not equal: with one seed no claim of difference is made)."""
        if self.method == "single" or value is None or not math.isfinite(float(value)):
            return False
        return not (self.lo <= float(value) <= self.hi)

    def __str__(self) -> str:
        if self.method == "single":
            return f"{self.mean:.3f} (n=1, no interval)"
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}] (n={self.n})"

    def format(self, digits: int = 3) -> str:
        """``mean [lo, hi]`` with ``digits`` decimals (for tables)."""
        if self.method == "single":
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "n": self.n, "level": self.level,
                "method": self.method, "sd": self.sd}

    @classmethod
    def from_dict(cls, d: dict) -> "Interval":
        return cls(**{k: d[k] for k in ("mean", "lo", "hi", "n", "level", "method", "sd") if k in d})


def seed_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean of independent values (one per seed).

    ``mean +- t_{(1+level)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation.  Non-finite values are an error (a failed run must be reported, not
    averaged away).  One value gives a degenerate ``"single"`` interval.
    """
    v = check_real_array(values, "values", ndim=1)
    level = check_real(level, "level", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    n = v.size
    if n == 0:
        raise ValueError("seed_interval needs at least one value; got none")
    m = float(v.mean())
    if n == 1:
        return Interval(m, m, m, 1, level, "single")
    from scipy import stats

    sd = float(v.std(ddof=1))
    h = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(m, m - h, m + h, n, level, "t", sd)


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n_rows: int, *, n_boot: int = 200,
                       level: float = 0.95, seed: Any = 0, point: float | None = None) -> Interval:
    """Percentile bootstrap of ``statistic(rows)`` over rows resampled with replacement.

    ``statistic`` receives an int array of ``n_rows`` row indices (a resample) and returns
    a float; ``point`` is the estimate on the original rows (computed from
    ``arange(n_rows)`` when not given).  Cost ``n_boot`` calls of ``statistic``.
    """
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_boot = check_int(n_boot, "n_boot", minimum=2)
    level = check_real(level, "level", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    rng = np.random.default_rng(check_seed(seed))
    est = float(statistic(np.arange(n_rows))) if point is None else float(point)
    reps = np.array([float(statistic(rng.integers(0, n_rows, size=n_rows))) for _ in range(n_boot)])
    reps = reps[np.isfinite(reps)]
    if reps.size < 2:
        return Interval(est, est, est, n_rows, level, "single")
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return Interval(est, float(lo), float(hi), n_rows, level, "bootstrap", float(reps.std(ddof=1)))


def compare(interval: Interval, *, paper: float | None = None, controls: dict[str, Any] | None = None,
            higher_is_better: bool = True) -> dict:
    """What an interval says against the paper's value and the controls.

    ``controls`` maps a name to a float or an :class:`Interval` (e.g. the untrained
    network over the same seeds).  Returns ``{"matches_paper": bool | None,
    "beats": {control: bool}, "text": str}``: ``matches_paper`` is True when the interval
    contains the paper's value (None without one); a control is beaten when the two do
    not overlap and ours lies on the better side.
    """
    out: dict[str, Any] = {"matches_paper": None, "beats": {}}
    words = []
    if paper is not None:
        out["matches_paper"] = not interval.excludes(paper)
        words.append(f"{'contains' if out['matches_paper'] else 'excludes'} the paper's {paper:g}")
    for name, c in (controls or {}).items():
        c_lo, c_hi = (c.lo, c.hi) if isinstance(c, Interval) else (float(c), float(c))
        beats = interval.lo > c_hi if higher_is_better else interval.hi < c_lo
        beats = beats and interval.method != "single"
        out["beats"][name] = bool(beats)
        shown = c.format() if isinstance(c, Interval) else f"{float(c):.3g}"
        words.append(f"{'above' if higher_is_better else 'below'} {name} ({shown})" if beats
                     else f"not separated from {name} ({shown})")
    out["text"] = f"{interval.format()}: " + "; ".join(words) if words else interval.format()
    return out


def paired_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """Student-t interval of the mean per-seed difference ``a_i - b_i``.

    For a metric and its control measured on the same seed (the same held-out rows, the
    same data), the paired difference removes the variation the two share; its interval
    excluding 0 is the paired t test at ``1 - level``.  ``a`` and ``b`` must have the same
    length (one value per seed, in the same seed order).

    >>> iv = paired_interval([0.91, 0.95, 0.99], [0.80, 0.86, 0.88])
    >>> round(iv.mean, 4), iv.excludes(0.0)
    (0.1033, True)
    >>> seed_interval([0.91, 0.95, 0.99]).lo < seed_interval([0.80, 0.86, 0.88]).hi  # unpaired: they overlap
    True
    """
    a = check_real_array(a, "a", ndim=1)
    b = check_real_array(b, "b", ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"paired values need one value per seed on both sides; got {a.size} and {b.size}")
    return seed_interval(a - b, level)
