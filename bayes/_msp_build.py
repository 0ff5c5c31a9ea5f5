"""Breadth-first construction of the mixed-state presentation, one tree level at a time.

For a frontier ``F`` of ``m`` beliefs (the beliefs first reached at depth ``t - 1``) a
level costs two matrix products and no Python loop over beliefs:

- ``P = F @ S`` with ``S[:, x] = T[x] @ tau`` ``(n, V)``: the conditional probabilities
  ``Pr(x | eta)``, ``(m, V)``;
- ``C = F @ [T[0] | ... | T[V-1]]`` ``(m, V n)``: every child ``eta T[x]`` in one GEMM,
  normalized in place by ``P`` -- the candidates, parent-major then symbol (breadth-first
  lexicographic order).

Children with ``Pr(x | eta) <= zero_tol`` are pruned.  With ``keep_all`` every candidate
is a node; otherwise candidates are merged into the known beliefs with
:class:`~bayes._merge.BeliefIndex` (exact within ``radius``).  The mass of the distinct
beliefs at depth ``t`` is propagated sparsely along the transitions of depth ``t - 1``.

Results accumulate in per-level chunks (:class:`Chunks`), concatenated one field at a
time at the end, so the peak memory is the result plus one level's candidates plus the
largest field.  Before a level is allocated its size is checked against the belief cap
(:mod:`bayes._budget`).
"""

from __future__ import annotations

import numpy as np

from generators import NegativeProbabilityError

from ._budget import bytes_per_belief, memory_bound, too_large
from ._merge import BeliefIndex

__all__ = ["Builder", "Chunks", "NEG_TOL"]

#: a conditional probability below -NEG_TOL is a genuinely negative probability (error)
NEG_TOL = 1e-9
#: largest stacked-operator matrix (bytes) built for the one-GEMM children product
FLAT_OPS_LIMIT = 64 * 2**20


