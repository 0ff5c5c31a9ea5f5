"""Building a :class:`~nets.probe.ProbeDataset`: from a model (every allowed word, or
sampled ones) or from token sequences and activations saved by any tool.

Alignment of beliefs with model positions (no off-by-one): a model reads tokens
``t_0 .. t_{L-1}`` and position ``j`` has seen tokens ``0..j``.

- With a BOS token (``tokens[:, 0] == bos``) position ``0`` has seen no symbol, and
  position ``j`` has seen the ``j`` symbols ``t_1 .. t_j``: the prefix of length ``j``.
- Without one, position ``j`` has seen ``j + 1`` symbols: the prefix of length ``j + 1``.

So the row of a prefix ``u`` of length ``t`` (``1 <= t <= context``) takes the activation
at position ``t - 1``, or ``t`` with BOS.  Causality makes that the same for every
sequence that starts with ``u``: rows are *distinct prefixes*, each weighted by the
summed weight of the sequences that start with it (a repeated prefix is one weighted row,
the same least-squares problem as repeated rows, and the held-out split can never see a
prefix on both sides).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from generators import Generator, markov_approximation
from generators.representations import minimal_form, representation
from generators.validation import check_int, check_weights
from generators.words import allowed_words

from ..activations import collect
from ..adapters import ActivationSource, as_source, resolve_bos

__all__ = ["build_probe_dataset", "dataset_from_sequences", "default_probe_points", "auto_markov_order", "MAX_WORDS"]

#: largest number of length-``context`` words enumerated by default
MAX_WORDS = 1 << 20


def build_probe_dataset(generator: Any, model: Any = None, *, context: int | None = None,
                        representations: str | Sequence[Any] = ("minimal",), positions: str | Sequence[int] = "all",
                        weighting: str = "probability", n_samples: int | None = None,
                        names: str | Sequence[str] | None = None, bos: Any = "auto", untrained: Any = "auto",
                        markov_order: int | str | None = "auto", batch_size: int = 2048, seed: int = 0,
                        max_words: int = MAX_WORDS, progress: bool = False):
    """The probe dataset of ``generator`` and (optionally) ``model``; see :class:`ProbeDataset`.

    Parameters
    ----------
    generator : generators.Generator (or a library spec string)
    model : a qbelief model, a TransformerLens model or an
        :class:`nets.adapters.ActivationSource` (e.g. a torch module in a ``ModuleSource``)
    context : longest prefix length; default the model's ``n_ctx`` (minus 1 with BOS),
        required without a model
    representations : "native", "minimal", a Generator, or a sequence of those
    positions : "all" (prefix lengths 1..context), "last" (only ``context``), or lengths
    weighting : "probability" or "uniform" (see :class:`ProbeDataset`); ignored with ``n_samples``
    n_samples : sample this many length-``context`` sequences (seeded) instead of
        enumerating all allowed words; weights become empirical counts (large alphabets)
    names : activation names or patterns; default the model's probe points
        (:func:`default_probe_points`)
    bos : "auto", None or an int token id (:func:`nets.adapters.resolve_bos`)
    untrained : "auto", None, a model, or a zero-argument callable returning one --
        the baseline network of the same architecture; ``"auto"`` builds the model's
        untrained twin (seeded ``seed + 1``, the global RNG state restored)
    markov_order : "auto", None or int -- order k of the Markov-approximation baseline;
        ``"auto"``: the largest k < context whose number of states is at most the width
        of the widest single probe point (:func:`auto_markov_order`)
    batch_size : sequences per forward pass;  seed : int
    max_words : refuse exact enumeration of more allowed words than this
    progress : tqdm bar over forward passes

    Returns
    -------
    ProbeDataset
    """
    g = _process(generator)
    src = None if model is None else as_source(model)
    bos_token = None if src is None else resolve_bos(src.vocab_size, g.alphabet_size, bos)
    context = _context(src, bos_token, context)
    lengths_wanted = _lengths(positions, context)
    if weighting not in ("probability", "uniform"):
        raise ValueError(f"weighting must be 'probability' or 'uniform'; got {weighting!r}")
    if n_samples is not None:
        W, omega = _sampled_words(g, context, n_samples, seed)
        weighting = "empirical"
    else:
        W, probs = allowed_words(g, context, max_words=max_words)
        omega = probs if weighting == "probability" else np.ones(W.shape[0])
    ds, rep_row = _prefix_dataset(g, W, omega, lengths_wanted, representations, weighting)
    if src is not None:
        pts = src.default_points() if names is None else _probe_names(src, names)
        tokens = W if bos_token is None else np.concatenate([np.full((W.shape[0], 1), bos_token), W], axis=1)
        pos = ds.lengths - 1 + (bos_token is not None)
        kw = dict(rows=rep_row, positions=pos, batch_size=batch_size, progress=progress)
        ds.activations = dict(collect(src, tokens, pts, **kw))
        twin = _untrained_source(src, untrained, seed + 1)
        ds.untrained = None if twin is None else dict(collect(twin, tokens, pts, **kw))
        ds.meta.update({"model_kind": src.kind, "points": list(ds.activations), "bos": bos_token})
    _add_markov(ds, g, markov_order, context)
    return ds


def dataset_from_sequences(generator: Any, tokens: Any, activations: Mapping[str, Any], *, bos: int | None = None,
                           weights: Any = None, untrained: Mapping[str, Any] | None = None,
                           representations: str | Sequence[Any] = ("minimal",),
                           positions: str | Sequence[int] = "all", markov_order: int | str | None = "auto"):
    """A :class:`ProbeDataset` from token sequences and their activations (module doc).

    Parameters
    ----------
    generator : the process that produced the sequences (Generator or spec)
    tokens : int (N, L) -- ``L`` symbols, or BOS followed by ``L - 1`` symbols
    activations : name -> (N, L, d) -- the activation at every position (any tool's
        output; a :class:`nets.activations.ActivationCache` works)
    bos : None or the BOS token id; with a BOS every ``tokens[:, 0]`` must equal it
    weights : (N,), optional -- per-sequence weights (default 1 each: sampled sequences);
        a prefix's weight is the sum over the sequences that start with it
    untrained : name -> (N, L, d), optional -- an untrained twin's activations (control)
    representations, positions, markov_order : as in :func:`build_probe_dataset`

    Returns
    -------
    ProbeDataset; cost ``O(N L log N)`` to merge prefixes, plus the beliefs.
    """
    g = _process(generator)
    tok = np.asarray(tokens)
    if tok.dtype.kind not in "iu" or tok.ndim != 2 or tok.shape[1] < 1 + (bos is not None):
        raise ValueError(f"tokens must be an integer array (N, L); got dtype {tok.dtype}, shape {tok.shape}")
    if bos is not None and np.any(tok[:, 0] != bos):
        raise ValueError(f"with bos={bos} every sequence must start with it; tokens[:, 0] has "
                         f"{sorted(set(tok[:, 0].tolist()))[:5]}")
    S = tok[:, 1:] if bos is not None else tok
    V = g.alphabet_size
    if S.min() < 0 or S.max() >= V:
        raise ValueError(f"symbol ids must lie in 0..{V - 1} (the process's alphabet); got {S.min()}..{S.max()}")
    W, first, inv = np.unique(S, axis=0, return_index=True, return_inverse=True)
    omega = np.bincount(inv.reshape(-1), weights=check_weights(weights, tok.shape[0]), minlength=W.shape[0])
    ds, rep_row = _prefix_dataset(g, W, omega, _lengths(positions, S.shape[1]), representations,
                                  "given" if weights is not None else "empirical")
    seq, pos = first[rep_row], ds.lengths - 1 + (bos is not None)
    ds.activations = _gather(activations, tok.shape, seq, pos, "activations")
    ds.untrained = None if untrained is None else _gather(untrained, tok.shape, seq, pos, "untrained")
    ds.meta.update({"model_kind": "sequences", "points": list(ds.activations), "bos": bos,
                    "n_sequences": int(tok.shape[0])})
    _add_markov(ds, g, markov_order, S.shape[1])
    return ds


def default_probe_points(model: Any) -> list[str]:
    """The points probed by default: a qbelief transformer's ``embed``, every
    ``blocks.i.resid_post`` and ``ln_final``; an RNN's ``layers.i.hidden``; a
    TransformerLens model's ``blocks.*.hook_resid_post`` (:mod:`nets.adapters`)."""
    return as_source(model).default_points()


