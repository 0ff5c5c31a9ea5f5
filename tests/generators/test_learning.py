"""Spectral learning of GHMMs (generators.learning) and sequence statistics
(generators.sequences): known answers from 1e6 sampled symbols, exact recovery from exact
statistics, counting against its definition, input validation."""

import doctest
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators import (GHMM, LearnedModelWarning, ShapeError, equivalent, hankel_rank, learn_ghmm, library,
                        load_sequences, minimize)
from generators import learning, sequences
from generators.io import load_generator, save_generator
from generators.words import all_words
from generators.sequences import assign_groups, substring_counts, window_codes, word_frequencies


def learn_quietly(seqs, **kw):
    """learn_ghmm, returning the warnings it raised (only LearnedModelWarning allowed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = learn_ghmm(seqs, return_report=True, **kw)
    assert all(issubclass(w.category, LearnedModelWarning) for w in caught), [str(w.message) for w in caught]
    return out + ([str(w.message) for w in caught],)


def max_z(g_true, g_learned, seqs, upto=6):
    """max over all words up to ``upto`` of |learned - true| / standard error of the
    empirical frequency (batch means over 32 groups, floored at one count)."""
    V, z = g_true.alphabet_size, 0.0
    for L in range(1, upto + 1):
        w = all_words(V, L)
        p = g_true.word_probability(w)
        _, se = word_frequencies(seqs, L, V)
        se = np.maximum(se, 1.0 / (seqs.shape[0] * (seqs.shape[1] - L + 1)))
        z = max(z, float(np.max(np.abs(g_learned.word_probability(w) - p) / se)))
    return z


@pytest.fixture(scope="module")
def samples():
    """1e6 symbols (1000 x 1000) of each known-answer process."""
    return {name: library.get(name).sample(1000, 1000, seed=100) for name in ("mess3", "bloch_walk", "moon")}


@pytest.fixture(scope="module")
def learned(samples):
    """learn_quietly on the samples, computed once per (process, options)."""
    cache = {}

    def get(name, **kw):
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = learn_quietly(samples[name], **kw)
        return cache[key]

    return get


@pytest.mark.parametrize("name", ["mess3", "bloch_walk", "moon"])
def test_known_answers_from_a_million_symbols(samples, learned, name):
    g = library.get(name)
    learned, report, msgs = learned(name)
    assert learned.dim == hankel_rank(g) == 3
    assert report.dim == 3 and report.singular_values[2] > report.threshold * report.noise_levels[2]
    assert report.singular_values[3] <= report.threshold * report.noise_levels[3]
    assert max_z(g, learned, samples[name]) < 5.0
    # canonical normalization
    np.testing.assert_allclose(learned.tau, [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(learned.operators.sum(axis=0) @ learned.tau, learned.tau, atol=1e-12)
    np.testing.assert_allclose(learned.initial @ learned.operators.sum(axis=0), learned.initial, atol=1e-10)
    assert learned.initial @ learned.tau == pytest.approx(1.0)
    assert bool(msgs) == report.nonnegativity.found


def test_refinement_fixes_forbidden_words(samples, learned):
    """Moon forbids "00": the plain spectral estimate misses it by tens of standard
    errors (one count), the chi-square refinement does not."""
    g = library.moon()
    plain = learned("moon", refine=False)[0]
    refined = learned("moon")[0]
    assert max_z(g, plain, samples["moon"]) > 10 > 5 > max_z(g, refined, samples["moon"])
    assert abs(float(refined.word_probability([0, 0]))) < 5e-6


def test_warning_or_repair_on_negative_words(samples, learned):
    learned, report, msgs = learned("bloch_walk")
    assert report.nonnegativity.found and "negative probability" in msgs[0]
    assert str(report.nonnegativity.word) in msgs[0]
    fixed, rep2, msgs2 = learn_quietly(samples["bloch_walk"], repair=True)
    assert not msgs2 and not rep2.nonnegativity.found
    assert rep2.repair.startswith("restart smoothing d = ")
    d = float(rep2.repair.split("= ")[1])
    assert 0 < d < 0.1
    # the documented family: T' = (1 - d) T + d (T tau) initial
    T = learned.operators
    expected = (1 - d) * T + d * np.einsum("xi,j->xij", T @ learned.tau, learned.initial)
    np.testing.assert_allclose(fixed.operators, expected, rtol=1e-2, atol=1e-12)
    np.testing.assert_allclose(fixed.symbol_probabilities(), learned.symbol_probabilities(), atol=1e-12)
    assert max_z(library.bloch_walk(), fixed, samples["bloch_walk"]) < 5.0


@pytest.mark.parametrize("name,l", [("mess3", 1), ("moon", 2), ("bloch_walk", 1), ("rrxor", 4), ("frdn", 3)])
def test_exact_statistics_give_an_equivalent_model(name, l):
    """With exact word probabilities in the Hankel blocks, T[x] = (H V)^+ H_x V
    reproduces the process exactly (the estimator's defining property)."""
    g = library.get(name)
    V = g.alphabet_size
    f = [np.ones(1)] + [g.word_probability(all_words(V, k)) for k in range(1, 2 * l + 2)]
    H, Hx = learning._hankel(f, V, l)
    r = hankel_rank(g)
    s = np.linalg.svd(H, compute_uv=False)
    assert np.sum(s > 1e-10 * s[0]) == r  # the basis up to length l spans the process
    Vt = np.linalg.svd(H)[2]
    h = learning._normalize(learning._spectral_operators(H, Hx, Vt[:r].T))
    assert h.dim == r and equivalent(h, g, tol=1e-8)


def test_hankel_blocks_match_their_definition():
    rng = np.random.default_rng(0)
    V, l = 3, 2
    f = [np.ones(1)] + [rng.random(V**k) for k in range(1, 2 * l + 2)]
    H, Hx = learning._hankel(f, V, l)
    basis = [()] + [tuple(w) for k in range(1, l + 1) for w in all_words(V, k)]

    def freq(w):
        code = 0
        for x in w:
            code = code * V + int(x)
        return f[len(w)][code]

    for i, u in enumerate(basis):
        for j, v in enumerate(basis):
            assert H[i, j] == freq(u + v)
            for x in range(V):
                assert Hx[x, i, j] == freq(u + (x,) + v)


@settings(max_examples=25)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(2, 30), st.integers(1, 4), st.integers(0, 10**6))
def test_substring_counts_match_a_loop(V, N, L, K, seed):
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, V, size=(N, L))
    groups = assign_groups(seq.shape, 3, rng)
    counts, windows = substring_counts(seq, V, K, groups, 3)
    for k in range(1, K + 1):
        slow = np.zeros((3, V**k), dtype=int)
        for i in range(N):
            for t in range(L - k + 1):
                code = 0
                for x in seq[i, t:t + k]:
                    code = code * V + int(x)
                slow[groups[i, t], code] += 1
        np.testing.assert_array_equal(counts[k], slow)
        assert windows[:, k].sum() == N * max(L - k + 1, 0)


