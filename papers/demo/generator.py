"""Steps 1 and 2 of the demo: the Bloch walk defined from its Kraus operators, checked and
measured (dimensions, entropy rate, what every Markov-k approximation loses), and the
belief manifolds drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .views import save_manifold_view

__all__ = ["bloch_walk_from_kraus", "generator_facts", "draw_manifolds"]


def bloch_walk_from_kraus(alpha: float = 1.0, beta: float = 51 ** 0.5):
    """The Bloch walk (Riechers, Elliott, Shai 2025, arXiv 2507.07432) as a user defines it:
    four Kraus operators on a qubit, one per symbol.

    ``K0 = g [[a+b, 0], [0, a-b]]``, ``K1 = g [[a-b, 0], [0, a+b]]``,
    ``K2 = g [[a, b], [b, a]]``, ``K3 = g [[a, -b], [-b, a]]``, ``g = 1/(2 sqrt(a^2+b^2))``,
    so that ``sum_x K_x^dagger K_x = I`` (a valid instrument).

    >>> q = bloch_walk_from_kraus()
    >>> q.alphabet_size, q.dim
    (4, 2)
    """
    from generators import QuantumGenerator

    a, b = alpha, beta
    g = 1 / (2 * np.sqrt(a**2 + b**2))
    kraus = [
        [g * np.array([[a + b, 0], [0, a - b]])],
        [g * np.array([[a - b, 0], [0, a + b]])],
        [g * np.array([[a, b], [b, a]])],
        [g * np.array([[a, -b], [-b, a]])],
    ]
    return QuantumGenerator(kraus, name=f"bloch_walk(alpha={alpha:g}, beta={beta:.6g}) from Kraus operators")


def generator_facts(q, kmax: int) -> dict:
    """The instrument check (``|sum K^dagger K - I|``), the dimensions of the qubit, its
    Gell-Mann GHMM and the minimal (Hankel-rank) form, equivalence to the library's Bloch
    walk, the entropy rate (nats, with its standard error) and, for every Markov order
    ``k <= kmax``, the loss ``h(k+1)`` of the order-k predictor and its gap to the rate."""
    from bayes import entropy_rate, myopic_entropy
    from generators import equivalent, hankel_rank, library, markov_approximation
    from nets.units import NATS

    completeness = float(np.abs(sum(K.conj().T @ K for Ks in q.kraus for K in Ks) - np.eye(2)).max())
    h = myopic_entropy(q, kmax + 2, base=NATS)
    est = entropy_rate(q, base=NATS)
    rate = float(est)
    markov = []
    for k in range(kmax + 1):
        m = markov_approximation(q, k)
        markov.append({"order": k, "states": int(m.dim), "loss_nats": float(h[k]), "gap_nats": float(h[k] - rate),
                       "relative": float(h[k] / rate), "same_process": bool(equivalent(m, q))})
    return {"name": q.name, "completeness_error": completeness,
            "dims": {"native (qubit)": int(q.dim), "GHMM (Gell-Mann)": int(q.to_ghmm().dim),
                     "minimal (Hankel rank)": int(hankel_rank(q))},
            "equivalent_to_library": bool(equivalent(q, library.bloch_walk())), "entropy_rate_nats": rate,
            "entropy_rate_stderr": float(getattr(est, "stderr", 0.0)), "markov": markov}


def draw_manifolds(q, depth: int, mess3_depth: int, out: Path) -> dict:
    """The Bloch walk's beliefs to ``depth`` (``bloch_walk_beliefs.png``, the x-z disk of
    the Bloch ball; its 3-D view for report.html, :mod:`papers.demo.views`) and Mess3's
    fractal for contrast (``mess3_beliefs.png``)."""
    from bayes import mixed_state_presentation, plot_beliefs
    from generators import library

    man = mixed_state_presentation(q, depth, progress=False)
    title = f"Bloch walk: {len(man):,} beliefs to depth {depth}"
    plot_beliefs(man, out / "bloch_walk_beliefs.png", title=title)
    save_manifold_view(man, out, title)
    mess = mixed_state_presentation(library.mess3(), mess3_depth, progress=False)
    plot_beliefs(mess, out / "mess3_beliefs.png", title=f"Mess3(0.05, 0.85): {len(mess):,} beliefs (contrast)")
    return {"bloch_walk_beliefs": len(man), "depth": depth, "closed": bool(man.closed), "mess3_beliefs": len(mess)}