def auto_markov_order(g: Any, width: int, max_order: int = 8) -> int:
    """Largest ``k <= max_order`` whose order-k Markov approximation has at most ``width``
    states (allowed length-k words); at least 1."""
    k = 1
    while k + 1 <= max_order and g.alphabet_size ** (k + 2) <= 5_000_000:
        if markov_approximation(g, k + 1).dim > width:
            break
        k += 1
    return k


# ---------------------------------------------------------------------- private helpers
def _process(generator: Any):
    from ..data import resolve_process

    return resolve_process(generator)


def _context(src: ActivationSource | None, bos_token: int | None, context: Any) -> int:
    if src is not None and src.n_ctx is not None:
        max_ctx = int(src.n_ctx) - (bos_token is not None)
        if context is None:
            context = max_ctx
        elif context > max_ctx:
            raise ValueError(f"context {context} exceeds what the model can read ({max_ctx} symbols"
                             f"{' after BOS' if bos_token is not None else ''})")
    if context is None or isinstance(context, bool) or int(context) != context or context < 1:
        raise ValueError(f"context must be a positive integer (required without a model); got {context!r}")
    return int(context)


def _lengths(positions: Any, context: int) -> list[int]:
    if isinstance(positions, str):
        if positions == "all":
            return list(range(1, context + 1))
        if positions == "last":
            return [context]
        raise ValueError(f"positions must be 'all', 'last' or a list of prefix lengths; got {positions!r}")
    out = sorted({int(t) for t in np.atleast_1d(positions)})
    if not out or out[0] < 1 or out[-1] > context:
        raise ValueError(f"prefix lengths must lie in 1..{context}; got {positions!r}")
    return out


