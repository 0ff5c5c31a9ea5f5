"""The future a belief predicts, as exact linear algebra on the process's minimal form.

Notation: the canonical minimal GHMM ``(T (V, n, n), tau = e_0, pi)`` of the process
(:func:`generators.representations.minimal_form`) and a belief ``eta = (1, b)``, where ``b``
(n - 1,) are the minimal coordinates the probe reads (the constant first one dropped).

k-step future
-------------
A word ``w`` of length ``k`` has ``Pr(w | eta) = eta T[w] tau``, so the distribution of the
next ``k`` symbols is *linear* in the belief::

    Y_k = eta M_k,    M_k = [T[w] tau]_{|w| = k}    (n x V^k)
        = m_0 + b M'_k,    m_0 = M_k[0],  M'_k = M_k[1:]   ((n - 1) x V^k)

**Marginals.**  ``Pr(u | eta)`` for ``|u| = j < k`` is the sum of ``Pr(u v | eta)`` over
``|v| = k - j`` (``sum_x T[x] tau = tau``), so the columns of ``M_j`` lie in the span of
those of ``M_k``: the next-``k`` distribution determines every shorter one, and the maps
``eta -> (Pr(w | eta))_{|w| = k}`` and ``eta -> (Pr(w | eta))_{|w| <= k}`` have the same
kernel.  We use ``|w| = k`` ("the distribution of the next k symbols").

Compressed fit (:func:`future_factor`, :func:`compressed_future`)
------------------------------------------------------------------
Never materialize ``V^k`` columns.  Let ``M'_k = U S W^T`` (SVD, ``U (n-1) x r``,
``r <= n - 1``).  The probe's held-out prediction of targets ``Y`` (N, m) is linear in
``Y`` for a fixed design, split and rank -- ``Yhat = H Y`` with a row operator ``H`` that
reproduces constant columns (an affine fit with intercept).  Its weighted squared error is
``sum_i p_i |(Y - H Y)_i|^2 = tr(Y^T A Y)`` with ``A = (I - H)^T D_p (I - H)`` (N x N, PSD),
and with ``Y = 1 m_0 + b M'_k``, ``(I - H) 1 = 0``::

    tr(Y^T A Y) = tr(b^T A b  M'_k M'_k^T) = tr(b^T A b  U S^2 U^T) = tr((b U S)^T A (b U S))

So the targets ``Z_k = b U S`` (N x r) and ``Y_k`` (N x V^k) have the same weighted SSE,
and, with ``H`` the weighted mean, the same total sum of squares: the same pooled
``R^2``.  The same holds for every quantity the probe builds from such quadratic forms:
the cross-validation error of every rank (up to the positive factor ``r / V^k`` of
"mean over coordinates", which changes neither the minimum nor the one-standard-error
rule, so the same rank is chosen), the shuffled control (a row permutation of ``Y`` is
``1 m_0 + (P b) M'_k``), the untrained network (another design) and ``cos_r2``.  Only
per-coordinate numbers (``mse`` as a mean over coordinates, ``r2_per_coordinate``)
differ.  ``R^2`` is also invariant to a global scale, so ``Z_k`` is divided by ``s_1``.
``tests/nets/test_represented.py`` checks the equality against the direct fit.

``U S`` is computed from a factor ``F_k`` (n x <= n) with ``F_k F_k^T = M_k M_k^T``:
``F_0 = tau``, ``F_k = compress([T[0] F_{k-1}, ..., T[V-1] F_{k-1}])`` (the left singular
vectors times the singular values of the ``n x V n`` block; ``M_k M_k^T = sum_x T[x]
M_{k-1} M_{k-1}^T T[x]^T``), so ``M'_k M'_k^T = F_k[1:] F_k[1:]^T`` and ``U S`` come from the
SVD of ``F_k[1:]``.  Cost ``O(k V n^3)`` for all ``k`` up to ``K``, memory ``O(n^2)``;
the singular values are accurate to ``eps |M_k|``.

Horizon (:func:`belief_horizon`)
--------------------------------
The belief is the infinite-future predictor.  The *horizon* is the smallest ``k`` for
which ``eta -> Y_k`` is injective on the affine hull of the beliefs -- the next ``k``
symbols' distribution determines the belief.  For a minimal form the reachable beliefs
span ``R^n``, so the hull is ``{eta : eta_0 = 1}`` and injectivity means
``rank M'_k = n - 1``.  (``rank M_k = rank M'_k + 1``: the columns of ``M'_k`` sum to 0 and
those of ``m_0`` to 1, so ``m_0`` is not in the row space of ``M'_k``.)  The column spans
of ``M_k`` are the observability spaces ``span{T[w] tau : |w| <= k}``: they grow until they
stop, and reach ``R^n`` (observability of a minimal form) -- so the horizon exists and is
at most ``n - 1``; 0 when ``n = 1`` (the belief never changes).  Numerically the rank
counts singular values above ``rtol`` times the largest singular value of ``M_k``; a
direction below that is reported as not determined, and the horizon is None when the
rank has not reached ``n - 1`` by ``max_k``.

Beyond the next k tokens (:func:`unexplained`)
----------------------------------------------
The part of the belief a target does not determine: the residual of the probability-
weighted affine least-squares regression of ``b`` on the target over the probe's rows
(:func:`nets.probe.fit_affine`, every nonzero direction kept).  For the next-token
distribution it is zero exactly when the horizon is 1.

Examples
--------
Mess3's next-token distribution determines its belief; RRXOR's does not:

>>> from generators import library
>>> belief_horizon(library.mess3()).horizon, belief_horizon(library.rrxor()).horizon
(1, 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from generators.representations import minimal_form
from generators.validation import check_int, check_real

from ..probe.fit import fit_affine

__all__ = ["Horizon", "belief_horizon", "future_factor", "compressed_future", "unexplained", "beliefs_with_constant"]


@dataclass(frozen=True)
class Horizon:
    """How far ahead the belief looks (module doc).

    Attributes
    ----------
    horizon : int or None -- smallest ``k`` whose next-``k`` distribution determines the
        belief (0 for a constant belief; None: not within ``max_k``)
    ranks : tuple of int -- ``rank M'_k`` for ``k = 1 .. len(ranks)``
    belief_dim : int -- ``n - 1``, the number of belief coordinates
    max_k : int -- the bound searched
    rtol : float -- the rank's relative singular-value cutoff
    """

    horizon: int | None
    ranks: tuple
    belief_dim: int
    max_k: int
    rtol: float


def future_factor(T: np.ndarray, tau: np.ndarray, K: int) -> list[np.ndarray]:
    """Factors ``F_k`` (n x r_k) with ``F_k F_k^T = M_k M_k^T`` for ``k = 0 .. K`` (module
    doc); ``F_0 = tau`` as a column.  Cost ``O(K V n^3)``."""
    F = [np.asarray(tau, dtype=float)[:, None]]
    for _ in range(K):
        block = np.concatenate([T[x] @ F[-1] for x in range(T.shape[0])], axis=1)  # (n, V r)
        U, s, _ = np.linalg.svd(block, full_matrices=False)
        F.append(U * s)
    return F


def compressed_future(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U S / s_1, S)`` of ``M'_k = F[1:]`` (the rows of the belief coordinates): the
    compressed fit's map ``(n - 1) x r`` onto ``b`` and the singular values (module doc).
    Zero singular values are dropped (those columns would be constant)."""
    U, s, _ = np.linalg.svd(F[1:], full_matrices=False)
    keep = s > 0
    if not np.any(keep):
        return np.zeros((F.shape[0] - 1, 0)), s[:0]
    return U[:, keep] * (s[keep] / s[0]), s[keep]


