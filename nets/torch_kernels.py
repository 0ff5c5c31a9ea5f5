"""Generator kernels on a torch device: sampling and belief trajectories of a GHMM, and of
independent products factor by factor (the joint GHMM is never built).

The math is that of :mod:`generators.kernels` (row-vector GHMM convention,
``Pr(w) = eta T[w1] ... T[wL] tau``), written with batched torch operations so that a GPU
runs a whole batch per time step:

- :func:`forward_on_device` -- beliefs ``eta_t = eta_{t-1} T[w_t] / (eta_{t-1} T[w_t] tau)``
  and log prefix probabilities of given words; a prefix whose conditional probability is
  ``<= zero_tol`` is impossible (belief 0, log probability ``-inf``), as in
  :meth:`generators.GHMM.forward`.
- :func:`sample_on_device` -- words sampled through beliefs (``x ~ eta T[x] tau`` by
  inverse CDF, negative weights counted as 0), optionally with the beliefs.
  :func:`sample_factors_on_device` gives the same per factor (a :class:`DeviceSample`),
  with the next-symbol distributions the sampler drew from.

A *product* is a :class:`generators.ProductGenerator` or a sequence of generators (its
factors).  Joint symbols are mixed-radix, first factor most significant
(:func:`generators.joint_symbol`).  Factors of one shape (``V`` symbols, dimension ``n``)
are stacked, so one batched GEMM ``(K, B, n) @ (K, n, (V + P)(n+1))`` per time step
advances all of them at once: every symbol's ``[T[x] | T[x] tau]`` and the symbol
probabilities, then a row gather and a division.  The cost adds over factors, never the
joint dimension (the 3 Mess3 x 2 Bloch walk product has 432 joint symbols and a
432-dimensional joint GHMM; its two stacks have dimensions 3 and 4).  Beliefs of a
product are returned per factor, as a tuple.

Outputs are views of time-major buffers (``(L+1, B, n)`` storage seen as ``(B, L+1, n)``):
no transposing copy; call ``.contiguous()`` if a consumer needs one.  On a CPU the batch
is processed in blocks of :data:`CPU_CHUNK` rows (cache-sized); on an accelerator in one
block, with no host synchronization inside the time loop.  Random numbers come from one
:class:`torch.Generator` on ``device`` seeded with ``seed``: a seed reproduces the words
on one device type and batch shape, not across CPU and GPU, nor the numpy sampler's words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from generators import Generator, ProductGenerator

__all__ = ["DeviceFactors", "DeviceSample", "FactorStack", "device_factors", "forward_on_device", "sample_on_device",
           "sample_factors_on_device", "CPU_CHUNK"]

#: conditional probabilities at or below this mark a prefix impossible (as generators.ghmm.ZERO_TOL)
ZERO_TOL = 1e-13
#: rows per pass on a CPU device (cache-sized blocks; an accelerator takes the whole batch)
CPU_CHUNK = 4096


@dataclass(frozen=True)
class FactorStack:
    """The GHMM forms of ``K`` factors of one shape (``V`` symbols, dimension ``n``), stacked.

    Attributes
    ----------
    stacked : (K, n, (V + P)(n+1)) tensor
        Per factor ``[T[0], T[0] tau | ... | T[V-1], T[V-1] tau | T[0] tau, ..., T[V-1] tau, 0...]``
        (``P`` blocks of width ``n+1`` hold the ``V`` symbol vectors ``T[x] tau``): one
        batched GEMM of beliefs ``(K, B, n)`` with it gives every symbol's unnormalized
        next belief with its normalizer, and the symbol probabilities.
    initial : (K, n) tensor, stationary beliefs (``initial @ tau == 1``)
    members : tuple of int, the positions of these factors in the product
    alphabet_size : int, ``V``
    """

    stacked: torch.Tensor
    initial: torch.Tensor
    members: tuple
    alphabet_size: int

    @classmethod
    def build(cls, hs: list, members: tuple, device: Any, dtype: torch.dtype) -> "FactorStack":
        V, n = hs[0].alphabet_size, hs[0].dim
        P = -(-V // (n + 1))
        stacked, initial = np.zeros((len(hs), n, (V + P) * (n + 1))), np.zeros((len(hs), n))
        for k, h in enumerate(hs):
            sv = h.operators @ h.tau  # (V, n)
            blocks = np.concatenate([h.operators, sv[:, :, None]], axis=2)  # (V, n, n+1)
            stacked[k, :, :V * (n + 1)] = blocks.transpose(1, 0, 2).reshape(n, -1)
            stacked[k, :, V * (n + 1):V * (n + 2)] = sv.T
            initial[k] = h.initial / (h.initial @ h.tau)
        as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
        return cls(as_t(stacked), as_t(initial), members, V)

    @property
    def dim(self) -> int:
        return self.stacked.shape[1]

    @property
    def blocks_per_row(self) -> int:
        """``V + P``: blocks of width ``n+1`` in one GEMM output row."""
        return self.stacked.shape[2] // (self.dim + 1)

    def step(self, eta: torch.Tensor, work: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(probabilities (K, c, V), blocks (K c (V+P), n+1))`` from beliefs ``eta (K, c, n)``;
        row ``(k c + b)(V + P) + x`` of ``blocks`` is ``[eta T[x], eta T[x] tau]``.  ``work``:
        optional flat storage of at least ``K c (V+P)(n+1)`` elements for the GEMM output
        (reused across steps: no allocation, hence no page faults, per step)."""
        shape = (eta.shape[0], eta.shape[1], self.stacked.shape[2])
        out = torch.bmm(eta, self.stacked, out=None if work is None else work[:math.prod(shape)].view(shape))
        V, m = self.alphabet_size, self.dim + 1
        return out[..., V * m:V * (m + 1)], out.view(-1, m)


