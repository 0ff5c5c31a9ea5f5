"""qbelief transformers to and from TransformerLens, and weights as safetensors + config.json.

- :func:`to_transformer_lens` -- a :class:`nets.models.Transformer` as a TransformerLens
  ``HookedTransformer`` (TransformerLens 2.x/3.x) or a native ``TransformerBridge``
  (3.x/4.x), with the same weights: logits agree to float32 rounding.
- :func:`from_transformer_lens` -- the inverse, for TransformerLens models of the same
  architecture (pre-LayerNorm, learned absolute positions, relu/gelu MLP, causal
  attention scaled by ``1/sqrt(d_head)``, LayerNorm eps 1e-5); anything else raises.
- :func:`save_weights` / :func:`load_weights` -- ``model.safetensors`` (the state dict,
  :func:`nets.tensorfile.save_safetensors`) and ``config.json`` (the
  :class:`~nets.models.ModelConfig`) in a folder of their own.

The weight layouts (``H`` heads of width ``dh``, ``d = d_model``)::

    qbelief              native bridge            HookedTransformer
    W_QKV.weight (3Hdh,d) attn.{q,k,v}.weight (Hdh,d)  attn.W_{Q,K,V} (H,d,dh)
    W_O.weight (d,Hdh)    attn.o.weight (d,Hdh)        attn.W_O (H,dh,d)
    W_in.weight (dmlp,d)  mlp.in.weight (dmlp,d)       mlp.W_in (d,dmlp)
    unembed.weight (V,d)  unembed.weight (V,d)         unembed.W_U (d,V)

TransformerLens is optional (``pip install qbelief[tl]``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from generators.fileio import write_json

from .device import module_device

__all__ = ["to_transformer_lens", "from_transformer_lens", "save_weights", "load_weights", "WEIGHTS_FILE",
           "CONFIG_FILE"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
_FORMAT = "qbelief.weights"

# (qbelief name, native-bridge name); "{p}" is "blocks.{i}."
_RENAMES = [("W_E.weight", "embed.weight"), ("W_pos.weight", "pos_embed.weight"), ("ln_final.weight", "ln_final.weight"),
            ("ln_final.bias", "ln_final.bias"), ("unembed.weight", "unembed.weight"), ("unembed.bias", "unembed.bias")]
_BLOCK_RENAMES = [("ln1.weight", "ln1.weight"), ("ln1.bias", "ln1.bias"), ("ln2.weight", "ln2.weight"),
                  ("ln2.bias", "ln2.bias"), ("attn.W_O.weight", "attn.o.weight"), ("attn.W_O.bias", "attn.o.bias"),
                  ("W_in.weight", "mlp.in.weight"), ("W_in.bias", "mlp.in.bias"), ("W_out.weight", "mlp.out.weight"),
                  ("W_out.bias", "mlp.out.bias")]


def _tl_config(model: Any) -> dict:
    c = model.config
    if c.kind != "transformer":
        raise ValueError(f"only transformers have a TransformerLens form; this model is a {c.kind}")
    return dict(n_layers=c.n_layers, d_model=c.d_model, n_ctx=c.n_ctx, d_head=c.d_head, n_heads=c.n_heads,
                d_mlp=c.d_mlp, d_vocab=c.vocab_size, act_fn=c.act, normalization_type="LN",
                positional_embedding_type="standard", eps=float(model.ln_final.eps))


def to_transformer_lens(model: Any, kind: str = "auto") -> Any:
    """A TransformerLens model with ``model``'s weights, in eval mode on ``model``'s device.

    ``kind``: ``"bridge"`` (``TransformerBridge.boot_native``: TransformerLens 3.x and
    4.x), ``"hooked"`` (``HookedTransformer``: 2.x and 3.x, deprecated in 3.x) or
    ``"auto"`` (the bridge when the installed TransformerLens has one, else hooked).
    """
    if kind not in ("auto", "hooked", "bridge"):
        raise ValueError(f"kind must be 'auto', 'hooked' or 'bridge'; got {kind!r}")
    fields = _tl_config(model)
    bridge = _bridge_classes() if kind != "hooked" else None
    if bridge is None and kind == "bridge":
        raise ImportError("this TransformerLens has no TransformerBridge.boot_native (it came in 3.x); use kind='hooked'")
    if bridge is not None:
        cls, cfg_cls = bridge
        tl = cls.boot_native(cfg_cls(**fields))
        state = _ours_to_bridge(model)
    else:
        hooked = _hooked_classes()
        if hooked is None:
            raise ImportError("this TransformerLens has no HookedTransformer (removed in 4.0); use kind='bridge'")
        cls, cfg_cls = hooked
        tl = cls(cfg_cls(**fields))
        state = _convert(_ours_to_bridge(model), model.config.n_heads, model.config.d_head, to_hooked=True)
    full = tl.state_dict()
    missing = sorted(set(state) - set(full))
    if missing:  # pragma: no cover - a TransformerLens layout we do not know
        raise RuntimeError(f"this TransformerLens version names its weights differently: {missing[:3]}")
    full.update(state)
    tl.load_state_dict(full)
    return tl.to(module_device(model)).eval()


def from_transformer_lens(tl: Any) -> Any:
    """The :class:`nets.models.Transformer` with the weights of a TransformerLens
    ``HookedTransformer`` or native ``TransformerBridge`` (see the module doc for the
    architectures supported; others raise ``ValueError`` naming the differing settings)."""
    from .models import build_model

    cfg = tl.cfg
    _check_supported(cfg)
    model = build_model({"kind": "transformer", "vocab_size": int(cfg.d_vocab), "n_ctx": int(cfg.n_ctx),
                         "n_layers": int(cfg.n_layers), "d_model": int(cfg.d_model), "n_heads": int(cfg.n_heads),
                         "d_head": int(cfg.d_head), "d_mlp": int(cfg.d_mlp), "act": cfg.act_fn})
    sd = {k: v.detach() for k, v in tl.state_dict().items()}
    if "embed.W_E" in sd:
        sd = _convert(sd, int(cfg.n_heads), int(cfg.d_head), to_hooked=False)
    elif "embed.weight" not in sd:
        raise ValueError("not a HookedTransformer or native TransformerBridge state dict (no embed.W_E / embed.weight)")
    model.load_state_dict(_bridge_to_ours(sd, model))
    return model.to(module_device(tl)).eval()


def _check_supported(cfg: Any) -> None:
    want = {"normalization_type": "LN", "positional_embedding_type": "standard", "attn_only": False,
            "gated_mlp": False, "parallel_attn_mlp": False, "final_rms": False, "attention_dir": "causal"}
    bad = {k: getattr(cfg, k) for k, v in want.items() if getattr(cfg, k, v) != v}
    if getattr(cfg, "act_fn", None) not in ("relu", "gelu"):
        bad["act_fn"] = getattr(cfg, "act_fn", None)
    if getattr(cfg, "n_key_value_heads", None) not in (None, cfg.n_heads):
        bad["n_key_value_heads"] = cfg.n_key_value_heads
    if abs(float(getattr(cfg, "eps", 1e-5)) - 1e-5) > 1e-12:
        bad["eps"] = cfg.eps
    scale = float(getattr(cfg, "attn_scale", -1.0))
    if not getattr(cfg, "use_attn_scale", True) or (scale > 0 and not math.isclose(scale, math.sqrt(cfg.d_head))):
        bad["attn_scale"] = scale
    if getattr(cfg, "d_vocab_out", cfg.d_vocab) not in (-1, cfg.d_vocab):
        bad["d_vocab_out"] = cfg.d_vocab_out
    for cap in ("attn_scores_soft_cap", "output_logits_soft_cap"):
        if float(getattr(cfg, cap, -1.0)) > 0:
            bad[cap] = getattr(cfg, cap)
    if bad:
        raise ValueError(f"this TransformerLens model differs from qbelief's transformer in {bad}; it cannot be "
                         "converted (probe it directly: nets.probe accepts TransformerLens models)")


def _ours_to_bridge(model: Any) -> dict:
    sd, c = model.state_dict(), model.config
    out = {b: sd[a].detach().clone() for a, b in _RENAMES}
    hd = c.n_heads * c.d_head
    for i in range(c.n_layers):
        p = f"blocks.{i}."
        out.update({p + b: sd[p + a].detach().clone() for a, b in _BLOCK_RENAMES})
        for j, x in enumerate("qkv"):
            out[p + f"attn.{x}.weight"] = sd[p + "attn.W_QKV.weight"][j * hd:(j + 1) * hd].detach().clone()
            out[p + f"attn.{x}.bias"] = sd[p + "attn.W_QKV.bias"][j * hd:(j + 1) * hd].detach().clone()
    return out


def _bridge_to_ours(sd: dict, model: Any) -> dict:
    out = {a: sd[b] for a, b in _RENAMES}
    for i in range(model.config.n_layers):
        p = f"blocks.{i}."
        out.update({p + a: sd[p + b] for a, b in _BLOCK_RENAMES})
        out[p + "attn.W_QKV.weight"] = torch.cat([sd[p + f"attn.{x}.weight"] for x in "qkv"])
        out[p + "attn.W_QKV.bias"] = torch.cat([sd[p + f"attn.{x}.bias"] for x in "qkv"])
    return out


def _same(v, H, dh):
    return v


def _t(v, H, dh):
    return v.T


# (native-bridge name, HookedTransformer name, bridge -> hooked, hooked -> bridge)
_HOOKED = [("embed.weight", "embed.W_E", _same, _same), ("pos_embed.weight", "pos_embed.W_pos", _same, _same),
           ("ln_final.weight", "ln_final.w", _same, _same), ("ln_final.bias", "ln_final.b", _same, _same),
           ("unembed.weight", "unembed.W_U", _t, _t), ("unembed.bias", "unembed.b_U", _same, _same)]
_HOOKED_BLOCK = [
    *[(f"{ln}.{a}", f"{ln}.{b}", _same, _same) for ln in ("ln1", "ln2") for a, b in (("weight", "w"), ("bias", "b"))],
    *[(f"attn.{x}.weight", f"attn.W_{x.upper()}", lambda v, H, dh: v.reshape(H, dh, -1).transpose(1, 2),
       lambda v, H, dh: v.transpose(1, 2).reshape(H * dh, -1)) for x in "qkv"],
    *[(f"attn.{x}.bias", f"attn.b_{x.upper()}", lambda v, H, dh: v.reshape(H, dh),
       lambda v, H, dh: v.reshape(H * dh)) for x in "qkv"],
    ("attn.o.weight", "attn.W_O", lambda v, H, dh: v.T.reshape(H, dh, -1), lambda v, H, dh: v.reshape(H * dh, -1).T),
    ("attn.o.bias", "attn.b_O", _same, _same),
    ("mlp.in.weight", "mlp.W_in", _t, _t), ("mlp.in.bias", "mlp.b_in", _same, _same),
    ("mlp.out.weight", "mlp.W_out", _t, _t), ("mlp.out.bias", "mlp.b_out", _same, _same)]


def _convert(sd: dict, H: int, dh: int, to_hooked: bool) -> dict:
    """Native-bridge weights <-> HookedTransformer weights (the module doc's table)."""
    n_layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    out = {}
    for prefix, rules in (("", _HOOKED), *((f"blocks.{i}.", _HOOKED_BLOCK) for i in range(n_layers))):
        for b, h, fwd, bwd in rules:
            src, dst, fn = (b, h, fwd) if to_hooked else (h, b, bwd)
            out[prefix + dst] = fn(sd[prefix + src], H, dh)
    return out


def _hooked_classes():
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError:
        _require_tl()
        return None
    return HookedTransformer, HookedTransformerConfig


def _bridge_classes():
    _require_tl()
    try:
        from transformer_lens.config import TransformerBridgeConfig
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError:
        return None
    return (TransformerBridge, TransformerBridgeConfig) if hasattr(TransformerBridge, "boot_native") else None


def _require_tl() -> None:
    try:
        import transformer_lens  # noqa: F401
    except ImportError as e:
        raise ImportError("TransformerLens is not installed: pip install 'qbelief[tl]'") from e


def save_weights(model: Any, directory: str | os.PathLike) -> Path:
    """Write ``model``'s weights (``model.safetensors``) and architecture (``config.json``:
    ``{"format": "qbelief.weights", "model": ModelConfig fields}``) into ``directory``,
    atomically; returns the folder.  Give the weights a folder of their own (e.g.
    ``run_dir / "weights"``): an existing ``config.json`` of another kind (a run's
    training config) is never overwritten -- that raises ``ValueError``."""
    import json

    from .tensorfile import save_safetensors

    d = Path(directory)
    cfg_path = d / CONFIG_FILE
    if cfg_path.is_file():
        try:
            ok = json.loads(cfg_path.read_text()).get("format") == _FORMAT
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            raise ValueError(f"{cfg_path} exists and is not a qbelief weights config; save the weights into a "
                             "folder of their own")
    save_safetensors(d / WEIGHTS_FILE, model.state_dict(), metadata={"format": "pt"})
    write_json(cfg_path, {"format": _FORMAT, "model": model.config.to_dict()})
    return d


def load_weights(directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """The model saved by :func:`save_weights` (built from ``config.json``, weights loaded
    strictly from ``model.safetensors``), on ``map_location``."""
    import json

    from .models import ModelConfig, build_model
    from .tensorfile import load_safetensors

    d = Path(directory)
    if not (d / CONFIG_FILE).is_file() or not (d / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{d} has no {CONFIG_FILE} and {WEIGHTS_FILE} (write them with nets.export.save_weights)")
    cfg = json.loads((d / CONFIG_FILE).read_text())
    if not isinstance(cfg, dict) or cfg.get("format") != _FORMAT:
        raise ValueError(f"{d / CONFIG_FILE} is not a qbelief weights config (no \"format\": \"{_FORMAT}\")")
    model = build_model(ModelConfig.from_dict(cfg["model"]))
    state = {k: torch.from_numpy(v) for k, v in load_safetensors(d / WEIGHTS_FILE).items()}
    model.load_state_dict(state)
    return model.to(map_location)
