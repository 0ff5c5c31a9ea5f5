"""belief_trajectories: agreement with native step-by-step Bayes, masks, stability, errors."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bayes import BeliefTrajectories, belief_trajectories
from generators import GHMM, library
from generators.testing import loop_native_beliefs
from generators.errors import ArgumentError, NotAGeneratorError, ShapeError, StateError

SETTINGS = settings(max_examples=20, deadline=None)


@st.composite
def generator_and_words(draw, kind):
    seed = draw(st.integers(0, 10_000))
    V = draw(st.integers(1, 4))
    if kind == "hmm":
        g = library.random_hmm(draw(st.integers(1, 5)), V, seed=seed)
    elif kind == "quantum":
        g = library.random_quantum(draw(st.integers(1, 3)), V, rank=draw(st.integers(1, 2)), seed=seed)
    else:
        g = library.random_ghmm(draw(st.integers(2, 4)), V, seed=seed)
    B, L = draw(st.integers(1, 4)), draw(st.integers(0, 12))
    words = np.random.default_rng(seed).integers(0, V, size=(B, L))
    return g, words


@SETTINGS
@given(generator_and_words("hmm"))
def test_hmm_trajectories_equal_native_updates(case):
    g, words = case
    tr = belief_trajectories(g, words)
    assert tr.beliefs.shape == (words.shape[0], words.shape[1] + 1, g.dim)
    np.testing.assert_allclose(tr.native(), np.array(loop_native_beliefs(g, words)), atol=1e-10)
    np.testing.assert_allclose(tr.native().sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(tr.log_prob[:, -1]), g.word_probability(words), rtol=1e-9, atol=1e-300)


@SETTINGS
@given(generator_and_words("quantum"))
def test_quantum_trajectories_equal_density_matrix_updates(case):
    g, words = case
    tr = belief_trajectories(g, words)
    rho = tr.native()
    d = g.dim
    assert rho.shape == (words.shape[0], words.shape[1] + 1, d, d)
    np.testing.assert_allclose(rho, np.array(loop_native_beliefs(g, words)), atol=1e-10)
    # density matrices: Hermitian, trace 1, positive semidefinite
    np.testing.assert_allclose(rho, np.conj(np.swapaxes(rho, -1, -2)), atol=1e-12)
    np.testing.assert_allclose(np.trace(rho, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(rho).min() > -1e-10
    np.testing.assert_allclose(np.exp(tr.log_prob[:, -1]), g.word_probability(words), rtol=1e-9, atol=1e-300)


@SETTINGS
@given(generator_and_words("ghmm"))
def test_ghmm_trajectories_equal_native_updates(case):
    g, words = case
    tr = belief_trajectories(g, words)
    np.testing.assert_allclose(tr.beliefs, np.array(loop_native_beliefs(g, words)), atol=1e-9)
    np.testing.assert_allclose(tr.beliefs @ g.to_ghmm().tau, 1.0, atol=1e-10)


def test_unpacks_as_beliefs_and_log_probs():
    g = library.mess3(x=0.15, a=0.6)
    beliefs, logp = belief_trajectories(g, [[0, 1]])
    np.testing.assert_allclose(beliefs[0, 1], [0.6, 0.2, 0.2], atol=1e-12)
    np.testing.assert_allclose(beliefs[0, 2], [0.31578947, 0.51315789, 0.17105263], atol=1e-8)
    np.testing.assert_allclose(np.exp(logp[0]), [1.0, 1 / 3, 0.10133333], atol=1e-8)


def test_single_word_and_leading_dimensions():
    g = library.rrxor()
    one = belief_trajectories(g, [0, 1, 1])
    assert one.beliefs.shape == (4, 5) and one.log_prob.shape == (4,)
    np.testing.assert_allclose(one.beliefs[1], [1 / 3, 1 / 3, 0, 1 / 6, 1 / 6], atol=1e-12)
    many = belief_trajectories(g, np.zeros((2, 3, 4), dtype=int))
    assert many.beliefs.shape == (2, 3, 5, 5)
    assert isinstance(many, BeliefTrajectories) and many.length == 4


def test_impossible_prefixes_are_marked_never_nan():
    g = library.golden_mean()  # no two consecutive 1s
    tr = belief_trajectories(g, [[1, 1, 0, 0], [0, 1, 0, 1]])
    assert not np.isnan(tr.beliefs).any() and not np.isnan(tr.log_prob).any()
    np.testing.assert_array_equal(tr.possible, [[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    assert np.all(tr.log_prob[0, 2:] == -np.inf)
    assert np.all(tr.beliefs[0, 2:] == 0.0)
    assert np.all(tr.prob[0, 2:] == 0.0)


def test_stable_for_very_long_words():
    g = library.mess3(x=0.05, a=0.85)
    words = g.sample(1, 100_000, seed=3)
    tr = belief_trajectories(g, words)
    assert np.all(np.isfinite(tr.log_prob)) and np.all(np.isfinite(tr.beliefs))
    np.testing.assert_allclose(tr.beliefs.sum(-1), 1.0, atol=1e-12)
    assert tr.beliefs.min() >= 0
    # log Pr(w)/L approaches the entropy rate (about 0.73 nats here); no underflow to -inf
    assert -1.2 < tr.log_prob[0, -1] / 100_000 < -0.4


def test_next_symbol_probs_and_custom_initial():
    g = library.mess3(x=0.15, a=0.6)
    tr = belief_trajectories(g, [[0]], initial=[1.0, 0.0, 0.0])
    np.testing.assert_allclose(tr.beliefs[0, 0], [1, 0, 0])
    p = tr.next_symbol_probs()
    np.testing.assert_allclose(p[0, 0], g.emission_probs([1.0, 0.0, 0.0]), atol=1e-14)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("words, match", [
    ([[0, 3]], "out of range"),
    ([[0, -1]], "out of range"),
    ([[0.5, 1.0]], "integer"),
    (5, "at least one dimension"),
    ([["a"]], "integer"),
])
def test_bad_words_raise_value_error(words, match):
    with pytest.raises(ValueError, match=match):
        belief_trajectories(library.mess3(), words)


def test_bad_generator_and_initial():
    with pytest.raises(TypeError, match="Generator"):
        belief_trajectories(np.eye(3), [[0]])
    with pytest.raises(NotAGeneratorError, match=r"g must be a generators.Generator.*got str 'mess3'.*"
                                                  r"generators.io.resolve\('mess3'\)"):
        belief_trajectories("mess3", [[0]])
    with pytest.raises(StateError, match=r"initial must have shape \(3,\) .*got shape \(2,\)"):
        belief_trajectories(library.mess3(), [[0]], initial=[0.5, 0.5])
    with pytest.raises(StateError, match=r"initial must satisfy eta @ tau = 1 .*got eta @ tau = 0"):
        belief_trajectories(GHMM(library.mess3().T), [[0]], initial=[0.0, 0.0, 0.0])
    # reported: a non-distribution was accepted
    with pytest.raises(StateError, match=r"initial must be nonnegative .*initial\[1\] = -1"):
        belief_trajectories(library.mess3(), [[0]], initial=[2, -1, 0])
    with pytest.raises(StateError, match=r"initial must sum to 1 .*got sum 3"):
        belief_trajectories(library.mess3(), [[0]], initial=[1, 1, 1])
    with pytest.raises(StateError, match="initial must have trace 1"):
        belief_trajectories(library.bloch_walk(), [[0]], initial=np.eye(2))


@pytest.mark.parametrize("zero_tol, match", [
    (-1, "zero_tol must be a finite real number >= 0; got -1"),
    (np.nan, "zero_tol must be a finite real number[^;]*; got nan"),
    (np.inf, "zero_tol must be a finite real number[^;]*; got inf"),
    ("1e-13", "zero_tol must be a finite real number[^;]*; got '1e-13'"),
    (True, r"zero_tol must be a finite real number[^;]*; got True \(bool\)"),
])
def test_zero_tol_is_validated(zero_tol, match):
    # reported: zero_tol=-1 gave NaN beliefs, zero_tol=nan made every word impossible
    with pytest.raises(ArgumentError, match=match):
        belief_trajectories(library.golden_mean(), [[1, 1]], zero_tol=zero_tol)
    tr = belief_trajectories(library.golden_mean(), [[0, 0], [1, 1]], zero_tol=0.0)
    assert not np.isnan(tr.beliefs).any()
    np.testing.assert_allclose(tr.prob[0, -1], library.golden_mean().word_probability([0, 0]))
    assert tr.log_prob[1, -1] == -np.inf


def test_float_words_are_rejected_with_the_cast_to_use():
    with pytest.raises(ShapeError, match=r"\.astype\(int\)"):
        belief_trajectories(library.mess3(), np.array([[0.0, 1.0]]))
