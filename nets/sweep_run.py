"""Running a sweep: each run trained (or resumed, or found finished), probed, summarized;
then the aggregate over seeds (:mod:`nets.sweep_report`).

One run (:func:`run_one`, what a worker executes; a plain function of a JSON-able task so
a process pool or a Ray cluster can run it):

1. train -- a run directory holding a finished run (its newest checkpoint at ``steps``, its
   config equal up to :data:`nets.checkpoint.RESUMABLE_CHANGES`) is not retrained; one with
   an earlier checkpoint is resumed (:func:`nets.train.train` with ``resume=True``, exact);
   an empty one is trained;
2. probe -- the newest checkpoint with :class:`nets.probe.over_training.TrainingProbe`
   (the sweep's representation, weighting and seed; with ``controls`` the untrained twin
   -- initialized from the run's training seed + 1, so that baseline varies over seeds
   as the trained network does -- and the Markov baseline), kept in ``RUN/sweep_probe.json`` with the step and options it
   was made with (reused while they match);
3. trackers -- with ``TrainConfig.log`` the run's tracker runs are grouped under the
   sweep's folder name, and the probe's per-point R^2 and its figures go to them
   (continuing the training's tracker runs, :mod:`nets.tracking`);
4. summary -- a JSON dict (status, seconds, the last logged loss, ``final_relative``: the
   mean relative loss (loss / optimum) of the last 5 logged steps, the last exact
   validation loss when ``eval_every`` made one, per-point held-out R^2 and
   baselines, the probe records over training when ``probe_every`` made them).

A failing run returns ``status="failed"`` with the error line; the others go on.

Cost: a training plus one probe per run (``O(n d^2)`` for the probe's closed-form CV
over ``n`` prefixes and width ``d``); the aggregation is negligible.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from generators.fileio import write_json

__all__ = ["run_one", "run_task", "run_sweep", "SweepOutcome", "SUMMARY", "PROBE_FILE", "default_workers"]

#: each run's probe, written by the sweep
PROBE_FILE = "sweep_probe.json"
#: logged steps averaged into a run's final relative loss (one batch's loss is noisy)
_TAIL = 5
#: the sweep's per-run summaries (a JSON list, in plan order)
SUMMARY = "runs.json"


def default_workers(threads: int = 1) -> int:
    """Workers of the local pool: the CPUs this process may use, divided by ``threads``."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, threads))


def run_task(plan: Any, run: Any, threads: int) -> dict:
    """The JSON-able task of ``run`` of ``plan`` (:class:`nets.sweep.SweepPlan`) for :func:`run_one`."""
    o = plan.options
    return {"name": run.name, "group": run.group, "seed": run.seed, "config": run.config, "sweep": plan.out.name,
            "run_dir": str(plan.run_dir(run)), "threads": int(threads),
            "probe": {"representation": o.representation, "weighting": o.weighting, "seed": o.probe_seed},
            "controls": o.controls}


def run_one(task: dict) -> dict:
    """Train, probe and summarize one run (see the module docstring); never raises."""
    t0 = time.perf_counter()
    import torch

    threads = torch.get_num_threads()  # a run in this process (workers=1) leaves the caller's threads as they were
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a worker's warnings would interleave; metrics.jsonl has the run
            torch.set_num_threads(task["threads"])
            summary = _run(task)
    except Exception as e:  # one failing run must not stop the sweep
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        summary = {"status": "failed", "error": f"{type(e).__name__}: {lines[0] if lines else ''}"[:500]}
    finally:
        torch.set_num_threads(threads)
    return {"name": task["name"], "group": task["group"], "seed": task["seed"],
            "seconds": time.perf_counter() - t0, **summary}


