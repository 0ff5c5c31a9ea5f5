"""The probe's dataset: every input prefix, its weight, its beliefs, the model's activations.

One row per distinct allowed prefix ``u`` (length ``1..context``, or only ``context``):

- ``weights[u]``: ``"probability"`` -- ``Pr(u)`` (Riechers et al. 2025: every allowed
  prefix of length 1..L weighted by its probability; each length carries total weight 1);
  ``"uniform"`` -- the number of allowed length-``context`` words that extend ``u`` (Shai
  et al. 2024: all inputs at all positions, unweighted; a prefix shared by ``c`` inputs is
  one row of weight ``c``, which is the same least-squares problem as ``c`` duplicated
  rows); with ``n_samples``, the count of sampled sequences extending ``u`` (empirical).
- ``beliefs[rep][u]``: the belief after ``u`` in each requested representation:
  ``"native"`` -- the generator's own GHMM coordinates (probability vector of an HMM,
  Gell-Mann coordinates of a density matrix); ``"minimal"`` -- the coordinates of
  :func:`generators.minimize` (canonical, ``tau = e0``), with the constant first coordinate
  (always 1) dropped; or any :class:`generators.Generator` of the same process.
- ``next_probs[u]``: ``Pr(x | u)`` (V,).
- ``activations[name][u]``: the model's activation at the position that has just read
  the last symbol of ``u`` (position ``len(u) - 1``, or ``len(u)`` with a BOS token).
  Causality makes that the same for every extension of ``u``, so the model runs once on
  each allowed length-``context`` word, batched, under ``torch.no_grad()``.

Rows are grouped by prefix length, lexicographic within a length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from generators.words import allowed_words

__all__ = ["ProbeDataset", "build_probe_dataset", "probe_model", "compare_representations",
           "default_probe_points", "auto_markov_order"]

#: largest number of length-``context`` words enumerated by default
MAX_WORDS = 1 << 20


@dataclass
class ProbeDataset:
    """Probe inputs for one generator (and optionally one model); see the module doc.

    Attributes
    ----------
    prefixes : int64 (N, context), ``-1`` padded
    lengths : int64 (N,)
    weights : float64 (N,), normalized to sum 1
    beliefs : dict representation -> float64 (N, k_rep)
    next_probs : float64 (N, V)
    activations : dict name -> float32 (N, d) (empty without a model)
    untrained : dict name -> float32 (N, d), or None
    markov_beliefs : float64 (N, m) or None; ``markov_order`` its k
    meta : dict
    """

    prefixes: np.ndarray
    lengths: np.ndarray
    weights: np.ndarray
    beliefs: dict
    next_probs: np.ndarray
    activations: dict = field(default_factory=dict)
    untrained: dict | None = None
    markov_beliefs: np.ndarray | None = None
    markov_order: int | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def probe(self, representation: str | None = None, *, names: Sequence[str] | None = None,
              positions: str | Sequence[int] | None = None, **kwargs):
        """Run :func:`nets.probe.probe` on this dataset.

        Parameters
        ----------
        representation : key of :attr:`beliefs` (default: the first one)
        names : activation points to probe (default: all collected)
        positions : ``"all"``, ``"last"`` or prefix lengths, to probe a subset of the rows
        **kwargs : passed to :func:`nets.probe.probe` (``rank``, ``folds``, ``headline``, ...)
        """
        from .probe import probe

        if not self.activations:
            raise ValueError("this dataset has no activations; build it with a model")
        rep = representation or next(iter(self.beliefs))
        if rep not in self.beliefs:
            raise ValueError(f"unknown representation {rep!r}; this dataset has {list(self.beliefs)}")
        names = list(self.activations) if names is None else list(names)
        bad = [n for n in names if n not in self.activations]
        if bad:
            raise ValueError(f"unknown activation names {bad}; collected: {list(self.activations)}")
        rows = self._rows(positions)
        unt = None if self.untrained is None else {n: self.untrained[n][rows] for n in names}
        meta = {**self.meta, "representation": rep, "positions": _positions_label(positions, self.meta)}
        meta.update(kwargs.pop("meta", {}) or {})
        return probe({n: self.activations[n][rows] for n in names}, self.beliefs[rep][rows], self.weights[rows],
                     untrained=unt, markov_beliefs=None if self.markov_beliefs is None else self.markov_beliefs[rows],
                     markov_order=self.markov_order, next_probs=self.next_probs[rows], meta=meta,
                     **{"shuffle_groups": self.lengths[rows], **kwargs})

    def _rows(self, positions) -> np.ndarray:
        if positions is None or positions == "all":
            return np.arange(len(self))
        if positions == "last":
            want = [int(self.lengths.max())]
        else:
            want = [int(t) for t in np.atleast_1d(positions)]
        rows = np.nonzero(np.isin(self.lengths, want))[0]
        if rows.size == 0:
            raise ValueError(f"no rows with prefix lengths {want}; available {sorted(set(self.lengths.tolist()))}")
        return rows


def build_probe_dataset(generator: Any, model: Any = None, *, context: int | None = None,
                        representations: str | Sequence[Any] = ("minimal",), positions: str | Sequence[int] = "all",
                        weighting: str = "probability", n_samples: int | None = None,
                        names: str | Sequence[str] | None = None, bos: Any = "auto", untrained: Any = "auto",
                        markov_order: int | str | None = "auto", batch_size: int = 2048, seed: int = 0,
                        max_words: int = MAX_WORDS, progress: bool = False) -> ProbeDataset:
    """Build the probe dataset of ``generator`` and (optionally) ``model``.

    Parameters
    ----------
    generator : generators.Generator (or a library spec string)
    model : nets.models.ActivationModel, optional
        Any module with ``run_with_cache(tokens, names)``, ``config``, ``vocab_size``,
        ``n_ctx`` and ``activation_names()``.
    context : int, optional
        Longest prefix length; default the model's ``n_ctx`` (minus 1 with BOS), required
        without a model.
    representations : "native", "minimal", a Generator, or a sequence of those
    positions : "all" (prefix lengths 1..context), "last" (only ``context``), or lengths
    weighting : "probability" or "uniform" (see the module doc); ignored with ``n_samples``
    n_samples : int, optional
        Sample this many length-``context`` sequences (seeded) instead of enumerating all
        allowed words; weights become empirical counts.  For large alphabets.
    names : activation names or patterns; default :func:`default_probe_points`
    bos : "auto", None or an int token id
        ``"auto"``: token ``V`` when ``model.vocab_size == V + 1``, none when it equals ``V``.
    untrained : "auto", None, a model, or a zero-argument callable returning one
        Baseline network of the same architecture; ``"auto"`` builds one with
        ``nets.models.build_model(model.config)`` under ``torch.manual_seed(seed + 1)`` (the
        global RNG state is restored afterwards).
    markov_order : "auto", None or int
        Order k of the Markov-approximation baseline; ``"auto"`` is the largest
        k < context whose number of states (allowed length-k words) is at most the width
        of the widest single probe point (e.g. 3 for V = 3 or 4 and width 64).
    batch_size : int
        Sequences per forward pass.
    seed : int
    max_words : int
        Refuse exact enumeration of more allowed words than this (use ``n_samples``).
    progress : bool
        tqdm bar over forward passes.

    Returns
    -------
    ProbeDataset
    """
    from generators import Generator, markov_approximation, minimize

    from .data import resolve_process

    g = resolve_process(generator)
    if not isinstance(g, Generator):  # pragma: no cover - resolve_process guarantees it
        raise ValueError("generator must be a generators.Generator")
    V = g.alphabet_size
    bos_token = None
    if model is not None:
        bos_token = _resolve_bos(model, V, bos)
        max_ctx = int(model.n_ctx) - (bos_token is not None)
        if context is None:
            context = max_ctx
        elif context > max_ctx:
            raise ValueError(f"context {context} exceeds what the model can read ({max_ctx} symbols"
                             f"{' after BOS' if bos_token is not None else ''})")
    if context is None or int(context) != context or context < 1:
        raise ValueError(f"context must be a positive integer (required without a model); got {context!r}")
    context = int(context)
    lengths_wanted = _lengths(positions, context)
    if weighting not in ("probability", "uniform"):
        raise ValueError(f"weighting must be 'probability' or 'uniform'; got {weighting!r}")

    # ---- words and prefix rows
    if n_samples is not None:
        W, omega = _sampled_words(g, context, int(n_samples), seed)
        weighting_used = "empirical"
    else:
        W, probs = allowed_words(g, context, max_words=max_words)
        omega = probs if weighting == "probability" else np.ones(W.shape[0])
        weighting_used = weighting
    rep_row, lengths, weights = _prefix_rows(W, omega, lengths_wanted)
    N = rep_row.size
    prefixes = np.full((N, context), -1, dtype=np.int64)
    for t in lengths_wanted:
        sel = lengths == t
        prefixes[sel, :t] = W[rep_row[sel], :t]

    # ---- beliefs and next-symbol distributions
    reps = [representations] if isinstance(representations, (str, Generator)) else list(representations)
    beliefs: dict[str, np.ndarray] = {}
    for r in reps:
        if isinstance(r, Generator):
            if r.alphabet_size != V:
                raise ValueError(f"representation generator has {r.alphabet_size} symbols; the process has {V}")
            key, h, drop_first = f"custom:{r.name or type(r).__name__}", r.to_ghmm(), False
        elif r == "native":
            key, h, drop_first = "native", g.to_ghmm(), False
        elif r == "minimal":
            h = minimize(g)
            key, drop_first = "minimal", bool(np.allclose(h.tau, np.eye(h.dim)[0]))
        else:
            raise ValueError(f"unknown representation {r!r}; use 'native', 'minimal' or a Generator")
        b = _final_beliefs(h, prefixes, lengths)
        beliefs[key] = b[:, 1:] if drop_first else b
    native = g.to_ghmm()
    eta = _final_beliefs(native, prefixes, lengths)
    nxt = np.clip(eta @ native.symbol_vectors.T, 0.0, None)
    nxt /= nxt.sum(axis=1, keepdims=True)

    meta = {"process": g.name or type(g).__name__, "alphabet_size": V, "context": context,
            "weighting": weighting_used, "n_rows": int(N), "n_words": int(W.shape[0]),
            "prefix_lengths": lengths_wanted, "belief_dims": {k: int(v.shape[1]) for k, v in beliefs.items()},
            "minimal_dim": int(minimize(g).dim)}
    ds = ProbeDataset(prefixes=prefixes, lengths=lengths, weights=weights, beliefs=beliefs, next_probs=nxt, meta=meta)

    # ---- activations
    if model is not None:
        pts = default_probe_points(model) if names is None else _resolve_names(model, names)
        ds.activations = _collect(model, W, rep_row, lengths, pts, bos_token, batch_size, progress)
        meta.update({"model_kind": getattr(getattr(model, "config", None), "kind", type(model).__name__),
                     "points": pts, "bos": bos_token})
        um = _untrained_model(model, untrained, seed)
        if um is not None:
            ds.untrained = _collect(um, W, rep_row, lengths, pts, bos_token, batch_size, progress)
        width = max(a.shape[1] for a in ds.activations.values())
    else:
        width = None
    # ---- Markov-k baseline beliefs
    if markov_order is not None:
        if markov_order == "auto":
            if width is None:
                raise ValueError("markov_order='auto' needs a model (for its width); give an int or None")
            k = auto_markov_order(g, width, max_order=context - 1)
        else:
            k = int(markov_order)
        if k >= 1:
            mk = markov_approximation(g, k).to_ghmm()
            ds.markov_beliefs = _final_beliefs(mk, prefixes, lengths)
            ds.markov_order = k
            meta["markov_states"] = int(mk.dim)
    return ds


def probe_model(model: Any, generator: Any, *, representation: Any = "minimal", positions: str | Sequence[int] = "all",
                dataset_kwargs: Mapping[str, Any] | None = None, **probe_kwargs):
    """Build the dataset (:func:`build_probe_dataset`) and probe it: one call from a model
    and a generator to a :class:`nets.probe.ProbeResult`.

    ``dataset_kwargs`` go to :func:`build_probe_dataset` (``context``, ``weighting``,
    ``untrained``, ``markov_order``, ``names``, ...); the rest to
    :func:`nets.probe.probe`.  The result keeps the dataset's prefix lengths in
    ``meta["positions"]``.
    """
    kw = dict(dataset_kwargs or {})
    ds = build_probe_dataset(generator, model, representations=[representation], positions=positions, **kw)
    return ds.probe(**probe_kwargs)


def compare_representations(model: Any, generator: Any, representations: Sequence[Any] = ("native", "minimal"), *,
                            dataset: ProbeDataset | None = None, dataset_kwargs: Mapping[str, Any] | None = None,
                            **probe_kwargs) -> dict:
    """Probe the same activations onto several representations of the same process.

    Returns
    -------
    dict with ``results`` (representation -> ProbeResult) and ``dims`` (representation ->
    ``{"coordinates", "affine_dim"}``), plus ``activation_pca95`` of the headline point:
    the net's effective dimension beside each representation's belief dimension (the nets
    of Riechers et al. 2025 use the minimal one).
    """
    ds = dataset or build_probe_dataset(generator, model, representations=list(representations),
                                        **dict(dataset_kwargs or {}))
    results = {k: ds.probe(k, **probe_kwargs) for k in ds.beliefs}
    dims = {k: {"coordinates": r.meta["belief_coordinates"], "affine_dim": r.geometry["belief_affine_dim"],
                "r2": r.points[r.headline].r2, "rmse": r.points[r.headline].rmse, "verdict": r.verdict}
            for k, r in results.items()}
    first = next(iter(results.values()))
    return {"results": results, "dims": dims, "activation_pca95": first.geometry["activation_pca95"]}


def default_probe_points(model: Any) -> list[str]:
    """Residual-stream points of a transformer (``embed``, every ``blocks.i.resid_post``,
    ``ln_final``) or every ``layers.i.hidden`` of an RNN; otherwise every non-attention
    activation name."""
    names = list(model.activation_names())
    res = [n for n in names if n == "embed" or n.endswith(".resid_post") or n == "ln_final"]
    if any(n.endswith(".resid_post") for n in res):
        return res
    hid = [n for n in names if n.startswith("layers.") and n.endswith(".hidden")]
    if hid:
        return hid
    return [n for n in names if not n.endswith("attn.pattern")]


def auto_markov_order(g: Any, width: int, max_order: int = 8) -> int:
    """Largest ``k <= max_order`` whose order-k Markov approximation has at most ``width``
    states (allowed length-k words); at least 1."""
    from generators import markov_approximation

    k = 1
    while k + 1 <= max_order and g.alphabet_size ** (k + 2) <= 5_000_000:
        if markov_approximation(g, k + 1).dim > width:
            break
        k += 1
    return k


# ---------------------------------------------------------------------- private helpers
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


def _positions_label(positions: Any, meta: Mapping) -> Any:
    if positions is None:
        ls = meta.get("prefix_lengths", [])
        return "all" if ls and ls == list(range(1, meta.get("context", 0) + 1)) else ls
    return positions if isinstance(positions, str) else [int(t) for t in np.atleast_1d(positions)]


def _sampled_words(g: Any, context: int, n: int, seed: int):
    if n < 1:
        raise ValueError(f"n_samples must be positive; got {n}")
    w = g.sample(n, context, seed=seed)
    W, counts = np.unique(np.asarray(w, dtype=np.int64), axis=0, return_counts=True)
    return W, counts.astype(np.float64)


def _prefix_rows(W: np.ndarray, omega: np.ndarray, lengths: list[int]):
    """Rows of distinct prefixes of the lexicographically sorted words ``W``: the index of
    a representative word, the prefix length, and the summed word weight."""
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


def _final_beliefs(h: Any, prefixes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Belief after each (padded) prefix, in the coordinates of GHMM ``h``: (N, h.dim)."""
    out = np.empty((prefixes.shape[0], h.dim))
    for t in np.unique(lengths):
        sel = np.nonzero(lengths == t)[0]
        eta, _ = h.forward(prefixes[sel, :t], keep_beliefs=False)
        out[sel] = eta
    return out