def test_window_codes_and_groups():
    seq = np.array([[2, 0, 1, 1]])
    codes = dict(window_codes(seq, 3, 3))
    np.testing.assert_array_equal(codes[2], [[6, 1, 4]])
    np.testing.assert_array_equal(codes[3], [[19, 4]])
    g = assign_groups((1, 1000), 8, np.random.default_rng(1))  # one sequence: chunks
    assert set(np.unique(g)) == set(range(8)) and np.all(np.diff(g[0])[:50] == 0)
    g = assign_groups((40, 5), 8, np.random.default_rng(1))  # many sequences: whole rows
    assert np.all(g == g[:, :1]) and np.bincount(g[:, 0]).tolist() == [5] * 8


def test_batch_standard_errors():
    """i.i.d. symbols: the batch-means SE agrees with the binomial formula; a slowly
    mixing chain (Mess3, lambda = 0.85): it is several times larger for single symbols."""
    iid = np.random.default_rng(3).integers(0, 2, size=(400, 500))
    f, se = word_frequencies(iid, 2)
    binom = np.sqrt(f * (1 - f) / (400 * 499))
    assert np.median(se / binom) == pytest.approx(1.0, abs=0.3)
    s = library.mess3().sample(400, 500, seed=4)
    f, se = word_frequencies(s, 1)
    assert np.all(se / np.sqrt(f * (1 - f) / s.size) > 2)


def test_one_long_sequence_and_alphabet_size():
    s = library.mess3().sample(1, 300_000, seed=5)[0]
    g = learn_ghmm(s)
    assert g.dim == 3
    g4 = learn_ghmm(s, alphabet_size=4, max_length=1, refine=False)
    assert g4.alphabet_size == 4 and float(g4.symbol_probabilities()[3]) == pytest.approx(0.0, abs=1e-9)


