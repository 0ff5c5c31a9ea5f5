"""Checkpoints and metric logs of training runs: writing, reading, resuming.

A run directory holds ``config.json`` (:meth:`nets.config.TrainConfig.to_dict`),
``metrics.jsonl`` (one JSON object per logged step) and ``checkpoint.pt``: a dict with
``format`` (:data:`CHECKPOINT_FORMAT`), ``step``, ``config``, ``model_config``, ``model``
(state dict), ``optimizer``, ``scheduler`` and ``rng`` (torch, numpy and CUDA generator
states), written atomically (:func:`generators.fileio.atomic_path`) and loadable with
``torch.load(path, weights_only=True)``: opening a run never executes code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators.fileio import atomic_path, write_text

from . import distributed as ddp
from .config import TrainConfig
from .models import ActivationModel, ModelConfig, build_model

__all__ = ["CHECKPOINT_FORMAT", "RESUMABLE_CHANGES", "save_checkpoint", "load_checkpoint", "load_model",
           "check_resumable", "rng_state", "set_rng_state", "read_jsonl", "write_jsonl"]

CHECKPOINT_FORMAT = "qbelief.nets.checkpoint/1"
#: fields that may differ between a checkpoint's config and the config resuming it
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "out_dir", "device", "quiet", "eval_every", "log_every",
                               "max_time_s", "num_threads"})


def save_checkpoint(path: Path, cfg: TrainConfig, model, optimizer, scheduler, step: int,
                    info: ddp.DistInfo) -> Path:
    """Write the checkpoint atomically on the main rank; every rank waits for it."""
    if info.is_main:
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "step": int(step),
            "config": cfg.to_dict(),
            "model_config": model.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": rng_state(),
        }
        with atomic_path(path) as tmp:
            torch.save(ckpt, tmp)
    ddp.barrier(info)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint dict with ``torch.load(..., weights_only=True)``.

    Keys: ``format``, ``step``, ``config`` (TrainConfig dict), ``model_config``,
    ``model`` (state dict), ``optimizer``, ``scheduler``, ``rng``.
    """
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a qbelief nets checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def load_model(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[ActivationModel, TrainConfig]:
    """The model stored in a checkpoint (eval mode) and its :class:`TrainConfig` (older
    flat configs are converted; a process naming a ``.py`` file is refused)."""
    ckpt = load_checkpoint(path, map_location)
    model = build_model(ModelConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(map_location).eval(), TrainConfig.from_dict(ckpt["config"], stored=True)


def check_resumable(cfg: TrainConfig, stored: dict) -> None:
    """Raise ``ValueError`` unless ``cfg`` equals the checkpoint's config ``stored`` up to
    :data:`RESUMABLE_CHANGES` (both compared in their current, JSON form)."""
    now = json.loads(json.dumps(cfg.to_dict()))
    stored = json.loads(json.dumps(TrainConfig.from_dict(stored, stored=True).to_dict()))
    diff = sorted(k for k in set(now) | set(stored) if k not in RESUMABLE_CHANGES and now.get(k) != stored.get(k))
    if diff:
        k = diff[0]
        raise ValueError(f"cannot resume: the checkpoint was trained with {k}={stored.get(k)!r} but the config has "
                         f"{k}={now.get(k)!r} (differing fields: {diff}); only {sorted(RESUMABLE_CHANGES)} may change")


def rng_state() -> dict:
    """The torch, numpy (legacy global) and CUDA generator states as tensors and numbers."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved (CUDA states only on the same device count)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file, up to the first line cut short by a kill."""
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a kill
                    break
    return out


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write ``records`` as JSON lines, atomically."""
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))
