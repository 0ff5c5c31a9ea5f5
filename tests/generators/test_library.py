"""Library processes against the exact values of docs/REFERENCE.md (the processes section)."""

import math

import numpy as np
import pytest

from generators import GHMM, HMM, QuantumGenerator, library, minimize
from generators.errors import ArgumentError, MemoryLimitError, UnknownProcessError
from generators.io import resolve


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
    with pytest.raises(ArgumentError, match="mess3 needs 0 <= x <= 0.5; got x=0.7"):
        library.mess3(x=0.7)
    with pytest.raises(ArgumentError, match="alpha > 1 > beta"):
        library.moon(alpha=0.5)
    with pytest.raises(ArgumentError, match="irrational"):
        library.moon(alpha=4.0, beta=0.5)  # ln4/ln(1/2) = -2
    with pytest.raises(ArgumentError, match="alpha \\+ beta"):
        library.moon(alpha=1.5, beta=0.5)
    with pytest.raises(ArgumentError, match="frdn needs 0 < lam < 1; got lam=1.5"):
        library.frdn(lam=1.5)


@pytest.mark.parametrize("spec, match", [
    # reported as accepted silently
    ("mess3:x=0.1,x=0.2", r"parameter 'x' given twice in 'mess3:x=0.1,x=0.2'"),
    ("mess3 * ", r"empty factor 2 of 2 in the process spec 'mess3 \* '"),
    ("*", r"empty factor 1 of 2 in the process spec '\*'"),
    ("mess3**rrxor", r"empty factor 2 of 3 in the process spec 'mess3\*\*rrxor'"),
    ("mess3:x=0.1,,a=0.5", r"empty parameter in 'mess3:x=0.1,,a=0.5'"),
    ("mess3:x=0.1,", r"empty parameter in 'mess3:x=0.1,'"),
    ("mess3:", r"empty parameter list after 'mess3:'"),
    ("", "empty process specification ''"),
    # reported as raw TypeError / OverflowError / unclear messages
    ("moon:alpha=inf", "moon: alpha must be a finite real number; got inf"),
    ("random_hmm:n_states=3.0", r"random_hmm: n_states must be an integer[^;]*; got 3.0 \(float\)"),
    ("random_hmm:seed=1.5", r"random_hmm: seed must be an integer[^;]*; got 1.5 \(float\)"),
    ("random_quantum:d=2.0", r"random_quantum: d must be an integer[^;]*; got 2.0 \(float\)"),
    ("frdn:alpha=inf", "frdn: alpha must be a finite real number; got inf"),
    ("random_hmm:concentration=0", "random_hmm needs 0 < concentration; got concentration=0"),
    ("random_hmm:seed=-1", "random_hmm: seed must be an integer >= 0; got -1"),
    # more of the same classes
    ("mess3:x=nan", "mess3: x must be a finite real number; got nan"),
    ("mess3:x=true", r"malformed value in 'x=true': 'true' is not a number"),
    ("mess3:x", r"malformed parameter 'x' in 'mess3:x': expected name=value"),
    ("mess3:x=", r"malformed parameter 'x=' in 'mess3:x='"),
    ("mess3:xx=0.1", r"mess3 has no parameter 'xx'; did you mean 'x'\?"),
    ("mess4", r"unknown process 'mess4'; did you mean mess3"),
    ("mess_n:n=1", r"mess_n: n \(the number of states\) must be an integer >= 2; got 1"),
    ("mess_n:n=3,lam=-0.9", "mess_n with n=3 states needs -0.5 <= lam <= 1"),
    ("bloch_walk:alpha=0", "bloch_walk needs 0 < alpha; got alpha=0"),
    ("even_process:p=1", "even_process needs 0 < p < 1; got p=1"),
    ("rrxor:p1=-0.1", "rrxor needs 0 <= p1 <= 1; got p1=-0.1"),
    ("random_quantum:rank=0", "random_quantum: rank must be an integer >= 1; got 0"),
    ("random_ghmm:n_symbols=2.5", r"random_ghmm: n_symbols must be an integer[^;]*; got 2.5"),
])
def test_bad_specs_raise_one_line_argument_errors(spec, match):
    cls = UnknownProcessError if spec == "mess4" else ArgumentError
    with pytest.raises(cls, match=match) as e:
        library.parse_spec(spec)
    assert "\n" not in str(e.value)
    with pytest.raises(cls, match=match):
        resolve(spec)


@pytest.mark.parametrize("call, match", [
    (lambda: library.mess3(x=True), r"mess3: x must be a finite real number[^;]*; got True \(bool\)"),
    (lambda: library.mess_n(n=True), r"must be an integer[^;]*; got True \(bool\)"),
    (lambda: library.random_hmm(n_states=np.float64(3)), "n_states must be an integer[^;]*; got"),
    (lambda: library.golden_mean(p=0.5 + 0j), "golden_mean: p must be a finite real number"),
    (lambda: library.get(3), r"a process name must be a string; got 3 \(int\)"),
    (lambda: library.parse_spec(["mess3"]), r"a process spec must be a string such as 'mess3:x=0.15'; got \['mess3'\]"),
])
def test_bools_floats_and_non_strings_are_rejected(call, match):
    with pytest.raises(ArgumentError, match=match):
        call()


@pytest.mark.parametrize("spec, match", [
    ("mess_n:n=60000", r"mess_n with n=60000 states .* would take 4.6 PiB, above the memory cap 2.0 GiB"),
    ("random_quantum:d=150", r"the 22500-dimensional GHMM form .* would take 33.9 GiB, above the memory cap"),
    ("random_hmm:n_states=100000", r"random_hmm with 100000 states .* above the memory cap"),
])
def test_specs_that_would_exhaust_memory_are_refused_first(spec, match):
    with pytest.raises(MemoryLimitError, match=match):
        library.parse_spec(spec)


def test_random_ghmm_terminates_for_large_state_counts():
    # reported: random_ghmm(n_states=25) looped on its conditioning rule for some seeds
    for n in (6, 25, 60):
        g = library.random_ghmm(n_states=n, seed=1)
        assert g.dim == n and (g.operators < 0).any()
    # small sizes keep the historical draws (same seeds, same processes)
    assert library.random_ghmm(4, 2, seed=3).name == "random_ghmm(n_states=4, n_symbols=2, seed=3)"


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