@dataclass(frozen=True)
class DeviceFactors:
    """The independent factors of a generator on a device, grouped by shape into
    :class:`FactorStack` s (equal-shape factors advance in one batched GEMM).

    Attributes
    ----------
    stacks : tuple of FactorStack
    sizes, dims : tuple of int, each factor's alphabet size and dimension (product order)
    """

    stacks: tuple
    sizes: tuple
    dims: tuple

    @classmethod
    def from_generators(cls, gens: list, device: Any = "cpu", dtype: torch.dtype = torch.float64) -> "DeviceFactors":
        hs = [g.to_ghmm() for g in gens]
        groups: dict = {}
        for k, h in enumerate(hs):
            groups.setdefault((h.alphabet_size, h.dim), []).append(k)
        stacks = tuple(FactorStack.build([hs[k] for k in ks], tuple(ks), device, dtype) for ks in groups.values())
        return cls(stacks, tuple(h.alphabet_size for h in hs), tuple(h.dim for h in hs))

    @property
    def device(self) -> torch.device:
        return self.stacks[0].stacked.device

    @property
    def dtype(self) -> torch.dtype:
        return self.stacks[0].stacked.dtype

    @property
    def alphabet_size(self) -> int:
        """Joint alphabet ``prod V_k``."""
        return int(np.prod(self.sizes))

    def joint(self, parts: list) -> torch.Tensor:
        """Mixed-radix joint symbols from per-factor symbols (a list in product order)."""
        out = parts[0]
        for k in range(1, len(self.sizes)):
            out = out * self.sizes[k] + parts[k]
        return out

    def split(self, w: torch.Tensor) -> list:
        """Per-factor symbols (a list in product order) of mixed-radix joint symbols."""
        parts, rest = [], w
        for V in reversed(self.sizes):
            parts.append(rest % V)
            rest = torch.div(rest, V, rounding_mode="floor")
        return parts[::-1]


