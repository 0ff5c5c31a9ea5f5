"""Building processes from processes: independent products, Markov approximations, noise.

- :func:`product` — the independent joint process of several generators.  A joint symbol
  is the mixed-radix index of the factor symbols, first factor most significant
  (``x = x_1 V_2 V_3 ... + x_2 V_3 ... + ... + x_K``), matching ``numpy.ravel_multi_index``
  and the Kronecker order of the joint operators ``T[x] = T_1[x_1] (x) ... (x) T_K[x_K]``.
- :func:`markov_approximation` — the order-``k`` Markov chain with the same
  length-``(k+1)`` word distribution, as an HMM whose states are the length-``k`` words.
- :func:`noisy` — each emitted symbol replaced by a uniformly random one with
  probability ``epsilon``: ``T'[x] = (1 - eps) T[x] + (eps / V) sum_y T[y]``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import (Generator, as_rng, check_generator, check_name, check_sample_size, check_symbol,
                   check_words)
from .errors import ArgumentError, ShapeError, StateError, TooManyWordsError
from .limits import check_bytes
from .validation import check_int, check_probability, check_real
from .ghmm import GHMM
from .hmm import HMM
from .quantum import QuantumGenerator
from .words import all_words

__all__ = [
    "ProductGenerator",
    "product",
    "joint_symbol",
    "factor_symbols",
    "markov_approximation",
    "noisy",
]


class ProductGenerator(Generator):
    """The independent joint process of several generators, kept in factored form.

    Sampling, word probabilities and Bayesian updates run per factor (cost adds over
    factors); :meth:`to_ghmm` materializes the Kronecker-product GHMM of dimension
    ``prod n_k`` only when asked (refused above :data:`generators.limits.MAX_BYTES`).
    Native states are tuples of the factors' native states, each valid for its factor.
    """

    def __init__(self, factors: Sequence[Generator], *, name: str | None = None):
        if isinstance(factors, (Generator, str)) or not hasattr(factors, "__iter__"):
            raise ArgumentError(f"factors must be a list of Generator instances; got {type(factors).__name__}")
        factors = list(factors)
        if len(factors) < 1:
            raise ArgumentError("a product needs at least one factor; got an empty list")
        factors = [check_generator(f, f"factor {k}") for k, f in enumerate(factors)]
        name = check_name(name)
        self.factors = factors
        self.sizes = tuple(f.alphabet_size for f in factors)
        kinds = {f.kind for f in factors}
        self.kind = "post-quantum" if "post-quantum" in kinds else ("quantum" if "quantum" in kinds else "classical")
        self.name = name or " * ".join(f.name or type(f).__name__ for f in factors)

    @property
    def alphabet_size(self) -> int:
        return int(np.prod(self.sizes))

    @property
    def dim(self) -> int:
        return int(np.prod([f.dim for f in self.factors]))

    @property
    def initial_state(self) -> tuple:
        return tuple(f.initial_state for f in self.factors)

    def _build_ghmm(self) -> GHMM:
        n, V = self.dim_ghmm_estimate()
        check_bytes(8.0 * V * n * n, f"the {n}-dimensional joint GHMM of the product {self.name} ({V} operators)")
        gs = [f.to_ghmm() for f in self.factors]
        T, tau, init = gs[0].operators, gs[0].tau, gs[0].initial
        for h in gs[1:]:
            V1, n1 = T.shape[0], T.shape[1]
            V2, n2 = h.operators.shape[0], h.operators.shape[1]
            T = np.einsum("aij,bkl->abikjl", T, h.operators).reshape(V1 * V2, n1 * n2, n1 * n2)
            tau = np.kron(tau, h.tau)
            init = np.kron(init, h.initial)
        return GHMM(T, tau, init, check_words_upto=0, name=self.name)

    def dim_ghmm_estimate(self) -> tuple[int, int]:
        """``(prod n_k, prod V_k)``: dimension and alphabet of the joint GHMM form."""
        return int(np.prod([f.to_ghmm().dim for f in self.factors], dtype=float)), self.alphabet_size

    def factor_beliefs(self, eta: np.ndarray) -> list[np.ndarray]:
        """Per-factor GHMM beliefs (marginals) of joint beliefs ``(..., prod n_k)``.

        Factor ``k``'s belief is the joint one contracted with every other factor's
        ``tau``; exact for product beliefs, the marginal for correlated ones.
        """
        gs = [f.to_ghmm() for f in self.factors]
        dims = [h.dim for h in gs]
        eta = np.asarray(eta, dtype=float)
        lead = eta.shape[:-1]
        t = eta.reshape(lead + tuple(dims))
        out = []
        for k in range(len(gs)):
            m = t
            for j in reversed(range(len(gs))):  # descending, so axis positions stay valid
                if j != k:
                    m = np.tensordot(m, gs[j].tau, axes=([len(lead) + j], [0]))
            out.append(m)
        return out

    def to_native(self, eta: np.ndarray) -> tuple:
        return tuple(f.to_native(b) for f, b in zip(self.factors, self.factor_beliefs(eta)))

    def from_native(self, state: Any) -> np.ndarray:
        if not isinstance(state, (tuple, list)) or len(state) != len(self.factors):
            raise ShapeError(f"a product state is a tuple of {len(self.factors)} factor states")
        parts = [f.from_native(s) for f, s in zip(self.factors, state)]
        out = parts[0]
        for p in parts[1:]:
            out = (out[..., :, None] * p[..., None, :]).reshape(out.shape[:-1] + (-1,))
        return out

    # ------------------------------------------------------------------ the state rule
    def _checked_belief(self, state: Any, name: str, batch: bool) -> np.ndarray:
        parts = [f.check_state(s, name=f"{name}[{k}]", batch=batch)
                 for k, (f, s) in enumerate(zip(self.factors, self._split(state, name)))]
        out = parts[0]
        for p in parts[1:]:
            out = (out[..., :, None] * p[..., None, :]).reshape(np.broadcast_shapes(out.shape[:-1], p.shape[:-1]) + (-1,))
        return out

    def _split(self, state: Any, name: str = "state") -> list:
        """The factor states of a product state (a tuple or list with one per factor)."""
        if state is None:
            return [None] * len(self.factors)
        if not isinstance(state, (tuple, list)) or len(state) != len(self.factors):
            got = f"{type(state).__name__} of length {len(state)}" if isinstance(state, (tuple, list)) else \
                type(state).__name__
            raise StateError(f"{name} of a product must be a tuple of {len(self.factors)} factor states "
                             f"(one per factor); got a {got}")
        for k, (f, s) in enumerate(zip(self.factors, state)):
            if s is None:
                raise StateError(f"{name}[{k}] must be a state of factor {k}; got None")
        return list(state)

    # ------------------------------------------------------------------ factored fast paths
    def emission_probs(self, state: Any = None) -> np.ndarray:
        if state is None:
            state = self.initial_state
        else:
            self.check_state(state, batch=True)
        probs = [f.emission_probs(s) for f, s in zip(self.factors, state)]
        out = probs[0]
        for p in probs[1:]:
            out = (out[..., :, None] * p[..., None, :]).reshape(out.shape[:-1] + (-1,))
        return out

    def update(self, state: Any, x: int) -> tuple:
        self.check_state(state)
        xs = factor_symbols(check_symbol(x, self.alphabet_size), self.sizes)
        return tuple(f.update(s, int(xi)) for f, s, xi in zip(self.factors, state, xs))

    def word_probability(self, words: Any, state: Any = None) -> np.ndarray:
        w = check_words(words, self.alphabet_size)
        parts = factor_symbols(w, self.sizes)
        states = self._checked_split(state)
        out = np.ones(w.shape[:-1])
        for k, f in enumerate(self.factors):
            out = out * f.word_probability(parts[..., k], state=states[k])
        return out

    def log_word_probability(self, words: Any, state: Any = None) -> np.ndarray:
        w = check_words(words, self.alphabet_size)
        parts = factor_symbols(w, self.sizes)
        states = self._checked_split(state)
        out = np.zeros(w.shape[:-1])
        for k, f in enumerate(self.factors):
            out = out + f.log_word_probability(parts[..., k], state=states[k])
        return out

    def sample(self, n: int, length: int, seed=None, state: Any = None, return_beliefs: bool = False):
        rng = as_rng(seed)
        # the joint words and beliefs; each factor checks its own work arrays
        n, length, return_beliefs = check_sample_size(n, length, self.dim_ghmm_estimate()[0], 0, return_beliefs)
        seeds = rng.spawn(len(self.factors))
        states = self._checked_split(state)
        results = [f.sample(n, length, seed=s, state=st, return_beliefs=return_beliefs)
                   for f, s, st in zip(self.factors, seeds, states)]
        if return_beliefs:
            words = joint_symbol(np.stack([r[0] for r in results], axis=-1), self.sizes)
            beliefs = results[0][1]
            for r in results[1:]:
                b = r[1]
                beliefs = (beliefs[..., :, None] * b[..., None, :]).reshape(beliefs.shape[:-1] + (-1,))
            return words, beliefs
        return joint_symbol(np.stack(results, axis=-1), self.sizes)

    def _checked_split(self, state: Any) -> list:
        """Factor states of a user-given product state, validated (``None`` entries if no state)."""
        if state is None:
            return [None] * len(self.factors)
        self.check_state(state)
        return self._split(state)


def product(*generators: Generator, name: str | None = None) -> ProductGenerator:
    """The independent joint process of ``generators`` (see :class:`ProductGenerator`).

    ``Pr(joint word) = prod_k Pr_k(factor word k)``; the joint symbol alphabet has
    ``prod V_k`` symbols, indexed in mixed radix (:func:`joint_symbol`).
    """
    if len(generators) == 1 and isinstance(generators[0], (list, tuple)):
        generators = tuple(generators[0])
    return ProductGenerator(generators, name=name)


def joint_symbol(symbols: Any, sizes: Sequence[int]) -> np.ndarray:
    """Mixed-radix joint symbols from per-factor symbols ``(..., K) -> (...)``."""
    sizes = _check_sizes(sizes)
    s = check_words(symbols, max(sizes), name="factor symbols")
    if s.shape[-1:] != (len(sizes),):
        raise ShapeError(f"factor symbols must have last dimension {len(sizes)}; got {s.shape}")
    over = s >= np.array(sizes)
    if over.any():
        k = int(np.argwhere(over)[0][-1])
        raise ShapeError(f"factor symbol {int(s[over].flat[0])} out of range for factor {k}: symbols must be in "
                         f"0..{sizes[k] - 1}")
    return np.ravel_multi_index(tuple(np.moveaxis(s, -1, 0)), tuple(sizes))


def factor_symbols(joint: Any, sizes: Sequence[int]) -> np.ndarray:
    """Per-factor symbols from mixed-radix joint symbols ``(...) -> (..., K)``."""
    sizes = _check_sizes(sizes)
    if isinstance(joint, (int, np.integer)) and not isinstance(joint, (bool, np.bool_)):
        j = np.asarray(check_symbol(joint, int(np.prod(sizes)), name="joint symbol"))
    else:
        j = check_words(np.asarray(joint)[..., None], int(np.prod(sizes)), name="joint symbols")[..., 0]
    return np.stack(np.unravel_index(j, tuple(sizes)), axis=-1)


def _check_sizes(sizes: Any) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) == 0:
        raise ArgumentError(f"sizes must be a nonempty sequence of alphabet sizes; got {sizes!r}")
    return tuple(check_int(v, f"sizes[{k}]", minimum=1) for k, v in enumerate(sizes))


def markov_approximation(g: Generator, order: int, *, tol: float = 1e-15) -> HMM:
    """The order-``k`` Markov approximation of ``g`` as an HMM.

    States are the length-``k`` words ``u`` with ``Pr(u) > tol``; from state ``u`` the
    chain emits ``x`` with ``Pr(x | u) = Pr(u x) / Pr(u)`` and moves to the last ``k``
    symbols of ``u x``.  It reproduces every length-``(k+1)`` word probability of ``g``
    (its stationary distribution is ``Pr(u)``).  ``order = 0`` gives the i.i.d. process
    with the same symbol probabilities.  Cost ``V^(k+1)`` word probabilities.
    """
    g = check_generator(g)
    k, V = check_int(order, "order", minimum=0), g.alphabet_size
    tol = check_real(tol, "tol", minimum=0.0)
    if V ** (k + 1) > 5_000_000:
        raise TooManyWordsError(f"order {k} needs {V ** (k + 1):,} words of length {k + 1}; too many (max 5e6)")
    words = all_words(V, k + 1)
    p = np.clip(g.word_probability(words), 0.0, None).reshape((V ** k, V))  # rows: prefix u, cols: x
    pu = p.sum(axis=1)
    keep = np.nonzero(pu > tol)[0]
    index = -np.ones(V ** k, dtype=np.int64)
    index[keep] = np.arange(keep.size)
    m = keep.size
    T = np.zeros((V, m, m))
    cond = p[keep] / pu[keep, None]  # (m, V)
    nxt = (keep[:, None] * V + np.arange(V)[None, :]) % (V ** k) if k > 0 else np.zeros((m, V), dtype=np.int64)
    tgt = index[nxt]  # (m, V); -1 only where cond == 0
    rows, xs = np.nonzero(cond > 0)
    T[xs, rows, tgt[rows, xs]] = cond[rows, xs]
    initial = pu[keep] / pu[keep].sum()
    name = f"markov{k}({g.name})" if g.name else f"markov{k}"
    return HMM(T, initial, name=name)


def noisy(g: Generator, epsilon: float) -> Generator:
    """``g`` observed through a symmetric noisy channel: with probability ``epsilon`` each
    emitted symbol is replaced by a uniformly random one (the hidden dynamics unchanged).

    Keeps the generator's type: an HMM stays an HMM, a quantum instrument stays an
    instrument (Kraus operators ``sqrt(1-eps) K_x`` and ``sqrt(eps/V) K_y`` for all
    ``y``), anything else becomes a GHMM.
    """
    g = check_generator(g)
    eps = check_probability(epsilon, "epsilon")
    V = g.alphabet_size
    name = f"noisy({g.name}, {eps:g})" if g.name else None
    if isinstance(g, QuantumGenerator):
        allk = np.concatenate(g.kraus, axis=0)
        kraus = [np.concatenate([np.sqrt(1 - eps) * K, np.sqrt(eps / V) * allk], axis=0) for K in g.kraus]
        return QuantumGenerator(kraus, g.initial_state, name=name)
    h = g.to_ghmm()
    T = (1 - eps) * h.operators + (eps / V) * h.operators.sum(axis=0)[None]
    if isinstance(g, HMM):
        return HMM(T, g.initial_state, name=name)
    return GHMM(T, h.tau, h.initial, check_words_upto=0, name=name)
