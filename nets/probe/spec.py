"""How to probe: :class:`ProbeSpec`, one frozen, validated record of every option."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import numpy as np

from generators.validation import check_choice, check_int, check_real

from .decision import check_thresholds

__all__ = ["ProbeSpec", "make_spec"]


@dataclass(frozen=True)
class ProbeSpec:
    """Options of :func:`nets.probe.probe` (all validated on construction).

    Which rows and points (used when probing a :class:`~nets.probe.ProbeDataset`):

    representation : str, optional -- key of ``dataset.beliefs`` (default: the first)
    names : tuple of str, optional -- activation points (default: all collected)
    positions : "all", "last" or tuple of prefix lengths, optional -- rows to probe

    The fit (:func:`nets.probe.fit_affine`):

    concat : bool or tuple of str -- also probe the concatenation of all points (True)
        or of the named ones, as the point ``"concat"`` (ignored with a single point)
    headline : str, optional -- the point the verdict is about (default ``"concat"`` if
        probed, else the last point)
    rank : "cv", "full" or int;  folds : int >= 2;  select : "min" or "1se";
    rcond : float > 0 -- see :func:`nets.probe.fit_affine`
    test_fraction : float in (0, 1) -- held-out share of the rows (seeded split)
    seed : int >= 0 -- split, CV folds (``seed``) and shuffled control (``seed + 1``)
    n_pairs : int -- weight-sampled pairs for the distance-geometry R^2
    thresholds : mapping -- overrides of :data:`~nets.probe.DEFAULT_THRESHOLDS`
        (stored as a sorted tuple of items, so the spec stays hashable)
    drop_constant : bool -- drop belief coordinates with zero weighted variance (their
        indices go to ``meta["dropped_coordinates"]``)

    >>> ProbeSpec(folds=5).fit_options()["folds"]
    5
    >>> ProbeSpec(select="max")
    Traceback (most recent call last):
    ...
    generators.errors.ArgumentError: select must be one of 'min', '1se'; got 'max'
    """

    representation: str | None = None
    names: tuple | None = None
    positions: Any = None
    concat: Any = True
    headline: str | None = None
    rank: Any = "cv"
    folds: int = 10
    select: str = "min"
    rcond: float = 1e-6
    test_fraction: float = 0.2
    seed: int = 0
    n_pairs: int = 20000
    thresholds: Any = ()
    drop_constant: bool = True

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.names is not None:
            put(self, "names", (self.names,) if isinstance(self.names, str) else tuple(self.names))
            bad = [n for n in self.names if not isinstance(n, str)]
            if bad:
                raise ValueError(f"names must be activation names (strings); got {bad[0]!r}")
        if isinstance(self.positions, str):
            check_choice(self.positions, "positions", ("all", "last"))
        elif self.positions is not None:
            put(self, "positions", tuple(check_int(t, "positions", minimum=1) for t in np.atleast_1d(self.positions)))
        if not isinstance(self.concat, bool):
            put(self, "concat", tuple(self.concat))
        if isinstance(self.rank, str):
            check_choice(self.rank, "rank", ("cv", "full"))
        else:
            put(self, "rank", check_int(self.rank, "rank", minimum=0))
        put(self, "folds", check_int(self.folds, "folds", minimum=2))
        check_choice(self.select, "select", ("min", "1se"))
        put(self, "rcond", check_real(self.rcond, "rcond", minimum=0.0, min_open=True))
        put(self, "test_fraction", check_real(self.test_fraction, "test_fraction", minimum=0.0, maximum=1.0,
                                              min_open=True, max_open=True))
        put(self, "seed", check_int(self.seed, "seed", minimum=0))
        put(self, "n_pairs", check_int(self.n_pairs, "n_pairs", minimum=1))
        thr = dict(self.thresholds) if self.thresholds else {}
        check_thresholds(thr)
        put(self, "thresholds", tuple(sorted((str(k), float(v)) for k, v in thr.items())))
        check_choice(self.drop_constant, "drop_constant", (True, False))

    def threshold_dict(self) -> dict[str, float]:
        """The verdict thresholds in force (defaults updated by :attr:`thresholds`)."""
        return check_thresholds(dict(self.thresholds))

    def fit_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`nets.probe.fit_affine`."""
        return {"rank": self.rank, "folds": self.folds, "seed": self.seed, "rcond": self.rcond, "select": self.select}


def make_spec(spec: ProbeSpec | None = None, options: Mapping[str, Any] | None = None) -> ProbeSpec:
    """``spec`` (default :class:`ProbeSpec()`) with ``options`` replaced; unknown option
    names raise ``ValueError`` listing the valid ones."""
    if spec is not None and not isinstance(spec, ProbeSpec):
        raise ValueError(f"spec must be a ProbeSpec; got {type(spec).__name__}")
    options = dict(options or {})
    valid = [f.name for f in fields(ProbeSpec)]
    bad = sorted(set(options) - set(valid))
    if bad:
        raise ValueError(f"unknown probe option(s) {bad}; valid: {', '.join(valid)}")
    return replace(spec, **options) if spec is not None else ProbeSpec(**options)
