"""The memory a training run needs, estimated before anything large is allocated.

One training step holds, for a batch of ``B`` words of ``W = L + 1`` symbols (``L`` model
positions) over ``V`` symbols with belief dimension ``n`` (summed over a product's factors):

- the batch arrays built by :class:`nets.data.BeliefData`: forward beliefs ``(B, W+1, n)``
  float64 (and their copy at the model positions), next-symbol probabilities ``(B, W+1,
  V)`` float64 (two temporaries) and ``(B, L, V)`` float32, words, tokens, targets and
  prefix probabilities: about ``B (W+1) (16 n + 28 V + 48)`` bytes;
- the model's parameters with their gradients and two Adam moments: ``16 P`` bytes;
- the activations kept for the backward pass, float32, per token: transformer
  ``layers (10 d_model + 3 d_mlp + 4 heads d_head + 3 heads L) + 3 vocab``, recurrent
  ``12 layers hidden + 3 vocab`` (a deliberate over-estimate: the check must never let
  a run start that cannot fit).

:func:`check_training_memory` refuses a run whose estimate exceeds the memory it would
use (the machine's physical memory for the CPU side; the GPU's for a CUDA run) with a
one-line :class:`TrainingTooLargeError` naming the estimate and that cap.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from bayes._budget import format_bytes

__all__ = ["TrainingTooLargeError", "physical_memory", "parameter_count", "step_bytes", "check_training_memory"]


class TrainingTooLargeError(ValueError):
    """A training step whose estimated memory exceeds the machine's (raised before allocating)."""


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def parameter_count(model_config: Any) -> int:
    """Number of parameters of the model of ``model_config`` (built on the meta device: nothing allocated)."""
    from .models import build_model

    with torch.device("meta"):
        return int(sum(p.numel() for p in build_model(model_config).parameters()))


def step_bytes(model_config: Any, batch_size: int, context: int, belief_dim: int, alphabet_size: int) -> dict:
    """Estimated bytes of one training step: ``{"batch", "model", "activations"}`` (module docstring)."""
    B, L, n, V, m = int(batch_size), int(context), int(belief_dim), int(alphabet_size), model_config
    batch = B * (L + 2) * (16 * n + 28 * V + 48)
    if m.kind == "transformer":
        per_token = m.n_layers * (10 * m.d_model + 3 * m.d_mlp + 4 * m.n_heads * m.d_head + 3 * m.n_heads * L)
    else:
        per_token = 12 * m.n_layers * m.hidden
    activations = 4 * B * L * (per_token + 3 * m.vocab_size)
    return {"batch": batch, "model": 16 * parameter_count(m), "activations": activations}


def check_training_memory(cfg: Any, belief_dim: int, alphabet_size: int, device: torch.device) -> dict:
    """Raise :class:`TrainingTooLargeError` if one step of ``cfg`` cannot fit in memory.

    CPU runs compare batch + model + activations with the physical memory; CUDA runs the
    batch with the physical memory and model + activations with the GPU's memory.
    Returns the estimate (:func:`step_bytes`).
    """
    est = step_bytes(cfg.model, cfg.batch_size, cfg.context, belief_dim, alphabet_size)
    on_gpu = device.type == "cuda"
    host = est["batch"] + (0 if on_gpu else est["model"] + est["activations"])
    checks = [(host, physical_memory(), "this machine's physical memory")]
    if on_gpu:
        total = torch.cuda.get_device_properties(device).total_memory
        checks.append((est["model"] + est["activations"], total, f"the memory of GPU {device}"))
    for need, cap, what in checks:
        if cap is not None and need > cap:
            parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in est.items())
            raise TrainingTooLargeError(
                f"one training step needs about {format_bytes(need)} ({parts}; batch_size={cfg.batch_size:,}, "
                f"context {cfg.context}), more than {what} ({format_bytes(cap)}, the cap); lower --batch-size, "
                "--context or the model's size")
    return est
