"""The memory a training run needs, estimated before anything large is allocated.

One training step holds, for a batch of ``B`` words of ``W = L + 1`` symbols (``L`` model
positions) over ``V`` symbols with belief dimension ``n`` (summed over a product's factors):

- the batch arrays built by :class:`nets.data.BeliefData`: forward beliefs ``(B, W+1, n)``
  float64 (and their copy at the model positions), next-symbol probabilities ``(B, W+1,
  V)`` float64 (two temporaries) and ``(B, L, V)`` float32, words, tokens, targets and
  prefix probabilities: about ``B (W+1) (16 n + 28 V + 48)`` bytes;
- the model's parameters with their gradients and two Adam moments: ``16 P`` bytes
  (:func:`parameter_count`, by formula: nothing is built to count);
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

__all__ = ["TrainingTooLargeError", "LAYER_OVERHEAD", "physical_memory", "parameter_count", "model_bytes",
           "step_bytes", "check_training_memory", "check_model_memory"]


#: bytes of Python objects (modules, parameter wrappers) per layer of a built model (an over-estimate)
LAYER_OVERHEAD = 50_000


class TrainingTooLargeError(ValueError):
    """A training step whose estimated memory exceeds the machine's (raised before allocating)."""


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def parameter_count(model_config: Any) -> int:
    """Number of parameters of the model of ``model_config``, by formula (nothing is built,
    so absurd sizes cost nothing; equal to the built model's count, see the tests).

    Transformer: ``d (V + n_ctx) + layers (4 d + 3 h dh (d + 1) + d (h dh + 1) + d_mlp (d + 1)
    + d (d_mlp + 1)) + 2 d + V (d + 1)``; recurrent (``g`` = 1, 3, 4 gate blocks for rnn,
    gru, lstm; ``w`` the input width): ``[V w] + sum_i g H (n_in_i + H + 2) + V (H + 1)``.
    """
    m = model_config
    V = m.vocab_size
    if m.kind == "transformer":
        d, hd = m.d_model, m.n_heads * m.d_head
        layer = 4 * d + 3 * hd * (d + 1) + d * (hd + 1) + m.d_mlp * (d + 1) + d * (m.d_mlp + 1)
        return d * (V + m.n_ctx) + m.n_layers * layer + 2 * d + V * (d + 1)
    g, H = {"rnn": 1, "gru": 3, "lstm": 4}[m.kind], m.hidden
    w = (m.d_embed or H) if m.rnn_input == "embed" else V
    first, rest = g * H * (w + H + 2), g * H * (2 * H + 2)
    return (V * w if m.rnn_input == "embed" else 0) + first + (m.n_layers - 1) * rest + V * (H + 1)


def model_bytes(model_config: Any) -> int:
    """Bytes of a model under training: parameters, gradients and two Adam moments (float32,
    ``16 P``), plus about :data:`LAYER_OVERHEAD` bytes of Python objects per layer."""
    return 16 * parameter_count(model_config) + LAYER_OVERHEAD * model_config.n_layers


def step_bytes(model_config: Any, batch_size: int, context: int, belief_dim: int, alphabet_size: int) -> dict:
    """Estimated bytes of one training step: ``{"batch", "model", "activations"}`` (module docstring)."""
    B, L, n, V, m = int(batch_size), int(context), int(belief_dim), int(alphabet_size), model_config
    batch = B * (L + 2) * (16 * n + 28 * V + 48)
    if m.kind == "transformer":
        per_token = m.n_layers * (10 * m.d_model + 3 * m.d_mlp + 4 * m.n_heads * m.d_head + 3 * m.n_heads * L)
    else:
        per_token = 12 * m.n_layers * m.hidden
    activations = 4 * B * L * (per_token + 3 * m.vocab_size)
    return {"batch": batch, "model": model_bytes(m), "activations": activations}


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


def check_model_memory(model_config: Any, what: str) -> None:
    """Raise :class:`TrainingTooLargeError` if building the model of ``model_config`` alone
    would take more than the physical memory (``what`` names where the config came from)."""
    need, cap = model_bytes(model_config), physical_memory()
    if cap is not None and need > cap:
        raise TrainingTooLargeError(f"{what} asks for a model of {parameter_count(model_config):,} parameters "
                                    f"in {model_config.n_layers:,} layers (~{format_bytes(need)}), more than this "
                                    f"machine's physical memory ({format_bytes(cap)}, the cap)")
