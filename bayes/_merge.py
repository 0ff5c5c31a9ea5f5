"""Exact merging of beliefs within a tolerance: a sorted, packed random-projection index.

Two beliefs ``a``, ``b`` are one when ``|a - b|_inf <= radius``.  With a fixed random
vector ``r`` and keys ``k(a) = r . a``,

    |k(a) - k(b)| = |r . (a - b)| <= |r|_1 |a - b|_inf,

so every known belief within ``radius`` of a candidate ``c`` has its key in the window
``|k - k(c)| <= |r|_1 radius``.  The known beliefs are kept sorted by key; the beliefs in
a window are found by ``searchsorted`` and each is checked exactly.  No belief within
``radius`` can be missed, whatever its position relative to any grid.  Beliefs farther
apart share a window only when ``a - b`` is nearly orthogonal to ``r``: for ``N``
beliefs over a key range ``D`` about ``N^2 |r|_1 radius / D`` pairs are checked.

Representation: one sorted ``uint64`` per known belief, ``u << B | id``.  The key is in
fixed point, ``u = floor((k + R) / delta) + 2`` with ``delta = 2R / (2^KB - 8)``, where
``R >= |r|_1 max|eta_i|`` bounds every key (doubled, with a monotone re-encoding of the
index, when a belief leaves it) and ``KB`` leaves ``B`` bits for the payload and keeps
the rounding of ``b @ (r / delta)`` under half a unit.  A window is then
``U = |r|_1 radius / delta + err / delta + 3`` units, ``err`` the re-encoding error
(0 until a re-encoding): still exact, only a few more beliefs to check.  The entries
live in one buffer with room for a level's candidates after them, which are packed,
cast and sorted in place.

Payloads are *provisional* ids: a counter over all candidates ever packed, so candidates
are told from known beliefs (payload ``>=`` the level's first provisional id) without a
flag, and the index is never relabelled; :meth:`BeliefIndex.ids_of` maps provisional to
final ids (per level: first final id, minus the candidates before it that did not
become beliefs).

Per level, ``k`` candidates, ``N`` known beliefs: one matrix-vector product, one sort of
the packed known and candidate entries (a sort of the candidates and a merge of the two
sorted runs, ``O(N + k)``, when ``k < N/2``; no re-sorting of a large index), one pass
for adjacent entries within ``U`` units.  Only candidates with such a neighbour (few,
unless beliefs coincide) get windowed searches and exact checks.

Merging is *first come*: candidates are taken in order, and each one joins the known
belief with the smallest id within ``radius`` (beliefs of earlier levels first), else
the earliest new belief of this level within ``radius``, else it is a new belief.
:func:`leaders` resolves the within-level part, a sequential rule, in vectorized rounds.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["BeliefIndex", "leaders", "window_pairs"]

_EPS = np.finfo(float).eps


class BeliefIndex:
    """Known beliefs sorted by a random projection ``r . eta`` (exact ``radius`` merging).

    Parameters
    ----------
    n : int
        Dimension of the beliefs.
    radius : float
        Merge radius in the max-norm.
    id_limit : int
        Upper bound on provisional ids: the number of candidates ever merged.
    capacity : int
        Entries to reserve room for (known beliefs plus one level's candidates); the
        index grows beyond it by doubling.
    amax : float, optional
        A bound on ``|eta_i|`` known in advance (e.g. ``1 / min(tau)`` for nonnegative
        operators and ``tau > 0``: beliefs are then nonnegative with ``eta @ tau = 1``);
        default: the largest entry of each batch is computed.
    seed : int
        Seed of the projection vector ``r`` (fixed: results do not depend on it).
    """

    def __init__(self, n: int, radius: float, id_limit: int, capacity: int = 1024, amax: float | None = None,
                 seed: int = 0x5EED):
        self.r = np.random.default_rng(seed).uniform(0.5, 1.5, n) * np.array([1.0, -1.0])[np.arange(n) % 2]
        self.r1 = float(np.abs(self.r).sum())
        self.n, self.radius = n, float(radius)
        self.B = max(1, int(id_limit).bit_length())
        # u << B | id < 2^62: as float64 bits a nonnegative finite number, same order (and
        # numpy sorts float64 faster than uint64)
        self.KB = min(62 - self.B, 50 - math.ceil(math.log2(n + 1)))
        if self.KB < 16:
            raise ValueError(f"id_limit={id_limit} leaves too few key bits for the packed index")
        self.PAY = np.uint64((1 << self.B) - 1)
        self.buf = np.empty(max(1, int(capacity)), dtype=np.uint64)  # index buf[:size], then candidates
        self.size = 0
        self.R = 0.0  # every key is within [-R, R]
        self.delta = 1.0
        self.err = 0.0  # bound on |decoded key - key| from re-encodings
        self.amax = 0.0 if amax is None else float(amax)  # bound on |entries| so far
        self.amax_known = amax is not None
        # per level: first provisional id, first final id, sorted rows that did not become beliefs
        self.next_prov = 0
        self.levels: list[tuple[int, int]] = []
        self.dead: list[np.ndarray | None] = []

    def __len__(self) -> int:
        return self.size

    @property
    def P(self) -> np.ndarray:
        """The sorted packed entries of the known beliefs, ``(N,)`` uint64 (a view)."""
        return self.buf[: self.size]

    def _set(self, entries: np.ndarray) -> None:
        self.buf, self.size = entries, entries.size

    def _reserve(self, total: int) -> None:
        if self.buf.size < total:
            grown = np.empty(max(total, 2 * self.buf.size), dtype=np.uint64)
            grown[: self.size] = self.buf[: self.size]
            self.buf = grown

    def start(self, b0: np.ndarray) -> None:
        """Index the first belief (id 0) of an empty index."""
        self._check_range(b0[None, :])
        self._reserve(1)
        self._pack(b0[None, :], self.buf[:1], 0)
        self.size, self.next_prov = 1, 1
        self.levels.append((0, 0))
        self.dead.append(None)

    @property
    def last_gone(self) -> np.ndarray | None:
        """Sorted rows of the last merged batch that did not become beliefs (None: none)."""
        return self.dead[-1] if self.dead else None

    # keys -------------------------------------------------------------------------
    def _check_range(self, b: np.ndarray) -> None:
        """Widen the key range ``R`` if ``b`` may leave it (``|r . b| <= |r|_1 max|b_i|``)."""
        if b.shape[0]:
            if not self.amax_known:
                self.amax = max(self.amax, float(b.max()), -float(b.min()))
            if self.r1 * self.amax > self.R:
                self._rescale(2.0 * self.r1 * max(1.0, self.amax))

    def _pack(self, b: np.ndarray, out: np.ndarray, prov: int) -> None:
        """``out[j] = floor(b[j] @ (r / delta) + R / delta + 2) << B | (prov + j)``, in place:
        the keys are computed as float64 in ``out``'s memory, then cast there."""
        fv = out.view(np.float64)
        np.matmul(b, self.r / self.delta, out=fv)
        np.add(fv, self.R / self.delta + 2.0, out=out, casting="unsafe")  # in [1.5, 2^KB - 5.5]; floor
        out <<= np.uint64(self.B)
        out |= np.arange(prov, prov + out.size, dtype=np.uint64)

    def _rescale(self, R: float) -> None:
        """New key range ``[-R, R]``; known keys are re-encoded (monotone, err += 1.5 delta)."""
        delta = 2.0 * R / (2.0**self.KB - 8)
        if self.size:
            shift, P = np.uint64(self.B), self.P
            old = ((P >> shift).astype(float) - 2.0) * self.delta - self.R
            u = np.floor((old + R) / delta + 2.0).clip(0, 2.0**self.KB - 1).astype(np.uint64)
            self._set(np.sort((u << shift) | (P & self.PAY), kind="stable"))
            self.err += 1.5 * delta
        self.R, self.delta = R, delta

    def window(self) -> int:
        """Window half-width in key units (see the module docstring)."""
        return min(int((self.r1 * self.radius + self.err) / self.delta + 3.0), 2**self.KB)

    # merging ----------------------------------------------------------------------
    def merge(self, b: np.ndarray, first_id: int, known: Callable[[np.ndarray], np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray]:
        """Merge the candidate beliefs ``b`` (k, n) into the index, first come first served.

        ``known(ids)`` returns known beliefs ``(len(ids), n)``.  Returns
        ``(targets (k,), new_rows (q,))``: the id of each candidate's belief, and the
        (ascending) rows that became new beliefs, numbered ``first_id, first_id+1, ...``
        in row order.  The new beliefs join the index.
        """
        k, prov, N = b.shape[0], self.next_prov, self.size
        self._check_range(b)
        self._reserve(N + k)
        self._pack(b, self.buf[N:N + k], prov)
        merged = self._sort(N, k)
        U = self.window()
        m_rows, m_ids, i, j, near_rows, near_pos = self._neighbours(b, merged, U, prov, known)
        self.next_prov += k
        self.levels.append((prov, first_id))
        if m_rows.size == 0 and i.size == 0:  # nothing within radius: all new, ids in row order
            self.dead.append(None)
            self.size = N + k
            return first_id + np.arange(k, dtype=np.int64), np.arange(k)
        nodes = np.unique(np.concatenate([i, j]))
        rep = nodes[leaders(nodes.size, np.searchsorted(nodes, i), np.searchsorted(nodes, j))]
        joined = rep != nodes
        gone = np.union1d(m_rows, nodes[joined])  # sorted rows that are not new beliefs
        bounds = np.concatenate([[0], gone + 1, [k]])
        before = np.repeat(np.arange(gone.size + 1), np.diff(bounds))  # gone rows < each row
        targets = first_id + np.arange(k, dtype=np.int64) - before
        targets[m_rows] = m_ids
        targets[nodes[joined]] = targets[rep[joined]]
        self.dead.append(gone)
        kept = np.delete(merged, near_pos[np.isin(near_rows, gone)])  # gone rows all had a near neighbour
        self.buf[: kept.size] = kept
        self.size = kept.size
        return targets, np.delete(np.arange(k), gone)

    def ids_of(self, prov: np.ndarray) -> np.ndarray:
        """Final ids of stored entries from their provisional ids: the level's first id
        plus the row, minus the rows before it that did not become beliefs."""
        levels = np.array(self.levels, dtype=np.int64).reshape(-1, 2)  # (first provisional, first id)
        lv = np.searchsorted(levels[:, 0], prov, side="right") - 1
        row = prov - levels[lv, 0]
        out = levels[lv, 1] + row
        for level in np.unique(lv):  # loop over levels
            gone = self.dead[level]
            if gone is not None:
                sel = lv == level
                out[sel] -= np.searchsorted(gone, row[sel])
        return out

    def _sort(self, N: int, k: int) -> np.ndarray:
        """Sort the known entries ``buf[:N]`` with the packed candidates ``buf[N:N+k]``, in
        place: one sort of everything when the candidates dominate, else a sort of the
        candidates and a merge of the two sorted runs (``O(N + k)``, no re-sorting of the
        index).  The same result either way (entries are distinct).  Sorted as float64 bit
        patterns (nonnegative finite: the same order)."""
        merged = self.buf[: N + k]
        if N and k < N // 2:
            self.buf[N:N + k].view(np.float64).sort()
            merged.view(np.float64).sort(kind="stable")
        else:
            merged.view(np.float64).sort()
        return merged

    def _neighbours(self, b, merged, U: int, prov: int, known) -> tuple:
        """Candidates within ``radius`` of a known belief or of each other.

        Entries of the merged sorted run whose neighbour is within ``U`` key units are
        the only ones that can have a belief within ``radius``; only their windows are
        searched and checked exactly.  Returns ``(rows, ids)`` (each matched candidate row
        and the smallest known id within ``radius``), the close candidate pairs ``(i, j)``,
        ``i < j``, neither matched, and the rows and positions in ``merged`` of the
        candidates searched (every candidate that can merge is among them).
        """
        empty = np.zeros(0, dtype=np.int64)
        shift, U64 = np.uint64(self.B), np.uint64(U)
        # adjacent entries at most U key units apart differ by less than (U + 1) << B
        s = np.flatnonzero(np.diff(merged) < ((U64 + np.uint64(1)) << shift))
        if s.size == 0:
            return empty, empty, empty, empty, empty, empty
        q = np.unique(np.concatenate([s, s + 1]))  # entries with a close neighbour
        q = q[(merged[q] & self.PAY) >= prov]  # candidates only
        q_rows = (merged[q] & self.PAY).astype(np.int64) - prov
        uq = merged[q] >> shift
        lo = np.where(uq >= U64, uq - U64, np.uint64(0)) << shift
        hi = (np.minimum(uq + U64, np.uint64((1 << (64 - self.B)) - 1)) << shift) | self.PAY
        a, pos = window_pairs(np.searchsorted(merged, lo, side="left"), np.searchsorted(merged, hi, side="right"))
        a = q[a]
        keep = pos != a
        a, pos = a[keep], pos[keep]
        row = (merged[a] & self.PAY).astype(np.int64) - prov
        other = (merged[pos] & self.PAY).astype(np.int64)
        cand = other >= prov
        m_rows, m_ids = self._known_pairs(b, row[~cand], self.ids_of(other[~cand]), known)
        i, j = row[cand], other[cand] - prov
        ok = i < j
        i, j = i[ok], j[ok]
        ok = np.abs(b[i] - b[j]).max(axis=1) <= self.radius
        i, j = i[ok], j[ok]
        if m_rows.size and i.size:  # a candidate that joined a known belief represents nothing
            matched = np.zeros(b.shape[0], dtype=bool)
            matched[m_rows] = True
            ok = ~(matched[i] | matched[j])
            i, j = i[ok], j[ok]
        return m_rows, m_ids, i, j, q_rows, q

    def _known_pairs(self, b, rows, ids, known) -> tuple[np.ndarray, np.ndarray]:
        """Exact check of (candidate row, known id) pairs: each matched row (ascending) and
        its smallest known id within ``radius``."""
        if rows.size == 0:
            return rows, ids
        ok = np.abs(b[rows] - known(ids)).max(axis=1) <= self.radius
        rows, ids = rows[ok], ids[ok]
        if rows.size == 0:
            return rows, ids
        order = np.lexsort((ids, rows))
        rows, ids = rows[order], ids[order]
        first = _starts(rows)
        return rows[first], ids[first]


def _starts(a: np.ndarray) -> np.ndarray:
    """Mask of the first entry of each run of equal values in ``a``."""
    out = np.empty(a.size, dtype=bool)
    out[:1] = True
    np.not_equal(a[1:], a[:-1], out=out[1:])
    return out


def window_pairs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(row, position)`` with ``lo[row] <= position < hi[row]``, rows nondecreasing."""
    cnt = hi - lo
    total = int(cnt.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(lo.size), cnt)
    starts = np.cumsum(cnt) - cnt
    pos = lo[rows] + (np.arange(total) - starts[rows])
    return rows, pos


def leaders(k: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """First-come representatives of ``k`` items given the close pairs ``i < j``.

    The sequential rule: item ``j`` (in order) joins the smallest-index earlier
    *representative* it is close to, else it is a representative.  Returns ``rep``
    with ``rep[j] <= j`` and ``rep[rep] == rep``.

    Vectorized in rounds: an item whose earlier neighbours are all decided is decided;
    each round decides at least the first undecided item, and in practice one or two
    rounds suffice.
    """
    rep = np.arange(k)
    if i.size == 0:
        return rep
    order = np.lexsort((i, j))
    i, j = i[order], j[order]
    status = np.ones(k, dtype=np.int8)  # 1 representative, 2 joined, 0 undecided
    status[j] = 0
    while i.size:
        live = status[j] == 0
        i, j = i[live], j[live]
        if i.size == 0:
            break
        group = _starts(j)
        js = j[group]  # undecided items (ascending)
        open_ = status[i] != 2  # earlier neighbours that are (or may become) representatives
        oi, oj = i[open_], j[open_]
        first = _starts(oj)
        fi, fj = oi[first], oj[first]
        has = np.zeros(k, dtype=bool)
        has[fj] = True
        snapshot = status[fi]
        status[js[~has[js]]] = 1  # every earlier neighbour joined someone: a representative
        join = snapshot == 1
        rep[fj[join]] = fi[join]
        status[fj[join]] = 2
    return rep
