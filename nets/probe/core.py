"""The probe: affine fits at every activation point, controls, geometry checks, a verdict.

``probe(dataset, spec)`` probes a :class:`~nets.probe.ProbeDataset` (or a
:class:`~nets.probe.ProbeTask`) with the options of a :class:`~nets.probe.ProbeSpec`;
``probe(activations, beliefs, weights, **options)`` probes plain arrays.  Steps:

1. drop belief coordinates with zero weighted variance (``spec.drop_constant``);
2. add the point ``"concat"`` (all points side by side) when there are several;
3. split the rows (seeded, ``spec.test_fraction`` held out);
4. at every point fit :func:`~nets.probe.fit_affine` on the training rows and score it
   on the held-out rows (:func:`~nets.probe.probe_metrics`);
5. run the controls (:mod:`nets.probe.controls`): shuffled beliefs, the untrained
   network and the Markov-k baseline when their data are given;
6. the verdict (:func:`~nets.probe.verdict`) of the headline point against them, and
   geometry checks (PCA dimensions, distance R^2).

Cost: ``(2 + [untrained]) x points + [2 Markov]`` fits of ``O(N d^2 + folds d^3)`` each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..activations import aliases
from ..geometry_checks import affine_dimension, distance_r2, weighted_pca_dimension
from .arrays import CONCAT
from .controls import FitContext, MarkovBaseline, ShuffledBeliefs, UntrainedNetwork
from .fit import fit_affine
from .metrics import probe_metrics, train_test_split
from .result import PointFit, ProbeResult
from .spec import ProbeSpec, make_spec
from .task import TASK_OPTIONS, ProbeTask
from .decision import verdict

__all__ = ["probe"]


def probe(data: Any, spec: Any = None, weights: Any = None, **options: Any) -> ProbeResult:
    """Probe activations for beliefs, with controls, geometry checks and a verdict.

    Call forms
    ----------
    ``probe(dataset, spec=None, **options)``
        ``dataset`` a :class:`~nets.probe.ProbeDataset` (rows, points and representation
        chosen by ``spec.representation``, ``spec.names``, ``spec.positions``) or a
        :class:`~nets.probe.ProbeTask`; ``spec`` a :class:`~nets.probe.ProbeSpec`
        (default ``ProbeSpec()``), ``options`` replace its fields (and ``meta=`` adds to
        the recorded metadata).
    ``probe(activations, beliefs, weights=None, **options)``
        Plain arrays: ``activations`` a mapping name -> (N, d) (or one array), ``beliefs``
        (N, k), ``weights`` (N,); ``options`` are :class:`~nets.probe.ProbeSpec` fields
        and the :class:`~nets.probe.ProbeTask` fields ``untrained``,
        ``markov_beliefs``, ``markov_order``, ``next_probs``, ``shuffle_groups``,
        ``meta``.  Unknown names raise ``ValueError``.

    Returns
    -------
    ProbeResult

    Examples
    --------
    Beliefs that are an exact affine image of the activations are represented:

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); Y = X[:, :2] @ [[1.0, 0.5], [0.0, 2.0]] + 1.0
    >>> r = probe({"x": X}, Y, folds=3)
    >>> r.verdict, round(r.points["x"].r2, 6)
    ('represented', 1.0)
    """
    task, spec = _task_and_spec(data, spec, weights, options)
    return _run(task, spec)


def _task_and_spec(data: Any, spec: Any, weights: Any, options: dict) -> tuple[ProbeTask, ProbeSpec]:
    from .dataset import ProbeDataset

    meta = options.pop("meta", None)
    if isinstance(data, (ProbeDataset, ProbeTask)):
        if weights is not None or any(k in options for k in TASK_OPTIONS):
            raise ValueError("probe(dataset, spec): the data come from the dataset; pass only ProbeSpec options")
        spec = make_spec(spec, options)
        task = data if isinstance(data, ProbeTask) else data.task(spec)
    else:
        if spec is None or isinstance(spec, ProbeSpec):
            raise ValueError("probe(activations, beliefs, weights=None, ...): the beliefs (N, k) are required")
        extra = {k: options.pop(k) for k in TASK_OPTIONS if k in options}
        task = ProbeTask(data, spec, weights, **extra)
        spec = make_spec(None, options)
    if meta:
        task = ProbeTask(**{**task.__dict__, "meta": {**task.meta, **dict(meta)}})
    return task, spec


def _run(task: ProbeTask, spec: ProbeSpec) -> ProbeResult:
    thr = spec.threshold_dict()
    p = task.weights
    Y, const = _drop_constant(task.beliefs, p, spec.drop_constant)
    acts, unt, names, headline = _points(task, spec)
    train, test = train_test_split(task.n_rows, spec.test_fraction, spec.seed)
    if p[train].sum() <= 0 or p[test].sum() <= 0:
        raise ValueError("all weight fell on one side of the train/test split; use more rows or another seed")
    ctx = FitContext(acts, Y, p, train, test, names, headline, lambda X, T, w: fit_affine(X, T, w, **spec.fit_options()))
    fits, predicted = {}, None
    for n in names:
        m, rank, pred, fit = ctx.score(acts[n], Y, p)
        fits[n] = {"name": n, "dim": int(acts[n].shape[1]), "rank": rank, "test": m,
                   "train": probe_metrics(Y[train], fit.predict(acts[n][train]), p[train]),
                   "pca95": weighted_pca_dimension(acts[n], p, 0.95)[0]}
        predicted = pred if n == headline else predicted
    controls = [ShuffledBeliefs(spec.seed + 1, task.shuffle_groups)]
    if unt is not None:
        controls.append(UntrainedNetwork(unt))
    if task.markov_beliefs is not None:
        controls.append(MarkovBaseline(task.markov_beliefs, task.markov_order))
    baselines: dict[str, Any] = {}
    base_rmse: dict[str, float] = {}
    for c in controls:
        out = c.evaluate(ctx)
        for n, (m, rank) in out.per_point.items():
            fits[n][c.point_field] = m
            if c.rank_field:
                fits[n][c.rank_field] = rank
        if out.record is not None:
            baselines[c.name] = out.record
        base_rmse[c.name] = out.rmse
    points = {n: PointFit(**fits[n]) for n in names}
    baselines["rmse"] = base_rmse
    baselines["best_rmse"] = min(base_rmse.values())
    h = points[headline]
    v, reasons = verdict(h.r2, h.rmse, base_rmse, thr)
    geometry = _geometry(task, spec, ctx, Y, predicted, h.pca95)
    meta = _meta(task, spec, Y, const, train, test)
    arrays = {"beliefs": Y[test], "predicted": predicted, "weights": p[test]}
    if task.next_probs is not None:
        arrays["next_probs"] = task.next_probs[test]
    return ProbeResult(verdict=v, reasons=reasons, headline=headline, points=points, baselines=baselines,
                       geometry=geometry, thresholds=thr, meta=meta, arrays=arrays)


def _drop_constant(Y: np.ndarray, p: np.ndarray, drop: bool) -> tuple[np.ndarray, np.ndarray]:
    """``Y`` without its coordinates of zero weighted variance (when ``drop``), and their indices."""
    var = p @ (Y - p @ Y) ** 2
    scale = max(float(np.max(np.abs(Y))), 1.0)
    const = np.nonzero(var <= (1e-12 * scale) ** 2)[0] if drop else np.array([], dtype=int)
    keep = np.setdiff1d(np.arange(Y.shape[1]), const)
    if keep.size == 0:
        raise ValueError("every belief coordinate is constant over the weighted rows: nothing to probe")
    return Y[:, keep], const


def _points(task: ProbeTask, spec: ProbeSpec):
    """Activations (and untrained ones) with the concatenated point, the point names and
    the headline; ``spec.concat`` and ``spec.headline`` may use either spelling of a name."""
    acts, unt = dict(task.activations), None if task.untrained is None else dict(task.untrained)
    names = list(acts)
    if len(names) > 1 and spec.concat:
        cat = names if spec.concat is True else [_point(n, names) or n for n in spec.concat]
        bad = [n for n in cat if n not in acts]
        if bad:
            raise ValueError(f"unknown activation names for concat: {bad}; known: {names}")
        acts[CONCAT] = np.concatenate([acts[n] for n in cat], axis=1)
        if unt is not None:
            unt[CONCAT] = np.concatenate([unt[n] for n in cat], axis=1)
        names.append(CONCAT)
    headline = names[-1] if spec.headline is None else _point(spec.headline, names)
    if headline is None:
        raise ValueError(f"unknown headline point {spec.headline!r}; known: {names}")
    return acts, unt, names, headline


def _point(name: str, names: list[str]) -> str | None:
    """``name`` as spelled in ``names`` (itself or an alias), or None."""
    return next((n for n in (name, *aliases(name)) if n in names), None)


def _geometry(task: ProbeTask, spec: ProbeSpec, ctx: FitContext, Y: np.ndarray, predicted: np.ndarray,
              pca95: int) -> dict[str, Any]:
    p, test = task.weights, ctx.test
    pt = p[test]
    Xh = ctx.acts[ctx.headline][test]
    kw = {"n_pairs": spec.n_pairs, "seed": spec.seed}
    g: dict[str, Any] = {"activation_pca95": pca95, "belief_affine_dim": affine_dimension(Y, p),
                         "belief_pca95": weighted_pca_dimension(Y, p, 0.95)[0],
                         "dist_r2_beliefs": distance_r2(predicted, Y[test], pt, **kw),
                         "dist_r2_beliefs_raw": distance_r2(Xh, Y[test], pt, **kw)}
    if task.next_probs is not None:
        P = task.next_probs[test]
        g["dist_r2_next"] = distance_r2(predicted, P, pt, **kw)
        g["dist_r2_next_raw"] = distance_r2(Xh, P, pt, **kw)
    return g


def _meta(task: ProbeTask, spec: ProbeSpec, Y: np.ndarray, const: np.ndarray, train: np.ndarray,
          test: np.ndarray) -> dict[str, Any]:
    pt = task.weights[test]
    info = {"n_rows": task.n_rows, "n_train": int(train.size), "n_test": int(test.size),
            "belief_coordinates": int(Y.shape[1]), "dropped_coordinates": [int(c) for c in const],
            "rank_selection": f"cv/{spec.folds}-fold/{spec.select}" if spec.rank == "cv" else str(spec.rank),
            "test_fraction": spec.test_fraction, "seed": spec.seed,
            # 1 / sum p_i^2 of the normalized held-out weights: how many equally weighted rows the
            # held-out metrics are worth (prefix-probability weights concentrate on short prefixes)
            "effective_n_test": float(1.0 / np.sum((pt / pt.sum()) ** 2))}
    info.update(task.meta)
    return info
