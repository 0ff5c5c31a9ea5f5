"""Where a module's tensors live: the one device lookup of :mod:`nets`."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["module_device"]


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
