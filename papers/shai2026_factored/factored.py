"""Training data and a training loop for independent products of processes, kept factored.

Why this exists (a workaround, reported to the nets maintainers): ``nets.train.train``
builds a :class:`nets.data.BeliefData`, which (1) computes the Bayes-optimal loss with
``bayes.myopic_entropy`` on the *joint* process — the mixed-state presentation of a
product has ``prod_k (beliefs of factor k)`` nodes per depth (``36^9`` for 2 Mess3 + a
Bloch walk at context 9), which never finishes; (2) samples through the joint minimal GHMM
(dimension ``prod n_k`` = 243 and 432 symbols for 3 Mess3 + 2 Bloch walks, a
``(243, 104976)`` matrix product per symbol and sequence); and (3) stores a
``Generator`` process as its full joint GHMM in ``config.json``.  For an independent
product everything factorizes exactly:

* words: each factor samples its own word (its minimal GHMM, with beliefs), the joint
  symbol is the mixed-radix index (:func:`generators.joint_symbol`);
* factor beliefs come from the factor's own filter; the joint belief is their Kronecker
  product (never needed for training);
* next-symbol distribution: ``Pr(x | past) = prod_k Pr_k(x_k | past_k)`` (outer product);
* optimum: ``h_joint(L) = sum_k h_k(L)`` (conditional entropies add for independent
  processes), each ``h_k`` from ``bayes.myopic_entropy`` of the small factor.

:func:`train_factored` is ``nets.train``'s loop reduced to what the papers need (the model
from ``nets.models.build_model``, the loss ``nets.train.loss_fn``, batches as
``nets.data.Batch``, metric records with the same keys), on these factored batches.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["FactoredData", "FactoredBatch", "train_factored", "FactoredTrainResult", "factor_samples", "eval_relative"]


@dataclass
class FactoredBatch:
    """Words of a product process with per-factor beliefs.

    tokens, targets : int64 (B, L) joint symbols (model input / next symbol)
    words : int64 (B, L + 1) joint words
    factor_words : list of int64 (B, L + 1)
    factor_beliefs : list of float64 (B, L + 2, n_k) -- belief after 0..L+1 symbols in each
        factor's minimal (canonical) coordinates, first coordinate the constant 1
    next_probs : float32 (B, L, V) exact joint next-symbol distribution at each model position
    """

    tokens: np.ndarray
    targets: np.ndarray
    words: np.ndarray
    factor_words: list
    factor_beliefs: list
    next_probs: np.ndarray

    def model_beliefs(self, k: int) -> np.ndarray:
        """Factor ``k``'s belief after the prefix seen at each model position (B, L, n_k - 1),
        constant first coordinate dropped."""
        return self.factor_beliefs[k][:, 1:-1, 1:]


class FactoredData:
    """Batches of an independent product (``generators.ProductGenerator``) without ever
    building the joint GHMM.  ``batch(step, B)`` is a pure function of ``(seed, step)``.

    Parameters
    ----------
    product : generators.ProductGenerator (or a list of factor generators)
    context : model positions L (words have L + 1 symbols, no BOS)
    seed : base seed
    """

    def __init__(self, product: Any, context: int, *, seed: int = 0):
        from generators import ProductGenerator, minimize, product as make_product

        if not isinstance(product, ProductGenerator):
            product = make_product(*list(product))
        self.product = product
        self.factors = list(product.factors)
        self.minimal = [minimize(f) for f in self.factors]
        self.sizes = tuple(int(s) for s in product.sizes)
        self.alphabet_size = int(np.prod(self.sizes))
        self.vocab_size = self.alphabet_size
        self.context = int(context)
        self.word_length = self.context + 1
        self.seed = int(seed)
        self._optimum = None

    @property
    def optimum(self) -> np.ndarray:
        """Bayes-optimal loss per model position, nats: ``sum_k h_k(t + 2)``, t = 0..L-1."""
        if self._optimum is None:
            from bayes import myopic_entropy

            h = sum(np.asarray(myopic_entropy(f, self.word_length, base=math.e)) for f in self.factors)
            self._optimum = np.asarray(h)[1:]
        return self._optimum

    def factor_optimum(self, k: int) -> np.ndarray:
        from bayes import myopic_entropy

        return np.asarray(myopic_entropy(self.factors[k], self.word_length, base=math.e))[1:]

    def batch(self, step: int, batch_size: int, *, length: int | None = None, next_probs: bool = True
              ) -> FactoredBatch:
        return self.sample(batch_size, np.random.default_rng([self.seed, int(step)]), length=length,
                           next_probs=next_probs)

    def native_beliefs(self, fb: FactoredBatch, k: int) -> np.ndarray:
        """Factor ``k``'s belief at each model position (B, L, n) in the factor's *native* GHMM
        coordinates (probability vector / Gell-Mann coordinates), by filtering its word."""
        eta, _ = self.factors[k].to_ghmm().forward(fb.factor_words[k])
        return np.asarray(eta)[:, 1:-1]

    def sample(self, batch_size: int, rng: Any = None, *, length: int | None = None,
               next_probs: bool = True) -> FactoredBatch:
        """``batch_size`` i.i.d. words (``length`` model positions, default the context);
        ``next_probs=False`` skips the (B, L, V) joint next-symbol table (sampled targets)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        W = self.word_length if length is None else int(length) + 1
        L = W - 1
        fw, fb = factor_samples(self.minimal, int(batch_size), W, rng)
        from generators import joint_symbol

        words = joint_symbol(np.stack(fw, axis=-1), self.sizes)
        nxt = None
        for h, b in zip(self.minimal, fb if next_probs else []):
            p = np.clip(b[:, 1:L + 1] @ np.asarray(h.symbol_vectors).T, 0.0, None)  # (B, L, V_k)
            p /= p.sum(-1, keepdims=True)
            nxt = p if nxt is None else (nxt[..., :, None] * p[..., None, :]).reshape(p.shape[:2] + (-1,))
        return FactoredBatch(tokens=words[:, :L], targets=words[:, 1:], words=words, factor_words=fw,
                             factor_beliefs=fb,
                             next_probs=nxt.astype(np.float32) if nxt is not None else np.zeros((0,), np.float32))

    def torch_batch(self, fb: FactoredBatch):
        """The ``nets.data.Batch`` that ``nets.train.loss_fn`` reads (tokens, targets, next_probs)."""
        from nets.data import Batch

        empty = torch.zeros(0)
        return Batch(tokens=torch.from_numpy(np.ascontiguousarray(fb.tokens)),
                     targets=torch.from_numpy(np.ascontiguousarray(fb.targets)),
                     next_probs=torch.from_numpy(fb.next_probs), beliefs=empty, prefix_prob=empty,
                     words=torch.from_numpy(fb.words))