class Chunks:
    """Rows appended level by level and read back by global row id (``take``)."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.starts: list[int] = []
        self.size = 0

    def append(self, a: np.ndarray) -> None:
        self.parts.append(a)
        self.starts.append(self.size)
        self.size += a.shape[0]

    def take(self, ids: np.ndarray) -> np.ndarray:
        """Rows ``ids`` (any order), ``(len(ids), ...)``: one gather per chunk touched."""
        if len(self.parts) == 1:
            return self.parts[0][ids]
        starts = np.asarray(self.starts)
        which = np.searchsorted(starts, ids, side="right") - 1
        ordered = which.size < 2 or bool(np.all(which[1:] >= which[:-1]))
        order = None if ordered else np.argsort(which, kind="stable")
        w = which if ordered else which[order]
        bounds = np.searchsorted(w, np.arange(len(self.parts) + 1))
        out = np.empty((ids.size,) + self.parts[0].shape[1:], dtype=self.parts[0].dtype)
        for c in np.nonzero(np.diff(bounds))[0]:  # loop over levels
            pos = np.arange(bounds[c], bounds[c + 1]) if order is None else order[bounds[c]:bounds[c + 1]]
            out[pos] = self.parts[c][ids[pos] - starts[c]]
        return out

    def consolidate(self) -> None:
        """Join the chunks into one (later ``take`` calls are one gather)."""
        if len(self.parts) > 1:
            self.parts, self.starts = [np.concatenate(self.parts)], [0]

    def concat(self) -> np.ndarray:
        """All rows in one array; the chunks are released."""
        parts, self.parts = self.parts, []
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class Builder:
    """Level-by-level state of the enumeration (see the module docstring).

    ``cap`` is the belief cap; ``stop_at_cap`` stops at the last complete depth when a
    level would pass it (an explicit ``max_beliefs``), otherwise the level is refused
    with :class:`~bayes._budget.ManifoldTooLargeError` (the default memory guard).
    """

    def __init__(self, h, eta0: np.ndarray, *, radius: float, zero_tol: float, keep_all: bool, cap: int,
                 stop_at_cap: bool, what: str):
        self.V, self.n = h.alphabet_size, h.dim
        ops = h.operators
        self.ops = ops
        self.flat_ops = (np.ascontiguousarray(ops.transpose(1, 0, 2).reshape(self.n, self.V * self.n))
                         if ops.nbytes <= FLAT_OPS_LIMIT else None)
        self.sym_vecs = np.ascontiguousarray(h.symbol_vectors.T)  # (n, V): column x is T[x] @ tau
        self.radius, self.zero_tol, self.keep_all = radius, zero_tol, keep_all
        self.cap, self.stop_at_cap, self.what = cap, stop_at_cap, what
        self.N = 1
        self.frontier = eta0[None, :].copy()  # beliefs first reached at the previous depth
        self.frontier_start = 0
        self.bel = Chunks()
        self.bel.append(self.frontier)
        self.dep = [np.zeros(1, dtype=np.int32)]
        self.par = [np.full(1, -1, dtype=np.int64)]
        self.sym = [np.full(1, -1, dtype=np.int32)]
        self.ns, self.np_ = Chunks(), Chunks()
        self.lev_ids = [np.zeros(1, dtype=np.int64)]
        self.lev_mass = [np.ones(1)]
        self.max_depth, self.closed, self.stopped = 0, False, None
        self.index = None
        self.last = None
        if not keep_all:
            # candidates ever merged: at most V per expanded belief, and the expanded beliefs
            # fit under the cap and in memory (fewer payload bits leave more for the keys)
            limit = (self.V + 1) * min(cap, memory_bound(self.n, self.V), 2**38) + 2
            self.index = BeliefIndex(self.n, radius, id_limit=limit, amax=_entry_bound(h, eta0))
            self.index.merge(self.frontier, 0, self.bel.take)

    # one level --------------------------------------------------------------------
    def step(self, t: int) -> bool:
        """Build depth ``t``; False when stopped (cap reached, or keep_all with nothing left)."""
        expanded = None
        if self.frontier.shape[0]:
            expanded = self._expand(t)
            if expanded is None:
                return False
        elif self.keep_all:
            return False  # every branch pruned: nothing deeper
        if not self.keep_all:
            ids, mass = self._propagate(expanded)
            self.lev_ids.append(ids)
            self.lev_mass.append(mass)
        self.max_depth = t
        return True

    def _expand(self, t: int) -> tuple[int, int, bool] | None:
        """Children of the frontier; returns ``(start, m, plain)`` of the expanded rows
        (``plain``: no branch pruned, every child new), or None when stopped."""
        F, fs = self.frontier, self.frontier_start
        m, V = F.shape[0], self.V
        p = F @ self.sym_vecs  # (m, V) conditional probabilities (the frontier is normalized)
        self._check_negative(p)
        ok = p > self.zero_tol
        k = int(np.count_nonzero(ok))
        full = k == m * V
        if self._refuse(t, k, before=True):
            return None
        flat = None if full else np.flatnonzero(ok)  # candidate -> parent row * V + symbol
        cand = self._children(F, p, flat)
        if self.keep_all:
            targets = self.N + np.arange(k, dtype=np.int64)
            new_rows = None
        else:
            targets, new_rows = self.index.merge(cand, self.N, self.bel.take)
            if self._refuse(t, new_rows.size, before=False):
                return None
        ns = targets.reshape(m, V) if full else np.full((m, V), -1, dtype=np.int64)
        if not full:
            ns.reshape(-1)[flat] = targets
        self.last = (ns, p if full else np.where(ok, p, 0.0))  # transitions of the rows just expanded
        self.ns.append(self.last[0])
        self.np_.append(self.last[1])
        if self.keep_all:
            self._record_tree_level(t, cand, p, flat, targets)
        else:
            self._record_new(t, cand, new_rows, flat, full)
        return fs, m, full and (self.keep_all or new_rows.size == k)

    def _children(self, F: np.ndarray, p: np.ndarray, flat: np.ndarray | None) -> np.ndarray:
        """Normalized children ``eta T[x] / Pr(x | eta)`` of the kept branches ``flat``
        (parent row * V + symbol; None: all), ``(k, n)``."""
        m, V, n = F.shape[0], self.V, self.n
        if self.flat_ops is not None:
            C = (F @ self.flat_ops).reshape(m, V, n)
        else:  # very large operators: one product per symbol instead of a stacked copy
            C = np.empty((m, V, n))
            for x in range(V):
                C[:, x, :] = F @ self.ops[x]
        if flat is None:
            C /= p[:, :, None]
            return C.reshape(m * V, n)
        cand = C.reshape(m * V, n)[flat]
        cand /= p.reshape(-1)[flat][:, None]
        return cand

    def _record_tree_level(self, t: int, cand: np.ndarray, p: np.ndarray, flat, ids: np.ndarray) -> None:
        """keep_all: every candidate is a node (ids ``ids``) with its exact word probability."""
        mass = self.lev_mass[-1]
        self._record_parents(flat, flat is None, None)
        if flat is None:
            self.lev_mass.append((mass[:, None] * p).reshape(-1))
        else:
            self.lev_mass.append(mass[flat // self.V] * p.reshape(-1)[flat])
        self.lev_ids.append(ids)
        self._advance(t, cand)

    def _record_new(self, t: int, cand: np.ndarray, new_rows: np.ndarray, flat, full: bool) -> None:
        """Merged mode: keep the candidates that became new beliefs."""
        all_new = new_rows.size == cand.shape[0]
        self._record_parents(flat, full and all_new, new_rows)
        self._advance(t, cand if all_new else np.take(cand, new_rows, axis=0))
        if new_rows.size == 0:  # closed: from now on only masses move, along fixed transitions
            self.closed = True
            self.ns.consolidate()
            self.np_.consolidate()

    def _record_parents(self, flat, every: bool, rows) -> None:
        """Parent id and symbol of the new beliefs: all children of the frontier (``every``),
        else candidates ``rows`` (None: all) of the kept branches ``flat`` (parent * V +
        symbol; None: all)."""
        fs, m, V = self.frontier_start, self.frontier.shape[0], self.V
        if every:
            self.par.append(np.repeat(np.arange(fs, fs + m, dtype=np.int64), V))
            self.sym.append(np.tile(np.arange(V, dtype=np.int32), m))
            return
        f = rows if flat is None else (flat if rows is None else flat[rows])
        parent = f // V
        self.sym.append((f - parent * V).astype(np.int32))
        self.par.append(parent + fs)

    def _advance(self, t: int, new: np.ndarray) -> None:
        self.bel.append(new)
        self.dep.append(np.full(new.shape[0], t, dtype=np.int32))
        self.frontier_start = self.N
        self.frontier = new
        self.N += new.shape[0]

    def _refuse(self, t: int, count: int, before: bool) -> bool:
        """Check a level against the cap: True to stop here, or raise (default guard).

        ``before`` the candidates are built ``count`` is their number ``k``: keep_all
        would hold ``N + k`` beliefs; merging needs ``k`` candidate rows and will hold
        at most ``N + k`` (refused when ``k`` alone passes the cap, unless
        ``stop_at_cap``).  After merging ``count`` is the number of new beliefs.
        """
        total = self.N + count
        if before and not self.keep_all:  # merging: bound the candidate rows (guard only)
            over = count > self.cap and not self.stop_at_cap
        else:
            over = total > self.cap
        if not over:
            return False
        if self.stop_at_cap:
            self.stopped = "max_beliefs"
            return True
        raise too_large(self.what, t, total, self.max_depth, self.N, self.cap,
                        bytes_per_belief(self.n, self.V, self.keep_all), default=True)

    def _propagate(self, expanded: tuple[int, int, bool] | None) -> tuple[np.ndarray, np.ndarray]:
        """Mass at this depth from the previous depth's mass and transitions (sparse)."""
        ids, mass = self.lev_ids[-1], self.lev_mass[-1]
        if expanded is not None and ids.size == expanded[1] and ids[0] == expanded[0] \
                and ids[-1] == expanded[0] + expanded[1] - 1:  # exactly the rows just expanded
            tgt, pr = self.last
            if expanded[2]:  # every child a new belief: like the word tree
                return tgt.reshape(-1), (mass[:, None] * pr).reshape(-1)
        else:
            tgt, pr = self.ns.take(ids), self.np_.take(ids)
        w = mass[:, None] * pr
        ok = tgt >= 0
        if ok.all():
            tgt, w = tgt.reshape(-1), w.reshape(-1)
        else:
            tgt, w = tgt[ok], w[ok]
        if tgt.size < 2 or bool((np.diff(tgt) > 0).all()):  # distinct and sorted already
            return tgt, w
        if self.N <= 8 * tgt.size + 4096:  # few beliefs: dense sums over all of them
            ids = np.flatnonzero(np.bincount(tgt, minlength=self.N))
            return ids, np.bincount(tgt, weights=w, minlength=self.N)[ids]
        return _sum_by_id(tgt, w, self.N - self.frontier.shape[0] if expanded is not None else self.N)

    def _check_negative(self, p: np.ndarray) -> None:
        bad = p < -NEG_TOL
        if bad.any():
            r, x = np.argwhere(bad)[0]
            word = self._word_of(self.frontier_start + int(r)) + (int(x),)
            raise NegativeProbabilityError(
                f"word {word} has negative conditional probability Pr({int(x)} | prefix) = {p[r, x]:.3g}: "
                "this GHMM is not a valid process (word probabilities must be nonnegative)"
            )

    def _word_of(self, i: int) -> tuple[int, ...]:
        par, sym = np.concatenate(self.par), np.concatenate(self.sym)
        out = []
        while i > 0:  # one word, for an error message
            out.append(int(sym[i]))
            i = int(par[i])
        return tuple(reversed(out))

    # result -----------------------------------------------------------------------
    def fields(self) -> dict:
        """The BeliefManifold fields; chunks are concatenated one field at a time and freed."""
        n_unexp = self.N - self.ns.size  # rows of the deepest (unexpanded) level: -1 / 0
        self.ns.append(np.full((n_unexp, self.V), -1, dtype=np.int64))
        self.np_.append(np.zeros((n_unexp, self.V)))
        expanded = np.zeros(self.N, dtype=bool)
        expanded[: self.N - n_unexp] = True
        self.index = self.last = None
        self.frontier = None
        level_ptr = np.concatenate([[0], np.cumsum([a.size for a in self.lev_ids])]).astype(np.int64)
        out = dict(level_ptr=level_ptr, expanded=expanded, max_depth=self.max_depth, closed=self.closed,
                   keep_all=self.keep_all, stopped=self.stopped)
        for key, name in (("beliefs", "bel"), ("next_state", "ns"), ("next_prob", "np_")):
            out[key] = getattr(self, name).concat()
        for key, name in (("depth", "dep"), ("parent", "par"), ("symbol", "sym"), ("level_ids", "lev_ids"),
                          ("level_mass", "lev_mass")):
            parts = getattr(self, name)
            setattr(self, name, None)
            out[key] = parts[0] if len(parts) == 1 else np.concatenate(parts)
            del parts
        return out


