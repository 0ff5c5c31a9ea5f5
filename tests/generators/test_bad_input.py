"""Bad input to the generator classes: every case a ValueError subclass naming the value.

The state rule (generators.base): a user-given state must be a valid normalized state of
its generator; symbols and words are integers; constructors reject NaN, infinities,
complex numbers and booleans; sampling refuses outputs above the memory cap.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators import GHMM, HMM, ProductGenerator, QuantumGenerator, library, limits, product
from generators.errors import ArgumentError, GeneratorError, MemoryLimitError, NotAGeneratorError, ShapeError, StateError

from .strategies import any_generator

MESS3 = library.mess3()
BLOCH = library.bloch_walk()
MOON = library.moon()


# ---------------------------------------------------------------------- the state rule
@pytest.mark.parametrize("call", [
    lambda s: MESS3.word_probability([[0, 1]], state=s),
    lambda s: MESS3.log_word_probability([[0, 1]], state=s),
    lambda s: MESS3.emission_probs(s),
    lambda s: MESS3.update(s, 0),
    lambda s: MESS3.sample(2, 3, seed=0, state=s),
    lambda s: HMM(MESS3.T, initial=s),
])
def test_hmm_states_must_be_probability_vectors_at_every_entry_point(call):
    with pytest.raises(StateError, match=r"must sum to 1 \(a probability vector over 3 hidden states\); got sum 15"):
        call([5.0, 5.0, 5.0])
    with pytest.raises(StateError, match=r"must be nonnegative .*\[1\] = -1"):
        call([2.0, -1.0, 0.0])
    with pytest.raises(StateError, match=r"must be finite; entry \(0,\) is nan"):
        call([np.nan] * 3)
    with pytest.raises(StateError, match=r"must be real; entry \(0,\) is \(0\.5\+0\.1j\)"):
        call([0.5 + 0.1j, 0.5, 0.0])
    with pytest.raises(StateError, match=r"must have shape \((\.\.\., )?3,?\).*got shape \(2,\)"):
        call([0.5, 0.5])
    with pytest.raises(StateError, match="dtype bool"):
        call([True, False, False])


@pytest.mark.parametrize("call", [
    lambda s: MESS3.to_ghmm().forward([[0, 1]], initial=s),
    lambda s: MESS3.to_ghmm().with_initial(s),
    lambda s: MESS3.to_ghmm().sample(2, 3, seed=0, initial=s),
])
def test_the_ghmm_form_of_an_hmm_takes_ghmm_beliefs(call):
    with pytest.raises(StateError, match=r"initial must satisfy eta @ tau = 1 .*got eta @ tau = 15"):
        call([5.0, 5.0, 5.0])
    with pytest.raises(StateError, match=r"initial gives symbol \d the negative probability"):
        call([-9.0, 5.0, 5.0])
    with pytest.raises(StateError, match=r"initial must be finite; entry \(0,\) is nan"):
        call([np.nan] * 3)


def test_word_probability_with_a_state_is_the_probability_from_that_state():
    # reported: state=[5, 5, 5] gave 15x the probability while log_word_probability normalized
    p = [1 / 3, 1 / 3, 1 / 3]
    w = [[0, 1]]
    np.testing.assert_allclose(MESS3.word_probability(w, state=p), np.exp(MESS3.log_word_probability(w, state=p)))
    np.testing.assert_allclose(MESS3.word_probability(w, state=p), MESS3.word_probability(w))
    # tiny rounding negatives are accepted (and clipped); a state within 1e-9 of sum 1 too
    assert MESS3.emission_probs([1.0 + 5e-10, -1e-12, 0.0]).min() >= 0


def test_quantum_states_must_be_density_matrices():
    with pytest.raises(StateError, match=r"state must have trace 1 .*got trace 2"):
        BLOCH.update(np.eye(2), 0)
    with pytest.raises(StateError, match=r"state must be positive semidefinite .*smallest eigenvalue is -0.5"):
        BLOCH.update(np.diag([1.5, -0.5]), 0)
    with pytest.raises(StateError, match=r"state must be Hermitian .*\|rho - rho\^dagger\| = 0.4"):
        BLOCH.update(np.array([[0.5, 0.2], [-0.2, 0.5]]), 0)
    with pytest.raises(StateError, match=r"state must be finite .*entry \(0, 0\) is \(nan"):
        BLOCH.word_probability([[0, 1]], state=np.full((2, 2), np.nan))
    with pytest.raises(StateError, match="zero ket"):
        BLOCH.emission_probs([0.0, 0.0])
    with pytest.raises(StateError, match=r"must have shape \(2, 2\) or a ket of shape \(2,\).*got shape \(3, 3\)"):
        BLOCH.sample(1, 2, state=np.eye(3) / 3)
    # a nonzero ket of any norm is the pure state |psi><psi| / <psi|psi>
    np.testing.assert_allclose(BLOCH.update([3.0, 0.0], 0), BLOCH.update(np.diag([1.0, 0.0]), 0))


@pytest.mark.parametrize("initial, match", [
    ([0.0, 0.0], "zero ket"),
    (np.full((2, 2), np.nan), r"initial must be finite .* is \(nan"),
    (np.array([[1.0, np.inf], [0, 0]]), r"initial must be finite .* is \(inf"),
    (np.eye(2, dtype=bool), "dtype bool"),
    ([["a", "b"], ["c", "d"]], "dtype <U1"),
])
def test_quantum_initial_states(initial, match):
    with pytest.raises(StateError, match=match):
        QuantumGenerator(BLOCH.kraus, initial=initial)


def test_ghmm_states_must_be_normalized_beliefs_with_nonnegative_predictions():
    eta = MOON.initial
    with pytest.raises(StateError, match=r"state must satisfy eta @ tau = 1 .*got eta @ tau = 15"):
        MOON.update(15 * eta, 0)
    # normalized, but symbol 1 would get a negative probability
    bad = np.linalg.lstsq(np.vstack([MOON.tau, MOON.symbol_vectors]), [1.0, 1.5, -0.5, 0.0], rcond=None)[0]
    with pytest.raises(StateError, match=r"gives symbol 1 the negative probability -0.5"):
        MOON.word_probability([[0]], state=bad)
    with pytest.raises(StateError, match="initial"):
        MOON.forward([[0, 1]], initial=np.vstack([eta, 2 * eta]))
    with pytest.raises(StateError, match=r"initial\[1\] must satisfy"):
        MOON.forward([[0, 1], [1, 1]], initial=np.vstack([eta, 2 * eta]))
    with pytest.raises(StateError, match=r"one belief \(3,\) or one per word \(2, 3\); got shape \(3, 3\)"):
        MOON.forward([[0, 1], [1, 1]], initial=np.vstack([eta, eta, eta]))
    with pytest.raises(StateError, match="either state or initial"):
        MOON.sample(1, 2, state=eta, initial=eta)


def test_product_states_are_tuples_of_valid_factor_states():
    p = product(MESS3, BLOCH)
    with pytest.raises(StateError, match=r"a tuple of 2 factor states .*got a list of length 1"):
        p.emission_probs([MESS3.initial_state])
    with pytest.raises(StateError, match=r"state\[1\] must have trace 1"):
        p.update((MESS3.initial_state, np.eye(2)), 0)
    with pytest.raises(StateError, match=r"state\[0\] must sum to 1"):
        p.word_probability([[0, 1]], state=([1.0, 1.0, 1.0], BLOCH.initial_state))
    with pytest.raises(StateError, match=r"state\[0\] must be a state of factor 0; got None"):
        p.sample(1, 2, state=(None, BLOCH.initial_state))
    s = (MESS3.initial_state, BLOCH.initial_state)
    np.testing.assert_allclose(p.check_state(s), p.to_ghmm().initial, atol=1e-12)


@settings(deadline=None, max_examples=30)
@given(any_generator, st.integers(0, 2**31 - 1))
def test_beliefs_reached_by_updates_pass_the_state_rule(g, seed):
    # the rule accepts every state the generator itself produces
    w = g.sample(1, 8, seed=seed)[0]
    s = g.initial_state
    for x in w:
        s = g.update(s, int(x))
        eta = g.check_state(s)
        assert abs(eta @ g.to_ghmm().tau - 1) < 1e-9


# ---------------------------------------------------------------------- symbols and words
def test_symbols_are_integers_in_range():
    s = MESS3.initial_state
    with pytest.raises(ShapeError, match=r"symbol must be an integer in 0..2; got 1.5 \(float\)"):
        MESS3.update(s, 1.5)
    with pytest.raises(ShapeError, match=r"got 1.0 \(float\) \(cast it with int\(1.0\)\)"):
        BLOCH.update(BLOCH.initial_state, 1.0)
    with pytest.raises(ShapeError, match=r"got True \(bool\)"):
        MOON.update(MOON.initial, True)
    with pytest.raises(ShapeError, match="symbol 3 out of range"):
        MESS3.update(s, 3)
    with pytest.raises(ShapeError, match="symbol 12 out of range"):
        product(MESS3, BLOCH).update(product(MESS3, BLOCH).initial_state, 12)


@pytest.mark.parametrize("g", [MESS3, BLOCH, MOON, product(MESS3, library.golden_mean())], ids=repr)
def test_float_word_arrays_are_rejected_with_the_cast_to_use(g):
    w = np.array([[0.0, 1.0]])
    for call in (g.word_probability, g.log_word_probability, g.to_ghmm().forward):
        with pytest.raises(ShapeError, match=r"got dtype float64 \(first entry .*0\.0\).*\.astype\(int\)"):
            call(w)
    with pytest.raises(ShapeError, match="dtype bool"):
        g.word_probability(np.array([[True, False]]))
    with pytest.raises(ShapeError, match="ragged"):
        g.word_probability([[0, 1], [0]])
    assert g.word_probability(np.zeros((0, 3), dtype=int)).shape == (0,)


# ---------------------------------------------------------------------- constructors
@pytest.mark.parametrize("build, match", [
    (lambda: HMM(MESS3.T + 0.3j), r"T must be real; entry \(0, 0, 0\) is \(.*\+0.3j\)"),
    (lambda: HMM(np.where(MESS3.T > 0.5, np.nan, MESS3.T)), r"T must be finite; entry .* is nan"),
    (lambda: HMM(MESS3.T > 0.1), "T must be an array of real numbers; got dtype bool"),
    (lambda: HMM(MESS3.T, initial=[np.nan] * 3), r"initial must be finite; entry \(0,\) is nan"),
    (lambda: HMM(MESS3.T, name=["a"]), r"name must be a string or None; got \['a'\]"),
    (lambda: GHMM(MOON.operators + 1j), r"operators must be real; entry \(0, 0, 0\) is"),
    (lambda: GHMM(MOON.operators, tau=[np.nan] * 3), r"tau must be finite; entry \(0,\) is nan"),
    (lambda: GHMM(MOON.operators, initial=[np.nan] * 3), r"initial must be finite; entry \(0,\) is nan"),
    (lambda: GHMM(MOON.operators, MOON.tau, np.full(3, np.inf)), r"initial must be finite; entry \(0,\) is inf"),
    (lambda: GHMM(MOON.operators, check_words_upto=2.0), "check_words_upto must be an integer[^;]*; got 2.0"),
    (lambda: GHMM(np.zeros((2, 0, 0))), r"shape \(V, n, n\) with V, n >= 1; got \(2, 0, 0\)"),
    (lambda: QuantumGenerator([np.eye(2) * np.nan]), r"kraus\[0\]\[0\] must be finite"),
    (lambda: QuantumGenerator([np.eye(2, dtype=bool)]), r"kraus\[0\]\[0\] must be an array of numbers .*dtype bool"),
    (lambda: QuantumGenerator({0: np.eye(2), "1": np.eye(2)}), "dict keys must be the symbols 0..V-1"),
    (lambda: QuantumGenerator("eye"), "kraus must be a list"),
    (lambda: QuantumGenerator(BLOCH.kraus, atol=-1), "atol must be a finite real number >= 0; got -1"),
    (lambda: ProductGenerator([MESS3, "bloch_walk"]), r"factor 1 must be a generators.Generator.*resolve\('bloch_walk'\)"),
    (lambda: ProductGenerator([]), "at least one factor"),
    (lambda: MOON.similarity(np.ones((3, 3))), "invertible"),
])
def test_constructors_reject_bad_arrays(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_constructor_error_classes():
    with pytest.raises(ArgumentError):
        HMM(MESS3.T + 0.3j)
    with pytest.raises(StateError):
        HMM(MESS3.T, initial=[np.nan] * 3)
    with pytest.raises(GeneratorError):
        QuantumGenerator([np.eye(2) * np.nan])
    with pytest.raises(NotAGeneratorError):
        ProductGenerator([MESS3, 3])


# ---------------------------------------------------------------------- sampling
@pytest.mark.parametrize("g", [MESS3, BLOCH, MOON, product(MESS3, BLOCH)], ids=repr)
def test_sample_arguments(g):
    with pytest.raises(ArgumentError, match=r"seed must be an integer[^;]*; got 1.5 \(float\)"):
        g.sample(2, 3, seed=1.5)
    with pytest.raises(ArgumentError, match="seed must be an integer >= 0; got -1"):
        g.sample(2, 3, seed=-1)
    with pytest.raises(ArgumentError, match=r"seed must be an integer[^;]*; got True \(bool\)"):
        g.sample(2, 3, seed=True)
    with pytest.raises(ArgumentError, match="return_beliefs must be True or False; got 'yes'"):
        g.sample(2, 3, seed=0, return_beliefs="yes")
    with pytest.raises(MemoryLimitError, match=r"sample\(n=1000000000, length=1000\): the words would take .* "
                                               r"above the memory cap 2.0 GiB \(generators.limits.MAX_BYTES"):
        g.sample(10**9, 1000, seed=0)
    with pytest.raises(MemoryLimitError, match="the words and beliefs"):
        g.sample(10**6, 100, seed=0, return_beliefs=True)
    w = g.sample(3, 4, seed=np.random.default_rng(0))
    assert w.shape == (3, 4) and w.dtype == np.int64


def test_memory_cap_can_be_raised(monkeypatch):
    monkeypatch.setattr(limits, "MAX_BYTES", 10_000)
    with pytest.raises(MemoryLimitError, match=r"above the memory cap 9.8 KiB"):
        MESS3.sample(100, 100, seed=0)
    monkeypatch.setattr(limits, "MAX_BYTES", 10**6)
    assert MESS3.sample(100, 100, seed=0).shape == (100, 100)


def test_forward_arguments():
    h = MESS3.to_ghmm()
    for bad, match in ((-1, "zero_tol must be a finite real number >= 0; got -1"), (np.nan, "zero_tol must be a finite real number[^;]*; got nan"),
                       ("0", "zero_tol must be a finite real number[^;]*; got '0'")):
        with pytest.raises(ArgumentError, match=match):
            h.forward([[0, 1]], zero_tol=bad)
    with pytest.raises(ShapeError, match="keep_beliefs must be True or False; got 1"):
        h.forward([[0, 1]], keep_beliefs=1)
    with pytest.raises(MemoryLimitError, match=r"forward on 1 words of length 100000000: the beliefs"):
        h.forward(np.zeros((1, 10**8), dtype=np.int8))


def test_quantum_ghmm_form_is_refused_above_the_cap():
    # a 150-level instrument: its GHMM form has 22500 dimensions (4 GB per operator)
    with pytest.raises(MemoryLimitError, match=r"the 22500-dimensional GHMM form of a 150-level quantum generator"):
        QuantumGenerator([np.eye(150)])
    q = QuantumGenerator([np.eye(150)], initial=np.eye(150) / 150)  # native use needs no GHMM form
    np.testing.assert_allclose(q.emission_probs(), [1.0])
    with pytest.raises(MemoryLimitError, match="22500-dimensional"):
        q.word_probability([[0]])


def test_product_ghmm_form_is_refused_above_the_cap():
    big = product(*[library.mess_n(40)] * 4)  # 2.56e6 dimensions
    assert big.sample(2, 3, seed=0).shape == (2, 3)  # factored sampling needs no joint form
    with pytest.raises(MemoryLimitError, match="2560000-dimensional joint GHMM"):
        big.to_ghmm()


def test_allowed_words_checks_its_initial_belief_and_arguments():
    from generators.words import allowed_words

    g = library.golden_mean()
    w, p = allowed_words(g, 2, initial=[1.0, 0.0])
    assert w.tolist() == [[0, 0], [0, 1], [1, 0]]
    with pytest.raises(StateError, match=r"initial must satisfy eta @ tau = 1 .*got eta @ tau = 2"):
        allowed_words(g, 2, initial=[1.0, 1.0])
    with pytest.raises(StateError, match=r"initial must be finite"):
        allowed_words(g, 2, initial=[np.nan, 1.0])
    with pytest.raises(NotAGeneratorError, match="resolve"):
        allowed_words("golden_mean", 2)
    with pytest.raises(ArgumentError, match="tol must be a finite real number >= 0; got -1"):
        allowed_words(g, 2, tol=-1)


def test_word_batches_above_the_cap_are_refused(monkeypatch):
    w = np.zeros((1000, 4), dtype=np.int64)
    assert MESS3.word_probability(w).shape == (1000,)
    monkeypatch.setattr(limits, "MAX_BYTES", 10_000)
    for call in (MESS3.word_probability, MOON.log_word_probability, MOON.forward):
        with pytest.raises(MemoryLimitError, match=r"word probabilities of 1000 words: the 1000 x 3 partial products"):
            call(w) if call != MOON.forward else call(w, keep_beliefs=False)