def device_factors(generator: Any, device: Any = "cpu", dtype: torch.dtype = torch.float64) -> DeviceFactors:
    """The factors of ``generator`` stacked on ``device``: one for a plain generator, one
    per factor of a :class:`ProductGenerator` or of a sequence of generators.  A
    :class:`DeviceFactors` (built once, reused for many calls) is returned as it is if it
    lives on ``device`` in ``dtype``; ``ValueError`` otherwise."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    if isinstance(generator, DeviceFactors):
        want = torch.device(device)
        if generator.dtype != dtype or generator.device.type != want.type or \
                want.index not in (None, generator.device.index):
            raise ValueError(f"these DeviceFactors live on {generator.device} in {generator.dtype}; asked for "
                             f"{want} in {dtype}: build them there (device_factors(generator, device, dtype))")
        return generator
    if isinstance(generator, ProductGenerator):
        parts = generator.factors
    elif isinstance(generator, (list, tuple)):
        parts = list(generator)
    else:
        parts = [generator]
    if not parts or not all(isinstance(p, Generator) for p in parts):
        raise TypeError(f"expected a Generator or a sequence of Generators; got {generator!r}")
    return DeviceFactors.from_generators(parts, device, dtype)


def _chunk(device: Any, n: int, chunk: int | None) -> int:
    """Rows per pass: the whole batch on an accelerator, cache-sized blocks on a CPU."""
    if chunk is not None:
        if isinstance(chunk, bool) or int(chunk) != chunk or chunk < 1:
            raise ValueError(f"chunk must be a positive integer or None; got {chunk!r}")
        return int(chunk)
    return max(1, n if torch.device(device).type != "cpu" else min(n, CPU_CHUNK))


def _select(blocks: torch.Tensor, rowbase: torch.Tensor, x: torch.Tensor, work: torch.Tensor | None = None):
    """Rows ``[eta T[x], eta T[x] tau]`` for symbols ``x (K, c)`` from :meth:`DeviceFactors.step`'s
    blocks: ``(K, c, n+1)`` (one flat gather); ``rowbase = arange(K c) (V + P)``; ``work``:
    optional flat storage for the result."""
    shape = (x.numel(), blocks.shape[1])
    out = None if work is None else work[:math.prod(shape)].view(shape)
    return torch.index_select(blocks, 0, rowbase + x.reshape(-1), out=out).view(*x.shape, blocks.shape[1])


def _draw(probs: torch.Tensor, u: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(out, F_{V-1})``: symbols ``#{s < V-1 : F_s <= u F_{V-1}}`` into ``out`` (K, c) from weights ``probs``
    (K, c, V), clipped at 0 in place (a weight-0 symbol is never drawn), their running sums
    ``F_s = F_{s-1} + max(p_s, 0)`` (the order of ``torch.cumsum``) and uniforms ``u``
    (K, c, 1).  A loop over symbols: scans and reductions over an axis of 3 or 4 are slower
    on a CPU."""
    p = probs.clamp_min_(0.0)
    cums = [p[..., 0]]
    for s in range(1, p.shape[-1]):
        cums.append(cums[-1] + p[..., s])
    threshold = u[..., 0] * cums[-1]
    out.zero_()
    for c in cums[:-1]:
        out += c <= threshold
    return out, cums[-1]


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"{name} must be a nonnegative integer; got {value!r}")
    return int(value)


@torch.inference_mode()
def forward_on_device(generator: Any, words: Any, *, device: Any = "cpu", dtype: torch.dtype = torch.float64,
                      zero_tol: float = ZERO_TOL, chunk: int | None = None):
    """Beliefs and log prefix probabilities of words ``(B, L)`` on ``device``.

    Parameters
    ----------
    generator : Generator, ProductGenerator, or sequence of Generators (a product)
        Filtered from its stationary belief; a product factor by factor.
    words : int array or tensor (B, L)
        Symbols ``0..V-1`` (joint symbols for a product).
    device, dtype : torch device, ``torch.float64`` or ``torch.float32``
    zero_tol : float >= 0
    chunk : int, optional
        Rows per pass (default: all on an accelerator, :data:`CPU_CHUNK` on a CPU).

    Returns
    -------
    beliefs : (B, L+1, n) tensor, or a tuple of ``(B, L+1, n_k)`` for a product
    log_prefix : (B, L+1) tensor, natural log (sum over factors for a product)

    Notes
    -----
    ``O(B L K V n^2)`` flops in ``L`` batched steps.  In float64 it agrees with
    :func:`generators.kernels.forward_filter` to rounding (1e-12).
    """
    if not float(zero_tol) >= 0:
        raise ValueError(f"zero_tol must be >= 0; got {zero_tol!r}")
    f = device_factors(generator, device, dtype)
    w = words if torch.is_tensor(words) else torch.as_tensor(np.asarray(words))
    if w.ndim != 2 or w.is_floating_point() or w.dtype == torch.bool or w.is_complex():
        raise ValueError(f"words must be an integer array of shape (B, L); got {tuple(w.shape)} {w.dtype}")
    w = w.to(device=device, dtype=torch.long)
    if w.numel() and (int(w.min()) < 0 or int(w.max()) >= f.alphabet_size):
        raise ValueError(f"symbols must be in 0..{f.alphabet_size - 1}; got values in {int(w.min())}..{int(w.max())}")
    B, L = w.shape
    parts = f.split(w.t().contiguous())  # per factor (L, B)
    C = _chunk(device, B, chunk)
    beliefs, total = [None] * len(f.sizes), torch.zeros((L + 1, B), dtype=dtype, device=device)
    for st in f.stacks:
        buf, logs = _forward_stack(st, torch.stack([parts[k] for k in st.members], dim=1), float(zero_tol), C)
        total += logs.sum(dim=1)
        for j, k in enumerate(st.members):
            beliefs[k] = buf[:, j].transpose(0, 1)  # (B, L+1, n_k) view of time-major storage
    return (beliefs[0] if len(beliefs) == 1 else tuple(beliefs)), total.t()