def _entry_bound(h, eta0: np.ndarray) -> float | None:
    """A bound on every belief entry when it is known in advance: nonnegative operators
    and initial belief with ``tau > 0`` (HMMs) keep beliefs nonnegative with
    ``eta @ tau = 1``, so ``eta_i <= 1 / tau_i`` (1% margin for rounding).  Else None."""
    if h.tau.min() > 0 and eta0.min() >= 0 and h.operators.min() >= 0:
        return 1.01 / float(h.tau.min())
    return None


def _sum_by_id(ids: np.ndarray, w: np.ndarray, first_new: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``ids`` (sorted) and the sums of ``w`` over each.

    Ids ``>= first_new`` (beliefs new at this depth, usually most) are summed with a dense
    ``bincount`` over their range; older ids with a sort (or a ``bincount`` when their
    range is small).
    """
    new = ids >= first_new
    parts = []
    for sel in (~new, new):  # old ids are all smaller than new ones
        i, x = ids[sel], w[sel]
        if i.size == 0:
            continue
        if i.size == 1 or bool((np.diff(i) > 0).all()):
            parts.append((i, x))
            continue
        lo, hi = int(i.min()), int(i.max())
        if hi - lo <= 8 * i.size + 1024:
            span = hi - lo + 1
            hit = np.zeros(span, dtype=bool)
            hit[i - lo] = True
            where = np.flatnonzero(hit)
            parts.append((where + lo, np.bincount(i - lo, weights=x, minlength=span)[where]))
        else:
            uniq, inv = np.unique(i, return_inverse=True)
            parts.append((uniq, np.bincount(inv.reshape(-1), weights=x, minlength=uniq.size)))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([parts[0][0], parts[1][0]]), np.concatenate([parts[0][1], parts[1][1]])
