"""Batched kernels of the GHMM form: pure functions on arrays, the fast path of every generator.

A GHMM is operators ``T`` (V, n, n), a column ``tau`` (n,) and a row belief ``eta`` (n,)
(row-vector convention, ``Pr(w) = eta T[w1] ... T[wL] tau``).  The kernels here:

- :func:`forward_filter` -- normalized beliefs and log prefix probabilities of words;
- :func:`sample_beliefs` -- sampling through beliefs (any GHMM);
- :func:`sample_hidden_states` -- sampling an HMM by walking its hidden states;
- :func:`batched_products`, :func:`word_probabilities` -- plain products and exact word
  probabilities (a meet-in-the-middle table when the batch covers the words);
- :func:`categorical` -- inverse-CDF draws from rows of probabilities.

How they are fast (numpy only, one thread): the batch is processed in chunks of rows
(about 2,000) so that every pass stays in the L2 cache; one step is one product
``(C, n) @ (n, V (n+1))`` against every symbol's ``[T[x] | T[x] tau]`` followed by one
row gather (:class:`generators._steps.Step`), which also yields the normalizer; beliefs are carried
*unnormalized* for :data:`SEGMENT` steps and normalized once per segment, where a whole
``(segment, C)`` block is scaled, logged and written to the ``(B, L+1, n)`` output.

Random streams: a chunk of ``C`` sequences draws its uniforms as one ``(C, L)`` block
(``(C, L+1)`` for hidden-state sampling, column 0 choosing the start state), chunks in
order, so the stream consumed is row-major over ``(sequence, step)``: the first ``m``
sequences of ``n`` are the ``m`` sequences drawn with ``n = m`` and the same seed, for
any chunk size.  (This replaced a step-major stream in 2026: seeded samples differ from
earlier versions; their distribution does not.)
"""

from __future__ import annotations

import numpy as np

from ._steps import SEGMENT, SegmentBuffers, Step, chunk_rows, normalized_starts
from .errors import ZeroProbabilityError

__all__ = [
    "SEGMENT", "batched_products", "word_probabilities", "prefix_table", "suffix_table",
    "forward_filter", "sample_beliefs", "sample_hidden_states", "categorical",
]

#: unnormalized sampling rows below this mass are renormalized at once (no underflow)
_TINY = 1e-250


# ---------------------------------------------------------------------- products
def batched_products(operators: np.ndarray, words: np.ndarray, start: np.ndarray, *,
                     chunk: int | None = None) -> np.ndarray:
    """Unnormalized rows ``start T[w1] ... T[wL]`` for words ``(B, L)``: ``(B, n)`` float64.

    ``start`` is ``(n,)`` or ``(B, n)``.  Cost ``O(B L V n^2)`` flops in ``L`` steps per
    chunk of rows; no normalization (may underflow for long words).
    """
    return _products(operators, np.zeros(operators.shape[1]), words, start, chunk)[:, :-1]


def _products(operators, tau, words, start, chunk) -> np.ndarray:
    """Rows ``[v, v @ tau]`` with ``v = start T[w1] ... T[wL]``, ``(B, n+1)``."""
    B, L = words.shape
    n = operators.shape[1]
    start = np.broadcast_to(np.asarray(start, dtype=float), (B, n))
    out = np.empty((B, n + 1))
    out[:, :n] = start
    out[:, n] = start @ tau
    if L == 0 or B == 0:
        return out
    C = chunk_rows(8 * (operators.shape[0] + 3) * (n + 1), chunk)
    step = Step(operators, tau, min(C, B))
    tmp = np.empty((2, step.rows, n + 1))
    for b0 in range(0, B, step.rows):
        b1 = min(B, b0 + step.rows)
        cur = out[b0:b1]
        idx = step.index(np.ascontiguousarray(words[b0:b1].T))
        for t in range(L):
            nxt = tmp[t % 2, :b1 - b0]
            step.advance(cur[:, :n], idx[t], nxt)
            cur = nxt
        out[b0:b1] = cur
    return out