def _forward_stack(st: FactorStack, xs: torch.Tensor, zero_tol: float, C: int):
    """Time-major beliefs ``(L+1, K, B, n)`` and log prefixes ``(L+1, K, B)`` of factor words ``xs (L, K, B)``."""
    L, K, B = xs.shape
    n = st.dim
    buf = torch.empty((L + 1, K, B, n), dtype=st.stacked.dtype, device=st.stacked.device)
    logs = torch.zeros((L + 1, K, B), dtype=st.stacked.dtype, device=st.stacked.device)
    buf[0] = st.initial[:, None, :]
    rowbase = torch.arange(K * min(C, max(B, 1)), device=xs.device) * st.blocks_per_row
    for b0 in range(0, B, C):
        b1 = min(B, b0 + C)
        for t in range(L):
            sel = _select(st.step(buf[t, :, b0:b1])[1], rowbase[:K * (b1 - b0)], xs[t, :, b0:b1])
            c = sel[..., n]
            ok = (c > zero_tol) & torch.isfinite(logs[t, :, b0:b1])
            safe = torch.where(ok, c, 1.0)
            buf[t + 1, :, b0:b1] = torch.where(ok[..., None], sel[..., :n] / safe[..., None], 0.0)
            logs[t + 1, :, b0:b1] = torch.where(ok, logs[t, :, b0:b1] + torch.log(safe), -torch.inf)
    return buf, logs


@dataclass(frozen=True)
class DeviceSample:
    """Words sampled on a device with their per-factor labels (:func:`sample_factors_on_device`).

    All tensors are views of time-major storage (``(L, n)``-ordered), seen batch-major.

    Attributes
    ----------
    words : (n, L) int64, joint symbols (mixed radix, first factor most significant)
    factor_words : tuple of (n, L) int64, each factor's symbols
    beliefs : tuple of (n, L+1, d_k), each factor's belief after ``t`` symbols (None
        without ``beliefs=True``)
    probs : tuple of (n, L, V_k), each factor's ``Pr(x | first t symbols)`` for
        ``t = 0..L-1``: the clipped weights the sampler drew from, normalized (None
        without ``probs=True``)
    """

    words: torch.Tensor
    factor_words: tuple
    beliefs: tuple | None = None
    probs: tuple | None = None


@torch.inference_mode()
def sample_factors_on_device(generator: Any, n: int, length: int, seed: int | None = None, *, device: Any = "cpu",
                             dtype: torch.dtype = torch.float64, beliefs: bool = True, probs: bool = False,
                             chunk: int | None = None) -> DeviceSample:
    """:func:`sample_on_device` with everything per factor (a :class:`DeviceSample`):
    the factors' words, beliefs and, with ``probs``, the next-symbol distributions the
    sampler computed anyway (``n L K V`` more memory, no more flops than a division).

    Same words and beliefs as :func:`sample_on_device` with the same arguments.
    """
    n, length = _check_count("n", n), _check_count("length", length)
    if seed is not None:
        seed = _check_count("seed", seed)
    f = device_factors(generator, device, dtype)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed) if seed is not None else gen.seed()
    C = _chunk(device, n, chunk)
    K = len(f.sizes)
    symbols, fbeliefs, fprobs = [None] * K, [None] * K, [None] * K
    for st in f.stacks:
        xs, buf, pbuf = _sample_stack(st, n, length, gen, bool(beliefs), bool(probs), C)
        for j, k in enumerate(st.members):
            symbols[k] = xs[:, j]
            fbeliefs[k] = buf[:, j].transpose(0, 1) if beliefs else None
            fprobs[k] = pbuf[:, j].transpose(0, 1) if probs else None
    words = f.joint(symbols).t()
    return DeviceSample(words, tuple(x.t() for x in symbols) if K > 1 else (words,),
                        tuple(fbeliefs) if beliefs else None, tuple(fprobs) if probs else None)


