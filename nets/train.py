"""Train a transformer or an RNN on a generator's process: one config, one function, one loop.

``train(TrainConfig(...))`` builds the data (:class:`nets.data.BeliefData`) and the model
(:func:`nets.models.build_model`), and minimizes the mean next-symbol cross-entropy over
all positions, in nats:

- ``targets="sampled"``: ``-log p_model(x_{t+1} | x_{<=t})`` of the sampled next symbol
  (the papers' protocol);
- ``targets="exact"``: ``-sum_x Pr(x | x_{<=t}) log p_model(x | x_{<=t})`` against the
  generator's exact next-symbol distribution.  Its expectation over the data, and that of
  its gradient, equal the sampled loss's, with far lower variance (the sampling noise of
  the target symbol is integrated out).  On processes whose optimum sits near
  ``log V`` (Bloch walk: 0.5% below ``log 4``) this is the difference between learning the
  belief geometry in a minute and not.

Independent products train here too: :class:`~nets.data.BeliefData` samples them factor
by factor and never builds the joint GHMM (Shai et al. 2026, arXiv:2602.02385).

The loss is reported beside the Bayes-optimal loss of the same positions
(``bayes.myopic_entropy`` in nats): ``relative = loss / optimum``, 1.0 is optimal.

Outputs in ``out_dir`` (if given; :mod:`nets.checkpoint`): ``config.json``,
``metrics.jsonl`` (one JSON object per logged step) and ``checkpoint.pt`` (every
``checkpoint_every`` steps and at the end, written atomically).
``train(config, resume=True)`` continues from the checkpoint and reproduces the
uninterrupted run exactly (batches are a pure function of ``(seed, step)``).  Under
torchrun each rank trains on its slice of the same global batch (:mod:`nets.distributed`)::

    torchrun --standalone --nproc_per_node 2 -m nets.train config.json [--resume]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from generators.fileio import write_json

from . import distributed as ddp
from . import rundir
from .budget import check_training_memory
from .callbacks import CallbackList, callbacks_for
from .checkpoint import (CHECKPOINT_FORMAT, check_resumable, load_checkpoint, load_model, open_run, save_checkpoint,
                         set_rng_state)
from .config import OPTIMIZERS, SCHEDULERS, TrainConfig
from .rundir import read_jsonl, write_jsonl
from .data import TARGETS, BeliefData
from .device import available_cores, data_device, default_threads
from .models import ActivationModel, build_model

__all__ = ["TrainConfig", "TrainResult", "train", "load_checkpoint", "load_model", "loss_fn",
           "OPTIMIZERS", "SCHEDULERS", "CHECKPOINT_FORMAT"]


@dataclass
class TrainResult:
    """What :func:`train` returns.

    model : the trained model (on its device, unwrapped);  data : its :class:`BeliefData`
    config : the :class:`TrainConfig`;  history : list of metric dicts (as in metrics.jsonl)
    optimum : Bayes-optimal loss per position (L,), nats;  steps_done : steps completed
    final_loss / final_relative : mean training loss (nats) / loss over optimum over the last
    up to 10% of logged steps;  val_loss / val_relative : exact validation loss at the end
    (exact data mode) or None;  timing : seconds in data, in whole steps, tokens/s, CPU threads
    checkpoint : path of the last checkpoint or None
    """

    model: ActivationModel
    data: BeliefData
    config: TrainConfig
    history: list
    optimum: np.ndarray
    steps_done: int
    final_loss: float
    final_relative: float
    val_loss: float | None = None
    val_relative: float | None = None
    timing: dict = field(default_factory=dict)
    checkpoint: str | None = None


def loss_fn(logits: torch.Tensor, batch, targets: str) -> torch.Tensor:
    """Mean next-symbol cross-entropy over batch and positions, nats.

    ``logits`` (B, L, vocab); ``targets="sampled"`` uses ``batch.targets`` (B, L),
    ``"exact"`` the exact distributions ``batch.next_probs`` (B, L, V), V <= vocab (a BOS
    token is never a target).
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    if targets == "sampled":
        return F.nll_loss(logp.reshape(-1, logp.shape[-1]), batch.targets.reshape(-1))
    if targets == "exact":
        V = batch.next_probs.shape[-1]
        return -(batch.next_probs * logp[..., :V]).sum(-1).mean()
    raise ValueError(f"targets must be one of {TARGETS}; got {targets!r}")


