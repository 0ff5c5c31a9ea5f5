"""Breadth-first construction of the mixed-state presentation, one tree level at a time.

For a frontier ``F`` of ``m`` beliefs (the beliefs first reached at depth ``t - 1``) a
level costs two matrix products and no Python loop over beliefs:

- ``P = F @ S`` with ``S[:, x] = T[x] @ tau`` ``(n, V)``: the conditional probabilities
  ``Pr(x | eta)``, ``(m, V)``, written straight into ``next_prob``;
- ``C = F @ [T[0] | ... | T[V-1]]`` ``(m, V n)``: every child ``eta T[x]`` in one GEMM,
  written straight after the known beliefs and normalized there by ``P`` -- the
  candidates, parent-major then symbol (breadth-first lexicographic order).

Children with ``Pr(x | eta) <= zero_tol`` are pruned.  With ``keep_all`` every candidate
is a node; otherwise candidates are merged into the known beliefs with
:class:`~bayes._merge.BeliefIndex` (exact within ``radius``) and the new ones moved
together.  The mass of the distinct beliefs at depth ``t`` is propagated sparsely along
the transitions of depth ``t - 1``.

Every field lives in one array (:class:`Rows`) reserved up front for the largest size
the depth and the cap allow (``np.empty``: pages cost memory only once written) and
trimmed in place at the end, so results are written once, never concatenated; the peak
memory is the result plus one level's candidates and merge keys.  Before a level is
allocated its size is checked against the belief cap (:mod:`bayes._budget`).
"""

from __future__ import annotations

import numpy as np

from generators import NegativeProbabilityError

from ._budget import DEFAULT_MEMORY_BUDGET, bytes_per_belief, memory_bound, too_large
from ._merge import BeliefIndex

__all__ = ["Builder", "Rows", "NEG_TOL"]

#: a conditional probability below -NEG_TOL is a genuinely negative probability (error)
NEG_TOL = 1e-9
#: largest stacked-operator matrix (bytes) built for the one-GEMM children product
FLAT_OPS_LIMIT = 64 * 2**20


class Rows:
    """Rows of one field (by belief id, or by level entry), written level by level into
    one array reserved up front.

    ``reserve`` grows by a copy into a larger array (views taken earlier stay valid but
    stale: take views after reserving); ``result`` trims in place (``ndarray.resize``).
    """

    def __init__(self, capacity: int, shape: tuple = (), dtype=np.float64):
        self.a = np.empty((max(int(capacity), 1),) + tuple(shape), dtype=dtype)
        self.n = 0

    def reserve(self, extra: int) -> None:
        need = self.n + int(extra)
        if need > self.a.shape[0]:
            grown = np.empty((max(need, 2 * self.a.shape[0]),) + self.a.shape[1:], dtype=self.a.dtype)
            grown[: self.n] = self.a[: self.n]
            self.a = grown

    def push(self, x: np.ndarray) -> None:
        """Append rows ``x``."""
        k = len(x)
        self.reserve(k)
        self.a[self.n:self.n + k] = x
        self.n += k

    def take(self, ids: np.ndarray) -> np.ndarray:
        return self.a[ids]

    def result(self) -> np.ndarray:
        """The rows written, as an array of their own (the unused reserve released)."""
        a, self.a = self.a, None
        if a.shape[0] != self.n:
            try:  # realloc in place: no copy, the tail's address space is returned
                a.resize((self.n,) + a.shape[1:], refcheck=True)
            except ValueError:  # some view still refers to it
                a = a[: self.n].copy()
        return a


def tree_bound(V: int, depth: int, limit: int) -> int:
    """``min(sum_{t <= depth} V^t, limit)``: the most nodes a word tree can have."""
    total, level = 0, 1
    for _ in range(depth + 1):  # loop over depth
        total += level
        if total >= limit:
            return limit
        level *= V
    return total


