"""Training as the paper did: TransformerLens's initialization, and networks kept at the
paper's token counts.

Shai et al. 2024 (arXiv 2405.15943) trained TransformerLens ``HookedTransformer`` models
(``init_weights=True``, default ``init_mode="gpt2"``; see ``examples/models/*/train_config.json``
in the authors' epsilon-transformers repository).  That initialization draws every weight
matrix -- ``W_E``, ``W_pos``, ``W_Q``, ``W_K``, ``W_V``, ``W_O``, ``W_in``, ``W_out``, ``W_U`` --
i.i.d. from ``N(0, s^2)`` with ``s = initializer_range = 0.8 / sqrt(d_model)`` (0.1 for
d_model 64), and leaves every bias at 0 and LayerNorm gains at 1 and offsets at 0.
:func:`transformer_lens_init` does the same to a :class:`nets.models.Transformer` (its fused
``W_QKV`` is ``W_Q, W_K, W_V`` side by side; the element distribution is the same).

PyTorch's defaults, which ``nets.models`` keeps, differ: ``nn.Linear`` weights are uniform
with standard deviation ``1 / sqrt(3 fan_in)`` (0.072 for fan-in 64, 0.036 for the MLP's
fan-in 256) with nonzero biases, and the embeddings are ``N(0, 0.02^2)``.

:func:`initial_model` gives the network a training run starts from (the same draws as
:func:`nets.train.train`, then optionally re-initialized); :func:`write_initial_checkpoint`
stores it as the run's step-0 checkpoint, so ``train(cfg, resume=True)`` trains that network
exactly as it trains its own fresh one (tested).  :func:`train_in_stages` trains a run
through a list of step counts (resuming :func:`nets.train.train` each time) and keeps the
network at every one of them (``step<N>.pt`` state dicts beside the checkpoint, so an
interrupted run resumes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["INITS", "transformer_lens_init", "initializer_range", "initial_model", "write_initial_checkpoint",
           "StagedRun", "train_in_stages"]

#: the initializations a run may start from: PyTorch's defaults (ours) or TransformerLens's
INITS = ("torch", "transformer_lens")


def initializer_range(d_model: int) -> float:
    """TransformerLens's default ``initializer_range = 0.8 / sqrt(d_model)``.

    >>> initializer_range(64), initializer_range(128) == 0.8 / 128 ** 0.5
    (0.1, True)
    """
    return 0.8 / math.sqrt(int(d_model))


def transformer_lens_init(model: nn.Module, seed: int, std: float | None = None) -> nn.Module:
    """Re-initialize ``model`` in place as TransformerLens's ``init_mode="gpt2"`` does.

    Every weight of an ``nn.Linear`` or ``nn.Embedding`` ~ ``N(0, std^2)`` (default
    :func:`initializer_range` of ``model.config.d_model``), every bias 0, every
    ``nn.LayerNorm`` gain 1 and offset 0.  Draws come from a ``torch.Generator`` seeded
    with ``seed`` (the global RNG is untouched).  A parameter of any other module type
    raises ``ValueError`` (so no parameter keeps its old value unnoticed).  Returns ``model``.
    """
    s = initializer_range(model.config.d_model) if std is None else float(std)
    if not s > 0:
        raise ValueError(f"std must be positive; got {std!r}")
    gen = torch.Generator().manual_seed(int(seed))
    done: set[int] = set()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                w = mod.weight
                w.copy_(torch.randn(w.shape, generator=gen, dtype=w.dtype) * s)
                done.add(id(w))
                if getattr(mod, "bias", None) is not None:
                    mod.bias.zero_()
                    done.add(id(mod.bias))
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.fill_(1.0)
                mod.bias.zero_()
                done.update({id(mod.weight), id(mod.bias)})
    left = [n for n, p in model.named_parameters() if id(p) not in done]
    if left:
        raise ValueError(f"transformer_lens_init does not know how to initialize {left}")
    return model


def initial_model(cfg, init: str = "torch"):
    """The network run ``cfg`` (a :class:`nets.config.TrainConfig`) starts from.

    ``init="torch"``: exactly the model :func:`nets.train.train` builds (``torch.manual_seed(
    cfg.seed)`` then :func:`nets.models.build_model`); ``"transformer_lens"``: that model
    re-initialized by :func:`transformer_lens_init` with seed ``cfg.seed``.  The global torch
    RNG is left as it was.
    """
    from nets.models import build_model

    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; got {init!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model_config())
    if init == "transformer_lens":
        transformer_lens_init(model, cfg.seed)
    return model


def write_initial_checkpoint(cfg, model: nn.Module, run_dir: str | Path) -> Path:
    """Store ``model`` as step 0 of run ``cfg`` in ``run_dir`` (its ``checkpoint.pt``): ``nets.train.train(cfg, resume=True)`` then
    starts from it.  The optimizer state is that of a fresh optimizer of ``cfg`` (SGD, Adam
    or AdamW, as :func:`nets.train.train` builds it) and the scheduler is left to the run
    (a fresh one is its step-0 state)."""
    from nets.checkpoint import save_checkpoint
    from nets.distributed import DistInfo

    if cfg.warmup_steps:
        raise ValueError("write_initial_checkpoint: a warm-up schedule changes the optimizer's step-0 lr; "
                         "use warmup_steps=0")
    wd = {} if cfg.weight_decay is None else {"weight_decay": cfg.weight_decay}
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, **wd)
    elif cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, **wd)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, **wd)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(run_dir, cfg, model, opt, None, 0, DistInfo())


@dataclass
class StagedRun:
    """A run trained through several step counts: ``models`` step -> network (eval mode;
    step 0 is the untrained network the run started from), ``result`` the
    :class:`nets.train.TrainResult` of the last stage (``history`` its metric records)."""

    models: dict
    result: Any

    @property
    def history(self) -> list:
        return self.result.history


def train_in_stages(cfg, init: str, stages, run_dir: str | Path, *, quiet: bool = True) -> StagedRun:
    """Train run ``cfg`` (a :class:`nets.config.TrainConfig`; its ``steps`` are replaced)
    from :func:`initial_model` ``(cfg, init)`` through the step counts ``stages`` (0
    allowed), keeping the network at each.  Cost: ``max(stages)`` training steps."""
    from nets.models import build_model
    from nets.train import train

    stages = sorted({int(s) for s in stages})
    if not stages or stages[0] < 0 or stages[-1] < 1:
        raise ValueError(f"stages must be step counts >= 0, the last >= 1; got {stages!r}")
    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoint.pt"
    cfg = replace(cfg, out_dir=str(run_dir), quiet=quiet)
    if not ckpt.is_file():
        write_initial_checkpoint(cfg, initial_model(cfg, init), run_dir)
    states, result = {}, None
    for s in stages:
        snap = run_dir / f"step{s}.pt"
        if not snap.is_file():
            if s == 0:
                state = initial_model(cfg, init).state_dict()
            else:
                result = train(replace(cfg, steps=s), resume=True)
                state = result.model.state_dict()
            torch.save({k: v.detach().cpu() for k, v in state.items()}, snap)
        states[s] = torch.load(snap, weights_only=True)
    if result is None or result.steps_done != max(stages):  # every stage was on disk already
        result = train(replace(cfg, steps=stages[-1]), resume=True)
    models = {}
    for s, state in states.items():
        m = build_model(cfg.model_config())
        m.load_state_dict(state)
        models[s] = m.eval()
    return StagedRun(models=models, result=result)
