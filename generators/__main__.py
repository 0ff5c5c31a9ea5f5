"""``python -m generators``: a short summary of the library's processes."""

from __future__ import annotations

import sys

import numpy as np

from . import library
from .reduction import hankel_rank


def summary(file=sys.stdout) -> None:
    """Print kind, alphabet, native / GHMM / minimal dimension, stationary symbol
    probabilities and a few word probabilities for the named library processes."""
    rows = ["mess3", "rrxor", "zero_one_random", "even_process", "golden_mean", "bloch_walk", "moon", "frdn"]
    print(f"{'process':<34} {'kind':<13} {'V':>2} {'dim':>4} {'ghmm':>4} {'min':>4}  Pr(x) stationary", file=file)
    for name in rows:
        g = library.get(name)
        p = np.array2string(g.symbol_probabilities(), precision=4, suppress_small=True)
        print(f"{g.name:<34} {g.kind:<13} {g.alphabet_size:>2} {g.dim:>4} {g.to_ghmm().dim:>4} {hankel_rank(g):>4}  {p}",
              file=file)
    print("\nword probabilities Pr(w) = initial T[w1]...T[wL] tau:", file=file)
    for name, words in [("mess3", [[0], [0, 1], [0, 0, 0]]), ("bloch_walk", [[0], [0, 0], [0, 2, 1]]),
                        ("moon", [[1], [1, 1], [0, 1, 2]])]:
        g = library.get(name)
        txt = ", ".join(f"Pr({''.join(map(str, w))})={g.word_probability(w):.6f}" for w in words)
        print(f"  {name:<12} {txt}", file=file)


if __name__ == "__main__":
    summary()
