"""qbelief.nets: train neural nets on a process and test whether they represent its beliefs.

The only package of qbelief that imports torch.

- :mod:`nets.data` — :class:`BeliefData`: token batches with per-position beliefs, exact
  next-symbol distributions and prefix probabilities ("stream" / "exact" modes).
- :mod:`nets.models` — :class:`Transformer`, :class:`RNNModel`, :func:`build_model`;
  ``model.run_with_cache(tokens, names)`` returns named activations.
- :mod:`nets.train` — :class:`TrainConfig`, :func:`nets.train.train` (checkpoints, resume,
  DDP).  The function is not re-exported here, so ``nets.train`` stays the module:
  ``from nets.train import train``.
- :mod:`nets.distributed` — data-parallel helpers, :func:`nets.distributed.launch`,
  :func:`nets.distributed.resolve_device`.
- :data:`NATS` — the unit of every loss (pass ``base=NATS`` to :mod:`bayes`).
"""

from . import data, distributed, models, train  # noqa: F401
from .units import NATS
from .data import Batch, BeliefData, resolve_process
from .models import ActivationModel, ModelConfig, RNNModel, Transformer, build_model
from .train import TrainConfig, TrainResult, load_checkpoint, load_model, loss_fn

__all__ = [
    "NATS", "Batch", "BeliefData", "resolve_process",
    "ActivationModel", "ModelConfig", "Transformer", "RNNModel", "build_model",
    "TrainConfig", "TrainResult", "load_checkpoint", "load_model", "loss_fn",
]

# ---- probe side (nets/probe.py, owned by the probe engineer): add its imports below ----
# probes (nets.probe), their dataset (nets.probe_data), geometry checks, attention analysis;
# figures live in nets.probe_plots (matplotlib imported lazily inside the functions)
# (the function nets.probe.probe is not re-exported: `nets.probe` stays the module)
from .probe import (  # noqa: E402
    DEFAULT_THRESHOLDS, AffineProbe, PointFit, ProbeResult, cross_validate_rank, fit_affine, probe_metrics,
    sampled_belief_r2,
)
from .probe_data import (  # noqa: E402
    ProbeDataset, build_probe_dataset, compare_representations, default_probe_points, probe_model,
)
from .attention import AttentionReport, HeadDecay, attention_analysis, fit_decay  # noqa: E402

__all__ += [
    "DEFAULT_THRESHOLDS", "AffineProbe", "PointFit", "ProbeResult", "fit_affine", "cross_validate_rank",
    "probe_metrics", "sampled_belief_r2", "ProbeDataset", "build_probe_dataset", "probe_model", "compare_representations",
    "default_probe_points", "AttentionReport", "HeadDecay", "attention_analysis", "fit_decay",
]
