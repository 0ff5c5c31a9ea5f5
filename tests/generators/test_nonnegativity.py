"""Bounded searches for negative word probabilities: the construction check and
check_nonnegative (exhaustive levels, beam over prefixes, repeated cycles)."""

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators import GHMM, HMM, NegativeProbabilityError, check_nonnegative, library, product
from generators import nonnegativity
from generators.nonnegativity import search_negative_words
from generators.words import all_words

from .strategies import any_generator, random_ghmms


def renewal_ops(theta, rho, c=0.51):
    """Renewal process: symbol 0 continues a gap, 1 ends it.  Survival function
    ``g(k) = rho^k (1 - c + c cos(k theta))``: ``Pr(1 0^k) ~ g(k)`` turns negative when
    ``cos(k theta) < -(1-c)/c`` (k = 8 for theta = pi/8, c = 0.51)."""
    cs, s = np.cos(theta), np.sin(theta)
    T0 = rho * np.array([[1, 0, 0], [0, cs, s], [0, -s, cs]])
    tau, mu = np.array([1.0, 1, 0]), np.array([1 - c, c, 0])
    return np.array([T0, np.outer(tau - T0 @ tau, mu)]), tau


def late_negative(theta=np.pi / 8, rho=0.9):
    T, tau = renewal_ops(theta, rho)
    return GHMM(T, tau)


def brute_min(g, L):
    words = all_words(g.alphabet_size, L)
    p = g.word_probability(words)
    return p.min(), tuple(words[np.argmin(p)])


def test_late_negative_passes_construction_and_is_found():
    g = late_negative()  # the length-6 construction check passes
    for L in range(1, 9):
        assert brute_min(g, L)[0] >= 0
    pmin, wmin = brute_min(g, 9)
    assert pmin < -1e-3
    r = check_nonnegative(g)
    assert r.found and len(r.word) == 9
    assert r.word == wmin
    assert r.probability == pytest.approx(pmin, rel=1e-12)
    assert r.probability == pytest.approx(float(g.word_probability(list(r.word))), rel=1e-12)
    assert r.margin < -1e-3
    with pytest.raises(NegativeProbabilityError, match=r"\(1, 0, 0, 0, 0, 0, 0, 0, 0\).*length 9"):
        check_nonnegative(g, raise_error=True)


def test_construction_error_names_the_checked_length():
    T, tau = renewal_ops(np.pi / 8, 0.9)
    GHMM(T, tau, check_words_upto=8)
    with pytest.raises(NegativeProbabilityError, match="up to length 9; longer words were not checked"):
        GHMM(T, tau, check_words_upto=9)
    # the documented cap: V = 2 stops before 2^13 > 4096 words
    h = library.mess_n(2, 0.5, 0.7).to_ghmm()
    r = search_negative_words(h.operators, h.tau, h.initial, 20, beam_width=0, bank_words=1, cycle_words=0)
    assert r.exhaustive_length == 12


@pytest.mark.parametrize("theta,rho,length", [(np.pi / 20, 0.95, 20), (np.pi / 40, 0.95, 38)])
def test_long_period_negativity_beyond_exhaustive_reach(theta, rho, length):
    g = late_negative(theta, rho)
    r = check_nonnegative(g, max_length=48)
    assert r.found and len(r.word) == length
    assert r.exhaustive_length < length  # found by the beam, not by enumeration
    # an independent check of the reported word: direct product, and the renewal formula
    assert float(g.word_probability(list(r.word))) == pytest.approx(r.probability, rel=1e-10)
    k = length - 1
    assert r.word == (1,) + (0,) * k
    assert np.cos(k * theta) < -0.49 / 0.51 and np.all(np.cos(np.arange(k) * theta) >= -0.49 / 0.51)


def decoy_ghmm(eps=1e-2):
    """The long-period renewal mixed with an HMM in which "11" is rare (probability ~eps
    after a 1): many distinct prefixes with small positive margins crowd a narrow beam."""
    A, tA = renewal_ops(np.pi / 40, 0.95)
    B = np.zeros((3, 2, 2))
    B[2, 0, 0] = B[2, 0, 1] = 0.5 - eps / 2
    B[1, 0, 1] = eps
    B[1, 1, 0], B[2, 1, 1] = 0.7, 0.3
    T = np.zeros((3, 5, 5))
    T[:2, :3, :3] = A
    T[:, 3:, 3:] = B
    tau = np.concatenate([tA, np.ones(2)])
    init = np.concatenate([0.5 * GHMM(A, tA, check_words_upto=0).initial, 0.5 * HMM(B).initial_state])
    return GHMM(T, tau, init, check_words_upto=0)


