"""Intervals over seeds and bootstrap intervals, with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from nets.stats import Interval, bootstrap_interval, compare, seed_interval


def test_seed_interval_is_the_t_interval():
    v = np.array([0.31, 0.39, 0.35, 0.33])
    iv = seed_interval(v)
    h = sps.t.ppf(0.975, 3) * v.std(ddof=1) / 2
    assert iv.mean == pytest.approx(0.345) and iv.hi - iv.mean == pytest.approx(h) and iv.n == 4
    assert iv.excludes(0.95) and not iv.excludes(0.34)
    assert Interval.from_dict(iv.to_dict()) == iv


def test_single_seed_makes_no_claim():
    iv = seed_interval([0.7])
    assert iv.method == "single" and not iv.excludes(0.1)
    assert compare(iv, controls={"untrained": 0.1})["beats"] == {"untrained": False}


def test_bad_values_are_errors():
    with pytest.raises(ValueError, match="finite"):
        seed_interval([0.5, float("nan")])
    with pytest.raises(ValueError, match="at least one"):
        seed_interval([])


def test_bootstrap_of_a_mean_covers_the_normal_interval():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=400)
    iv = bootstrap_interval(lambda rows: x[rows].mean(), x.size, n_boot=400, seed=1)
    assert iv.mean == pytest.approx(x.mean())
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert iv.half_width == pytest.approx(1.96 * se, rel=0.2)


def test_compare_against_paper_and_controls():
    iv = Interval(0.9, 0.85, 0.95, 3)
    c = compare(iv, paper=0.95, controls={"untrained": Interval(0.3, 0.2, 0.4, 3), "shuffled": 0.88})
    assert c["matches_paper"] is True
    assert c["beats"] == {"untrained": True, "shuffled": False}
    assert "excludes" not in c["text"] and "not separated from shuffled" in c["text"]
    lower = compare(Interval(0.01, 0.005, 0.015, 3), controls={"untrained": 0.1}, higher_is_better=False)
    assert lower["beats"] == {"untrained": True}


def test_paired_interval_is_the_t_interval_of_differences():
    from nets.stats import paired_interval

    a, b = [0.91, 0.95, 0.99], [0.80, 0.86, 0.88]
    iv = paired_interval(a, b)
    ref = seed_interval(np.subtract(a, b))
    assert (iv.mean, iv.lo, iv.hi) == (ref.mean, ref.lo, ref.hi)
    # the shared seed-to-seed variation cancels: separated when paired, overlapping when not
    assert iv.lo > 0 and seed_interval(a).lo < seed_interval(b).hi
    with pytest.raises(ValueError, match="one value per seed"):
        paired_interval([1.0, 2.0], [1.0])