def prefix_table(operators: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """``start T[u1] ... T[uk]`` for *all* ``V**k`` words ``u`` in lexicographic order: ``(V**k, n)``.

    Row ``i`` belongs to the word with mixed-radix code ``i`` (first symbol most
    significant, as :func:`generators.words.all_words`).  Cost ``O(V^k n^2)``.
    """
    V, n, _ = operators.shape
    flat = operators.transpose(1, 0, 2).reshape(n, V * n)
    rows = np.asarray(start, dtype=float).reshape(1, n)
    for _ in range(length):
        rows = (rows @ flat).reshape(-1, n)  # row (i, s) -> i V + s
    return rows


def suffix_table(operators: np.ndarray, tau: np.ndarray, length: int) -> np.ndarray:
    """``T[v1] ... T[vk] tau`` for all ``V**k`` words ``v`` in lexicographic order: ``(V**k, n)``."""
    V, n, _ = operators.shape
    cols = np.asarray(tau, dtype=float).reshape(1, n)
    for _ in range(length):
        cols = np.einsum("sij,mj->smi", operators, cols).reshape(-1, n)  # prepend s: s V^k + m
    return cols


def word_probabilities(operators: np.ndarray, tau: np.ndarray, words: np.ndarray, start: np.ndarray, *,
                       chunk: int | None = None) -> np.ndarray:
    """Exact ``Pr(w) = start T[w1] ... T[wL] tau`` for words ``(B, L)``: ``(B,)`` float64.

    Strategy by size (``h = L // 2``, ``start`` of shape ``(n,)``):

    - ``V**L <= max(2 B, 4096)``: every word's probability is an entry of the table
      ``prefix_table(h) @ suffix_table(L - h).T`` (``V^h x V^(L-h)``; one GEMM), read
      at the word's mixed-radix code.  All ``3**10`` Mess3 words: two ``243 x 3`` tables.
    - ``V**(L-h) <= B``: halves looked up by code in the two tables, one dot per word.
    - otherwise :func:`batched_products` (``O(B L V n^2)``).

    Per-word starts ``(B, n)`` always take the last route.
    """
    from .words import word_codes

    B, L = words.shape
    V = operators.shape[0]
    start = np.asarray(start, dtype=float)
    h = L // 2
    if start.ndim == 1 and L > 0:
        if V ** L <= min(max(2 * B, 4096), 1 << 22):
            table = prefix_table(operators, start, h) @ suffix_table(operators, tau, L - h).T
            return table.reshape(-1).take(word_codes(words, V))
        if L >= 4 and V ** (L - h) <= min(B, 1 << 20):
            left = prefix_table(operators, start, h)[word_codes(words[:, :h], V)]
            right = suffix_table(operators, tau, L - h)[word_codes(words[:, h:], V)]
            return np.einsum("bi,bi->b", left, right)
    return _products(operators, tau, words, start, chunk)[:, -1]


# ---------------------------------------------------------------------- forward filter
def forward_filter(operators: np.ndarray, tau: np.ndarray, words: np.ndarray, initial: np.ndarray, *,
                   zero_tol: float, keep_beliefs: bool = True, chunk: int | None = None):
    """Normalized beliefs and log prefix probabilities of a batch of words.

    ``eta_0 = initial / (initial tau)``, ``eta_t = eta_{t-1} T[w_t] / (eta_{t-1} T[w_t] tau)``
    and ``log Pr(w_1..w_t) = sum_{s<=t} log(eta_{s-1} T[w_s] tau)``.  A prefix whose
    conditional probability ``eta_{t-1} T[w_t] tau`` is ``<= zero_tol`` is impossible:
    from then on its belief is the zero vector and its log probability ``-inf``.

    Parameters
    ----------
    operators : (V, n, n) float64
    tau : (n,) float64
    words : (B, L) int64, symbols in ``0..V-1`` (not checked here)
    initial : (n,) or (B, n) float64
    zero_tol : float >= 0
    keep_beliefs : bool
        ``False`` returns only the final beliefs and log probabilities.

    Returns
    -------
    beliefs : (B, L+1, n) float64, or (B, n) final beliefs
    log_prefix : (B, L+1) float64, or (B,) final

    Notes
    -----
    Cost ``O(B L V n^2)`` flops; memory ``B (L+1)(n+1)`` floats for the outputs plus a
    chunk buffer of about 2 MiB.  Within a segment of :data:`SEGMENT` steps the rows are
    products ``eta_{t0} T[w_{t0+1}] ... T[w_t]`` and ``eta_t`` is that row divided by its
    ``tau`` column; the conditional probabilities are the ratios of consecutive ``tau``
    columns.  The segment is shorter when ``zero_tol`` is small (``zero_tol^SEGMENT``
    must stay a normal float).  Agrees with the step-by-step definition to rounding.
    """
    zero_tol = float(zero_tol)
    if not zero_tol >= 0 or not np.isfinite(zero_tol):
        raise ValueError(f"zero_tol must be a finite number >= 0; got {zero_tol!r}")
    B, L = words.shape
    n = operators.shape[1]
    eta0 = normalized_starts(initial, tau, B)
    seg = SEGMENT if zero_tol >= 1e-19 else int(np.clip(600 / max(-np.log10(zero_tol or 1e-300), 1), 1, SEGMENT))
    if keep_beliefs:
        beliefs, logs = np.empty((B, L + 1, n)), np.empty((B, L + 1))
    else:
        beliefs, logs = np.empty((B, n)), np.zeros(B)
    if B == 0 or L == 0:
        if keep_beliefs:
            beliefs[:, 0], logs[:, 0] = eta0, 0.0
        return (beliefs, logs) if keep_beliefs else (np.array(eta0), logs)
    C = chunk_rows(8 * ((operators.shape[0] + 2) * (n + 1) + (seg + 1) * (2 * n + 3)), chunk)
    step = Step(operators, tau, min(C, B))
    work = SegmentBuffers(step.rows, seg, n)
    idxbuf = np.empty((step.rows, seg), dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b0 in range(0, B, step.rows):
            b1 = min(B, b0 + step.rows)
            work.start(eta0[b0:b1])
            if keep_beliefs:  # written with the chunk's first segment: its output rows are then in cache
                beliefs[b0:b1, 0], logs[b0:b1, 0] = eta0[b0:b1], 0.0
            for t0 in range(0, L, seg):
                s = min(seg, L - t0)
                idx = step.index_block(words[b0:b1, t0:t0 + s], idxbuf[:b1 - b0, :s])  # (c, s)
                rows = work.buf[:s + 1, :b1 - b0]
                for i in range(s):
                    step.advance(rows[i, :, :n], idx[:, i], rows[i + 1])
                out_b = beliefs[b0:b1, t0 + 1:t0 + s + 1] if keep_beliefs else None
                out_l = logs[b0:b1, t0 + 1:t0 + s + 1] if keep_beliefs else None
                work.finish(s, out_b, out_l, zero_tol)
            if not keep_beliefs:
                beliefs[b0:b1], logs[b0:b1] = work.buf[0, :b1 - b0, :n], work.offset[:b1 - b0]
    return beliefs, logs


# ---------------------------------------------------------------------- sampling
def categorical(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws, one per row: ``x = #{s : F_s <= u F_V}`` capped at ``V-1``.

    ``probs`` (..., V) are unnormalized weights (negative entries, e.g. rounding in a
    GHMM, count as 0); ``u`` (...) uniforms in ``[0, 1)``.  A symbol of weight 0 is
    never drawn while some weight is positive.  Returns int64 (...).  Cost ``O(V)`` a row.

    >>> categorical(np.array([[0.2, 0.0, 0.8]] * 3), np.array([0.1, 0.2, 0.9])).tolist()
    [0, 2, 2]
    """
    cum = np.cumsum(np.clip(probs, 0.0, None), axis=-1)
    x = (cum <= (u * cum[..., -1])[..., None]).sum(axis=-1)
    return np.minimum(x, probs.shape[-1] - 1)


def _uniform_rows(n: int, length: int, chunk: int) -> int:
    """Rows per chunk when each row holds ``length`` uniforms (at most 16 MiB of them)."""
    return max(16, min(chunk, (1 << 21) // max(length, 1)))


def sample_beliefs(operators: np.ndarray, tau: np.ndarray, initial: np.ndarray, n: int, length: int,
                   rng: np.random.Generator, *, return_beliefs: bool = False, chunk: int | None = None):
    """Sample ``n`` words of ``length`` symbols through beliefs (any GHMM).

    At each step ``x ~ Pr(x | eta) = eta T[x] tau`` by inverse CDF (the cumulative table
    ``eta sum_{y<=s} T[y] tau`` comes out of the same GEMM as every ``eta T[y]``), then
    ``eta <- eta T[x] / (eta T[x] tau)``.

    Parameters
    ----------
    operators : (V, d, d), tau : (d,)
    initial : (d,) or (n, d) starting belief(s) (normalized here)
    n, length : int >= 0
    rng : numpy Generator; consumes ``n * length`` doubles, row-major over (sequence, step)
    return_beliefs : bool
        Also return the beliefs ``(n, length+1, d)`` (``[:, t]`` after ``t`` symbols).

    Returns
    -------
    words : (n, length) int64, or ``(words, beliefs)``

    Notes
    -----
    Cost ``O(n L V d^2)`` flops and ``n L`` uniforms.  A symbol of weight ``<= 0`` is
    never drawn (a rare draw landing on one through rounding is redrawn with
    :func:`categorical`); :class:`ZeroProbabilityError` if no symbol has positive weight.
    """
    V, d, _ = operators.shape
    eta0 = normalized_starts(initial, tau, n)
    words = np.empty((n, length), dtype=np.int64)
    beliefs = np.empty((n, length + 1, d)) if return_beliefs else None
    if return_beliefs:
        beliefs[:, 0] = eta0
    if n == 0 or length == 0:
        return (words, beliefs) if return_beliefs else words
    C = chunk_rows(8 * ((V + 2) * (d + 1) + (SEGMENT + 1) * (2 * d + 4)), chunk)
    step = Step(operators, tau, min(_uniform_rows(n, length, C), n), cumulative=True)
    work = SegmentBuffers(step.rows, SEGMENT, d)
    xs, uc, flag = np.empty((SEGMENT, step.rows), dtype=np.int64), np.empty(step.rows), np.empty(step.rows, bool)
    base = step.index(np.zeros(step.rows, dtype=np.int64))  # index of symbol 0, per row
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b0 in range(0, n, step.rows):
            b1 = min(n, b0 + step.rows)
            c = b1 - b0
            u = rng.random((c, length))
            work.start(eta0[b0:b1])
            for t0 in range(0, length, SEGMENT):
                s = min(SEGMENT, length - t0)
                for i in range(s):
                    cur, nxt, x = work.buf[i, :c], work.buf[i + 1, :c], xs[i, :c]
                    step.propose(cur[:, :d])
                    np.multiply(u[:, t0 + i], cur[:, d], out=uc[:c])
                    _inverse_cdf(step.cumulative(c), uc[:c], base[:c], x, flag[:c])
                    step.select(x, nxt)
                    if not np.greater(nxt[:, d], _TINY, out=flag[:c]).all():
                        _repair(step, cur, nxt, x, u[:, t0 + i])
                words[b0:b1, t0:t0 + s] = step.symbols(xs[:s, :c]).T
                work.finish(s, beliefs[b0:b1, t0 + 1:t0 + s + 1] if return_beliefs else None, None, None)
    return (words, beliefs) if return_beliefs else words


def _inverse_cdf(cum: np.ndarray, uc: np.ndarray, base: np.ndarray, x: np.ndarray, flag: np.ndarray) -> None:
    """``x = base + #{s < V-1 : cum[:, s] <= uc}`` into ``x`` (c,): one compare-and-add per symbol."""
    if cum.shape[1] > 8:
        np.add(base, (cum <= uc[:, None]).sum(axis=1), out=x)
        return
    np.copyto(x, base)
    for s in range(cum.shape[1]):
        np.less_equal(cum[:, s], uc, out=flag)
        np.add(x, flag, out=x)


def _repair(step: Step, cur: np.ndarray, nxt: np.ndarray, x: np.ndarray, u: np.ndarray) -> None:
    """Rows whose drawn symbol has weight ``<= 0`` (rounding) are redrawn exactly; rows
    whose unnormalized mass fell below :data:`_TINY` are renormalized (no underflow)."""
    d = cur.shape[1] - 1
    bad = np.flatnonzero(~(nxt[:, d] > 0))
    if bad.size:
        sym = categorical(step.probabilities(bad), u[bad])
        x[bad] = step.index(sym, bad)
        nxt[bad] = np.einsum("bi,bij->bj", cur[bad, :d], step.blocks[sym])
        dead = bad[~(nxt[bad, d] > 0)]
        if dead.size:
            raise ZeroProbabilityError(
                f"no symbol has positive probability from the belief of sequence {int(dead[0])} "
                "(the state is not a valid belief of this generator)")
    small = np.flatnonzero(~(nxt[:, d] > _TINY))
    nxt[small] /= nxt[small, d:]


def sample_hidden_states(T: np.ndarray, initial: np.ndarray, n: int, length: int, rng: np.random.Generator, *,
                         chunk: int | None = None, bins: int | None = None) -> np.ndarray:
    """Sample ``n`` words of ``length`` from an HMM by walking its hidden states.

    From state ``i`` the pair (symbol ``x``, next state ``j``) is drawn with probability
    ``T[x, i, j]``, by inverse CDF over the flattened row ``j' = x k + j`` of the joint
    table.  The inverse CDF is a lookup: ``u`` falls in bin ``floor(u M)`` (``M`` a power
    of two, so the bin is exact), and a table ``(k, M)`` gives the answer for every
    (state, bin) that holds no CDF boundary; the few draws in the other bins (at most
    ``V k - 1`` bins per state) are resolved by comparison.  Exact.

    Parameters
    ----------
    T : (V, k, k) nonnegative, rows of ``sum_x T[x]`` summing to 1
    initial : (k,) or (n, k) distribution(s) of the first hidden state
    rng : numpy Generator; consumes ``n (length + 1)`` doubles, row-major, the first of
        each row choosing the start state
    bins : power of two, optional
        Lookup bins per state ``M`` (default ``2**14``, fewer when ``k > 64``); any value
        gives the same words, fewer bins only resolve more draws by comparison.

    Returns
    -------
    words : (n, length) int64

    Notes
    -----
    Cost ``O(n L)`` (a gather, an add and a mask per step and row) plus ``O(k M)`` for
    the table, ``M = 2**14`` for small ``k`` (``k M <= 2**20``).
    """
    V, k, _ = T.shape
    M, lut, cum = _hidden_table(T, bins)
    words = np.empty((n, length), dtype=np.int64)
    if n == 0:
        return words
    start = np.asarray(initial, dtype=float)
    rows = _uniform_rows(n, length + 1, chunk_rows(8 * 4 * (length + 1), chunk))
    vals = np.empty((length, rows), dtype=np.int64)
    base, flat = np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int64)
    for b0 in range(0, n, rows):
        b1 = min(n, b0 + rows)
        c = b1 - b0
        u = rng.random((c, length + 1))
        s0 = categorical(np.broadcast_to(start, (c, k)) if start.ndim == 1 else start[b0:b1], u[:, 0])
        np.multiply(s0, M, out=base[:c])
        bins = (u[:, 1:].T * M).astype(np.int64)  # (L, c), exact: M is a power of two
        for t in range(length):
            np.add(base[:c], bins[t], out=flat[:c])
            np.take(lut, flat[:c], out=vals[t, :c], mode="wrap")
            if vals[t, :c].min() < 0:
                amb = np.flatnonzero(vals[t, :c] < 0)
                j = (cum[flat[amb] // M] <= u[amb, t + 1, None]).sum(axis=1)
                vals[t, amb] = (j << 32) | ((j % k) * M)
            np.bitwise_and(vals[t, :c], 0xFFFFFFFF, out=base[:c])
        words[b0:b1] = (vals[:, :c] >> 32).T // k
    return words


def _hidden_table(T: np.ndarray, bins: int | None = None) -> tuple[int, np.ndarray, np.ndarray]:
    """``(M, lut (k M,), cum (k, V k))`` for :func:`sample_hidden_states`.

    ``cum[i]`` is the normalized CDF of row ``i`` of the joint table; ``lut[i M + b]`` is
    ``(j << 32) | (j mod k) M`` when every ``u`` in ``[b/M, (b+1)/M)`` draws ``j``, else -1.
    """
    V, k, _ = T.shape
    cum = np.cumsum(np.clip(T.transpose(1, 0, 2).reshape(k, V * k), 0.0, None), axis=1)
    cum /= cum[:, -1:]
    M = 1 << int(np.clip(np.floor(np.log2((1 << 20) / k)), 6, 14)) if bins is None else int(bins)
    if M < 1 or M & (M - 1) or k * M > 1 << 31:
        raise ValueError(f"bins must be a power of two with bins * n_states <= 2**31; got {bins!r}")
    lo = np.arange(M) / M
    hi = np.nextafter(np.arange(1, M + 1) / M, 0.0)
    lut = np.empty((k, M), dtype=np.int64)
    for i in range(k):  # loop over hidden states (small), each a vectorized search
        jl = np.searchsorted(cum[i], lo, side="right")
        jh = np.searchsorted(cum[i], hi, side="right")
        lut[i] = np.where(jl == jh, (jl << 32) | ((jl % k) * M), -1)
    return M, lut.reshape(-1), cum
