"""Models: shapes, activation names, caching, causality, bad input."""

import numpy as np
import pytest
import torch

from nets.models import ModelConfig, RNNModel, Transformer, build_model


def small_transformer(**kw):
    torch.manual_seed(0)
    cfg = dict(kind="transformer", vocab_size=4, n_ctx=6, n_layers=2, d_model=16, n_heads=2, d_mlp=32)
    cfg.update(kw)
    return build_model(cfg)


def small_rnn(kind, **kw):
    torch.manual_seed(0)
    cfg = dict(kind=kind, vocab_size=3, n_ctx=7, n_layers=2, hidden=12)
    cfg.update(kw)
    return build_model(cfg)


TOKENS = torch.tensor([[0, 1, 2, 3, 0, 1], [3, 3, 2, 1, 0, 0], [1, 1, 1, 1, 1, 1]])


def test_transformer_names_and_shapes():
    m = small_transformer()
    names = m.activation_names()
    for i in range(2):
        for s in ("resid_pre", "resid_mid", "resid_post", "attn.pattern"):
            assert f"blocks.{i}.{s}" in names
    assert names[0] == "embed" and names[-1] == "ln_final"
    logits, cache = m.run_with_cache(TOKENS)
    assert logits.shape == (3, 6, 4)
    assert set(cache) == set(names)
    for nm, t in cache.items():
        if nm.endswith("attn.pattern"):
            assert t.shape == (3, 2, 6, 6)
        elif nm.endswith("mlp.post"):
            assert t.shape == (3, 6, 32)
        else:
            assert t.shape == (3, 6, 16), nm
    dims = m.activation_dims()
    assert dims["blocks.0.resid_post"] == (16,) and dims["blocks.1.attn.pattern"] == (2, 6)


def test_residual_stream_identities():
    m = small_transformer()
    logits, c = m.run_with_cache(TOKENS)
    torch.testing.assert_close(c["embed"], c["blocks.0.resid_pre"])
    torch.testing.assert_close(c["blocks.0.resid_post"], c["blocks.1.resid_pre"])
    torch.testing.assert_close(c["blocks.1.resid_mid"], c["blocks.1.resid_pre"] + c["blocks.1.attn.out"])
    torch.testing.assert_close(c["blocks.1.resid_post"], c["blocks.1.resid_mid"] + c["blocks.1.mlp.out"])
    torch.testing.assert_close(c["ln_final"], m.ln_final(c["blocks.1.resid_post"]))
    # the pattern path and the fused attention path give the same logits
    torch.testing.assert_close(logits, m(TOKENS), atol=1e-5, rtol=1e-5)


def test_attention_pattern_is_causal_and_normalized():
    m = small_transformer()
    _, c = m.run_with_cache(TOKENS, "blocks.*.attn.pattern")
    assert set(c) == {"blocks.0.attn.pattern", "blocks.1.attn.pattern"}
    p = c["blocks.0.attn.pattern"]
    torch.testing.assert_close(p.sum(-1), torch.ones(3, 2, 6))
    assert torch.all(p.triu(1) == 0)


def test_causality_transformer_and_rnn():
    for m in (small_transformer(), small_rnn("gru", vocab_size=4, n_ctx=6)):
        a = TOKENS.clone()
        b = TOKENS.clone()
        b[:, 4:] = (b[:, 4:] + 1) % 4
        la, lb = m(a), m(b)
        torch.testing.assert_close(la[:, :4], lb[:, :4])
        assert not torch.allclose(la[:, 4:], lb[:, 4:])


def test_run_with_cache_returns_only_requested():
    m = small_transformer()
    logits, c = m.run_with_cache(TOKENS, names=["blocks.1.resid_post", "embed"])
    assert list(c) == ["embed", "blocks.1.resid_post"]  # activation_names order
    _, c2 = m.run_with_cache(TOKENS, names="ln_final")
    assert list(c2) == ["ln_final"]
    assert not c2["ln_final"].requires_grad
    _, c3 = m.run_with_cache(TOKENS, names="ln_final", detach=False)
    assert c3["ln_final"].requires_grad


