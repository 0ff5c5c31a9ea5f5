"""The JAX peer kernels the generator benchmark compares against (optional: ``pip install '.[bench]'``).

Written in the style of the field's JAX library (Simplex): one function per *sequence*,
a ``jax.lax.scan`` over time steps, ``jax.vmap`` over the batch, ``jax.jit`` around all
of it.  The math is the same as qbelief's kernels (row-vector GHMM convention,
``Pr(w) = initial T[w1] ... T[wL] tau``):

- :func:`forward_filter` -- beliefs ``eta_t = eta_{t-1} T[w_t] / (eta_{t-1} T[w_t] tau)``
  and log prefix probabilities (the sum of the log normalizers), ``(B, L+1, n)`` and
  ``(B, L+1)``.  Like the peer it does not guard impossible prefixes (our kernel does),
  which only makes the baseline faster.
- :func:`sample_beliefs` -- sampling through beliefs: ``x ~ eta T[x] tau``, then the
  belief update; one PRNG key per sequence split into one key per step (the peer's scheme).
- :func:`sample_hidden` -- an HMM's hidden-state walk: draw the pair (symbol, next state)
  from the current state's row of the joint table by inverse CDF (precomputed cumulative
  table, ``searchsorted``).
- :func:`word_probabilities` -- ``initial T[w1] ... T[wL] tau`` per word.

Precision and threads are set by the caller *before* JAX is imported (see
``benchmarks/bench_generators.py``): ``JAX_ENABLE_X64=1`` (or
``jax.config.update("jax_enable_x64", True)``) for float64, and
``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"`` for a
single thread.  Every function here takes the dtype explicitly, so one process can time
both float32 and float64 once x64 is enabled.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["forward_filter", "sample_beliefs", "sample_hidden", "word_probabilities", "to_device", "block"]


def to_device(ghmm, dtype) -> tuple:
    """``(operators, tau, initial)`` of a qbelief GHMM as JAX arrays of ``dtype``."""
    return tuple(jnp.asarray(np.asarray(a), dtype=dtype) for a in (ghmm.operators, ghmm.tau, ghmm.initial))


def block(out):
    """Wait for every array in ``out`` (JAX dispatch is asynchronous)."""
    return jax.tree_util.tree_map(lambda a: a.block_until_ready(), out)


@jax.jit
def forward_filter(ops, tau, initial, words):
    """Beliefs ``(B, L+1, n)`` and log prefix probabilities ``(B, L+1)`` of words ``(B, L)``."""

    def one(word):
        def step(carry, x):
            eta, logp = carry
            v = eta @ ops[x]
            c = v @ tau
            eta = v / c
            logp = logp + jnp.log(c)
            return (eta, logp), (eta, logp)

        zero = jnp.zeros((), dtype=initial.dtype)
        _, (etas, logs) = jax.lax.scan(step, (initial, zero), word)
        return jnp.concatenate([initial[None], etas]), jnp.concatenate([zero[None], logs])

    return jax.vmap(one)(words)


@partial(jax.jit, static_argnames=("n", "length", "return_beliefs"))
def sample_beliefs(ops, tau, initial, key, n: int, length: int, return_beliefs: bool = False):
    """``n`` words of ``length`` sampled through beliefs (and the beliefs ``(n, L, n_dim)``)."""
    V = ops.shape[0]
    symbol_vectors = ops @ tau  # (V, n): Pr(x | eta) = eta @ T[x] @ tau

    def one(seq_key):
        def step(eta, k):
            probs = symbol_vectors @ eta
            x = jax.random.choice(k, V, p=probs)
            v = eta @ ops[x]
            eta = v / (v @ tau)
            return eta, ((eta, x) if return_beliefs else x)

        _, out = jax.lax.scan(step, initial, jax.random.split(seq_key, length))
        return out

    return jax.vmap(one)(jax.random.split(key, n))


@partial(jax.jit, static_argnames=("n", "length"))
def sample_hidden(T, initial, key, n: int, length: int):
    """``n`` words of ``length`` from an HMM ``T (V, k, k)`` by walking its hidden states."""
    V, k = T.shape[0], T.shape[1]
    cum = jnp.cumsum(jnp.transpose(T, (1, 0, 2)).reshape(k, V * k), axis=1)  # (k, V k)
    cum = cum / cum[:, -1:]
    start_cum = jnp.cumsum(initial)

    def one(seq_key):
        k0, rest = jax.random.split(seq_key)
        s0 = jnp.minimum(jnp.searchsorted(start_cum, jax.random.uniform(k0, dtype=T.dtype), side="right"), k - 1)

        def step(s, kk):
            u = jax.random.uniform(kk, dtype=T.dtype)
            idx = jnp.minimum(jnp.searchsorted(cum[s], u, side="right"), V * k - 1)
            return idx % k, idx // k

        _, xs = jax.lax.scan(step, s0, jax.random.split(rest, length))
        return xs

    return jax.vmap(one)(jax.random.split(key, n))


@jax.jit
def word_probabilities(ops, tau, initial, words):
    """``initial T[w1] ... T[wL] tau`` for words ``(B, L)``."""

    def one(word):
        v, _ = jax.lax.scan(lambda v, x: (v @ ops[x], None), initial, word)
        return v @ tau

    return jax.vmap(one)(words)
