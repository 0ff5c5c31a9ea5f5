"""Data: alignment of tokens, targets and belief labels; modes; exactness; bad input."""

import math

import numpy as np
import pytest
import torch

import generators
from generators import library
from generators.testing import (enumerated_myopic_entropy, loop_beliefs, loop_sample, loop_word_probability,
                                tiny_product)
from nets.data import BeliefData


@pytest.fixture(scope="module")
def mess3():
    return library.get("mess3", x=0.15, a=0.6)


@pytest.mark.parametrize("mode", ["stream", "exact"])
def test_alignment_without_bos(mess3, mode):
    d = BeliefData(mess3, 5, mode=mode, representation="native", seed=3)
    b = d.batch(0, 64)
    assert d.word_length == 6 and d.vocab_size == 3 and d.bos_token is None
    assert b.tokens.shape == (64, 5) and b.targets.shape == (64, 5) and b.words.shape == (64, 6)
    assert b.beliefs.shape == (64, 5, 3) and b.next_probs.shape == (64, 5, 3) and b.prefix_prob.shape == (64, 5)
    w = b.words.numpy()
    assert np.array_equal(b.tokens.numpy(), w[:, :5]) and np.array_equal(b.targets.numpy(), w[:, 1:])
    g = mess3.to_ghmm()
    beliefs, logp = g.forward(w)
    np.testing.assert_allclose(b.beliefs.numpy(), beliefs[:, 1:6], atol=1e-12)
    np.testing.assert_allclose(b.next_probs.numpy(), beliefs[:, 1:6] @ g.symbol_vectors.T, atol=1e-6)
    np.testing.assert_allclose(b.prefix_prob.numpy(), np.exp(logp[:, 1:6]), rtol=1e-9)
    np.testing.assert_allclose(b.prefix_prob[:, 2].numpy(), mess3.word_probability(w[:, :3]), rtol=1e-9)
    assert b.weights is None


def test_alignment_with_bos_and_reference_belief(mess3):
    d = BeliefData(mess3, 4, mode="exact", representation="native", bos=True)
    assert d.vocab_size == 4 and d.bos_token == 3 and d.word_length == 4
    b = d.batch(1, 32)
    assert torch.all(b.tokens[:, 0] == 3)
    assert torch.equal(b.tokens[:, 1:], b.words[:, :3]) and torch.equal(b.targets, b.words)
    np.testing.assert_allclose(b.beliefs[:, 0].numpy(), np.full((32, 3), 1 / 3), atol=1e-12)
    assert torch.all(b.prefix_prob[:, 0] == 1)
    # docs/REFERENCE.md: after "0" the belief is [.6, .2, .2], after "01" [0.3158, 0.5132, 0.1711]
    full = d.enumerate()
    w = full.words.numpy()
    row = np.nonzero((w[:, 0] == 0) & (w[:, 1] == 1))[0][0]
    np.testing.assert_allclose(full.beliefs[row, 1].numpy(), [0.6, 0.2, 0.2], atol=1e-12)
    np.testing.assert_allclose(full.beliefs[row, 2].numpy(), [0.31578947, 0.51315789, 0.17105263], atol=1e-8)
    np.testing.assert_allclose(full.prefix_prob[row, 2].item(), 0.10133333, atol=1e-8)


def test_minimal_representation_is_canonical():
    g = library.get("bloch_walk")
    d = BeliefData(g, 4, mode="stream")
    b = d.batch(0, 128)
    assert d.belief_dim == 3
    np.testing.assert_allclose(b.beliefs[..., 0].numpy(), 1.0, atol=1e-9)
    native = BeliefData(g, 4, mode="stream", representation="native")
    assert native.belief_dim == 4
    # both representations give the same next-symbol distributions for the same words
    w = b.words.numpy()
    hb, _ = g.to_ghmm().forward(w)
    np.testing.assert_allclose(b.next_probs.numpy(), (hb @ g.to_ghmm().symbol_vectors.T)[:, 1:5], atol=1e-6)


