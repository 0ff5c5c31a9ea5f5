"""The probe's error during training: train in segments, probe at every checkpoint.

Riechers et al. 2025 (arXiv 2507.07432) report that the probe's RMSE falls by more than
80% within 20-40 epochs.  :func:`train_with_trajectory` trains with
:func:`nets.train.train` and stops at each checkpoint step (the ``callback`` of
``train``), probes the model there and continues from the checkpoint (``resume=True``
reproduces the uninterrupted run exactly: batches are a pure function of ``(seed, step)``,
and the scheduler and optimizer states are restored).  Step 0 is the run's own
initialization (:func:`initial_model`).  The trajectory is written to
``run_dir/trajectory.json`` after every checkpoint, so an interrupted run continues where
it stopped.  :func:`epochs_to_drop` reads the epoch at which the RMSE first falls by a
given fraction.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from generators.fileio import write_json

__all__ = ["train_with_trajectory", "initial_model", "epochs_to_drop", "Trained"]


class Trained:
    """What :func:`train_with_trajectory` returns: the final ``TrainResult``'s fields the
    analysis uses, and the ``trajectory`` (list of ``{"step", <probe metrics>}``)."""

    def __init__(self, result: Any, trajectory: list[dict], seconds: dict):
        self.model, self.history, self.steps_done = result.model, result.history, result.steps_done
        self.final_relative, self.config = result.final_relative, result.config
        self.trajectory, self.seconds = trajectory, seconds


def initial_model(cfg: Any):
    """The model :func:`nets.train.train` starts from for ``cfg`` (same seed, same
    parameters: ``train`` seeds torch with ``cfg.seed`` right before building it)."""
    import torch

    from nets.models import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return build_model(cfg.model_config()).eval()


def train_with_trajectory(fields: dict, run_dir: Path, checkpoints: Sequence[int], probe: Callable[[Any], dict], *,
                          stop: Callable[[list], bool] | None = None, quiet: bool = True) -> Trained:
    """Train ``fields`` (TrainConfig fields, the seed included) into ``run_dir``, calling
    ``probe(model) -> dict`` at step 0 and at every step of ``checkpoints`` (ascending,
    the last one ``fields["steps"]``); ``stop(trajectory) -> bool`` ends training early
    (checked after each probe).  Cost: the training plus ``len(checkpoints) + 1`` probes."""
    from nets.config import TrainConfig
    from nets.train import train

    run_dir = Path(run_dir)
    cfg = TrainConfig.from_dict(dict(fields, out_dir=str(run_dir), quiet=quiet))
    marks = [int(s) for s in checkpoints]
    if not marks or marks != sorted(set(marks)) or marks[0] < 1 or marks[-1] != cfg.steps:
        raise ValueError(f"checkpoints must be increasing steps >= 1 ending at steps={cfg.steps}; got {marks}")
    if any(s % cfg.log_every for s in marks):
        raise ValueError(f"every checkpoint must be a multiple of log_every={cfg.log_every}; got {marks}")
    path = run_dir / "trajectory.json"
    traj, secs = _load(path) if (run_dir / "checkpoint.pt").is_file() else ([], {"train": 0.0, "probe": 0.0})
    if not traj:
        t0 = time.process_time()
        traj = [{"step": 0, **probe(initial_model(cfg))}]
        secs["probe"] += time.process_time() - t0
    result = None
    for s in marks:
        if s <= traj[-1]["step"] or (stop is not None and stop(traj)):
            continue
        t0 = time.process_time()
        result = train(cfg, resume=True, callback=lambda step, rec, s=s: step >= s)
        t1 = time.process_time()
        traj.append({"step": int(result.steps_done), **probe(result.model)})
        secs["train"] += t1 - t0
        secs["probe"] += time.process_time() - t1
        write_json(path, {"trajectory": traj, "cpu_seconds": secs})
    if result is None:  # everything was done before: reload the last checkpoint
        result = train(TrainConfig.from_dict(dict(cfg.to_dict(), steps=traj[-1]["step"])), resume=True)
    return Trained(result, traj, secs)


def _load(path: Path) -> tuple[list, dict]:
    try:
        d = json.loads(path.read_text())
        return list(d["trajectory"]), dict(d["cpu_seconds"])
    except (OSError, ValueError, KeyError):
        return [], {"train": 0.0, "probe": 0.0}


def epochs_to_drop(steps: Sequence[float], rmse: Sequence[float], fraction: float = 0.8,
                   steps_per_epoch: int = 200) -> float | None:
    """Epoch at which ``rmse`` first falls to ``(1 - fraction) * rmse[0]``, linearly
    interpolated between the two checkpoints around the crossing; None if it never does.

    >>> round(epochs_to_drop([0, 200, 400, 800], [1.0, 0.5, 0.3, 0.1]), 12)
    3.0
    >>> epochs_to_drop([0, 200], [1.0, 0.5]) is None
    True
    """
    s, r = np.asarray(steps, dtype=float), np.asarray(rmse, dtype=float)
    if s.shape != r.shape or s.size < 1 or not np.all(np.isfinite(r)):
        raise ValueError(f"steps and rmse must be finite sequences of one length; got {s.shape} and {r.shape}")
    target = (1.0 - fraction) * r[0]
    hit = np.nonzero(r <= target * (1 + 1e-12))[0]  # an exact 80% drop counts despite rounding
    if hit.size == 0:
        return None
    i = int(hit[0])
    if i == 0:
        return 0.0
    t = (r[i - 1] - target) / (r[i - 1] - r[i])
    return float((s[i - 1] + t * (s[i] - s[i - 1])) / steps_per_epoch)
