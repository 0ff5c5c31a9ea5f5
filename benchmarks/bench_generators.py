"""Speed of sampling and batched word probabilities against per-sequence Python loops.

Run: ``python benchmarks/bench_generators.py``.  Baselines are measured in the same run:
a plain per-sequence sampling loop (``numpy`` random draws one symbol at a time, belief
updated by ``g.update``) and a per-word probability loop (``initial T[w1]...T[wL] tau``
one word at a time).  Slow baselines are timed on a subset and scaled linearly (stated).
"""

from __future__ import annotations

import itertools
import os
import sys

# single-threaded BLAS (set before numpy loads): the baselines are single-threaded Python
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, report  # noqa: E402

from generators import library  # noqa: E402


def loop_sample(g, n, length, seed=0):
    """The per-sequence reference: for each sequence, for each step, draw from
    g.emission_probs(state) and update the native state."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, length), dtype=np.int64)
    for i in range(n):
        s = g.initial_state
        for t in range(length):
            p = np.clip(g.emission_probs(s), 0, None)
            x = rng.choice(len(p), p=p / p.sum())
            out[i, t] = x
            s = g.update(s, x)
    return out


def loop_word_probability(g, words):
    h = g.to_ghmm()
    out = np.empty(len(words))
    for i, w in enumerate(words):
        v = h.initial
        for x in w:
            v = v @ h.operators[x]
        out[i] = v @ h.tau
    return out


def main(argv=None) -> bool:
    ok = True
    n, length, sub = 100_000, 64, 500
    for name in ("mess3", "bloch_walk"):
        g = library.get(name)
        fast = best_time(lambda: g.sample(n, length, seed=0), repeat=2)
        slow = best_time(lambda: loop_sample(g, sub, length), repeat=1) * (n / sub)
        ok &= report(f"sample {name}: {n:,} x {length}", fast, slow, 50, f"(baseline on {sub} seqs, scaled)")
    g = library.mess3()
    words = np.array(list(itertools.product(range(3), repeat=10)))
    fast = best_time(lambda: g.word_probability(words), repeat=3)
    slow = best_time(lambda: loop_word_probability(g, words), repeat=1)
    np.testing.assert_allclose(g.word_probability(words), loop_word_probability(g, words), atol=1e-15)
    ok &= report(f"word_probability mess3: all {len(words):,} words of length 10", fast, slow, 50)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