def belief_horizon(generator: Any, *, max_k: int | None = None, rtol: float = 1e-9) -> Horizon:
    """The smallest ``k`` whose next-``k``-symbol distribution determines the belief
    (module doc: a rank computation on the minimal form, at most ``n - 1``).

    Parameters
    ----------
    generator : generators.Generator
    max_k : int, optional -- largest ``k`` tried (default ``n``, beyond the bound ``n - 1``)
    rtol : float -- singular values of ``M'_k`` at most ``rtol |M_k|_2`` count as zero

    Returns
    -------
    Horizon; cost ``O(max_k V n^3)``.

    >>> from generators import library
    >>> h = belief_horizon(library.bloch_walk())
    >>> h.horizon, h.ranks, h.belief_dim
    (1, (2, 2, 2), 2)
    """
    h = minimal_form(generator)
    n = h.dim
    max_k = n if max_k is None else check_int(max_k, "max_k", minimum=1)
    rtol = check_real(rtol, "rtol", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    if n == 1:
        return Horizon(0, (0,) * max_k, 0, max_k, rtol)
    F = future_factor(h.operators, h.tau, max_k)
    ranks = []
    for Fk in F[1:]:
        top = np.linalg.norm(Fk, 2)
        s = np.linalg.svd(Fk[1:], compute_uv=False)
        ranks.append(int(np.sum(s > rtol * top)) if top > 0 else 0)
    hit = [k for k, r in enumerate(ranks, start=1) if r == n - 1]
    return Horizon(hit[0] if hit else None, tuple(ranks), n - 1, max_k, rtol)


def beliefs_with_constant(generator: Any, prefixes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Minimal-form beliefs ``eta`` (N, n) after each ``-1``-padded prefix (rows of a
    :class:`nets.probe.ProbeDataset`), the constant coordinate included.  A loop over
    prefix lengths only; cost ``O(N L V n^2)``."""
    from generators.representations import representation

    rep = representation(generator, "minimal")
    out = np.empty((prefixes.shape[0], rep.ghmm.dim))
    for t in np.unique(lengths):
        sel = np.nonzero(lengths == t)[0]
        out[sel] = rep.final_beliefs(prefixes[sel, :t])
    return out


def unexplained(B: np.ndarray, Z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Residual ``B - (affine fit of B on Z)`` (N, k): probability-weighted least squares
    over all rows, every direction of ``Z`` above ``1e-10`` of its largest kept
    (:func:`nets.probe.fit_affine` with ``rank="full"``)."""
    if Z.shape[1] == 0:
        return B - weights @ B / weights.sum()
    fit = fit_affine(Z, B, weights, rank="full", rcond=1e-10)
    return B - fit.predict(Z)
