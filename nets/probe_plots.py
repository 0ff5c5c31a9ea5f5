"""Former home of the probe and attention figures; they live in :mod:`nets.probe.plots`
and :mod:`nets.attention` now.  This module re-exports them so
``from nets.probe_plots import plot_belief_geometry`` keeps working."""

from .attention import plot_attention_decay
from .probe.plots import plot_belief_geometry, plot_fit_by_layer

__all__ = ["plot_belief_geometry", "plot_fit_by_layer", "plot_attention_decay"]
