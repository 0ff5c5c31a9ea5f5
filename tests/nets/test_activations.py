"""One activation cache (TransformerLens-style indexing, aliases, depth order), one batched
collection for any model, and forward hooks that reach the residual stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nets.activations import ActivationCache, aliases, collect, resolve_names
from nets.adapters import ModuleSource, as_source, resolve_bos
from nets.models import build_model


def _tiny(kind="transformer", seed=0, **kw):
    torch.manual_seed(seed)
    cfg = {"kind": kind, "vocab_size": 3, "n_ctx": 6, "n_layers": 2}
    cfg.update({"d_model": 8, "n_heads": 2, "d_mlp": 16} if kind == "transformer" else {"hidden": 5})
    return build_model({**cfg, **kw}).eval()


TOK = np.random.default_rng(0).integers(0, 3, size=(9, 6))


def test_aliases_both_ways():
    pairs = [("blocks.3.resid_post", "blocks.3.hook_resid_post"), ("blocks.0.resid_pre", "blocks.0.hook_resid_pre"),
             ("blocks.1.attn.pattern", "blocks.1.attn.hook_pattern"), ("blocks.1.attn.out", "blocks.1.hook_attn_out"),
             ("blocks.2.mlp.post", "blocks.2.mlp.hook_post"), ("blocks.2.mlp.out", "blocks.2.hook_mlp_out"),
             ("ln_final", "ln_final.hook_normalized"), ("embed", "hook_embed"), ("embed", "blocks.0.hook_resid_pre"),
             ("blocks.*.resid_post", "blocks.*.hook_resid_post")]
    for ours, tl in pairs:
        assert tl in aliases(ours)
        assert ours in aliases(tl) or (ours == "embed" and tl == "blocks.0.hook_resid_pre")
    assert aliases("layers.0.hidden") == []
    assert resolve_names(["blocks.*.hook_resid_post", "hook_embed"], ["embed", "blocks.0.resid_post", "x"]) == [
        "embed", "blocks.0.resid_post"]
    with pytest.raises(ValueError, match="unknown activation name 'blocks.9.resid_post'.*valid names: a, b"):
        resolve_names("blocks.9.resid_post", ["a", "b"])


def test_cache_indexing_order_stack_concat():
    rng = np.random.default_rng(1)
    vals = {n: rng.normal(size=(2, 3)) for n in ("ln_final", "blocks.1.resid_post", "blocks.0.resid_post", "embed",
                                                 "blocks.0.resid_mid")}
    c = ActivationCache(vals)
    assert list(c) == ["embed", "blocks.0.resid_post", "blocks.0.resid_mid", "blocks.1.resid_post", "ln_final"]
    assert c["resid_post", 1] is vals["blocks.1.resid_post"] and c["resid_post", -2] is vals["blocks.0.resid_post"]
    assert c["blocks.0.hook_resid_post"] is vals["blocks.0.resid_post"] and c["hook_embed"] is vals["embed"]
    assert "ln_final.hook_normalized" in c and "blocks.5.resid_post" not in c and c.get("nope", 7) == 7
    np.testing.assert_array_equal(c.stack("resid_post"), np.stack([vals["blocks.0.resid_post"],
                                                                   vals["blocks.1.resid_post"]]))
    np.testing.assert_array_equal(c.concat(["embed", "ln_final"]), np.concatenate([vals["embed"], vals["ln_final"]], 1))
    assert c.concat().shape == (2, 15)
    t = ActivationCache({k: torch.from_numpy(v) for k, v in vals.items()})
    assert torch.equal(t.stack("blocks.*.resid_post"), torch.from_numpy(c.stack("resid_post")))
    assert t.to_numpy()["embed"].dtype == np.float32
    with pytest.raises(KeyError, match="no activation 'blocks.7.resid_post'"):
        c["blocks.7.resid_post"]
    with pytest.raises(KeyError, match=r"no activation \('pattern', 0\)"):
        c["pattern", 0]


def test_run_with_cache_accepts_transformer_lens_names():
    m = _tiny()
    _, a = m.run_with_cache(TOK, ["blocks.1.hook_resid_post", "blocks.0.attn.hook_pattern", "hook_embed"])
    _, b = m.run_with_cache(TOK, ["blocks.1.resid_post", "blocks.0.attn.pattern", "embed"])
    assert list(a) == list(b) == ["embed", "blocks.0.attn.pattern", "blocks.1.resid_post"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert isinstance(a, ActivationCache) and a["resid_post", 1] is a["blocks.1.resid_post"]


def test_block_forward_hook_sees_the_residual_stream():
    m = _tiny()
    seen = {}
    handles = [m.blocks[i].register_forward_hook(lambda mod, args, out, i=i: seen.__setitem__(i, out)) for i in (0, 1)]
    try:
        _, cache = m.run_with_cache(TOK, ["blocks.0.resid_post", "blocks.1.resid_post", "blocks.0.resid_pre"])
    finally:
        for h in handles:
            h.remove()
    torch.testing.assert_close(seen[0], cache["blocks.0.resid_post"], rtol=0, atol=0)
    torch.testing.assert_close(seen[1], cache["blocks.1.resid_post"], rtol=0, atol=0)
    x = cache["blocks.0.resid_pre"]
    torch.testing.assert_close(m.blocks[0](x), cache["blocks.0.resid_post"], rtol=0, atol=0)


def test_collect_rows_positions_batches_and_mean():
    m = _tiny()
    _, full = m.run_with_cache(TOK, ["blocks.1.resid_post", "blocks.0.attn.pattern"])
    whole = collect(m, TOK, "blocks.1.resid_post", batch_size=4)
    np.testing.assert_allclose(whole["blocks.1.resid_post"], full["blocks.1.resid_post"].numpy(), atol=1e-6)
    rows, pos = np.array([8, 0, 8, 3]), np.array([5, 0, 2, 4])
    got = collect(m, TOK, ["blocks.1.resid_post"], rows=rows, positions=pos, batch_size=2)["blocks.1.resid_post"]
    np.testing.assert_allclose(got, full["blocks.1.resid_post"].numpy()[rows, pos], atol=1e-6)
    sub = collect(m, TOK, ["blocks.1.resid_post"], rows=[2, 2, 7])["blocks.1.resid_post"]
    np.testing.assert_allclose(sub, full["blocks.1.resid_post"].numpy()[[2, 2, 7]], atol=1e-6)
    mean = collect(m, TOK, ["blocks.0.attn.pattern"], reduce="mean", batch_size=4)["blocks.0.attn.pattern"]
    np.testing.assert_allclose(mean, full["blocks.0.attn.pattern"].double().mean(0).numpy(), atol=1e-7)
    assert list(collect(m, TOK)) == ["embed", "blocks.0.resid_post", "blocks.1.resid_post", "ln_final"]
    assert m.training is False
    m.train()
    collect(m, TOK, "ln_final")
    assert m.training is True  # the mode is restored
    for kw, msg in [({"rows": [9]}, "rows must be integers in 0..8"), ({"positions": [6]}, "positions must be"),
                    ({"rows": [0, 1], "positions": [0]}, "same length"), ({"reduce": "max"}, "reduce must be"),
                    ({"reduce": "mean", "rows": [0]}, "do not pass rows")]:
        with pytest.raises(ValueError, match=msg):
            collect(m, TOK, "ln_final", **kw)
    with pytest.raises(ValueError, match="one position per row needs"):
        collect(m, TOK, "blocks.0.attn.pattern", positions=np.zeros(9, int))
    with pytest.raises(ValueError, match="integer array"):
        collect(m, TOK.astype(float), "ln_final")


def test_module_source_hooks_any_module_and_builds_an_untrained_twin():
    m = _tiny("gru")
    src = ModuleSource(m, ["layers.0", "layers.1"], vocab_size=3, n_ctx=6)
    got = collect(src, TOK)
    _, ref = m.run_with_cache(TOK, ["layers.0.hidden", "layers.1.hidden"])
    np.testing.assert_allclose(got["layers.1"], ref["layers.1.hidden"].numpy(), atol=1e-6)
    twin = src.untrained(5)
    again = src.untrained(5)
    a, b = collect(twin, TOK)["layers.1"], collect(again, TOK)["layers.1"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, got["layers.1"])
    assert collect(src, TOK)["layers.1"] == pytest.approx(got["layers.1"])  # the original is untouched

    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))
            self.emb = torch.nn.Embedding(3, 4)

        def forward(self, t):
            return self.emb(t) * self.scale

    with pytest.raises(ValueError, match=r"cannot re-initialize parameters \['scale'\]"):
        ModuleSource(Custom(), {"e": "emb"}, vocab_size=3).untrained(0)
    with pytest.raises(ValueError, match="no submodule 'nope'"):
        ModuleSource(m, ["nope"])
    with pytest.raises(ValueError, match="wrap it as nets.adapters.ModuleSource"):
        as_source(Custom())
    with pytest.raises(ValueError, match="cannot read activations from a str"):
        as_source("model")


def test_resolve_bos():
    assert resolve_bos(3, 3, "auto") is None and resolve_bos(4, 3, "auto") == 3 and resolve_bos(5, 3, 4) == 4
    assert resolve_bos(4, 3, np.int64(3)) == 3 and resolve_bos(None, 3, None) is None
    for args, msg in [((5, 3, "auto"), "vocabulary has 5 tokens"), ((4, 3, 1), "outside the alphabet"),
                      ((2, 3, None), "needs 3"), ((None, 3, "auto"), "vocabulary size is unknown"),
                      ((4, 3, True), "outside the alphabet")]:
        with pytest.raises(ValueError, match=msg):
            resolve_bos(*args)
