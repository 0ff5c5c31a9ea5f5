"""Spectral learning (generators.learn_ghmm) as the data grow: 1e4 to 1e7 symbols.

Run: ``python benchmarks/bench_learning.py`` (``--quick``: up to 1e6 symbols).  For Mess3,
the Bloch walk and Moon, sequences of 1000 symbols are sampled from the stationary
process (seeded) and a GHMM is learned with the defaults.  Columns:

- ``dim``: learned dimension (the minimal one, ``generators.hankel_rank``, is 3 for all);
- ``max|err|``: largest ``|Pr_learned(w) - Pr_true(w)|`` over all words up to length 6;
- ``max z``: the same error in units of the standard error of the empirical frequency of
  ``w`` (batch means over 32 groups of sequences, floored at one count) -- "how many
  standard errors the learned model is off"; ``emp z``: the empirical frequencies' own;
- ``neg``: whether ``check_nonnegative`` found a negative word in the learned model;
- ``time``: learning wall time (sampling excluded).

Target (exit status): at 1e6 symbols and beyond, ``dim == 3`` and ``max z < 5``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import summary_row  # noqa: E402

from generators import LearnedModelWarning, hankel_rank, learn_ghmm, library  # noqa: E402
from generators.nonnegativity import all_words  # noqa: E402
from generators.sequences import word_frequencies  # noqa: E402


def errors(g, learned, seqs, upto=6):
    """(max abs error, max z of the learned model, max z of the empirical frequencies)."""
    V = g.alphabet_size
    err = z = ze = 0.0
    for L in range(1, upto + 1):
        w = all_words(V, L)
        p = g.word_probability(w)
        f, se = word_frequencies(seqs, L, V)
        se = np.maximum(se, 1.0 / (seqs.shape[0] * (seqs.shape[1] - L + 1)))
        d = np.abs(learned.word_probability(w) - p)
        err, z, ze = max(err, d.max()), max(z, (d / se).max()), max(ze, (np.abs(f - p) / se).max())
    return err, z, ze


def main(argv=None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    sizes = [10**4, 10**5, 10**6] + ([] if "--quick" in argv else [10**7])
    ok = True
    print(f"{'process':<11}{'symbols':>10}{'dim':>5}{'min dim':>8}{'max|err|':>11}{'max z':>8}{'emp z':>8}"
          f"{'neg':>6}{'time s':>8}")
    for name in ("mess3", "bloch_walk", "moon"):
        g = library.get(name)
        rank = hankel_rank(g)
        for n in sizes:
            seqs = g.sample(n // 1000, 1000, seed=100)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LearnedModelWarning)
                learned, rep = learn_ghmm(seqs, return_report=True)
            dt = time.perf_counter() - t0
            err, z, ze = errors(g, learned, seqs)
            print(f"{name:<11}{n:>10.0e}{learned.dim:>5}{rank:>8}{err:>11.2e}{z:>8.2f}{ze:>8.2f}"
                  f"{'yes' if rep.nonnegativity.found else 'no':>6}{dt:>8.2f}", flush=True)
            if n >= 10**6 and (learned.dim != rank or z >= 5):
                ok = False
    print("target (n >= 1e6: dim = minimal, max z < 5):", "OK" if ok else "MISSED")
    summary_row("learn_ghmm, >= 1e6 symbols (Mess3, Bloch walk, Moon)", qbelief="dim, max z",
                target="dim minimal, z < 5", met=ok)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
