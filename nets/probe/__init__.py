"""Linear probes from network activations to belief states, with honest baselines.

The question a probe answers: is the belief state of the data-generating process (in a
chosen representation) an *affine* function of the activations at some point of the
network?

Modules (one job each):

- :mod:`nets.probe.fit` -- :func:`fit_affine`, :class:`AffineProbe`: probability-weighted
  affine least squares by a truncated-SVD pseudoinverse;
- :mod:`nets.probe.cv` -- :func:`cross_validate_rank`: every rank's k-fold CV error in
  closed form (math, shapes and cost in the module doc; tested against explicit refits);
- :mod:`nets.probe.metrics` -- :func:`probe_metrics` (mse, rmse, r2, cos_r2),
  :func:`train_test_split`;
- :mod:`nets.probe.controls` -- the baselines as objects with one protocol: shuffled
  beliefs, the untrained network, the Markov-k (last k symbols) baseline;
- :mod:`nets.probe.decision` -- :func:`verdict`, :data:`DEFAULT_THRESHOLDS`;
- :mod:`nets.probe.spec` / :mod:`nets.probe.task` -- :class:`ProbeSpec` (how: a frozen
  record of every option) and :class:`ProbeTask` (what: the arrays);
- :mod:`nets.probe.core` -- :func:`probe`: ``probe(dataset, spec)`` or
  ``probe(activations, beliefs, weights, **options)``;
- :mod:`nets.probe.result` -- :class:`ProbeResult`, :class:`PointFit` (JSON, summary,
  ``to_row()``);
- :mod:`nets.probe.dataset` / :mod:`nets.probe.build` -- :class:`ProbeDataset` from a
  model (:func:`build_probe_dataset`, any model :func:`nets.adapters.as_source` accepts)
  or from saved sequences and activations (:meth:`ProbeDataset.from_sequences`);
- :mod:`nets.probe.plots` -- figures.

Example: beliefs that are an affine image of the activations are found, random
activations are not.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Y = rng.dirichlet([1, 1, 1], size=400)
>>> X = np.c_[Y @ rng.normal(size=(3, 6)), rng.normal(size=(400, 2))]
>>> probe({"x": X}, Y, folds=4).verdict, probe({"x": rng.normal(size=(400, 8))}, Y, folds=4).verdict
('represented', 'not')
"""

from .arrays import CONCAT
from .build import MAX_WORDS, auto_markov_order, build_probe_dataset, default_probe_points
from .controls import Control, ControlOutcome, MarkovBaseline, ShuffledBeliefs, UntrainedNetwork
from .core import probe
from .cv import cross_validate_rank
from .dataset import ProbeDataset, compare_representations, probe_model
from .fit import AffineProbe, fit_affine
from .metrics import probe_metrics, train_test_split
from .quick import sampled_belief_r2
from .result import PointFit, ProbeResult
from .spec import ProbeSpec
from .task import ProbeTask
from .decision import DEFAULT_THRESHOLDS, verdict

__all__ = [
    "probe", "ProbeSpec", "ProbeTask", "ProbeDataset", "ProbeResult", "PointFit",
    "AffineProbe", "fit_affine", "cross_validate_rank", "probe_metrics", "train_test_split",
    "DEFAULT_THRESHOLDS", "verdict", "CONCAT",
    "Control", "ControlOutcome", "ShuffledBeliefs", "UntrainedNetwork", "MarkovBaseline",
    "build_probe_dataset", "default_probe_points", "auto_markov_order", "probe_model", "compare_representations",
    "sampled_belief_r2", "MAX_WORDS",
]
