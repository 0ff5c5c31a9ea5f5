"""Train a transformer or an RNN on a generator's process: one config, one function.

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

The loss is reported beside the Bayes-optimal loss of the same positions
(``bayes.myopic_entropy`` in nats): ``relative = loss / optimum``, 1.0 is optimal.

Outputs in ``out_dir`` (if given): ``metrics.jsonl`` (one JSON object per logged step),
``checkpoint.pt`` (every ``checkpoint_every`` steps and at the end, written atomically:
weights, config, optimizer, scheduler, RNG states; loads with
``torch.load(path, weights_only=True)``).  ``train(config, resume=True)`` continues from
the checkpoint and reproduces the uninterrupted run exactly (batches are a pure function
of ``(seed, step)``).  Under torchrun each rank trains on its slice of the same global
batch (:mod:`nets.distributed`)::

    torchrun --standalone --nproc_per_node 2 -m nets.train config.json [--resume]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from generators.fileio import atomic_path, write_json, write_text

from . import distributed as ddp
from .data import MODES, REPRESENTATIONS, TARGETS, BeliefData, resolve_process
from .models import MODEL_KINDS, ActivationModel, ModelConfig, build_model

__all__ = ["TrainConfig", "TrainResult", "train", "load_checkpoint", "load_model", "loss_fn",
           "OPTIMIZERS", "SCHEDULERS", "CHECKPOINT_FORMAT"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("constant", "cosine", "plateau")
CHECKPOINT_FORMAT = "qbelief.nets.checkpoint/1"
#: fields that may differ between a checkpoint's config and the config resuming it
_RESUMABLE_CHANGES = {"steps", "checkpoint_every", "out_dir", "device", "quiet", "eval_every", "log_every",
                      "max_time_s", "num_threads"}


@dataclass
class TrainConfig:
    """Everything a training run depends on (JSON-able via :meth:`to_dict`).

    Process and data
        process : library spec (``"mess3:x=0.05,a=0.85"``), a Generator, or a GHMM dict
        representation : "minimal" | "native" (belief labels; see :mod:`nets.data`)
        context : model positions L;  bos : prepend a BOS token
        data_mode : "stream" | "exact";  targets : "sampled" | "exact"
    Model (see :class:`nets.models.ModelConfig`)
        model : "transformer" | "rnn" | "gru" | "lstm"
        n_layers, d_model, n_heads, d_head, d_mlp, act ; hidden, rnn_input, d_embed
    Optimization
        optimizer : "sgd" | "adam" | "adamw";  lr, weight_decay, momentum (SGD),
        betas (Adam), grad_clip (max global norm or None), batch_size (global), steps
        scheduler : "constant" | "cosine" (to 0 over ``steps``) | "plateau"
        (``ReduceLROnPlateau`` on the per-step training loss: ``plateau_factor``,
        ``plateau_patience`` in steps);  warmup_steps : linear warm-up from lr/warmup_steps
        (constant and cosine)
    Run
        seed, device ("auto" | "cpu" | "cuda[:N]"), bf16 (autocast), out_dir,
        checkpoint_every (steps; 0 = only at the end), log_every, eval_every (exact
        validation loss every N steps; exact mode), max_time_s (stop early, saving a
        checkpoint), num_threads (torch CPU threads during the run; None leaves torch's
        setting — on a small shared CPU, 1 thread is often fastest for small models),
        quiet (no progress bar)
    """

    process: Any = "mess3"
    representation: str = "minimal"
    context: int = 10
    bos: bool = False
    data_mode: str = "stream"
    targets: str = "sampled"
    model: str = "transformer"
    n_layers: int = 4
    d_model: int = 64
    n_heads: int = 1
    d_head: int | None = None
    d_mlp: int = 256
    act: str = "relu"
    hidden: int = 64
    rnn_input: str = "onehot"
    d_embed: int | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    betas: tuple = (0.9, 0.999)
    grad_clip: float | None = None
    batch_size: int = 256
    steps: int = 1000
    scheduler: str = "constant"
    warmup_steps: int = 0
    plateau_factor: float = 0.5
    plateau_patience: int = 1000
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    out_dir: str | None = None
    checkpoint_every: int = 0
    log_every: int = 1
    eval_every: int = 0
    max_time_s: float | None = None
    num_threads: int | None = None
    quiet: bool = False

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        _choice("representation", self.representation, REPRESENTATIONS)
        _choice("data_mode", self.data_mode, MODES)
        _choice("targets", self.targets, TARGETS)
        _choice("model", self.model, MODEL_KINDS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("scheduler", self.scheduler, SCHEDULERS)
        for name in ("context", "batch_size", "steps", "log_every", "plateau_patience"):
            _int(name, getattr(self, name), 1)
        for name in ("seed", "checkpoint_every", "eval_every", "warmup_steps"):
            _int(name, getattr(self, name), 0)
        for name in ("lr", "weight_decay", "momentum", "plateau_factor"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite nonnegative number; got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive; got {self.lr!r}")
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"plateau_factor must be in (0, 1); got {self.plateau_factor!r}")
        if self.warmup_steps and self.scheduler == "plateau":
            raise ValueError("warmup_steps works with scheduler 'constant' or 'cosine', not 'plateau'")
        if self.grad_clip is not None and not (self.grad_clip > 0):
            raise ValueError(f"grad_clip must be positive or None; got {self.grad_clip!r}")
        if self.max_time_s is not None and not (self.max_time_s > 0):
            raise ValueError(f"max_time_s must be positive or None; got {self.max_time_s!r}")
        if self.num_threads is not None:
            _int("num_threads", self.num_threads, 1)
        if self.out_dir is not None:
            self.out_dir = str(self.out_dir)
        self.model_config(vocab_size=2)  # validate architecture fields early

    # ------------------------------------------------------------------ conversions
    def model_config(self, vocab_size: int | None = None) -> ModelConfig:
        """The :class:`ModelConfig` (vocabulary from the process unless given)."""
        if vocab_size is None:
            vocab_size = resolve_process(self.process).alphabet_size + int(self.bos)
        return ModelConfig(kind=self.model, vocab_size=int(vocab_size), n_ctx=self.context, n_layers=self.n_layers,
                           d_model=self.d_model, n_heads=self.n_heads, d_head=self.d_head, d_mlp=self.d_mlp,
                           act=self.act, hidden=self.hidden, rnn_input=self.rnn_input, d_embed=self.d_embed)

    def to_dict(self) -> dict:
        """Plain JSON-able dict; a Generator process becomes its GHMM dict."""
        d = asdict(self) if not _is_generator(self.process) else {
            f.name: getattr(self, f.name) for f in fields(self)}
        d["betas"] = list(self.betas)
        if _is_generator(self.process):
            h = self.process.to_ghmm()
            d["process"] = {"operators": h.operators.tolist(), "tau": h.tau.tolist(),
                            "initial": h.initial.tolist(), "name": self.process.name}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"unknown TrainConfig field(s) {bad}; valid: {sorted(known)}")
        return cls(**d)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    model : the trained model (on its device, unwrapped);  data : its :class:`BeliefData`
    config : the :class:`TrainConfig`;  history : list of metric dicts (as in metrics.jsonl)
    optimum : Bayes-optimal loss per position (L,), nats;  steps_done : steps completed
    final_loss / final_relative : mean training loss (nats) / loss over optimum over the last
    up to 10% of logged steps;  val_loss / val_relative : exact validation loss at the end
    (exact data mode) or None;  timing : seconds in data, in whole steps, and tokens/s
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


def train(config: TrainConfig | dict, resume: bool = False, *,
          callback: Callable[[int, dict], Any] | None = None) -> TrainResult:
    """Train per ``config``; see the module docstring.

    Parameters
    ----------
    config : TrainConfig or its dict
    resume : continue from ``out_dir/checkpoint.pt`` if it exists (else start fresh).
        The checkpoint's config must equal ``config`` except for run-length/IO fields
        (steps, checkpoint_every, out_dir, device, quiet, eval_every, log_every,
        max_time_s).
    callback : called as ``callback(step, record)`` after every logged step (``record``
        is the metrics dict); returning True stops training (a checkpoint is saved).

    Returns
    -------
    TrainResult
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    info = ddp.setup(cfg.device)
    threads = torch.get_num_threads()
    try:
        if cfg.num_threads is not None:
            torch.set_num_threads(cfg.num_threads)
        return _train(cfg, resume, callback, info)
    finally:
        torch.set_num_threads(threads)
        ddp.teardown(info)


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
    """The model stored in a checkpoint (eval mode) and its :class:`TrainConfig`."""
    ckpt = load_checkpoint(path, map_location)
    model = build_model(ModelConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(map_location).eval(), TrainConfig.from_dict(ckpt["config"])


# ---------------------------------------------------------------------- the loop
def _train(cfg: TrainConfig, resume: bool, callback, info: ddp.DistInfo) -> TrainResult:
    device = info.device
    data = BeliefData(cfg.process, cfg.context, mode=cfg.data_mode, representation=cfg.representation,
                      bos=cfg.bos, seed=cfg.seed)
    start, stop = ddp.shard_bounds(cfg.batch_size, info)
    optimum = data.optimum
    opt_mean = float(np.mean(optimum))
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % (2 ** 32))
    model = build_model(cfg.model_config(data.vocab_size)).to(device)
    optimizer = _make_optimizer(cfg, model)
    scheduler = _make_scheduler(cfg, optimizer)
    out = Path(cfg.out_dir) if cfg.out_dir is not None else None
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    metrics_path = out / "metrics.jsonl" if out is not None else None
    history: list[dict] = []
    step0 = 0
    if resume and ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        _check_resumable(cfg, ckpt["config"])
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        _set_rng(ckpt["rng"])
        step0 = int(ckpt["step"])
        if metrics_path is not None and metrics_path.exists():
            history = [r for r in _read_jsonl(metrics_path) if r["step"] <= step0]
    elif resume and ckpt_path is None:
        raise ValueError("resume=True needs config.out_dir (where the checkpoint lives)")
    ddp.broadcast_parameters(model, info)
    if out is not None and info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_jsonl(metrics_path, history)  # fresh file, or truncated to the checkpoint
        write_json(out / "config.json", cfg.to_dict())
    metrics_fh = open(metrics_path, "a") if metrics_path is not None and info.is_main else None

    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if cfg.bf16 else nullcontext())
    bar = _progress(cfg, info, step0)
    params = [p for p in model.parameters()]
    t_start = time.perf_counter()
    t_data = 0.0
    steps_run = 0
    last_ckpt = None
    saved_step = step0 if resume and step0 else -1
    step = step0
    model.train()
    try:
        while step < cfg.steps:
            t0 = time.perf_counter()
            batch = data.batch(step, cfg.batch_size)
            if info.active:
                batch = batch.slice(start, stop)
            batch = batch.to(device)
            t_data += time.perf_counter() - t0
            with autocast:
                logits = model(batch.tokens)
            loss = loss_fn(logits, batch, cfg.targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            ddp.average_gradients(params, info)
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            loss_value = float(ddp.all_reduce_mean(loss.detach(), info))
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training loss became {loss_value} at step {step + 1}; lower lr "
                                         f"(now {optimizer.param_groups[0]['lr']:g}) or set grad_clip")
            if scheduler is not None:
                if cfg.scheduler == "plateau":
                    scheduler.step(loss_value)
                else:
                    scheduler.step()
            step += 1
            steps_run += 1
            stop_now = False
            if step % cfg.log_every == 0 or step == cfg.steps:
                rec = {"step": step, "tokens": step * cfg.batch_size * cfg.context, "loss": loss_value,
                       "relative": loss_value / opt_mean, "lr": optimizer.param_groups[0]["lr"],
                       "time_s": round(time.perf_counter() - t_start, 4)}
                if cfg.eval_every and step % cfg.eval_every == 0 and data.mode == "exact":
                    val, _ = data.validation_loss(model)
                    rec["val_loss"], rec["val_relative"] = val, val / opt_mean
                history.append(rec)
                if metrics_fh is not None:
                    metrics_fh.write(json.dumps(rec) + "\n")
                    metrics_fh.flush()
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_value:.4f}", rel=f"{loss_value / opt_mean:.4f}", refresh=False)
                if callback is not None and callback(step, rec):
                    stop_now = True
            if bar is not None:
                bar.update(1)
            if cfg.max_time_s is not None and time.perf_counter() - t_start >= cfg.max_time_s:
                stop_now = True
            if ckpt_path is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                last_ckpt = _save(ckpt_path, cfg, model, optimizer, scheduler, step, info)
                saved_step = step
            if stop_now:
                break
    finally:
        if bar is not None:
            bar.close()
        if metrics_fh is not None:
            metrics_fh.close()
    if ckpt_path is not None:
        if saved_step != step:
            _save(ckpt_path, cfg, model, optimizer, scheduler, step, info)
        last_ckpt = ckpt_path
    total = time.perf_counter() - t_start
    model.eval()
    tail = history[-max(1, len(history) // 10):] if history else []
    final = float(np.mean([r["loss"] for r in tail])) if tail else float("nan")
    val = val_rel = None
    if data.mode == "exact":
        val, _ = data.validation_loss(model)
        val_rel = val / opt_mean
    timing = {"data_s": t_data, "total_s": total, "steps": steps_run,
              "data_share": t_data / total if total > 0 else float("nan"),
              "tokens_per_s": steps_run * cfg.batch_size * cfg.context / total if total > 0 else float("nan")}
    return TrainResult(model=model, data=data, config=cfg, history=history, optimum=optimum, steps_done=step,
                       final_loss=final, final_relative=final / opt_mean, val_loss=val, val_relative=val_rel,
                       timing=timing, checkpoint=str(last_ckpt) if last_ckpt else None)


# ---------------------------------------------------------------------- helpers
def _make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


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


def _save(path: Path, cfg, model, optimizer, scheduler, step: int, info: ddp.DistInfo) -> Path:
    """Write the checkpoint atomically (temporary file in the same folder, then rename)."""
    if info.is_main:
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "step": int(step),
            "config": cfg.to_dict(),
            "model_config": model.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": _get_rng(),
        }
        with atomic_path(path) as tmp:
            torch.save(ckpt, tmp)
    ddp.barrier(info)
    return path


def _get_rng() -> dict:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _check_resumable(cfg: TrainConfig, stored: dict) -> None:
    now = json.loads(json.dumps(cfg.to_dict()))
    stored = json.loads(json.dumps(stored))
    diff = sorted(k for k in set(now) | set(stored) if k not in _RESUMABLE_CHANGES and now.get(k) != stored.get(k))
    if diff:
        k = diff[0]
        raise ValueError(f"cannot resume: the checkpoint was trained with {k}={stored.get(k)!r} but the config has "
                         f"{k}={now.get(k)!r} (differing fields: {diff}); only {sorted(_RESUMABLE_CHANGES)} may change")


def _progress(cfg: TrainConfig, info: ddp.DistInfo, initial: int):
    if cfg.quiet or not info.is_main or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.steps, initial=initial, desc=f"train {cfg.model}", unit="step", mininterval=0.5)


def _read_jsonl(path: Path) -> list[dict]:
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


def _write_jsonl(path: Path, records: list[dict]) -> None:
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def _is_generator(x) -> bool:
    from generators import Generator

    return isinstance(x, Generator)


def _choice(name: str, v: Any, valid: tuple) -> None:
    if v not in valid:
        raise ValueError(f"{name} must be one of {valid}; got {v!r}")


def _int(name: str, v: Any, lo: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}")


# ---------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m nets.train config.json [--resume]`` (also under torchrun)."""
    ap = argparse.ArgumentParser(prog="python -m nets.train", description="train a net on a process (JSON config)")
    ap.add_argument("config", help="JSON file with TrainConfig fields")
    ap.add_argument("--resume", action="store_true", help="continue from out_dir/checkpoint.pt")
    args = ap.parse_args(argv)
    with open(args.config) as fh:
        cfg = TrainConfig.from_dict(json.load(fh))
    res = train(cfg, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"steps": res.steps_done, "final_loss": res.final_loss,
                          "final_relative": res.final_relative, "val_loss": res.val_loss}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
