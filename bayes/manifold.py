"""The mixed-state presentation (belief manifold) of a generator.

Starting from the initial belief ``eta_0``, every word ``w`` of length ``t`` leads to the
belief ``eta_w = eta_0 T[w] / (eta_0 T[w] tau)`` with probability
``Pr(w) = eta_0 T[w] tau``.  The mixed-state presentation (MSP) is the set of distinct
beliefs with the transitions ``eta -> eta T[x] / Pr(x | eta)`` between them, each
labelled with ``Pr(x | eta) = eta T[x] tau``.  When the set is finite (it *closes*) it
is a unifilar presentation of the process and its recurrent part is the eps-machine [1]_.

:func:`mixed_state_presentation` enumerates it breadth first, one tree level at a time
(:mod:`bayes._msp_build`):

1. the beliefs discovered at the previous level (the frontier, ``m x n``) give all their
   children in one product ``(m, n) @ (n, V n)`` and their probabilities in one product
   ``(m, n) @ (n, V)`` with the columns ``T[x] @ tau``;
2. children with ``Pr(x | eta) <= zero_tol`` are pruned;
3. the rest are normalized and merged with the known beliefs *exactly*: every candidate
   within ``tol`` (max-norm) of a known belief joins it (:mod:`bayes._merge`: a sorted
   random projection, windowed search, exact check; ``O(N + k log k)`` per level);
4. the probability mass of each distinct belief at depth ``t`` is propagated sparsely,
   ``mass_t(eta') = sum_{eta, x : eta -> eta'} mass_{t-1}(eta) Pr(x | eta)``, so per-depth
   quantities (myopic entropies, ...) cost ``O(distinct beliefs)``, not ``O(V^t)``.

Costs: time ``O(k V n^2 + k log k)`` for a level of ``k`` candidates, memory about
``bytes_per_belief(n, V)`` (``8 n + 16 V + 41`` bytes) per belief, twice that at the peak
while building.  There is no Python loop over beliefs or tree nodes; the loop runs over
depth only.  With ``keep_all=True`` no merging is done: every node of the word tree
(every allowed word of length ``<= depth``) is kept, with its word and exact probability
(training data).
Recurrent states, stationary mass and the eps-machine of a closed presentation are in
:mod:`bayes._closed`; the memory guard (:class:`ManifoldTooLargeError`) in
:mod:`bayes._budget`.

References
----------
.. [1] J. P. Crutchfield, "Between order and chaos", Nature Physics 8, 17 (2012),
       arXiv:1112.4346.
.. [2] P. M. Riechers, J. P. Crutchfield, "Spectral simplicity of apparent complexity,
       Part I", Chaos 28, 033115 (2018), arXiv:1705.08042 (mixed-state presentations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.validation import check_real
from generators import Generator

from ._budget import DEFAULT_MEMORY_BUDGET, ManifoldTooLargeError, bytes_per_belief, default_cap
from ._closed import bottom_components, refine, stationary_mass
from ._msp_build import NEG_TOL, Builder
from ._util import as_generator, check_positive_int, progress_bar

__all__ = ["BeliefManifold", "mixed_state_presentation", "ManifoldTooLargeError", "DEFAULT_TOL",
           "DEFAULT_ZERO_TOL", "DEFAULT_MEMORY_BUDGET", "NEG_TOL", "default_cap", "bytes_per_belief"]

#: default merge tolerance (max-norm, in GHMM coordinates scaled by max(1, |eta_0|_inf))
DEFAULT_TOL = 1e-9
#: conditional probabilities at or below this are exact zeros (pruned)
DEFAULT_ZERO_TOL = 1e-13


@dataclass(eq=False, repr=False)
class BeliefManifold:
    """Distinct beliefs of a generator up to some depth, with their transitions and mass.

    ``N`` beliefs, ids ``0..N-1`` in breadth-first order (id 0 is the initial belief;
    ``depth`` is nondecreasing in the id).

    Attributes
    ----------
    generator : Generator
        The source generator (its GHMM form defines the coordinates).
    beliefs : (N, n) float64
        Beliefs in GHMM coordinates (``beliefs @ tau == 1``).
    depth : (N,) int32
        Depth (word length) at which each belief was first reached.
    parent, symbol : (N,) int64, int32
        Breadth-first tree: belief ``i`` is reached from ``parent[i]`` by ``symbol[i]``
        (``-1`` for the root).  Following parents gives a shortest word reaching ``i``
        (the lexicographically first one).
    next_state : (N, V) int64
        ``next_state[i, x]`` is the id of the belief after ``x`` from belief ``i``; ``-1``
        when ``Pr(x | i) <= zero_tol`` (pruned) or ``i`` was not expanded (deepest level).
    next_prob : (N, V) float64
        ``Pr(x | belief i)``; 0 where pruned or not expanded.
    expanded : (N,) bool
        Whether the row of ``next_state``/``next_prob`` was computed.
    max_depth : int
        Deepest depth whose probability mass is complete (the requested depth, unless
        stopped early by ``max_beliefs``).
    closed : bool
        True when every distinct belief was expanded and produced no new belief: the
        presentation is finite and exact (a unifilar presentation of the process).
    keep_all : bool
        True when built without merging (one entry per allowed word).
    stopped : str or None
        ``"max_beliefs"`` when enumeration stopped early at the belief budget.
    """

    generator: Generator
    beliefs: np.ndarray
    depth: np.ndarray
    parent: np.ndarray
    symbol: np.ndarray
    next_state: np.ndarray
    next_prob: np.ndarray
    expanded: np.ndarray
    level_ptr: np.ndarray
    level_ids: np.ndarray
    level_mass: np.ndarray
    max_depth: int
    closed: bool
    keep_all: bool
    tol: float
    zero_tol: float
    stopped: str | None = None
    _cache: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return self.beliefs.shape[0]

    @property
    def n_beliefs(self) -> int:
        """Number ``N`` of distinct beliefs (of tree nodes when ``keep_all``)."""
        return self.beliefs.shape[0]

    @property
    def dim(self) -> int:
        """GHMM dimension ``n`` of the belief coordinates."""
        return self.beliefs.shape[1]

    @property
    def alphabet_size(self) -> int:
        return self.next_state.shape[1]

    def __repr__(self) -> str:
        name = self.generator.name or type(self.generator).__name__
        state = "closed" if self.closed else ("stopped at max_beliefs" if self.stopped else "open")
        mode = ", keep_all" if self.keep_all else ""
        return f"<BeliefManifold {name}: {self.n_beliefs} beliefs, depth {self.max_depth}, {state}{mode}>"

    # ------------------------------------------------------------------ probability mass
    def level(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Beliefs occupied at depth ``t`` and their mass: ``(ids (k,), mass (k,))``.

        ``mass[j] = sum of Pr(w)`` over the words ``w`` of length ``t`` whose belief is
        ``ids[j]``; it sums to 1 (up to pruned zero-probability branches).  With
        ``keep_all`` these are the tree nodes of depth ``t`` and ``Pr(word)``.
        """
        if not 0 <= int(t) <= self.max_depth:
            raise ValueError(f"depth t must be in 0..{self.max_depth}; got {t!r}")
        a, b = self.level_ptr[int(t)], self.level_ptr[int(t) + 1]
        return self.level_ids[a:b], self.level_mass[a:b]

    def mass_at(self, t: int) -> np.ndarray:
        """Dense mass vector ``(N,)`` at depth ``t`` (see :meth:`level`)."""
        ids, mass = self.level(t)
        out = np.zeros(self.n_beliefs)
        out[ids] = mass
        return out

    def mass_per_depth(self) -> np.ndarray:
        """Total mass at each depth ``0..max_depth``, shape ``(max_depth+1,)`` (all ~1)."""
        counts = np.diff(self.level_ptr)
        which = np.repeat(np.arange(counts.size), counts)
        sums = np.bincount(which, weights=self.level_mass, minlength=counts.size)
        return sums

    @property
    def probs(self) -> np.ndarray:
        """Total probability of each belief, ``(N,)``, summing to 1.

        The mass summed over depths ``0..max_depth`` divided by ``max_depth + 1``: the
        probability that a uniformly chosen depth and a word of that length drawn from the
        process lead to the belief.  Per-depth masses: :meth:`level`, :meth:`mass_at`.
        """
        if "probs" not in self._cache:
            out = np.bincount(self.level_ids, weights=self.level_mass, minlength=self.n_beliefs)
            self._cache["probs"] = out / (self.max_depth + 1)
        return self._cache["probs"]

    # ------------------------------------------------------------------ words and states
    def words(self, ids: Any = None) -> np.ndarray:
        """Shortest words reaching beliefs ``ids`` (default all): int array ``(k, Lmax)``.

        Row ``j`` holds the word of belief ``ids[j]`` left-aligned, padded with ``-1``
        after its length ``depth[ids[j]]``.  Vectorized over beliefs (loops over depth).
        """
        ids = np.arange(self.n_beliefs) if ids is None else np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_beliefs):
            raise ValueError(f"belief ids must be in 0..{self.n_beliefs - 1}")
        lengths = self.depth[ids].astype(np.int64)
        Lmax = int(lengths.max()) if ids.size else 0
        out = np.full((ids.size, Lmax), -1, dtype=np.int64)
        cur = ids.copy()
        pos = lengths - 1
        for _ in range(Lmax):
            live = pos >= 0
            if not live.any():
                break
            rows = np.nonzero(live)[0]
            out[rows, pos[rows]] = self.symbol[cur[rows]]
            cur[rows] = self.parent[cur[rows]]
            pos[rows] -= 1
        return out

    def word(self, i: int) -> tuple[int, ...]:
        """A shortest word (tuple of symbols) reaching belief ``i``."""
        w = self.words([int(i)])[0]
        return tuple(int(s) for s in w[w >= 0])

    def native(self, ids: Any = None) -> Any:
        """Beliefs as native states: probability vectors (HMM), density matrices (quantum),
        GHMM vectors (post-quantum), tuples (product)."""
        b = self.beliefs if ids is None else self.beliefs[np.asarray(ids)]
        return self.generator.to_native(b)

    def emission_probs(self) -> np.ndarray:
        """Next-symbol distributions ``Pr(x | belief)``, shape ``(N, V)``."""
        if "emission" not in self._cache:
            self._cache["emission"] = self.beliefs @ self.generator.to_ghmm().symbol_vectors.T
        return self._cache["emission"]

    # ------------------------------------------------------------------ transitions
    def transition_matrix(self, symbol: int | None = None):
        """Sparse ``(N, N)`` matrix of transition probabilities between beliefs.

        ``W[i, j] = sum_{x : i -x-> j} Pr(x | i)`` (``symbol=None``), or the labelled matrix
        of one symbol.  A ``scipy.sparse.csr_matrix``.
        """
        from scipy import sparse

        N, V = self.next_state.shape
        if symbol is None:
            src = np.repeat(np.arange(N), V).reshape(N, V)
            ok = self.next_state >= 0
            i, j, p = src[ok], self.next_state[ok], self.next_prob[ok]
        else:
            if not 0 <= int(symbol) < V:
                raise ValueError(f"symbol must be in 0..{V - 1}; got {symbol!r}")
            col = self.next_state[:, int(symbol)]
            ok = col >= 0
            i, j, p = np.nonzero(ok)[0], col[ok], self.next_prob[ok, int(symbol)]
        return sparse.csr_matrix((p, (i, j)), shape=(N, N))

    def _require_closed(self, what: str) -> None:
        if not self.closed:
            why = ("it stopped at max_beliefs" if self.stopped else
                   f"new beliefs were still appearing at depth {self.max_depth}")
            raise ValueError(
                f"{what} needs a finite (closed) mixed-state presentation, but this one is not closed: "
                f"{why}. Increase depth/max_beliefs or tol if the process has a finite presentation; "
                "processes such as Mess3 or the Bloch walk have infinitely many beliefs."
            )

    def recurrent_states(self) -> np.ndarray:
        """Ids of the recurrent beliefs: those in bottom strongly connected components of
        the transition graph (needs a closed presentation).  Sorted ``(r,)`` int64."""
        self._require_closed("recurrent_states")
        if "recurrent" not in self._cache:
            self._cache["recurrent"] = bottom_components(self.transition_matrix())[0]
        return self._cache["recurrent"]

    def stationary_mass(self) -> np.ndarray:
        """Asymptotic (Cesaro-averaged) mass over beliefs, ``(N,)``, zero on transient ones.

        ``lim_T (1/T) sum_{t<T} mass_t``: for each bottom component, the probability of
        being absorbed into it from the initial belief times its stationary distribution.
        """
        self._require_closed("stationary_mass")
        if "stationary" not in self._cache:
            self._cache["stationary"] = stationary_mass(self.transition_matrix(), self.level(0)[0],
                                                         self.level(0)[1])
        return self._cache["stationary"]

    def eps_machine(self):
        """The recurrent part as a minimal unifilar HMM (the eps-machine).

        Recurrent beliefs are grouped by predictive equivalence (partition refinement on
        next-symbol probabilities and successor classes, vectorized over states), so a
        non-minimal generator gives the same machine as a minimal one.  Returns a
        :class:`generators.HMM` whose ``initial`` is the stationary distribution over
        causal states.  Also sets ``.belief_ids`` on it: the representative belief id of
        each causal state.
        """
        from generators import HMM

        rec = self.recurrent_states()
        classes = refine(self.next_state[rec], self.next_prob[rec], rec, self.n_beliefs, self.tol)
        k = int(classes.max()) + 1 if rec.size else 0
        local = -np.ones(self.n_beliefs, dtype=np.int64)
        local[rec] = np.arange(rec.size)
        reps = np.zeros(k, dtype=np.int64)
        reps[classes[::-1]] = np.arange(rec.size)[::-1]  # first member of each class
        V = self.alphabet_size
        T = np.zeros((V, k, k))
        ns, npr = self.next_state[rec[reps]], self.next_prob[rec[reps]]
        xs, rows = np.nonzero((ns >= 0).T)
        T[xs, rows, classes[local[ns[rows, xs]]]] = npr[rows, xs]
        T /= T.sum(axis=(0, 2))[None, :, None]
        pi = np.bincount(classes, weights=self.stationary_mass()[rec], minlength=k)
        name = f"eps-machine({self.generator.name})" if self.generator.name else "eps-machine"
        m = HMM(T, pi / pi.sum(), name=name)
        m.belief_ids = rec[reps]
        return m