class Builder:
    """Level-by-level state of the enumeration (see the module docstring).

    ``cap`` is the belief cap; ``stop_at_cap`` stops at the last complete depth when a
    level would pass it (an explicit ``max_beliefs``), otherwise the level is refused
    with :class:`~bayes._budget.ManifoldTooLargeError` (the default memory guard).
    The beliefs first reached at the last depth (the frontier) are ids
    ``frontier_start .. N-1``; ``next_state``/``next_prob`` rows exist for ids below it.
    """

    def __init__(self, h, eta0: np.ndarray, depth: int, *, radius: float, zero_tol: float, keep_all: bool,
                 cap: int, stop_at_cap: bool, what: str):
        self.V, self.n = V, n = h.alphabet_size, h.dim
        ops = h.operators
        self.ops = ops
        self.flat_ops = (np.ascontiguousarray(ops.transpose(1, 0, 2).reshape(n, V * n))
                         if ops.nbytes <= FLAT_OPS_LIMIT else None)
        self.sym_vecs = np.ascontiguousarray(h.symbol_vectors.T)  # (n, V): column x is T[x] @ tau
        self.radius, self.zero_tol, self.keep_all = radius, zero_tol, keep_all
        self.cap, self.stop_at_cap, self.what = cap, stop_at_cap, what
        # reserve what the depth and the cap allow, up to the default budget's worth
        rows = tree_bound(V, depth, min(cap, max(4096, DEFAULT_MEMORY_BUDGET // bytes_per_belief(n, V))) + 1)
        self.bel = Rows(rows, (n,))
        self.dep, self.par, self.sym = Rows(rows, (), np.int32), Rows(rows, (), np.int64), Rows(rows, (), np.int32)
        self.ns, self.np_ = Rows(rows, (V,), np.int64), Rows(rows, (V,))
        self.lev_ids, self.lev_mass = Rows(rows, (), np.int64), Rows(rows)
        self.lev_sizes = [1]
        self.bel.push(eta0[None, :])
        self.dep.push(np.zeros(1, dtype=np.int32))
        self.par.push(np.full(1, -1, dtype=np.int64))
        self.sym.push(np.full(1, -1, dtype=np.int32))
        self.lev_ids.push(np.zeros(1, dtype=np.int64))
        self.lev_mass.push(np.ones(1))
        self.N, self.frontier_start = 1, 0
        self.max_depth, self.closed, self.stopped = 0, False, None
        self.index, self.expanded_from = None, 0
        if not keep_all:
            # candidates ever merged: at most V per expanded belief, and the expanded beliefs
            # fit under the cap and in memory (fewer payload bits leave more for the keys)
            limit = (V + 1) * min(cap, memory_bound(n, V), 2**38) + 2
            self.index = BeliefIndex(n, radius, id_limit=limit, capacity=rows, amax=_entry_bound(h, eta0))
            self.index.start(eta0)

    # one level --------------------------------------------------------------------
    def step(self, t: int) -> bool:
        """Build depth ``t``; False when stopped (cap reached, or keep_all with nothing left)."""
        plain = None
        if self.N > self.frontier_start:
            plain = self._expand(t)
            if plain is None:
                return False
        elif self.keep_all:
            return False  # every branch pruned: nothing deeper
        if not self.keep_all:
            ids, mass = self._propagate(plain)
            self.lev_ids.push(ids)
            self.lev_mass.push(mass)
            self.lev_sizes.append(ids.size)
        self.max_depth = t
        return True

    def _expand(self, t: int) -> bool | None:
        """Children of the frontier; True when plain (no branch pruned, every child new),
        None when stopped at the cap."""
        fs, N, V = self.frontier_start, self.N, self.V
        m = N - fs
        self.expanded_from = fs
        self.np_.reserve(m)
        p = self.np_.a[fs:N]
        np.matmul(self.bel.a[fs:N], self.sym_vecs, out=p)  # (m, V) Pr(x | eta), the frontier is normalized
        self._check_negative(p)
        ok = p > self.zero_tol
        k = int(np.count_nonzero(ok))
        if self._refuse(t, k, before=True):
            return None
        flat = None if k == m * V else np.flatnonzero(ok)  # candidate -> parent row * V + symbol
        cand = self._children(p, flat)  # rows N .. N+k-1 of the beliefs
        if flat is not None:
            p[~ok] = 0.0
        if self.keep_all:
            targets, new_rows = N + np.arange(k, dtype=np.int64), None
        else:
            targets, new_rows = self.index.merge(cand, N, self.bel.take)
            if self._refuse(t, new_rows.size, before=False):
                return None
        self.np_.n = N
        self.ns.reserve(m)
        if flat is None:
            self.ns.a[fs:N] = targets.reshape(m, V)
        else:
            self.ns.a[fs:N] = -1
            self.ns.a[fs:N].reshape(-1)[flat] = targets
        self.ns.n = N
        if self.keep_all:
            self._record_tree_level(t, p, flat, targets)
            return flat is None
        self._record_new(t, cand, new_rows, flat)
        return flat is None and new_rows.size == k

    def _children(self, p: np.ndarray, flat: np.ndarray | None) -> np.ndarray:
        """Normalized children ``eta T[x] / Pr(x | eta)`` of the kept branches ``flat``
        (parent row * V + symbol; None: all), written as belief rows ``N ..``: ``(k, n)``."""
        fs, N, V, n = self.frontier_start, self.N, self.V, self.n
        m, k = N - fs, (N - fs) * V if flat is None else flat.size
        self.bel.reserve(k)
        F, out = self.bel.a[fs:N], self.bel.a[N:N + k]
        if flat is None and self.flat_ops is not None:
            np.matmul(F, self.flat_ops, out=out.reshape(m, V * n))
            out.reshape(m, V, n)[...] /= p[:, :, None]
            return out
        if self.flat_ops is not None:
            C = (F @ self.flat_ops).reshape(m * V, n)
        else:  # very large operators: one product per symbol instead of a stacked copy
            C = np.empty((m, V, n))
            for x in range(V):
                C[:, x, :] = F @ self.ops[x]
            C = C.reshape(m * V, n)
        pf = p.reshape(-1)
        if flat is None:
            out[...] = C
            out /= pf[:, None]
        else:
            np.take(C, flat, axis=0, out=out)
            out /= pf[flat][:, None]
        return out

    def _record_tree_level(self, t: int, p: np.ndarray, flat, ids: np.ndarray) -> None:
        """keep_all: every candidate is a node (ids ``ids``) with its exact word probability."""
        mass = self.lev_mass.a[self.lev_mass.n - self.lev_sizes[-1]:self.lev_mass.n]
        self._record_parents(flat, flat is None, None)
        if flat is None:
            self.lev_mass.push((mass[:, None] * p).reshape(-1))
        else:
            self.lev_mass.push(mass[flat // self.V] * p.reshape(-1)[flat])
        self.lev_ids.push(ids)
        self.lev_sizes.append(ids.size)
        self._advance(t, ids.size)

    def _record_new(self, t: int, cand: np.ndarray, new_rows: np.ndarray, flat) -> None:
        """Merged mode: the candidates that became new beliefs move to rows ``N ..``."""
        q = new_rows.size
        all_new = q == cand.shape[0]
        if not all_new:  # move the new rows up
            self.bel.a[self.N:self.N + q] = np.take(cand, new_rows, axis=0)
        self._record_parents(flat, flat is None and all_new, new_rows)
        self._advance(t, q)
        if q == 0:  # closed: from now on only masses move, along fixed transitions
            self.closed = True

    def _record_parents(self, flat, every: bool, rows) -> None:
        """Parent id and symbol of the new beliefs: all children of the frontier (``every``),
        else candidates ``rows`` (None: all) of the kept branches ``flat`` (parent * V +
        symbol; None: all)."""
        fs, m, V = self.frontier_start, self.N - self.frontier_start, self.V
        if every:
            self.par.push(np.repeat(np.arange(fs, fs + m, dtype=np.int64), V))
            self.sym.push(np.tile(np.arange(V, dtype=np.int32), m))
            return
        f = rows if flat is None else (flat if rows is None else flat[rows])
        f = f.astype(np.int32) if f.size and f[-1] < 2**31 else f  # (int32 division is many times faster)
        parent = f // V
        self.sym.push(f - parent * V)
        self.par.push(np.add(parent, fs, dtype=np.int64))

    def _advance(self, t: int, q: int) -> None:
        """``q`` new beliefs (already in rows ``N .. N+q-1``) become the frontier."""
        self.bel.n = self.N + q
        self.dep.push(np.full(q, t, dtype=np.int32))
        self.frontier_start = self.N
        self.N += q

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

    def _propagate(self, plain: bool | None) -> tuple[np.ndarray, np.ndarray]:
        """Mass at this depth from the previous depth's mass and transitions (sparse).

        ``plain`` is None when nothing was expanded (a closed presentation), else whether
        the level just built was plain (every child of the frontier a new belief)."""
        end = self.lev_ids.n
        ids = self.lev_ids.a[end - self.lev_sizes[-1]:end]
        mass = self.lev_mass.a[end - self.lev_sizes[-1]:end]
        first_new = self.frontier_start  # ids of beliefs new at this depth start here
        a = self.expanded_from
        if plain is not None and ids.size == first_new - a and ids[0] == a and ids[-1] == first_new - 1:
            # exactly the rows just expanded
            tgt, pr = self.ns.a[a:first_new], self.np_.a[a:first_new]
            if plain:  # every child a new belief: like the word tree
                return tgt.reshape(-1), (mass[:, None] * pr).reshape(-1)
            gone = self.index.last_gone
            if gone is not None and tgt.min() >= 0:  # nothing pruned, some children merged
                return _merged_level(tgt.reshape(-1), (mass[:, None] * pr).reshape(-1), gone, first_new)
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
        return _sum_by_id(tgt, w, first_new)

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
        par, sym = self.par.a, self.sym.a
        out = []
        while i > 0:  # one word, for an error message
            out.append(int(sym[i]))
            i = int(par[i])
        return tuple(reversed(out))

    # result -----------------------------------------------------------------------
    def fields(self) -> dict:
        """The BeliefManifold fields, each trimmed in place (no copies)."""
        N, done = self.N, self.ns.n  # rows of the deepest (unexpanded) level: -1 / 0
        for rows, fill in ((self.ns, -1), (self.np_, 0.0)):
            rows.reserve(N - done)
            rows.a[done:N] = fill
            rows.n = N
        expanded = np.zeros(N, dtype=bool)
        expanded[:done] = True
        self.index = None
        level_ptr = np.concatenate([[0], np.cumsum(self.lev_sizes)]).astype(np.int64)
        return dict(level_ptr=level_ptr, expanded=expanded, max_depth=self.max_depth, closed=self.closed,
                    keep_all=self.keep_all, stopped=self.stopped, beliefs=self.bel.result(),
                    next_state=self.ns.result(), next_prob=self.np_.result(), depth=self.dep.result(),
                    parent=self.par.result(), symbol=self.sym.result(), level_ids=self.lev_ids.result(),
                    level_mass=self.lev_mass.result())


def _entry_bound(h, eta0: np.ndarray) -> float | None:
    """A bound on every belief entry when it is known in advance: nonnegative operators
    and initial belief with ``tau > 0`` (HMMs) keep beliefs nonnegative with
    ``eta @ tau = 1``, so ``eta_i <= 1 / tau_i`` (1% margin for rounding).  Else None."""
    if h.tau.min() > 0 and eta0.min() >= 0 and h.operators.min() >= 0:
        return 1.01 / float(h.tau.min())
    return None


def _merged_level(tgt: np.ndarray, w: np.ndarray, gone: np.ndarray, first_new: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct targets and summed weights of a level where every child was kept and the
    children ``gone`` (sorted) joined other beliefs: the others are the new beliefs
    ``first_new, first_new+1, ...`` in order, each once; the gone ones add to new or old
    beliefs."""
    mass_new = np.delete(w, gone)
    tg, wg = tgt[gone], w[gone]
    into_new = tg >= first_new
    np.add.at(mass_new, tg[into_new] - first_new, wg[into_new])
    new_ids = np.arange(first_new, first_new + mass_new.size, dtype=np.int64)
    if into_new.all():
        return new_ids, mass_new
    old, inv = np.unique(tg[~into_new], return_inverse=True)
    old_mass = np.bincount(inv.reshape(-1), weights=wg[~into_new], minlength=old.size)
    return np.concatenate([old, new_ids]), np.concatenate([old_mass, mass_new])


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
