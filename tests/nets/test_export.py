"""Weights as safetensors + config.json, and exact conversion to and from TransformerLens."""

from __future__ import annotations

import json

import pytest
import torch

from nets.export import CONFIG_FILE, WEIGHTS_FILE, from_transformer_lens, load_weights, save_weights, to_transformer_lens
from nets.models import build_model


def _model(kind="transformer", seed=0, **kw):
    torch.manual_seed(seed)
    cfg = {"kind": kind, "vocab_size": 4, "n_ctx": 7, "n_layers": 2}
    cfg.update({"d_model": 16, "n_heads": 2, "d_mlp": 24} if kind == "transformer" else {"hidden": 8})
    return build_model({**cfg, **kw}).eval()


TOKENS = torch.randint(0, 4, (6, 7), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
def test_save_and_load_weights(tmp_path, kind):
    m = _model(kind)
    out = save_weights(m, tmp_path / "w")
    assert sorted(p.name for p in out.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    back = load_weights(out)
    assert back.config == m.config
    torch.testing.assert_close(back(TOKENS), m(TOKENS), rtol=0, atol=0)
    save_weights(back, out)  # overwriting its own weights is fine


def test_weights_never_overwrite_a_training_config(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"process": "mess3", "steps": 10}))
    with pytest.raises(ValueError, match="not a qbelief weights config"):
        save_weights(_model(), tmp_path)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["steps"] == 10
    with pytest.raises(ValueError, match="not a qbelief weights config"):
        (tmp_path / WEIGHTS_FILE).write_bytes(b"")
        load_weights(tmp_path)
    with pytest.raises(FileNotFoundError, match="save_weights"):
        load_weights(tmp_path / "nothing")


def test_weights_readable_by_the_safetensors_package(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.torch import load_file

    m = _model()
    state = load_file(save_weights(m, tmp_path) / WEIGHTS_FILE)
    assert state.keys() == m.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in m.state_dict().items())


def _kinds():
    tl = pytest.importorskip("transformer_lens")
    kinds = []
    try:
        from transformer_lens.model_bridge import TransformerBridge

        if hasattr(TransformerBridge, "boot_native"):
            kinds.append("bridge")
    except ImportError:
        pass
    try:
        tl.HookedTransformer
        kinds.append("hooked")
    except (ImportError, AttributeError):
        pass
    return kinds


@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_to_and_from_transformer_lens_exact(act):
    m = _model(act=act)
    ref = m(TOKENS)
    for kind in _kinds():
        tl = to_transformer_lens(m, kind)
        torch.testing.assert_close(tl(TOKENS), ref, rtol=0, atol=1e-5)
        _, cache = tl.run_with_cache(TOKENS)
        _, ours = m.run_with_cache(TOKENS)
        for name in ("embed", "blocks.1.resid_mid", "blocks.0.attn.pattern", "blocks.1.mlp.post", "ln_final"):
            torch.testing.assert_close(cache[_tl_name(tl, name)], ours[name], rtol=0, atol=1e-5)
        back = from_transformer_lens(tl)
        torch.testing.assert_close(back(TOKENS), ref, rtol=0, atol=1e-6)


def _tl_name(tl, name):
    from nets.activations import aliases

    return next(a for a in aliases(name) if a in tl.hook_dict)


def test_from_a_transformer_lens_model_built_there():
    """A model initialized by TransformerLens itself converts exactly."""
    kinds = _kinds()
    import transformer_lens as tl

    fields = dict(n_layers=2, d_model=12, n_ctx=6, d_head=4, n_heads=3, d_mlp=20, d_vocab=5, act_fn="gelu",
                  normalization_type="LN")
    tok = torch.randint(0, 5, (4, 6), generator=torch.Generator().manual_seed(2))
    models = []
    if "bridge" in kinds:
        from transformer_lens.config import TransformerBridgeConfig
        from transformer_lens.model_bridge import TransformerBridge

        torch.manual_seed(3)
        models.append(TransformerBridge.boot_native(TransformerBridgeConfig(**fields)))
    if "hooked" in kinds:
        torch.manual_seed(3)
        models.append(tl.HookedTransformer(tl.HookedTransformerConfig(**fields)))
    for t in models:
        t.eval()
        ours = from_transformer_lens(t)
        assert (ours.config.n_heads, ours.config.d_head, ours.config.act) == (3, 4, "gelu")
        torch.testing.assert_close(ours(tok), t(tok), rtol=0, atol=1e-5)


def test_unsupported_conversions():
    with pytest.raises(ValueError, match="only transformers"):
        to_transformer_lens(_model("gru"))
    with pytest.raises(ValueError, match="kind must be"):
        to_transformer_lens(_model(), "onnx")
    pytest.importorskip("transformer_lens")
    from types import SimpleNamespace

    cfg = SimpleNamespace(normalization_type="RMS", positional_embedding_type="rotary", act_fn="silu", n_heads=2,
                          d_head=4, d_vocab=3, n_key_value_heads=1, eps=1e-6)
    with pytest.raises(ValueError, match="normalization_type.*positional_embedding_type.*act_fn.*n_key_value_heads.*eps"):
        from_transformer_lens(SimpleNamespace(cfg=cfg))
