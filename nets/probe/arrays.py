"""Checks of the probe's array inputs (rows x features, row weights, named points)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.validation import check_real_array

__all__ = ["CONCAT", "as_2d", "check_weights", "check_xyw", "check_activations"]

#: name of the probe point made of all per-layer activations concatenated
CONCAT = "concat"


def as_2d(a: Any, name: str) -> np.ndarray:
    """A finite float64 array ``(N, k)`` (a vector ``(N,)`` becomes ``(N, 1)``)."""
    a = check_real_array(a, name)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (N, k); got {a.shape}")
    return a


def check_weights(weights: Any, N: int) -> np.ndarray:
    """Row weights normalized to sum 1 (uniform when None)."""
    if weights is None:
        if N == 0:
            raise ValueError("no rows to fit")
        return np.full(N, 1.0 / N)
    w = check_real_array(weights, "weights")
    if w.shape != (N,):
        raise ValueError(f"weights must have shape ({N},) (one per row); got {w.shape}")
    if np.any(w < 0):
        i = int(np.argmin(w))
        raise ValueError(f"weights must be nonnegative; weight[{i}] = {w[i]:.3g}")
    s = w.sum()
    if s <= 0:
        raise ValueError("weights sum to zero; at least one row needs positive weight")
    return w / s


def check_xyw(X: Any, Y: Any, weights: Any, names: tuple[str, str] = ("X", "Y")):
    """``(X (N, d), Y (N, k), p (N,))`` with the same rows, ``p`` normalized."""
    X = as_2d(X, names[0])
    Y = as_2d(Y, names[1])
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}")
    return X, Y, check_weights(weights, X.shape[0])


def check_activations(acts: Any, what: str) -> dict[str, np.ndarray]:
    """Named activations ``name -> (N, d_name)`` with one row per input (an array is
    ``{"activations": array}``); the name :data:`CONCAT` is reserved."""
    if not isinstance(acts, Mapping):
        acts = {"activations": acts}
    if not acts:
        raise ValueError(f"{what}: no activation points given")
    out, N = {}, None
    for n, a in acts.items():
        if n == CONCAT:
            raise ValueError(f"{CONCAT!r} is reserved for the concatenated point; rename that activation")
        a = as_2d(a, f"{what}[{n!r}]")
        if N is None:
            N = a.shape[0]
        elif a.shape[0] != N:
            raise ValueError(f"{what}[{n!r}] has {a.shape[0]} rows but the first point has {N}; all need one row per input")
        out[str(n)] = a
    return out
