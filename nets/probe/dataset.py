"""The probe's dataset: every input prefix, its weight, its beliefs, the model's activations.

One row per distinct allowed prefix ``u`` (length ``1..context``, or only some lengths):

- ``weights[u]``: ``"probability"`` -- ``Pr(u)`` (Riechers et al. 2025, arXiv:2507.07432:
  every allowed prefix of length 1..L weighted by its probability; each length carries
  total weight 1); ``"uniform"`` -- the number of allowed length-``context`` words that
  extend ``u`` (Shai et al. 2024, arXiv:2405.15943: all inputs at all positions,
  unweighted; a prefix shared by ``c`` inputs is one row of weight ``c``, which is the
  same least-squares problem as ``c`` duplicated rows); ``"empirical"`` -- the count of
  sampled (or given) sequences extending ``u``.
- ``beliefs[rep][u]``: the belief after ``u`` in each requested representation
  (:mod:`generators.representations`): ``"native"`` -- the generator's own GHMM
  coordinates; ``"minimal"`` -- the canonical minimal form's, with the constant
  coordinate dropped; ``"custom:<name>"`` -- those a given generator assigns.
- ``next_probs[u]``: ``Pr(x | u)`` (V,).
- ``activations[name][u]``: the model's activation at the position that has just read
  the last symbol of ``u`` (see :mod:`nets.probe.build` for the alignment).

Rows are grouped by prefix length, lexicographic within a length.  Build one with
:func:`build_probe_dataset` (from a model) or :meth:`ProbeDataset.from_sequences` (from
tokens and activations saved by any tool).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .build import build_probe_dataset, dataset_from_sequences
from .spec import ProbeSpec
from .task import ProbeTask

__all__ = ["ProbeDataset", "probe_model", "compare_representations"]


@dataclass
class ProbeDataset:
    """Probe inputs for one generator (and optionally one model); see the module doc.

    Attributes
    ----------
    prefixes : int64 (N, context), ``-1`` padded
    lengths : int64 (N,)
    weights : float64 (N,), normalized to sum 1
    beliefs : dict representation -> float64 (N, k_rep)
    next_probs : float64 (N, V)
    activations : dict name -> float32 (N, d) (empty without a model)
    untrained : dict name -> float32 (N, d), or None
    markov_beliefs : float64 (N, m) or None; ``markov_order`` its k
    meta : dict
    """

    prefixes: np.ndarray
    lengths: np.ndarray
    weights: np.ndarray
    beliefs: dict
    next_probs: np.ndarray
    activations: dict = field(default_factory=dict)
    untrained: dict | None = None
    markov_beliefs: np.ndarray | None = None
    markov_order: int | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    @classmethod
    def from_sequences(cls, generator: Any, tokens: Any, activations: Mapping[str, Any], *, bos: int | None = None,
                       **kwargs: Any) -> "ProbeDataset":
        """The dataset of token sequences ``(N, L)`` and their activations ``name ->
        (N, L, d)`` from any tool: beliefs aligned to model positions (with ``bos``,
        position 0 has seen no symbol and position ``t`` the first ``t``; without, position
        ``t`` has seen ``t + 1``), repeated prefixes merged into one weighted row, the
        Markov-k baseline built.  ``kwargs``: ``weights``, ``untrained``,
        ``representations``, ``positions``, ``markov_order``
        (:func:`nets.probe.build.dataset_from_sequences`)."""
        return dataset_from_sequences(generator, tokens, activations, bos=bos, **kwargs)

    def task(self, spec: ProbeSpec | None = None) -> ProbeTask:
        """The :class:`ProbeTask` of ``spec.representation`` (default the first),
        ``spec.names`` (default all collected) and ``spec.positions`` (default all rows);
        the shuffled control permutes within prefix lengths."""
        from ..activations import resolve_names

        spec = spec or ProbeSpec()
        if not self.activations:
            raise ValueError("this dataset has no activations; build it with a model")
        rep = spec.representation or next(iter(self.beliefs))
        if rep not in self.beliefs:
            raise ValueError(f"unknown representation {rep!r}; this dataset has {list(self.beliefs)}")
        names = resolve_names(spec.names, list(self.activations), what="dataset")
        rows = self._rows(spec.positions)
        unt = None if self.untrained is None else {n: self.untrained[n][rows] for n in names}
        meta = {**self.meta, "representation": rep, "positions": self._positions_label(spec.positions)}
        return ProbeTask(activations={n: self.activations[n][rows] for n in names}, beliefs=self.beliefs[rep][rows],
                         weights=self.weights[rows], untrained=unt,
                         markov_beliefs=None if self.markov_beliefs is None else self.markov_beliefs[rows],
                         markov_order=self.markov_order, next_probs=self.next_probs[rows],
                         shuffle_groups=self.lengths[rows], meta=meta)

    def probe(self, representation: str | None = None, *, names: Sequence[str] | None = None,
              positions: str | Sequence[int] | None = None, **options: Any):
        """:func:`nets.probe.probe` of this dataset: ``representation`` (default the first),
        ``names`` (default all points), ``positions`` (``"all"``, ``"last"`` or prefix
        lengths); ``options`` are :class:`ProbeSpec` fields (and ``meta``)."""
        from .core import probe

        return probe(self, None, representation=representation, names=names, positions=positions, **options)

    def _rows(self, positions: Any) -> np.ndarray:
        if positions is None or positions == "all":
            return np.arange(len(self))
        want = [int(self.lengths.max())] if positions == "last" else [int(t) for t in np.atleast_1d(positions)]
        rows = np.nonzero(np.isin(self.lengths, want))[0]
        if rows.size == 0:
            raise ValueError(f"no rows with prefix lengths {want}; available {sorted(set(self.lengths.tolist()))}")
        return rows

    def _positions_label(self, positions: Any) -> Any:
        if positions is None:
            ls = self.meta.get("prefix_lengths", [])
            return "all" if ls and ls == list(range(1, self.meta.get("context", 0) + 1)) else ls
        return positions if isinstance(positions, str) else [int(t) for t in np.atleast_1d(positions)]


def probe_model(model: Any, generator: Any, *, representation: Any = "minimal", positions: str | Sequence[int] = "all",
                dataset_kwargs: Mapping[str, Any] | None = None, **probe_options: Any):
    """Build the dataset (:func:`build_probe_dataset`) and probe it: one call from a model
    and a generator to a :class:`~nets.probe.ProbeResult`.

    ``dataset_kwargs`` go to :func:`build_probe_dataset` (``context``, ``weighting``,
    ``untrained``, ``markov_order``, ``names``, ...); ``probe_options`` are
    :class:`ProbeSpec` fields.  The result keeps the dataset's prefix lengths in
    ``meta["positions"]``.
    """
    ds = build_probe_dataset(generator, model, representations=[representation], positions=positions,
                             **dict(dataset_kwargs or {}))
    return ds.probe(**probe_options)


def compare_representations(model: Any, generator: Any, representations: Sequence[Any] = ("native", "minimal"), *,
                            dataset: ProbeDataset | None = None, dataset_kwargs: Mapping[str, Any] | None = None,
                            **probe_options: Any) -> dict:
    """Probe the same activations onto several representations of the same process.

    Returns
    -------
    dict with ``results`` (representation -> ProbeResult) and ``dims`` (representation ->
    ``{"coordinates", "affine_dim", "r2", "rmse", "verdict"}``), plus
    ``activation_pca95`` of the headline point: the net's effective dimension beside each
    representation's belief dimension (the nets of Riechers et al. 2025 use the minimal one).
    """
    ds = dataset or build_probe_dataset(generator, model, representations=list(representations),
                                        **dict(dataset_kwargs or {}))
    results = {k: ds.probe(k, **probe_options) for k in ds.beliefs}
    dims = {k: {"coordinates": r.meta["belief_coordinates"], "affine_dim": r.geometry["belief_affine_dim"],
                "r2": r.points[r.headline].r2, "rmse": r.points[r.headline].rmse, "verdict": r.verdict}
            for k, r in results.items()}
    first = next(iter(results.values()))
    return {"results": results, "dims": dims, "activation_pca95": first.geometry["activation_pca95"]}