def test_unknown_name_lists_valid_ones():
    m = small_transformer()
    with pytest.raises(ValueError, match="blocks.0.resid_post") as e:
        m.run_with_cache(TOKENS, names=["blocks.9.resid_post"])
    assert "unknown activation name" in str(e.value)
    with pytest.raises(ValueError, match="unknown activation name"):
        m.run_with_cache(TOKENS, names="layers.*.hidden")
    with pytest.raises(ValueError, match="layers.0.hidden"):
        small_rnn("lstm").run_with_cache(TOKENS[:, :3] % 3, names="blocks.0.resid_post")


@pytest.mark.parametrize("bad", [
    torch.tensor([[0, 1, 4]]),  # outside the vocabulary (a generator with a bigger alphabet)
    torch.tensor([[-1, 0]]),
    torch.zeros((1, 7), dtype=torch.long),  # longer than n_ctx
    torch.zeros((1, 2)),  # float
    torch.zeros((1, 2, 3), dtype=torch.long),
])
def test_bad_tokens(bad):
    m = small_transformer()
    with pytest.raises(ValueError):
        m(bad)
    with pytest.raises(ValueError):
        m.run_with_cache(bad, names="embed")


def test_vocab_error_message_names_the_vocabulary():
    with pytest.raises(ValueError, match=r"outside the vocabulary 0\.\.3"):
        small_transformer()(torch.tensor([[5]]))


def test_numpy_and_1d_tokens():
    m = small_transformer()
    out = m(np.array([0, 1, 2]))
    assert out.shape == (1, 3, 4)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("rnn_input", ["onehot", "embed"])
def test_rnn_family(kind, rnn_input):
    m = small_rnn(kind, rnn_input=rnn_input, d_embed=5)
    tok = torch.tensor([[0, 1, 2, 0, 1, 2, 0], [2, 2, 2, 1, 1, 0, 0]])
    names = m.activation_names()
    expect = ["embed", "layers.0.hidden", "layers.1.hidden"]
    if kind == "lstm":
        expect = ["embed", "layers.0.hidden", "layers.0.cell", "layers.1.hidden", "layers.1.cell"]
    assert names == expect
    logits, c = m.run_with_cache(tok)
    assert logits.shape == (2, 7, 3)
    assert c["embed"].shape == (2, 7, 3 if rnn_input == "onehot" else 5)
    assert c["layers.1.hidden"].shape == (2, 7, 12)
    # the last layer's hidden state is what the readout sees
    torch.testing.assert_close(logits, m.unembed(c["layers.1.hidden"]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, m(tok), atol=1e-5, rtol=1e-5)
    if kind == "lstm":
        assert c["layers.0.cell"].shape == (2, 7, 12)
        h_only = m.run_with_cache(tok, "layers.1.hidden")[1]["layers.1.hidden"]
        torch.testing.assert_close(h_only, c["layers.1.hidden"], atol=1e-5, rtol=1e-5)


def test_build_model_inputs_and_errors():
    assert isinstance(build_model(ModelConfig(kind="gru", vocab_size=2, n_ctx=3)), RNNModel)
    assert isinstance(build_model(kind="transformer", vocab_size=2, n_ctx=3, d_model=8, d_mlp=8), Transformer)
    m = build_model({"kind": "transformer", "vocab_size": 2, "n_ctx": 3}, d_model=8, n_heads=2)
    assert m.config.d_head == 4 and m.vocab_size == 2 and m.n_ctx == 3 and m.kind == "transformer"
    with pytest.raises(ValueError, match="model kind"):
        build_model(kind="mamba")
    with pytest.raises(ValueError, match="not divisible"):
        build_model(kind="transformer", d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="unknown model config field"):
        build_model({"kind": "rnn", "widht": 3})
    with pytest.raises(ValueError, match="act"):
        build_model(kind="transformer", act="swish")
    with pytest.raises(ValueError, match="n_layers"):
        build_model(kind="lstm", n_layers=0)
    with pytest.raises(ValueError):
        build_model(3.0)


def test_gelu_and_config_roundtrip():
    m = small_transformer(act="gelu")
    d = m.config.to_dict()
    m2 = build_model(d)
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m(TOKENS), m2(TOKENS))
