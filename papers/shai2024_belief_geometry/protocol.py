"""The paper's own analysis, as the authors computed it (epsilon-transformers, branch
``neurips-submission``: ``examples/Figure6.ipynb`` for Mess3, ``examples/Figure7.ipynb``
for RRXOR), and the controls it needs.

- :func:`ols_in_sample` -- ordinary (optionally row-weighted) affine least squares fitted
  and evaluated on the same rows (minimum-norm ``lstsq`` solution, as scikit-learn's
  ``LinearRegression``).  Mess3 (Figure 6): all 3^10 inputs at all 10 positions, every
  (input, position) pair once -- a distinct prefix shared by ``c`` inputs is one row of
  weight ``c`` -- and the MSE averaged over rows x coordinates.  RRXOR (Figure 7): the
  1046 distinct prefixes of the 436 allowed 10-symbol inputs, each once, from the
  concatenation of all 12 residual hooks (``blocks.i.hook_resid_pre/mid/post``; 1536
  columns at d_model 128: more columns than rows, so the fit can interpolate).
- :func:`pairwise_distance_r2` -- the R^2 of a linear fit of the pairwise Euclidean
  distances of one embedding on those of another, over *all* pairs of rows (the squared
  Pearson correlation of the two distance lists).
- :func:`shuffled_copies` -- the paper's shuffled-belief control (Figure 6): the beliefs of
  all (input, position) pairs permuted at random, on our distinct-prefix rows;
  :func:`shuffle_rows` -- ours: a permutation of the distinct rows within each prefix
  length (every row keeps its weight, the link between an input and its belief is broken).
- :func:`collapse` -- how far a prediction has collapsed to its centre.

Costs: :func:`ols_in_sample` ``O(N d min(N, d))``; :func:`pairwise_distance_r2`
``O(N^2 (dA + dB))`` time and ``O(N^2)`` memory (0.5 M pairs for RRXOR's 1046 rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from scipy.spatial.distance import pdist

from generators.validation import check_real_array, check_weights

__all__ = ["ols_in_sample", "pairwise_distance_r2", "shuffle_rows", "shuffled_copies", "collapse", "paper_hooks",
           "PAPER_COND"]

#: the singular-value cutoff of the authors' fits: scikit-learn's ``LinearRegression`` (before
#: 1.6) called ``scipy.linalg.lstsq`` with its default ``cond``, the float32 machine epsilon
#: for their float32 activations
PAPER_COND = float(np.finfo(np.float32).eps)


def paper_hooks(n_layers: int) -> list[str]:
    """The 12 residual hooks of a 4-layer TransformerLens model (Figure 7), in our names:
    ``blocks.i.resid_pre``, ``blocks.i.resid_mid``, ``blocks.i.resid_post`` for every block.

    >>> paper_hooks(1)
    ['blocks.0.resid_pre', 'blocks.0.resid_mid', 'blocks.0.resid_post']
    """
    return [f"blocks.{i}.{h}" for i in range(int(n_layers)) for h in ("resid_pre", "resid_mid", "resid_post")]


def ols_in_sample(X: Any, Y: Any, weights: Any = None, *, cond: float | None = None) -> np.ndarray:
    """In-sample predictions ``(N, k)`` of the affine least-squares fit ``X (N, d) -> Y (N, k)``.

    With normalized weights ``p`` (uniform by default), weighted means ``mu_x``, ``mu_y``:
    ``B = argmin |diag(sqrt p)((X - mu_x) B - (Y - mu_y))|_F``, the minimum-norm solution
    with singular values below ``cond * s_max`` treated as zero (``scipy.linalg.lstsq``;
    ``cond=None`` is float64 machine precision), predictions ``(X - mu_x) B + mu_y``.
    Integer weights equal repeated rows (the same Gram matrix, the same singular values).
    The authors' scikit-learn ``LinearRegression`` (before 1.6) on float32 activations cut
    at float32 precision: ``cond = np.finfo(np.float32).eps`` (:data:`PAPER_COND`).

    >>> X = np.array([[0.0], [1.0], [2.0]]); Y = 3 * X + 1
    >>> np.allclose(ols_in_sample(X, Y), Y)
    True
    """
    X = check_real_array(X, "X", ndim=2).astype(np.float64)
    Y = check_real_array(Y, "Y").astype(np.float64)
    Y2 = Y[:, None] if Y.ndim == 1 else Y
    if Y2.shape[0] != X.shape[0]:
        raise ValueError(f"X and Y need the same rows; got {X.shape[0]} and {Y2.shape[0]}")
    p = check_weights(weights, X.shape[0])
    mx, my = p @ X, p @ Y2
    s = np.sqrt(p)[:, None]
    B = scipy.linalg.lstsq(s * (X - mx), s * (Y2 - my), cond=cond, lapack_driver="gelsd")[0]
    pred = (X - mx) @ B + my
    return pred[:, 0] if Y.ndim == 1 else pred


def pairwise_distance_r2(A: Any, B: Any, counts: Any = None) -> float:
    """R^2 of the linear fit of the pairwise distances ``|b_i - b_j|`` on ``|a_i - a_j|``
    over all pairs of rows (the squared Pearson correlation; symmetric in A and B).

    ``counts`` (N,), integers >= 0: row ``i`` stands for ``counts[i]`` identical rows (a
    distinct prefix shared by several inputs), so the pairs are those of the expanded rows:
    ``c_i c_j`` pairs ``(i, j)`` and ``c_i (c_i - 1) / 2`` pairs at distance 0 in both.
    Computed on the distinct rows, ``O(N^2)``.  When one embedding has collapsed (all its
    distances equal, e.g. a probe that predicts the mean) its distances explain nothing:
    0.0; when both have, NaN.

    >>> A = np.array([[0.0], [1.0], [3.0]])
    >>> pairwise_distance_r2(A, 2 * A + 5), round(pairwise_distance_r2(A, A ** 2), 4)
    (1.0, 0.8421)
    >>> B = A ** 2
    >>> bool(np.isclose(pairwise_distance_r2(A, B, [2, 1, 1]), pairwise_distance_r2(A[[0, 0, 1, 2]], B[[0, 0, 1, 2]])))
    True
    """
    A = check_real_array(A, "A").astype(np.float64)
    B = check_real_array(B, "B").astype(np.float64)
    A, B = (A[:, None] if A.ndim == 1 else A), (B[:, None] if B.ndim == 1 else B)
    if A.shape[0] != B.shape[0] or A.shape[0] < 2:
        raise ValueError(f"A and B need the same number (>= 2) of rows; got {A.shape[0]} and {B.shape[0]}")
    da, db = pdist(A), pdist(B)
    if counts is None:
        w, zero = np.ones_like(da), 0.0
    else:
        c = check_real_array(counts, "counts", ndim=1)
        if c.shape[0] != A.shape[0] or np.any(c < 0) or np.any(c != np.round(c)):
            raise ValueError(f"counts must be {A.shape[0]} nonnegative integers; got {counts!r}")
        i, j = np.triu_indices(c.shape[0], k=1)
        w, zero = c[i] * c[j], float(np.sum(c * (c - 1) / 2))
    W = w.sum() + zero
    ma, mb = (w @ da) / W, (w @ db) / W
    # the zero-distance pairs contribute (0 - m)^2 terms
    saa = w @ (da - ma) ** 2 + zero * ma * ma
    sbb = w @ (db - mb) ** 2 + zero * mb * mb
    sab = w @ ((da - ma) * (db - mb)) + zero * ma * mb
    if saa > 0 and sbb > 0:
        return float(sab * sab / (saa * sbb))
    return 0.0 if saa > 0 or sbb > 0 else float("nan")


def shuffle_rows(lengths: Any, seed: int) -> np.ndarray:
    """A seeded permutation of the rows that maps every row to one of the same prefix
    length (:func:`nets.probe.controls.permute_within`)."""
    from nets.probe.controls import permute_within

    lengths = np.asarray(lengths)
    return permute_within(lengths, lengths.shape[0], np.random.default_rng(seed))


def shuffled_copies(Y: Any, counts: Any, seed: int) -> np.ndarray:
    """The paper's shuffled-belief targets on distinct rows: row ``i`` stands for
    ``counts[i]`` (input, position) pairs; the beliefs of all pairs are permuted at random
    (the authors' ``torch.randperm`` over the flattened pairs) and each row gets the mean of
    the beliefs its pairs received.  With weights ``counts`` the least-squares fit to these
    means is the fit to the permuted pairs (the same normal equations).  Cost ``O(sum(counts) k)``.

    Every belief is handed out once: the count-weighted sum is unchanged.

    >>> Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> S = shuffled_copies(Y, [1, 3], seed=0)
    >>> S.shape, np.allclose([1, 3] @ S, [1, 3] @ Y)
    ((2, 2), True)
    """
    Y = check_real_array(Y, "Y", ndim=2)
    c = check_real_array(counts, "counts", ndim=1)
    if c.shape[0] != Y.shape[0] or np.any(c < 1) or np.any(c != np.round(c)):
        raise ValueError(f"counts must be {Y.shape[0]} positive integers; got {counts!r}")
    c = c.astype(np.int64)
    pairs = np.repeat(np.arange(c.size), c)
    received = Y[pairs[np.random.default_rng(seed).permutation(pairs.size)]]
    starts = np.concatenate([[0], np.cumsum(c)[:-1]])
    return np.add.reduceat(received, starts, axis=0) / c[:, None]


def collapse(pred: Any, Y: Any, weights: Any = None) -> dict:
    """How much of the beliefs' spread a prediction keeps: ``spread`` = weighted total
    variance of ``pred`` / that of ``Y`` (1 for a perfect fit, 0 for a collapse onto one
    point) and ``centre_distance`` = the Euclidean distance of the prediction's weighted
    mean from the centre of the simplex ``(1/k, ..., 1/k)``.

    >>> Y = np.eye(3); collapse(np.full((3, 3), 1 / 3), Y)
    {'spread': 0.0, 'centre_distance': 0.0}
    """
    pred = check_real_array(pred, "pred", ndim=2)
    Y = check_real_array(Y, "Y", ndim=2)
    p = check_weights(weights, Y.shape[0])
    var = lambda Z: float(p @ ((Z - p @ Z) ** 2).sum(axis=1))  # noqa: E731
    centre = np.full(Y.shape[1], 1.0 / Y.shape[1])
    return {"spread": var(pred) / var(Y), "centre_distance": float(np.linalg.norm(p @ pred - centre))}
