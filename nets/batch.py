"""A batch of training data (:class:`Batch`) and its assembly from sampled words and their
forward beliefs (:func:`assemble`), one torch implementation for every device.

The assembly is the same for the host sampler (numpy kernels, :mod:`generators.kernels`)
and the device sampler (:mod:`nets.torch_kernels`): given each factor's words ``w_k``
(B, W) and forward beliefs ``b_k`` (B, W+1, n_k) (``b_k[:, t]`` after ``t`` symbols), it
forms

- ``Pr_k(x | prefix of length t) = max(b_k[:, t] @ s_k[x], 0)``, renormalized over ``x``
  (``s_k = T_k[x] tau_k``, the symbol vectors; the clip removes rounding negatives),
- the prefix probabilities ``prod_k prod_{u < t} Pr_k(w_k[u] | prefix of length u)``,
- the joint next-symbol distribution as the outer product over factors (mixed radix,
  first factor most significant: :func:`generators.joint_symbol`),

and aligns everything with the model positions (see :mod:`nets.data`).  Cost
``O(B W sum_k V_k n_k + B L prod_k V_k)`` (the last term only with ``next_probs``), all
on the device of the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable

import torch

__all__ = ["Batch", "assemble"]


@dataclass(frozen=True)
class Batch:
    """One batch of ``B`` sequences over ``L`` model positions (all torch tensors, on one device).

    Attributes
    ----------
    tokens : int64 (B, L)
        Model input; BOS (if used) is token ``V``.
    targets : int64 (B, L)
        Sampled next symbol at every position.
    next_probs : float32 (B, L, V) or None
        Exact next-symbol distribution given the prefix seen at each position (None when
        the data was built with ``next_probs=False``).
    beliefs : float64 (B, L, n) or None
        Belief after the prefix seen at each position (GHMM coordinates of the data's
        representation; normalized so ``beliefs @ tau == 1``); None for a product process.
    prefix_prob : float64 (B, L)
        Probability of the prefix seen at each position (1 for the empty prefix).
    words : int64 (B, word_length)
        The underlying words (without BOS).
    weights : float64 (B,) or None
        Word probabilities for an enumeration (:meth:`nets.data.BeliefData.enumerate`),
        which sum to 1; ``None`` for sampled batches (each row then has weight ``1/B``).
    factor_beliefs : tuple of float64 (B, L, n_k)
        Each factor's belief in its own representation (a product process), or
        ``(beliefs,)`` for a single process.
    """

    tokens: torch.Tensor
    targets: torch.Tensor
    next_probs: torch.Tensor | None
    beliefs: torch.Tensor | None
    prefix_prob: torch.Tensor
    words: torch.Tensor
    weights: torch.Tensor | None = None
    factor_beliefs: tuple = ()

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def to(self, device: Any) -> "Batch":
        """The batch on ``device`` (non-blocking copies; tensors already there are kept)."""
        return self._map(lambda x: x.to(device, non_blocking=True))

    def slice(self, start: int, stop: int) -> "Batch":
        """Rows ``start:stop`` (e.g. one data-parallel rank's share of a global batch)."""
        return self._map(lambda x: x[start:stop])

    def rows(self, index: torch.Tensor) -> "Batch":
        """The rows ``index`` (int64 tensor on the batch's device), in that order."""
        return self._map(lambda x: x[index])

    def joint_beliefs(self) -> torch.Tensor:
        """The joint belief (B, L, prod n_k): the Kronecker product of the factor beliefs, in
        the product of the factors' coordinates (:attr:`beliefs` for a single process).
        Memory ``B L prod n_k``."""
        out = self.factor_beliefs[0]
        for b in self.factor_beliefs[1:]:
            out = (out[..., :, None] * b[..., None, :]).reshape(out.shape[:-1] + (-1,))
        return out

    def _map(self, f: Callable) -> "Batch":
        def apply(x):
            if x is None:
                return None
            return tuple(f(t) for t in x) if isinstance(x, tuple) else f(x)

        return replace(self, **{fl.name: apply(getattr(self, fl.name)) for fl in fields(self)})


def assemble(words: torch.Tensor, fwords: list, fbeliefs: list, symbol_vectors: list, *, context: int,
             bos_token: int | None, weights: torch.Tensor | None = None, next_probs: bool = True,
             fprobs: list | None = None) -> Batch:
    """The :class:`Batch` of joint words with their factors' words and forward beliefs.

    Parameters
    ----------
    words : int64 (B, W)
        Joint words (mixed radix over the factors; the words themselves for one factor).
    fwords : list of int64 (B, W)
        Each factor's words.
    fbeliefs : list of float (B, W+1, n_k)
        Each factor's forward beliefs (``[:, t]`` after ``t`` symbols; any strides).
    symbol_vectors : list of (V_k, n_k) tensors
        ``T_k[x] tau_k`` per factor, on the device of the words, in the beliefs' dtype.
    context : int
        ``L``: ``W == L`` with a BOS token, ``W == L + 1`` without.
    bos_token : int or None
    weights : float64 (B,) or None
    fprobs : list of float (B, W, V_k), optional
        Each factor's ``Pr(x | prefix of length t)`` for ``t < W``, if the sampler already
        has them (:func:`nets.torch_kernels.sample_factors_on_device`); else computed
        from the beliefs as above.
    next_probs : bool
        Also form the joint next-symbol distributions (B, L, prod V_k) in float32 (each
        factor's in float64, rounded, then multiplied: within ``2K`` float32 ulps of the
        float64 product of ``K`` factors).

    Returns
    -------
    Batch, on the device of ``words``.  ``tokens``, ``targets`` and ``next_probs`` are
    contiguous; the labels may be views of the inputs (of time-major storage on the
    device path: no transposing copy).
    """
    L = context
    B, W = words.shape
    sl = slice(0, L) if bos_token is not None else slice(1, L + 1)
    prefix = torch.ones((B, W + 1), dtype=torch.float64, device=words.device)
    nxt = None
    for k, (w, b, sv) in enumerate(zip(fwords, fbeliefs, symbol_vectors)):
        p = _next_probs(b, sv) if fprobs is None else fprobs[k]  # (B, W or W+1, V_k): Pr(x | prefix of length t)
        chosen = torch.gather(p[:, :W], 2, w[:, :, None])[..., 0]  # (B, W)
        prefix[:, 1:] *= torch.cumprod(chosen, dim=1)
        if next_probs:
            nxt = _outer(nxt, p[:, sl])
    if bos_token is not None:
        tokens = torch.cat([torch.full((B, 1), bos_token, dtype=torch.long, device=words.device), words[:, :L - 1]],
                           dim=1)
        targets = words
    else:
        tokens, targets = words[:, :L], words[:, 1:]
    factor_beliefs = tuple(b[:, sl].to(torch.float64) for b in fbeliefs)
    return Batch(tokens=tokens.contiguous(), targets=targets.contiguous(), next_probs=nxt,
                 beliefs=factor_beliefs[0] if len(factor_beliefs) == 1 else None, prefix_prob=prefix[:, sl],
                 words=words, weights=None if weights is None else weights.to(torch.float64),
                 factor_beliefs=factor_beliefs)


def _outer(acc: torch.Tensor | None, q: torch.Tensor) -> torch.Tensor:
    """The mixed-radix outer product ``acc (B, L, A) x q (B, L, V) -> (B, L, A V)`` over the
    last axis, in float32 (``q`` alone when ``acc`` is None).  Each factor's probabilities
    are rounded to float32 first: the product of ``K`` factors is within ``2K`` float32
    ulps (relative ``1.2e-7 K``) of the float64 product, at half its memory traffic (the
    table, ``B L prod V_k``, is the largest array of a batch)."""
    q = q.to(torch.float32)
    if acc is None:
        return q.contiguous()
    B, L, A = acc.shape
    out = torch.empty((B, L, A, q.shape[-1]), dtype=torch.float32, device=q.device)
    torch.mul(acc[..., :, None], q[..., None, :], out=out)
    return out.view(B, L, -1)


def _next_probs(b: torch.Tensor, sv: torch.Tensor) -> torch.Tensor:
    """``max(b @ sv.T, 0)`` normalized over the last axis (rows summing to 0 kept at 0)."""
    p = _matmul(b, sv.T).clamp_min_(0.0)
    # the sum over x as a GEMM: a reduction over a last axis of 3 or 4 is ten times slower on a CPU
    total = _matmul(p, torch.ones((p.shape[-1], 1), dtype=p.dtype, device=p.device))
    return p.div_(torch.where(total > 0, total, 1.0))


def _matmul(b: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``b @ m`` for ``b (B, T, n)`` stored batch-major or time-major (a transposed view
    of ``(T, B, n)`` storage, as the device sampler returns it): the product is taken in
    the stored layout (a GEMM per time step over contiguous rows, no strided copy) and
    returned as a ``(B, T, k)`` view."""
    if b.stride(0) < b.stride(1):  # time-major: rows of one time step lie together
        return torch.matmul(b.transpose(0, 1), m).transpose(0, 1)
    return torch.matmul(b, m)
