"""The demo's interactive views: figure specs (:mod:`bayes.interactive`) saved as JSON
beside the PNGs when the analysis runs, and drawn by ``report.html`` when the report is
written (the report step may run in a later process: staged resume).

- ``view_bloch_walk.json`` -- the Bloch walk's beliefs in the Bloch ball (3-D, drag to rotate);
- ``view_geometry.json`` -- the true minimal beliefs beside the first seed's probe
  projection of the activations (same axes and colours, linked rotation; hovering a point
  shows its prefix, its probability, its true and its predicted belief);
- ``view_fit_by_layer.json`` -- held-out RMSE and R^2 per layer with the controls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generators.fileio import write_json

__all__ = ["VIEWS", "save_manifold_view", "save_probe_views", "load_view"]

VIEWS = {"bloch_walk": "view_bloch_walk.json", "geometry": "view_geometry.json",
         "fit_by_layer": "view_fit_by_layer.json"}


def save_manifold_view(manifold: Any, out: Path, title: str) -> None:
    """The 3-D view of ``manifold`` (:func:`bayes.plot_beliefs` with ``interactive=True``)."""
    from bayes import plot_beliefs

    write_json(out / VIEWS["bloch_walk"], plot_beliefs(manifold, interactive=True, title=title).spec)


def save_probe_views(result: Any, dataset: Any, out: Path) -> None:
    """The geometry and fit-by-layer views of the probe ``result`` of ``dataset``."""
    from nets.interactive import fit_by_layer_spec, geometry_spec

    labels, probs = result.held_out_prefixes(dataset)
    write_json(out / VIEWS["geometry"], geometry_spec(result, labels=labels, probs=probs))
    write_json(out / VIEWS["fit_by_layer"], fit_by_layer_spec(result))


def load_view(out: Path, name: str) -> dict | None:
    """The saved view ``name`` (a key of :data:`VIEWS`), or None when the analysis that
    writes it has not run in this folder (the report then shows the PNG only)."""
    path = Path(out) / VIEWS[name]
    if not path.is_file():
        return None
    return json.loads(path.read_text())
