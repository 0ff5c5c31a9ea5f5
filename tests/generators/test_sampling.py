"""Sampling: distribution of short words (chi-square), beliefs returned, seeding."""


import numpy as np
import pytest
from scipy import stats

from generators import library, product
from generators.errors import ArgumentError
from generators.testing import all_words


@pytest.mark.parametrize("name", ["mess3", "bloch_walk", "moon", "frdn", "rrxor"])
def test_word_frequencies_match_exact_probabilities(name):
    g = library.get(name)
    V, L, n = g.alphabet_size, 3, 40_000
    words = g.sample(n, L, seed=12345)
    idx = np.ravel_multi_index(tuple(words.T), (V,) * L)
    counts = np.bincount(idx, minlength=V**L)
    allw = all_words(V, L)
    p = np.clip(g.word_probability(allw), 0, None)
    assert counts[p == 0].sum() == 0
    keep = p > 0
    chi2 = stats.chisquare(counts[keep], n * p[keep] / p[keep].sum())
    assert chi2.pvalue > 1e-3, (name, chi2)


def test_later_positions_are_stationary_too():
    g = library.mess3(0.15, 0.6)
    w = g.sample(30_000, 20, seed=3)
    counts = np.bincount(w[:, -1], minlength=3)
    assert stats.chisquare(counts, np.full(3, 10_000)).pvalue > 1e-3


def test_sample_is_seeded_and_shaped():
    g = library.bloch_walk()
    a = g.sample(7, 11, seed=5)
    assert a.shape == (7, 11) and a.dtype == np.int64
    np.testing.assert_array_equal(a, g.sample(7, 11, seed=5))
    assert not np.array_equal(a, g.sample(7, 11, seed=6))
    rng = np.random.default_rng(0)
    assert g.sample(3, 4, seed=rng).shape == (3, 4)


@pytest.mark.parametrize("name", ["mess3", "bloch_walk", "moon"])
def test_sample_returns_filter_beliefs(name):
    g = library.get(name)
    words, beliefs = g.sample(20, 9, seed=0, return_beliefs=True)
    ref, logs = g.to_ghmm().forward(words)
    assert beliefs.shape == (20, 10, g.to_ghmm().dim)
    np.testing.assert_allclose(beliefs, ref, atol=1e-12)
    assert np.all(np.isfinite(logs))


def test_sample_from_given_state():
    g = library.zero_one_random()
    w = g.sample(100, 2, seed=0, state=[1.0, 0, 0])
    np.testing.assert_array_equal(w, np.tile([0, 1], (100, 1)))
    q = library.bloch_walk()
    rho = np.diag([1.0, 0.0]).astype(complex)
    wq = q.sample(20_000, 1, seed=0, state=rho)[:, 0]
    np.testing.assert_allclose(np.bincount(wq, minlength=4) / 20_000, q.emission_probs(rho), atol=0.015)


def test_product_sampling():
    p = product(library.mess3(), library.even_process())
    w = p.sample(20_000, 2, seed=1)
    assert w.max() < 6
    allw = all_words(6, 2)
    counts = np.bincount(w[:, 0] * 6 + w[:, 1], minlength=36)
    pr = p.word_probability(allw)
    keep = pr > 0
    assert counts[~keep].sum() == 0
    assert stats.chisquare(counts[keep], 20_000 * pr[keep]).pvalue > 1e-3


def test_bad_counts():
    with pytest.raises(ArgumentError, match="n must be an integer >= 0; got -1"):
        library.mess3().sample(-1, 3)
    with pytest.raises(ArgumentError, match=r"length must be an integer[^;]*; got 1.5 \(float\)"):
        library.mess3().sample(2, 1.5)
