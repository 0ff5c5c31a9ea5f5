"""The result of :func:`nets.discover_geometry`: the discovered GHMM, its fit, and a verdict.

The verdict is computed from the stored numbers and :data:`DEFAULT_THRESHOLDS` (change
``result.thresholds`` and it follows).  Belief geometry is *found* when all hold:

1. ``predictive``: ``dim > 1`` and the discovered GHMM's held-out log loss is below the
   unigram model's by more than ``z`` standard errors;
2. ``closed``: the held-out update residual (the one-step Bayes-update error of the
   projected activations, relative to their spread) is at most ``update_residual``;
3. ``beliefs``: the held-out filter residual (the projected activations against the
   GHMM's own beliefs, filtered from the tokens alone) is at most ``filter_residual``;
4. ``as_good_as_learned`` (only when compared): its held-out log loss is not above
   :func:`generators.learn_ghmm`'s on the same tokens by more than ``z`` standard errors,
   or it achieves at least ``gain_ratio`` of that model's gain over the unigram model.

Calibration (measured, ``tests/nets/test_discovery.py``): small transformers trained on
Mess3 and the Bloch walk give update / filter residuals 0.0008 / 0.003 and 0.039 / 0.040,
and 0.999 of the learned model's gain (Mess3); their untrained twins give update and
filter residuals 0.37-0.40 (Bloch walk) or 0.76-0.98 of the gain, filter residuals
0.09-3.3 (Mess3, five seeds); synthetic belief embeddings give residuals below 0.001.
The standard errors count the sampling of the held-out sequences, not the estimation
error of the models compared, so between two nearly identical models a tiny difference
can look significant: the ``gain_ratio`` and residual tests carry the weight.

Otherwise the verdict is "no belief geometry" and :attr:`DiscoveryResult.reasons` says
which test failed with its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators import GHMM
from generators.nonnegativity import NonnegativityResult

__all__ = ["DiscoveryResult", "DEFAULT_THRESHOLDS", "FOUND", "NOT_FOUND"]

#: verdict thresholds (module docstring)
DEFAULT_THRESHOLDS = {"z": 3.0, "update_residual": 0.1, "filter_residual": 0.1, "gain_ratio": 0.99}
FOUND, NOT_FOUND = "belief geometry", "no belief geometry"


@dataclass
class DiscoveryResult:
    """What :func:`nets.discover_geometry` found.

    Attributes
    ----------
    ghmm : GHMM -- the discovered process model (dimension ``dim``, ``tau = e_0``), its
        beliefs the activations' coordinates ``[1, (a - offset) @ projection]``
    dim : int -- its dimension ``n`` (``k = n - 1`` activation coordinates)
    point : str -- the activation point analysed
    offset : (d,);  projection : (d, k) -- activations to belief coordinates
    singular_values : (K,) -- of the predictive regression (:mod:`nets.discovery.subspace`)
    selection : dict or None -- ``dim="auto"``: per candidate dimension the cross-validated
        loss excess over the best (nats/symbol), its standard error and the update residual
    losses : dict -- held-out nats per symbol: ``discovered`` (the GHMM on the tokens
        alone, from its initial belief), ``unigram``, ``learned`` (:func:`generators.learn_ghmm`,
        or None) over all symbols; ``readout`` (``Pr(x_{t+1}) = eta_t c_x`` with ``eta_t`` from
        the activations) and ``filtered`` (the GHMM on the tokens) over the symbols predicted
        at a position (all but the first without BOS)
    errors : dict -- standard errors of ``unigram - discovered`` and ``discovered - learned``
    update_residual, filter_residual : float -- held-out; relative to the variance of ``z``
        (filter: the activations' coordinates against the GHMM's own beliefs from the tokens)
    learned : GHMM or None -- :func:`generators.learn_ghmm` on the training tokens
    word_distance : float or None -- ``max |Pr_discovered(w) - Pr_learned(w)|``, words up to
        length ``meta["word_length"]``
    nonnegativity : NonnegativityResult -- search for a negative word in ``ghmm``
    thresholds : dict -- for the verdict;  meta : dict -- sizes, split, options, notes
    """

    ghmm: GHMM
    dim: int
    point: str
    offset: np.ndarray
    projection: np.ndarray
    singular_values: np.ndarray
    selection: dict | None
    losses: dict
    errors: dict
    update_residual: float
    filter_residual: float
    learned: GHMM | None
    word_distance: float | None
    nonnegativity: NonnegativityResult
    thresholds: dict = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    meta: dict = field(default_factory=dict)

    def beliefs(self, activations: Any) -> np.ndarray:
        """Belief coordinates ``[1, (a - offset) @ projection]`` (..., dim) of activations (..., d)."""
        a = np.asarray(activations, dtype=float)
        z = (a - self.offset) @ self.projection
        return np.concatenate([np.ones(z.shape[:-1] + (1,)), z], axis=-1)

    @property
    def gain(self) -> float:
        """Held-out ``unigram - discovered`` loss, nats per symbol."""
        return self.losses["unigram"] - self.losses["discovered"]

    def _tests(self) -> list[tuple[str, bool, str]]:
        th = {**DEFAULT_THRESHOLDS, **self.thresholds}
        z = th["z"]
        se_g = self.errors["unigram_minus_discovered"]
        out = [("predictive", self.dim > 1 and self.gain > z * se_g,
                f"dim {self.dim}; loss below unigram by {self.gain:.4g} nats/symbol (need > {z:g} x SE {se_g:.2g}"
                + (" and dim > 1" if self.dim <= 1 else "") + ")"),
               ("closed", self.update_residual <= th["update_residual"],
                f"update residual {self.update_residual:.3g} (need <= {th['update_residual']:g})"),
               ("beliefs", self.filter_residual <= th["filter_residual"],
                f"filter residual {self.filter_residual:.3g} (need <= {th['filter_residual']:g})")]
        if self.losses.get("learned") is not None:
            excess = self.losses["discovered"] - self.losses["learned"]
            se_e = self.errors["discovered_minus_learned"]
            ref = self.losses["unigram"] - self.losses["learned"]
            ratio = self.gain / ref if ref > 0 else float("inf")
            ok = excess <= z * se_e or ratio >= th["gain_ratio"]
            out.append(("as_good_as_learned", ok,
                        f"loss above learn_ghmm's by {excess:.4g} nats/symbol (SE {se_e:.2g}); gain "
                        f"{ratio:.3g} of learn_ghmm's (need excess <= {z:g} SE or ratio >= {th['gain_ratio']:g})"))
        return out

    @property
    def verdict(self) -> str:
        """``"belief geometry"`` if every test of the module docstring passes, else
        ``"no belief geometry"``."""
        return FOUND if all(ok for _, ok, _ in self._tests()) else NOT_FOUND

    @property
    def reasons(self) -> list[str]:
        """One line per test: ``"name: pass|FAIL -- numbers"``."""
        return [f"{name}: {'pass' if ok else 'FAIL'} -- {text}" for name, ok, text in self._tests()]

    def summary(self) -> str:
        los = self.losses
        learned = "" if los.get("learned") is None else \
            f", learn_ghmm (dim {self.learned.dim}) {los['learned']:.5f}"
        lines = [f"{self.verdict}: point {self.point!r}, discovered GHMM of dimension {self.dim} "
                 f"(V = {self.ghmm.alphabet_size})",
                 f"held-out loss, nats/symbol: discovered {los['discovered']:.5f}, unigram {los['unigram']:.5f}"
                 f"{learned}; predicted symbols: readout {los['readout']:.5f}, filtered {los['filtered']:.5f}",
                 f"update residual {self.update_residual:.3g}, filter residual {self.filter_residual:.3g}"]
        if self.word_distance is not None:
            lines.append(f"max |Pr_discovered(w) - Pr_learned(w)|, words up to length {self.meta['word_length']}: "
                         f"{self.word_distance:.3g}")
        lines += ["  " + r for r in self.reasons]
        if self.nonnegativity.found:
            lines.append("  " + self.nonnegativity.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able numbers (the GHMMs as generator-file tables)."""
        from generators.io import generator_to_dict

        return {"verdict": self.verdict, "reasons": self.reasons, "dim": self.dim, "point": self.point,
                "ghmm": generator_to_dict(self.ghmm),
                "learned": None if self.learned is None else generator_to_dict(self.learned),
                "offset": self.offset.tolist(), "projection": self.projection.tolist(),
                "singular_values": self.singular_values.tolist(), "selection": self.selection,
                "losses": self.losses, "errors": self.errors, "update_residual": self.update_residual,
                "filter_residual": self.filter_residual, "word_distance": self.word_distance,
                "nonnegativity": self.nonnegativity.summary(), "thresholds": self.thresholds, "meta": self.meta}
