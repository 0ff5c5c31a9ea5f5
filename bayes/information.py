"""Information quantities of a process, from its mixed-state presentation.

With ``mass_t`` the probability mass of the distinct beliefs at depth ``t`` (see
:class:`~bayes.manifold.BeliefManifold`) and ``H(eta) = -sum_x Pr(x|eta) log Pr(x|eta)``:

- myopic entropy ``h(L) = H[X_L | X_1..X_{L-1}] = sum_eta mass_{L-1}(eta) H(eta)`` -- the
  Bayes-optimal next-symbol cross-entropy at position ``L`` (``L = 1..``);
- block entropy ``H(L) = H[X_1..X_L] = sum_{k<=L} h(k)`` (chain rule);
- entropy rate ``h = lim h(L)``;
- excess entropy ``E = sum_{L>=1} (h(L) - h) = lim (H(L) - L h)``;
- statistical complexity ``C_mu = H[causal state]``, the entropy of the stationary
  distribution of the eps-machine.

Every quantity is computed from distinct beliefs, so the cost grows with the number of
distinct beliefs, not with ``V^L``.  For an independent product
(:class:`generators.ProductGenerator`) every quantity is the sum of the factors' (the
joint entropies of independent blocks add), computed per factor: the joint manifold of a
product has the product of the factors' belief counts.  ``base`` selects the unit (2: bits, the default;
``math.e``: nats).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from generators.validation import check_real
from generators import Generator, ProductGenerator

from ._budget import ManifoldTooLargeError
from ._util import Estimate, as_generator, check_base, check_positive_int, entropy_rows
from .manifold import DEFAULT_TOL, BeliefManifold, mixed_state_presentation

__all__ = ["myopic_entropy", "block_entropy", "entropy_rate", "excess_entropy", "statistical_complexity"]


def myopic_entropy(g: Generator | BeliefManifold, L: int, base: float = 2, *, tol: float = DEFAULT_TOL,
                   max_beliefs: int | None = None, progress: bool | None = None) -> np.ndarray:
    """Myopic entropies ``h(1..L)``: the optimal next-symbol loss at positions ``1..L``.

    ``h(k) = H[X_k | X_1..X_{k-1}] = sum_eta mass_{k-1}(eta) H(Pr(. | eta))``, summed over the
    distinct beliefs occupied at depth ``k-1`` (the expected cross-entropy of a
    Bayes-optimal predictor that has seen ``k-1`` symbols from the stationary start).

    Parameters
    ----------
    g : Generator or BeliefManifold
        A generator (its presentation is enumerated to depth ``L-1``) or a manifold
        already built to depth ``>= L-1`` without ``max_beliefs`` truncation.
    L : int >= 1
    base : float
        Logarithm base (2 bits, ``math.e`` nats).
    tol : float > 0
        Merge tolerance of the presentation (see :func:`mixed_state_presentation`).
    max_beliefs : int >= 1, optional
        Belief cap of the presentation; default the memory guard of
        :func:`mixed_state_presentation` (512 MiB of result arrays).  Depth ``L-1`` is
        needed in full, so a presentation that would pass the cap is refused.

    Returns
    -------
    ndarray, shape (L,)
        ``h(1), ..., h(L)``, nonincreasing for a stationary start.

    Raises
    ------
    ManifoldTooLargeError
        (a ValueError) depth ``L-1`` needs more beliefs than the cap, found level by level
        before anything too large is allocated; the message gives the estimate and the cap.
    """
    L = check_positive_int(L, "L")
    b = check_base(base)
    tol = check_real(tol, "tol", minimum=0.0, min_open=True)
    if max_beliefs is not None:
        max_beliefs = check_positive_int(max_beliefs, "max_beliefs")
    if isinstance(g, ProductGenerator):
        return sum(myopic_entropy(f, L, base, tol=tol, max_beliefs=max_beliefs, progress=progress)
                   for f in g.factors)
    m = _manifold(g, L - 1, tol, progress, max_beliefs, f"myopic_entropy(L={L})")
    H = entropy_rows(m.emission_probs(), b)
    out = np.empty(L)
    for t in range(L):  # loop over depth; each term is a sparse dot product
        ids, mass = m.level(t)
        out[t] = mass @ H[ids]
    return out


def block_entropy(g: Generator | BeliefManifold, L: int, base: float = 2, *, tol: float = DEFAULT_TOL,
                  max_beliefs: int | None = None, progress: bool | None = None) -> np.ndarray:
    """Block entropies ``H(1..L)``, ``H(k) = -sum_{|w|=k} Pr(w) log Pr(w)``, shape ``(L,)``.

    Computed by the chain rule ``H(k) = h(1) + ... + h(k)`` from :func:`myopic_entropy`
    (cost in distinct beliefs, not ``V^k`` words; same arguments and memory guard).
    """
    return np.cumsum(myopic_entropy(g, L, base, tol=tol, max_beliefs=max_beliefs, progress=progress))


def entropy_rate(g: Generator | BeliefManifold, base: float = 2, *, depth: int = 64,
                 max_beliefs: int = 100_000, tol: float = DEFAULT_TOL, n_sequences: int = 1000,
                 length: int = 2000, burn_in: int | None = None, seed: int | np.random.Generator | None = 0
                 ) -> Estimate:
    """Entropy rate ``h = lim_L h(L)`` per symbol.

    Exact when the mixed-state presentation closes within ``depth`` / ``max_beliefs``:
    ``h = sum_eta pi(eta) H(eta)`` over the recurrent beliefs with their stationary mass
    ``pi``.  Otherwise estimated from ``n_sequences`` sampled sequences of ``length``
    symbols: the mean of ``H(Pr(. | eta_t))`` over positions ``t >= burn_in`` (a
    Rao-Blackwellized form of ``-log Pr(x_t | past)``); its expectation is the average of
    ``h(t+1)`` over the window, which exceeds ``h`` by at most ``h(burn_in+1) - h``.  The
    standard error is over sequences (independent), so correlations along a sequence are
    accounted for.

    Returns
    -------
    Estimate
        A float with ``.exact``, ``.stderr`` (0 when exact) and ``.method``.
    """
    b = check_base(base)
    depth, max_beliefs, tol = _check_budget(depth, "depth", max_beliefs, tol)
    n_sequences = check_positive_int(n_sequences, "n_sequences", minimum=2)
    length = check_positive_int(length, "length")
    if burn_in is not None:
        burn_in = check_positive_int(burn_in, "burn_in", minimum=0)
    if isinstance(g, ProductGenerator):
        return _sum_estimates([entropy_rate(f, base, depth=depth, max_beliefs=max_beliefs, tol=tol,
                                            n_sequences=n_sequences, length=length, burn_in=burn_in, seed=seed)
                               for f in g.factors])
    m = g if isinstance(g, BeliefManifold) else mixed_state_presentation(
        as_generator(g), depth, tol, max_beliefs=max_beliefs)
    if m.closed:
        H = entropy_rows(m.emission_probs(), b)
        return Estimate(m.stationary_mass() @ H, exact=True, method="closed mixed-state presentation")
    gen = m.generator
    burn = length // 4 if burn_in is None else burn_in
    if burn >= length:
        raise ValueError(f"burn_in must be smaller than length={length}; got {burn}")
    per_seq = _sampled_entropies(gen, n_sequences, length, burn, b, seed)
    est = float(per_seq.mean())
    se = float(per_seq.std(ddof=1) / math.sqrt(n_sequences))
    return Estimate(est, stderr=se, method=f"sampled: {n_sequences} sequences x {length} symbols, burn-in {burn}")


def excess_entropy(g: Generator | BeliefManifold, base: float = 2, *, max_length: int = 64,
                   max_beliefs: int = 200_000, tol: float = DEFAULT_TOL) -> Estimate:
    """Excess entropy ``E = sum_{L>=1} (h(L) - h)`` (mutual information past/future).

    - Closed presentation (single recurrent component): exact,
      ``E = m_0 (I - W + 1 pi)^{-1} (H - h 1)`` with ``W`` the belief transition matrix,
      ``m_0`` the initial mass, ``pi`` the stationary mass and ``H`` the belief
      entropies (the Abel sum of the series, equal to it because the terms decay
      geometrically).  ``.exact`` is True, ``.bound`` 0.
    - Otherwise: myopic entropies ``h(1..K+1)`` up to the deepest depth ``K`` the belief
      budget allows.  ``E_low = sum_{k<=K} (h(k) - h(K+1))`` is a rigorous lower bound
      (``h(k)`` is nonincreasing with limit ``h``).  The value is extrapolated assuming
      geometric decay ``h(k) - h ~ c r^k`` (``r`` from the last differences), and
      ``.bound = value - E_low`` bounds the truncation error under that assumption
      (``inf`` when the differences do not decay).

    Returns
    -------
    Estimate
    """
    b = check_base(base)
    max_length, max_beliefs, tol = _check_budget(max_length, "max_length", max_beliefs, tol)
    if isinstance(g, ProductGenerator):
        return _sum_estimates([excess_entropy(f, base, max_length=max_length, max_beliefs=max_beliefs, tol=tol)
                               for f in g.factors])
    m = g if isinstance(g, BeliefManifold) else mixed_state_presentation(
        as_generator(g), max_length, tol, max_beliefs=max_beliefs)
    H = entropy_rows(m.emission_probs(), b)
    if m.closed:
        exact = _excess_closed(m, H)
        if exact is not None:
            return Estimate(exact, exact=True, method="closed mixed-state presentation (fundamental matrix)")
    K = m.max_depth
    hs = np.array([m.level(t)[1] @ H[m.level(t)[0]] for t in range(K + 1)])  # h(1..K+1)
    low = float(np.sum(hs[:-1] - hs[-1]))
    d = -np.diff(hs)  # d_k = h(k) - h(k+1), k = 1..K
    if d.size and np.all(np.abs(d[-3:]) <= 1e-14):  # already converged to rounding
        return Estimate(low, bound=float(np.abs(d[-3:]).max()) * max(K, 1),
                        method=f"h(1..{K + 1}) from the manifold; converged")
    r = _decay_ratio(d)
    if r is None:
        return Estimate(low, bound=math.inf, method=f"lower bound from h(1..{K + 1}); no geometric decay seen")
    excess_last = d[-1] * r / (1 - r)  # h(K+1) - h under the geometric model
    h_inf = hs[-1] - excess_last
    value = float(np.sum(hs - h_inf) + excess_last * r / (1 - r))
    return Estimate(value, bound=value - low,
                    method=f"h(1..{K + 1}) from the manifold, geometric tail with ratio {r:.3g}")


def statistical_complexity(g: Generator | BeliefManifold, base: float = 2, *, depth: int = 64,
                           max_beliefs: int = 100_000, tol: float = DEFAULT_TOL) -> float:
    """Statistical complexity ``C_mu = -sum_s pi_s log pi_s`` of the eps-machine.

    ``pi`` is the stationary distribution over causal states: the recurrent beliefs of a
    closed mixed-state presentation, merged by predictive equivalence.  Raises
    ValueError when the presentation does not close (infinite ``C_mu``, e.g. Mess3).
    """
    b = check_base(base)
    depth, max_beliefs, tol = _check_budget(depth, "depth", max_beliefs, tol)
    if isinstance(g, ProductGenerator):  # causal states of independent factors pair up
        return float(sum(statistical_complexity(f, base, depth=depth, max_beliefs=max_beliefs, tol=tol)
                         for f in g.factors))
    m = g if isinstance(g, BeliefManifold) else mixed_state_presentation(
        as_generator(g), depth, tol, max_beliefs=max_beliefs)
    pi = m.eps_machine().initial_state
    return float(entropy_rows(pi[None, :], b)[0])


# ---------------------------------------------------------------------- helpers
def _sum_estimates(parts: list) -> Estimate:
    """Sum of independent factors' estimates: standard errors in quadrature, bounds added."""
    return Estimate(float(sum(parts)), exact=all(p.exact for p in parts),
                    stderr=math.sqrt(sum(p.stderr ** 2 for p in parts)), bound=float(sum(p.bound for p in parts)),
                    method="sum over independent factors: " + "; ".join(p.method for p in parts))