def _resolve_bos(model: Any, V: int, bos: Any) -> int | None:
    vocab = int(getattr(model, "vocab_size", getattr(getattr(model, "config", None), "vocab_size", -1)))
    if bos == "auto":
        if vocab == V:
            return None
        if vocab == V + 1:
            return V
        raise ValueError(f"the model's vocabulary has {vocab} tokens but the generator has {V} symbols "
                         f"(expected {V}, or {V + 1} with a BOS token): the model was not trained on this process")
    if bos is None:
        if vocab < V:
            raise ValueError(f"the model's vocabulary has {vocab} tokens; the generator needs {V}")
        return None
    b = int(bos)
    if not 0 <= b < vocab or b < V:
        raise ValueError(f"bos token {b} must be a model token outside the alphabet 0..{V - 1} (vocab {vocab})")
    return b


def _resolve_names(model: Any, names: Any) -> list[str]:
    valid = list(model.activation_names())
    if hasattr(model, "resolve_names"):
        want = model.resolve_names(names)  # raises ValueError on unknown names
    else:
        want = {names} if isinstance(names, str) else set(names)
        bad = sorted(set(want) - set(valid))
        if bad:
            raise ValueError(f"unknown activation names {bad}; valid names: {', '.join(valid)}")
    pats = [n for n in valid if n in want and n.endswith("attn.pattern")]
    if pats:
        raise ValueError(f"attention patterns {pats} are not per-position vectors; probe residual/hidden points "
                         "(use nets.attention for patterns)")
    return [n for n in valid if n in want]