def train(config: TrainConfig | dict, resume: bool = False, *, overwrite: bool = False,
          callback: Any = None) -> TrainResult:
    """Train per ``config``; see the module docstring.

    Parameters
    ----------
    config : TrainConfig or its dict (nested or flat, :meth:`TrainConfig.from_dict`)
    resume : continue from the newest intact checkpoint in ``out_dir`` (``checkpoint.pt``,
        else ``checkpoint.prev.pt``), or start fresh if there is none.  The checkpoint's
        config must equal ``config`` except for run-length/IO fields
        (:data:`nets.checkpoint.RESUMABLE_CHANGES`), and ``steps`` may not be below the
        checkpoint's step.
    overwrite : replace the run that ``out_dir`` holds.  Without it (and without
        ``resume``) a directory holding a run is refused (:class:`nets.rundir.RunExistsError`).
    callback : called as ``callback(step, record)`` after every logged step (``record``
        is the metrics dict); returning True stops training (a checkpoint is saved).  Also
        a :class:`nets.callbacks.Callback` (hooks at start, every logged step and end,
        with the model) or a list of them; ``config.probe_every`` and ``config.log`` add
        the built-in ones (:func:`nets.callbacks.callbacks_for`).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Bad config; :class:`nets.rundir.RunBusyError` (another process trains into
        ``out_dir``: the run holds an exclusive lock), :class:`nets.rundir.RunExistsError`,
        :class:`nets.rundir.CheckpointError` (no intact checkpoint to resume from),
        :class:`nets.rundir.RunMismatchError` (``config.json`` and the checkpoint describe
        different runs), :class:`nets.budget.TrainingTooLargeError` and
        :class:`bayes.ManifoldTooLargeError` (a step or the optimum would not fit in memory;
        raised before anything is allocated or written).
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    info = ddp.setup(cfg.device)
    threads = torch.get_num_threads()
    try:
        if cfg.num_threads is not None:
            torch.set_num_threads(cfg.num_threads)
        with ExitStack() as stack:  # holds the run directory's lock until training ends
            hooks = callbacks_for(cfg, callback)
            stack.callback(hooks.close)
            run = _Run.start(cfg, bool(resume), bool(overwrite), info, stack)
            hooks.on_start(run)
            run.loop(hooks)
            result = run.result()
            hooks.on_end(run, result)
            return result
    finally:
        torch.set_num_threads(threads)
        ddp.teardown(info)


# ---------------------------------------------------------------------- the loop
@dataclass
class _Run:
    """The state of one training run between steps."""

    cfg: TrainConfig
    info: ddp.DistInfo
    data: BeliefData
    model: ActivationModel
    optimizer: torch.optim.Optimizer
    scheduler: Any
    out: Path | None
    step: int = 0
    saved_step: int = -1
    history: list = field(default_factory=list)
    t_start: float = 0.0
    t_data: float = 0.0
    steps_run: int = 0

    @classmethod
    def start(cls, cfg: TrainConfig, resume: bool, overwrite: bool, info: ddp.DistInfo, stack: ExitStack) -> "_Run":
        """Open the run directory (lock, checks), then data, optimum, model, optimizer and
        scheduler, restored from the checkpoint when resuming; the directory is written
        only once all of them succeeded."""
        out = Path(cfg.out_dir) if cfg.out_dir is not None else None
        if (resume or overwrite) and out is None:
            raise ValueError(f"{'resume' if resume else 'overwrite'}=True needs config.out_dir (the run directory)")
        if resume and overwrite:
            raise ValueError("resume=True continues the run in out_dir and overwrite=True replaces it: give one")
        found = _open_run_dir(cfg, out, resume, overwrite, info, stack) if out is not None else None
        data = BeliefData(cfg.generator(), cfg.context, mode=cfg.data_mode, representation=cfg.representation,
                          bos=cfg.bos, seed=cfg.seed, next_probs=cfg.targets == "exact" or cfg.data_mode == "exact",
                          max_beliefs=cfg.max_beliefs, device=data_device(info.device, cfg.batch_size))
        check_training_memory(cfg, sum(data.belief_dims), data.alphabet_size, info.device)
        data.optimum  # its presentation is refused over the belief cap before anything is written
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % (2 ** 32))
        model = build_model(cfg.model_config(data.vocab_size)).to(info.device)
        if cfg.num_threads is None:  # small models: 1 thread (the rule of nets.device.default_threads)
            torch.set_num_threads(default_threads(sum(p.numel() for p in model.parameters()),
                                                  max(1, cfg.batch_size * cfg.context // info.world_size),
                                                  max(1, available_cores() // info.world_size)))
        optimizer = _make_optimizer(cfg, model)
        run = cls(cfg, info, data, model, optimizer, _make_scheduler(cfg, optimizer), out)
        if found is not None:
            run._restore(*found)
        ddp.broadcast_parameters(model, info)
        if out is not None and info.is_main:
            if overwrite:
                rundir.clear_run(out)
            write_jsonl(out / rundir.METRICS, run.history)  # fresh file, or the valid records up to the checkpoint
            write_json(out / rundir.CONFIG, cfg.to_dict())
        return run

    def _restore(self, path: Path, ckpt: dict | None) -> None:
        """Model, optimizer, scheduler, RNG states and metrics from the checkpoint at ``path``
        (``ckpt``: already loaded and checked on the main rank)."""
        if ckpt is None:
            ckpt = load_checkpoint(path, map_location=self.info.device)
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt.get("scheduler") is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            set_rng_state(ckpt["rng"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise rundir.CheckpointError(f"{path} is damaged: its state does not fit the run "
                                         f"({type(e).__name__}: {str(e).strip().splitlines()[0][:160]})") from None
        self.step = self.saved_step = int(ckpt["step"])
        metrics = self.out / rundir.METRICS
        if metrics.exists():
            self.history = read_jsonl(metrics, upto_step=self.step)

    def loop(self, hooks: CallbackList) -> None:
        """Train until ``cfg.steps``, a callback's stop, or ``max_time_s``; checkpoint at the end."""
        cfg, info = self.cfg, self.info
        shard = ddp.shard_bounds(cfg.batch_size, info)
        metrics_fh = open(self.out / "metrics.jsonl", "a") if self.out is not None and info.is_main else None
        bar = _progress(cfg, info, self.step)
        self.t_start = time.perf_counter()
        self.model.train()
        try:
            while self.step < cfg.steps:
                loss_value = self._step(shard)
                stop = False
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    stop = self._log(loss_value, metrics_fh, bar, hooks)
                if bar is not None:
                    bar.update(1)
                if cfg.max_time_s is not None and time.perf_counter() - self.t_start >= cfg.max_time_s:
                    stop = True
                if self.out is not None and ((cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0)
                                             or self.step in cfg.keep_checkpoints):
                    self._save()
                if stop:
                    break
        finally:
            if bar is not None:
                bar.close()
            if metrics_fh is not None:
                metrics_fh.close()
        if self.out is not None and self.saved_step != self.step:
            self._save()

    def _step(self, shard: tuple[int, int]) -> float:
        """One optimizer step on this rank's share of batch ``step``; the mean loss over ranks."""
        cfg, info = self.cfg, self.info
        t0 = time.perf_counter()
        batch = self.data.batch(self.step, cfg.batch_size)
        if info.active:
            batch = batch.slice(*shard)
        batch = batch.to(info.device)
        self.t_data += time.perf_counter() - t0
        autocast = torch.autocast(device_type=info.device.type, dtype=torch.bfloat16) if cfg.bf16 else nullcontext()
        with autocast:
            logits = self.model(batch.tokens)
        loss = loss_fn(logits, batch, cfg.targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = list(self.model.parameters())
        ddp.average_gradients(params, info)
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optimizer.step()
        loss_value = float(ddp.all_reduce_mean(loss.detach(), info))
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"training loss became {loss_value} at step {self.step + 1}; lower lr "
                                     f"(now {self.optimizer.param_groups[0]['lr']:g}) or set grad_clip")
        if self.scheduler is not None:
            self.scheduler.step(loss_value) if cfg.scheduler == "plateau" else self.scheduler.step()
        self.step += 1
        self.steps_run += 1
        return loss_value

    def _log(self, loss_value: float, metrics_fh, bar, hooks: CallbackList) -> bool:
        """Record the step (callbacks, which may add to it, then history, metrics.jsonl and
        progress bar); True if a callback stops."""
        cfg, opt_mean = self.cfg, self.data.optimum_mean
        rec = {"step": self.step, "tokens": self.step * cfg.batch_size * cfg.context, "loss": loss_value,
               "relative": loss_value / opt_mean, "lr": self.optimizer.param_groups[0]["lr"],
               "time_s": round(time.perf_counter() - self.t_start, 4)}
        if cfg.eval_every and self.step % cfg.eval_every == 0 and self.data.mode == "exact":
            val, _ = self.data.validation_loss(self.model)
            rec["val_loss"], rec["val_relative"] = val, val / opt_mean
        stop = bool(hooks.on_log(self, rec))
        self.history.append(rec)
        if metrics_fh is not None:
            metrics_fh.write(json.dumps(rec) + "\n")
            metrics_fh.flush()
        if bar is not None:
            bar.set_postfix(loss=f"{loss_value:.4f}", rel=f"{loss_value / opt_mean:.4f}", refresh=False)
        return stop

    def _save(self) -> None:
        save_checkpoint(self.out, self.cfg, self.model, self.optimizer, self.scheduler, self.step, self.info,
                        keep=self.step in self.cfg.keep_checkpoints)
        self.saved_step = self.step

    def result(self) -> TrainResult:
        """The :class:`TrainResult` (final exact validation loss in exact data mode)."""
        cfg, data = self.cfg, self.data
        total = time.perf_counter() - self.t_start
        self.model.eval()
        opt_mean = data.optimum_mean
        tail = self.history[-max(1, len(self.history) // 10):] if self.history else []
        final = float(np.mean([r["loss"] for r in tail])) if tail else float("nan")
        val = val_rel = None
        if data.mode == "exact":
            val, _ = data.validation_loss(self.model)
            val_rel = val / opt_mean
        n_tokens = self.steps_run * cfg.batch_size * cfg.context
        timing = {"data_s": self.t_data, "total_s": total, "steps": self.steps_run, "threads": torch.get_num_threads(),
                  "data_share": self.t_data / total if total > 0 else float("nan"),
                  "tokens_per_s": n_tokens / total if total > 0 else float("nan")}
        ckpt = str(self.out / rundir.CHECKPOINT) if self.out is not None else None
        return TrainResult(model=self.model, data=data, config=cfg, history=self.history, optimum=data.optimum,
                           steps_done=self.step, final_loss=final, final_relative=final / opt_mean, val_loss=val,
                           val_relative=val_rel, timing=timing, checkpoint=ckpt)


# ---------------------------------------------------------------------- the run directory
def _open_run_dir(cfg: TrainConfig, out: Path, resume: bool, overwrite: bool, info: ddp.DistInfo,
                  stack: ExitStack) -> tuple[Path, dict | None] | None:
    """Lock ``out`` and decide how the run starts (main rank; the others receive the decision).

    Returns ``(checkpoint path, checkpoint or None)`` to resume from, or None for a fresh
    start.  Raises the :mod:`nets.rundir` errors of :func:`train`.
    """
    found, error = None, None
    if info.is_main:
        try:
            stack.enter_context(rundir.run_lock(out))
            rundir.remove_stale(out)
            found = _resume_point(cfg, out, info) if resume else _fresh_start(out, overwrite)
        except (ValueError, OSError) as e:
            error = e
    message = ddp.broadcast_object(None if error is None else f"{error}", info)
    if error is not None:
        raise error
    if message is not None:
        raise rundir.RunDirError(message)
    path = ddp.broadcast_object(None if found is None else str(found[0]), info)
    return found if info.is_main else (None if path is None else (Path(path), None))


def _fresh_start(out: Path, overwrite: bool) -> None:
    if not overwrite and rundir.holds_run(out):
        names = ", ".join(p.name for p in rundir.run_files(out)[:4])
        raise rundir.RunExistsError(f"{out} already holds a run ({names}); continue it with --resume, replace it "
                                    "with --overwrite (API: resume=True / overwrite=True), or choose another --out")
    return None


def _resume_point(cfg: TrainConfig, out: Path, info: ddp.DistInfo) -> tuple[Path, dict] | None:
    """The newest intact checkpoint to resume from (None: nothing to resume, a fresh start)."""
    if not any(p.exists() for p in rundir.candidates(out)):
        if (out / rundir.CONFIG).exists():  # a run killed before its first checkpoint: the same run may restart
            try:
                raw = json.loads((out / rundir.CONFIG).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise rundir.RunDirError(f"{out / rundir.CONFIG} cannot be read ({e}) and there is no checkpoint "
                                         "to resume from; start afresh with --overwrite") from None
            try:
                check_resumable(cfg, raw)
            except ValueError as e:
                raise rundir.RunExistsError(f"{out} holds another run (its {rundir.CONFIG}, no checkpoint yet): "
                                            f"{e}; replace it with --overwrite") from None
            rundir.warn(f"{out} has no checkpoint yet (its run stopped before the first one, or `qbelief sweep "
                        "--prepare` wrote its config): restarting it from step 0")
        return None
    ckpt, path, _ = open_run(out, map_location=info.device)
    check_resumable(cfg, ckpt["config"])
    if cfg.steps < ckpt["step"]:
        raise rundir.RunDirError(f"cannot resume {out} to steps={cfg.steps}: it is already at step {ckpt['step']}; "
                                 f"ask for steps >= {ckpt['step']} (command line: --steps)")
    latest = out / rundir.CHECKPOINT
    if path != latest and latest.exists():  # damaged: out of the rotation, kept for inspection
        rundir.quarantine(latest)
    return path, ckpt


# ---------------------------------------------------------------------- helpers
def _make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """SGD, Adam or AdamW; ``weight_decay=None`` keeps the optimizer's own default."""
    wd = {} if cfg.weight_decay is None else {"weight_decay": cfg.weight_decay}
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, **wd)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, **wd)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, **wd)