def factor_samples(ghmms: Sequence[Any], n: int, length: int, rng: np.random.Generator):
    """Independent words and forward beliefs of each factor GHMM: lists of (n, length) and
    (n, length + 1, n_k)."""
    seeds = rng.spawn(len(ghmms))
    words, beliefs = [], []
    for h, s in zip(ghmms, seeds):
        w, b = h.sample(n, length, seed=s, return_beliefs=True)
        words.append(np.asarray(w, dtype=np.int64))
        beliefs.append(np.asarray(b))
    return words, beliefs


@dataclass
class FactoredTrainResult:
    model: Any
    data: FactoredData
    history: list
    optimum: np.ndarray
    steps_done: int
    final_loss: float
    final_relative: float
    timing: dict = field(default_factory=dict)


def train_factored(data: FactoredData, model_config: Any, *, optimizer: str = "adamw", lr: float = 1e-3,
                   weight_decay: float = 0.0, batch_size: int = 256, steps: int = 1000,
                   max_time_s: float | None = None, targets: str = "exact", seed: int = 0, device: str = "auto",
                   log_every: int = 10, num_threads: int | None = None, quiet: bool = True,
                   scheduler: str = "constant") -> FactoredTrainResult:
    """Train ``nets.models.build_model(model_config)`` on factored batches (see module doc).

    ``model_config``: a ``nets.models.ModelConfig`` or its dict (vocab_size and n_ctx are
    set from the data).  ``targets``: "exact" (joint next-symbol distribution) or "sampled".
    History records: step, tokens, loss, relative (to the optimum), lr, time_s.
    """
    from nets.models import ModelConfig, build_model
    from nets.train import loss_fn

    cfg = model_config if isinstance(model_config, ModelConfig) else ModelConfig(**dict(model_config))
    cfg = ModelConfig(**{**cfg.to_dict(), "vocab_size": data.vocab_size, "n_ctx": data.context})
    dev = torch.device("cuda" if (device == "auto" and torch.cuda.is_available()) else
                       ("cpu" if device == "auto" else device))
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        torch.manual_seed(seed)
        model = build_model(cfg).to(dev)
        opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[optimizer]
        opt = opt_cls(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if scheduler == "cosine" else None
        opt_mean = float(np.mean(data.optimum))
        history, t0, t_data, step = [], time.perf_counter(), 0.0, 0
        bar = None
        if not quiet:
            import sys

            if sys.stderr.isatty():
                from tqdm.auto import tqdm

                bar = tqdm(total=steps, desc="train (factored)", unit="step", mininterval=0.5)
        model.train()
        while step < steps:
            ta = time.perf_counter()
            batch = data.torch_batch(data.batch(step, batch_size, next_probs=targets == "exact")).to(dev)
            t_data += time.perf_counter() - ta
            loss = loss_fn(model(batch.tokens), batch, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise FloatingPointError(f"training loss became {lv} at step {step}; lower lr (now {lr:g})")
            if step % log_every == 0 or step == steps:
                history.append({"step": step, "tokens": step * batch_size * data.context, "loss": lv,
                                "relative": lv / opt_mean, "lr": opt.param_groups[0]["lr"],
                                "time_s": round(time.perf_counter() - t0, 4)})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(rel=f"{lv / opt_mean:.4f}", refresh=False)
            if max_time_s is not None and time.perf_counter() - t0 >= max_time_s:
                break
        if bar is not None:
            bar.close()
        model.eval()
        total = time.perf_counter() - t0
        tail = history[-max(1, len(history) // 10):] if history else []
        final = float(np.mean([r["loss"] for r in tail])) if tail else float("nan")
        timing = {"total_s": total, "data_s": t_data, "steps": step,
                  "tokens_per_s": step * batch_size * data.context / total if total > 0 else float("nan")}
        return FactoredTrainResult(model=model, data=data, history=history, optimum=data.optimum, steps_done=step,
                                   final_loss=final, final_relative=final / opt_mean, timing=timing)
    finally:
        torch.set_num_threads(threads)


def eval_relative(model: Any, data: FactoredData, n: int = 4096, seed: int = 999) -> dict:
    """Exact cross-entropy of ``model`` against the true next-symbol distributions on ``n``
    fresh sequences (a fixed seed), per position and averaged, and relative to the optimum."""
    from nets.train import loss_fn

    fb = data.sample(n, np.random.default_rng(seed))
    b = data.torch_batch(fb)
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            logp = torch.log_softmax(model(b.tokens.to(dev)).float(), -1).cpu()
            ce = -(b.next_probs * logp[..., :b.next_probs.shape[-1]]).sum(-1).mean(0).double().numpy()
    finally:
        model.train(was)
    opt = np.asarray(data.optimum)
    return {"loss": float(ce.mean()), "relative": float(ce.mean() / opt.mean()),
            "per_position_relative": (ce / opt).tolist(), "n": int(n)}
