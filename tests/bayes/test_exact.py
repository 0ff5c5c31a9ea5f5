"""Exact (sympy) beliefs: closed forms, and floats checked against exact values."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from bayes import belief_trajectories, exact_belief, exact_generator, exact_names
from bayes.exact import ExactGHMM
from generators import ZeroProbabilityError, library
from generators.errors import ArgumentError, NotAGeneratorError, StateError


def test_symbolic_mess3_belief_after_0_is_independent_of_x():
    e = exact_generator("mess3", symbolic=True)
    x, a = sorted(e.free_symbols, key=str)[::-1]  # x, a
    b0 = e.belief([0])
    assert sp.simplify(b0 - sp.Matrix([[a, (1 - a) / 2, (1 - a) / 2]])) == sp.zeros(1, 3)
    assert sp.simplify(e.word_probability([0]) - sp.Rational(1, 3)) == 0
    # substituting the paper's parameters gives REFERENCE.md's rational values
    b01 = e.belief([0, 1]).subs({x: sp.Rational(3, 20), a: sp.Rational(3, 5)})
    assert sp.simplify(b01 - sp.Matrix([[sp.Rational(6, 19), sp.Rational(39, 76), sp.Rational(13, 76)]])) == sp.zeros(1, 3)
    num = e.subs(x=0.15, a=0.6)
    assert num.free_symbols == set()
    assert num.word_probability([0, 1]) == sp.Rational(38, 375)


def test_rational_beliefs_equal_float_beliefs_reference():
    e = exact_generator("mess3", x=0.15, a=0.6)
    g = library.mess3(x=0.15, a=0.6)
    tr = belief_trajectories(g, [[0, 1]])
    np.testing.assert_allclose(tr.beliefs[0, 2], np.array(e.belief([0, 1]), dtype=float)[0], atol=1e-15)
    assert e.belief([0, 1]) == sp.Matrix([[sp.Rational(6, 19), sp.Rational(39, 76), sp.Rational(13, 76)]])
    r = exact_generator("rrxor")
    assert r.initial == sp.Matrix([[sp.Rational(1, 3)] + [sp.Rational(1, 6)] * 4])
    assert r.belief([0]) == sp.Matrix([[sp.Rational(1, 3), sp.Rational(1, 3), 0, sp.Rational(1, 6), sp.Rational(1, 6)]])


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([("mess3", dict(x=0.15, a=0.6)), ("rrxor", dict(p1=0.3, p2=0.8)),
                        ("zero_one_random", dict(p=0.25)), ("even_process", dict(p=0.4)),
                        ("golden_mean", dict(p=0.7))]),
       st.integers(0, 2**31 - 1))
def test_exact_beliefs_equal_float_beliefs(case, seed):
    name, params = case
    g = library.get(name, **params)
    e = exact_generator(name, **params)
    words = g.sample(2, 7, seed=seed)
    tr = belief_trajectories(g, words)
    for b, w in enumerate(words):
        for t in range(0, 8, 3):
            exact = np.array(e.belief(w[:t].tolist()), dtype=float)[0]
            np.testing.assert_allclose(tr.beliefs[b, t], exact, atol=1e-13)
        p = float(e.word_probability(w.tolist()))
        np.testing.assert_allclose(np.exp(tr.log_prob[b, -1]), p, rtol=1e-12)


def test_bloch_walk_exact_operators_and_beliefs():
    e = exact_generator("bloch_walk", beta=4.3)
    g = library.bloch_walk(alpha=1.0, beta=4.3)
    np.testing.assert_allclose(e.numeric().operators, g.to_ghmm().operators, atol=1e-14)
    z = sp.sqrt(2) * e.belief([0])[0, 3]
    assert z == sp.Rational(860, 1949)
    assert abs(float(z) - 0.44125192) < 1e-8
    s = exact_generator("bloch_walk", symbolic=True)
    alpha, beta = sorted(s.free_symbols, key=str)
    xcoord = sp.simplify(sp.sqrt(2) * s.belief([2])[0, 1])
    assert sp.simplify(xcoord - 2 * alpha * beta / (alpha**2 + beta**2)) == 0
    default = exact_generator("bloch_walk")  # beta = sqrt(51) exactly
    words = [[2, 0, 3, 1, 1]]
    np.testing.assert_allclose(belief_trajectories(library.bloch_walk(), words).beliefs[0, -1],
                               np.array(default.belief(words[0]).evalf(), dtype=float)[0], atol=1e-13)


def test_rationalized_float_generator():
    e = exact_generator(library.rrxor())
    assert e.belief([0, 1]) == exact_generator("rrxor").belief([0, 1])
    assert exact_belief("golden_mean", [0, 1]) == sp.Matrix([[0, 1]])  # a 1 always leads to state B


def test_lambdify_and_numeric():
    e = exact_generator("mess3", symbolic=True)
    f = e.lambdify(e.belief([0, 1])[0, 1])
    assert abs(f(0.6, 0.15) - 0.51315789) < 1e-8  # sorted symbols: a, x
    with pytest.raises(ValueError, match="need values"):
        e.numeric()
    np.testing.assert_allclose(e.numeric(x=0.15, a=0.6).operators, library.mess3(x=0.15, a=0.6).T, atol=1e-15)


def test_errors():
    with pytest.raises(ZeroProbabilityError):
        exact_generator("golden_mean").belief([1, 1])
    with pytest.raises(ValueError, match="no closed form for 'moon'"):
        exact_generator("moon")
    with pytest.raises(ValueError, match="has no parameter 'q'"):
        exact_generator("mess3", q=1)
    with pytest.raises(ValueError, match="symbol 3 out of range"):
        exact_generator("mess3").belief([3])
    with pytest.raises(ValueError, match="parameter values"):
        exact_generator("mess3", x=[1])
    assert "mess3" in exact_names() and "bloch_walk" in exact_names()
    assert isinstance(exact_generator("even_process"), ExactGHMM)


def test_exact_bad_input():
    e = exact_generator("mess3")
    with pytest.raises(StateError, match=r"eta tau = 1 .*got eta tau = 3"):
        e.update([1, 1, 1], 0)
    with pytest.raises(StateError, match="must have 3 entries; got shape"):
        e.word_probability([0], state=[1, 0])
    s = exact_generator("mess3", symbolic=True)  # symbolic states are not judged
    assert s.belief([0], state=[sp.Symbol("p"), 1 - sp.Symbol("p"), 0]).shape == (1, 3)
    with pytest.raises(NotAGeneratorError, match="spec must be a library name .* or a Generator; got int"):
        exact_generator(3)
    with pytest.raises(ArgumentError, match="max_denominator must be an integer >= 1; got 0"):
        exact_generator(library.mess3(), max_denominator=0)
    with pytest.raises(ArgumentError, match="symbolic must be True or False; got 'yes'"):
        exact_generator("mess3", symbolic="yes")



def test_exact_words_are_sequences_of_symbols():
    e = exact_generator("golden_mean")
    with pytest.raises(ValueError, match=r"a word must be a sequence of integer symbols in 0..1; got 5"):
        e.belief(5)
    with pytest.raises(ValueError, match=r"symbol 1.0 out of range"):
        e.word_probability([0, 1.0])