def test_exact_table_and_sampling_frequencies():
    g = library.get("even_process")
    d = BeliefData(g, 3, mode="exact")
    full = d.enumerate()
    np.testing.assert_allclose(full.weights.sum().item(), 1.0)
    # zero-probability words are dropped (the even process forbids odd blocks of 1s between 0s)
    assert len(full) < 2 ** 4
    np.testing.assert_allclose(full.weights.numpy(), g.word_probability(full.words.numpy()), rtol=1e-12)
    b = d.sample(200_000, 0)
    keys = b.words.numpy() @ (2 ** np.arange(3, -1, -1))
    counts = np.bincount(keys, minlength=16)
    expect = np.zeros(16)
    expect[full.words.numpy() @ (2 ** np.arange(3, -1, -1))] = full.weights.numpy()
    np.testing.assert_allclose(counts / 200_000, expect, atol=4e-3)


def test_stream_and_exact_draw_the_same_distribution(mess3):
    s = BeliefData(mess3, 2, mode="stream").sample(60_000, 1)
    e = BeliefData(mess3, 2, mode="exact").sample(60_000, 1)
    fs = np.bincount(s.words[:, 0].numpy() * 3 + s.words[:, 1].numpy(), minlength=9) / 60_000
    fe = np.bincount(e.words[:, 0].numpy() * 3 + e.words[:, 1].numpy(), minlength=9) / 60_000
    np.testing.assert_allclose(fs, fe, atol=0.012)


def test_batches_are_a_function_of_seed_and_step(mess3):
    d = BeliefData(mess3, 4, mode="stream", seed=7)
    a, b = d.batch(5, 16), d.batch(5, 16)
    assert torch.equal(a.words, b.words)
    assert not torch.equal(d.batch(6, 16).words, a.words)
    assert not torch.equal(BeliefData(mess3, 4, mode="stream", seed=8).batch(5, 16).words, a.words)
    it = d.iterate(16, start=5)
    assert torch.equal(next(it).words, a.words)
    part = a.slice(4, 8)
    assert len(part) == 4 and torch.equal(part.beliefs, a.beliefs[4:8])
    assert part.to("cpu").tokens.device.type == "cpu"


class Uniform(torch.nn.Module):
    """Logits 0: the uniform prediction over 3 symbols, whose cross-entropy is log 3."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, tokens):
        return torch.zeros(*tokens.shape, 3) * self.w


@pytest.mark.parametrize("mode, n_words", [("exact", None), ("stream", 512)])
def test_validation_loss_of_uniform_model_is_log_v(mess3, mode, n_words):
    d = BeliefData(mess3, 4, mode=mode)
    mean, per = d.validation_loss(Uniform(), n_words=n_words, seed=1)
    np.testing.assert_allclose(per, math.log(3), rtol=1e-6)
    assert math.isclose(mean, math.log(3), rel_tol=1e-6)


def test_sampled_validation_loss_estimates_the_exact_one(mess3):
    from nets.models import build_model

    torch.manual_seed(0)
    model = build_model(dict(kind="gru", vocab_size=3, n_ctx=4, hidden=8))
    d = BeliefData(mess3, 4, mode="exact")
    exact, _ = d.validation_loss(model)
    est = [d.validation_loss(model, n_words=1024, seed=s)[0] for s in range(8)]
    assert abs(np.mean(est) - exact) < 4 * np.std(est) / np.sqrt(8) + 1e-9
    assert np.std(est) > 0


def test_optimum_matches_exact_table(mess3):
    for bos in (False, True):
        d = BeliefData(mess3, 5, mode="exact", bos=bos)
        full = d.enumerate()
        q = full.next_probs.double().numpy()
        ent = -(q * np.log(np.clip(q, 1e-300, None))).sum(-1)  # (N, L)
        exact = (full.weights.numpy()[:, None] * ent).sum(0)
        np.testing.assert_allclose(d.optimum, exact, rtol=1e-5)
    ref = [1.0986123, 1.0910678, 1.0893915, 1.0890038, 1.0889148]  # h(1..5) nats, docs/REFERENCE.md
    np.testing.assert_allclose(BeliefData(mess3, 5, bos=True).optimum, ref, atol=1e-6)


def test_product_is_sampled_factor_by_factor():
    """A product's batches against the slow definitions: each factor's belief by the update
    loop in its own minimal coordinates, the joint next-symbol distribution from the
    product's own Bayes update, prefix probabilities by explicit matrix products."""
    from generators.representations import minimal_form

    g = tiny_product()
    d = BeliefData(g, 3, mode="stream", seed=5)
    b = d.batch(0, 16)
    assert d.factored and d.ghmm is None and b.beliefs is None and d.belief_dims == (3, 3)
    assert g._ghmm_cache is None  # sampling never built the joint GHMM
    assert b.tokens.shape == (16, 3) and b.next_probs.shape == (16, 3, 12)
    fw = generators.factor_symbols(b.words.numpy(), (3, 4))
    for i in range(16):
        for k, f in enumerate(g.factors):
            ref = loop_beliefs(minimal_form(f), fw[i, :, k])[1:4]
            np.testing.assert_allclose(b.factor_beliefs[k][i].numpy(), ref, atol=1e-10)
        st = g.update(g.initial_state, int(b.words[i, 0]))
        np.testing.assert_allclose(b.next_probs[i, 0].numpy(), g.emission_probs(st), atol=1e-6)
        for t in range(3):
            p = loop_word_probability(g.to_ghmm(), b.words[i, :t + 1].numpy())
            np.testing.assert_allclose(b.prefix_prob[i, t].item(), p, rtol=1e-9)
    # the joint belief on demand: the Kronecker product is the (canonical) minimal joint belief
    np.testing.assert_allclose(b.joint_beliefs()[..., 0].numpy(), 1.0, atol=1e-12)
    assert torch.equal(d.batch(0, 16).words, b.words)


