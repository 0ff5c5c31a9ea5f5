"""Former home of the probe's dataset; it lives in :mod:`nets.probe` now
(:mod:`nets.probe.dataset`, :mod:`nets.probe.build`).  This module re-exports those names
so ``from nets.probe_data import build_probe_dataset`` keeps working."""

from .probe.build import auto_markov_order, build_probe_dataset, default_probe_points
from .probe.dataset import ProbeDataset, compare_representations, probe_model

__all__ = ["ProbeDataset", "build_probe_dataset", "probe_model", "compare_representations",
           "default_probe_points", "auto_markov_order"]
