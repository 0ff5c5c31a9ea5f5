"""The step machinery of :mod:`generators.kernels`: one filter step for a chunk of rows
(:class:`Step`) and the time-major segment buffers that normalize and write a segment
(:class:`SegmentBuffers`).  Private to the kernels; see that module for the math."""

from __future__ import annotations

import numpy as np

#: time steps carried unnormalized between two normalizations
SEGMENT = 16
#: working-set budget of one chunk of rows (bytes): the second-level cache
_CHUNK_BYTES = 1 << 21
#: the all-symbols product is used while ``V (n+1)`` is at most this (else one GEMM per symbol)
_ALL_SYMBOLS_MAX = 1024


def normalized_starts(initial: np.ndarray, tau: np.ndarray, B: int) -> np.ndarray:
    """``initial / (initial tau)`` as ``(B, n)`` (a broadcast view for one shared start).

    A start with ``initial tau <= 0`` gives non-finite rows (the kernels then report the
    prefix impossible, or raise when sampling)."""
    eta = np.asarray(initial, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = eta / (eta @ tau)[..., None]
    return np.broadcast_to(eta, (B, eta.shape[-1]))


def chunk_rows(bytes_per_row: int, chunk: int | None) -> int:
    """Rows per chunk: ``chunk`` if given, else as many as fit the cache budget (256..8192)."""
    if chunk is not None:
        return max(1, int(chunk))
    return int(np.clip(_CHUNK_BYTES // max(bytes_per_row, 1), 256, 8192))


class Step:
    """One filter step for a chunk of ``C`` rows: ``out[b] = [v[b] T[x_b], v[b] T[x_b] tau]``.

    With few symbols (``V (n+1) <= 1024``) one GEMM ``v @ W`` computes every symbol's
    block at once, ``W = [cum | T[0] | T[0] tau | ... | T[V-1] | T[V-1] tau]`` of shape
    ``(n, (P + V)(n+1))``, and a row gather (``take`` along axis 0 of the ``(C (P+V), n+1)``
    view) picks block ``x_b``: cost ``C V n (n+1)`` flops and ``C (n+1)`` copies.  The
    first ``P`` blocks hold, when ``cumulative``, the running sums of the symbol vectors
    ``sum_{y<=s} T[y] tau`` for ``s < V-1`` (so the same GEMM gives the inverse-CDF
    table).  With many symbols it sorts rows by symbol and runs one GEMM per symbol:
    ``C n (n+1)`` flops plus ``O(C log C + V)`` overhead.
    """

    def __init__(self, operators: np.ndarray, tau: np.ndarray, rows: int, cumulative: bool = False):
        V, n, _ = operators.shape
        n1 = n + 1
        blocks = np.concatenate([operators, (operators @ tau)[:, :, None]], axis=2)  # (V, n, n+1)
        self.V, self.n, self.rows, self.blocks = V, n, rows, blocks
        self.symbol_vectors = operators @ tau  # (V, n)
        self.cum = np.cumsum(self.symbol_vectors[:-1], axis=0).T.copy() if cumulative else None  # (n, V-1)
        self.all = V * n1 <= _ALL_SYMBOLS_MAX
        if self.all:
            P = -(-(V - 1) // n1) if cumulative else 0
            W = np.zeros((n, P + V, n1))
            if P:
                W[:, :P].reshape(n, P * n1)[:, :V - 1] = self.cum
            W[:, P:] = blocks.transpose(1, 0, 2)
            self.W = W.reshape(n, (P + V) * n1)
            self.P = P
            self.buf = np.empty((rows, (P + V) * n1))
            self.view = self.buf.reshape(rows * (P + V), n1)  # one row per (row, block)
            self.rowbase = np.arange(rows, dtype=np.int64) * (P + V) + P
        else:
            self.cbuf = np.empty((rows, max(V - 1, 0)))

    def advance(self, v: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
        """:meth:`propose` from ``v`` then :meth:`select` ``idx`` into ``out`` (the filter step)."""
        if self.all:
            np.matmul(v, self.W, out=self.buf[:v.shape[0]])
            np.take(self.view, idx, axis=0, out=out, mode="wrap")
        else:
            self.v = v
            self.select(idx, out)

    def propose(self, v: np.ndarray) -> None:
        """Start a step from rows ``v`` (c, n): all symbols' blocks (or just the CDF)."""
        c = v.shape[0]
        self.v = v
        if self.all:
            np.matmul(v, self.W, out=self.buf[:c])
        elif self.cum is not None:
            np.matmul(v, self.cum, out=self.cbuf[:c])

    def cumulative(self, c: int) -> np.ndarray:
        """``(c, V-1)`` unnormalized CDF ``v @ sum_{y<=s} T[y] tau`` (after :meth:`propose`)."""
        return self.buf[:c, :self.V - 1] if self.all else self.cbuf[:c]

    def index(self, symbols: np.ndarray, rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Selection indices of ``symbols`` (..., c) for rows ``0..c-1`` (or ``rows``): see :meth:`select`."""
        if not self.all:
            if out is None:
                return symbols
            np.copyto(out, symbols)
            return out
        return np.add(self.rowbase[:symbols.shape[-1]] if rows is None else self.rowbase[rows], symbols, out=out)

    def index_block(self, words: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Selection indices of a block of words ``(c, s)`` (rows ``0..c-1``) into ``out`` (c, s)."""
        if self.all:
            return np.add(words, self.rowbase[:words.shape[0], None], out=out)
        np.copyto(out, words)
        return out

    def symbols(self, idx: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`index`."""
        return idx - self.rowbase[:idx.shape[-1]] if self.all else idx

    def select(self, idx: np.ndarray, out: np.ndarray) -> None:
        """Write ``[v T[x], v T[x] tau]`` into ``out`` (c, n+1) for ``idx = index(x)`` (c,)."""
        if self.all:
            np.take(self.view, idx, axis=0, out=out, mode="wrap")
            return
        x = idx
        order = np.argsort(x, kind="stable")
        ends = np.cumsum(np.bincount(x, minlength=self.V))
        start = 0
        for s in np.flatnonzero(ends - np.concatenate([[0], ends[:-1]])):
            idx = order[start:ends[s]]
            out[idx] = self.v[idx] @ self.blocks[s]
            start = ends[s]

    def probabilities(self, idx: np.ndarray) -> np.ndarray:
        """Unnormalized ``v[idx] @ T[x] tau`` for every symbol, ``(len(idx), V)``."""
        return self.v[idx] @ self.symbol_vectors.T


class SegmentBuffers:
    """Time-major rows of one chunk and one segment, ``buf (S+1, C, n+1)``: row ``[v, v tau]``
    per step; :meth:`finish` normalizes the segment, writes it, and restarts from its end."""

    def __init__(self, rows: int, seg: int, n: int):
        self.n = n
        self.buf = np.empty((seg + 1, rows, n + 1))
        self.recip = np.empty((seg, rows))
        self.logs = np.empty((seg, rows))
        self.offset = np.zeros(rows)  # log probability at the segment start

    def start(self, eta0: np.ndarray) -> None:
        self.c = c = eta0.shape[0]
        self.buf[0, :c, :self.n] = eta0
        self.buf[0, :c, self.n] = 1.0
        self.offset[:c] = 0.0

    def finish(self, s: int, beliefs, logs, zero_tol: float | None) -> None:
        """Normalize steps ``1..s``; write ``beliefs (c, s, n)`` / ``logs (c, s)`` if given;
        restart the segment from the last belief.

        With ``zero_tol`` the rows whose conditional probability ``c_t / c_{t-1}`` fell
        to ``<= zero_tol`` are zeroed from there on (log probability ``-inf``) and the
        log probability at the segment end is kept; ``None`` (sampling) skips both.  The
        check is one min and one max over the segment: ``min c > zero_tol max(1, max c)``
        bounds every ratio; only segments that fail it compute the ratios.
        """
        n, c = self.n, self.c
        r = np.divide(1.0, self.buf[1:s + 1, :c, n], out=self.recip[:s, :c])  # 1 / Pr(steps | start)
        dead = None
        if zero_tol is not None:
            rmin, rmax = r.min(), r.max()
            if not (rmin > 0 and 1.0 / rmax > zero_tol * max(1.0, 1.0 / rmin)):
                logc = -np.log(r)
                cond = np.diff(logc, axis=0, prepend=0.0)  # log Pr(w_t | prefix)
                dead = np.logical_or.accumulate(~(cond > (np.log(zero_tol) if zero_tol > 0 else -np.inf)), axis=0)
                dead |= np.isneginf(self.offset[:c])
                r[dead] = 0.0
                self.buf[1:s + 1, :c][dead] = 0.0
        if logs is not None:
            lg = np.log(r, out=self.logs[:s, :c])
            np.subtract(self.offset[:c, None], lg.T, out=logs)  # offset + log(v tau)
            if dead is not None:
                logs[dead.T] = -np.inf
        if zero_tol is not None:
            self.offset[:c] -= np.log(r[s - 1])
            if dead is not None:
                self.offset[:c][dead[s - 1]] = -np.inf
        if beliefs is not None:  # one pass: scale each row and transpose to (c, s, n)
            np.einsum("tbj,tb->btj", self.buf[1:s + 1, :c, :n], r, out=beliefs)
        for j in range(n):  # restart from the normalized last belief (per component: long inner loops)
            np.multiply(self.buf[s, :c, j], r[s - 1], out=self.buf[0, :c, j])
        self.buf[0, :c, n] = 1.0
