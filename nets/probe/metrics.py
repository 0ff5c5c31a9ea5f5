"""Held-out fit metrics of a probe, and the seeded train/test split.

All metrics are weighted by the normalized held-out weights ``p``; ``ybar = sum p_i y_i``:

- ``mse  = sum_i p_i mean_j (y_ij - yhat_ij)^2``  (mean over the k coordinates, as in
  Shai et al. 2024, arXiv:2405.15943: "MSE averaged over sequences x positions x
  coordinates")
- ``rmse = sqrt(mse)``  (units of belief coordinates; the Euclidean RMS error is
  ``sqrt(k) * rmse``)
- ``r2_per_coordinate[j] = 1 - sum_i p_i (y_ij - yhat_ij)^2 / sum_i p_i (y_ij - ybar_j)^2``
- ``r2 = 1 - sum_ij p_i (y_ij - yhat_ij)^2 / sum_ij p_i (y_ij - ybar_j)^2``  (pooled: the
  fraction of the total belief variance explained)
- ``cos_r2`` -- our reading of Riechers et al. 2025 (arXiv:2507.07432)'s
  "cosine-similarity R^2": the squared cosine similarity between the centered prediction
  and the centered truth, flattened over rows and coordinates, with row weights ``p``::

      cos_r2 = <yhat - ybar, y - ybar>_p^2 / (|yhat - ybar|_p^2 |y - ybar|_p^2),
      <a, b>_p = sum_ij p_i a_ij b_ij

  It equals ``r2`` for an in-sample least-squares fit and ignores an overall rescaling of
  the prediction; held out it is the squared weighted correlation of prediction and truth.

Example: predicting the weighted mean explains nothing.

>>> Y = np.array([[0.0], [2.0]])
>>> m = probe_metrics(Y, np.ones((2, 1)))
>>> m["r2"], m["mse"], m["rmse"]
(0.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arrays import check_xyw

__all__ = ["probe_metrics", "train_test_split"]


def probe_metrics(Y: Any, Y_hat: Any, weights: Any = None) -> dict[str, Any]:
    """Weighted fit metrics of predictions ``Y_hat`` against targets ``Y`` (module doc).

    Parameters
    ----------
    Y, Y_hat : array_like, shape (N, k)
    weights : array_like, shape (N,), optional

    Returns
    -------
    dict with ``mse``, ``rmse``, ``r2``, ``cos_r2`` (floats), ``r2_per_coordinate`` and
    ``rmse_per_coordinate`` (lists of k floats).  A coordinate with zero variance has
    ``r2_per_coordinate`` NaN (it is excluded from nothing else).  Cost ``O(N k)``.
    """
    Y_hat, Y, p = check_xyw(Y_hat, Y, weights, names=("Y_hat", "Y"))
    if Y.shape != Y_hat.shape:
        raise ValueError(f"Y and Y_hat must have the same shape; got {Y.shape} and {Y_hat.shape}")
    err = Y - Y_hat
    sse_j = p @ err ** 2
    ybar = p @ Y
    dev = Y - ybar
    sst_j = p @ dev ** 2
    mse = float(sse_j.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_j = np.where(sst_j > 0, 1.0 - sse_j / np.where(sst_j > 0, sst_j, 1.0), np.nan)
    sst = float(sst_j.sum())
    r2 = 1.0 - float(sse_j.sum()) / sst if sst > 0 else float("nan")
    hdev = Y_hat - ybar
    num = float(np.sum(p[:, None] * hdev * dev))
    den = float(np.sum(p[:, None] * hdev ** 2)) * sst
    cos_r2 = num * num / den if den > 0 else 0.0
    return {"mse": mse, "rmse": math.sqrt(mse), "r2": r2, "cos_r2": cos_r2,
            "r2_per_coordinate": [float(v) for v in r2_j], "rmse_per_coordinate": [float(v) for v in np.sqrt(sse_j)]}


def train_test_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of a seeded random split, each sorted: the test rows
    are the first ``round(n * test_fraction)`` of ``default_rng(seed).permutation(n)``.

    >>> train_test_split(5, 0.4, seed=0)[1].size
    2
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction!r}")
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 2:
        raise ValueError(f"cannot split {n} rows with test_fraction={test_fraction}: too few rows")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