def _sampled_words(g: Any, context: int, n: Any, seed: int):
    w = g.sample(check_int(n, "n_samples", minimum=1), context, seed=seed)
    W, counts = np.unique(np.asarray(w, dtype=np.int64), axis=0, return_counts=True)
    return W, counts.astype(np.float64)


def _prefix_rows(W: np.ndarray, omega: np.ndarray, lengths: list[int]):
    """Rows of distinct prefixes of the lexicographically sorted words ``W``: the index of
    a representative word, the prefix length, and the summed word weight (normalized)."""
    M = W.shape[0]
    reps, lens, wts = [], [], []
    for t in lengths:
        if M > 1:
            new = np.any(W[1:, :t] != W[:-1, :t], axis=1)
            starts = np.concatenate([[0], 1 + np.nonzero(new)[0]])
        else:
            starts = np.zeros(1, dtype=np.int64)
        reps.append(starts)
        lens.append(np.full(starts.size, t, dtype=np.int64))
        wts.append(np.add.reduceat(omega, starts))
    w = np.concatenate(wts)
    return np.concatenate(reps).astype(np.int64), np.concatenate(lens), w / w.sum()


def _prefix_dataset(g: Any, W: np.ndarray, omega: np.ndarray, lengths_wanted: list[int], representations: Any,
                    weighting: str):
    """The dataset's rows (prefixes, weights, beliefs, next-symbol distributions) from the
    sorted words ``W`` with weights ``omega``, and each row's representative word."""
    from .dataset import ProbeDataset

    rep_row, lengths, weights = _prefix_rows(W, omega, lengths_wanted)
    context = W.shape[1]
    prefixes = np.full((rep_row.size, context), -1, dtype=np.int64)
    for t in lengths_wanted:
        sel = lengths == t
        prefixes[sel, :t] = W[rep_row[sel], :t]
    beliefs = {key: rep.coordinates(_final_beliefs(rep, prefixes, lengths))
               for key, rep in _representations(g, representations).items()}
    native = _representations(g, "native")["native"]
    nxt = np.clip(_final_beliefs(native, prefixes, lengths) @ native.ghmm.symbol_vectors.T, 0.0, None)
    nxt /= nxt.sum(axis=1, keepdims=True)
    meta = {"process": g.name or type(g).__name__, "alphabet_size": g.alphabet_size, "context": context,
            "weighting": weighting, "n_rows": int(rep_row.size), "n_words": int(W.shape[0]),
            "prefix_lengths": lengths_wanted, "belief_dims": {k: int(v.shape[1]) for k, v in beliefs.items()},
            "minimal_dim": int(minimal_form(g).dim)}
    return ProbeDataset(prefixes=prefixes, lengths=lengths, weights=weights, beliefs=beliefs, next_probs=nxt,
                        meta=meta), rep_row


