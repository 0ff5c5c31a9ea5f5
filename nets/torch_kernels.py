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
  inverse CDF with negative weights counted as 0), optionally with the beliefs.

A *product* is a :class:`generators.ProductGenerator` or a sequence of generators (its
factors).  Joint symbols are mixed-radix, first factor most significant
(:func:`generators.joint_symbol`); each factor is filtered / sampled on its own, so the
cost adds over factors (the 3 Mess3 x 2 Bloch walk product has 432 joint symbols and a
432-dimensional joint GHMM; its factors have dimension 3 and 4).  Beliefs of a product
are returned per factor, as a tuple.

Per step and factor the work is one GEMM ``(B, n) @ (n, V + V (n+1))`` (symbol
probabilities and every symbol's ``[T[x] | T[x] tau]`` at once), a gather, a division
and, when sampling, one uniform per row; no host synchronization inside the time loop.
Random numbers come from a :class:`torch.Generator` on ``device`` seeded with ``seed``
(per factor: seeds spawned by :class:`numpy.random.SeedSequence`), so a seed reproduces
the words on one device type, not across CPU and GPU, nor the numpy sampler's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from generators import Generator, ProductGenerator

__all__ = ["DeviceGHMM", "device_factors", "forward_on_device", "sample_on_device"]

#: conditional probabilities at or below this mark a prefix impossible (as generators.ghmm.ZERO_TOL)
ZERO_TOL = 1e-13


@dataclass(frozen=True)
class DeviceGHMM:
    """A GHMM's arrays on a device.

    Attributes
    ----------
    stacked : (n, V + V (n+1)) tensor
        ``[T[0] tau, ..., T[V-1] tau | T[0], T[0] tau | ... | T[V-1], T[V-1] tau]``: one
        GEMM of beliefs ``(B, n)`` with it gives the symbol probabilities and every
        symbol's unnormalized next belief with its normalizer.
    initial : (n,) tensor, the stationary belief (``initial @ tau == 1``)
    alphabet_size, dim : int
    """

    stacked: torch.Tensor
    initial: torch.Tensor
    alphabet_size: int
    dim: int

    @classmethod
    def from_generator(cls, g: Generator, device: Any = "cpu", dtype: torch.dtype = torch.float64) -> "DeviceGHMM":
        """The GHMM form of ``g`` (:meth:`Generator.to_ghmm`) on ``device`` in ``dtype``."""
        h = g.to_ghmm()
        T, tau = np.asarray(h.operators, dtype=float), np.asarray(h.tau, dtype=float)
        V, n, _ = T.shape
        sv = T @ tau  # (V, n)
        blocks = np.concatenate([T, sv[:, :, None]], axis=2).transpose(1, 0, 2).reshape(n, V * (n + 1))
        stacked = np.concatenate([sv.T, blocks], axis=1)
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)  # noqa: E731
        return cls(as_t(stacked), as_t(h.initial / (h.initial @ tau)), V, n)

    def step(self, eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(probabilities (B, V), blocks (B, V, n+1))`` from beliefs ``eta (B, n)``."""
        out = eta @ self.stacked
        V = self.alphabet_size
        return out[:, :V], out[:, V:].reshape(-1, V, self.dim + 1)


def device_factors(generator: Any, device: Any = "cpu", dtype: torch.dtype = torch.float64) -> list[DeviceGHMM]:
    """The factors of ``generator`` on ``device``: one for a plain generator, one per factor
    of a :class:`ProductGenerator` or of a sequence of generators."""
    if isinstance(generator, ProductGenerator):
        parts = generator.factors
    elif isinstance(generator, (list, tuple)):
        parts = list(generator)
    else:
        parts = [generator]
    if not parts or not all(isinstance(p, Generator) for p in parts):
        raise TypeError(f"expected a Generator or a sequence of Generators; got {generator!r}")
    return [DeviceGHMM.from_generator(p, device, dtype) for p in parts]


def _check_dtype(dtype: torch.dtype) -> None:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")


def _select(blocks: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Rows ``blocks[b, x[b]]`` of ``(B, V, n+1)``: ``(B, n+1)``."""
    idx = x.view(-1, 1, 1).expand(-1, 1, blocks.shape[2])
    return torch.gather(blocks, 1, idx).squeeze(1)


def _forward_one(h: DeviceGHMM, words: torch.Tensor, zero_tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    B, L = words.shape
    n = h.dim
    beliefs = torch.empty((B, L + 1, n), dtype=h.stacked.dtype, device=h.stacked.device)
    logs = torch.zeros((B, L + 1), dtype=h.stacked.dtype, device=h.stacked.device)
    eta = h.initial.expand(B, n)
    beliefs[:, 0] = eta
    logp = logs[:, 0]
    for t in range(L):
        sel = _select(h.step(eta)[1], words[:, t])
        c = sel[:, n]
        ok = (c > zero_tol) & torch.isfinite(logp)
        eta = torch.where(ok[:, None], sel[:, :n] / torch.where(ok, c, 1.0)[:, None], 0.0)
        logp = torch.where(ok, logp + torch.log(torch.where(ok, c, 1.0)), -torch.inf)
        beliefs[:, t + 1] = eta
        logs[:, t + 1] = logp
    return beliefs, logs


@torch.inference_mode()
def forward_on_device(generator: Any, words: Any, *, device: Any = "cpu", dtype: torch.dtype = torch.float64,
                      zero_tol: float = ZERO_TOL):
    """Beliefs and log prefix probabilities of words ``(B, L)`` on ``device``.

    Parameters
    ----------
    generator : Generator, ProductGenerator, or sequence of Generators (a product)
        Filtered from its stationary belief; a product factor by factor.
    words : int array or tensor (B, L)
        Symbols ``0..V-1`` (joint symbols for a product).
    device, dtype : torch device, ``torch.float64`` or ``torch.float32``
    zero_tol : float >= 0

    Returns
    -------
    beliefs : (B, L+1, n) tensor, or a tuple of ``(B, L+1, n_k)`` for a product
    log_prefix : (B, L+1) tensor, natural log (sum over factors for a product)

    Notes
    -----
    ``O(B L sum_k V_k n_k^2)`` flops in ``L`` steps.  In float64 it agrees with
    :func:`generators.kernels.forward_filter` to rounding (1e-12).
    """
    _check_dtype(dtype)
    if not float(zero_tol) >= 0:
        raise ValueError(f"zero_tol must be >= 0; got {zero_tol!r}")
    factors = device_factors(generator, device, dtype)
    sizes = [h.alphabet_size for h in factors]
    w = torch.as_tensor(np.asarray(words) if not torch.is_tensor(words) else words, device=device)
    if w.ndim != 2 or w.dtype in (torch.float16, torch.float32, torch.float64, torch.bool):
        raise ValueError(f"words must be an integer array of shape (B, L); got {tuple(w.shape)} {w.dtype}")
    w = w.long()
    if w.numel() and (int(w.min()) < 0 or int(w.max()) >= int(np.prod(sizes))):
        raise ValueError(f"symbols must be in 0..{int(np.prod(sizes)) - 1}")
    out, total = [], None
    for h, part in zip(factors, _factor_symbols(w, sizes)):
        b, lg = _forward_one(h, part, float(zero_tol))
        out.append(b)
        total = lg if total is None else total + lg
    return (out[0] if len(out) == 1 else tuple(out)), total


def _factor_symbols(w: torch.Tensor, sizes: Sequence[int]) -> list[torch.Tensor]:
    """Per-factor symbols of mixed-radix joint symbols (first factor most significant)."""
    parts, rest = [], w
    for V in reversed(sizes):
        parts.append(rest % V)
        rest = torch.div(rest, V, rounding_mode="floor")
    return parts[::-1]


def _sample_one(h: DeviceGHMM, n: int, length: int, gen: torch.Generator, return_beliefs: bool):
    d, V = h.dim, h.alphabet_size
    dev, dt = h.stacked.device, h.stacked.dtype
    words = torch.empty((n, length), dtype=torch.long, device=dev)
    beliefs = torch.empty((n, length + 1, d), dtype=dt, device=dev) if return_beliefs else None
    eta = h.initial.expand(n, d)
    if return_beliefs:
        beliefs[:, 0] = eta
    for t in range(length):
        probs, blocks = h.step(eta)
        cum = torch.cumsum(probs.clamp_min(0.0), dim=1)
        u = torch.rand(n, generator=gen, device=dev, dtype=dt) * cum[:, -1]
        x = (cum[:, :-1] <= u[:, None]).sum(dim=1)  # inverse CDF; weight-0 symbols never drawn
        sel = _select(blocks, x)
        eta = sel[:, :d] / sel[:, d:]
        words[:, t] = x
        if return_beliefs:
            beliefs[:, t + 1] = eta
    return words, beliefs


@torch.inference_mode()
def sample_on_device(generator: Any, n: int, length: int, seed: int | None = None, *, device: Any = "cpu",
                     dtype: torch.dtype = torch.float64, return_beliefs: bool = False):
    """Sample ``n`` words of ``length`` symbols on ``device``, through beliefs.

    Parameters
    ----------
    generator : Generator, ProductGenerator, or sequence of Generators (a product)
        Sampled from its stationary belief; a product factor by factor (joint symbols
        mixed-radix, first factor most significant).
    n, length : int >= 0
    seed : int, optional
        Seeds the device's :class:`torch.Generator` (per factor: spawned seeds); ``None``
        draws fresh entropy.
    device, dtype : torch device, ``torch.float64`` or ``torch.float32``
    return_beliefs : bool
        Also return the beliefs after each prefix.

    Returns
    -------
    words : (n, length) int64 tensor
    beliefs : (n, length+1, d) tensor, or a tuple of ``(n, length+1, d_k)`` for a product
        (only with ``return_beliefs``); ``beliefs[:, t]`` is the belief after ``t`` symbols.

    Notes
    -----
    ``O(n L sum_k V_k d_k^2)`` flops and ``n L K`` uniforms for ``K`` factors.  The
    beliefs equal :func:`forward_on_device` of the returned words.
    """
    _check_dtype(dtype)
    for name, value in (("n", n), ("length", length)):
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name} must be a nonnegative integer; got {value!r}")
    if seed is not None and (isinstance(seed, bool) or int(seed) != seed or seed < 0):
        raise ValueError(f"seed must be a nonnegative integer or None; got {seed!r}")
    factors = device_factors(generator, device, dtype)
    seeds = np.random.SeedSequence(seed).spawn(len(factors))
    words, beliefs = None, []
    for h, ss in zip(factors, seeds):
        gen = torch.Generator(device=device)
        gen.manual_seed(int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)))
        w, b = _sample_one(h, int(n), int(length), gen, return_beliefs)
        words = w if words is None else words * h.alphabet_size + w
        beliefs.append(b)
    if not return_beliefs:
        return words
    return words, (beliefs[0] if len(beliefs) == 1 else tuple(beliefs))
