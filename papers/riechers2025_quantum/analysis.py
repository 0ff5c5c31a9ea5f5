"""The science of Riechers, Elliott, Shai 2025 (arXiv 2507.07432): probe a trained net for
the minimal generator's beliefs, against its controls.

:func:`analyze_net` -- every allowed prefix of length 1..L (probability-weighted,
:func:`nets.probe.build_probe_dataset`); the activations of all layers concatenated at the
prefix's last position; an affine least-squares probe with a truncated-SVD pseudoinverse
(rank by k-fold CV) onto the minimal beliefs (:mod:`generators.representations`).  It
returns, for the concatenation and for every layer:

- ``cos_r2``, ``r2``, ``rmse`` on held-out prefixes (20%, ours) and ``paper.cos_r2`` /
  ``paper.rmse`` of the same probe fitted to every prefix and scored on them (our reading
  of the paper, which names no held-out split);
- the controls: a randomly initialized network of the same architecture
  (``untrained.*``), beliefs shuffled across prefixes of the same length
  (``shuffled.*``);
- the paper's comparison: the same activations probed onto the beliefs of the order-3
  Markov approximation (``markov3_targets.cos_r2``), and the memory baseline: the minimal
  beliefs predicted from the Markov-3 beliefs, i.e. from the last 3 symbols
  (``markov3_features.*``).

:func:`compare_representations` probes the same activations onto larger representations
(the native generator, a non-minimal HMM of the same process, the Markov-3 HMM).
:func:`trajectory_probe` is the lighter probe run at training checkpoints.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .processes import probe_points

__all__ = ["analyze_net", "compare_representations", "trajectory_probe", "in_sample"]

_KEYS = ("cos_r2", "r2", "rmse")


def _pick(m: dict | None) -> dict:
    return {k: float(m[k]) for k in _KEYS} if m else {}


def in_sample(X: np.ndarray, Y: np.ndarray, p: np.ndarray, folds: int, seed: int) -> dict:
    """The probe fitted to all rows (rank by ``folds``-fold CV) and scored on them."""
    from nets.probe import fit_affine, probe_metrics

    f = fit_affine(X, Y, p, rank="cv", folds=folds, seed=seed)
    return {**_pick(probe_metrics(Y, f.predict(X), p)), "rank": int(f.rank)}


def analyze_net(g: Any, model: Any, arch: dict, *, folds: int = 10, seed: int = 0, representations: list | None = None,
                markov_order: int = 3) -> tuple[dict, Any, Any]:
    """Metrics of one trained net (module doc), the :class:`~nets.probe.ProbeResult` and the
    :class:`~nets.probe.ProbeDataset` (for figures and :func:`compare_representations`).

    ``seed`` seeds the untrained twin, the held-out split, the CV folds and the shuffle.
    Cost: building the dataset (two forward passes over every allowed length-L word) and
    ``3 x (layers + 1) + 3`` probe fits.
    """
    from nets.probe import build_probe_dataset

    points = probe_points(arch)
    ds = build_probe_dataset(g, model, representations=["minimal", *(representations or [])],
                             weighting="probability", names=points, markov_order=markov_order, seed=seed)
    pr = ds.probe("minimal", concat=True, folds=folds, seed=seed)
    cat = np.concatenate([ds.activations[n] for n in points], axis=1)
    Y, p = ds.beliefs["minimal"], ds.weights
    h = pr.points[pr.headline]  # "concat" when there are several layers
    m = {"n_prefixes": len(ds), "minimal_dim": int(ds.meta["minimal_dim"]), "verdict": pr.verdict,
         "concat": {**_pick(h.test), "rank": h.rank, "dim": h.dim, "pca95": h.pca95,
                    "untrained": _pick(h.untrained), "shuffled": _pick(h.shuffled),
                    "markov3_targets": _pick(h.markov_targets),
                    "paper": in_sample(cat, Y, p, folds, seed),
                    "paper_markov3_targets": in_sample(cat, ds.markov_beliefs, p, folds, seed)},
         "markov3_features": _pick(pr.baselines.get("markov")),
         "bootstrap": heldout_bootstrap(pr, seed),
         "layers": {n: {**_pick(pt.test), "untrained": _pick(pt.untrained)} for n, pt in pr.points.items()
                    if n != "concat"},
         "geometry": {k: pr.geometry[k] for k in ("activation_pca95", "belief_affine_dim", "belief_pca95")}}
    return m, pr, ds


def heldout_bootstrap(pr: Any, seed: int, n_boot: int = 200) -> dict:
    """Percentile bootstrap (:func:`nets.stats.bootstrap_interval`) of the headline point's
    held-out cos R^2 and RMSE over the held-out prefixes (resampled with replacement, each
    keeping its weight): the noise of the probe's inputs alone, for one trained net.
    Returns ``{"cos_r2_lo", "cos_r2_hi", "rmse_lo", "rmse_hi"}``; cost ``2 n_boot`` metric
    evaluations."""
    from nets.probe import probe_metrics
    from nets.stats import bootstrap_interval

    Y, P, w = (np.asarray(pr.arrays[k]) for k in ("beliefs", "predicted", "weights"))
    out = {}
    for key in ("cos_r2", "rmse"):
        iv = bootstrap_interval(lambda i, key=key: probe_metrics(Y[i], P[i], w[i])[key] if w[i].sum() > 0
                                else float("nan"), len(w), n_boot=n_boot, seed=seed)
        out[f"{key}_lo"], out[f"{key}_hi"] = iv.lo, iv.hi
    return out


def compare_representations(ds: Any, arch: dict, *, folds: int = 10, seed: int = 0) -> dict:
    """The concatenated activations probed onto every representation in ``ds.beliefs``:
    ``{key: {"coordinates", "belief_affine_dim", "r2", "cos_r2", "rmse"}}`` (held out),
    plus ``activation_pca95``.  Cost: one probe fit (and its shuffled control) per
    representation."""
    points = probe_points(arch)
    cat = np.concatenate([ds.activations[n] for n in points], axis=1)
    lean = dataclasses.replace(ds, activations={"all_layers": cat}, untrained=None, markov_beliefs=None,
                               markov_order=None)
    out = {}
    for key in ds.beliefs:
        r = lean.probe(key, folds=folds, seed=seed)
        c = r.points["all_layers"]
        out[_label(key)] = {"coordinates": int(ds.beliefs[key].shape[1]),
                            "belief_affine_dim": int(r.geometry["belief_affine_dim"]), **_pick(c.test)}
    out["activation_pca95"] = int(r.geometry["activation_pca95"])
    return out


def _label(key: str) -> str:
    """A metric-path-safe name of a representation key (``custom:<name>`` -> a slug)."""
    if key.startswith("custom:"):
        name = key[len("custom:"):]
        return "hidden_bit" if "stayed-bit" in name else ("markov3" if name.startswith("markov") else "custom")
    return key


def trajectory_probe(g: Any, model: Any, arch: dict, *, max_words: int = 1 << 14, n_samples: int = 4096,
                     folds: int = 5, seed: int = 0) -> dict:
    """The probe of the concatenated layers onto the minimal beliefs, for a training
    checkpoint: every allowed prefix when the process has at most ``max_words`` words of
    the context length, else the prefixes of ``n_samples`` sampled words (seeded; weights
    their counts).  Returns ``{"rmse", "r2", "cos_r2"}`` (held out)."""
    from nets.probe import build_probe_dataset, probe

    points = probe_points(arch)
    L = int(model.config.n_ctx)
    sample = None if g.alphabet_size ** L <= max_words else n_samples
    ds = build_probe_dataset(g, model, names=points, untrained=None, markov_order=None, n_samples=sample, seed=seed)
    cat = np.concatenate([ds.activations[n] for n in points], axis=1)
    r = probe({"all_layers": cat}, ds.beliefs["minimal"], ds.weights, folds=folds, seed=seed,
              shuffle_groups=ds.lengths)
    return _pick(r.points["all_layers"].test)
