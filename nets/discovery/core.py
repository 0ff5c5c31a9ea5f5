"""``discover_geometry``: the pipeline (see :mod:`nets.discovery` for the method)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from generators.base import as_rng
from generators.errors import ArgumentError
from generators.nonnegativity import check_nonnegative
from generators.validation import check_int, check_real

from .inputs import DiscoveryData, prepare, split_sequences
from .operators import homogeneous
from .result import DEFAULT_THRESHOLDS, DiscoveryResult
from .scoring import (PROB_FLOOR, filter_residual, paired_difference, sequence_log_loss, unigram_log_loss,
                      update_residual, word_distance)
from .refine import REFINE_STEPS, refine_projection
from .subspace import PredictiveSubspace, fit_subspace
from .subspace import future_length as _future_length

__all__ = ["discover_geometry", "DIM_RULE_SE", "DIM_RULE_GAIN", "WORD_LENGTH"]

#: ``dim="auto"`` keeps the smallest dimension within this many standard errors of the best
DIM_RULE_SE = 2.0
#: ... or whose loss excess over the best is at most this fraction of the best's gain over dim 1
DIM_RULE_GAIN = 0.1
#: words up to this length are compared between the discovered and the learned GHMM
WORD_LENGTH = 5


def discover_geometry(activations: Any, tokens: Any, dim: int | str = "auto", *, point: Any = None,
                      bos: int | None = None, alphabet_size: int | None = None, max_dim: int = 8,
                      future_length: int | str = "auto", holdout: float = 0.25, seed: Any = 0,
                      refine: int = REFINE_STEPS, compare: bool = True,
                      thresholds: dict | None = None) -> DiscoveryResult:
    """Find the belief geometry of a network's activations without knowing the generator.

    Parameters
    ----------
    activations : array (N, L, d), or a mapping name -> (N, L, d) (dict or
        :class:`nets.ActivationCache`); numpy or torch
    tokens : int array (N, L) -- the inputs, aligned as in
        :meth:`nets.probe.ProbeDataset.from_sequences` (:mod:`nets.discovery.inputs`)
    dim : "auto" or int >= 1 -- the GHMM dimension ``n`` (``n - 1`` activation
        coordinates); ``"auto"``: the smallest candidate ``1..max_dim`` whose 2-fold
        cross-validated log loss (training sequences) is within :data:`DIM_RULE_SE`
        standard errors of the best candidate's, or exceeds it by at most
        :data:`DIM_RULE_GAIN` of the best candidate's gain over dimension 1 (extra
        dimensions of a network that represents beliefs slightly nonlinearly buy tiny,
        significant gains)
    point : which activation point of a mapping: None (its only point, or the
        concatenation of all), a name, or a list of names (concatenated)
    bos : the BOS token id, or None (no BOS)
    alphabet_size : V (default ``max + 1`` of the symbols)
    max_dim : largest candidate dimension for ``dim="auto"``
    future_length : "auto" or int -- longest future word in the subspace regression
    holdout : fraction of sequences held out for every reported number (0, 0.5]
    seed : int or numpy Generator -- the split, the folds, :func:`generators.learn_ghmm`
    refine : most self-consistency refinements of the subspace per candidate
        (:mod:`nets.discovery.refine`; 0: the predictive subspace as it is)
    compare : also learn a GHMM from the training tokens alone and compare
    thresholds : overrides of :data:`nets.discovery.DEFAULT_THRESHOLDS` for the verdict

    Returns
    -------
    DiscoveryResult

    Costs: the subspace ``O(M d^2 + d^3)`` (``M = N L``) three times (two folds and the
    final fit), per candidate dimension ``n`` an operator fit ``O(M n^2)`` and a filter
    ``O(M n^2)``; :func:`generators.learn_ghmm` when ``compare``.
    """
    data = prepare(activations, tokens, point=point, bos=bos, alphabet_size=alphabet_size)
    rng = as_rng(seed)
    max_dim = check_int(max_dim, "max_dim", minimum=1)
    refine = check_int(refine, "refine", minimum=0)
    th = _thresholds(thresholds)
    if not isinstance(compare, (bool, np.bool_)):
        raise ArgumentError(f"compare must be True or False; got {compare!r}")
    train_idx, test_idx = split_sequences(data.acts.shape[0], holdout, rng)
    train, test = data.rows(train_idx), data.rows(test_idx)
    l = _future_length(data.V, data.acts.shape[1], future_length)
    if dim == "auto":
        selection, n = _select_dim(train, l, max_dim, refine, rng)
    elif isinstance(dim, str):
        raise ArgumentError(f"dim must be 'auto' or a positive integer; got {dim!r}")
    else:
        selection, n = None, check_int(dim, "dim", minimum=1)
    sub = fit_subspace(train.acts, train.tokens, data.V, l)
    if n - 1 > sub.max_dim:
        raise ArgumentError(f"dim={n} needs {n - 1} activation directions; these activations offer {sub.max_dim}")
    P, g, kept = _candidate(sub.whiten(train.acts), sub, train, n, refine)
    g.name = f"discovered(dim={n}, point={data.point})"
    ev = _evaluate(g, sub.whiten(test.acts) @ P, train, test)
    disc = ev.pop("sequence_losses")
    learned, wd, notes = _compare(train, test, g, disc, ev, rng) if compare else (None, None, [])
    meta = {"n_sequences": int(data.acts.shape[0]), "positions": int(data.acts.shape[1]),
            "width": int(data.acts.shape[2]), "alphabet_size": data.V, "bos": data.bos, "future_length": l,
            "n_train": int(train_idx.size), "n_test": int(test_idx.size), "word_length": WORD_LENGTH,
            "floored": ev.pop("floored"), "refine_steps": kept, "notes": notes}
    return DiscoveryResult(ghmm=g, dim=n, point=data.point, offset=sub.mean, projection=sub.whitening @ P,
                           singular_values=sub.singular_values, selection=selection, losses=ev["losses"],
                           errors=ev["errors"], update_residual=ev["update_residual"],
                           filter_residual=ev["filter_residual"], learned=learned, word_distance=wd,
                           nonnegativity=check_nonnegative(g, max_length=16), thresholds=th, meta=meta)


def _thresholds(thresholds: Any) -> dict:
    th = dict(DEFAULT_THRESHOLDS)
    if thresholds is None:
        return th
    if not isinstance(thresholds, dict):
        raise ArgumentError(f"thresholds must be a dict with keys {sorted(th)}; got {thresholds!r}")
    for k, v in thresholds.items():
        if k not in th:
            raise ArgumentError(f"unknown threshold {k!r}; valid keys: {sorted(th)}")
        th[k] = check_real(v, f"thresholds[{k!r}]", minimum=0.0)
    return th


def _transitions(Z: np.ndarray, tokens: np.ndarray):
    """``(eta (N, L, n), rows eta_t (R, n), symbols x (R,), rows eta_{t+1} (R, n))`` of
    coordinates ``Z`` (N, L, n - 1)."""
    eta = homogeneous(Z)
    n = eta.shape[-1]
    return eta, eta[:, :-1].reshape(-1, n), tokens[:, 1:].ravel(), eta[:, 1:].reshape(-1, n)


def _candidate(U: np.ndarray, sub: PredictiveSubspace, d: DiscoveryData, n: int, refine: int):
    """``(P (r, n - 1), GHMM, refinement steps kept)`` of dimension ``n``: the top ``n - 1``
    predictive directions, refined (:mod:`~nets.discovery.refine`)."""
    return refine_projection(U, d.tokens, d.symbols, d.V, sub.directions[:, : n - 1], d.seen_offset, refine)


def _select_dim(train: DiscoveryData, l: int, max_dim: int, refine: int, rng: np.random.Generator):
    """2-fold cross-validation over the training sequences: per candidate ``n`` the summed
    held-out sequence losses; the smallest ``n`` within :data:`DIM_RULE_SE` SE of the best."""
    N = train.acts.shape[0]
    half = rng.permutation(N)
    folds = (half[: N // 2], half[N // 2:])
    losses = np.zeros((max_dim, N))
    resid = np.zeros((max_dim, 2))
    top = max_dim
    for f, (fit_idx, val_idx) in enumerate((folds, folds[::-1])):
        a, b = train.rows(fit_idx), train.rows(val_idx)
        sub = fit_subspace(a.acts, a.tokens, a.V, l)
        top = min(top, sub.max_dim + 1)
        Ua, Ub = sub.whiten(a.acts), sub.whiten(b.acts)
        for n in range(1, top + 1):
            P, g, _ = _candidate(Ua, sub, a, n, refine)
            losses[n - 1, val_idx] = sequence_log_loss(g, b.symbols)[0]
            resid[n - 1, f] = update_residual(g, *_transitions(Ub @ P, b.tokens)[1:])
    losses = losses[:top]
    best = int(np.argmin(losses.sum(axis=1)))
    slack = DIM_RULE_GAIN * paired_difference(losses[0], losses[best], train.symbols.size)[0]
    rows, chosen = [], None
    for i in range(top):
        diff, se = paired_difference(losses[i], losses[best], train.symbols.size)
        rows.append({"dim": i + 1, "excess": diff, "se": se, "update_residual": float(resid[i].mean())})
        if chosen is None and diff <= max(DIM_RULE_SE * se, slack):
            chosen = i + 1
    rule = (f"smallest dim within {DIM_RULE_SE:g} SE of the best or within {DIM_RULE_GAIN:g} of its gain over "
            "dim 1 (2-fold CV)")
    return {"rule": rule, "candidates": rows}, chosen


def _evaluate(g, Z: np.ndarray, train: DiscoveryData, test: DiscoveryData) -> dict:
    """Held-out losses (nats/symbol), their standard errors, residuals and floored counts;
    ``Z`` (N_test, L, n - 1) the test coordinates."""
    S = test.symbols.size
    per, floored = sequence_log_loss(g, test.symbols, per_symbol=True)
    disc = per.sum(axis=1)
    uni = unigram_log_loss(train.symbols, test.symbols, test.V)
    eta, e0, x, e1 = _transitions(Z, test.tokens)
    p = np.maximum(np.einsum("ri,ri->r", e0, g.symbol_vectors[x]), PROB_FLOOR)
    predicted = test.tokens.shape[1] - 1  # symbols predicted at a position: the last tokens[:, 1:]
    gain, se_gain = paired_difference(uni, disc, S)
    return {"losses": {"discovered": float(disc.sum() / S), "readout": float(-np.log(p).mean()),
                       "filtered": float(per[:, -predicted:].mean()), "unigram": float(uni.sum() / S),
                       "learned": None},
            "errors": {"unigram_minus_discovered": se_gain, "discovered_minus_learned": None},
            "update_residual": update_residual(g, e0, x, e1),
            "filter_residual": filter_residual(g, test.symbols, Z, test.seen_offset),
            "floored": floored, "sequence_losses": disc}


def _compare(train: DiscoveryData, test: DiscoveryData, g, disc: np.ndarray, ev: dict, rng: np.random.Generator):
    """:func:`generators.learn_ghmm` on the training symbols, scored like ``g`` (whose test
    sequence losses are ``disc``); fills ``ev``'s ``learned`` entries and returns
    ``(learned, word distance, warnings)``."""
    from generators import learn_ghmm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learned = learn_ghmm(train.symbols, seed=int(rng.integers(2**31)), alphabet_size=train.V)
    loss, _ = sequence_log_loss(learned, test.symbols)
    diff, se = paired_difference(disc, loss, test.symbols.size)
    ev["losses"]["learned"] = float(loss.sum() / test.symbols.size)
    ev["errors"]["discovered_minus_learned"] = se
    wd, used = word_distance(g, learned, WORD_LENGTH)
    return learned, wd, [f"learn_ghmm: {w.message}" for w in caught] + ([] if used == WORD_LENGTH else
                                                                      [f"words compared up to length {used}"])
