"""nets.torch_kernels: the device path agrees with the numpy kernels (CPU, float64)."""


import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from generators import library, product
from generators.testing import all_words
from nets.torch_kernels import device_factors, forward_on_device, sample_on_device

seeds = st.integers(0, 2**31 - 1)
any_generator = st.one_of(  # random HMMs, quantum instruments and GHMMs with negative entries
    st.builds(library.random_hmm, st.integers(1, 5), st.integers(1, 4), seeds, st.sampled_from([0.3, 1.0, 3.0])),
    st.builds(lambda d, v, r, s: library.random_quantum(d=d, n_symbols=v, rank=r, seed=s),
              st.integers(1, 3), st.integers(1, 4), st.integers(1, 2), seeds),
    st.builds(library.random_ghmm, st.integers(2, 5), st.integers(2, 3), seeds),
)


@settings(max_examples=20)
@given(any_generator, st.integers(0, 2**31))
def test_forward_on_device_matches_the_numpy_filter(g, seed):
    h = g.to_ghmm()
    rng = np.random.default_rng(seed)
    words = g.sample(6, 12, seed=seed) if seed % 2 else rng.integers(0, h.alphabet_size, size=(6, 12))
    beliefs, logs = forward_on_device(g, words)
    ref_b, ref_l = h.forward(words)
    np.testing.assert_allclose(beliefs.numpy(), ref_b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(np.isneginf(logs.numpy()), np.isneginf(ref_l))
    np.testing.assert_allclose(logs.numpy(), ref_l, rtol=1e-12, atol=1e-12)


def test_forward_on_device_impossible_prefixes():
    g = library.golden_mean()
    beliefs, logs = forward_on_device(g, torch.tensor([[0, 1, 1, 0], [1, 0, 1, 0]]))
    assert torch.isneginf(logs[0, 3:]).all() and torch.isfinite(logs[0, :3]).all()
    assert (beliefs[0, 3:] == 0).all() and torch.isfinite(logs[1]).all()


def test_product_forward_is_factor_by_factor_and_matches_the_joint_ghmm():
    p = product(library.mess3(), library.even_process(), library.bloch_walk())
    words = p.sample(50, 8, seed=3)
    beliefs, logs = forward_on_device(p, words)
    assert isinstance(beliefs, tuple) and [b.shape[-1] for b in beliefs] == [3, 2, 4]
    joint_b, joint_l = p.to_ghmm().forward(words)
    np.testing.assert_allclose(logs.numpy(), joint_l, rtol=1e-12, atol=1e-12)
    kron = np.einsum("bti,btj,btk->btijk", *[b.numpy() for b in beliefs]).reshape(joint_b.shape)
    np.testing.assert_allclose(kron, joint_b, atol=1e-12)
    same_b, same_l = forward_on_device(list(p.factors), words)  # a sequence of factors is a product
    assert torch.equal(same_l, logs) and all(torch.equal(a, b) for a, b in zip(same_b, beliefs))


@pytest.mark.parametrize("name", ["mess3", "bloch_walk", "moon"])
def test_sampled_beliefs_are_the_filter_of_the_sampled_words(name):
    g = library.get(name)
    words, beliefs = sample_on_device(g, 300, 20, seed=1, return_beliefs=True)
    assert words.dtype == torch.int64 and words.shape == (300, 20) and beliefs.shape == (300, 21, g.to_ghmm().dim)
    ref_b, ref_l = g.to_ghmm().forward(words.numpy())
    np.testing.assert_allclose(beliefs.numpy(), ref_b, rtol=1e-10, atol=1e-12)
    assert np.isfinite(ref_l).all()


@pytest.mark.parametrize("g", [library.bloch_walk(), library.golden_mean(),
                               product(library.mess3(), library.bloch_walk())], ids=["bloch", "golden", "product"])
def test_sampled_word_frequencies_match_exact_probabilities(g):
    V = g.alphabet_size
    L = 3 if V < 10 else 2
    n = 40_000
    words = sample_on_device(g, n, L, seed=5).numpy()
    counts = np.bincount(np.ravel_multi_index(tuple(words.T), (V,) * L), minlength=V**L)
    p = np.clip(g.word_probability(all_words(V, L)), 0, None)
    assert counts[p <= 1e-15].sum() == 0
    keep = p > 1e-15
    assert stats.chisquare(counts[keep], n * p[keep] / p[keep].sum()).pvalue > 1e-3


def test_product_sampling_returns_joint_symbols_and_factor_beliefs():
    p = product(library.mess3(), library.mess3(), library.mess3(), library.bloch_walk(), library.bloch_walk())
    assert p.alphabet_size == 432
    words, beliefs = sample_on_device(p, 500, 10, seed=2, return_beliefs=True)
    assert int(words.max()) < 432 and len(beliefs) == 5
    parts = np.stack(np.unravel_index(words.numpy(), p.sizes), axis=-1)
    for k, (f, b) in enumerate(zip(p.factors, beliefs)):
        np.testing.assert_allclose(b.numpy(), f.to_ghmm().forward(parts[..., k])[0], rtol=1e-10, atol=1e-12)


def test_seeds_reproduce_and_float32_agrees():
    g = library.bloch_walk()
    a = sample_on_device(g, 100, 12, seed=9)
    assert torch.equal(a, sample_on_device(g, 100, 12, seed=9))
    assert not torch.equal(a, sample_on_device(g, 100, 12, seed=10))
    b64, l64 = forward_on_device(g, a)
    b32, l32 = forward_on_device(g, a, dtype=torch.float32)
    assert b32.dtype == torch.float32
    np.testing.assert_allclose(b32.numpy(), b64.numpy(), atol=1e-5)
    np.testing.assert_allclose(l32.numpy(), l64.numpy(), rtol=1e-5)
    w32, be32 = sample_on_device(g, 100, 12, seed=9, dtype=torch.float32, return_beliefs=True)
    np.testing.assert_allclose(be32.numpy(), forward_on_device(g, w32)[0].numpy(), atol=1e-5)


def test_device_factors_group_by_shape_and_stack_probabilities_and_blocks():
    h = library.mess3().to_ghmm()
    f = device_factors([library.mess3(), library.bloch_walk(), library.mess3()])
    assert [st.members for st in f.stacks] == [(0, 2), (1,)] and f.sizes == (3, 4, 3) and f.alphabet_size == 36
    st = f.stacks[0]
    assert st.stacked.shape == (2, 3, (3 + 1) * 4) and st.alphabet_size == 3
    eta = torch.tensor(np.random.default_rng(0).dirichlet(np.ones(3), size=(2, 5)))
    probs, blocks = st.step(eta)
    blocks = blocks.view(2, 5, 4, 4)  # (factor, row, block, n+1)
    np.testing.assert_allclose(probs[1].numpy(), eta[1].numpy() @ h.symbol_vectors.T, atol=1e-15)
    np.testing.assert_allclose(blocks[0, :, 1, :3].numpy(), eta[0].numpy() @ h.operators[1], atol=1e-15)
    np.testing.assert_allclose(blocks[0, :, 2, 3].numpy(), eta[0].numpy() @ h.symbol_vectors[2], atol=1e-15)
    w = torch.randint(0, 36, (7, 3))
    assert torch.equal(f.joint(f.split(w)), w)


def test_bad_arguments_are_rejected():
    g = library.mess3()
    with pytest.raises(ValueError, match="dtype"):
        sample_on_device(g, 2, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match="symbols"):
        forward_on_device(g, [[0, 3]])
    with pytest.raises(ValueError, match="integer"):
        forward_on_device(g, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="length"):
        sample_on_device(g, 2, -1)
    with pytest.raises(TypeError, match="Generator"):
        sample_on_device([], 2, 2)
    with pytest.raises(ValueError, match="chunk"):
        sample_on_device(g, 2, 2, chunk=0)


def test_chunking_does_not_change_results():
    p = product(library.mess3(), library.bloch_walk())
    a, ba = sample_on_device(p, 50, 7, seed=4, return_beliefs=True, chunk=7)
    b, bb = sample_on_device(p, 50, 7, seed=4, return_beliefs=True)
    assert torch.equal(a, b)  # same words; beliefs equal up to the GEMM's rounding for another block shape
    for x, y in zip(ba, bb):
        torch.testing.assert_close(x, y, rtol=1e-14, atol=1e-15)
    fa, la = forward_on_device(p, a, chunk=3)
    fb, lb = forward_on_device(p, a)
    torch.testing.assert_close(la, lb, rtol=1e-14, atol=1e-15)
    for x, y in zip(fa, fb):
        torch.testing.assert_close(x, y, rtol=1e-14, atol=1e-15)


def test_sample_factors_on_device_matches_sample_on_device():
    """Per-factor outputs: the same words and beliefs as sample_on_device, the factors' words
    recombine to the joint ones, and probs are the clipped, normalized b @ (T[x] tau)."""
    from generators import joint_symbol
    from nets.torch_kernels import sample_factors_on_device

    g = product(library.mess3(x=0.15, a=0.6), library.bloch_walk(), library.mess3())
    s = sample_factors_on_device(g, 300, 7, seed=11, probs=True, chunk=128)
    words, beliefs = sample_on_device(g, 300, 7, seed=11, return_beliefs=True, chunk=128)
    assert torch.equal(s.words, words) and all(torch.equal(a, b) for a, b in zip(s.beliefs, beliefs))
    fw = np.stack([w.numpy() for w in s.factor_words], axis=-1)
    assert np.array_equal(joint_symbol(fw, (3, 4, 3)), words.numpy())
    for f, b, p in zip(g.factors, s.beliefs, s.probs):
        sv = f.to_ghmm().operators @ f.to_ghmm().tau
        ref = np.clip(b[:, :7].numpy() @ sv.T, 0, None)
        np.testing.assert_allclose(p.numpy(), ref / ref.sum(-1, keepdims=True), rtol=0, atol=1e-13)
    assert sample_factors_on_device(g, 5, 3, seed=1, beliefs=False).beliefs is None
