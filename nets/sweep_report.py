"""A sweep's results: the aggregate over seeds, its figures and ``RESULTS.md`` / ``report.html``.

:func:`aggregate` groups the runs by everything but the seed and gives, per group and per
probe point (layer), the mean and 95% Student-t interval over seeds
(:func:`nets.stats.seed_interval`: ``mean +- t_{n-1} s / sqrt(n)``) of the held-out R^2
and of its baselines (untrained twin, shuffled beliefs, Markov approximation), of the
final relative loss, and -- when the runs probed during training (``probe_every``) -- of
the headline R^2 at every step all seeds probed.  Failed runs are listed, never averaged
(:func:`seed_interval` refuses non-finite values for the same reason).

:func:`write_sweep_report` writes into the sweep's folder ``summary.json`` (the groups),
``sweep_r2_by_point.png`` (small multiples, one panel per group), ``sweep_over_training.png``
(R^2 against the step, a band per group) and ``RESULTS.md`` + ``report.html``
(:class:`nets.document.Report`).

>>> from types import SimpleNamespace as NS
>>> plan = NS(runs=[NS(name=f"g__seed={s}", group="g", seed=s) for s in (0, 1, 2)])
>>> runs = [{"name": f"g__seed={s}", "group": "g", "seed": s, "status": "trained", "final_relative": 1.0,
...          "val_relative": None, "headline": "concat", "verdict": "represented", "over_training": [],
...          "points": {"concat": {"r2": r2, "rmse": 0.1, "shuffled_r2": 0.0, "untrained_r2": None,
...                                "markov_r2": None}}} for s, r2 in zip((0, 1, 2), (0.90, 0.92, 0.94))]
>>> g = aggregate(plan, runs)[0]
>>> round(g["points"]["concat"]["r2"]["mean"], 4), round(g["points"]["concat"]["r2"]["lo"], 4)
(0.92, 0.8703)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from generators.fileio import write_json

from .stats import Interval, seed_interval

__all__ = ["aggregate", "plot_sweep_points", "plot_sweep_over_training", "write_sweep_report", "RESULTS",
           "POINT_METRICS"]

RESULTS = "RESULTS.md"
#: the per-point numbers aggregated (held-out R^2 and the baselines' R^2)
POINT_METRICS = ("r2", "untrained_r2", "shuffled_r2", "markov_r2")
_OK = ("trained", "resumed", "finished")


def _interval(values: Sequence[Any]) -> dict | None:
    """The seed interval of ``values`` as a dict; None when one of them is missing."""
    if not values or any(v is None for v in values):
        return None
    return seed_interval([float(v) for v in values]).to_dict()


def aggregate(plan: Any, summaries: Sequence[dict]) -> list[dict]:
    """Per group (in plan order): ``group``, ``n`` (finished runs), ``seeds``, ``failed``
    (names), ``final_relative`` / ``val_relative`` (interval dicts or None), ``headline``,
    ``verdicts`` (counts), ``points`` (point -> metric -> interval dict or None, for the
    points every finished run has) and ``over_training`` (``[{step, r2}]``, the steps every
    finished run probed)."""
    by_name = {s["name"]: s for s in summaries}
    groups: dict[str, list] = {}
    for r in plan.runs:
        groups.setdefault(r.group, []).append(by_name[r.name])
    out = []
    for group, runs in groups.items():
        ok = [s for s in runs if s["status"] in _OK]
        row = {"group": group, "n": len(ok), "seeds": [s["seed"] for s in ok],
               "failed": [s["name"] for s in runs if s["status"] not in _OK], "points": {}, "over_training": [],
               "final_relative": None, "val_relative": None, "headline": None, "verdicts": {}}
        if ok:
            row.update(_group_numbers(ok))
        out.append(row)
    return out


def _group_numbers(ok: list[dict]) -> dict:
    names = [n for n in ok[0]["points"] if all(n in s["points"] for s in ok)]
    points = {n: {m: _interval([s["points"][n][m] for s in ok]) for m in POINT_METRICS} for n in names}
    steps = sorted(set.intersection(*(set(c["step"] for c in s["over_training"]) for s in ok)))
    by_run = [{c["step"]: c["r2"] for c in s["over_training"]} for s in ok]
    return {"points": points, "final_relative": _interval([s.get("final_relative") for s in ok]),
            "val_relative": _interval([s.get("val_relative") for s in ok]), "headline": ok[0]["headline"],
            "verdicts": dict(Counter(s["verdict"] for s in ok)),
            "over_training": [{"step": t, "r2": _interval([r[t] for r in by_run])} for t in steps]}


# ---------------------------------------------------------------------- figures
def plot_sweep_points(groups: Sequence[dict], path: str | Path | None = None):
    """Small multiples, one panel per group: held-out R^2 by probe point, mean and 95%
    interval over seeds (bars), with the untrained twin's mean (grey crosses)."""
    from .probe.plots import new_figure, save_figure

    shown = [g for g in groups if g["points"]]
    cols = min(3, max(1, len(shown)))
    rows = -(-max(1, len(shown)) // cols)
    fig = new_figure((4.2 * cols, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, g in zip(axes, shown):
        names = list(g["points"])
        x = np.arange(len(names))
        iv = [Interval.from_dict(g["points"][n]["r2"]) for n in names]
        mean = np.array([i.mean for i in iv])
        err = np.array([[i.mean - i.lo for i in iv], [i.hi - i.mean for i in iv]])
        ax.errorbar(x, mean, yerr=err, fmt="o", color="tab:blue", capsize=3, label="trained (95% over seeds)")
        un = [g["points"][n]["untrained_r2"] for n in names]
        if all(u is not None for u in un):
            ax.plot(x, [u["mean"] for u in un], "x", color="0.5", label="untrained twin")
        ax.set_xticks(x, [n.replace("layers.", "L").replace("blocks.", "B") for n in names], rotation=45,
                      ha="right", fontsize=7)
        ax.set_ylim(min(0.0, float(np.nanmin(mean)) - 0.05), 1.02)
        ax.set_title(f"{g['group']} (n={g['n']})", fontsize=8)
        ax.set_ylabel("held-out R²", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for extra in axes[len(shown):]:
        extra.set_visible(False)
    if shown:
        axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Probe fit by layer, mean and 95% interval over seeds", fontsize=10)
    save_figure(fig, path)
    return fig


def plot_sweep_over_training(groups: Sequence[dict], path: str | Path | None = None):
    """The headline R^2 against the training step, per group: the mean over seeds and its
    95% interval (a band).  None when no group has probes over training."""
    from .probe.plots import new_figure, save_figure

    shown = [g for g in groups if len(g["over_training"]) > 1]
    if not shown:
        return None
    fig = new_figure((6.5, 3.8))
    ax = fig.subplots()
    for g in shown:
        steps = [c["step"] for c in g["over_training"]]
        iv = [Interval.from_dict(c["r2"]) for c in g["over_training"]]
        line, = ax.plot(steps, [i.mean for i in iv], "o-", ms=3, label=f"{g['group']} (n={g['n']})")
        ax.fill_between(steps, [i.lo for i in iv], [i.hi for i in iv], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out R² (headline point)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Belief geometry over training, mean and 95% interval over seeds", fontsize=10)
    save_figure(fig, path)
    return fig


# ---------------------------------------------------------------------- the report
def write_sweep_report(plan: Any, summaries: Sequence[dict], groups: Sequence[dict], *, seconds: float | None = None,
                       command: str | None = None) -> Path:
    """``summary.json``, the figures and ``RESULTS.md`` + ``report.html`` in ``plan.out``;
    returns the Markdown path."""
    from .document import Report

    out = Path(plan.out)
    write_json(out / "summary.json", {"groups": list(groups), "seconds": seconds})
    status = Counter(s["status"] for s in summaries)
    rep = Report(f"Sweep {out.name}: {len(summaries)} runs in {len(groups)} groups")
    rep.text(f"Seeds {list(plan.options.seeds)}; probe: {plan.options.representation} beliefs, "
             f"{plan.options.weighting} weighting, probe seed {plan.options.probe_seed}"
             + (", with the untrained-twin and Markov baselines" if plan.options.controls else "") + ". "
             + "Runs: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
             + (f". Wall time {seconds:.0f} s." if seconds is not None else ".")
             + " Every number is the mean and 95% Student-t interval over seeds.")
    rep.table(["group", "n", "loss / optimum (last 5 logs)", "headline point", "headline R²", "untrained R²", "verdicts"],
              [_group_row(g) for g in groups], caption="Per group (every grid value but the seed)")
    rows = [[g["group"], n] + [_iv(m[k]) for k in POINT_METRICS] for g in groups for n, m in g["points"].items()]
    rep.table(["group", "point", "R²", "untrained R²", "shuffled R²", "Markov R²"], rows,
              caption="Held-out R² by probe point (layer)")
    fig = out / "sweep_r2_by_point.png"
    plot_sweep_points(groups, fig)
    rep.figure(fig, "Held-out R² by layer per group, mean and 95% interval over seeds; grey: untrained twin")
    if plot_sweep_over_training(groups, out / "sweep_over_training.png") is not None:
        rep.figure(out / "sweep_over_training.png", "Headline R² over training (probe_every), band: 95% over seeds")
    _geometry_figures(rep, plan, groups)
    failed = [s for s in summaries if s["status"] not in _OK]
    if failed:
        rep.section("Runs that did not finish")
        rep.bullets(f"`{s['name']}`: {s['status']} -- {s.get('error', '')}" for s in failed)
    rep.section("Runs")
    rep.text(f"Each run is a training directory under `{out.name}/runs/`: `qbelief train --resume --out RUN` "
             "continues one alone from its `config.json` (also under torchrun, `--nproc N`; `qbelief sweep --prepare` "
             "writes every run's config first).")
    if command:
        rep.reproduce(command)
    return rep.write(out / RESULTS)


def _geometry_figures(rep: Any, plan: Any, groups: Sequence[dict]) -> None:
    """Each group's small multiples of the probed geometry over training (its first
    finished seed's ``probe_over_training.png``), when the runs probed during training."""
    from .probe.over_training import FIGURE

    shown = []
    for g in groups:
        run = next((r for r in plan.runs if r.group == g["group"] and r.seed in g["seeds"]), None)
        if run is not None and (plan.run_dir(run) / FIGURE).is_file():
            shown.append((g["group"], run, plan.run_dir(run) / FIGURE))
    if shown:
        rep.section("Geometry over training")
        for group, run, path in shown:
            rep.figure(path, f"{group}, seed {run.seed}: the probe's projection of the held-out activations "
                             "over training beside the true beliefs")


def _iv(d: dict | None) -> str:
    return "-" if d is None else Interval.from_dict(d).format()


def _group_row(g: dict) -> list:
    head = g["points"].get(g["headline"], {}) if g["headline"] else {}
    verdicts = ", ".join(f"{k} {v}" for k, v in g["verdicts"].items()) or "-"
    return [g["group"], g["n"], _iv(g["final_relative"]), g["headline"] or "-", _iv(head.get("r2")),
            _iv(head.get("untrained_r2")), verdicts]