def _run(task: dict) -> dict:
    from .config import TrainConfig
    from .train import train

    cfg = TrainConfig.from_dict({**task["config"], "num_threads": task["config"].get("num_threads")
                                 or task["threads"]})
    out = Path(task["run_dir"])
    if cfg.log:
        from .tracking import set_group

        set_group(out, task["sweep"])
    status = _train_status(out, cfg)
    if status != "finished":
        res = train(cfg, resume=status in ("resume", "prepared"))
        if res.steps_done < cfg.steps:
            return {"status": "stopped", "error": f"stopped at step {res.steps_done} of {cfg.steps} (max_time_s)"}
    summary = {"status": {"new": "trained", "prepared": "trained", "resume": "resumed"}.get(status, "finished")}
    summary.update(_losses(out))
    summary.update(_probe(out, task, cfg))
    summary["over_training"] = _over_training(out)
    return summary


def _train_status(out: Path, cfg: Any) -> str:
    """``"new"`` (no run yet), ``"prepared"`` (its ``config.json`` only: written by
    :meth:`nets.sweep.SweepPlan.prepare`, or a run killed before its first checkpoint),
    ``"resume"`` (a checkpoint before ``cfg.steps``) or ``"finished"`` (a checkpoint at
    ``cfg.steps`` of the same config up to the resumable fields; a different config raises)."""
    from . import rundir
    from .checkpoint import check_resumable, open_run

    if not rundir.holds_run(out):
        return "new"
    if not any(p.exists() for p in rundir.candidates(out)):
        return "prepared"
    ckpt, _, _ = open_run(out)
    check_resumable(cfg, ckpt["config"])
    return "finished" if int(ckpt["step"]) >= cfg.steps else "resume"


def _losses(out: Path) -> dict:
    from .rundir import METRICS, read_jsonl

    recs = read_jsonl(out / METRICS)
    if not recs:
        return {}
    tail = [r for r in recs[-_TAIL:] if r.get("relative") is not None]
    vals = [r for r in recs if "val_relative" in r]
    return {"step": recs[-1]["step"], "final_loss": recs[-1]["loss"],
            "final_relative": sum(r["relative"] for r in tail) / len(tail) if tail else None,
            "val_relative": vals[-1]["val_relative"] if vals else None}


