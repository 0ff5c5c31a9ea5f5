"""Symbol sequences: loading, validation, and substring statistics.

Sequences are int arrays ``(N, L)`` (``N`` samples of length ``L``; one long sequence is
``(1, L)``) over the symbols ``0 .. V-1``.  Word statistics are counted with mixed-radix
codes -- ``code(w x) = V code(w) + x``, first symbol most significant, the order of
:func:`generators.words.all_words` -- built one word length at a time over all
positions at once, and one ``np.bincount`` per length: ``O(N L k)`` for words up to
length ``k``, no Python loop over positions or words.  A window never crosses from one
sequence into the next.

Standard errors of word frequencies come from *groups* of the data (whole sequences, or
chunks of one long sequence; :func:`assign_groups`): the batch-means estimator
``se(f) = sd over groups of f_g / sqrt(G)`` includes the serial correlation that the
binomial formula ``sqrt(f (1 - f) / n)`` ignores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import ShapeError

__all__ = ["load_sequences", "check_sequences", "substring_counts", "window_codes", "word_frequencies", "assign_groups",
           "MAX_COUNTS"]


def load_sequences(path: str | Path, *, key: str | None = None, alphabet_size: int | None = None) -> np.ndarray:
    """Sequences from a ``.npy`` file or a ``.npz`` archive (its only array, or ``key``).

    Returns a validated int64 array ``(N, L)`` (a 1-D file gives ``(1, L)``); raises
    :class:`~generators.ShapeError` naming the file and the problem.  Object arrays are
    refused (no pickle is ever loaded).
    """
    p = Path(path)
    if not p.is_file():
        raise ShapeError(f"{p}: no such file")
    if p.suffix.lower() not in (".npy", ".npz"):
        raise ShapeError(f"{p}: sequences must be a .npy or .npz file; got {p.suffix!r}")
    try:
        data = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ShapeError(f"{p}: not a readable numpy file ({e})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            names = list(data.files)
            if key is None and len(names) != 1:
                raise ShapeError(f"{p}: the archive holds {len(names)} arrays {names}; say which with key=")
            name = key if key is not None else names[0]
            if name not in names:
                raise ShapeError(f"{p}: no array {name!r} in the archive (has {names})")
            data = data[name]
    try:
        return check_sequences(data, alphabet_size)[0]
    except ShapeError as e:
        raise ShapeError(f"{p}: {e}") from None


def check_sequences(sequences: Any, alphabet_size: int | None = None) -> tuple[np.ndarray, int]:
    """Validate symbol sequences; returns ``(int64 array (N, L), V)``.

    Accepts ``(N, L)`` or one long sequence ``(L,)``; entries must be integers
    ``0 .. V-1`` (floats with integer values are accepted, NaN/inf/bools are not).
    ``V`` is ``alphabet_size`` if given, else ``max + 1``.
    """
    arr = np.asarray(sequences)
    if arr.dtype == bool or arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                                         or np.issubdtype(arr.dtype, np.floating)):
        raise ShapeError(f"sequences must be an integer array (N, L) or (L,); got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.size == 0 or arr.shape[1] < 2:
        raise ShapeError(f"sequences must have shape (N, L) with L >= 2 (or be one sequence); got {np.shape(sequences)}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(np.mod(arr, 1) != 0):
            raise ShapeError("sequences must hold integer symbols; found NaN, inf or non-integer values")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ShapeError(f"symbols must be >= 0; found {arr.min()}")
    top = int(arr.max())
    if alphabet_size is None:
        V = top + 1
    else:
        if isinstance(alphabet_size, bool) or int(alphabet_size) != alphabet_size or alphabet_size < 1:
            raise ShapeError(f"alphabet_size must be a positive integer; got {alphabet_size!r}")
        V = int(alphabet_size)
        if top >= V:
            raise ShapeError(f"symbol {top} out of range for alphabet_size={V} (symbols must be 0..{V - 1})")
    return arr, V


# ---------------------------------------------------------------------- counting
def substring_counts(sequences: np.ndarray, V: int, max_length: int, groups: np.ndarray | None = None,
                     n_groups: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Counts of every word of each length ``k = 1 .. max_length`` (windows within rows).

    Parameters
    ----------
    sequences : int (N, L)
    V : int -- alphabet size
    max_length : int -- at most :data:`MAX_COUNTS` words of this length (dense counts)
    groups : int (N, L), optional -- group of each *start position* (default one group)
    n_groups : int, optional -- number of groups ``G`` (default ``groups.max() + 1``)

    Returns
    -------
    counts : list, ``counts[k]`` int (G, V^k) for ``k >= 1``; ``counts[0]`` (G, 1) the
        number of positions.  Words are indexed by their mixed-radix code (first symbol
        most significant, the order of :func:`generators.words.all_words`).
    windows : int (G, max_length + 1) -- number of windows of each length per group.
    """
    seq = np.asarray(sequences, dtype=np.int64)
    N, L = seq.shape
    g = np.zeros((N, L), dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    G = int(g.max()) + 1 if n_groups is None else int(n_groups)
    _check_dense(V, max_length, G)
    counts = [np.bincount(g.ravel(), minlength=G)[:, None]]
    windows = np.zeros((G, max_length + 1), dtype=np.int64)
    windows[:, 0] = counts[0][:, 0]
    for k, code in window_codes(seq, V, max_length):
        gk = g[:, : L - k + 1]
        counts.append(np.bincount((gk * V**k + code).ravel(), minlength=G * V**k).reshape(G, V**k))
        windows[:, k] = np.bincount(gk.ravel(), minlength=G)
    counts += [np.zeros((G, V**k), dtype=np.int64) for k in range(len(counts), max_length + 1)]  # k > L
    return counts, windows


#: largest (groups x words of one length) table counted densely (np.bincount over all codes)
MAX_COUNTS = 2**24


def _check_dense(V: int, k: int, G: int = 1) -> None:
    if G * V**k > MAX_COUNTS:
        raise ShapeError(f"{V} symbols give {V}^{k} words of length {k}; {G} group(s) of them exceed the "
                         f"{MAX_COUNTS} counts counted densely: use a smaller max_length (or fewer symbols)")


def window_codes(seq: np.ndarray, V: int, max_length: int):
    """Yield ``(k, codes (N, L - k + 1))`` for ``k = 1 .. min(max_length, L)``:
    ``code(w x) = V code(w) + x``, one vectorized step per length."""
    code = seq
    for k in range(1, min(max_length, seq.shape[1]) + 1):
        if k > 1:
            code = code[:, :-1] * V + seq[:, k - 1:]
        yield k, code


def word_frequencies(sequences: Any, length: int, alphabet_size: int | None = None, *, n_groups: int = 32,
                     seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Empirical frequencies of all ``V^length`` words (lexicographic order) and their
    standard errors, both float ``(V^length,)``.

    ``f(w) = count(w) / windows``; the standard error is the batch-means estimate over
    ``n_groups`` groups (:func:`assign_groups`, seeded): ``sqrt(sum_g n_g^2 (f_g - f)^2 /
    (G (G - 1) nbar^2))`` with ``n_g`` the windows of group ``g`` -- the spread of the
    group frequencies, serial correlation included.  Words never seen get 0.
    """
    seq, V = check_sequences(sequences, alphabet_size)
    if isinstance(length, bool) or int(length) != length or not 1 <= length <= seq.shape[1]:
        raise ShapeError(f"length must be an integer in 1..{seq.shape[1]}; got {length!r}")
    if isinstance(n_groups, bool) or int(n_groups) != n_groups or n_groups < 2:
        raise ShapeError(f"n_groups must be an integer >= 2; got {n_groups!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    groups = assign_groups(seq.shape, int(n_groups), rng)
    counts, windows = substring_counts(seq, V, int(length), groups, int(n_groups))
    c, n = counts[length], windows[:, length].astype(float)
    f = c.sum(axis=0) / n.sum()
    G = len(n)
    fg = c / np.maximum(n, 1)[:, None]
    var = np.sum((n[:, None] * (fg - f[None, :])) ** 2, axis=0) / (G * (G - 1) * n.mean() ** 2)
    return f, np.sqrt(var)


def assign_groups(shape: tuple[int, int], G: int, rng: np.random.Generator) -> np.ndarray:
    """Group id (0 .. G-1) of every start position, int (N, L): whole sequences when
    there are at least ``2 G`` of them, else about ``2 G`` contiguous chunks in all (each
    sequence cut into equal parts); the pieces are dealt out in a random order (``rng``)
    so every group gets about the same number of them."""
    N, L = shape
    per_row = 1 if N >= 2 * G else int(np.ceil(2 * G / N))
    chunk = int(np.ceil(L / per_row))
    chunk_id = np.arange(N)[:, None] * per_row + np.arange(L)[None, :] // chunk  # (N, L)
    n_chunks = N * per_row
    deal = rng.permutation(n_chunks) % G
    return deal[chunk_id]
