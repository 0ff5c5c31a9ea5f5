"""product, markov_approximation, noisy."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators import HMM, QuantumGenerator, equivalent, factor_symbols, joint_symbol, library, markov_approximation, minimize, noisy, product
from generators.testing import all_words

from .strategies import any_generator, random_hmms


def test_joint_symbol_round_trip():
    sizes = (3, 4, 2)
    fs = np.array(list(itertools.product(*(range(s) for s in sizes))))
    j = joint_symbol(fs, sizes)
    np.testing.assert_array_equal(j, np.arange(24))  # first factor most significant
    np.testing.assert_array_equal(factor_symbols(j, sizes), fs)


@given(any_generator, any_generator, st.integers(1, 3))
def test_product_word_probabilities_are_products(g1, g2, L):
    p = product(g1, g2)
    V = p.alphabet_size
    if V**L > 2000:
        L = 1
    w = all_words(V, L)
    parts = factor_symbols(w, p.sizes)
    expected = g1.word_probability(parts[..., 0]) * g2.word_probability(parts[..., 1])
    np.testing.assert_allclose(p.word_probability(w), expected, atol=1e-14)
    # the materialized Kronecker GHMM agrees with the factored form
    np.testing.assert_allclose(p.to_ghmm().word_probability(w), expected, atol=1e-13)
    np.testing.assert_allclose(np.exp(p.log_word_probability(w)), expected, atol=1e-13)


def test_product_dimensions_add_in_minimal_form_only_multiplicatively():
    p = product(library.mess3(), library.mess3(0.15, 0.6))
    assert p.alphabet_size == 9 and p.kind == "classical"
    assert p.to_ghmm().dim == 9
    assert minimize(p).dim == 9  # joint beliefs need the product dimension
    q = product(library.mess3(), library.bloch_walk())
    assert q.kind == "quantum" and q.alphabet_size == 12


def test_product_native_update_and_beliefs():
    g1, g2 = library.mess3(), library.bloch_walk()
    p = product(g1, g2)
    s = p.update(p.initial_state, joint_symbol([1, 2], p.sizes))
    np.testing.assert_allclose(s[0], g1.update(g1.initial_state, 1))
    np.testing.assert_allclose(s[1], g2.update(g2.initial_state, 2))
    eta = p.from_native(s)
    back = p.to_native(eta)
    np.testing.assert_allclose(back[0], s[0], atol=1e-14)
    np.testing.assert_allclose(back[1], s[1], atol=1e-14)
    np.testing.assert_allclose(p.emission_probs(s), np.outer(g1.emission_probs(s[0]), g2.emission_probs(s[1])).ravel())
    words, beliefs = p.sample(5, 6, seed=0, return_beliefs=True)
    ref, _ = p.to_ghmm().forward(words)
    np.testing.assert_allclose(beliefs, ref, atol=1e-12)


@given(random_hmms(max_states=4, max_symbols=3), st.integers(0, 3))
def test_markov_approximation_matches_k_plus_1_words(g, k):
    m = markov_approximation(g, k)
    w = all_words(g.alphabet_size, k + 1)
    np.testing.assert_allclose(m.word_probability(w), g.word_probability(w), atol=1e-12)
    assert isinstance(m, HMM)


def test_markov_approximation_of_bloch_walk_is_not_the_process():
    q = library.bloch_walk()
    m3 = markov_approximation(q, 3)
    w4 = all_words(4, 4)
    np.testing.assert_allclose(m3.word_probability(w4), q.word_probability(w4), atol=1e-12)
    w5 = all_words(4, 5)
    assert np.abs(m3.word_probability(w5) - q.word_probability(w5)).max() > 1e-6
    assert not equivalent(m3, q)


def test_markov_approximation_prunes_forbidden_histories():
    g = library.golden_mean()
    m = markov_approximation(g, 2)
    assert m.dim == 3  # "11" never occurs
    with pytest.raises(ValueError, match="order"):
        markov_approximation(g, -1)


@pytest.mark.parametrize("name", ["mess3", "bloch_walk", "moon"])
def test_noisy(name):
    g = library.get(name)
    eps = 0.2
    n = noisy(g, eps)
    assert type(n) is type(g) or name == "moon"
    V = g.alphabet_size
    w = all_words(V, 2)
    # Pr'(x y) = sum over which symbols were replaced
    P = g.word_probability(w).reshape(V, V)
    p1 = g.symbol_probabilities()
    exp = (1 - eps) ** 2 * P + (1 - eps) * eps / V * (P.sum(1, keepdims=True) + P.sum(0, keepdims=True)) + (eps / V) ** 2
    np.testing.assert_allclose(n.word_probability(w).reshape(V, V), exp, atol=1e-13)
    np.testing.assert_allclose(p1.sum(), 1)
    assert equivalent(noisy(g, 0.0), g)
    u = noisy(g, 1.0).word_probability(w)
    np.testing.assert_allclose(u, np.full(V * V, 1 / V**2), atol=1e-13)
    with pytest.raises(ValueError, match="epsilon"):
        noisy(g, 1.5)
    if isinstance(g, QuantumGenerator):
        np.testing.assert_allclose(n.effects.sum(0), np.eye(g.dim), atol=1e-13)
