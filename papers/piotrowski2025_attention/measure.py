"""Measurements shared by the attention experiments (this paper and ``preregistered_heads``).

- :func:`lag_signal` -- how much of the optimal loss depends on the symbols at lags
  ``>= m`` (lag 1 is the last symbol seen, i.e. attention distance 0): exact, from the
  myopic entropies of the process;
- :func:`excess_loss` -- a trained model's mean KL divergence from the exact next-symbol
  distributions on a fixed sample of words (its loss minus the optimum on the same words);
- :func:`head_rates` -- per-head attention decay fits of a model (and of its untrained
  twin, the control);
- :func:`is_testable` -- a sub-test is testable when the loss it is about exceeds the
  seed-to-seed noise of the trained loss.

The lag signal
--------------
With ``h(t)`` the myopic entropy (the optimal loss of symbol ``t`` given the ``t - 1``
before it, :func:`bayes.myopic_entropy`), a model with context ``L`` predicts symbols
``2 .. L + 1`` and its optimal mean loss is ``mean_{t=2}^{L+1} h(t)``.  The best predictor
that sees only the last ``m - 1`` symbols loses ``h(min(t, m))`` at symbol ``t`` (the
process is stationary), so the loss the lags ``>= m`` are worth is::

    signal_m = (1/L) sum_{t=m+1}^{L+1} (h(m) - h(t))          (nats, >= 0)

``m = 2``: everything attention can add beyond the current token (distances ``>= 1``);
``m = 3``: what distances ``>= 2`` add, the most an even/odd head split can be worth (one
head with a signed value vector serves distance 1 alone).  For an independent product the
optimal loss is the sum of the factors', so each factor's signal is its own.

>>> from generators import library
>>> s2 = lag_signal(library.mess3(x=0.15, a=0.6), 10, 2)
>>> round(s2, 6)
0.001896
>>> lag_signal(library.mess3(x=0.15, a=0.6), 10, 11)
0.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["lag_signal", "excess_loss", "head_rates", "is_testable", "SELF_RATE", "FLAT_RATE"]

#: a head whose fitted |rate| is below this attends to the current token only ("self")
SELF_RATE = 0.1
#: a head whose fitted |rate| is above this attends nearly uniformly ("flat")
FLAT_RATE = 0.9


def lag_signal(g: Any, context: int, first_lag: int) -> float:
    """``signal_m`` of the module docstring with ``m = first_lag``: the optimal-loss
    improvement (nats, mean over the ``context`` predicted positions) available from the
    symbols at lags ``>= first_lag``.  Cost: the myopic entropies to depth ``context + 1``."""
    from bayes import myopic_entropy
    from generators.validation import check_int

    L = check_int(context, "context", minimum=1)
    m = check_int(first_lag, "first_lag", minimum=1)
    h = np.asarray(myopic_entropy(g, L + 1, base=math.e), dtype=float)  # h[t-1] = h(t)
    if m > L:
        return 0.0
    return float(np.sum(h[m - 1] - h[m:]) / L)


def excess_loss(model: Any, data: Any, *, n_words: int, seed: int = 999, chunk: int = 4096) -> float:
    """Mean over words and positions of ``KL(p || q)``, nats: ``p`` the exact next-symbol
    distribution (``data``: a :class:`nets.data.BeliefData`), ``q`` the model's, on
    ``n_words`` words drawn with seed ``seed`` (the same words for every model).  Equals
    the model's cross-entropy minus the optimal one on those words, with no sampling noise
    from the entropy (data built without next-symbol distributions, as for sampled-target
    training, are rebuilt with them).  Cost: one forward pass over ``n_words`` sequences."""
    import torch

    if not data.with_next_probs:
        from nets.data import BeliefData

        data = BeliefData(data.generator, data.context, representation=data.representation, bos=data.bos)
    batch = data.sample(n_words, seed)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for s in range(0, n_words, chunk):
                part = batch.slice(s, s + chunk)
                logq = torch.log_softmax(model(part.tokens.to(device)).double(), -1).cpu()
                p = part.next_probs.double()
                kl = (torch.xlogy(p, p) - p * logq[..., :p.shape[-1]]).sum(-1)
                total += float(kl.sum())
    finally:
        model.train(was_training)
    return total / (n_words * data.context)


def head_rates(model: Any, g: Any, *, n_samples: int, seed: int = 1, untrained_seed: int | None = None):
    """Attention decay fits per head (:func:`nets.attention.attention_analysis`, last
    destination, ``n_samples`` sampled sequences).  Returns ``(report, heads)`` with
    ``heads`` a list of dicts ``{"rate": |lambda|, "parity": "all"|"even"|"odd", "kind":
    "self"|"flat"|"decay"}``; with ``untrained_seed`` the model's untrained twin (same
    architecture, that seed) is analysed instead -- the control."""
    from nets.adapters import as_source
    from nets.attention import attention_analysis

    src = as_source(model)
    if untrained_seed is not None:
        src = src.untrained(untrained_seed)
    rep = attention_analysis(src, g, n_samples=n_samples, seed=seed)
    heads = []
    for h in rep.heads:
        r = float(h.lam_abs)
        kind = "self" if (h.n_points < 2 or r < SELF_RATE) else ("flat" if r > FLAT_RATE else "decay")
        heads.append({"rate": r, "parity": h.parity, "kind": kind})
    return rep, heads


def is_testable(signal: float, noise: float) -> bool:
    """A sub-test is testable when the loss it concerns (``signal``, nats) exceeds the
    seed-to-seed standard deviation of the trained loss (``noise``); an undefined noise
    (one seed) makes nothing testable."""
    return bool(np.isfinite(noise) and signal > noise)
