"""mixed_state_presentation: reference beliefs, closure, mass, words, transitions, options."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bayes import BeliefManifold, belief_trajectories, mixed_state_presentation
from generators import GHMM, HMM, NegativeProbabilityError, equivalent, library

LIBRARY_CASES = [
    ("mess3", {}), ("mess3", dict(x=0.15, a=0.6)), ("rrxor", {}), ("zero_one_random", {}),
    ("even_process", {}), ("golden_mean", {}), ("bloch_walk", {}), ("moon", {}), ("frdn", {}),
    ("random_hmm", dict(n_states=4, n_symbols=3, seed=1)), ("random_quantum", dict(d=2, n_symbols=3, seed=2)),
    ("random_ghmm", dict(n_states=3, n_symbols=2, seed=3)),
]


def _follow(m, word):
    i = 0
    for x in word:
        i = int(m.next_state[i, x])
        assert i >= 0
    return i


def test_rrxor_closes_with_36_beliefs():
    m = mixed_state_presentation(library.rrxor(), 20)
    assert m.closed and m.stopped is None
    assert m.n_beliefs == 36 and len(m) == 36
    assert m.max_depth == 20 and m.expanded.all()
    np.testing.assert_allclose(m.mass_per_depth(), 1.0, atol=1e-12)
    np.testing.assert_allclose(m.beliefs[_follow(m, [0])], [1 / 3, 1 / 3, 0, 1 / 6, 1 / 6], atol=1e-14)
    rec = m.recurrent_states()
    assert rec.size == 5
    np.testing.assert_allclose(np.sort(m.beliefs[rec], axis=0), np.sort(np.eye(5), axis=0))
    eps = m.eps_machine()
    assert eps.dim == 5 and equivalent(eps, library.rrxor())
    np.testing.assert_allclose(np.sort(eps.initial_state), [1 / 6] * 4 + [1 / 3], atol=1e-12)
    assert "36 beliefs" in repr(m) and "closed" in repr(m)


@pytest.mark.parametrize("name, n_causal", [("even_process", 2), ("golden_mean", 2), ("zero_one_random", 3)])
def test_finite_presentations_and_eps_machines(name, n_causal):
    g = library.get(name)
    m = mixed_state_presentation(g, 40)
    assert m.closed
    eps = m.eps_machine()
    assert eps.dim == n_causal
    assert equivalent(eps, g)


def test_eps_machine_merges_predictively_equivalent_states():
    # the even process with state A split in two copies that alternate on 0s: the
    # synchronized beliefs delta(A1) and delta(A2) differ but predict the same future, so
    # the recurrent part has 3 beliefs and the eps-machine 2 causal states
    p = 0.5
    T0 = np.array([[0, 1 - p, 0], [1 - p, 0, 0], [0, 0, 0]])
    T1 = np.array([[0, 0, p], [0, 0, p], [1, 0, 0]])
    g = HMM(np.array([T0, T1]))
    m = mixed_state_presentation(g, 30)
    assert m.closed and m.recurrent_states().size == 3
    eps = m.eps_machine()
    assert eps.dim == 2 and equivalent(eps, library.even_process())


@pytest.mark.parametrize("x, a", [(0.15, 0.6), (0.05, 0.85)])
def test_mess3_reference_beliefs(x, a):
    m = mixed_state_presentation(library.mess3(x=x, a=a), 3)
    b = (1 - a) / 2
    np.testing.assert_allclose(m.beliefs[0], [1 / 3] * 3, atol=1e-14)
    np.testing.assert_allclose(m.beliefs[_follow(m, [0])], [a, b, b], atol=1e-14)
    ids, mass = m.level(1)
    np.testing.assert_allclose(mass, [1 / 3] * 3, atol=1e-14)
    if (x, a) == (0.15, 0.6):
        i = _follow(m, [0, 1])
        np.testing.assert_allclose(m.beliefs[i], [0.31578947, 0.51315789, 0.17105263], atol=1e-8)
        np.testing.assert_allclose(m.mass_at(2)[i], 0.10133333, atol=1e-8)
        assert m.word(i) == (0, 1) and m.depth[i] == 2


def test_zero_one_random_reference_beliefs():
    m = mixed_state_presentation(library.zero_one_random(0.5), 4)
    np.testing.assert_allclose(m.beliefs[_follow(m, [0])], [1 / 3, 2 / 3, 0], atol=1e-14)
    np.testing.assert_allclose(m.beliefs[_follow(m, [1])], [1 / 3, 0, 2 / 3], atol=1e-14)
    np.testing.assert_allclose(m.beliefs[_follow(m, [1, 0])], [1 / 2, 1 / 2, 0], atol=1e-14)


@pytest.mark.parametrize("depth", [0, 1, 4, 7])
def test_keep_all_enumerates_the_word_tree(depth):
    g = library.mess3(x=0.15, a=0.6)
    m = mixed_state_presentation(g, depth, keep_all=True)
    assert m.n_beliefs == (3 ** (depth + 1) - 1) // 2 and m.keep_all and not m.closed
    assert np.all(np.diff(m.depth) >= 0)
    for t in range(depth + 1):
        ids, mass = m.level(t)
        assert ids.size == 3**t
        words = m.words(ids)[:, :t]
        np.testing.assert_allclose(mass, g.word_probability(words) if t else [1.0], rtol=1e-12)
    np.testing.assert_allclose(m.probs.sum(), 1.0)


def test_keep_all_prunes_impossible_words():
    g = library.golden_mean()
    m = mixed_state_presentation(g, 10, keep_all=True)
    fib = [1, 2]
    for _ in range(10):
        fib.append(fib[-1] + fib[-2])
    for t in range(11):
        assert m.level(t)[0].size == fib[t]  # binary words with no "11"
    np.testing.assert_allclose(m.mass_per_depth(), 1.0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(LIBRARY_CASES), st.integers(0, 6), st.booleans())
def test_mass_transitions_and_words_are_consistent(case, depth, keep_all):
    name, params = case
    g = library.get(name, **params)
    m = mixed_state_presentation(g, depth, keep_all=keep_all)
    h = g.to_ghmm()
    assert isinstance(m, BeliefManifold)
    # mass at every depth sums to 1; beliefs are normalized
    np.testing.assert_allclose(m.mass_per_depth(), 1.0, atol=1e-9)
    np.testing.assert_allclose(m.beliefs @ h.tau, 1.0, atol=1e-9)
    # the shortest word of each belief leads to it
    words = m.words()
    for L in np.unique(m.depth):
        ids = np.nonzero(m.depth == L)[0]
        tr = belief_trajectories(g, words[ids, :L].reshape(ids.size, int(L)))
        np.testing.assert_allclose(tr.beliefs[:, -1], m.beliefs[ids], atol=1e-8)
    # every stored transition is the Bayes update with its probability
    rows, xs = np.nonzero(m.next_state >= 0)
    upd = m.beliefs[rows][:, None, :] @ h.operators[xs]
    p = (upd[:, 0] @ h.tau)
    np.testing.assert_allclose(p, m.next_prob[rows, xs], atol=1e-12)
    np.testing.assert_allclose(upd[:, 0] / p[:, None], m.beliefs[m.next_state[rows, xs]], atol=1e-7)
    # expanded rows: probabilities of all symbols (pruned ones are ~0) sum to 1
    np.testing.assert_allclose(m.next_prob[m.expanded].sum(axis=1), 1.0, atol=1e-9)
    W = m.transition_matrix()
    np.testing.assert_allclose(np.asarray(W.sum(axis=1)).ravel()[m.expanded], 1.0, atol=1e-9)


def test_merged_beliefs_are_distinct_beyond_tol():
    m = mixed_state_presentation(library.mess3(x=0.15, a=0.6), 5)
    d = np.abs(m.beliefs[:, None, :] - m.beliefs[None, :, :]).max(-1)
    d[np.diag_indices_from(d)] = np.inf
    assert d.min() > m.tol
    coarse = mixed_state_presentation(library.mess3(x=0.15, a=0.6), 5, tol=0.2)
    assert coarse.n_beliefs < m.n_beliefs
    np.testing.assert_allclose(coarse.mass_per_depth(), 1.0, atol=1e-12)


def test_bloch_walk_manifold_native_states_are_density_matrices():
    m = mixed_state_presentation(library.bloch_walk(), 4)
    rho = m.native()
    assert rho.shape == (m.n_beliefs, 2, 2)
    np.testing.assert_allclose(np.trace(rho, axis1=1, axis2=2), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(rho).min() > -1e-12
    np.testing.assert_allclose(m.native([0])[0], np.eye(2) / 2, atol=1e-12)


def test_max_beliefs_stops_at_last_complete_depth():
    m = mixed_state_presentation(library.mess3(), 10, max_beliefs=1000)
    assert m.stopped == "max_beliefs" and not m.closed
    assert m.n_beliefs == 364 and m.max_depth == 5  # 1+3+...+243; the next level would pass 1000
    np.testing.assert_allclose(m.mass_per_depth(), 1.0, atol=1e-12)
    assert not m.expanded[m.depth == 5].any()
    with pytest.raises(ValueError, match="not closed"):
        m.recurrent_states()
    with pytest.raises(ValueError, match="depth t must be in 0..5"):
        m.level(6)


def test_closed_manifold_keeps_propagating_mass():
    m = mixed_state_presentation(library.even_process(), 50)
    assert m.closed and m.max_depth == 50 and m.n_beliefs == 4
    np.testing.assert_allclose(m.mass_per_depth(), 1.0, atol=1e-12)
    np.testing.assert_allclose(m.stationary_mass().sum(), 1.0)
    # stationary mass lives on the two recurrent (synchronized) beliefs
    np.testing.assert_allclose(sorted(m.stationary_mass()[m.recurrent_states()]), [1 / 3, 2 / 3], atol=1e-12)


def test_progress_bar_forced_on_and_off(capsys):
    m = mixed_state_presentation(library.mess3(), 3, progress=True)
    assert m.n_beliefs == 40
    shown = capsys.readouterr().err
    assert "MSP mess3" in shown and "/3" in shown  # tqdm writes the bar to stderr
    mixed_state_presentation(library.mess3(), 3, progress=False)
    assert capsys.readouterr().err == ""


def test_negative_probability_is_an_error():
    bad = GHMM(np.array([[[-0.1]], [[1.1]]]), tau=[1.0], initial=[1.0], check_words_upto=0)
    with pytest.raises(NegativeProbabilityError, match=r"word \(0,\)"):
        mixed_state_presentation(bad, 3)


@pytest.mark.parametrize("kw, match", [
    (dict(depth=-1), "depth must be an integer >= 0"),
    (dict(depth=2.5), "depth must be an integer"),
    (dict(depth=3, tol=0.0), "tol must be a finite real number > 0"),
    (dict(depth=3, max_beliefs=0), "max_beliefs must be an integer >= 1"),
    (dict(depth=3, initial=[1.0, 0.0]), "last dimension 3|distribution over 3|over 3 hidden states"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        mixed_state_presentation(library.mess3(), **kw)


def test_not_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        mixed_state_presentation("mess3", 3)
