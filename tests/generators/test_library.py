"""Library processes against the exact values of shared/REFERENCE.md."""

import math

import numpy as np
import pytest

from generators import GHMM, HMM, QuantumGenerator, library, minimize
from generators.errors import GeneratorError, UnknownProcessError


def test_names_and_get():
    names = library.names()
    for n in ["mess3", "rrxor", "zero_one_random", "even_process", "golden_mean", "bloch_walk",
              "moon", "frdn", "random_hmm", "random_quantum", "random_ghmm"]:
        assert n in names
        assert library.get(n).alphabet_size >= 2
    assert library.get("fanizza").name == library.frdn().name
    assert isinstance(library.mess3(), HMM)
    assert isinstance(library.bloch_walk(), QuantumGenerator)
    assert isinstance(library.moon(), GHMM)


def test_mess3_reference_matrices():
    g = library.mess3(x=0.05, a=0.85)
    np.testing.assert_allclose(
        g.T[0], [[.765, .00375, .00375], [.0425, .0675, .00375], [.0425, .00375, .0675]], atol=1e-15
    )
    np.testing.assert_allclose(g.initial_state, [1 / 3] * 3, atol=1e-14)
    np.testing.assert_allclose(g.update(g.initial_state, 0), [.85, .075, .075], atol=1e-14)
    ev = np.sort(np.linalg.eigvals(g.transition_matrix).real)
    np.testing.assert_allclose(ev, [1 - 3 * 0.05] * 2 + [1], atol=1e-12)


def test_mess3_015_06_reference_beliefs():
    g = library.mess3(x=0.15, a=0.6)
    s0 = g.update(g.initial_state, 0)
    np.testing.assert_allclose(s0, [.6, .2, .2], atol=1e-14)
    np.testing.assert_allclose(g.update(s0, 1), [0.31578947, 0.51315789, 0.17105263], atol=1e-8)
    np.testing.assert_allclose(g.word_probability([[0], [0]]), [1 / 3, 1 / 3], atol=1e-15)
    np.testing.assert_allclose(g.word_probability([0, 1]), 0.10133333, atol=1e-8)


def test_rrxor_reference():
    g = library.rrxor()
    np.testing.assert_allclose(g.initial_state, np.array([2, 1, 1, 1, 1]) / 6, atol=1e-14)
    np.testing.assert_allclose(g.update(g.initial_state, 0), [1 / 3, 1 / 3, 0, 1 / 6, 1 / 6], atol=1e-14)


def test_zero_one_random_reference():
    g = library.zero_one_random(0.5)
    s = g.initial_state
    np.testing.assert_allclose(g.update(s, 0), [1 / 3, 2 / 3, 0], atol=1e-14)
    np.testing.assert_allclose(g.update(s, 1), [1 / 3, 0, 2 / 3], atol=1e-14)
    np.testing.assert_allclose(g.update(g.update(s, 1), 0), [1 / 2, 1 / 2, 0], atol=1e-14)


def test_even_and_golden_mean_symbol_probs():
    np.testing.assert_allclose(library.even_process(0.5).symbol_probabilities(), [1 / 3, 2 / 3], atol=1e-14)
    np.testing.assert_allclose(library.golden_mean(0.5).symbol_probabilities(), [2 / 3, 1 / 3], atol=1e-14)


def test_bloch_walk_minimal_reference():
    q = library.bloch_walk(1.0, 4.3)
    m = minimize(q)
    assert m.dim == 3
    np.testing.assert_allclose(m.tau, [1, 0, 0], atol=1e-14)
    np.testing.assert_allclose(m.initial, [1, 0, 0], atol=1e-12)
    eta = m.update(m.initial, 0)
    np.testing.assert_allclose(eta, [1, 0, 0.44125192], atol=1e-8)
    a, b = 1.0, 4.3
    g2 = 1 / (4 * (a * a + b * b))
    c, mm, o = 0.25, (a * a - b * b) * g2, 2 * a * b * g2
    # up to the sign of the x axis, the minimal operators are REFERENCE's G0..G3
    ref = np.array([[[c, 0, o], [0, mm, 0], [o, 0, c]], [[c, 0, -o], [0, mm, 0], [-o, 0, c]],
                    [[c, o, 0], [o, c, 0], [0, 0, mm]], [[c, -o, 0], [-o, c, 0], [0, 0, mm]]])
    flip = np.diag([1.0, -1.0, 1.0])
    ok = np.allclose(m.operators, ref, atol=1e-12) or np.allclose(flip @ m.operators @ flip, ref, atol=1e-12)
    assert ok