def _check_budget(depth: Any, depth_name: str, max_beliefs: Any, tol: Any) -> tuple[int, int | None, float]:
    """Validated ``(depth >= 1, max_beliefs >= 1 or None, tol > 0)`` of the estimators
    (``max_beliefs=None``: the default memory guard of :func:`mixed_state_presentation`)."""
    if max_beliefs is not None:
        max_beliefs = check_positive_int(max_beliefs, "max_beliefs")
    return check_positive_int(depth, depth_name), max_beliefs, check_real(tol, "tol", minimum=0.0, min_open=True)


def _manifold(g: Any, need_depth: int, tol: float, progress: bool | None, max_beliefs: int | None,
              what: str) -> BeliefManifold:
    """A presentation complete to ``need_depth``: the given one, or one built under the cap."""
    if isinstance(g, BeliefManifold):
        if g.max_depth < need_depth:
            raise ValueError(f"the manifold has complete mass to depth {g.max_depth}, but depth {need_depth} "
                             "is needed; build it deeper (or pass the generator)")
        return g
    try:
        m = mixed_state_presentation(as_generator(g), need_depth, tol, max_beliefs=max_beliefs, progress=progress)
    except ManifoldTooLargeError as e:
        raise ManifoldTooLargeError(f"{what}: {e}") from None
    if m.max_depth < need_depth:  # an explicit max_beliefs stopped it
        raise ManifoldTooLargeError(
            f"{what}: the mixed-state presentation to depth {need_depth} passes max_beliefs={max_beliefs:,} "
            f"(complete to depth {m.max_depth} with {m.n_beliefs:,} beliefs); pass a larger max_beliefs= "
            "(command line: --max-beliefs) or a smaller L")
    return m