def _probe(out: Path, task: dict, cfg: Any) -> dict:
    """The newest checkpoint's probe (reused from ``RUN/sweep_probe.json`` when made at the
    same step with the same options), as per-point numbers; figures and trackers on a new probe."""
    from .checkpoint import load_model
    from .probe.over_training import TrainingProbe
    from .probe.result import ProbeResult

    path, options = out / PROBE_FILE, {**task["probe"], "controls": task["controls"]}
    step = _checkpoint_step(out)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved["step"] == step and saved["options"] == options:
            return _points(ProbeResult.from_dict(saved["result"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    auto = "auto" if task["controls"] else None
    model, _ = load_model(out)
    result, _ = TrainingProbe(**task["probe"]).probe(model.eval(), cfg.generator(), untrained=auto, markov_order=auto,
                                                     twin_seed=cfg.seed)
    write_json(path, {"step": step, "options": options, "result": result.to_dict()})
    figures = _figures(result, out)
    if cfg.log:
        _track(cfg, out, result, step, figures)
    return _points(result)


def _checkpoint_step(out: Path) -> int:
    from .checkpoint import open_run

    return int(open_run(out)[0]["step"])


def _figures(result: Any, out: Path) -> list[Path]:
    from .probe.plots import plot_belief_geometry, plot_fit_by_layer

    paths = [out / "sweep_probe_geometry.png", out / "sweep_probe_by_layer.png"]
    plot_belief_geometry(result, paths[0])
    plot_fit_by_layer(result, paths[1])
    return paths


def _track(cfg: Any, out: Path, result: Any, step: int, figures: list[Path]) -> None:
    """The probe's numbers and figures into the run's trackers (continuing its runs)."""
    from .tracking import Tracking

    with Tracking.open(cfg.log, out, name=out.name) as tr:
        tr.log_summary({f"probe/{n}/r2": p.r2 for n, p in result.points.items()}, step)
        for f in figures:
            tr.log_figure(f, step)


def _points(result: Any) -> dict:
    """Per-point held-out numbers of a probe: R^2, RMSE and the baselines' R^2."""
    pts = {}
    for n, p in result.points.items():
        pts[n] = {"r2": p.r2, "rmse": p.rmse, "shuffled_r2": float(p.shuffled["r2"]),
                  "untrained_r2": None if p.untrained is None else float(p.untrained["r2"]),
                  "markov_r2": None if p.markov_targets is None else float(p.markov_targets["r2"])}
    return {"points": pts, "headline": result.headline, "verdict": result.verdict}


def _over_training(out: Path) -> list[dict]:
    """The run's probe records over training (``probes.jsonl``): ``[{step, r2}]``."""
    from .probe.over_training import PROBES
    from .rundir import read_jsonl

    p = out / PROBES
    return [{"step": r["step"], "r2": r["r2"]} for r in read_jsonl(p)] if p.exists() else []


# ---------------------------------------------------------------------- the sweep
class SweepOutcome:
    """What :func:`run_sweep` did: the per-run ``summaries`` (plan order), the aggregate
    ``groups`` (:func:`nets.sweep_report.aggregate`), the ``report`` path and ``seconds``."""

    def __init__(self, summaries: list, groups: list, report: Path, seconds: float):
        self.summaries, self.groups, self.report, self.seconds = summaries, groups, report, seconds

    @property
    def failed(self) -> list:
        return [s for s in self.summaries if s["status"] in ("failed", "stopped")]


def _warn_missing_trackers(plan: Any) -> None:
    """One warning per tracker the runs ask for that is not installed (the workers are quiet)."""
    from .tracking import EXTRAS, TrackingWarning, available

    wanted = dict.fromkeys(t for r in plan.runs for t in r.config.get("log", []))
    for t in (t for t in wanted if not available(t)):
        warnings.warn(f"tracker {t} is not installed (pip install '{EXTRAS[t][1]}'); the runs do not log to it "
                      "(metrics.jsonl has everything)", TrackingWarning, stacklevel=3)


def run_sweep(plan: Any, *, workers: int | None = None, threads: int = 1, backend: str = "local",
              address: str | None = None, progress: Callable[[dict, int, int], Any] | None = None,
              command: str | None = None) -> SweepOutcome:
    """Run every run of ``plan`` (:class:`nets.sweep.SweepPlan`) on ``backend`` ("local":
    a process pool of ``workers``, default :func:`default_workers`; "ray": a Ray cluster at
    ``address``, or a local instance), ``threads`` torch threads each; then aggregate and
    write ``OUT/RESULTS.md`` (+ ``report.html``, ``summary.json``, figures).  ``progress``
    is called as ``progress(summary, done, total)`` after each run; ``command`` is the
    reproduce line of the report."""
    from .sweep_backends import run_tasks
    from .sweep_report import aggregate, write_sweep_report

    t0 = time.perf_counter()
    _warn_missing_trackers(plan)
    plan.out.mkdir(parents=True, exist_ok=True)
    write_json(plan.out / "sweep.json", {"source": plan.source, "runs": [r.name for r in plan.runs]})
    tasks = [run_task(plan, r, threads) for r in plan.runs]
    done: dict[str, dict] = {}
    for summary in run_tasks(tasks, backend=backend, workers=workers or default_workers(threads),
                             address=address, threads=threads):
        done[summary["name"]] = summary
        if progress is not None:
            progress(summary, len(done), len(tasks))
    summaries = [done[r.name] for r in plan.runs]
    write_json(plan.out / SUMMARY, summaries)
    groups = aggregate(plan, summaries)
    seconds = time.perf_counter() - t0
    report = write_sweep_report(plan, summaries, groups, seconds=seconds, command=command)
    return SweepOutcome(summaries, groups, report, seconds)