def _make_scheduler(cfg: TrainConfig, optimizer):
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg.plateau_factor,
                                                          patience=cfg.plateau_patience)
    if cfg.scheduler == "constant" and not cfg.warmup_steps:
        return None
    warm, total, cosine = cfg.warmup_steps, cfg.steps, cfg.scheduler == "cosine"

    def factor(s: int) -> float:  # multiplier of lr after s scheduler steps
        f = min(1.0, (s + 1) / warm) if warm else 1.0
        if cosine:
            f *= 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total))
        return f

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _progress(cfg: TrainConfig, info: ddp.DistInfo, initial: int):
    if cfg.quiet or not info.is_main or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=initial, desc=f"train {cfg.model.kind} ({torch.get_num_threads()} threads)",
                unit="step", mininterval=0.5)


# ---------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m nets.train config.json [--resume]`` (also under torchrun)."""
    ap = argparse.ArgumentParser(prog="python -m nets.train", description="train a net on a process (JSON config)")
    ap.add_argument("config", help="JSON file with TrainConfig fields (nested or flat)")
    ap.add_argument("--resume", action="store_true", help="continue from out_dir's newest intact checkpoint")
    ap.add_argument("--overwrite", action="store_true", help="replace the run that out_dir holds")
    args = ap.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as fh:
            cfg = TrainConfig.from_dict(json.load(fh))
        res = train(cfg, resume=args.resume, overwrite=args.overwrite)
    except (ValueError, OSError) as e:  # one line, which nets.distributed.launch reports
        print(f"qbelief: error: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"steps": res.steps_done, "final_loss": res.final_loss,
                          "final_relative": res.final_relative, "val_loss": res.val_loss}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