def test_learned_model_is_an_ordinary_generator(samples, learned, tmp_path):
    from bayes import belief_trajectories, mixed_state_presentation

    learned = learned("mess3")[0]
    assert minimize(learned).dim == 3
    assert mixed_state_presentation(learned, 3).n_beliefs == 1 + 3 + 9 + 27
    assert belief_trajectories(learned, samples["mess3"][:5, :10]).beliefs.shape == (5, 11, 3)
    save_generator(learned, tmp_path / "learned.json")
    back = load_generator(tmp_path / "learned.json")
    assert isinstance(back, GHMM) and equivalent(back, learned)


def test_iid_data_learn_dimension_one():
    s = np.random.default_rng(6).choice(3, p=[0.5, 0.3, 0.2], size=(200, 1000))
    g = learn_ghmm(s)
    assert g.dim == 1
    np.testing.assert_allclose(g.symbol_probabilities(), [0.5, 0.3, 0.2], atol=5e-3)


def test_fixed_dim_and_seed_determinism(samples):
    a = learn_quietly(samples["mess3"], dim=2, seed=3)[0]
    b = learn_quietly(samples["mess3"], dim=2, seed=3)[0]
    assert a.dim == 2
    # the same process; coordinates beyond tau = e0 are a gauge the refit may move along
    w = all_words(3, 5)
    np.testing.assert_allclose(a.word_probability(w), b.word_probability(w), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("bad,kw", [
    (np.array([[0, 1, np.nan]]), {}), (np.array([[0, 1, 1.5]]), {}), (np.array([[0, -1, 1]]), {}),
    (np.array([[True, False, True]]), {}), (np.zeros((2, 2, 2), dtype=int), {}), (np.array([[0]]), {}),
    (np.array([[0, 1, 2, 1]]), {"alphabet_size": 2}), (np.array([[0, 1, 2, 1]]), {"alphabet_size": 2.5}),
    (np.array(["a", "b"]), {}), (np.array([[0, 1] * 5]), {"max_length": 5}), (np.array([[0, 1] * 5]), {"dim": "x"}),
    (np.array([[0, 1] * 5]), {"dim": 0}), (np.array([[0, 1] * 5]), {"threshold": float("nan")}),
    (np.array([[0, 1] * 5]), {"n_groups": 1}), (np.array([[0, 1] * 5]), {"max_length": True}),
])
def test_bad_input(bad, kw):
    with pytest.raises(ValueError):
        learn_ghmm(bad, **kw)


def test_load_sequences(tmp_path):
    s = np.random.default_rng(7).integers(0, 3, size=(4, 20))
    np.save(tmp_path / "a.npy", s)
    np.testing.assert_array_equal(load_sequences(tmp_path / "a.npy"), s)
    np.save(tmp_path / "one.npy", s[0])
    assert load_sequences(tmp_path / "one.npy").shape == (1, 20)
    np.savez(tmp_path / "b.npz", seqs=s)
    np.testing.assert_array_equal(load_sequences(tmp_path / "b.npz"), s)
    np.savez(tmp_path / "c.npz", x=s, y=s + 1)
    np.testing.assert_array_equal(load_sequences(tmp_path / "c.npz", key="y"), s + 1)
    with pytest.raises(ShapeError, match="say which with key="):
        load_sequences(tmp_path / "c.npz")
    with pytest.raises(ShapeError, match="no array 'z'"):
        load_sequences(tmp_path / "c.npz", key="z")
    np.save(tmp_path / "obj.npy", np.array([[0, 1], [1, None]], dtype=object), allow_pickle=True)
    with pytest.raises(ShapeError, match="obj.npy"):
        load_sequences(tmp_path / "obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ShapeError, match="junk.npy"):
        load_sequences(tmp_path / "junk.npy")
    (tmp_path / "s.txt").write_text("0 1 0")
    with pytest.raises(ShapeError, match=".npy or .npz"):
        load_sequences(tmp_path / "s.txt")
    with pytest.raises(ShapeError, match="no such file"):
        load_sequences(tmp_path / "missing.npy")
    with pytest.raises(ShapeError, match="out of range"):
        load_sequences(tmp_path / "a.npy", alphabet_size=2)


def test_report_summary_and_doctests(learned):
    _, report, _ = learned("mess3")
    text = report.summary()
    assert "dimension 3" in text and "noise level" in text and "Longer words were not examined" in text
    assert doctest.testmod(learning, raise_on_error=False).failed == 0
    assert doctest.testmod(sequences, raise_on_error=False).failed == 0
