"""Small sequence models with named activation points, on plain torch.

Two families share one interface (:class:`ActivationModel`):

- :class:`Transformer`: pre-LayerNorm causal transformer.  With ``x`` the residual stream
  (B, L, d_model)::

      embed            = W_E[tokens] + W_pos[positions]          (= blocks.0.resid_pre)
      blocks.i.resid_mid  = resid_pre + Attn_i(LN(resid_pre))
      blocks.i.resid_post = resid_mid + MLP_i(LN(resid_mid))     (= blocks.{i+1}.resid_pre)
      ln_final         = LN(resid_post of the last block);   logits = ln_final @ W_U + b_U

  ``Attn`` has ``n_heads`` heads of width ``d_head``; ``blocks.i.attn.pattern`` is the
  softmax of the causally masked scores ``q k^T / sqrt(d_head)``, shape
  (B, heads, dest, src).  ``MLP(x) = W_out act(W_in x + b_in) + b_out``.
- :class:`RNNModel`: a stack of ``n_layers`` single-layer ``rnn`` / ``gru`` / ``lstm``
  cells of width ``hidden`` over one-hot or embedded input, then a linear unembedding.
  ``layers.i.hidden`` is layer ``i``'s hidden state at every position (B, L, hidden);
  LSTMs also expose ``layers.i.cell``.

``model.run_with_cache(tokens, names)`` returns ``(logits, cache)``, an
:class:`nets.activations.ActivationCache` holding only the requested activations;
``model.activation_names()`` lists them all.  TransformerLens's hook names are accepted
as aliases (``blocks.0.hook_resid_post`` is ``blocks.0.resid_post``, ``hook_embed`` is
``embed``: :func:`nets.activations.aliases`), and each ``Block``'s ``forward`` returns its
``resid_post``, so plain torch forward hooks (nnsight, pyvene) on ``model.blocks[i]`` see
the residual stream.  Token ids
outside ``0..vocab_size-1`` and inputs longer than ``n_ctx`` raise ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from generators.validation import check_choice, check_int
from .device import module_device
from .activations import ActivationCache, resolve_names

__all__ = ["ModelConfig", "ActivationModel", "Transformer", "RNNModel", "build_model", "MODEL_KINDS"]

MODEL_KINDS = ("transformer", "rnn", "gru", "lstm")
_ACTS = {"relu": F.relu, "gelu": F.gelu}


@dataclass
class ModelConfig:
    """Architecture of a model (JSON-able).

    kind : "transformer" | "rnn" | "gru" | "lstm"
    vocab_size : number of token ids (alphabet size, +1 with BOS)
    n_ctx : maximum sequence length (positions)
    n_layers : blocks (transformer) or stacked recurrent layers
    transformer: d_model, n_heads, d_head (default d_model // n_heads), d_mlp, act ("relu"|"gelu")
    recurrent: hidden (width), rnn_input ("onehot" | "embed"), d_embed (embedding width,
    default ``hidden``), nonlinearity of the vanilla RNN ("tanh" | "relu")
    """

    kind: str = "transformer"
    vocab_size: int = 3
    n_ctx: int = 10
    n_layers: int = 4
    d_model: int = 64
    n_heads: int = 1
    d_head: int | None = None
    d_mlp: int = 256
    act: str = "relu"
    hidden: int = 64
    rnn_input: str = "onehot"
    d_embed: int | None = None
    nonlinearity: str = "tanh"

    def __post_init__(self):
        check_choice(self.kind, "model kind", MODEL_KINDS)
        for name in ("vocab_size", "n_ctx", "n_layers", "d_model", "n_heads", "d_mlp", "hidden"):
            check_int(getattr(self, name), name, minimum=1)
        if self.d_head is None:
            if self.kind == "transformer" and self.d_model % self.n_heads:
                raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; give d_head")
            self.d_head = max(1, self.d_model // self.n_heads)
        check_int(self.d_head, "d_head", minimum=1)
        if self.d_embed is not None:
            check_int(self.d_embed, "d_embed", minimum=1)
        check_choice(self.act, "act", tuple(_ACTS))
        check_choice(self.rnn_input, "rnn_input", ("onehot", "embed"))
        check_choice(self.nonlinearity, "nonlinearity", ("tanh", "relu"))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"unknown model config field(s) {bad}; valid: {sorted(known)}")
        return cls(**d)


class ActivationModel(nn.Module):
    """Base class: token validation, activation names and :meth:`run_with_cache`.

    Subclasses implement ``_run(tokens, want: frozenset[str], cache: dict) -> logits`` and
    ``activation_names()``; ``_run`` stores ``cache[name] = tensor`` for names in ``want``.
    """

    config: ModelConfig

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def n_ctx(self) -> int:
        return self.config.n_ctx

    @property
    def kind(self) -> str:
        return self.config.kind

    def activation_names(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def activation_dims(self) -> dict[str, tuple[int, ...]]:
        """Per-position trailing shape of every activation (e.g. ``(64,)``; pattern ``(heads, src)``)."""
        raise NotImplementedError  # pragma: no cover

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, L, vocab_size) for int tokens (B, L) (or (L,), treated as B = 1)."""
        return self._run(self.check_tokens(tokens), frozenset(), {})

    def run_with_cache(self, tokens: Any, names: str | Iterable[str] | None = None, *,
                       detach: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and the requested activations.

        Parameters
        ----------
        tokens : int tensor or array (B, L) (or (L,))
        names : a name, an iterable of names, or None for all of :meth:`activation_names`.
            Shell-style patterns are accepted (``"blocks.*.resid_post"``).
        detach : if True (default) run under ``torch.no_grad()``.

        Returns
        -------
        logits : (B, L, vocab_size)
        cache : :class:`nets.activations.ActivationCache` name -> tensor, only the
            requested names, in the order of :meth:`activation_names`: residual-stream
            points (B, L, d_model), hidden states (B, L, hidden), attention patterns
            (B, heads, dest, src).
        """
        want = self.resolve_names(names)
        tokens = self.check_tokens(tokens)
        cache: dict[str, torch.Tensor] = {}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not detach):
            logits = self._run(tokens, want, cache)
        return logits, ActivationCache({k: cache[k] for k in self.activation_names() if k in want})

    def resolve_names(self, names: str | Iterable[str] | None) -> frozenset[str]:
        """Validate ``names`` (names or patterns, in qbelief's or TransformerLens's spelling:
        see :func:`nets.activations.aliases`) against :meth:`activation_names`."""
        return frozenset(resolve_names(names, self.activation_names(), what=self.kind))

    def check_tokens(self, tokens: Any) -> torch.Tensor:
        """Validate token ids: integer (B, L) with 1 <= L <= n_ctx, entries in 0..vocab_size-1."""
        dev = self._device()
        if not isinstance(tokens, torch.Tensor):
            try:
                tokens = torch.as_tensor(tokens)
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"tokens must be an integer array (B, L); got {type(tokens).__name__}") from exc
        if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be integer ids; got dtype {tokens.dtype}")
        if tokens.dim() == 1:
            tokens = tokens[None]
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (B, L); got {tuple(tokens.shape)}")
        B, L = tokens.shape
        if L < 1 or L > self.n_ctx:
            raise ValueError(f"sequence length {L} outside 1..n_ctx={self.n_ctx}")
        if tokens.numel():
            lo, hi = int(tokens.min()), int(tokens.max())
            if lo < 0 or hi >= self.vocab_size:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"token id {bad} outside the vocabulary 0..{self.vocab_size - 1} "
                    f"(vocab_size={self.vocab_size}); the data's alphabet does not match this model"
                )
        return tokens.to(dev, torch.long)

    def _device(self) -> torch.device:
        return module_device(self)


# ---------------------------------------------------------------------- transformer
class Attention(nn.Module):
    """Causal multi-head self-attention; ``W_QKV`` (d_model -> 3 heads d_head), ``W_O``."""

    def __init__(self, d_model: int, n_heads: int, d_head: int):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_head
        self.W_QKV = nn.Linear(d_model, 3 * n_heads * d_head)
        self.W_O = nn.Linear(n_heads * d_head, d_model)

    def forward(self, x: torch.Tensor, want_pattern: bool):
        B, L, _ = x.shape
        q, k, v = self.W_QKV(x).view(B, L, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)  # (B, H, L, dh)
        if want_pattern:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.d_head)
            mask = torch.ones(L, L, dtype=torch.bool, device=x.device).triu(1)
            pattern = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
            z = pattern @ v
        else:
            pattern = None
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = self.W_O(z.transpose(1, 2).reshape(B, L, self.n_heads * self.d_head))
        return out, pattern


class Block(nn.Module):
    """One pre-LayerNorm block: ``resid_pre -> resid_post`` (see the module docstring).

    ``forward(x)`` returns the residual stream after the block, so a plain
    ``register_forward_hook`` on ``model.blocks[i]`` (and nnsight, pyvene) sees
    ``blocks.i.resid_post``; ``want``/``cache``/``prefix`` record the intermediate points.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg.d_model, cfg.n_heads, cfg.d_head)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.W_in = nn.Linear(cfg.d_model, cfg.d_mlp)
        self.W_out = nn.Linear(cfg.d_mlp, cfg.d_model)
        self.act = _ACTS[cfg.act]

    def forward(self, x: torch.Tensor, want: frozenset = frozenset(), cache: dict | None = None,
                prefix: str = "") -> torch.Tensor:
        """``x``: resid_pre (B, L, d_model) -> resid_post (B, L, d_model); the names
        ``prefix + name`` in ``want`` are stored in ``cache``."""
        rec = {} if cache is None else cache

        def put(name: str, v: torch.Tensor) -> None:
            if prefix + name in want:
                rec[prefix + name] = v

        put("resid_pre", x)
        a, pattern = self.attn(self.ln1(x), prefix + "attn.pattern" in want)
        if pattern is not None:
            rec[prefix + "attn.pattern"] = pattern
        put("attn.out", a)
        x = x + a
        put("resid_mid", x)
        h = self.act(self.W_in(self.ln2(x)))
        put("mlp.post", h)
        m = self.W_out(h)
        put("mlp.out", m)
        x = x + m
        put("resid_post", x)
        return x


class Transformer(ActivationModel):
    """Pre-LayerNorm causal transformer (see the module docstring for the math).

    Activation names: ``embed``; per block ``i``: ``blocks.i.resid_pre``,
    ``blocks.i.attn.pattern`` (B, heads, dest, src), ``blocks.i.attn.out``,
    ``blocks.i.resid_mid``, ``blocks.i.mlp.post`` (B, L, d_mlp, after the
    nonlinearity), ``blocks.i.mlp.out``, ``blocks.i.resid_post``; ``ln_final``.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.kind != "transformer":
            raise ValueError(f"Transformer needs kind='transformer'; got {config.kind!r}")
        self.config = config
        c = config
        self.W_E = nn.Embedding(c.vocab_size, c.d_model)
        self.W_pos = nn.Embedding(c.n_ctx, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.ln_final = nn.LayerNorm(c.d_model)
        self.unembed = nn.Linear(c.d_model, c.vocab_size)
        nn.init.normal_(self.W_E.weight, std=0.02)
        nn.init.normal_(self.W_pos.weight, std=0.02)
        self._names = self._build_names()

    def _build_names(self) -> list[str]:
        names = ["embed"]
        for i in range(self.config.n_layers):
            p = f"blocks.{i}."
            names += [p + "resid_pre", p + "attn.pattern", p + "attn.out", p + "resid_mid",
                      p + "mlp.post", p + "mlp.out", p + "resid_post"]
        return names + ["ln_final"]

    def activation_names(self) -> list[str]:
        return list(self._names)

    def activation_dims(self) -> dict[str, tuple[int, ...]]:
        c = self.config
        d = {}
        for nm in self._names:
            if nm.endswith("attn.pattern"):
                d[nm] = (c.n_heads, c.n_ctx)
            elif nm.endswith("mlp.post"):
                d[nm] = (c.d_mlp,)
            else:
                d[nm] = (c.d_model,)
        return d

    def _run(self, tokens: torch.Tensor, want: frozenset, cache: dict) -> torch.Tensor:
        L = tokens.shape[1]
        x = self.W_E(tokens) + self.W_pos.weight[:L]
        if "embed" in want:
            cache["embed"] = x
        for i, blk in enumerate(self.blocks):
            x = blk(x, want, cache, f"blocks.{i}.")
        x = self.ln_final(x)
        if "ln_final" in want:
            cache["ln_final"] = x
        return self.unembed(x)


# ---------------------------------------------------------------------- recurrent
class RNNModel(ActivationModel):
    """A stack of single-layer RNN / GRU / LSTM cells (batch first) and a linear readout.

    Input: one-hot tokens (``rnn_input="onehot"``, width vocab_size) or a learned
    embedding (``"embed"``, width ``d_embed``).  Initial hidden (and cell) states are 0.
    Activation names: ``embed`` (the input, (B, L, width)), ``layers.i.hidden``
    (B, L, hidden) and, for LSTMs, ``layers.i.cell``.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.kind not in ("rnn", "gru", "lstm"):
            raise ValueError(f"RNNModel needs kind in ('rnn', 'gru', 'lstm'); got {config.kind!r}")
        self.config = c = config
        if c.rnn_input == "embed":
            self.embedding = nn.Embedding(c.vocab_size, c.d_embed or c.hidden)
            width = c.d_embed or c.hidden
        else:
            self.embedding = None
            width = c.vocab_size
        self.input_width = width
        layers = []
        for i in range(c.n_layers):
            n_in = width if i == 0 else c.hidden
            if c.kind == "rnn":
                layers.append(nn.RNN(n_in, c.hidden, batch_first=True, nonlinearity=c.nonlinearity))
            elif c.kind == "gru":
                layers.append(nn.GRU(n_in, c.hidden, batch_first=True))
            else:
                layers.append(nn.LSTM(n_in, c.hidden, batch_first=True))
        self.layers = nn.ModuleList(layers)
        self.unembed = nn.Linear(c.hidden, c.vocab_size)

    def activation_names(self) -> list[str]:
        names = ["embed"]
        for i in range(self.config.n_layers):
            names.append(f"layers.{i}.hidden")
            if self.config.kind == "lstm":
                names.append(f"layers.{i}.cell")
        return names

    def activation_dims(self) -> dict[str, tuple[int, ...]]:
        return {nm: ((self.input_width,) if nm == "embed" else (self.config.hidden,)) for nm in self.activation_names()}

    def _run(self, tokens: torch.Tensor, want: frozenset, cache: dict) -> torch.Tensor:
        if self.embedding is not None:
            x = self.embedding(tokens)
        else:
            x = F.one_hot(tokens, self.config.vocab_size).to(self.unembed.weight.dtype)
        if "embed" in want:
            cache["embed"] = x
        for i, layer in enumerate(self.layers):
            cell_name = f"layers.{i}.cell"
            if self.config.kind == "lstm" and cell_name in want:
                x = self._lstm_with_cells(layer, x, cache, cell_name)
            else:
                x, _ = layer(x)
            if f"layers.{i}.hidden" in want:
                cache[f"layers.{i}.hidden"] = x
        return self.unembed(x)

    @staticmethod
    def _lstm_with_cells(layer: nn.LSTM, x: torch.Tensor, cache: dict, name: str) -> torch.Tensor:
        """Run an LSTM one position at a time to record the cell state at every position."""
        B, L, _ = x.shape
        h = x.new_zeros(1, B, layer.hidden_size)
        c = x.new_zeros(1, B, layer.hidden_size)
        hs, cs = [], []
        for t in range(L):
            out, (h, c) = layer(x[:, t:t + 1], (h, c))
            hs.append(out)
            cs.append(c[0][:, None])
        cache[name] = torch.cat(cs, dim=1)
        return torch.cat(hs, dim=1)


# ---------------------------------------------------------------------- factory
def build_model(config: Any = None, **overrides) -> ActivationModel:
    """A model from a :class:`ModelConfig`, a dict of its fields, or a training config
    (anything with a ``model_config()`` method), with keyword ``overrides``.

    >>> m = build_model({"kind": "lstm", "vocab_size": 3, "n_ctx": 10, "n_layers": 2, "hidden": 32})
    >>> m.kind, m.activation_names()
    ('lstm', ['embed', 'layers.0.hidden', 'layers.0.cell', 'layers.1.hidden', 'layers.1.cell'])
    """
    if config is None:
        cfg = ModelConfig(**overrides)
    elif isinstance(config, ModelConfig):
        cfg = ModelConfig.from_dict({**config.to_dict(), **overrides})
    elif isinstance(config, dict):
        cfg = ModelConfig.from_dict({**config, **overrides})
    elif hasattr(config, "model_config"):
        cfg = ModelConfig.from_dict({**config.model_config().to_dict(), **overrides})
    else:
        raise ValueError(f"build_model needs a ModelConfig, a dict or a TrainConfig; got {type(config).__name__}")
    return Transformer(cfg) if cfg.kind == "transformer" else RNNModel(cfg)

