"""The probe's baselines, as objects with one protocol (:class:`Control`).

Each baseline answers "how well does a probe do when the belief information is taken
away (a *control*) or when it sees only the last k symbols (*memory*)?"  A control's
:meth:`~Control.evaluate` fits and scores on the probe's own train/test split and returns
a :class:`ControlOutcome`: the held-out RMSE the verdict compares the headline point
against, per-point metrics stored on each :class:`~nets.probe.PointFit`, and an optional
record for ``ProbeResult.baselines``.

- :class:`ShuffledBeliefs` (``"shuffled"``, control): the same probe fit to beliefs
  permuted across rows (within ``shuffle_groups`` when given, each row keeping its
  weight; otherwise beliefs move together with their weights).
- :class:`UntrainedNetwork` (``"untrained"``, control): the same probe on a randomly
  initialized network's activations for the same inputs.
- :class:`MarkovBaseline` (``"markov"``, memory): the beliefs predicted from an order-k
  Markov approximation's beliefs (the last k symbols); also the headline point probed
  onto those Markov beliefs (``PointFit.markov_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from .metrics import probe_metrics

__all__ = ["FitContext", "ControlOutcome", "Control", "ShuffledBeliefs", "UntrainedNetwork", "MarkovBaseline",
           "permute_within"]


@dataclass
class FitContext:
    """The probe's data and split, shared by the point fits and the controls.

    acts : name -> (N, d) (with ``"concat"``);  Y : (N, k) targets;  p : (N,) weights;
    train, test : row indices;  names : points in order;  headline : the verdict's point;
    fit : ``(X, Y, w) -> AffineProbe`` with the spec's options.
    """

    acts: dict
    Y: np.ndarray
    p: np.ndarray
    train: np.ndarray
    test: np.ndarray
    names: list
    headline: str
    fit: Callable

    def score(self, X: np.ndarray, Y: np.ndarray, p: np.ndarray) -> tuple[dict, int, np.ndarray, Any]:
        """Fit ``X -> Y`` on the training rows, score on the held-out rows:
        ``(probe_metrics, rank, held-out predictions, the fitted AffineProbe)``."""
        tr, te = self.train, self.test
        f = self.fit(X[tr], Y[tr], p[tr])
        pred = f.predict(X[te])
        return probe_metrics(Y[te], pred, p[te]), f.rank, pred, f


@dataclass
class ControlOutcome:
    """What a control found: ``rmse`` of the headline point (for the verdict),
    ``per_point`` name -> (metrics, rank), ``record`` for ``ProbeResult.baselines``."""

    rmse: float
    per_point: dict = field(default_factory=dict)
    record: dict | None = None


class Control(Protocol):
    """A baseline: ``name`` (its key in the verdict's baselines), ``role`` (``"control"``
    or ``"memory"``), ``point_field`` / ``rank_field`` (the :class:`PointFit` attributes
    its per-point metrics and ranks go to, or None) and :meth:`evaluate`."""

    name: str
    role: str
    point_field: str | None
    rank_field: str | None

    def evaluate(self, ctx: FitContext) -> ControlOutcome: ...  # pragma: no cover


class ShuffledBeliefs:
    """Beliefs permuted across rows (seeded ``default_rng(seed)``); see the module doc."""

    name, role, point_field, rank_field = "shuffled", "control", "shuffled", None

    def __init__(self, seed: int, groups: np.ndarray | None = None):
        self.seed, self.groups = seed, groups

    def evaluate(self, ctx: FitContext) -> ControlOutcome:
        N = ctx.Y.shape[0]
        rng = np.random.default_rng(self.seed)
        if self.groups is None:
            perm = rng.permutation(N)
            Ys, ps = ctx.Y[perm], ctx.p[perm]
        else:
            Ys, ps = ctx.Y[permute_within(self.groups, N, rng)], ctx.p
        out = {n: ctx.score(ctx.acts[n], Ys, ps)[:2] for n in ctx.names}
        return ControlOutcome(rmse=out[ctx.headline][0]["rmse"], per_point=out)


class UntrainedNetwork:
    """The probe on an untrained network's activations ``name -> (N, d)`` (same points)."""

    name, role, point_field, rank_field = "untrained", "control", "untrained", "untrained_rank"

    def __init__(self, activations: dict):
        self.activations = activations

    def evaluate(self, ctx: FitContext) -> ControlOutcome:
        out = {n: ctx.score(self.activations[n], ctx.Y, ctx.p)[:2] for n in ctx.names}
        return ControlOutcome(rmse=out[ctx.headline][0]["rmse"], per_point=out)


class MarkovBaseline:
    """Beliefs ``(N, m)`` of an order-``order`` Markov approximation as features (the
    baseline) and as targets of the headline point."""

    name, role, point_field, rank_field = "markov", "memory", "markov_targets", None

    def __init__(self, beliefs: np.ndarray, order: int | None):
        self.beliefs, self.order = beliefs, order

    def evaluate(self, ctx: FitContext) -> ControlOutcome:
        M = self.beliefs
        targets = ctx.score(ctx.acts[ctx.headline], M, ctx.p)[:2]
        mk, rank, _, _ = ctx.score(M, ctx.Y, ctx.p)
        record = {"order": self.order, "n_states": int(M.shape[1]), "rank": rank, **mk}
        return ControlOutcome(rmse=mk["rmse"], per_point={ctx.headline: targets}, record=record)


def permute_within(groups: Any, N: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``0..N-1`` that maps every row to a row with the same group label."""
    groups = np.asarray(groups).reshape(-1)
    if groups.shape != (N,):
        raise ValueError(f"shuffle_groups must have shape ({N},); got {groups.shape}")
    order = np.argsort(groups, kind="stable")
    key = rng.random(N)
    # within each group (contiguous in `order`), sort the rows by a random key
    shuffled = order[np.lexsort((key, groups[order]))]
    perm = np.empty(N, dtype=np.int64)
    perm[order] = shuffled
    return perm