def _collect(model: Any, W: np.ndarray, rep_row: np.ndarray, lengths: np.ndarray, names: list[str],
             bos: int | None, batch_size: int, progress: bool) -> dict[str, np.ndarray]:
    """Activations (float32) of every row: the model reads each word once (batched)."""
    import torch

    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    M, L = W.shape
    pos = lengths - 1 + (bos is not None)
    order = np.argsort(rep_row, kind="stable")
    sorted_rows = rep_row[order]
    out: dict[str, np.ndarray] = {}
    starts = range(0, M, int(batch_size))
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="activations", unit="batch")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            for a in starts:
                b = min(a + int(batch_size), M)
                lo, hi = np.searchsorted(sorted_rows, [a, b])
                if lo == hi:
                    continue
                tok = W[a:b]
                if bos is not None:
                    tok = np.concatenate([np.full((b - a, 1), bos, dtype=np.int64), tok], axis=1)
                _, cache = model.run_with_cache(torch.from_numpy(tok).to(device), names=names)
                rows = order[lo:hi]
                r_local = torch.from_numpy(rep_row[rows] - a).to(device)
                p_local = torch.from_numpy(pos[rows]).to(device)
                for n in names:
                    act = cache[n]
                    if act.dim() != 3:
                        raise ValueError(f"activation {n!r} has shape {tuple(act.shape)}; expected (B, L, d)")
                    if n not in out:
                        out[n] = np.empty((rep_row.size, act.shape[-1]), dtype=np.float32)
                    out[n][rows] = act[r_local, p_local].float().cpu().numpy()
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    return out


def _untrained_model(model: Any, untrained: Any, seed: int):
    import torch

    if untrained is None or untrained is False:
        return None
    if untrained == "auto":
        from .models import build_model

        cfg = getattr(model, "config", None)
        if cfg is None:
            raise ValueError("untrained='auto' needs model.config; pass an untrained model or a factory")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            m = build_model(cfg)
    elif isinstance(untrained, torch.nn.Module):
        m = untrained
    elif callable(untrained):
        m = untrained()
    else:
        raise ValueError(f"untrained must be 'auto', None, a model or a factory; got {type(untrained).__name__}")
    try:
        dev = next(model.parameters()).device
        m = m.to(dev)
    except (AttributeError, StopIteration):
        pass
    return m
