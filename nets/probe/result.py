"""What a probe found: :class:`PointFit` per activation point, :class:`ProbeResult` overall
(JSON round trip, a text summary, one flat row for tables)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from generators.fileio import to_jsonable, write_json

__all__ = ["PointFit", "ProbeResult", "probe_report", "write_probe_report"]


@dataclass
class PointFit:
    """The probe at one activation point (a layer, or all layers concatenated).

    ``test`` / ``train`` hold :func:`~nets.probe.probe_metrics` dicts; ``shuffled`` the
    held-out metrics of the same probe fit to row-permuted beliefs; ``untrained`` those of
    the same probe on a randomly initialized network's activations (None when not given);
    ``markov_targets`` the held-out metrics of this point's activations probed onto the
    order-k Markov approximation's beliefs; ``pca95`` the weighted-PCA dimension
    explaining 95% of this point's activation variance.
    """

    name: str
    dim: int
    rank: int
    test: dict
    train: dict
    shuffled: dict
    untrained: dict | None = None
    untrained_rank: int | None = None
    markov_targets: dict | None = None
    pca95: int | None = None

    @property
    def r2(self) -> float:
        return float(self.test["r2"])

    @property
    def rmse(self) -> float:
        return float(self.test["rmse"])


@dataclass
class ProbeResult:
    """Everything one probe call found, with a verdict.

    Attributes
    ----------
    verdict : "represented", "partly" or "not"
    reasons : list of str -- why (which thresholds passed or failed)
    headline : str -- the point the verdict is about (``"concat"`` by default)
    points : dict name -> :class:`PointFit`, in layer order, ``"concat"`` last
    baselines : dict -- ``rmse`` (each baseline's held-out RMSE at the headline point),
        ``best_rmse`` (the smallest), ``markov`` (order, n_states, held-out metrics of
        predicting the beliefs from the order-k Markov approximation's beliefs)
    geometry : dict -- ``activation_pca95`` (headline), ``belief_affine_dim``,
        ``belief_pca95``, ``dist_r2_beliefs`` / ``dist_r2_next`` (pairwise distances of
        the probe's projection of held-out activations vs true-belief distances / vs
        next-symbol-distribution distances), ``dist_r2_beliefs_raw`` /
        ``dist_r2_next_raw`` (the same with raw activation distances).
    thresholds : dict -- the verdict thresholds used
    meta : dict -- representation, coordinates, sizes, seed, and anything the caller added
    arrays : dict of numpy arrays, not serialized by default -- held-out ``beliefs``,
        ``predicted`` (headline point), ``weights``, and ``next_probs`` if given; used by
        the figures.
    """

    verdict: str
    reasons: list
    headline: str
    points: dict
    baselines: dict
    geometry: dict
    thresholds: dict
    meta: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def best(self) -> PointFit:
        """The point with the highest held-out R^2."""
        return max(self.points.values(), key=lambda pt: (np.nan_to_num(pt.r2, nan=-np.inf)))

    def __getitem__(self, name: str) -> PointFit:
        return self.points[name]

    # -------------------------------------------------------------- serialization
    def to_dict(self, include_arrays: bool = False) -> dict:
        d = {"verdict": self.verdict, "reasons": list(self.reasons), "headline": self.headline,
             "points": {k: asdict(v) for k, v in self.points.items()}, "baselines": self.baselines,
             "geometry": self.geometry, "thresholds": self.thresholds, "meta": self.meta}
        if include_arrays:
            d["arrays"] = {k: np.asarray(v).tolist() for k, v in self.arrays.items()}
        return to_jsonable(d)

    @classmethod
    def from_dict(cls, d: Mapping) -> "ProbeResult":
        try:
            points = {k: PointFit(**v) for k, v in d["points"].items()}
            return cls(verdict=d["verdict"], reasons=list(d["reasons"]), headline=d["headline"], points=points,
                       baselines=dict(d["baselines"]), geometry=dict(d["geometry"]),
                       thresholds=dict(d["thresholds"]), meta=dict(d.get("meta", {})),
                       arrays={k: np.asarray(v, dtype=float) for k, v in d.get("arrays", {}).items()})
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a ProbeResult dictionary: {e}") from e

    def to_json(self, path: str | os.PathLike, include_arrays: bool = False) -> None:
        """Write the result as JSON atomically (:func:`generators.fileio.write_json`);
        NaN is written as ``null``."""
        write_json(path, self.to_dict(include_arrays=include_arrays))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "ProbeResult":
        with open(path, "r", encoding="utf-8") as fh:
            return cls.from_dict(_unjson(json.load(fh)))

    # -------------------------------------------------------------- text and tables
    def to_row(self) -> dict[str, Any]:
        """One flat row for a table of results: verdict, the headline point's held-out
        metrics and baselines, geometry, and every point's held-out R^2 (``r2:<point>``)."""
        h = self.points[self.headline]
        row: dict[str, Any] = {k: self.meta[k] for k in ("process", "representation", "positions", "n_rows")
                               if k in self.meta}
        row.update({"verdict": self.verdict, "headline": self.headline, "dim": h.dim, "rank": h.rank,
                    "r2": h.r2, "cos_r2": h.test["cos_r2"], "rmse": h.rmse})
        row.update({f"{k}_rmse": v for k, v in self.baselines.get("rmse", {}).items()})
        row.update({k: self.geometry[k] for k in ("activation_pca95", "belief_affine_dim", "dist_r2_beliefs")
                    if k in self.geometry})
        row.update({f"r2:{n}": pt.r2 for n, pt in self.points.items()})
        return row

    def summary(self) -> str:
        """A text table for terminals (full point names)."""
        rows = [f"verdict: {self.verdict.upper()}  (headline: {self.headline})"]
        rows += [f"  - {r}" for r in self.reasons]
        bits = [f"{k}={self.meta[k]}" for k in ("process", "representation", "n_rows", "positions") if k in self.meta]
        if bits:
            rows.append("  " + "  ".join(bits))
        w = max(6, *(len(n) + 2 for n in self.points))
        head = f"{'point':<{w}}{'dim':>5}{'rank':>5}{'R2':>8}{'cosR2':>8}{'RMSE':>9}{'shufR2':>8}{'shufRMSE':>9}" \
               f"{'untrR2':>8}{'untrRMSE':>9}{'pca95':>6}"
        rows += [head, "-" * len(head)]
        for pt in self.points.values():
            u = pt.untrained or {}
            rows.append(f"{pt.name:<{w}}{pt.dim:>5}{pt.rank:>5}{_f(pt.test['r2'], 8, 4)}{_f(pt.test['cos_r2'], 8, 4)}"
                        f"{_f(pt.test['rmse'], 9, 5)}{_f(pt.shuffled['r2'], 8, 3)}{_f(pt.shuffled['rmse'], 9, 5)}"
                        f"{_f(u.get('r2'), 8, 3)}{_f(u.get('rmse'), 9, 5)}"
                        f"{pt.pca95 if pt.pca95 is not None else '-':>6}")
        mk = self.baselines.get("markov")
        if mk:
            rows.append(f"markov-{mk['order']} ({mk['n_states']} states) -> beliefs: R2 {mk['r2']:.4f}  RMSE "
                        f"{mk['rmse']:.5f}")
        if self.geometry:
            rows.append("geometry: " + "  ".join(f"{k}={_g(v)}" for k, v in self.geometry.items()))
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.summary()

    # -------------------------------------------------------------- interactive figures and reports
    def held_out_rows(self) -> np.ndarray:
        """Indices (into the probed rows) of the held-out rows that ``arrays`` hold, in
        order: the seeded split of :func:`nets.probe.train_test_split`, recomputed from
        ``meta`` (``n_rows``, ``test_fraction``, ``seed``)."""
        from .metrics import train_test_split

        m = self.meta
        try:
            test = train_test_split(int(m["n_rows"]), float(m["test_fraction"]), int(m["seed"]))[1]
        except (KeyError, TypeError) as e:
            raise ValueError(f"this result's meta lacks the split ({e}); it was not made by nets.probe.probe") from e
        if test.size != int(m.get("n_test", test.size)):
            raise ValueError(f"the recomputed split has {test.size} held-out rows but the probe held out "
                             f"{m['n_test']}; meta['seed'] is not the probe's seed")
        return test

    def held_out_prefixes(self, dataset: Any) -> tuple[list[str], np.ndarray | None]:
        """Each held-out row's prefix (a string, :func:`bayes.interactive.word_labels`)
        and its probability ``Pr(u)`` (None unless the dataset is probability-weighted),
        from the :class:`~nets.probe.ProbeDataset` this result was probed on (checked:
        the rows' weights must match)."""
        from bayes.interactive import word_labels

        rows = dataset._rows(self.meta.get("positions"))[self.held_out_rows()]
        w = np.asarray(self.arrays.get("weights", []), dtype=float)
        dw = dataset.weights[rows]
        if w.shape != dw.shape or not np.allclose(dw / dw.sum(), w / w.sum(), rtol=1e-6, atol=1e-12):
            raise ValueError("the dataset's held-out rows do not match this result's (weights differ); pass the "
                             "ProbeDataset and seed the result was probed with")
        probs = None
        if dataset.meta.get("weighting") == "probability":  # each prefix length carries weight 1 before normalizing
            probs = dw * len(dataset.meta.get("prefix_lengths") or [0])
        return word_labels(dataset.prefixes[rows]), probs

    def plot_interactive(self, *, dataset: Any = None, checkpoints: Any = None, max_points: int = 4000,
                         seed: int = 0):
        """The true geometry beside the probe's projection (linked 3-D views, hover with
        prefix, probability and belief when ``dataset`` is given) and the fit by layer with
        the controls and the verdict; ``checkpoints`` (see :mod:`nets.interactive`) add a
        slider over training steps.  Returns a :class:`bayes.interactive.InteractiveFigure`
        (inline in Jupyter; ``.save("x.html")`` for a standalone page)."""
        from bayes.interactive import InteractiveFigure

        from ..interactive import probe_figure_spec

        labels, probs = self.held_out_prefixes(dataset) if dataset is not None else (None, None)
        return InteractiveFigure(probe_figure_spec(self, labels=labels, probs=probs, checkpoints=checkpoints,
                                                   max_points=max_points, seed=seed))

    def report_section(self, report: Any, *, figures: tuple | None = None, dataset: Any = None,
                       checkpoints: Any = None, heading: str | None = None, level: int = 2) -> None:
        """Append this result to a :class:`nets.document.Report`: the verdict and its
        reasons, the table of points with the controls, the geometry and the fit by layer
        (``figures = (geometry_png, by_layer_png)`` as static images with interactive
        specs; without, interactive blocks only), and the geometry numbers."""
        from ..interactive import fit_by_layer_spec, geometry_spec

        if heading:
            report.section(heading, level)
        h = self.points[self.headline]
        report.text(f"**Verdict: {self.verdict.upper()}** -- headline point `{self.headline}`: held-out R² "
                    f"{h.r2:.4f}, RMSE {h.rmse:.4g}.")
        report.bullets(self.reasons)
        report.table(["point", "dim", "rank", "R²", "cos R²", "RMSE", "shuffled RMSE", "untrained RMSE", "pca95"],
                     [[p.name, p.dim, p.rank, p.r2, p.test["cos_r2"], p.rmse, p.shuffled["rmse"],
                       (p.untrained or {}).get("rmse"), p.pca95] for p in self.points.values()])
        mk = self.baselines.get("markov")
        if mk:
            report.text(f"Markov-{mk['order']} baseline ({mk['n_states']} states) -> beliefs: R² {mk['r2']:.4f}, "
                        f"RMSE {mk['rmse']:.4g}.")
        labels, probs = self.held_out_prefixes(dataset) if dataset is not None else (None, None)
        geo = geometry_spec(self, labels=labels, probs=probs, checkpoints=checkpoints)
        fit = fit_by_layer_spec(self)
        cap = ("True beliefs (left) and the probe's projection of held-out activations (right)",
               "Held-out fit by probe point with the controls")
        if figures is not None:
            report.figure(figures[0], cap[0], interactive=geo)
            report.figure(figures[1], cap[1], interactive=fit)
        else:
            report.interactive(geo, cap[0])
            report.interactive(fit, cap[1])
        if self.geometry:
            report.text("Geometry: " + ", ".join(f"{k} = {_g(v)}" for k, v in self.geometry.items()))

    def to_report(self, title: str | None = None, **section_options: Any):
        """A :class:`nets.document.Report` of this result (:meth:`report_section`)."""
        from ..document import Report

        meta = self.meta
        rep = Report(title or f"Probe of {meta.get('process', 'a process')} [{meta.get('representation', '')}]")
        self.report_section(rep, **section_options)
        return rep


def probe_report(results: Mapping[str, "ProbeResult"], *, figures: Mapping[str, tuple] | None = None,
                 dataset: Any = None, title: str | None = None, checkpoints: Mapping[str, Any] | None = None):
    """One :class:`nets.document.Report` of several results (e.g. one per representation,
    as ``qbelief probe --representation both`` makes), a section each; ``checkpoints``
    (name -> slider entries, :mod:`nets.interactive`) give a result's geometry the training slider."""
    from ..document import Report

    first = next(iter(results.values()))
    rep = Report(title or f"Probe of {first.meta.get('process', 'a process')}")
    for name, r in results.items():
        r.report_section(rep, figures=(figures or {}).get(name), dataset=dataset,
                         checkpoints=(checkpoints or {}).get(name),
                         heading=f"{name} beliefs" if len(results) > 1 else None)
    return rep


def write_probe_report(results: Mapping[str, "ProbeResult"], out: str | os.PathLike, **options: Any):
    """Write :func:`probe_report` as ``report.md`` and ``report.html`` into the folder
    ``out``; returns the Markdown path."""
    from pathlib import Path

    return probe_report(results, **options).write(Path(out) / "report.md")


_NULLABLE_FLOATS = {"r2", "cos_r2", "mse", "rmse", "dist_r2_beliefs", "dist_r2_next", "dist_r2_beliefs_raw",
                    "dist_r2_next_raw"}


def _unjson(x: Any) -> Any:
    """Inverse of :func:`generators.fileio.to_jsonable` for metric dicts: ``None`` inside numeric lists -> NaN."""
    if isinstance(x, dict):
        return {k: (float("nan") if v is None and k in _NULLABLE_FLOATS else _unjson(v)) for k, v in x.items()}
    if isinstance(x, list):
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
            return [float("nan") if v is None else v for v in x]
        return [_unjson(v) for v in x]
    return x


def _f(v: Any, width: int, digits: int) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return f"{'-':>{width}}"
    return f"{v:>{width}.{digits}f}"


def _g(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)
