"""Devices: the one place :mod:`nets` names a device (:func:`check_device`,
:func:`resolve_device`) and finds where a module's tensors live (:func:`module_device`)."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["check_device", "resolve_device", "module_device"]


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
