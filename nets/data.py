"""Training data with belief labels: token batches of a generator's process.

A :class:`BeliefData` turns a generator into batches for next-symbol prediction.  Each
batch holds, for every input position ``t`` of the model:

- ``tokens[b, t]``: the model input (symbols ``0..V-1``; optional BOS token ``V`` first),
- ``targets[b, t]``: the sampled next symbol,
- ``next_probs[b, t]``: the exact next-symbol distribution ``Pr(x | prefix)`` (V,),
- ``beliefs[b, t]``: the belief after the prefix seen at ``t``, in GHMM coordinates of the
  chosen representation (``"minimal"``: :func:`generators.minimize`, first coordinate 1;
  ``"native"``: the generator's own GHMM form),
- ``prefix_prob[b, t]``: the probability of that prefix.

Alignment (``L`` = number of model positions, the *context*):

- without BOS, words have length ``L + 1``; the input is ``w[:, :L]``, the target
  ``w[:, 1:]``; position ``t`` has seen ``t + 1`` symbols, its optimal loss is the
  myopic entropy ``h(t + 2)``;
- with BOS, words have length ``L``; the input is ``[BOS, w[:, :L-1]]``, the target ``w``;
  position ``t`` has seen ``t`` symbols (position 0 the stationary belief), optimum
  ``h(t + 1)``.

Two sampling modes draw the same distribution of words (i.i.d. from the stationary
process): ``"stream"`` samples fresh sequences each step (Shai et al. 2024; any length,
any alphabet) and ``"exact"`` enumerates all words of the word length once with their
exact probabilities and draws batches from that table (Riechers et al. 2025); the exact
table also gives the exact probability-weighted validation loss.

Batches are a pure function of ``(seed, step)`` (:meth:`BeliefData.batch`), so training
is reproducible, resumable and identical across data-parallel ranks without RNG state.
Everything is vectorized over the batch; the only Python loop runs over positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Iterator

import numpy as np
import torch

from generators.words import all_words

__all__ = ["Batch", "BeliefData", "resolve_process", "MODES", "REPRESENTATIONS", "TARGETS"]

MODES = ("stream", "exact")
REPRESENTATIONS = ("minimal", "native")
TARGETS = ("sampled", "exact")

#: largest number of words the exact mode enumerates by default
MAX_WORDS = 1 << 20


@dataclass(frozen=True)
class Batch:
    """One batch of ``B`` sequences over ``L`` model positions (all torch tensors).

    Attributes
    ----------
    tokens : int64 (B, L)
        Model input; BOS (if used) is token ``V``.
    targets : int64 (B, L)
        Sampled next symbol at every position.
    next_probs : float32 (B, L, V)
        Exact next-symbol distribution given the prefix seen at each position.
    beliefs : float64 (B, L, n)
        Belief after the prefix seen at each position (GHMM coordinates of the data's
        representation; normalized so ``beliefs @ tau == 1``).
    prefix_prob : float64 (B, L)
        Probability of the prefix seen at each position (1 for the empty prefix).
    words : int64 (B, word_length)
        The underlying words (without BOS).
    weights : float64 (B,) or None
        Word probabilities for an enumeration (:meth:`BeliefData.enumerate`), which sum to
        1; ``None`` for sampled batches (each row then has weight ``1/B``).
    """

    tokens: torch.Tensor
    targets: torch.Tensor
    next_probs: torch.Tensor
    beliefs: torch.Tensor
    prefix_prob: torch.Tensor
    words: torch.Tensor
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def to(self, device: Any) -> "Batch":
        """The batch on ``device`` (non-blocking copies)."""
        return replace(self, **{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    def slice(self, start: int, stop: int) -> "Batch":
        """Rows ``start:stop`` (e.g. one data-parallel rank's share of a global batch)."""
        return replace(self, **{f.name: _rows(getattr(self, f.name), start, stop) for f in fields(self)})


class BeliefData:
    """Batches of a process with exact belief labels.

    Parameters
    ----------
    process : Generator or str
        A generator, or a library spec such as ``"mess3:x=0.05,a=0.85"`` or
        ``"bloch_walk"`` (see :func:`generators.library.parse_spec`).
    context : int
        Number of model positions ``L`` (>= 1).
    mode : {"stream", "exact"}
        ``"stream"``: fresh sequences sampled each batch; ``"exact"``: all words of the
        word length enumerated with exact probabilities, batches drawn from them.
    representation : {"minimal", "native"}
        GHMM coordinates of the belief labels (and of the sampler).
    bos : bool
        Prepend a beginning-of-sequence token (id ``V``).
    seed : int
        Base seed; batch ``step`` uses ``numpy.random.default_rng([seed, step])``.
    max_words : int
        Cap on the exact-mode table size ``V ** word_length``.

    Attributes
    ----------
    generator, ghmm : the process and the GHMM of its belief representation
    alphabet_size : V;  vocab_size : V (+1 with BOS);  bos_token : V or None
    context : L;  word_length : L + 1 (L with BOS);  belief_dim : n
    symbol_vectors : (V, n) ``T[x] @ tau``, so ``Pr(x | eta) = eta @ symbol_vectors.T``
    """

    def __init__(self, process: Any, context: int, *, mode: str = "stream", representation: str = "minimal",
                 bos: bool = False, seed: int = 0, max_words: int = MAX_WORDS):
        self.generator = resolve_process(process)
        if isinstance(context, bool) or int(context) != context or context < 1:
            raise ValueError(f"context must be a positive integer (number of model positions); got {context!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}; got {representation!r}")
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a nonnegative integer; got {seed!r}")
        self.context = int(context)
        self.mode = mode
        self.representation = representation
        self.bos = bool(bos)
        self.seed = int(seed)
        self.max_words = int(max_words)
        if representation == "minimal":
            from generators import minimize

            self.ghmm = minimize(self.generator)
        else:
            self.ghmm = self.generator.to_ghmm()
        self.alphabet_size = int(self.generator.alphabet_size)
        self.bos_token = self.alphabet_size if self.bos else None
        self.vocab_size = self.alphabet_size + int(self.bos)
        self.word_length = self.context + (0 if self.bos else 1)
        self.belief_dim = int(self.ghmm.dim)
        self.symbol_vectors = np.asarray(self.ghmm.symbol_vectors, dtype=float)
        self._optimum = None
        self._table: Batch | None = None
        self._cdf: np.ndarray | None = None
        if mode == "exact":
            n_words = self.alphabet_size ** self.word_length
            if n_words > self.max_words:
                raise ValueError(
                    f"exact mode enumerates V**word_length = {self.alphabet_size}**{self.word_length} = "
                    f"{n_words:,} words, more than max_words={self.max_words:,}; use mode='stream', "
                    "a shorter context, or raise max_words"
                )
            self._table = self.enumerate()
            self._cdf = np.cumsum(self._table.weights.numpy())

    # ------------------------------------------------------------------ batches
    def batch(self, step: int, batch_size: int) -> Batch:
        """Batch number ``step``: a pure function of ``(seed, step, batch_size)``."""
        if isinstance(step, bool) or int(step) != step or step < 0:
            raise ValueError(f"step must be a nonnegative integer; got {step!r}")
        return self.sample(batch_size, np.random.default_rng([self.seed, int(step)]))

    def sample(self, batch_size: int, rng: Any = None) -> Batch:
        """A batch of ``batch_size`` i.i.d. words from the stationary process.

        ``rng``: a :class:`numpy.random.Generator`, an int seed, or None (fresh entropy).
        """
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        B = int(batch_size)
        if self.mode == "exact":
            u = rng.random(B) * self._cdf[-1]
            idx = np.minimum(np.searchsorted(self._cdf, u, side="right"), self._cdf.size - 1)
            rows = torch.from_numpy(idx)
            t = self._table
            return Batch(t.tokens[rows], t.targets[rows], t.next_probs[rows], t.beliefs[rows],
                         t.prefix_prob[rows], t.words[rows], None)
        words, beliefs = self.ghmm.sample(B, self.word_length, seed=rng, return_beliefs=True)
        return self._assemble(words, beliefs, None)

    def iterate(self, batch_size: int, start: int = 0) -> Iterator[Batch]:
        """Endless batches ``start, start + 1, ...`` (see :meth:`batch`)."""
        step = int(start)
        while True:
            yield self.batch(step, batch_size)
            step += 1

    def enumerate(self) -> Batch:
        """All words of ``word_length`` symbols with their probabilities as ``weights``.

        Zero-probability words are dropped; ``weights`` sum to 1.  Raises ``ValueError``
        if ``V ** word_length`` exceeds ``max_words``.
        """
        L = self.word_length
        n_words = self.alphabet_size ** L
        if n_words > self.max_words:
            raise ValueError(f"enumerating {self.alphabet_size}**{L} = {n_words:,} words exceeds "
                             f"max_words={self.max_words:,}")
        words = all_words(self.alphabet_size, L)
        beliefs, logp = self.ghmm.forward(words)
        p = np.exp(logp[:, -1])
        keep = p > 0
        words, beliefs, p = words[keep], beliefs[keep], p[keep]
        return self._assemble(words, beliefs, p / p.sum())

    # ------------------------------------------------------------------ losses
    @property
    def optimum(self) -> np.ndarray:
        """Bayes-optimal cross-entropy per position, nats, shape (L,) (``bayes.myopic_entropy``)."""
        if self._optimum is None:
            from bayes import myopic_entropy

            h = np.asarray(myopic_entropy(self.generator, self.word_length, base=math.e), dtype=float)
            self._optimum = h if self.bos else h[1:]
        return self._optimum

    @property
    def optimum_mean(self) -> float:
        """Mean over positions of :attr:`optimum` (the optimum of the mean loss), nats."""
        return float(np.mean(self.optimum))

    def validation_loss(self, model: torch.nn.Module, *, chunk: int = 8192) -> tuple[float, np.ndarray]:
        """Exact probability-weighted cross-entropy of ``model`` over all words, nats.

        Returns ``(mean over positions, per position (L,))``.  Needs the exact table (mode
        ``"exact"``) or an enumeration small enough for ``max_words``.
        """
        if self._table is None:
            self._table = self.enumerate()  # cached; stream-mode sampling does not use it
        table = self._table
        device = next(model.parameters()).device
        w = table.weights.to(torch.float64)
        per_pos = torch.zeros(self.context, dtype=torch.float64)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for s in range(0, len(table), chunk):
                    part = table.slice(s, s + chunk)
                    logits = model(part.tokens.to(device)).float()
                    ce = -(part.next_probs.to(device) * torch.log_softmax(logits, -1)).sum(-1)  # (b, L)
                    per_pos += (ce.double().cpu() * w[s:s + chunk, None]).sum(0)
        finally:
            model.train(was_training)
        per_pos = per_pos.numpy()
        return float(per_pos.mean()), per_pos

    # ------------------------------------------------------------------ misc
    def describe(self) -> dict:
        """JSON-able summary of the data settings."""
        return {"process": self.generator.name, "context": self.context, "mode": self.mode,
                "representation": self.representation, "bos": self.bos, "seed": self.seed,
                "alphabet_size": self.alphabet_size, "vocab_size": self.vocab_size,
                "word_length": self.word_length, "belief_dim": self.belief_dim}

    def __repr__(self) -> str:
        d = self.describe()
        return "BeliefData(" + ", ".join(f"{k}={v!r}" for k, v in d.items()) + ")"

    # ------------------------------------------------------------------ internals
    def _assemble(self, words: np.ndarray, beliefs: np.ndarray, weights: np.ndarray | None) -> Batch:
        """Align words (B, W) and forward beliefs (B, W+1, n) with the L model positions."""
        L = self.context
        nxt = beliefs @ self.symbol_vectors.T  # (B, W+1, V): Pr(x | prefix of length t)
        nxt = np.clip(nxt, 0.0, None)
        nxt /= np.where(nxt.sum(-1, keepdims=True) > 0, nxt.sum(-1, keepdims=True), 1.0)
        # probability of each prefix: product of the chosen symbols' conditional probabilities
        B, W = words.shape
        chosen = np.take_along_axis(nxt[:, :W], words[:, :, None], axis=2)[..., 0]  # (B, W)
        prefix = np.concatenate([np.ones((B, 1)), np.cumprod(chosen, axis=1)], axis=1)  # (B, W+1)
        if self.bos:
            tokens = np.concatenate([np.full((B, 1), self.bos_token, dtype=np.int64), words[:, :L - 1]], axis=1)
            sl = slice(0, L)
            targets = words
        else:
            tokens = words[:, :L]
            sl = slice(1, L + 1)
            targets = words[:, 1:]
        return Batch(
            tokens=torch.from_numpy(np.ascontiguousarray(tokens)),
            targets=torch.from_numpy(np.ascontiguousarray(targets)),
            next_probs=torch.from_numpy(np.ascontiguousarray(nxt[:, sl], dtype=np.float32)),
            beliefs=torch.from_numpy(np.ascontiguousarray(beliefs[:, sl])),
            prefix_prob=torch.from_numpy(np.ascontiguousarray(prefix[:, sl])),
            words=torch.from_numpy(np.ascontiguousarray(words)),
            weights=None if weights is None else torch.from_numpy(np.asarray(weights, dtype=np.float64)),
        )


def resolve_process(process: Any):
    """A generator from a :class:`generators.Generator`, a library spec string, or a dict
    ``{"operators", "tau", "initial"[, "name"]}`` (the JSON form stored in checkpoints)."""
    from generators import GHMM, Generator
    from generators.io import resolve

    if isinstance(process, (Generator, str)):
        return resolve(process)  # library spec, product spec, or generator file path
    if isinstance(process, dict) and "operators" in process:
        return GHMM(np.asarray(process["operators"], dtype=float), np.asarray(process["tau"], dtype=float),
                    np.asarray(process["initial"], dtype=float), check_words_upto=0, name=process.get("name"))
    raise ValueError(
        f"process must be a generators.Generator, a library spec string such as 'mess3:x=0.05,a=0.85', "
        f"or a GHMM dict with operators/tau/initial; got {type(process).__name__}"
    )


# ---------------------------------------------------------------------- helpers
def _to(x, device):
    return None if x is None else x.to(device, non_blocking=True)


def _rows(x, start, stop):
    return None if x is None else x[start:stop]