def _sampled_entropies(g: Generator, B: int, L: int, burn: int, base: float, seed) -> np.ndarray:
    """Per-sequence mean of ``H(Pr(. | eta_t))`` over ``t = burn..L-1``, shape ``(B,)``."""
    h = g.to_ghmm()
    words = g.sample(B, L, seed=seed)
    sv = h.symbol_vectors.T
    total = np.zeros(B)
    eta = None
    chunk = 256
    for s in range(0, L, chunk):  # chunks of positions bound memory to B x chunk x n
        w = words[:, s:s + chunk]
        beliefs, _ = h.forward(w, initial=eta, keep_beliefs=True)
        eta = beliefs[:, -1]
        t = np.arange(s, s + w.shape[1])
        use = t >= burn
        if use.any():
            total += entropy_rows(beliefs[:, :-1][:, use] @ sv, base).sum(axis=1)
    return total / (L - burn)


def _excess_closed(m: BeliefManifold, H: np.ndarray) -> float | None:
    """Exact excess entropy of a closed presentation with one recurrent component, or None."""
    from scipy.sparse import csgraph

    rec = m.recurrent_states()
    W = m.transition_matrix()
    _, labels = csgraph.connected_components(W, directed=True, connection="strong")
    if np.unique(labels[rec]).size != 1 or m.n_beliefs > 4000:
        return None
    pi = m.stationary_mass()
    h = float(pi @ H)
    N = m.n_beliefs
    Z = np.eye(N) - W.toarray() + np.outer(np.ones(N), pi)
    m0 = m.mass_at(0)
    x = np.linalg.solve(Z.T, m0)  # x = m0 Z^-1 (as a row)
    return float(x @ (H - h))


def _decay_ratio(d: np.ndarray) -> float | None:
    """Ratio of geometric decay of the last few positive differences, or None."""
    tail = d[-4:]
    if tail.size < 2 or np.any(tail <= 0):
        return None
    ratios = tail[1:] / tail[:-1]
    r = float(np.max(ratios))
    return r if 0 < r < 1 else None
