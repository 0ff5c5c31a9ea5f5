"""What the activations represent: the belief, the next token, the next k tokens, and the
part of the belief beyond the next token (:func:`what_is_represented`).

For every activation point the probe (:func:`nets.probe.probe`: probability-weighted
affine fit, closed-form cross-validated rank, held-out rows, shuffled and untrained
controls, the Markov-k baseline) is run onto each *target* (:data:`TARGETS`):

- ``belief`` -- the minimal belief coordinates ``b`` (:mod:`generators.representations`);
- ``next`` -- the next-token distribution ``eta M_1`` (V columns);
- ``next_k`` -- the distribution of the next ``k`` symbols, ``eta M_k`` (``V^k`` columns),
  fitted exactly through the compressed targets ``b U S`` of :mod:`nets.represented.future`
  (same held-out ``R^2``, same rank, same controls; never ``V^k`` columns);
- ``beyond_next`` -- the residual of the belief after the probability-weighted affine
  regression on the next-token distribution (:func:`~nets.represented.future.unexplained`):
  what the belief knows that the next token's distribution does not.  Not probed when
  it carries at most :data:`NOTHING_BEYOND` of the belief's variance (the next token
  determines the belief on these rows).

The Shai et al. 2024 RRXOR experiment (arXiv:2405.15943) is the case in point: the belief
is represented although the next-token distribution takes only a few values, so the
network must carry information beyond the next token.  Here that is measured directly:
the held-out ``R^2`` of ``beyond_next`` against the untrained and shuffled controls.

Intervals: the held-out R^2 of the headline point (``"concat"`` by default) carries a 95%
percentile bootstrap over its held-out rows (:func:`nets.stats.bootstrap_interval`, the
fit fixed: the spread due to which rows are scored) -- cheap, because the probe keeps the
headline's held-out predictions.  The other points get none: the probe does not keep
their predictions, and an interval would cost a refit per point and target.  Rows weighted
by prefix probability make the intervals wide when a few short prefixes carry most weight.

Cost: ``(2 + [untrained]) x points x targets`` affine fits of ``O(N d^2 + folds d^3)``
(plus the Markov-k baseline per target), the horizon ``O(K V n^3)``, and ``n_boot``
resamples of the headline point's held-out rows per target ``O(n_boot N_test k)``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np

from generators.representations import minimal_form
from generators.validation import check_int, check_real

from ..probe import ProbeDataset, build_probe_dataset, probe
from ..probe.decision import verdict
from ..probe.spec import make_spec
from ..stats import bootstrap_interval
from .future import belief_horizon, beliefs_with_constant, compressed_future, future_factor, unexplained
from .result import RepresentedResult

__all__ = ["what_is_represented", "TARGETS", "NOTHING_BEYOND"]

#: target names, in table order (``next_k`` for every horizon k >= 2)
TARGETS = ("belief", "next", "next_k", "beyond_next")
#: the residual beyond the next token is "nothing" when it carries at most this share of
#: the belief's weighted variance (exact linear algebra leaves ~1e-30)
NOTHING_BEYOND = 1e-9


def what_is_represented(source: Any, generator: Any = None, horizons: Sequence[int] = (1, 2, 4, 8), *,
                        context: int | None = None, weighting: str = "probability", untrained: Any = "auto",
                        n_boot: int = 200, rtol: float = 1e-9, dataset_kwargs: Mapping[str, Any] | None = None,
                        **probe_options: Any) -> RepresentedResult:
    """Which targets -- belief, next token, next k tokens, the belief beyond the next
    token -- each activation point holds, with controls and the process's horizon.

    Parameters
    ----------
    source : run directory (str or path), a model (qbelief, TransformerLens, an
        :class:`nets.adapters.ActivationSource` such as a ``ModuleSource``), or a
        :class:`nets.probe.ProbeDataset` (e.g. from :meth:`~nets.probe.ProbeDataset.from_sequences`
        or with synthetic activations)
    generator : the process (Generator or spec); default the run's own for a run
        directory, required otherwise
    horizons : positive ints -- the ``k`` of the ``next_k`` targets (``1`` is ``next``)
    context, weighting, untrained : dataset options (:func:`nets.probe.build_probe_dataset`)
        when ``source`` is a model or a run; ``dataset_kwargs`` more of them
    n_boot : bootstrap resamples of the headline point's held-out rows (0: no intervals)
    rtol : relative singular-value cutoff of the horizon's rank (:func:`belief_horizon`)
    probe_options : :class:`nets.probe.ProbeSpec` fields (``names``, ``positions``,
        ``folds``, ``seed``, ``test_fraction``, ``thresholds``, ...), except
        ``representation``

    Returns
    -------
    RepresentedResult -- a table row per point x target, the horizon, the share of the
    belief beyond the next k tokens, a verdict per point; ``summary()``, ``figure()``,
    ``to_json()``, ``write(folder)``.

    Examples
    --------
    >>> from generators import library
    >>> from nets.probe import build_probe_dataset
    >>> g = library.mess3()
    >>> ds = build_probe_dataset(g, context=4, markov_order=None)
    >>> B = ds.beliefs["minimal"]
    >>> ds.activations = {"layer": np.c_[B @ [[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]], np.zeros(len(B))]}
    >>> r = what_is_represented(ds, g, horizons=(1, 2), n_boot=0)
    >>> r.horizon, round(r.r2("layer", "next_2"), 6), r.beyond[1] < 1e-9
    (1, 1.0, True)
    """
    hz = _check_horizons(horizons)
    n_boot = check_int(n_boot, "n_boot", minimum=0)
    rtol = check_real(rtol, "rtol", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
    if "representation" in probe_options:
        raise ValueError("what_is_represented probes its own targets; drop the representation option")
    ds, g = _dataset(source, generator, context, weighting, untrained, dict(dataset_kwargs or {}))
    h = minimal_form(g)
    if h.dim == 1:
        raise ValueError(f"the belief of {g.name or 'this process'} never changes (minimal dimension 1): "
                         "there is nothing to represent")
    _check_alphabet(ds, g)
    eta = beliefs_with_constant(g, ds.prefixes, ds.lengths)
    _check_same_beliefs(ds, eta)
    spec = make_spec(None, {**probe_options, "representation": "eta"})
    base = replace(ds, beliefs={"eta": eta}).task(spec)
    horizon = belief_horizon(g, max_k=max(max(hz), h.dim), rtol=rtol)
    targets, beyond = _targets(h, base.beliefs, base.weights, hz)
    results = {}
    for name, Y in targets.items():
        if Y is not None:
            results[name] = probe(replace(base, beliefs=Y, meta={**base.meta, "representation": name}), spec)
    intervals = {name: _r2_interval(r, n_boot, spec.seed) for name, r in results.items()} if n_boot >= 2 else {}
    thr = spec.threshold_dict()
    points = list(next(iter(results.values())).points)
    meta = {"process": g.name or type(g).__name__, "alphabet_size": g.alphabet_size, "minimal_dim": h.dim,
            "n_rows": base.n_rows, "context": ds.meta.get("context"), "weighting": ds.meta.get("weighting"),
            "horizons": list(hz), "seed": spec.seed, "folds": spec.folds, "test_fraction": spec.test_fraction,
            "n_boot": n_boot, "model_kind": ds.meta.get("model_kind"), "thresholds": thr}
    return RepresentedResult(
        points=points, headline=next(iter(results.values())).headline, targets=list(targets),
        rows=[_row(p, name, r) for name, r in results.items() for p in points],
        baselines={name: _baselines(r) for name, r in results.items()},
        intervals=intervals, horizon=horizon.horizon, future_ranks=list(horizon.ranks),
        belief_dim=horizon.belief_dim, beyond={int(k): float(v) for k, v in beyond.items()},
        verdicts={p: _point_verdict(p, results, beyond[1], hz, thr) for p in points}, meta=meta)


# ---------------------------------------------------------------------- inputs
def _check_horizons(horizons: Any) -> tuple[int, ...]:
    if isinstance(horizons, (str, bytes)) or not hasattr(horizons, "__iter__"):
        raise ValueError(f"horizons must be a sequence of positive integers such as (1, 2, 4, 8); got {horizons!r}")
    hz = sorted({check_int(k, "horizons", minimum=1) for k in horizons})
    if not hz:
        raise ValueError("horizons must hold at least one positive integer; got none")
    return tuple(hz)


def _dataset(source: Any, generator: Any, context: Any, weighting: str, untrained: Any, kw: dict):
    """The probe dataset of ``source`` and the process (module doc of :func:`what_is_represented`)."""
    from ..data import resolve_process

    if isinstance(source, ProbeDataset):
        if generator is None:
            raise ValueError("a ProbeDataset does not carry its process: pass generator= (a Generator or spec)")
        if context is not None or kw:
            raise ValueError("context and dataset_kwargs build a dataset; this ProbeDataset is already built")
        return source, resolve_process(generator)
    if isinstance(source, (str, os.PathLike)):
        from ..checkpoint import load_model

        model, cfg = load_model(source)
        g = cfg.generator() if generator is None else resolve_process(generator)
        context = cfg.context if context is None else context
        source = model
    elif generator is None:
        raise ValueError("generator= is required for a model (a Generator or a spec such as 'mess3')")
    else:
        g = resolve_process(generator)
    ds = build_probe_dataset(g, source, context=context, representations=["minimal"], weighting=weighting,
                             untrained=untrained, **kw)
    return ds, g


def _check_alphabet(ds: ProbeDataset, g: Any) -> None:
    """A dataset of a process with another alphabet is refused."""
    V = ds.meta.get("alphabet_size")
    if V is not None and V != g.alphabet_size:
        raise ValueError(f"the dataset's process has {V} symbols but generator has {g.alphabet_size}")


def _check_same_beliefs(ds: ProbeDataset, eta: np.ndarray) -> None:
    """A dataset whose minimal beliefs differ from ``eta`` (another process) is refused."""
    mine = ds.beliefs.get("minimal")
    if mine is not None and (mine.shape[1] != eta.shape[1] - 1 or not np.allclose(mine, eta[:, 1:], atol=1e-6)):
        raise ValueError("the dataset's minimal beliefs are not those of generator: pass the process that "
                         "generated the dataset")


# ---------------------------------------------------------------------- targets
def _targets(h: Any, E: np.ndarray, p: np.ndarray, hz: tuple) -> tuple[dict, dict]:
    """Target arrays by name (``beyond_next`` None when nothing lies beyond) and the share
    of the belief variance beyond the next ``k`` symbols for ``k`` in ``{1} | hz``."""
    b = E[:, 1:]
    P = E @ np.einsum("xij,j->ix", h.operators, h.tau)  # next-token distribution (N, V)
    F = future_factor(h.operators, h.tau, max(hz))
    targets: dict[str, Any] = {"belief": b, "next": P}
    future = {1: P}
    for k in hz:
        if k >= 2:
            C, _ = compressed_future(F[k])
            future[k] = targets[f"next_{k}"] = b @ C
    var_b = _wvar(b, p)
    residual = {k: unexplained(b, Z, p) for k, Z in future.items()}
    beyond = {k: _wvar(R, p) / var_b for k, R in residual.items()}
    targets["beyond_next"] = residual[1] if beyond[1] > NOTHING_BEYOND else None
    return targets, beyond


def _wvar(Y: np.ndarray, p: np.ndarray) -> float:
    """Total weighted variance ``sum_i p_i |y_i - ybar|^2`` (``p`` normalized)."""
    return float(p @ ((Y - p @ Y) ** 2).sum(axis=1))


# ---------------------------------------------------------------------- results
def _row(point: str, target: str, r: Any) -> dict:
    pt = r.points[point]
    return {"point": point, "target": target, "r2": pt.r2, "cos_r2": float(pt.test["cos_r2"]), "rank": pt.rank,
            "dim": pt.dim, "shuffled_r2": float(pt.shuffled["r2"]),
            "untrained_r2": None if pt.untrained is None else float(pt.untrained["r2"])}


def _baselines(r: Any) -> dict:
    """The probe's verdict at the headline point and the Markov-k baseline's R^2 there."""
    mk = r.baselines.get("markov")
    return {"verdict": r.verdict, "markov_order": None if not mk else mk["order"],
            "markov_r2": None if not mk else float(mk["r2"])}


def _r2_interval(r: Any, n_boot: int, seed: int) -> dict:
    """Percentile bootstrap (:func:`nets.stats.bootstrap_interval`) of the headline point's
    held-out R^2 over its held-out rows (the fit fixed: the spread from the rows scored)."""
    Y, Yh, w = (np.asarray(r.arrays[k], dtype=float) for k in ("beliefs", "predicted", "weights"))

    def stat(idx: np.ndarray) -> float:
        ww, y = w[idx], Y[idx]
        sst = ww @ ((y - ww @ y / ww.sum()) ** 2).sum(axis=1)
        return 1.0 - ww @ ((y - Yh[idx]) ** 2).sum(axis=1) / sst if sst > 0 else float("nan")

    return bootstrap_interval(stat, w.size, n_boot=n_boot, seed=seed, point=r.points[r.headline].r2).to_dict()


_WORDS = {"represented": "represents the belief beyond the next token",
          "partly": "partly represents the belief beyond the next token",
          "not": "does not represent the belief beyond the next token"}


def _point_verdict(point: str, results: dict, beyond_next: float, hz: tuple, thr: dict) -> str:
    """A plain-language verdict for one point (the probe's thresholds, controls only)."""
    pct = lambda v: "-" if v is None or not np.isfinite(v) else f"{round(100 * v):d}%"  # noqa: E731
    if "beyond_next" not in results:
        text = (f"the next token determines the belief here (nothing beyond it); belief R^2 "
                f"{results['belief'].points[point].r2:.3f}, next-token R^2 {results['next'].points[point].r2:.3f}")
    else:
        pt = results["beyond_next"].points[point]
        ctrl = {"shuffled": float(pt.shuffled["rmse"])}
        if pt.untrained is not None:
            ctrl["untrained"] = float(pt.untrained["rmse"])
        v, _ = verdict(pt.r2, pt.rmse, ctrl, thr)
        unt = "" if pt.untrained is None else f"untrained {pct(pt.untrained['r2'])}, "
        text = (f"{_WORDS[v]}: {pct(pt.r2)} of the residual predicted ({unt}shuffled {pct(pt.shuffled['r2'])}); "
                f"the residual is {pct(beyond_next)} of the belief variance")
    ks = [k for k in (1, *hz) if (f"next_{k}" if k > 1 else "next") in results
          and results[f"next_{k}" if k > 1 else "next"].points[point].r2 >= thr["represented_r2"]]
    reach = "no future distribution" if not ks else "the next-token distribution" if max(ks) == 1 else \
        f"the distribution of the next {max(ks)} tokens"
    return f"{text}; predicts {reach} with R^2 >= {thr['represented_r2']:g}"