def test_bloch_walk_is_a_complete_instrument_and_moves_along_z():
    q = library.bloch_walk()
    E = q.effects.sum(axis=0)
    np.testing.assert_allclose(E, np.eye(2), atol=1e-14)
    rho = q.update(q.initial_state, 0)
    # Bloch vector along z only
    assert abs(rho[0, 1]) < 1e-14 and rho[0, 0].real > 0.5


def test_moon_reference():
    m = library.moon()
    nu = m.operators[1, 1, 1]  # T1[1,1] = nu * 1
    assert nu == pytest.approx(0.2611964125, abs=1e-10)
    np.testing.assert_allclose(m.tau / m.tau[0], [1, .3337, .0560], atol=5e-5)
    assert (m.operators < 0).any()  # genuinely post-quantum coordinates
    rho = np.max(np.abs(np.linalg.eigvals(m.transition_matrix)))
    assert rho == pytest.approx(1.0, abs=1e-12)


def test_frdn_reference():
    f = library.frdn()
    np.testing.assert_allclose(f.tau, np.ones(4))
    np.testing.assert_allclose(f.symbol_probabilities(), [.4809290063, .5190709937], atol=1e-9)


@pytest.mark.parametrize("name,dim", [("mess3", 3), ("bloch_walk", 3), ("moon", 3), ("frdn", 4), ("rrxor", 5)])
def test_minimal_dimensions(name, dim):
    assert minimize(library.get(name)).dim == dim


def test_parameter_validation():
    with pytest.raises(GeneratorError, match="x"):
        library.mess3(x=0.7)
    with pytest.raises(GeneratorError, match="alpha > 1 > beta"):
        library.moon(alpha=0.5)
    with pytest.raises(GeneratorError, match="irrational"):
        library.moon(alpha=4.0, beta=0.5)  # ln4/ln(1/2) = -2
    with pytest.raises(GeneratorError, match="alpha \\+ beta"):
        library.moon(alpha=1.5, beta=0.5)
    with pytest.raises(GeneratorError):
        library.frdn(lam=1.5)


def test_unknown_names_and_params():
    with pytest.raises(UnknownProcessError, match="mess3"):
        library.get("mess4")
    with pytest.raises(ValueError, match="no parameter 'z'"):
        library.get("mess3", z=1)
    with pytest.raises(ValueError, match="malformed"):
        library.parse_spec("mess3:x")


def test_parse_spec_and_info():
    g = library.parse_spec("mess3:x=0.15,a=0.6")
    np.testing.assert_allclose(g.update(g.initial_state, 0), [.6, .2, .2], atol=1e-14)
    p = library.parse_spec("mess3*bloch_walk:beta=3")
    assert p.alphabet_size == 12
    i = library.info("bloch_walk")
    assert i["kind"] == "quantum" and math.isclose(i["params"]["beta"], 51 ** 0.5)


def test_random_generators_are_seeded_and_valid():
    a, b = library.random_hmm(4, 3, seed=7), library.random_hmm(4, 3, seed=7)
    np.testing.assert_array_equal(a.T, b.T)
    q = library.random_quantum(d=3, n_symbols=2, rank=2, seed=1)
    np.testing.assert_allclose(q.effects.sum(0), np.eye(3), atol=1e-12)
    gh = library.random_ghmm(4, 2, seed=3)
    assert (gh.operators < 0).any()