def sample_on_device(generator: Any, n: int, length: int, seed: int | None = None, *, device: Any = "cpu",
                     dtype: torch.dtype = torch.float64, return_beliefs: bool = False, chunk: int | None = None):
    """Sample ``n`` words of ``length`` symbols on ``device``, through beliefs.

    Parameters
    ----------
    generator : Generator, ProductGenerator, sequence of Generators (a product), or DeviceFactors
        Sampled from its stationary belief; a product factor by factor (joint symbols
        mixed-radix, first factor most significant).  :class:`DeviceFactors` built once
        on ``device`` (:func:`device_factors`) save rebuilding them on every call.
    n, length : int >= 0
    seed : int, optional
        Seeds the device's :class:`torch.Generator`; ``None`` draws fresh entropy.
    device, dtype : torch device, ``torch.float64`` or ``torch.float32``
    return_beliefs : bool
        Also return the beliefs after each prefix.
    chunk : int, optional
        Rows per pass (default: all on an accelerator, :data:`CPU_CHUNK` on a CPU); the
        words do not depend on it.

    Returns
    -------
    words : (n, length) int64 tensor
    beliefs : (n, length+1, d) tensor, or a tuple of ``(n, length+1, d_k)`` for a product
        (only with ``return_beliefs``); ``beliefs[:, t]`` is the belief after ``t`` symbols.

    Notes
    -----
    ``O(n L K V d^2)`` flops and ``n L K`` uniforms.  Symbol ``x`` is drawn as
    ``#{s < V-1 : F_s <= u F_V}`` from the clipped cumulative weights ``F`` (a weight-0
    symbol is never drawn).  The beliefs equal :func:`forward_on_device` of the words.
    Per-factor words and labels: :func:`sample_factors_on_device`.
    """
    out = sample_factors_on_device(generator, n, length, seed, device=device, dtype=dtype,
                                   beliefs=return_beliefs, chunk=chunk)
    if not return_beliefs:
        return out.words
    return out.words, (out.beliefs[0] if len(out.beliefs) == 1 else out.beliefs)


def _sample_stack(st: FactorStack, n: int, length: int, gen: torch.Generator, keep_beliefs: bool, keep_probs: bool,
                  C: int):
    """Time-major symbols ``(L, K, n)``, beliefs ``(L+1, K, n, d)`` (two rolling slots
    without ``keep_beliefs``) and, with ``keep_probs``, next-symbol distributions
    ``(L, K, n, V)`` (else None) of the factors of one stack."""
    K, d = st.initial.shape
    dev, dt = st.stacked.device, st.stacked.dtype
    u = torch.rand((length, K, n, 1), generator=gen, device=dev, dtype=dt)
    xs = torch.empty((length, K, n), dtype=torch.long, device=dev)
    buf = torch.empty((length + 1 if keep_beliefs else 2, K, n, d), dtype=dt, device=dev)
    pbuf = torch.empty((length, K, n, st.alphabet_size), dtype=dt, device=dev) if keep_probs else None
    buf[0] = st.initial[:, None, :]
    rowbase = torch.arange(K * min(C, max(n, 1)), device=dev) * st.blocks_per_row
    rows = rowbase.numel()
    gemm = torch.empty(rows * st.stacked.shape[2], dtype=dt, device=dev)  # reused by every step
    picked = torch.empty(rows * (d + 1), dtype=dt, device=dev)
    for b0 in range(0, n, C):
        b1 = min(n, b0 + C)
        for t in range(length):
            i, j = (t, t + 1) if keep_beliefs else (t % 2, 1 - t % 2)
            probs, blocks = st.step(buf[i, :, b0:b1], gemm)
            x, total = _draw(probs, u[t, :, b0:b1], xs[t, :, b0:b1])
            if keep_probs:
                torch.div(probs, torch.where(total > 0, total, 1.0)[..., None], out=pbuf[t, :, b0:b1])
            sel = _select(blocks, rowbase[:K * (b1 - b0)], x, picked)
            torch.div(sel[..., :d], sel[..., d:], out=buf[j, :, b0:b1])
    return xs, buf, pbuf