def test_cycles_catch_what_a_crowded_beam_misses():
    g = decoy_ghmm()
    narrow = dict(beam_width=8, exhaustive_words=8, max_length=40)
    assert not check_nonnegative(g, cycle_words=0, **narrow).found
    r = check_nonnegative(g, cycle_words=16, **narrow)
    assert r.found and r.word == (1,) + (0,) * 37 and r.probability < 0
    assert "cycle powers" in r.method
    assert check_nonnegative(g, max_length=40).found  # the default beam is wide enough here


@pytest.mark.parametrize("name", ["mess3", "moon", "frdn", "bloch_walk", "rrxor", "golden_mean", "even_process",
                                  "zero_one_random", "random_ghmm", "random_quantum"])
def test_library_processes_are_not_flagged(name):
    r = check_nonnegative(library.get(name))
    assert not r.found and r.margin >= -1e-9
    assert r.max_length >= 32 and r.exhaustive_length >= 6


def test_products_and_negative_lambda_are_not_flagged():
    assert not check_nonnegative(library.mess_n(2, -0.7, 0.85)).found
    assert not check_nonnegative(product(library.moon(), library.mess3()), max_length=12).found


@settings(max_examples=25)
@given(any_generator)
def test_valid_random_generators_are_not_flagged(g):
    r = check_nonnegative(g, max_length=16)
    assert not r.found, r.summary()


@settings(max_examples=15)
@given(random_ghmms(max_states=4, max_symbols=3), st.integers(0, 2**31 - 1))
def test_similarity_transformed_processes_stay_valid(g, seed):
    rng = np.random.default_rng(seed)
    S = np.eye(g.dim) + rng.normal(scale=0.5, size=(g.dim, g.dim))
    if np.linalg.cond(S) > 100:
        S = np.eye(g.dim)
    assert not check_nonnegative(g.similarity(S), max_length=16).found


@st.composite
def perturbed_hmms(draw):
    """A random HMM plus a perturbation that keeps tau = 1: often invalid at short words."""
    V, n = draw(st.integers(2, 3)), draw(st.integers(2, 3))
    h = library.random_hmm(n, V, seed=draw(st.integers(0, 2**31 - 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    E = rng.normal(size=(V, n, n))
    E -= E.sum(axis=(0, 2), keepdims=True) / (V * n)  # sum_x E[x] 1 = 0
    T = h.T + draw(st.sampled_from([0.0, 0.05, 0.2, 0.5])) * E
    try:
        return GHMM(T, np.ones(n), check_words_upto=0)
    except ValueError:
        return h.to_ghmm()


@settings(max_examples=40)
@given(perturbed_hmms())
def test_exhaustive_levels_agree_with_brute_force(g):
    r = search_negative_words(g.operators, g.tau, g.initial, 6, beam_width=0, bank_words=1, cycle_words=0)
    pmin = min(brute_min(g, L)[0] for L in range(1, 7))
    if pmin < -1e-6:
        assert r.found
    if r.found:
        assert r.probability < 0 and len(r.word) <= 6
        assert r.probability == pytest.approx(float(g.word_probability(list(r.word))), rel=1e-9)
    else:
        assert r.exhaustive_length == 6  # V <= 3: 3^6 <= 4096 words per level


def test_all_words_matches_itertools():
    for V, L in [(2, 5), (3, 3), (4, 1), (5, 0)]:
        np.testing.assert_array_equal(all_words(V, L), np.array(list(itertools.product(range(V), repeat=L)),
                                                                dtype=np.int64).reshape(V**L, L))


@pytest.mark.parametrize("kw", [dict(max_length=-1), dict(beam_width=0), dict(tol=float("nan")), dict(tol=-1.0),
                                dict(max_length=True), dict(cycle_words=2.5)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        check_nonnegative(library.mess3(), **kw)


def test_summary_and_doctest():
    r = check_nonnegative(library.mess3(), max_length=8)
    assert "no negative word found" in r.summary() and "Longer words were not examined" in r.summary()
    assert doctest.testmod(nonnegativity, raise_on_error=False).failed == 0
