"""The mixed-state presentation (belief manifold) of a generator.

Starting from the initial belief ``eta_0``, every word ``w`` of length ``t`` leads to the
belief ``eta_w = eta_0 T[w] / (eta_0 T[w] tau)`` with probability
``Pr(w) = eta_0 T[w] tau``.  The mixed-state presentation (MSP) is the set of distinct
beliefs with the transitions ``eta -> eta T[x] / Pr(x | eta)`` between them, each
labelled with ``Pr(x | eta) = eta T[x] tau``.  When the set is finite (it *closes*) it
is a unifilar presentation of the process and its recurrent part is the eps-machine.

:func:`mixed_state_presentation` enumerates it breadth first, one tree level at a time:

1. the beliefs discovered at the previous level (the frontier, ``m x n``) are multiplied
   by all ``V`` operators in one product ``(m, n) @ (n, V n)``;
2. children with ``Pr(x | eta) <= zero_tol`` are pruned;
3. the rest are normalized and merged with the known beliefs by hashing their grid cells
   ``floor(eta / tol)`` (and a second grid shifted by half a cell), followed by an exact
   check ``max_i |eta_i - eta'_i| <= tol`` -- so merging costs ``O(N log N)``, not
   ``O(N^2)``;
4. the probability mass of each distinct belief at depth ``t`` is propagated sparsely,
   ``mass_t(eta') = sum_{eta, x : eta -> eta'} mass_{t-1}(eta) Pr(x | eta)``, so per-depth
   quantities (myopic entropies, ...) cost ``O(distinct beliefs)``, not ``O(V^t)``.

There is no Python loop over beliefs or tree nodes; the loop runs over depth only.  With
``keep_all=True`` no merging is done: every node of the word tree (every allowed word of
length ``<= depth``) is kept, with its word and exact probability (training data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators import Generator, NegativeProbabilityError, ShapeError

from ._util import as_generator, check_positive_int, progress_bar

__all__ = ["BeliefManifold", "mixed_state_presentation"]

#: default merge tolerance (max-norm, in GHMM coordinates scaled by max(1, |eta_0|_inf))
DEFAULT_TOL = 1e-9
#: conditional probabilities at or below this are exact zeros (pruned)
DEFAULT_ZERO_TOL = 1e-13
#: a conditional probability below -NEG_TOL is a genuinely negative probability (error)
NEG_TOL = 1e-9


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
            self._cache["recurrent"] = _bottom_components(self.transition_matrix())[0]
        return self._cache["recurrent"]

    def stationary_mass(self) -> np.ndarray:
        """Asymptotic (Cesaro-averaged) mass over beliefs, ``(N,)``, zero on transient ones.

        ``lim_T (1/T) sum_{t<T} mass_t``: for each bottom component, the probability of
        being absorbed into it from the initial belief times its stationary distribution.
        """
        self._require_closed("stationary_mass")
        if "stationary" not in self._cache:
            self._cache["stationary"] = _stationary_mass(self.transition_matrix(), self.level(0)[0],
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
        classes = _refine(self.next_state[rec], self.next_prob[rec], rec, self.n_beliefs, self.tol)
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
        Merge tolerance: beliefs within ``tol * max(1, |eta_0|_inf)`` in the max-norm are
        one belief.  Merging is by grid hashing (two grids offset by half a cell) plus
        an exact distance check; two beliefs within ``tol`` that straddle cell borders in
        both grids (probability ~ (n delta / tol)^2 for beliefs ``delta`` apart) stay
        separate -- harmless, they are merged one level later or counted twice.
    keep_all : bool
        Keep every node of the word tree (no merging): one entry per allowed word, its
        exact probability in :meth:`BeliefManifold.level`.  Never ``closed``.
    max_beliefs : int, optional
        Stop before a level that would take the number of beliefs above this; the
        manifold then ends at the last complete depth (``stopped == "max_beliefs"``).
    initial : native state, optional
        Starting state (default the generator's stationary one).
    zero_tol : float
        Branches with ``Pr(x | eta) <= zero_tol`` are pruned.
    progress : bool, optional
        Force the tqdm bar on/off; default on for ``depth >= 8`` when stderr is a terminal.

    Returns
    -------
    BeliefManifold

    Raises
    ------
    ValueError
        Bad depth/tol/max_beliefs; :class:`generators.NegativeProbabilityError` if some
        word gets a negative conditional probability (an invalid GHMM).

    Notes
    -----
    Time ``O(N V n^2 + N log N)`` and memory ``O(N (n + 2V))`` for ``N`` beliefs (tree
    nodes with ``keep_all``); loops run over depth only.
    """
    g = as_generator(g)
    depth = check_positive_int(depth, "depth", minimum=0)
    tol = float(tol)
    if not (tol > 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a positive number; got {tol!r}")
    zero_tol = float(zero_tol)
    if not (zero_tol >= 0 and np.isfinite(zero_tol)):
        raise ValueError(f"zero_tol must be a nonnegative number; got {zero_tol!r}")
    if max_beliefs is not None:
        max_beliefs = check_positive_int(max_beliefs, "max_beliefs")
    h = g.to_ghmm()
    eta0 = h.initial if initial is None else np.asarray(g.from_native(initial), dtype=float)
    if eta0.shape != (h.dim,):
        raise ShapeError(f"initial must be one native state (GHMM dimension {h.dim}); got shape {eta0.shape}")
    norm = float(eta0 @ h.tau)
    if not norm > 0:
        raise ValueError(f"initial state has normalization eta @ tau = {norm:.3g}; it must be positive")
    eta0 = eta0 / norm
    builder = _Builder(g, h, eta0, tol, zero_tol, keep_all, max_beliefs)
    bar = progress_bar(progress, depth, f"MSP {g.name or type(g).__name__}", auto=depth >= 8)
    try:
        for t in range(1, depth + 1):
            if not builder.step(t):
                break
            bar.update(1)
            bar.set_postfix_str(f"{builder.N:,} beliefs", refresh=False)
    finally:
        bar.close()
    return builder.result(g)


# ---------------------------------------------------------------------- construction
class _Builder:
    """Level-by-level state of the enumeration (private)."""

    def __init__(self, g, h, eta0, tol, zero_tol, keep_all, max_beliefs):
        self.V, self.n = h.alphabet_size, h.dim
        self.flat_ops = np.ascontiguousarray(h.operators.transpose(1, 0, 2).reshape(self.n, self.V * self.n))
        self.tau = h.tau
        self.grid = tol * max(1.0, float(np.abs(eta0).max()))
        self.tol, self.zero_tol = tol, zero_tol
        self.keep_all, self.max_beliefs = keep_all, max_beliefs
        self.N = 1
        self.frontier = eta0[None, :].copy()  # beliefs discovered at the previous level
        self.frontier_start = 0
        # per-level chunks (concatenated once at the end)
        self.bel = [self.frontier]
        self.dep = [np.zeros(1, dtype=np.int32)]
        self.par = [np.full(1, -1, dtype=np.int64)]
        self.sym = [np.full(1, -1, dtype=np.int32)]
        self.ns: list[np.ndarray] = []
        self.np_: list[np.ndarray] = []
        self.lev_ids = [np.zeros(1, dtype=np.int64)]
        self.lev_mass = [np.ones(1)]
        self.max_depth = 0
        self.closed = False
        self.stopped = None
        if not keep_all:
            self.index = _HashIndex(self.n, self.grid)
            self.index.insert(self.frontier, np.zeros(1, dtype=np.int64))
            self.all_bel = self.frontier  # concatenated beliefs (merge mode needs random access)
            self.all_ns = np.zeros((0, self.V), dtype=np.int64)
            self.all_np = np.zeros((0, self.V))

    # one level --------------------------------------------------------------------
    def step(self, t: int) -> bool:
        """Build depth ``t``; False when stopped (max_beliefs, or keep_all with nothing left)."""
        m = self.frontier.shape[0]
        if m:
            child = (self.frontier @ self.flat_ops).reshape(m, self.V, self.n)
            p = child @ self.tau  # (m, V) conditional probabilities (frontier is normalized)
            self._check_negative(p)
            ok = p > self.zero_tol
            rows, xs = np.nonzero(ok)  # parent-major, then symbol: breadth-first lexicographic
            cand = child[rows, xs]
            cand /= p[rows, xs][:, None]
            del child
            if self.keep_all:
                targets = self.N + np.arange(rows.size, dtype=np.int64)
                new_bel, new_rows = cand, np.arange(rows.size)
            else:
                targets, new_rows = self._merge(cand)
                new_bel = cand[new_rows]
            n_new = new_rows.size
            if self.max_beliefs is not None and self.N + n_new > self.max_beliefs:
                self.stopped = "max_beliefs"
                return False
            ns = np.full((m, self.V), -1, dtype=np.int64)
            ns[rows, xs] = targets
            pr = np.where(ok, p, 0.0)
            self.ns.append(ns)
            self.np_.append(pr)
            self.bel.append(new_bel)
            self.dep.append(np.full(n_new, t, dtype=np.int32))
            self.par.append(self.frontier_start + rows[new_rows])
            self.sym.append(xs[new_rows].astype(np.int32))
            if self.keep_all:
                ids = targets
                mass = self.lev_mass[-1][rows] * p[rows, xs]
            else:
                self.all_ns = np.concatenate([self.all_ns, ns])
                self.all_np = np.concatenate([self.all_np, pr])
            self.frontier_start = self.N
            self.frontier = new_bel
            self.N += n_new
            if not self.keep_all:
                self.all_bel = np.concatenate([self.all_bel, new_bel]) if n_new else self.all_bel
                if n_new == 0:
                    self.closed = True
        elif self.keep_all:
            return False  # every branch pruned: nothing deeper
        if not self.keep_all:
            ids, mass = self._propagate()
        self.lev_ids.append(ids)
        self.lev_mass.append(mass)
        self.max_depth = t
        return True

    def _merge(self, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ids of the candidates' beliefs (new ids assigned in order), and the rows that are new."""
        hA, hB = self.index.hashes(cand)
        targets = self.index.lookup(cand, hA, hB, self.all_bel)
        todo = np.nonzero(targets < 0)[0]
        if todo.size == 0:
            return targets, todo
        rep = _dedupe(cand[todo], hA[todo], hB[todo], self.grid)  # rep[j] <= j, rep[rep] == rep
        is_new = rep == np.arange(todo.size)
        new_local = np.nonzero(is_new)[0]
        new_id = -np.ones(todo.size, dtype=np.int64)
        new_id[new_local] = self.N + np.arange(new_local.size)
        targets[todo] = new_id[rep]
        new_rows = todo[new_local]
        self.index.insert_hashed(hA[new_rows], hB[new_rows], new_id[new_local])
        return targets, new_rows

    def _propagate(self) -> tuple[np.ndarray, np.ndarray]:
        ids, mass = self.lev_ids[-1], self.lev_mass[-1]
        tgt = self.all_ns[ids]
        w = mass[:, None] * self.all_np[ids]
        ok = tgt >= 0
        tgt, w = tgt[ok], w[ok]
        uniq, inv = np.unique(tgt, return_inverse=True)
        return uniq, np.bincount(inv, weights=w, minlength=uniq.size)

    def _check_negative(self, p: np.ndarray) -> None:
        bad = p < -NEG_TOL
        if bad.any():
            r, x = np.argwhere(bad)[0]
            pid = self.frontier_start + int(r)
            word = self._word_of(pid) + (int(x),)
            raise NegativeProbabilityError(
                f"word {word} has negative conditional probability Pr({int(x)} | prefix) = {p[r, x]:.3g}: "
                "this GHMM is not a valid process (word probabilities must be nonnegative)"
            )

    def _word_of(self, i: int) -> tuple[int, ...]:
        par = np.concatenate(self.par)
        sym = np.concatenate(self.sym)
        out = []
        while i > 0:
            out.append(int(sym[i]))
            i = int(par[i])
        return tuple(reversed(out))

    # result -----------------------------------------------------------------------
    def result(self, g: Generator) -> BeliefManifold:
        V = self.V
        # rows of the deepest (unexpanded) level: -1 / 0; concatenate one field at a time
        n_unexp = self.N - sum(a.shape[0] for a in self.ns)
        self.ns.append(np.full((n_unexp, V), -1, dtype=np.int64))
        self.np_.append(np.zeros((n_unexp, V)))
        expanded = np.zeros(self.N, dtype=bool)
        expanded[: self.N - n_unexp] = True
        if not self.keep_all:
            del self.all_ns, self.all_np, self.all_bel, self.index
        level_ptr = np.concatenate([[0], np.cumsum([a.size for a in self.lev_ids])]).astype(np.int64)
        fields = {}
        for key, chunks in (("beliefs", "bel"), ("depth", "dep"), ("parent", "par"), ("symbol", "sym"),
                            ("next_state", "ns"), ("next_prob", "np_"), ("level_ids", "lev_ids"),
                            ("level_mass", "lev_mass")):
            lst = getattr(self, chunks)
            fields[key] = lst[0] if len(lst) == 1 else np.concatenate(lst)
            setattr(self, chunks, None)  # free the chunks before the next field
            del lst
        return BeliefManifold(
            generator=g,
            level_ptr=level_ptr,
            expanded=expanded,
            max_depth=self.max_depth,
            closed=self.closed,
            keep_all=self.keep_all,
            tol=self.tol,
            zero_tol=self.zero_tol,
            stopped=self.stopped,
            **fields,
        )


class _HashIndex:
    """Sorted 64-bit hashes of grid cells of the known beliefs, for two grids offset by
    half a cell; lookups are ``searchsorted`` (private)."""

    def __init__(self, n: int, grid: float, seed: int = 0x5EED):
        rng = np.random.default_rng(seed)
        self.mult = rng.integers(1, np.iinfo(np.int64).max, size=n, dtype=np.int64).astype(np.uint64) | np.uint64(1)
        self.grid = grid
        self.keys = [np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)]
        self.ids = [np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)]

    def hashes(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = b / self.grid
        return self._hash(np.floor(s)), self._hash(np.floor(s + 0.5))

    def _hash(self, cells: np.ndarray) -> np.ndarray:
        lim = 2.0**62
        q = np.clip(cells, -lim, lim).astype(np.int64).view(np.uint64)
        h = q @ self.mult if q.shape[0] else np.zeros(0, dtype=np.uint64)  # wraps mod 2^64
        h = np.asarray(h, dtype=np.uint64)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
        return h

    def insert(self, b: np.ndarray, ids: np.ndarray) -> None:
        hA, hB = self.hashes(b)
        self.insert_hashed(hA, hB, ids)

    def insert_hashed(self, hA: np.ndarray, hB: np.ndarray, ids: np.ndarray) -> None:
        for k, h in enumerate((hA, hB)):
            keys = np.concatenate([self.keys[k], h])
            idx = np.concatenate([self.ids[k], ids])
            order = np.argsort(keys, kind="stable")
            self.keys[k], self.ids[k] = keys[order], idx[order]

    def lookup(self, b: np.ndarray, hA: np.ndarray, hB: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Id of a known belief within ``grid`` (max-norm) of each row of ``b``, else -1."""
        out = -np.ones(b.shape[0], dtype=np.int64)
        for k, h in enumerate((hA, hB)):
            keys = self.keys[k]
            if keys.size == 0:
                break
            todo = np.nonzero(out < 0)[0]
            if todo.size == 0:
                break
            pos = np.minimum(np.searchsorted(keys, h[todo]), keys.size - 1)
            hit = keys[pos] == h[todo]
            rows, cand = todo[hit], self.ids[k][pos[hit]]
            close = np.abs(b[rows] - known[cand]).max(axis=1) <= self.grid
            out[rows[close]] = cand[close]
        return out


def _dedupe(b: np.ndarray, hA: np.ndarray, hB: np.ndarray, grid: float) -> np.ndarray:
    """Representative row of each row of ``b`` among rows within ``grid`` that share a grid
    cell (first grid, then the offset one among the representatives); ``rep[j] <= j``."""
    k = b.shape[0]
    idx = np.arange(k)
    rep = _first_of_group(hA)
    far = np.abs(b - b[rep]).max(axis=1) > grid  # hash collision: keep separate
    rep[far] = idx[far]
    reps = np.nonzero(rep == idx)[0]
    rep2 = reps[_first_of_group(hB[reps])]
    far = np.abs(b[reps] - b[rep2]).max(axis=1) > grid
    rep2[far] = reps[far]
    remap = idx.copy()
    remap[reps] = rep2
    return remap[rep]


def _first_of_group(h: np.ndarray) -> np.ndarray:
    """For each entry, the index of the first entry with the same value."""
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    return first[inv.reshape(-1)]


# ---------------------------------------------------------------------- closed presentations
def _bottom_components(W) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in bottom strongly connected components of the graph of ``W`` (sparse), and
    the component label of every node."""
    from scipy.sparse import csgraph

    _, labels = csgraph.connected_components(W, directed=True, connection="strong")
    coo = W.tocoo()
    leaving = labels[coo.row] != labels[coo.col]
    not_bottom = np.zeros(labels.max() + 1 if labels.size else 0, dtype=bool)
    not_bottom[labels[coo.row[leaving]]] = True
    return np.nonzero(~not_bottom[labels])[0], labels


def _stationary_mass(W, start_ids: np.ndarray, start_mass: np.ndarray) -> np.ndarray:
    """Cesaro-limit mass over nodes of the Markov chain ``W`` (sparse, rows sum to 1)
    started from ``start_mass`` on ``start_ids``: absorption probabilities into each bottom
    component times that component's stationary distribution."""
    from scipy import sparse
    from scipy.sparse import linalg as splinalg

    N = W.shape[0]
    rec, labels = _bottom_components(W)
    W = sparse.csr_matrix(W)
    start = np.zeros(N)
    start[start_ids] = start_mass
    is_rec = np.zeros(N, dtype=bool)
    is_rec[rec] = True
    tr = np.nonzero(~is_rec)[0]
    # mass entering the recurrent nodes: direct + via expected transient visits
    into = start.copy()
    if tr.size:
        Q = W[tr][:, tr]
        R = W[tr][:, rec]
        A = (sparse.identity(tr.size, format="csc") - Q.T.tocsc())
        visits = splinalg.spsolve(A, start[tr]) if tr.size > 1 else start[tr] / (1 - Q.toarray()[0, 0])
        visits = np.atleast_1d(visits)
        into[rec] += R.T @ visits
    into[tr] = 0.0
    out = np.zeros(N)
    for c in np.unique(labels[rec]):  # loop over bottom components (few)
        members = np.nonzero(labels == c)[0]
        weight = into[members].sum()
        if weight <= 0:
            continue
        P = W[members][:, members].toarray()
        pi = _stationary_dense(P)
        out[members] = weight * pi
    return out


def _stationary_dense(P: np.ndarray) -> np.ndarray:
    """Stationary distribution of an irreducible stochastic matrix (least squares on
    ``pi (P - I) = 0``, ``sum pi = 1``)."""
    k = P.shape[0]
    A = np.vstack([(P - np.eye(k)).T, np.ones((1, k))])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(A, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _refine(ns: np.ndarray, npr: np.ndarray, ids: np.ndarray, N: int, tol: float) -> np.ndarray:
    """Coarsest partition of states (rows) with equal next-symbol probabilities and
    equivalent successors (Moore's algorithm, vectorized over states). Returns class labels."""
    k = ids.size
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    local = -np.ones(N, dtype=np.int64)
    local[ids] = np.arange(k)
    # probabilities rounded to a grid coarse enough to absorb floating error
    scale = max(tol, 1e-9)
    probs_key = np.round(npr / scale).astype(np.int64)
    _, cls = np.unique(probs_key, axis=0, return_inverse=True)
    cls = cls.reshape(-1)
    succ = np.where(ns >= 0, local[np.maximum(ns, 0)], -1)
    for _ in range(k):
        succ_cls = np.where(succ >= 0, cls[np.maximum(succ, 0)], -1)
        sig = np.column_stack([cls, succ_cls])
        _, new = np.unique(sig, axis=0, return_inverse=True)
        new = new.reshape(-1)
        if new.max() == cls.max():
            break
        cls = new
    return cls