def _representations(g: Any, specs: Any) -> dict:
    """Belief coordinates by key: ``"native"``, ``"minimal"`` (constant coordinate dropped
    by :class:`generators.representations.Representation`), or ``"custom:<name>"`` for a
    Generator -- the beliefs that generator assigns to the prefixes in its own coordinates
    (it need not be equivalent to the process: a Markov approximation is allowed)."""
    specs = [specs] if isinstance(specs, (str, Generator)) else list(specs)
    out = {}
    for r in specs:
        if isinstance(r, Generator):
            if r.alphabet_size != g.alphabet_size:
                raise ValueError(f"representation generator has {r.alphabet_size} symbols; the process has "
                                 f"{g.alphabet_size}")
            out[f"custom:{r.name or type(r).__name__}"] = representation(r, "native")
        elif r in ("native", "minimal"):
            out[r] = representation(g, r)
        else:
            raise ValueError(f"unknown representation {r!r}; use 'native', 'minimal' or a Generator")
    return out


def _final_beliefs(rep: Any, prefixes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Belief after each (padded) prefix in ``rep``'s GHMM coordinates: (N, rep.ghmm.dim)."""
    out = np.empty((prefixes.shape[0], rep.ghmm.dim))
    for t in np.unique(lengths):  # a loop over prefix lengths only
        sel = np.nonzero(lengths == t)[0]
        out[sel] = rep.final_beliefs(prefixes[sel, :t])
    return out


def _add_markov(ds: Any, g: Any, markov_order: Any, context: int) -> None:
    """Attach the order-k Markov approximation's beliefs (the finite-memory baseline)."""
    if markov_order is None:
        return
    if markov_order == "auto":
        if not ds.activations:
            raise ValueError("markov_order='auto' needs activations (for their width); give an int or None")
        k = auto_markov_order(g, max(a.shape[1] for a in ds.activations.values()), max_order=context - 1)
    else:
        k = int(markov_order)
    if k >= 1:
        mk = representation(markov_approximation(g, k), "native")
        ds.markov_beliefs = _final_beliefs(mk, ds.prefixes, ds.lengths)
        ds.markov_order = k
        ds.meta["markov_states"] = int(mk.ghmm.dim)


def _probe_names(src: ActivationSource, names: Any) -> Any:
    """``names`` after checking that they exist and are per-position vectors."""
    pats = [n for n in src.resolve(names) if n.endswith(("attn.pattern", "attn.hook_pattern"))]
    if pats:
        raise ValueError(f"attention patterns {pats} are not per-position vectors; probe residual/hidden points "
                         "(use nets.attention for patterns)")
    return names


def _untrained_source(src: ActivationSource, untrained: Any, seed: int) -> ActivationSource | None:
    """The untrained-network control's source: none, ``src``'s seeded twin (``"auto"``),
    or a given model / factory (a plain module gets ``src``'s points)."""
    import torch

    if untrained is None or untrained is False:
        return None
    if isinstance(untrained, str):
        if untrained != "auto":
            raise ValueError(f"untrained must be 'auto', None, a model or a factory; got {untrained!r}")
        return src.untrained(seed)
    m = untrained
    if not isinstance(m, (torch.nn.Module, ActivationSource)):
        if not callable(m):
            raise ValueError(f"untrained must be 'auto', None, a model or a factory; got {type(m).__name__}")
        m = m()
    points = getattr(src, "points", None)
    twin = as_source(m, points, vocab_size=src.vocab_size, n_ctx=src.n_ctx) \
        if points is not None and not isinstance(m, ActivationSource) else as_source(m)
    twin.module.to(src.device)
    return twin


def _gather(acts: Mapping[str, Any], shape: tuple, seq: np.ndarray, pos: np.ndarray, what: str) -> dict:
    """``acts[name][seq, pos]`` (float32) for arrays (N, L, d) of the tokens' shape."""
    if not isinstance(acts, Mapping) or not acts:
        raise ValueError(f"{what} must be a nonempty mapping name -> array (N, L, d)")
    out = {}
    for n, a in acts.items():
        a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
        if a.ndim != 3 or a.shape[:2] != tuple(shape):
            raise ValueError(f"{what}[{n!r}] must have shape {tuple(shape)} + (d,) like the tokens; got {a.shape}")
        out[str(n)] = np.asarray(a[seq, pos], dtype=np.float32)
    return out
