"""The inputs of belief-geometry discovery: one activation point, its tokens, the split.

Alignment (that of :meth:`nets.probe.ProbeDataset.from_sequences`): a model reads tokens
``t_0 .. t_{L-1}``; the activation at position ``p`` has seen tokens ``0..p``.  Without a
BOS token every token is a symbol and position ``p`` has seen ``p + 1`` symbols; with one
(``tokens[:, 0] == bos``) position ``p`` has seen the ``p`` symbols ``t_1 .. t_p``
(position 0: none).  Either way the symbol read between positions ``p`` and ``p + 1`` is
``tokens[:, p + 1]``, which is also the *next token* predicted at position ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from generators.base import as_rng
from generators.errors import ArgumentError, ShapeError
from generators.validation import check_int, check_real

__all__ = ["DiscoveryData", "select_point", "prepare", "split_sequences"]


@dataclass(frozen=True)
class DiscoveryData:
    """Activations and tokens of one point, checked and aligned (module docstring).

    Attributes
    ----------
    acts : float64 (N, L, d) -- the activation at every position
    tokens : int64 (N, L) -- model inputs (BOS included)
    symbols : int64 (N, S) -- the process's symbols: ``tokens[:, 1:]`` with BOS, else ``tokens``
    V : int -- alphabet size (BOS excluded)
    bos : int or None
    point : str -- which activation point (a name, ``"concat"`` or ``"activations"``)
    """

    acts: np.ndarray
    tokens: np.ndarray
    symbols: np.ndarray
    V: int
    bos: int | None
    point: str

    @property
    def seen_offset(self) -> int:
        """Position ``p`` has seen ``p + seen_offset`` symbols (0 with BOS, 1 without)."""
        return 0 if self.bos is not None else 1

    def rows(self, idx: np.ndarray) -> "DiscoveryData":
        """The sequences ``idx``."""
        return DiscoveryData(self.acts[idx], self.tokens[idx], self.symbols[idx], self.V, self.bos, self.point)


def select_point(activations: Any, point: str | Sequence[str] | None) -> tuple[Any, str]:
    """The activation array ``(N, L, d)`` to analyse and its label.

    ``activations`` is an array/tensor ``(N, L, d)`` (``point`` must be None) or a mapping
    name -> ``(N, L, d)`` (a dict or :class:`nets.activations.ActivationCache`).  From a
    mapping: ``point=None`` takes its only entry, or with several the concatenation of
    all of them along the feature axis (label ``"concat"``: every layer at once, as the
    probe's headline point); a name (either spelling, or a ``(kind, layer)`` tuple) takes
    that point; a list of names their concatenation, in the cache's depth order.
    """
    from ..activations import ActivationCache

    if not isinstance(activations, Mapping):
        if point is not None:
            raise ArgumentError(f"point={point!r} needs a mapping of named activations; got one array")
        return activations, "activations"
    if not activations:
        raise ArgumentError("activations: the mapping is empty; give at least one point (N, L, d)")
    cache = activations if isinstance(activations, ActivationCache) else ActivationCache(activations)
    if point is None:
        keys = list(cache)
        return (cache[keys[0]], keys[0]) if len(keys) == 1 else (cache.concat(keys), "concat")
    if isinstance(point, (str, tuple)):
        try:
            return cache[point], cache.key(point)
        except KeyError as err:
            raise ArgumentError(str(err).strip("'\"")) from None
    names = list(point)
    if not names or not all(isinstance(n, str) for n in names):
        raise ArgumentError(f"point must be None, a name, or a non-empty list of names; got {point!r}")
    sub = cache.select(names)
    return sub.concat(), "+".join(sub)


def prepare(activations: Any, tokens: Any, *, point: Any = None, bos: Any = None,
            alphabet_size: Any = None) -> DiscoveryData:
    """Checked :class:`DiscoveryData`: finite real activations ``(N, L, d)`` matching
    integer tokens ``(N, L)`` with ``L >= 3``; symbols in ``0 .. V-1``; with ``bos`` every
    ``tokens[:, 0] == bos`` and no other token equal to it."""
    arr, label = select_point(activations, point)
    if hasattr(arr, "detach"):
        arr = arr.detach().float().cpu().numpy()
    acts = np.asarray(arr)
    if acts.dtype == bool or not (np.issubdtype(acts.dtype, np.floating) or np.issubdtype(acts.dtype, np.integer)):
        raise ShapeError(f"activations must be real numbers; got dtype {acts.dtype}")
    acts = acts.astype(np.float64)
    tok = _tokens(tokens)
    if acts.ndim != 3 or acts.shape[:2] != tok.shape:
        raise ShapeError(f"activations must have shape (N, L, d) = ({tok.shape[0]}, {tok.shape[1]}, d) to match "
                         f"tokens {tok.shape}; got {acts.shape}")
    if acts.shape[2] < 1 or not np.all(np.isfinite(acts)):
        raise ShapeError("activations must be finite with at least one feature; found NaN/inf or d = 0")
    if bos is not None:
        bos = check_int(bos, "bos", minimum=0)
        if np.any(tok[:, 0] != bos):
            raise ArgumentError(f"bos={bos} but tokens[:, 0] holds {sorted(set(tok[:, 0].tolist()) - {bos})[:5]}; "
                                "every sequence must start with the BOS token (or pass bos=None)")
        symbols = tok[:, 1:]
        if np.any(symbols == bos):
            raise ArgumentError(f"the BOS token {bos} also occurs after position 0; it cannot be a symbol")
    else:
        symbols = tok
    V = _alphabet(symbols, alphabet_size, bos)
    return DiscoveryData(acts, tok, symbols, V, bos, label)


def _tokens(tokens: Any) -> np.ndarray:
    arr = np.asarray(tokens.detach().cpu().numpy() if hasattr(tokens, "detach") else tokens)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ShapeError(f"tokens must be an integer array (N, L); got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 4 or arr.shape[1] < 3:
        raise ShapeError(f"tokens must have shape (N, L) with N >= 4 sequences and L >= 3 positions; got {arr.shape}")
    if arr.min() < 0:
        raise ShapeError(f"tokens must be >= 0; found {int(arr.min())}")
    return arr.astype(np.int64)


def _alphabet(symbols: np.ndarray, alphabet_size: Any, bos: int | None) -> int:
    top = int(symbols.max())
    if alphabet_size is None:
        return top + 1
    V = check_int(alphabet_size, "alphabet_size", minimum=1)
    if top >= V:
        raise ArgumentError(f"symbol {top} is out of range for alphabet_size={V} (symbols must be 0..{V - 1}"
                            + (f"; the BOS token {bos} is excluded" if bos is not None else "") + ")")
    return V


def split_sequences(N: int, holdout: Any, seed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test split of ``N`` sequences: ``(train, test)`` index arrays, the test
    part a fraction ``holdout`` in ``(0, 0.5]`` (at least 2 sequences on each side)."""
    h = check_real(holdout, "holdout", minimum=0.0, maximum=0.5, min_open=True)
    perm = as_rng(seed).permutation(N)
    n_test = min(max(2, int(round(h * N))), N - 2)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
