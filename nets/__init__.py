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
  :mod:`nets.device` (:func:`~nets.device.resolve_device`).
- :data:`NATS` — the unit of every loss (pass ``base=NATS`` to :mod:`bayes`).
- :mod:`nets.probe` — probes from activations to beliefs, with controls and a verdict:
  ``probe(dataset, ProbeSpec(...))``; datasets from any model or from saved activations.
- :mod:`nets.activations` / :mod:`nets.adapters` — :class:`ActivationCache`, one batched
  :func:`collect` for qbelief, TransformerLens and plain torch models.
- :mod:`nets.export` — to and from TransformerLens; weights as safetensors + config.json
  (:mod:`nets.tensorfile` reads and writes safetensors without the package).
- :mod:`nets.attention` — attention by distance and its decay per head.
- :mod:`nets.represented` — :func:`what_is_represented`: which points hold the belief, the
  next token, the next k tokens and the belief beyond the next token; the horizon at
  which the future determines the belief.
- :mod:`nets.discovery` — :func:`discover_geometry`: belief geometry found from
  activations and tokens alone, as a GHMM, without a known generator.
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

# ---- probe side (owned by the probe engineer) ----
# probes (the package nets.probe: dataset, fit, CV, controls, verdict, results, figures), activations of any
# model (nets.activations, nets.adapters), TransformerLens/safetensors export (nets.export, nets.tensorfile),
# geometry checks, attention analysis.  The function nets.probe.probe is not re-exported: `nets.probe` stays
# the package.
from .activations import ActivationCache, collect  # noqa: E402
from .adapters import ModuleSource, as_source  # noqa: E402
from .probe import (  # noqa: E402
    CONCAT, DEFAULT_THRESHOLDS, AffineProbe, PointFit, ProbeDataset, ProbeResult, ProbeSpec, ProbeTask,
    build_probe_dataset, compare_representations, cross_validate_rank, default_probe_points, fit_affine,
    probe_metrics, probe_model, sampled_belief_r2,
)
from .attention import AttentionReport, HeadDecay, attention_analysis, fit_decay  # noqa: E402
from .represented import RepresentedResult, belief_horizon, what_is_represented  # noqa: E402

__all__ += [
    "ActivationCache", "collect", "ModuleSource", "as_source",
    "CONCAT", "DEFAULT_THRESHOLDS", "AffineProbe", "PointFit", "ProbeResult", "ProbeSpec", "ProbeTask", "fit_affine",
    "cross_validate_rank", "probe_metrics", "sampled_belief_r2", "ProbeDataset", "build_probe_dataset", "probe_model",
    "compare_representations", "default_probe_points", "AttentionReport", "HeadDecay", "attention_analysis",
    "fit_decay", "what_is_represented", "RepresentedResult", "belief_horizon",
]

# ---- belief geometry without a known generator (nets.discovery) ----
from .discovery import DiscoveryResult, discover_geometry  # noqa: E402

__all__ += ["discover_geometry", "DiscoveryResult"]
