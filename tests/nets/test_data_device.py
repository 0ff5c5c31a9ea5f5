"""BeliefData's device path (torch kernels; tested on the CPU device) against the host
path and the slow definition :meth:`BeliefData.labels` (the host forward filter of the
same words)."""

import numpy as np
import pytest
import torch
from scipy import stats

from generators import library, product
from generators.testing import loop_beliefs, tiny_product
from nets.data import BeliefData


def symbol_vectors(d):
    return [torch.from_numpy(np.asarray(r.ghmm.symbol_vectors, dtype=float)) for r in d.representations]


def assert_same_labels(b, ref, sym):
    """Two batches of the same words: equal tokens, float64 labels to 1e-12, float32 ones to rounding."""
    for name in ("tokens", "targets", "words"):
        assert torch.equal(getattr(b, name).cpu(), getattr(ref, name)), name
    np.testing.assert_allclose(b.prefix_prob.cpu().numpy(), ref.prefix_prob.numpy(), rtol=1e-12, atol=0)
    for fb, fr in zip(b.factor_beliefs, ref.factor_beliefs, strict=True):
        assert fb.dtype == torch.float64
        np.testing.assert_allclose(fb.cpu().numpy(), fr.numpy(), rtol=0, atol=1e-12)
    if b.next_probs is not None:
        assert b.next_probs.dtype == torch.float32
        np.testing.assert_allclose(b.next_probs.cpu().numpy(), ref.next_probs.numpy(), rtol=0, atol=1e-7)
        # the float32 table is the float64 product of the factors' distributions to 2K float32 ulps
        exact = torch.ones(b.next_probs.shape[:2] + (1,), dtype=torch.float64)
        for fb, sv in zip(ref.factor_beliefs, sym):
            q = (fb @ sv.T).clamp_min(0)
            exact = (exact[..., :, None] * (q / q.sum(-1, keepdim=True))[..., None, :]).reshape(q.shape[:2] + (-1,))
        np.testing.assert_allclose(b.next_probs.cpu().numpy(), exact.numpy(), rtol=2.4e-7 * len(sym), atol=1e-30)


@pytest.mark.parametrize("representation", ["minimal", "native"])
@pytest.mark.parametrize("bos", [False, True])
def test_device_batches_match_the_host_filter(representation, bos):
    d = BeliefData(library.mess3(x=0.15, a=0.6), 6, representation=representation, bos=bos, seed=4, device="cpu")
    b = d.batch(3, 200)
    assert b.tokens.device.type == "cpu" and b.beliefs is b.factor_beliefs[0]
    assert_same_labels(b, d.labels(b.words), symbol_vectors(d))
    # and the labels are the belief update loop's (generators.testing)
    w = b.words[0].numpy()
    ref = loop_beliefs(d.ghmm, w)[(0 if bos else 1):][:6]
    np.testing.assert_allclose(b.beliefs[0].numpy(), ref, atol=1e-12)
    assert torch.equal(d.batch(3, 200).words, b.words)  # a pure function of (seed, step)
    assert not torch.equal(d.batch(4, 200).words, b.words)


def test_host_batches_match_their_labels():
    """labels() is also the host sampler's slow definition."""
    d = BeliefData(tiny_product(), 4, seed=2)
    b = d.batch(0, 100)
    assert_same_labels(b, d.labels(b.words), symbol_vectors(d))


@pytest.mark.parametrize("generator", [tiny_product(), product(*[library.mess3()] * 3, *[library.bloch_walk()] * 2)],
                         ids=["mess3xbloch", "3mess3x2bloch"])
def test_device_product_batches_match_the_host_filter(generator):
    d = BeliefData(generator, 9, seed=1, device="cpu")
    b = d.batch(0, 64)
    assert b.beliefs is None and len(b.factor_beliefs) == len(generator.factors)
    assert b.next_probs.shape == (64, 9, generator.alphabet_size)
    assert_same_labels(b, d.labels(b.words), symbol_vectors(d))
    assert generator._ghmm_cache is None  # the joint GHMM is never built


def test_device_sampler_draws_the_process():
    """Two-symbol word frequencies of the device path against the exact probabilities."""
    g = tiny_product()
    d = BeliefData(g, 1, next_probs=False, device="cpu")
    words = d.batch(0, 40_000).words.numpy()
    p = g.word_probability(np.stack(np.divmod(np.arange(144), 12), axis=1))
    counts = np.bincount(words[:, 0] * 12 + words[:, 1], minlength=144)
    keep = p > 0
    assert counts[~keep].sum() == 0
    chi2 = (((counts - 40_000 * p) ** 2)[keep] / (40_000 * p[keep])).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-4


def test_exact_mode_batches_are_the_same_on_every_device():
    g = library.mess3(x=0.15, a=0.6)
    host, dev = BeliefData(g, 4, mode="exact", seed=3), BeliefData(g, 4, mode="exact", seed=3, device="cpu")
    a, b = host.batch(2, 64), dev.batch(2, 64)
    for x, y in zip((a.tokens, a.next_probs, a.prefix_prob, a.beliefs), (b.tokens, b.next_probs, b.prefix_prob,
                                                                      b.beliefs)):
        assert torch.equal(x, y)
    model = torch.nn.Sequential(torch.nn.Embedding(3, 3))
    assert host.validation_loss(model)[0] == dev.validation_loss(model)[0]


@pytest.mark.parametrize("device", ["gpu0", 3, "cuda:x"])
def test_bad_device(device):
    with pytest.raises(ValueError, match="device must be None"):
        BeliefData(library.mess3(), 3, device=device)


def test_labels_rejects_bad_words():
    d = BeliefData(library.mess3(), 3)
    with pytest.raises(ValueError, match="shape"):
        d.labels(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="symbols must be in 0..2"):
        d.labels(np.full((2, 4), 3))


@pytest.mark.parametrize("bos", [False, True])
def test_device_batches_train_a_model(bos):
    """Device batches (tensors made under the sampler's inference mode) feed a training step."""
    from nets.models import build_model
    from nets.train import TrainConfig, loss_fn

    d = BeliefData(tiny_product(), 4, bos=bos, device="cpu")
    cfg = TrainConfig.from_dict(dict(process="mess3", context=4, model="transformer", n_layers=1, d_model=16,
                                     d_mlp=32))
    model = build_model(cfg.model_config(d.vocab_size))
    b = d.batch(0, 32)
    for targets in ("sampled", "exact"):
        model.zero_grad()
        loss = loss_fn(model(b.tokens), b, targets)
        loss.backward()
        assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_sample_stays_on_the_host():
    """sample() (analyses, probes) is the host path whatever the device; batch() is not."""
    g = library.mess3(x=0.15, a=0.6)
    dev, host = BeliefData(g, 4, seed=2, device="cpu"), BeliefData(g, 4, seed=2)
    a, b = dev.sample(50, np.random.default_rng(7)), host.sample(50, np.random.default_rng(7))
    assert torch.equal(a.words, b.words) and torch.equal(a.beliefs, b.beliefs)
    assert not torch.equal(dev.batch(0, 50).words, host.batch(0, 50).words)  # different random streams
    exact = BeliefData(g, 4, mode="exact", seed=2, device="cpu")
    assert torch.equal(exact.sample(20, 3).words, BeliefData(g, 4, mode="exact", seed=2).sample(20, 3).words)