def mixed_state_presentation(
    g: Generator,
    depth: int,
    tol: float = DEFAULT_TOL,
    *,
    keep_all: bool = False,
    max_beliefs: int | None = None,
    initial: Any = None,
    zero_tol: float = DEFAULT_ZERO_TOL,
    progress: bool | None = None,
) -> BeliefManifold:
    """Enumerate the distinct beliefs of ``g`` reached by words of length ``<= depth``.

    Parameters
    ----------
    g : Generator
        Any generator; beliefs are in its GHMM coordinates (``g.to_ghmm()``).
    depth : int >= 0
        Maximum word length.  If the presentation closes earlier, enumeration stops
        there, but masses are still propagated (cheaply) down to ``depth``.
    tol : float > 0
        Merge tolerance: a belief within ``tol * max(1, |eta_0|_inf)`` (max-norm) of a
        known belief *is* that belief, always (exact search).  First come: it joins the
        smallest-id belief within ``tol``; ids are breadth first.
    keep_all : bool
        Keep every node of the word tree (no merging): one entry per allowed word, its
        exact probability in :meth:`BeliefManifold.level`.  Never ``closed``.
    max_beliefs : int >= 1, optional
        Given: stop before a level that would take the number of beliefs above it; the
        manifold ends at the last complete depth (``stopped == "max_beliefs"``).  None
        (default): the memory guard -- a level that would pass ``default_cap(n, V)``
        beliefs, as many as fit in 512 MiB of result arrays (4.75 million for Mess3,
        3.9 million for the Bloch walk: both fit to depth 13, RRXOR to any depth), is
        refused with :class:`ManifoldTooLargeError` before it is allocated.
    initial : native state, optional
        Starting state (default the stationary one); finite, real (density matrices:
        complex Hermitian).
    zero_tol : float >= 0
        Branches with ``Pr(x | eta) <= zero_tol`` are pruned.
    progress : bool, optional
        Force the tqdm bar on/off; default on for ``depth >= 8`` when stderr is a terminal.

    Returns
    -------
    BeliefManifold

    Raises
    ------
    ValueError
        Bad arguments; :class:`ManifoldTooLargeError` over the default cap (the message
        gives the estimate); :class:`generators.NegativeProbabilityError` when a word
        gets a negative conditional probability (an invalid GHMM).

    Examples
    --------
    >>> from generators import library
    >>> m = mixed_state_presentation(library.rrxor(), 20)
    >>> m.n_beliefs, m.closed
    (36, True)
    """
    g = as_generator(g)
    depth, tol, zero_tol, max_beliefs = _check_arguments(depth, tol, zero_tol, max_beliefs)
    h = g.to_ghmm()
    eta0 = _initial_belief(g, h, initial)
    name = g.name or type(g).__name__
    cap = max_beliefs if max_beliefs is not None else default_cap(h.dim, h.alphabet_size, keep_all)
    builder = Builder(h, eta0, depth, radius=tol * max(1.0, float(np.abs(eta0).max())), zero_tol=zero_tol,
                      keep_all=keep_all, cap=cap, stop_at_cap=max_beliefs is not None,
                      what=f"mixed_state_presentation({name})")
    bar = progress_bar(progress, depth, f"MSP {name}", auto=depth >= 8)
    try:
        for t in range(1, depth + 1):  # loop over depth
            if not builder.step(t):
                break
            bar.update(1)
            bar.set_postfix_str(f"{builder.N:,} beliefs", refresh=False)
    finally:
        bar.close()
    return BeliefManifold(generator=g, tol=tol, zero_tol=zero_tol, **builder.fields())


def _check_arguments(depth: Any, tol: Any, zero_tol: Any, max_beliefs: Any) -> tuple:
    depth = check_positive_int(depth, "depth", minimum=0)
    tol = check_real(tol, "tol", minimum=0.0, min_open=True)
    zero_tol = check_real(zero_tol, "zero_tol", minimum=0.0)
    if max_beliefs is not None:
        max_beliefs = check_positive_int(max_beliefs, "max_beliefs")
    return depth, tol, zero_tol, max_beliefs


def _initial_belief(g: Generator, h, initial: Any) -> np.ndarray:
    """The starting belief in GHMM coordinates: the generator's, or a user's state checked
    by the state rule (:meth:`generators.Generator.check_state`)."""
    return h.initial if initial is None else g.check_state(initial, name="initial")
