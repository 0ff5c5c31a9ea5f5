"""Devices: the one place :mod:`nets` names a device (:func:`check_device`,
:func:`resolve_device`), finds where a module's tensors live (:func:`module_device`), and
chooses how many CPU threads training uses (:func:`default_threads`) and where its batches
are made (:func:`data_device`)."""

from __future__ import annotations

import os
from typing import Any

import torch

__all__ = ["check_device", "resolve_device", "module_device", "default_threads", "available_cores",
           "WORK_PER_THREAD", "data_device", "DEVICE_DATA_MIN_BATCH"]

#: parameters x tokens per step that one more CPU thread needs before it pays (2^30)
WORK_PER_THREAD = 1 << 30
#: smallest batch whose training data is sampled on an accelerator (see data_device)
DEVICE_DATA_MIN_BATCH = 2048


def check_device(spec: "str | torch.device") -> str:
    """``spec`` as a device name if it is ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
    (a :class:`torch.device` is named as such); ``ValueError`` otherwise.  Checks the name
    only, not whether the device exists (see :func:`resolve_device`)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str) or not (spec in ("auto", "cpu", "cuda") or
                                         (spec.startswith("cuda:") and spec[5:].isdigit())):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {spec!r}")
    return spec


def resolve_device(spec: "str | torch.device" = "auto", *, local_rank: int | None = None) -> torch.device:
    """The torch device named by ``spec``: the one place qbelief turns a device name into a device.

    ``"auto"`` is CUDA when available, else the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    or a :class:`torch.device` as given.  ``"cuda"`` becomes ``cuda:local_rank`` when a
    data-parallel rank's ``local_rank`` is given.  Raises ``ValueError`` for any other
    name, or for CUDA when it is not available.
    """
    spec = check_device(spec)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} requested but CUDA is not available; use device='cpu'")
    if spec == "cuda" and local_rank is not None:
        spec = f"cuda:{int(local_rank)}"
    return torch.device(spec)


def module_device(module: Any) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); CPU for a module without
    either, or for an object that is not a module.

    >>> module_device(torch.nn.Linear(2, 2))
    device(type='cpu')
    """
    for get in ("parameters", "buffers"):
        fn = getattr(module, get, None)
        if callable(fn):
            for t in fn():
                return t.device
    return torch.device("cpu")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else
    ``os.cpu_count()``; at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_threads(n_params: int, batch_tokens: int, cores: int | None = None) -> int:
    """Torch CPU threads for training ``n_params`` parameters on ``batch_tokens`` tokens
    per step (batch size x context; the share of one data-parallel rank).

    Rule: ``clip(floor(n_params * batch_tokens / WORK_PER_THREAD), 1, cores)`` with
    ``WORK_PER_THREAD = 2^30``.

    A step costs about ``6 n_params batch_tokens`` flops (forward ``2 P T``, backward
    ``4 P T``), so a thread is added per ~6.4 GFLOP of work per step (0.1 s or more on one
    core).  Below that the step is hundreds of small operators, and intra-op threads
    cost more than they save: each operator ends at a barrier (microseconds), and a
    thread whose core is busy with another process stalls every barrier for a scheduler
    time slice.  Measured: ``qbelief train mess3`` (141k parameters x 640 tokens = 9e7,
    rule: 1 thread) with torch's default of one thread per core ran 13x slower than with
    one thread on a 2-core machine with one other busy process (benchmarks/bench_nets.py
    shows the effect on the machine at hand).

    Parameters
    ----------
    n_params, batch_tokens : int >= 1
    cores : int >= 1, optional
        Cores to share out (default :func:`available_cores`).

    Returns
    -------
    int, between 1 and ``cores``

    Examples
    --------
    >>> default_threads(141_000, 64 * 10, cores=16)  # the Shai et al. 2024 Mess3 transformer
    1
    >>> default_threads(2_000_000, 2_048, cores=8)  # 4.1e9 / 2^30 = 3.8
    3
    >>> default_threads(10_000_000, 256 * 512, cores=16)  # 1.3e12: every core
    16
    """
    for name, v in (("n_params", n_params), ("batch_tokens", batch_tokens)) + \
            ((("cores", cores),) if cores is not None else ()):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    cores = available_cores() if cores is None else cores
    return int(min(cores, max(1, n_params * batch_tokens // WORK_PER_THREAD)))


def data_device(train_device: "str | torch.device", batch_size: int) -> "torch.device | None":
    """Where training batches are made (:class:`nets.data.BeliefData`'s ``device``): the
    training device when it is an accelerator and the batch has at least
    :data:`DEVICE_DATA_MIN_BATCH` rows; None (the host's numpy kernels, then one copy)
    otherwise.

    Rule of thumb behind the threshold (an estimate from CPU measurements, not a GPU
    measurement): the device sampler launches about 15 kernels per position and factor
    stack, ~10 us each in eager PyTorch whatever the batch; the host sampler costs about
    70 ns per symbol and factor (benchmarks/bench_nets.py, 25,000 x 10 symbols of 5
    factors in ~90 ms).  With ``K`` factors in ``S`` stacks the two break even near
    ``B = 150 us S / (70 ns K)``, about 2,000 rows for the 3 Mess3 x 2 Bloch walk product
    (and below it for a single process).

    >>> data_device("cpu", 25_000) is None, data_device("cuda", 64) is None
    (True, True)
    >>> data_device("cuda:1", 25_000)
    device(type='cuda', index=1)
    """
    device = torch.device(train_device)
    return device if device.type != "cpu" and int(batch_size) >= DEVICE_DATA_MIN_BATCH else None
