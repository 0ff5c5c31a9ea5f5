"""Training data with belief labels: token batches of a generator's process.

A :class:`BeliefData` turns a generator into batches for next-symbol prediction.  Each
batch holds, for every input position ``t`` of the model:

- ``tokens[b, t]``: the model input (symbols ``0..V-1``; optional BOS token ``V`` first),
- ``targets[b, t]``: the sampled next symbol,
- ``next_probs[b, t]``: the exact next-symbol distribution ``Pr(x | prefix)`` (V,),
- ``beliefs[b, t]``: the belief after the prefix seen at ``t``, in the GHMM coordinates of
  the chosen representation (:func:`generators.representations.representation`:
  ``"minimal"``, the canonical minimal form with first coordinate 1; ``"native"``, the
  generator's own GHMM form),
- ``prefix_prob[b, t]``: the probability of that prefix.

Alignment (``L`` = number of model positions, the *context*):

- without BOS, words have length ``L + 1``; the input is ``w[:, :L]``, the target
  ``w[:, 1:]``; position ``t`` has seen ``t + 1`` symbols, its optimal loss is the
  myopic entropy ``h(t + 2)``;
- with BOS, words have length ``L``; the input is ``[BOS, w[:, :L-1]]``, the target ``w``;
  position ``t`` has seen ``t`` symbols (position 0 the stationary belief), optimum
  ``h(t + 1)``.

Independent products (:class:`generators.ProductGenerator`) stay factored: each factor
samples its own word with beliefs in its own representation, the joint symbol is the
mixed-radix index (:func:`generators.joint_symbol`), the joint next-symbol distribution is
the outer product of the factors' (``Pr(x | past) = prod_k Pr_k(x_k | past_k)``), and the
optimum is the sum of the factors' myopic entropies.  The joint GHMM (dimension
``prod n_k``; 243 with 432 symbols for 3 Mess3 x 2 Bloch walks, Shai et al. 2026,
arXiv:2602.02385) is never built: batches carry per-factor beliefs
(``Batch.factor_beliefs``) and ``Batch.beliefs`` is None (:meth:`Batch.joint_beliefs`
forms the Kronecker product on demand).

Two sampling modes draw the same distribution of words (i.i.d. from the stationary
process): ``"stream"`` samples fresh sequences each step (Shai et al. 2024,
arXiv:2405.15943; any length, any alphabet) and ``"exact"`` enumerates all words of the
word length once with their exact probabilities and draws batches from that table
(Riechers et al. 2025, arXiv:2507.07432); the exact table also gives the exact
probability-weighted validation loss.

Batches are a pure function of ``(seed, step)`` (:meth:`BeliefData.batch`), so training
is reproducible, resumable and identical across data-parallel ranks without RNG state.

Where training batches are made (``device``, used by :meth:`BeliefData.batch`): ``None``
(the default) samples on the host with the numpy kernels (:mod:`generators.kernels`) and
returns CPU tensors; a torch device (``"cuda"``, ``"cpu"``, ...) samples the words and
computes their beliefs and targets there (:func:`nets.torch_kernels.sample_factors_on_device`,
float64), so a GPU gets its batches without a host round trip.  :meth:`BeliefData.sample`,
:meth:`BeliefData.enumerate` and the validation loss always work on the host.  Both
paths draw the same distribution and compute the same labels for the same words (one
assembly, :func:`nets.batch.assemble`), but from different random streams: the device
path seeds its :class:`torch.Generator` from the batch's numpy stream, so its words are a
pure function of ``(seed, step)`` on one device type, and differ from the host path's.
The exact mode draws its row indices on the host either way (its table then lives on the
device too), so its batches are identical on every device.
Everything is vectorized over the batch; the only Python loops run over positions and
factors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

import numpy as np
import torch

from generators.validation import check_choice, check_int, check_seed
from generators.words import all_words

from .batch import Batch, assemble
from .units import NATS

__all__ = ["Batch", "BeliefData", "resolve_process", "MODES", "REPRESENTATIONS", "TARGETS"]

MODES = ("stream", "exact")
REPRESENTATIONS = ("minimal", "native")
TARGETS = ("sampled", "exact")

#: largest number of words the exact mode enumerates by default
MAX_WORDS = 1 << 20


class BeliefData:
    """Batches of a process with exact belief labels.

    Parameters
    ----------
    process : Generator, str or dict
        A generator, a library spec such as ``"mess3:x=0.05,a=0.85"`` or ``"bloch_walk"``
        (:func:`generators.library.parse_spec`), or a generator-file table
        (:func:`generators.io.generator_from_dict`).  A :class:`generators.ProductGenerator`
        is kept factored (see the module docstring).
    context : int
        Number of model positions ``L`` (>= 1).
    mode : {"stream", "exact"}
        ``"stream"``: fresh sequences sampled each batch; ``"exact"``: all words of the
        word length enumerated with exact probabilities, batches drawn from them.
    representation : {"minimal", "native"}
        Belief coordinates of the labels (and of the sampler), per factor for a product.
    bos : bool
        Prepend a beginning-of-sequence token (id ``V``).
    seed : int
        Base seed; batch ``step`` uses ``numpy.random.default_rng([seed, step])``.
    max_words : int
        Cap on the exact-mode table size ``V ** word_length``.
    next_probs : bool
        Give batches the exact next-symbol distributions (needed for exact targets; a
        (B, L, V) float32 table: 389 MB for batch 25,000 over 432 symbols at context 9).
        The exact table and :meth:`validation_loss` always have them.
    max_beliefs : int, optional
        Belief cap of the mixed-state presentation behind :attr:`optimum`
        (``bayes.myopic_entropy``); None: its default memory guard.
    device : torch device or name, optional
        Where batches are sampled and labelled (see the module docstring): None, the
        host's numpy kernels (CPU tensors); a device, the torch kernels on it.

    Attributes
    ----------
    generator : the process;  factors : its factors (``[generator]`` unless a product)
    representations : one :class:`generators.representations.Representation` per factor
    ghmm : the GHMM of the belief representation (None for a product: never built)
    alphabet_size : V;  vocab_size : V (+1 with BOS);  bos_token : V or None
    context : L;  word_length : L + 1 (L with BOS);  belief_dims : n_k per factor
    belief_dim : n (the product of the ``belief_dims`` for a product)
    symbol_vectors : (V, n) ``T[x] @ tau``, so ``Pr(x | eta) = eta @ symbol_vectors.T``
        (None for a product)
    """

    def __init__(self, process: Any, context: int, *, mode: str = "stream", representation: str = "minimal",
                 bos: bool = False, seed: int = 0, max_words: int = MAX_WORDS, next_probs: bool = True,
                 max_beliefs: int | None = None, device: Any = None):
        from generators import ProductGenerator
        from generators.representations import representation as make_representation

        self.generator = resolve_process(process)
        self.context = check_int(context, "context (number of model positions)", minimum=1)
        self.mode = check_choice(mode, "mode", MODES)
        self.representation = check_choice(representation, "representation", REPRESENTATIONS)
        self.seed = check_int(seed, "seed", minimum=0)
        self.max_words = check_int(max_words, "max_words", minimum=1)
        self.max_beliefs = None if max_beliefs is None else check_int(max_beliefs, "max_beliefs", minimum=1)
        self.bos = bool(bos)
        self.with_next_probs = bool(next_probs)
        self.factored = isinstance(self.generator, ProductGenerator)
        self.factors = list(self.generator.factors) if self.factored else [self.generator]
        self.representations = tuple(make_representation(f, representation) for f in self.factors)
        self.factor_sizes = tuple(int(f.alphabet_size) for f in self.factors)
        self.belief_dims = tuple(int(r.ghmm.dim) for r in self.representations)
        self._symbol_vectors = [np.asarray(r.ghmm.symbol_vectors, dtype=float) for r in self.representations]
        self.ghmm = None if self.factored else self.representations[0].ghmm
        self.symbol_vectors = None if self.factored else self._symbol_vectors[0]
        self.belief_dim = int(np.prod(self.belief_dims))
        self.alphabet_size = int(self.generator.alphabet_size)
        self.bos_token = self.alphabet_size if self.bos else None
        self.vocab_size = self.alphabet_size + int(self.bos)
        self.word_length = self.context + (0 if self.bos else 1)
        self._optimum = None
        self._table: Batch | None = None
        self._cdf: np.ndarray | None = None
        self.device = None if device is None else _torch_device(device)
        self._sv = [torch.from_numpy(sv) for sv in self._symbol_vectors]
        self._on_device = None
        self._device_table: Batch | None = None
        if mode == "exact":
            table = self.enumerate()
            self._cdf = np.cumsum(table.weights.numpy())
            self._table = table
            self._device_table = None if self.device is None else table.to(self.device)
        elif self.device is not None:
            from .torch_kernels import device_factors

            ghmms = [r.ghmm for r in self.representations]
            self._on_device = (device_factors(ghmms, self.device), [sv.to(self.device) for sv in self._sv])

    # ------------------------------------------------------------------ batches
    def batch(self, step: int, batch_size: int) -> Batch:
        """Training batch number ``step``, on :attr:`device`: a pure function of ``(seed, step,
        batch_size)`` (and of the device type for the device path: it seeds its torch
        generator with one draw from ``default_rng([seed, step])``)."""
        step = check_int(step, "step", minimum=0)
        rng = np.random.default_rng([self.seed, step])
        if self.device is None:
            return self.sample(batch_size, rng)
        B = check_int(batch_size, "batch_size", minimum=1)
        if self.mode == "exact":
            return replace(self._device_table.rows(self._draw_rows(B, rng).to(self.device)), weights=None)
        return self._sample_on_device(B, int(rng.integers(2 ** 63)), self.with_next_probs)

    def sample(self, batch_size: int, rng: Any = None) -> Batch:
        """A batch of ``batch_size`` i.i.d. words from the stationary process, made on the
        host (CPU tensors, whatever :attr:`device` is: for analyses and probes).

        ``rng``: a :class:`numpy.random.Generator`, an int seed, or None (fresh entropy).
        """
        B = check_int(batch_size, "batch_size", minimum=1)
        rng = np.random.default_rng(check_seed(rng, "rng"))
        if self.mode == "exact":
            return replace(self._table.rows(self._draw_rows(B, rng)), weights=None)
        return self._sample(B, rng, self.with_next_probs)

    def _draw_rows(self, B: int, rng: np.random.Generator) -> torch.Tensor:
        """Rows of the exact table drawn with their probabilities (inverse CDF), (B,) int64."""
        u = rng.random(B) * self._cdf[-1]
        return torch.from_numpy(np.minimum(np.searchsorted(self._cdf, u, side="right"), self._cdf.size - 1))

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
            raise ValueError(f"enumerating V**word_length = {self.alphabet_size}**{L} = {n_words:,} words exceeds "
                             f"max_words={self.max_words:,}; use mode='stream', a shorter context, or raise "
                             "max_words")
        words = all_words(self.alphabet_size, L)
        fwords = self._split(words)
        p = np.ones(len(words))
        fbeliefs = []
        for r, w in zip(self.representations, fwords):
            beliefs, logp = r.ghmm.forward(w)
            fbeliefs.append(beliefs)
            p = p * np.exp(logp[:, -1])
        keep = p > 0
        return self._assemble([w[keep] for w in fwords], [b[keep] for b in fbeliefs], p[keep] / p[keep].sum(),
                              next_probs=True)

    def labels(self, words: Any) -> Batch:
        """The batch of given words ``(B, word_length)`` (joint symbols for a product), its
        beliefs by the host's forward filter (:meth:`generators.GHMM.forward`): the slow
        definition the sampled batches of either path agree with.  CPU tensors, with
        next-symbol distributions; ``weights`` None."""
        words = np.asarray(words.cpu() if torch.is_tensor(words) else words)
        if words.ndim != 2 or words.shape[1] != self.word_length or words.dtype.kind not in "iu":
            raise ValueError(f"words must be an integer array of shape (B, {self.word_length}); got "
                             f"{words.shape} {words.dtype}")
        if words.size and (words.min() < 0 or words.max() >= self.alphabet_size):
            raise ValueError(f"symbols must be in 0..{self.alphabet_size - 1}; got {words.min()}..{words.max()}")
        fwords = self._split(words.astype(np.int64))
        fbeliefs = [r.ghmm.forward(w)[0] for r, w in zip(self.representations, fwords)]
        return self._assemble(fwords, fbeliefs, None, next_probs=True)

    # ------------------------------------------------------------------ losses
    @property
    def optimum(self) -> np.ndarray:
        """Bayes-optimal cross-entropy per position, nats, shape (L,) (``bayes.myopic_entropy``;
        for a product the sum of the factors', which is exact for independent processes)."""
        if self._optimum is None:
            from bayes import myopic_entropy

            h = np.asarray(myopic_entropy(self.generator, self.word_length, base=NATS, max_beliefs=self.max_beliefs),
                           dtype=float)
            self._optimum = h if self.bos else h[1:]
        return self._optimum

    @property
    def optimum_mean(self) -> float:
        """Mean over positions of :attr:`optimum` (the optimum of the mean loss), nats."""
        return float(np.mean(self.optimum))

    def validation_loss(self, model: torch.nn.Module, *, chunk: int = 8192, n_words: int | None = None,
                        seed: int = 999) -> tuple[float, np.ndarray]:
        """Cross-entropy of ``model`` against the exact next-symbol distributions, nats.

        ``n_words=None``: probability-weighted over all words (the exact table; mode
        ``"exact"`` or an enumeration small enough for ``max_words``).  ``n_words=N``: an
        unbiased estimate from ``N`` fresh words drawn with ``default_rng(seed)`` (any
        size of process).  Returns ``(mean over positions, per position (L,))``.
        """
        if n_words is None:
            if self._table is None:
                self._table = self.enumerate()  # cached; stream-mode sampling does not use it
            table = self._table
        else:
            N = check_int(n_words, "n_words", minimum=1)
            table = self._sample(N, np.random.default_rng(check_int(seed, "seed", minimum=0)), True)
            table = replace(table, weights=torch.full((N,), 1.0 / N, dtype=torch.float64))
        per_pos = _weighted_cross_entropy(model, table, self.context, chunk)
        return float(per_pos.mean()), per_pos

    # ------------------------------------------------------------------ misc
    def describe(self) -> dict:
        """JSON-able summary of the data settings."""
        d = {"process": self.generator.name, "context": self.context, "mode": self.mode,
             "representation": self.representation, "bos": self.bos, "seed": self.seed,
             "alphabet_size": self.alphabet_size, "vocab_size": self.vocab_size,
             "word_length": self.word_length, "belief_dim": self.belief_dim}
        if self.device is not None:
            d["device"] = str(self.device)
        if self.factored:
            d["factors"] = [f.name for f in self.factors]
            d["belief_dims"] = list(self.belief_dims)
        return d

    def __repr__(self) -> str:
        d = self.describe()
        return "BeliefData(" + ", ".join(f"{k}={v!r}" for k, v in d.items()) + ")"

    # ------------------------------------------------------------------ internals
    def _split(self, words: np.ndarray) -> list[np.ndarray]:
        """Per-factor words of joint words (the words themselves for a single process)."""
        if not self.factored:
            return [words]
        from generators import factor_symbols

        parts = factor_symbols(words, self.factor_sizes)
        return [np.ascontiguousarray(parts[..., k]) for k in range(len(self.factors))]

    def _sample(self, B: int, rng: np.random.Generator, next_probs: bool) -> Batch:
        """Stream sampling: each factor's word with its forward beliefs (one spawned stream
        per factor of a product; a single process draws from ``rng`` itself)."""
        W = self.word_length
        streams = rng.spawn(len(self.factors)) if self.factored else [rng]
        fwords, fbeliefs = [], []
        for r, s in zip(self.representations, streams):
            w, b = r.ghmm.sample(B, W, seed=s, return_beliefs=True)
            fwords.append(np.asarray(w, dtype=np.int64))
            fbeliefs.append(b)
        return self._assemble(fwords, fbeliefs, None, next_probs=next_probs)

    def _sample_on_device(self, B: int, seed: int, next_probs: bool) -> Batch:
        """Stream sampling on :attr:`device` (torch kernels, float64), seeded with ``seed``;
        the next-symbol distributions are the sampler's own."""
        from .torch_kernels import sample_factors_on_device

        factors, svs = self._on_device
        s = sample_factors_on_device(factors, B, self.word_length, seed, device=self.device, probs=True)
        return assemble(s.words, list(s.factor_words), list(s.beliefs), svs, context=self.context,
                        bos_token=self.bos_token, next_probs=next_probs, fprobs=list(s.probs))

    def _assemble(self, fwords: list, fbeliefs: list, weights: np.ndarray | None, *, next_probs: bool) -> Batch:
        """The host path's per-factor words (B, W) and forward beliefs (B, W+1, n_k) as a
        batch of CPU tensors (:func:`nets.batch.assemble`)."""
        from generators import joint_symbol

        words = joint_symbol(np.stack(fwords, axis=-1), self.factor_sizes) if self.factored else fwords[0]
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        return assemble(t(np.asarray(words, dtype=np.int64)), [t(np.asarray(w, dtype=np.int64)) for w in fwords],
                        [t(b) for b in fbeliefs], self._sv, context=self.context, bos_token=self.bos_token,
                        weights=None if weights is None else t(np.asarray(weights, dtype=np.float64)),
                        next_probs=next_probs)


def _weighted_cross_entropy(model: torch.nn.Module, table: Batch, L: int, chunk: int) -> np.ndarray:
    """``sum_rows weight * (-sum_x next_probs log softmax(model))`` per position (L,), in
    chunks of rows, the model in eval mode and without gradients."""
    device = next(model.parameters()).device
    w = table.weights.to(device="cpu", dtype=torch.float64)
    per_pos = torch.zeros(L, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(table), chunk):
                part = table.slice(s, s + chunk)
                logits = model(part.tokens.to(device)).float()
                V = part.next_probs.shape[-1]
                ce = -(part.next_probs.to(device) * torch.log_softmax(logits, -1)[..., :V]).sum(-1)  # (b, L)
                per_pos += (ce.double().cpu() * w[s:s + chunk, None]).sum(0)
    finally:
        model.train(was_training)
    return per_pos.numpy()


def _torch_device(spec: Any) -> torch.device:
    """``spec`` (a :class:`torch.device` or a name such as ``"cuda"``, ``"cuda:1"``, ``"cpu"``)
    as a device; ``ValueError`` naming it otherwise."""
    if isinstance(spec, torch.device):
        return spec
    try:
        if not isinstance(spec, str):
            raise TypeError
        return torch.device(spec)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be None (the host's numpy kernels) or a torch device such as 'cpu' or "
                         f"'cuda'; got {spec!r}") from None


def _legacy_ghmm_table(d: dict) -> dict:
    """A GHMM dict of the old checkpoint form ``{"operators", "tau", "initial", "name"}`` as a
    generator-file table (``kind = "ghmm"``)."""
    return {"kind": "ghmm", "name": d.get("name") or "", "T": d["operators"], "tau": d["tau"],
            "initial": d["initial"]}


def resolve_process(process: Any):
    """A generator from a :class:`generators.Generator`, a library spec string, a generator
    file path (:func:`generators.io.resolve`), or a generator-file table (a dict with a
    ``kind``, :func:`generators.io.generator_from_dict`; the GHMM dicts
    ``{"operators", "tau", "initial"}`` of older checkpoints are read too)."""
    from generators import Generator
    from generators.io import generator_from_dict, resolve

    if isinstance(process, (Generator, str)):
        return resolve(process)  # library spec, product spec, or generator file path
    if isinstance(process, dict) and "kind" in process:
        return generator_from_dict(process)
    if isinstance(process, dict) and "operators" in process:
        return generator_from_dict(_legacy_ghmm_table(process))
    raise ValueError(
        f"process must be a generators.Generator, a library spec string such as 'mess3:x=0.05,a=0.85', "
        f"or a generator-file table (a dict with a `kind`); got {type(process).__name__}"
    )
