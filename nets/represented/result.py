"""What :func:`nets.what_is_represented` found: :class:`RepresentedResult` (table rows per
point x target, the horizon, verdicts; JSON, a text summary, a figure, a Markdown report)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from generators.fileio import to_jsonable, write_json

__all__ = ["RepresentedResult", "target_label"]


def target_label(target: str) -> str:
    """Plain words for a target name: ``next_4`` -> ``next 4 tokens``."""
    if target.startswith("next_"):
        return f"next {target[5:]} tokens"
    return {"belief": "belief", "next": "next token", "beyond_next": "belief beyond next token"}.get(target, target)


@dataclass
class RepresentedResult:
    """Which targets each activation point represents (:func:`nets.what_is_represented`).

    Attributes
    ----------
    points : list of str -- activation points in layer order, ``"concat"`` last
    headline : str -- the point the intervals and the probe's verdicts are about
    targets : list of str -- ``belief``, ``next``, ``next_k`` ..., ``beyond_next``
    rows : list of dict -- one per point x probed target: ``point``, ``target``, held-out
        ``r2`` and ``cos_r2``, ``rank``, ``dim``, the controls' ``shuffled_r2`` and
        ``untrained_r2`` (None without an untrained network)
    baselines : dict target -> ``{"verdict", "markov_order", "markov_r2"}`` at the headline
    intervals : dict target -> :meth:`nets.stats.Interval.to_dict` of the headline's R^2
        (bootstrap over its held-out rows; empty with ``n_boot=0``)
    horizon : int or None -- smallest k whose next-k distribution determines the belief
    future_ranks : list of int -- rank of the next-k map on belief coordinates, k = 1, 2, ...
    belief_dim : int -- number of belief coordinates (minimal dimension - 1)
    beyond : dict k -> share of the belief's weighted variance the next-k distribution
        does not determine on the probed rows (k = 1 and the horizons)
    verdicts : dict point -> str
    meta : dict -- process, sizes, options
    """

    points: list
    headline: str
    targets: list
    rows: list
    baselines: dict
    intervals: dict
    horizon: int | None
    future_ranks: list
    belief_dim: int
    beyond: dict
    verdicts: dict
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ access
    @property
    def probed(self) -> list[str]:
        """The targets that were probed (``beyond_next`` is not when nothing lies beyond)."""
        seen = {r["target"] for r in self.rows}
        return [t for t in self.targets if t in seen]

    def row(self, point: str, target: str) -> dict:
        for r in self.rows:
            if r["point"] == point and r["target"] == target:
                return r
        raise KeyError(f"no row for point {point!r} and target {target!r}; points {self.points}, "
                       f"probed targets {self.probed}")

    def r2(self, point: str, target: str) -> float:
        """Held-out R^2 of ``point``'s activations onto ``target``."""
        v = self.row(point, target)["r2"]
        return float("nan") if v is None else float(v)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return to_jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping) -> "RepresentedResult":
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n != "meta" and n not in d]
        if missing:
            raise ValueError(f"not a RepresentedResult dictionary: missing {missing}")
        kw = {n: d[n] for n in names if n in d}
        kw["beyond"] = {int(k): v for k, v in d["beyond"].items()}
        return cls(**kw)

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the result as JSON atomically (NaN as null)."""
        return write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "RepresentedResult":
        with open(path, "r", encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    # ------------------------------------------------------------------ text
    def facts(self) -> list[str]:
        """The process-side facts in sentences (horizon, what lies beyond the next k)."""
        h = self.horizon
        nxt = "the next token" if h == 1 else f"the next {h} tokens"
        hz = ("never within the bound searched" if h is None else f"{h}: the distribution of {nxt} determines the "
              f"belief ({self.belief_dim} coordinates)")
        out = [f"process {self.meta.get('process', '?')}: horizon {hz}; rank of the next-k map for k = 1, 2, ...: "
               f"{self.future_ranks}"]
        out.append("belief variance beyond the next k tokens on these rows: "
                   + ", ".join(f"k={k}: {100 * v:.2f}%" for k, v in sorted(self.beyond.items())))
        return out

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """``(header, rows)``: one row per point x target (the headline's R^2 with its interval)."""
        from ..stats import Interval

        header = ["point", "target", "R^2", "cos R^2", "untrained R^2", "shuffled R^2", "rank"]
        body = []
        for r in self.rows:
            iv = self.intervals.get(r["target"]) if r["point"] == self.headline else None
            r2 = Interval.from_dict(iv) if iv else r["r2"]
            body.append([r["point"], target_label(r["target"]), r2, r["cos_r2"], r["untrained_r2"], r["shuffled_r2"],
                         r["rank"]])
        return header, body

    def summary(self) -> str:
        """A text table for terminals, the process facts and a verdict per point."""
        from ..document import fmt

        header, body = self.table()
        cells = [header] + [[fmt(v) for v in row] for row in body]
        widths = [max(len(str(c[i])) for c in cells) for i in range(len(header))]
        lines = self.facts()
        lines.append("  ".join(f"{h:<{w}}" for h, w in zip(header, widths)))
        lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
        lines += ["  ".join(f"{c:<{w}}" for c, w in zip(row, widths)) for row in cells[1:]]
        lines += self._markov_line()
        lines += [f"{p}: {v}" for p, v in self.verdicts.items()]
        return "\n".join(lines)

    def _markov_line(self) -> list[str]:
        """The Markov-k baseline's R^2 onto each target at the headline (or nothing)."""
        from ..document import fmt

        mk = {t: b for t, b in self.baselines.items() if b.get("markov_r2") is not None}
        if not mk:
            return []
        order = next(iter(mk.values()))["markov_order"]
        return [f"Markov-{order} baseline (the last {order} symbols) at {self.headline}: "
                + ", ".join(f"{target_label(t)} R^2 {fmt(b['markov_r2'])}" for t, b in mk.items())]

    def __str__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ figure and report
    def figure(self, title: str | None = None):
        """A :class:`matplotlib.figure.Figure`: held-out R^2 by point, one line per target
        (solid), the untrained network's dashed in the same colour."""
        import matplotlib
        from matplotlib.figure import Figure

        fig = Figure(figsize=(max(6.0, 1.1 * len(self.points) + 2.5), 4.2), dpi=120)
        ax = fig.subplots()
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        x = np.arange(len(self.points))
        lo = 0.0
        for i, t in enumerate(self.probed):
            c = colors[i % len(colors)]
            y = np.array([_num(self.row(p, t)["r2"]) for p in self.points])
            ax.plot(x, y, "o-", color=c, lw=1.6, label=target_label(t))
            u = np.array([_num(self.row(p, t)["untrained_r2"]) for p in self.points])
            if np.any(np.isfinite(u)):
                ax.plot(x, u, "x--", color=c, lw=0.9, alpha=0.7, label=f"{target_label(t)} (untrained)")
            lo = min(lo, np.nanmin(np.r_[y, u, 0.0]))
        ax.set_xticks(x, self.points, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(max(lo, -0.5) - 0.05, 1.05)
        ax.set_ylabel("held-out R$^2$")
        ax.axhline(0.0, color="k", lw=0.6)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        h = "none" if self.horizon is None else self.horizon
        ax.set_title(title or f"{self.meta.get('process', '')}: what each point represents (horizon {h})")
        fig.tight_layout()
        return fig

    def save_figure(self, path: str | os.PathLike) -> str:
        """Write :meth:`figure` as PNG atomically (:func:`nets.report.save_figure`)."""
        from ..report import save_figure

        return save_figure(self.figure(), path)

    def report(self, figure: str | os.PathLike | None = None):
        """A :class:`nets.document.Report`: facts, the table, the verdicts, the figure."""
        from ..document import Report

        rep = Report(f"What is represented: {self.meta.get('process', '')}")
        rep.section("The process")
        rep.bullets(self.facts())
        rep.section("Held-out fit by point and target")
        header, body = self.table()
        rep.table(header, body, caption=f"R^2 at {self.headline} with a 95% bootstrap interval over its held-out "
                                        "rows; controls: an untrained twin, shuffled targets")
        rep.text(*self._markov_line())
        rep.section("Verdicts")
        rep.bullets(f"`{p}`: {v}" for p, v in self.verdicts.items())
        if figure is not None:
            rep.figure(figure, "held-out R^2 by point, one line per target (dashed: untrained network)")
        return rep

    def write(self, folder: str | os.PathLike) -> dict[str, Path]:
        """``represented.json``, ``represented.png`` and ``represented.md`` in ``folder``
        (created if needed), each written atomically; returns their paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "represented.json", "figure": out / "represented.png",
                 "markdown": out / "represented.md"}
        self.to_json(paths["json"])
        self.save_figure(paths["figure"])
        self.report(paths["figure"]).write(paths["markdown"])
        return paths


def _num(v: Any) -> float:
    return float("nan") if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
