"""generators.kernels: every fast path against its slow per-sequence definition."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import generators._steps
from generators import kernels as K
from generators import library
from generators.errors import ZeroProbabilityError
from generators.words import all_words

from .strategies import any_generator, random_hmms

ZERO_TOL = 1e-13


# ---------------------------------------------------------------------- slow references
def slow_forward(h, words, initial=None, zero_tol=ZERO_TOL):
    """Beliefs and log prefix probabilities, one sequence and one step at a time."""
    B, L = words.shape
    beliefs, logs = np.zeros((B, L + 1, h.dim)), np.zeros((B, L + 1))
    for b in range(B):
        eta = np.asarray(h.initial if initial is None else initial[b], dtype=float)
        eta = eta / (eta @ h.tau)
        beliefs[b, 0], logp = eta, 0.0
        for t, x in enumerate(words[b]):
            v = eta @ h.operators[x]
            c = v @ h.tau
            if logp == -np.inf or not c > zero_tol:
                eta, logp = np.zeros(h.dim), -np.inf
            else:
                eta, logp = v / c, logp + np.log(c)
            beliefs[b, t + 1], logs[b, t + 1] = eta, logp
    return beliefs, logs


def slow_products(h, words, start):
    out = np.empty((len(words), h.dim))
    for b, w in enumerate(words):
        v = np.asarray(start, dtype=float)
        for x in w:
            v = v @ h.operators[x]
        out[b] = v
    return out


def slow_sample_beliefs(h, n, length, seed):
    """Sampling through beliefs one sequence at a time from the same row-major uniforms."""
    u = np.random.default_rng(seed).random((n, length))
    words = np.empty((n, length), dtype=np.int64)
    for b in range(n):
        eta = h.initial / (h.initial @ h.tau)
        for t in range(length):
            x = int(K.categorical(eta @ h.operators @ h.tau, u[b, t]))
            v = eta @ h.operators[x]
            eta, words[b, t] = v / (v @ h.tau), x
    return words


def slow_sample_hidden(T, initial, n, length, seed):
    """Walking hidden states one sequence at a time from the same row-major uniforms."""
    V, k, _ = T.shape
    u = np.random.default_rng(seed).random((n, length + 1))
    joint = T.transpose(1, 0, 2).reshape(k, V * k)
    words = np.empty((n, length), dtype=np.int64)
    for b in range(n):
        s = int(K.categorical(initial, u[b, 0]))
        for t in range(length):
            j = int(K.categorical(joint[s], u[b, t + 1]))
            words[b, t], s = divmod(j, k)
    return words


def random_words(V, B, L, seed):
    return np.random.default_rng(seed).integers(0, V, size=(B, L))


def word_frequencies_pvalue(g, words):
    V, L = g.alphabet_size, words.shape[1]
    counts = np.bincount(np.ravel_multi_index(tuple(words.T), (V,) * L), minlength=V**L)
    p = np.clip(g.word_probability(all_words(V, L)), 0, None)
    assert counts[p <= 1e-15].sum() == 0
    keep = p > 1e-15
    return stats.chisquare(counts[keep], counts.sum() * p[keep] / p[keep].sum()).pvalue


# ---------------------------------------------------------------------- forward filter
@given(any_generator, st.integers(0, 40), st.integers(1, 9), st.sampled_from([None, 1, 5, 64]), st.integers(0, 2**31))
def test_forward_filter_matches_the_step_by_step_definition(g, L, B, chunk, seed):
    h = g.to_ghmm()
    words = g.sample(B, L, seed=seed) if seed % 2 else random_words(h.alphabet_size, B, L, seed)  # odd: possible words
    beliefs, logs = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=ZERO_TOL, chunk=chunk)
    ref_b, ref_l = slow_forward(h, words)
    assert beliefs.shape == (B, L + 1, h.dim) and logs.shape == (B, L + 1)
    np.testing.assert_allclose(beliefs, ref_b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(np.isneginf(logs), np.isneginf(ref_l))
    np.testing.assert_allclose(logs, ref_l, rtol=1e-12, atol=1e-11)
    final_b, final_l = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=ZERO_TOL, keep_beliefs=False)
    np.testing.assert_allclose(final_b, ref_b[:, -1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(final_l, ref_l[:, -1], rtol=1e-12, atol=1e-11)


def test_forward_filter_impossible_prefixes_are_zero_and_minus_infinity():
    h = library.golden_mean().to_ghmm()  # no two 1s in a row
    words = np.array([[0, 1, 1, 0] + [0] * 30, [1, 0, 1, 0] + [0] * 30])
    beliefs, logs = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=ZERO_TOL, chunk=1)
    assert np.all(np.isneginf(logs[0, 3:])) and np.all(np.isfinite(logs[0, :3]))
    assert np.all(beliefs[0, 3:] == 0) and not np.isnan(beliefs).any()
    assert np.all(np.isfinite(logs[1]))
    for zero_tol in (0.0, 1e-300):  # exact zeros are impossible at any tolerance
        _, logs0 = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=zero_tol)
        np.testing.assert_array_equal(np.isneginf(logs0), np.isneginf(logs))


def test_forward_filter_long_words_do_not_underflow_and_take_per_row_starts():
    g = library.mess3()
    h = g.to_ghmm()
    words = g.sample(3, 3000, seed=1)
    _, logs = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=ZERO_TOL)
    np.testing.assert_allclose(logs, slow_forward(h, words)[1], rtol=1e-12)
    assert np.all(logs[:, -1] < -2000) and np.all(np.isfinite(logs))
    starts = np.random.default_rng(0).dirichlet(np.ones(3), size=3) * 2.0  # normalized inside
    beliefs, logs = K.forward_filter(h.operators, h.tau, words[:, :50], starts, zero_tol=ZERO_TOL)
    ref_b, ref_l = slow_forward(h, words[:, :50], initial=starts)
    np.testing.assert_allclose(beliefs, ref_b, atol=1e-13)
    np.testing.assert_allclose(logs, ref_l, rtol=1e-12)


def test_forward_filter_one_gemm_per_symbol_route(monkeypatch):
    g = library.random_quantum(d=3, n_symbols=4, seed=2)
    h = g.to_ghmm()
    words = g.sample(40, 20, seed=0)
    fast = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=ZERO_TOL)
    monkeypatch.setattr(generators._steps, "_ALL_SYMBOLS_MAX", 0)
    grouped = K.forward_filter(h.operators, h.tau, words, h.initial, zero_tol=ZERO_TOL, chunk=7)
    for a, b in zip(fast, grouped):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert np.array_equal(K.sample_beliefs(h.operators, h.tau, h.initial, 50, 9, np.random.default_rng(4)),
                          slow_sample_beliefs(h, 50, 9, 4))


def test_forward_filter_rejects_bad_zero_tol():
    h = library.mess3().to_ghmm()
    for bad in (-1e-3, np.nan, np.inf):
        with pytest.raises(ValueError, match="zero_tol"):
            K.forward_filter(h.operators, h.tau, np.zeros((1, 2), dtype=np.int64), h.initial, zero_tol=bad)


# ---------------------------------------------------------------------- products and word probabilities
@given(any_generator, st.integers(0, 9), st.integers(0, 2**31))
def test_word_probabilities_every_route_matches_the_plain_product(g, L, seed):
    h = g.to_ghmm()
    V = h.alphabet_size
    L = min(L, int(np.log(20_000) / np.log(max(V, 2))))
    allw = all_words(V, L)
    few = random_words(V, 7, L, seed)
    many = random_words(V, 3 * V ** (L - L // 2) + 1, L, seed)  # halves shared: the half-table route
    for words in (allw, few, many):
        ref = slow_products(h, words, h.initial) @ h.tau
        fast = K.word_probabilities(h.operators, h.tau, words, h.initial, chunk=int(seed % 50) + 1)
        np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-15)
    starts = np.random.default_rng(seed).normal(size=(len(few), h.dim))
    ref = np.concatenate([slow_products(h, few[i:i + 1], starts[i]) for i in range(len(few))])
    np.testing.assert_allclose(K.batched_products(h.operators, few, starts, chunk=3), ref, rtol=1e-10, atol=1e-14)


def test_prefix_and_suffix_tables_are_indexed_by_word_code():
    h = library.bloch_walk().to_ghmm()
    words = all_words(4, 3)
    prefixes = slow_products(h, words, h.initial)
    np.testing.assert_allclose(K.prefix_table(h.operators, h.initial, 3), prefixes, atol=1e-15)
    suffix = np.stack([np.linalg.multi_dot([*h.operators[w], h.tau]) for w in words])
    np.testing.assert_allclose(K.suffix_table(h.operators, h.tau, 3), suffix, atol=1e-15)


def test_all_mess3_words_of_length_10_sum_to_one():
    h = library.mess3().to_ghmm()
    words = all_words(3, 10)
    p = K.word_probabilities(h.operators, h.tau, words, h.initial)
    assert abs(p.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(p[::997], slow_products(h, words[::997], h.initial) @ h.tau, rtol=1e-12)


# ---------------------------------------------------------------------- sampling through beliefs
@settings(max_examples=15)
@given(any_generator, st.integers(0, 2**31))
def test_sample_beliefs_draws_the_slow_definition_and_returns_filter_beliefs(g, seed):
    h = g.to_ghmm()
    words, beliefs = K.sample_beliefs(h.operators, h.tau, h.initial, 30, 21, np.random.default_rng(seed),
                                      return_beliefs=True, chunk=int(seed % 40) + 1)
    assert np.array_equal(words, slow_sample_beliefs(h, 30, 21, seed))
    np.testing.assert_allclose(beliefs, slow_forward(h, words)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["bloch_walk", "moon", "golden_mean"])
def test_sample_beliefs_word_frequencies_match_exact_probabilities(name):
    g = library.get(name)
    h = g.to_ghmm()
    words = K.sample_beliefs(h.operators, h.tau, h.initial, 30_000, 3, np.random.default_rng(7))
    assert word_frequencies_pvalue(g, words) > 1e-3


def test_sample_streams_do_not_depend_on_chunk_or_batch_size():
    h = library.bloch_walk().to_ghmm()
    a = K.sample_beliefs(h.operators, h.tau, h.initial, 300, 40, np.random.default_rng(3), chunk=64)
    b = K.sample_beliefs(h.operators, h.tau, h.initial, 300, 40, np.random.default_rng(3))
    c = K.sample_beliefs(h.operators, h.tau, h.initial, 7, 40, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.array_equal(c, a[:7])
    m = library.mess3()
    a = K.sample_hidden_states(m.T, m.initial_state, 300, 40, np.random.default_rng(3), chunk=16)
    c = K.sample_hidden_states(m.T, m.initial_state, 7, 40, np.random.default_rng(3))
    assert np.array_equal(c, a[:7])


def test_sample_beliefs_from_a_belief_with_no_possible_symbol_raises():
    h = library.mess3().to_ghmm()
    with pytest.raises(ZeroProbabilityError):
        K.sample_beliefs(h.operators, h.tau, np.array([1.0, -1.0, 0.0]), 3, 2, np.random.default_rng(0))


# ---------------------------------------------------------------------- hidden-state sampling
@settings(max_examples=20)
@given(random_hmms(max_states=6, max_symbols=4), st.integers(0, 2**31), st.sampled_from([None, 1, 4, 64]))
def test_sample_hidden_states_is_the_exact_inverse_cdf_for_any_bin_count(g, seed, bins):
    words = K.sample_hidden_states(g.T, g.initial_state, 40, 17, np.random.default_rng(seed), bins=bins, chunk=9)
    assert np.array_equal(words, slow_sample_hidden(g.T, g.initial_state, 40, 17, seed))


@pytest.mark.parametrize("name", ["mess3", "even_process", "rrxor"])
def test_sample_hidden_states_word_frequencies_match_exact_probabilities(name):
    g = library.get(name)
    words = K.sample_hidden_states(g.T, g.initial_state, 30_000, 4, np.random.default_rng(11))
    assert word_frequencies_pvalue(g, words) > 1e-3


def test_hidden_table_and_bins_argument():
    g = library.mess3()
    M, lut, cum = K._hidden_table(g.T)
    u = np.random.default_rng(0).random(5000)
    for s in range(3):
        val = lut[s * M + (u * M).astype(int)]
        ok = val >= 0
        assert ok.mean() > 0.99
        np.testing.assert_array_equal(val[ok] >> 32, (cum[s][None, :] <= u[ok, None]).sum(axis=1))
    with pytest.raises(ValueError, match="power of two"):
        K.sample_hidden_states(g.T, g.initial_state, 2, 2, np.random.default_rng(0), bins=3)


def test_categorical_never_draws_zero_or_negative_weights():
    p = np.array([[0.0, 0.5, -1e-17, 0.5, 0.0]] * 4)
    x = K.categorical(p, np.array([0.0, 0.4999, 0.5, 1 - 2**-53]))
    assert x.tolist() == [1, 1, 3, 3]
