"""Data-parallel helpers over ``torch.distributed`` (gloo on CPU, nccl on GPU).

Every rank builds the same global batch (batches are a pure function of ``(seed, step)``,
see :meth:`nets.data.BeliefData.batch`) and trains on its contiguous slice
``[rank * B / W, (rank + 1) * B / W)``; gradients and the logged loss are averaged over
ranks.  With equal slices the averaged gradient is the gradient of the global-batch mean
loss, so a ``W``-process run follows the single-process loss curve up to float rounding.

Launch with torchrun (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``)::

    torchrun --standalone --nproc_per_node 2 -m nets.train config.json

or from Python with :func:`launch`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from generators.fileio import write_json
from generators.validation import check_int

from .device import resolve_device

__all__ = ["DistInfo", "setup", "shard_bounds", "average_gradients", "all_reduce_mean", "broadcast_parameters",
           "broadcast_object", "barrier", "teardown", "launch", "LaunchError", "failure_cause"]


class LaunchError(RuntimeError):
    """A torchrun launch that failed; the message gives the cause in one line, ``output``
    holds what the ranks printed."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, ``local_rank`` on its node,
    the torch ``device`` it trains on, and whether :func:`setup` initialized the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistInfo:
    """Join the process group described by torchrun's environment, if any.

    ``device``: see :func:`resolve_device`.  Under torchrun with CUDA each rank takes
    ``cuda:LOCAL_RANK``.  The backend is nccl for CUDA and gloo for CPU.  Without torchrun
    (``WORLD_SIZE`` unset or 1) nothing is initialized.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank=local if world > 1 else None)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = False
    if world > 1:
        if dist.is_initialized():
            rank, world = dist.get_rank(), dist.get_world_size()
        else:
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
            owns = True
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev, owns_group=owns)


def shard_bounds(global_batch: int, info: DistInfo) -> tuple[int, int]:
    """Rows ``[start, stop)`` of the global batch that rank ``info.rank`` trains on."""
    W = info.world_size
    if global_batch % W:
        raise ValueError(f"batch_size={global_batch} must be divisible by the number of processes ({W})")
    per = global_batch // W
    return info.rank * per, (info.rank + 1) * per


def average_gradients(params, info: DistInfo) -> None:
    """All-reduce the gradients of ``params`` to their mean over ranks (one flat buffer)."""
    if not info.active:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def all_reduce_mean(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of ``x`` over ranks (a new tensor; ``x`` itself on a single process)."""
    if not info.active:
        return x
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y / info.world_size


def broadcast_parameters(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.active:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` (a small picklable value) on every rank; ``obj`` itself on one process."""
    if not info.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.active:
        dist.barrier()


def teardown(info: DistInfo) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def launch(config: Any, nprocs: int = 2, *, resume: bool = False, overwrite: bool = False,
           timeout: float | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``train(config, resume, overwrite=overwrite)`` on ``nprocs`` local processes through torchrun.

    ``config`` is a :class:`nets.train.TrainConfig` or its dict (it must have an
    ``out_dir``: results are read back from there).  Returns the completed torchrun
    process.  Raises ``ValueError`` before launching when the batch does not split into
    ``nprocs`` equal slices, and :class:`LaunchError` (a ``RuntimeError``) whose message is
    the failure's cause in one line (the ranks' ``qbelief: error:`` line or the last
    exception line) and whose ``output`` is everything they printed.
    """
    from .train import TrainConfig

    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    if cfg.out_dir is None:
        raise ValueError("launch needs config.out_dir (the ranks write metrics and checkpoints there)")
    nprocs = check_int(nprocs, "nprocs", minimum=1)
    if cfg.batch_size % nprocs:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the number of processes ({nprocs}): "
                         "each trains on an equal slice of the batch")
    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix=".train_config_", dir=cfg.out_dir) as tmp:
        path = write_json(Path(tmp) / "config.json", cfg.to_dict())
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nprocs}",
               "-m", "nets.train", str(path)] + (["--resume"] if resume else []) + (["--overwrite"] if overwrite else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if proc.returncode != 0:
        output = f"{proc.stdout}\n{proc.stderr}"
        raise LaunchError(f"training with {nprocs} processes (torchrun) failed: {failure_cause(output)}", output)
    return proc


def failure_cause(output: str) -> str:
    """The cause of a failed launch in one line: the last ``qbelief: error:`` line of the
    ranks, else the last Python exception line, else the last line (torchrun's own)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "qbelief: error:" in ln:
            return ln.split("qbelief: error:", 1)[1].strip()
    exc = re.compile(r"^(\[[^\]]*\]:?\s*)?([A-Za-z_][\w.]*(Error|Exception|Interrupt)):\s*(.*)$")
    for ln in reversed(lines):
        m = exc.match(ln)
        if m and not m.group(2).endswith("ChildFailedError"):  # torchrun's own summary names no cause
            return f"{m.group(2)}: {m.group(4)}".strip()
    codes = re.findall(r"exitcode\s*:\s*(-?\d+)", output)
    return (f"a process exited with code {codes[-1]} without saying why" if codes else
            lines[-1] if lines else "no output (killed?)")
