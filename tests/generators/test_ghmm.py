"""GHMM kernels: batched word probabilities, log probabilities, forward filter, errors."""


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators import GHMM, HMM, library
from generators.errors import (ArgumentError, GeneratorError, NegativeProbabilityError, NotStochasticError, ShapeError,
                               StateError, ZeroProbabilityError)
from generators.testing import all_words, loop_word_probability

from .strategies import any_generator


@given(any_generator, st.integers(1, 5))
def test_probabilities_sum_to_one_and_are_nonnegative(g, L):
    V = g.alphabet_size
    if V**L > 3000:
        L = 1
    words = all_words(V, L)
    p = g.word_probability(words)
    assert p.min() > -1e-12
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(p[:20], [loop_word_probability(g, w) for w in words[:20]], atol=1e-14)


@given(any_generator, st.data())
def test_log_probability_consistent(g, data):
    L = data.draw(st.integers(1, 12))
    words = g.sample(16, L, seed=data.draw(st.integers(0, 1000)))
    np.testing.assert_allclose(np.exp(g.log_word_probability(words)), g.word_probability(words), rtol=1e-9, atol=1e-300)


def test_batched_shapes():
    g = library.mess3()
    w = np.zeros((2, 3, 4), dtype=int)
    assert g.word_probability(w).shape == (2, 3)
    assert g.word_probability(np.zeros((5, 0), dtype=int)).tolist() == [1.0] * 5
    assert np.ndim(g.word_probability([0, 1, 2])) == 0


def test_log_probability_long_words_finite():
    g = library.bloch_walk()
    words = g.sample(4, 100_000, seed=0)
    lp = g.log_word_probability(words)
    assert np.all(np.isfinite(lp))
    # entropy per symbol below log 4 but close to it
    assert np.log(4) * 0.98 < -lp.mean() / 100_000 < np.log(4)
    assert np.all(g.word_probability(words) == 0.0)  # direct product underflows: hence the log form


def test_impossible_words_are_minus_inf_not_nan():
    g = library.golden_mean()
    lp = g.log_word_probability([[1, 1, 0], [0, 1, 0]])
    assert lp[0] == -np.inf and np.isfinite(lp[1])
    beliefs, logs = g.to_ghmm().forward(np.array([[1, 1, 0]]))
    assert not np.isnan(beliefs).any() and not np.isnan(logs).any()
    np.testing.assert_array_equal(beliefs[0, 2:], 0.0)
    with pytest.raises(ZeroProbabilityError, match="probability"):
        g.update(g.update(g.initial_state, 1), 1)


def test_forward_matches_updates():
    g = library.moon()
    words = g.sample(3, 10, seed=1)
    beliefs, logs = g.forward(words)
    for b in range(3):
        eta = g.initial
        for t in range(10):
            eta = g.update(eta, words[b, t])
            np.testing.assert_allclose(beliefs[b, t + 1], eta, atol=1e-12)
    np.testing.assert_allclose(logs[:, -1], g.log_word_probability(words), atol=1e-12)


def test_bad_words():
    g = library.mess3()
    with pytest.raises(ShapeError, match="out of range"):
        g.word_probability([0, 3])
    with pytest.raises(ShapeError, match="integer"):
        g.word_probability([0.5])
    with pytest.raises(ShapeError, match="scalar"):
        g.word_probability(1)


def test_bad_hmms():
    with pytest.raises(NotStochasticError, match="row 0 sums"):
        HMM(np.ones((2, 2, 2)))
    with pytest.raises(NotStochasticError, match="nonnegative"):
        HMM(np.array([[[1.2, 0], [0, 1]], [[-0.2, 0], [0, 0]]]))
    with pytest.raises(ShapeError, match=r"\(V, n, n\)"):
        HMM(np.ones((2, 3)))
    with pytest.raises(StateError, match="initial must sum to 1 .*got sum 1.5"):
        HMM(library.mess3().T, initial=[0.5, 0.5, 0.5])


def test_bad_ghmms():
    T = library.mess3().T
    with pytest.raises(GeneratorError, match="fixed point"):
        GHMM(T, tau=np.array([1.0, 2.0, 3.0]))
    with pytest.raises(StateError, match="initial must satisfy eta @ tau = 1.*got eta @ tau = 3"):
        GHMM(T, tau=np.ones(3), initial=np.array([1.0, 1.0, 1.0]))
    with pytest.raises(GeneratorError, match="no eigenvalue 1"):
        GHMM(0.5 * T)
    # a valid-looking GHMM with a negative word probability
    bad = np.array([[[0.5, 0.5], [0.0, 0.0]], [[0.0, 0.0], [1.5, -0.5]]])
    with pytest.raises(NegativeProbabilityError, match="probability"):
        GHMM(bad)
    with pytest.raises(ArgumentError, match=r"operators must be finite; entry \(0, 0, 0\) is nan"):
        GHMM(np.full((2, 2, 2), np.nan))


def test_similarity_preserves_process():
    g = library.mess3().to_ghmm()
    S = np.array([[1.0, 0.3, 0], [0.2, 1, 0.1], [0, -0.4, 1]])
    h = g.similarity(S)
    words = all_words(3, 4)
    np.testing.assert_allclose(h.word_probability(words), g.word_probability(words), atol=1e-15)


@pytest.mark.parametrize("name,L", [("moon", 7), ("frdn", 9), ("bloch_walk", 6), ("mess3", 10)])
def test_large_batches_split_in_half_agree_with_sequential_products(name, L):
    g = library.get(name)
    words = np.random.default_rng(1).integers(0, g.alphabet_size, size=(6000, L))
    seq = np.array([loop_word_probability(g, w) for w in words[:300]])
    fast = g.word_probability(words)
    np.testing.assert_allclose(fast[:300], seq, rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(fast, np.exp(g.log_word_probability(words)), rtol=1e-9, atol=1e-16)
    assert g.word_probability(words.reshape(2, 3000, L)).shape == (2, 3000)