def test_product_frequencies_and_exact_mode_agree():
    g = tiny_product()
    d = BeliefData(g, 1, mode="exact")
    full = d.enumerate()
    np.testing.assert_allclose(full.weights.numpy(), g.word_probability(full.words.numpy()), rtol=1e-12)
    expect = np.zeros(144)
    expect[full.words[:, 0].numpy() * 12 + full.words[:, 1].numpy()] = full.weights.numpy()

    def chi2(words, n):  # Pearson's statistic over the 144 two-symbol words: about 143 +- 17 if right
        counts = np.bincount(words[:, 0] * 12 + words[:, 1], minlength=144)
        return float(((counts - n * expect) ** 2 / (n * expect)).sum())

    s = BeliefData(g, 1, mode="stream", next_probs=False).sample(40_000, 2)
    assert s.next_probs is None
    # a sampler that drew i.i.d. or uniform symbols would score about 3600 (8000 words: 720)
    assert chi2(s.words.numpy(), 40_000) < 250
    assert chi2(loop_sample(g, 8000, 2, seed=3), 8000) < 250  # the per-sequence reference sampler
    np.testing.assert_allclose(d.optimum, enumerated_myopic_entropy(g, 2, base=math.e)[1:], rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="enumerate"), "mode must be one of"),
    (dict(representation="quantum"), "representation must be one of"),
    (dict(context=0), "context .* must be an integer >= 1"),
    (dict(context=2.5), "context .* must be an integer"),
    (dict(seed=-1), "seed"),
    (dict(mode="exact", context=30), "use mode='stream'"),
])
def test_bad_arguments(mess3, kwargs, match):
    args = dict(context=4)
    args.update(kwargs)
    context = args.pop("context")
    with pytest.raises(ValueError, match=match):
        BeliefData(mess3, context, **args)


def test_bad_process_and_batch(mess3):
    with pytest.raises(ValueError, match="unknown process"):
        BeliefData("mess4", 3)
    with pytest.raises(ValueError, match="process must be"):
        BeliefData(42, 3)
    d = BeliefData(mess3, 3)
    with pytest.raises(ValueError, match="batch_size"):
        d.batch(0, 0)
    with pytest.raises(ValueError, match="step"):
        d.batch(-1, 4)
    with pytest.raises(ValueError, match="exceeds max_words"):
        BeliefData(mess3, 12, max_words=1000).enumerate()
