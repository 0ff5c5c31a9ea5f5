"""Activations of any model: one cache, one set of names, one batched collection.

- :class:`ActivationCache` -- a ``dict`` of named activations ordered by depth (embedding,
  block 0, block 1, ..., final layer norm), indexed like TransformerLens's cache:
  ``cache["resid_post", 0]``, ``cache["blocks.0.hook_resid_post"]`` or
  ``cache["blocks.0.resid_post"]`` all give the same array; ``.stack()`` and
  ``.concat()`` combine points.
- :func:`aliases` -- qbelief's activation names and TransformerLens's hook names are
  interchangeable everywhere (``blocks.i.resid_post`` == ``blocks.i.hook_resid_post``,
  ``embed`` == ``hook_embed`` == ``blocks.0.hook_resid_pre``, ``blocks.i.attn.pattern``
  == ``blocks.i.attn.hook_pattern``, ``blocks.i.mlp.post`` == ``blocks.i.mlp.hook_post``,
  ``blocks.i.attn.out`` == ``blocks.i.hook_attn_out``, ``blocks.i.mlp.out`` ==
  ``blocks.i.hook_mlp_out``, ``ln_final`` == ``ln_final.hook_normalized``).
- :func:`collect` -- run a model (qbelief's, a TransformerLens model, any
  ``torch.nn.Module`` through :func:`nets.adapters.as_source`) over token sequences in
  batches and keep the requested activations: whole sequences ``(N, L, d)``, one
  position per row ``(R, d)`` (``rows``, ``positions``), or the mean over sequences.

Examples
--------
>>> import numpy as np
>>> c = ActivationCache({"blocks.1.resid_post": np.ones((2, 3)), "embed": np.zeros((2, 3)),
...                      "blocks.0.resid_post": np.full((2, 3), 0.5)})
>>> list(c)                                     # ordered by depth
['embed', 'blocks.0.resid_post', 'blocks.1.resid_post']
>>> float(c["resid_post", -1][0, 0]), float(c["blocks.0.hook_resid_post"][0, 0])
(1.0, 0.5)
>>> c.stack("resid_post").shape, c.concat().shape
((2, 2, 3), (2, 9))
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["ActivationCache", "aliases", "resolve_names", "collect"]

# one row per direction: (pattern, replacement); "[^.]+" also matches a "*" pattern
_ALIASES = [(re.compile(a), b) for a, b in (
    (r"^blocks\.([^.]+)\.resid_(pre|mid|post)$", r"blocks.\1.hook_resid_\2"),
    (r"^blocks\.([^.]+)\.hook_resid_(pre|mid|post)$", r"blocks.\1.resid_\2"),
    (r"^blocks\.([^.]+)\.attn\.pattern$", r"blocks.\1.attn.hook_pattern"),
    (r"^blocks\.([^.]+)\.attn\.hook_pattern$", r"blocks.\1.attn.pattern"),
    (r"^blocks\.([^.]+)\.attn\.out$", r"blocks.\1.hook_attn_out"),
    (r"^blocks\.([^.]+)\.hook_attn_out$", r"blocks.\1.attn.out"),
    (r"^blocks\.([^.]+)\.mlp\.post$", r"blocks.\1.mlp.hook_post"),
    (r"^blocks\.([^.]+)\.mlp\.hook_post$", r"blocks.\1.mlp.post"),
    (r"^blocks\.([^.]+)\.mlp\.out$", r"blocks.\1.hook_mlp_out"),
    (r"^blocks\.([^.]+)\.hook_mlp_out$", r"blocks.\1.mlp.out"),
    (r"^ln_final$", "ln_final.hook_normalized"),
    (r"^ln_final\.hook_normalized$", "ln_final"),
    (r"^embed$", "blocks.0.hook_resid_pre"),
    (r"^embed$", "hook_embed"),
    (r"^hook_embed$", "embed"),
)]


def aliases(name: str) -> list[str]:
    """Other spellings of activation ``name`` (qbelief <-> TransformerLens), without ``name``.

    >>> aliases("blocks.2.resid_post"), aliases("blocks.*.hook_resid_post")
    (['blocks.2.hook_resid_post'], ['blocks.*.resid_post'])
    >>> aliases("embed")
    ['blocks.0.hook_resid_pre', 'hook_embed']
    """
    out: list[str] = []
    for pat, repl in _ALIASES:
        if pat.match(name):
            alt = pat.sub(repl, name)
            if alt != name and alt not in out:
                out.append(alt)
    return out


def resolve_names(names: str | Iterable[str] | None, valid: Sequence[str], what: str = "model") -> list[str]:
    """The names of ``valid`` that ``names`` asks for, in the order of ``valid``.

    ``names``: a name, shell-style pattern (``"blocks.*.resid_post"``) or an iterable of
    them, in qbelief's or TransformerLens's spelling; ``None`` means all of ``valid``.
    Raises ``ValueError`` naming the unknown entry and listing the valid names.
    """
    valid = list(valid)
    if names is None:
        return valid
    if isinstance(names, str):
        names = [names]
    want: set[str] = set()
    for nm in names:
        if not isinstance(nm, str):
            raise ValueError(f"activation names must be strings; got {nm!r}")
        hits: list[str] = []
        for cand in [nm, *aliases(nm)]:
            hits = fnmatch.filter(valid, cand) if any(c in cand for c in "*?[") else [cand] if cand in valid else []
            if hits:
                break
        if not hits:
            raise ValueError(f"unknown activation name {nm!r} for this {what}; valid names: {', '.join(valid)}")
        want.update(hits)
    return [n for n in valid if n in want]


def _depth(name: str) -> float:
    """Sort key: embedding first, then block/layer index, then the final layer norm and unembedding."""
    m = re.match(r"^(?:blocks|layers)\.(\d+)\.", name)
    if m:
        return 1.0 + int(m.group(1))
    if name.startswith(("ln_final", "unembed", "hook_unembed")):
        return float("inf")
    if name in ("embed", "hook_embed", "hook_pos_embed") or name.startswith(("embed.", "pos_embed.")):
        return 0.0
    return 1e9  # unknown names: after the blocks, before the final norm, in insertion order


class ActivationCache(dict):
    """Named activations (numpy arrays or torch tensors), ordered by depth.

    Keys keep the spelling of the model that produced them; lookups also accept the other
    spelling (:func:`aliases`) and TransformerLens-style ``(kind, layer)`` tuples
    (``cache["resid_post", -1]``, ``cache["pattern", 0]``, ``cache["hidden", 1]`` for an
    RNN's ``layers.1.hidden``).
    """

    def __init__(self, items: Any = (), **kw: Any):
        d = dict(items, **kw)
        super().__init__(sorted(d.items(), key=lambda kv: _depth(kv[0])))

    def key(self, name: Any) -> str:
        """The stored key for ``name`` (any spelling, or a ``(kind, layer)`` tuple)."""
        if isinstance(name, tuple):
            return self._layer_key(*name)
        if dict.__contains__(self, name):
            return name
        for alt in aliases(name) if isinstance(name, str) else ():
            if dict.__contains__(self, alt):
                return alt
        raise KeyError(f"no activation {name!r} in this cache; it has: {', '.join(self)}")

    def _layer_key(self, kind: str, layer: int) -> str:
        n_layers = 1 + max((int(m.group(1)) for k in self for m in [re.match(r"^(?:blocks|layers)\.(\d+)\.", k)]
                            if m), default=-1)
        i = int(layer) + (n_layers if int(layer) < 0 else 0)
        for c in (f"blocks.{i}.{kind}", f"blocks.{i}.hook_{kind}", f"blocks.{i}.attn.{kind}",
                  f"blocks.{i}.attn.hook_{kind}", f"blocks.{i}.mlp.{kind}", f"blocks.{i}.mlp.hook_{kind}",
                  f"layers.{i}.{kind}"):
            try:
                return self.key(c)
            except KeyError:
                continue
        raise KeyError(f"no activation ({kind!r}, {layer}) in this cache; it has: {', '.join(self)}")

    def __getitem__(self, name: Any) -> Any:
        return dict.__getitem__(self, self.key(name))

    def __contains__(self, name: Any) -> bool:
        try:
            self.key(name)
        except KeyError:
            return False
        return True

    def get(self, name: Any, default: Any = None) -> Any:
        return self[name] if name in self else default

    def select(self, names: str | Iterable[str] | None = None) -> "ActivationCache":
        """The sub-cache of ``names`` (names, patterns or a bare kind such as ``"resid_post"``)."""
        if isinstance(names, str) and "." not in names and not any(c in names for c in "*?["):
            keys = [k for k in self if k.endswith((f".{names}", f".hook_{names}")) or k == names]
            if not keys:
                raise KeyError(f"no activation of kind {names!r} in this cache; it has: {', '.join(self)}")
        else:
            keys = resolve_names(names, list(self), what="cache")
        return ActivationCache({k: dict.__getitem__(self, k) for k in keys})

    def stack(self, names: str | Iterable[str] | None = None) -> Any:
        """The selected activations stacked along a new leading (depth) axis."""
        vals = list(self.select(names).values())
        return _lib(vals).stack(vals, 0)

    def concat(self, names: str | Iterable[str] | None = None) -> Any:
        """The selected activations concatenated along the last (feature) axis."""
        vals = list(self.select(names).values())
        lib = _lib(vals)
        return lib.cat(vals, -1) if lib is not np else np.concatenate(vals, axis=-1)

    def to_numpy(self, dtype: Any = np.float32) -> "ActivationCache":
        """A copy with every value a numpy array of ``dtype`` (tensors detached, moved to CPU)."""
        return ActivationCache({k: _to_numpy(v, dtype) for k, v in self.items()})


def _lib(vals: list) -> Any:
    if not vals:
        raise ValueError("no activations selected")
    if all(isinstance(v, np.ndarray) for v in vals):
        return np
    import torch

    return torch


def _to_numpy(v: Any, dtype: Any) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().float().cpu().numpy()
    return np.asarray(v, dtype=dtype)


def collect(model: Any, tokens: Any, names: str | Iterable[str] | None = None, rows: Any = None,
            positions: Any = None, *, reduce: str | None = None, batch_size: int = 2048,
            progress: bool = False) -> ActivationCache:
    """Run ``model`` over ``tokens`` in batches and keep the named activations.

    Parameters
    ----------
    model : a qbelief model, a TransformerLens model, a torch module or an
        :class:`nets.adapters.ActivationSource` (see :func:`nets.adapters.as_source`;
        wrap a plain module with :class:`nets.adapters.ModuleSource` to name its points)
    tokens : int array (N, L)
    names : names or patterns (either spelling); default the model's probe points
        (:meth:`~nets.adapters.ActivationSource.default_points`).  A name asked for in
        the other spelling keeps the caller's spelling as its key.
    rows, positions : int arrays (R,), optional
        With ``positions``: keep only the activation of sequence ``rows[i]`` (default
        ``i``) at position ``positions[i]``: arrays ``(R, d)``.  With ``rows`` alone:
        the whole sequences ``rows`` ``(R, L, d)``.  Only the sequences named in ``rows``
        are run, each once.
    reduce : None or "mean"
        ``"mean"``: the mean over all sequences (float64, e.g. attention patterns
        ``(heads, L, L)``), accumulated batch by batch.
    batch_size : int
        Sequences per forward pass (under ``torch.no_grad()``, the model in eval mode and
        restored afterwards).

    Returns
    -------
    ActivationCache of float32 numpy arrays (float64 with ``reduce="mean"``).  Cost: one
    forward pass per selected sequence; memory ``O(R d)`` with ``positions``.
    """
    import torch

    from .adapters import as_source

    src = as_source(model)
    tok = _check_tokens(tokens)
    want = src.resolve(names) if names is not None else src.default_points()
    spelled = _spellings(names, want)
    rows_, pos_ = _rows_positions(rows, positions, tok.shape, reduce)
    seqs = np.unique(rows_)
    acc = _Accumulator(want, rows_, pos_, reduce)
    starts = range(0, seqs.size, int(batch_size))
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="activations", unit="batch")
    with src.evaluating(), torch.no_grad():
        for a in starts:
            batch = seqs[a:a + int(batch_size)]
            acc.add(batch, src.run(torch.from_numpy(np.ascontiguousarray(tok[batch])), want))
    return ActivationCache({spelled.get(k, k): v for k, v in acc.result().items()})


def _spellings(names: Any, resolved: list[str]) -> dict[str, str]:
    """Resolved name -> the caller's spelling of it, for names asked for exactly in the
    other spelling (``blocks.0.resid_post`` of a TransformerLens model keeps that key);
    patterns keep the model's spelling."""
    if names is None:
        return {}
    out: dict[str, str] = {}
    for nm in [names] if isinstance(names, str) else list(names):
        if nm in resolved or any(c in nm for c in "*?["):
            continue
        hit = next((a for a in aliases(nm) if a in resolved), None)
        if hit is not None and hit not in out:
            out[hit] = nm
    return out


def _check_tokens(tokens: Any) -> np.ndarray:
    if hasattr(tokens, "detach"):
        tokens = tokens.detach().cpu().numpy()
    t = np.asarray(tokens)
    if t.dtype.kind not in "iu" or t.ndim != 2 or 0 in t.shape:
        raise ValueError(f"tokens must be a nonempty integer array (N, L); got dtype {t.dtype}, shape {t.shape}")
    return t.astype(np.int64, copy=False)


def _rows_positions(rows: Any, positions: Any, shape: tuple, reduce: str | None):
    """Validated ``rows`` (default every sequence) and ``positions`` (or None)."""
    if reduce not in (None, "mean"):
        raise ValueError(f"reduce must be None or 'mean'; got {reduce!r}")
    N, L = shape
    r = None if rows is None else np.asarray(rows).reshape(-1)
    p = None if positions is None else np.asarray(positions).reshape(-1)
    if reduce is not None and (r is not None or p is not None):
        raise ValueError("reduce='mean' averages whole sequences; do not pass rows or positions with it")
    if r is None:
        r = np.arange(N) if p is None else np.arange(p.size)
    for v, nm, hi in ((r, "rows", N), (p, "positions", L)):
        if v is not None and (v.dtype.kind not in "iu" or (v.size and (v.min() < 0 or v.max() >= hi))):
            raise ValueError(f"{nm} must be integers in 0..{hi - 1}; got {v[:8]}{'...' if v.size > 8 else ''}")
    if r.size == 0:
        raise ValueError("no sequences to run: rows is empty")
    if p is not None and p.shape != r.shape:
        raise ValueError(f"rows and positions must have the same length; got {r.size} and {p.size}")
    return r, p


class _Accumulator:
    """Gathers per-batch activations into the output arrays of :func:`collect`:
    output row ``i`` is sequence ``rows[i]`` (at ``positions[i]``), or the running sum."""

    def __init__(self, names: list[str], rows: np.ndarray, positions: np.ndarray | None, reduce: str | None):
        self.names, self.rows, self.pos, self.reduce = names, rows, positions, reduce
        self.order = np.argsort(rows, kind="stable")
        self.sorted_rows = rows[self.order]
        self.out: dict[str, np.ndarray] = {}
        self.count = 0

    def add(self, batch: np.ndarray, cache: dict) -> None:
        import torch

        if self.reduce == "mean":
            for n in self.names:
                s = cache[n].double().sum(0).cpu().numpy()
                self.out[n] = s if n not in self.out else self.out[n] + s
            self.count += batch.size
            return
        lo, hi = np.searchsorted(self.sorted_rows, [batch[0], batch[-1] + 1])
        sel = self.order[lo:hi]  # output rows served by this batch
        local = torch.from_numpy(np.searchsorted(batch, self.rows[sel]))
        pos = None if self.pos is None else torch.from_numpy(self.pos[sel])
        for n in self.names:
            act = cache[n]
            if pos is not None and act.dim() != 3:
                raise ValueError(f"activation {n!r} has shape {tuple(act.shape)}; one position per row needs (B, L, d)")
            val = act[local.to(act.device)] if pos is None else act[local.to(act.device), pos.to(act.device)]
            v = val.float().cpu().numpy()
            if n not in self.out:
                self.out[n] = np.empty((self.rows.size,) + v.shape[1:], dtype=np.float32)
            self.out[n][sel] = v

    def result(self) -> dict:
        if self.reduce == "mean":
            return {n: v / self.count for n, v in self.out.items()}
        return self.out
