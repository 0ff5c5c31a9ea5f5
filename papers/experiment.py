"""The experiment framework: a reproduction is configuration plus analysis.

A paper's module defines a subclass of :class:`Experiment` with

- ``name``, ``title`` (with the arXiv id) and ``modes`` -- :class:`Mode` objects for
  ``"tiny"`` (the CI test: seconds), ``"quick"`` (a 2-core CPU, at most 20 minutes) and
  ``"full"`` (the paper's scale, a GPU): seeds, training settings, analysis settings;
- :meth:`Experiment.runs` -- the :class:`Run` objects a mode needs (process x
  architecture x seed x protocol variant), each with the ``TrainConfig`` fields it trains
  with (or none) and the ``group`` its seeds are pooled in;
- :meth:`Experiment.analyze` -- the science: the metrics of one trained run (a nested dict
  of numbers; figures may be written to ``ctx.out``);
- :meth:`Experiment.report` -- what the numbers show, written into a
  :class:`nets.document.Report` from the pooled :class:`Results` (each metric a mean with a
  95% interval over seeds, :mod:`nets.stats`).

The base class owns everything else: output folders, hardware description, single-threaded
BLAS, staged resume (each run's training checkpoints under ``runs/<key>/`` and its
analysis under ``stages/<key>.json``: an interrupted experiment continues where it
stopped, ``--fresh`` starts over), pooling over seeds, ``results.json`` and
``RESULTS.md`` and ``report.html`` (the same Report rendered to Markdown and HTML), and the
command line (``python -m papers.<name> --quick|--full|--tiny [--seeds N] [--protocol
ours|paper|both] [--out DIR] [--fresh] [--quiet]``, also ``qbelief paper <name>``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Iterable

import numpy as np

from generators.fileio import to_jsonable, write_json

__all__ = ["Experiment", "Mode", "Run", "RunContext", "Results", "Timer", "hardware", "flatten_metrics",
           "PROTOCOLS"]

#: which protocol variants a run includes: ours, the paper's exact one, or both side by side
PROTOCOLS = ("both", "ours", "paper")


@dataclass(frozen=True)
class Mode:
    """One scale of an experiment.

    name : "tiny" | "quick" | "full";  seeds : training seeds (>= 3 in quick mode)
    train : TrainConfig fields shared by the runs (a run may override any)
    analysis : free-form analysis settings (sample counts, folds, ...)
    budget_s : the wall-clock budget this mode is designed for (reported, not enforced)
    protocol : "both" | "ours" | "paper" (see :data:`PROTOCOLS`)
    """

    name: str
    seeds: tuple[int, ...] = (0, 1, 2)
    train: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    budget_s: float | None = None
    protocol: str = "both"

    def with_seeds(self, n: int) -> "Mode":
        return replace(self, seeds=tuple(range(int(n))))


@dataclass(frozen=True)
class Run:
    """One unit of work: train (optionally) and analyze.

    key : unique, file-system safe identifier (``"mess3_x0.15-s1"``)
    group : runs with the same group differ only by seed and are pooled
    seed : the training seed
    train : TrainConfig fields (the process included) or None when nothing is trained
    params : JSON-able facts the analysis needs (process parameters, labels, ...)
    """

    key: str
    group: str
    seed: int
    train: dict | None = None
    params: dict = field(default_factory=dict)


@dataclass
class RunContext:
    """What :meth:`Experiment.analyze` gets besides the run: the mode, the output folder
    (for figures), the training result (``None`` without training) and its history."""

    mode: Mode
    out: Path
    trained: Any = None
    quiet: bool = False

    def say(self, *args) -> None:
        if not self.quiet:
            print(*args, flush=True)


def flatten_metrics(d: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested dict as ``{"a.b.c": value}`` (bools and strings skipped;
    lists of numbers are not leaves)."""
    out: dict[str, float] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(flatten_metrics(v, f"{prefix}{k}."))
    elif isinstance(d, (int, float, np.integer, np.floating)) and not isinstance(d, (bool, np.bool_)):
        out[prefix[:-1]] = float(d)
    return out


class Results:
    """Per-run metrics and their pooling over seeds.

    ``results.metrics(key)`` -- one run's nested metrics;
    ``results.group_runs(group)`` -- the runs of a group;
    ``results.interval(group, "probe.concat.r2")`` -- mean with a 95% t interval over the
    group's seeds (:func:`nets.stats.seed_interval`); NaN leaves make it an error, a leaf
    missing in some seeds is pooled over the seeds that have it.
    """

    def __init__(self, experiment: "Experiment", mode: Mode, runs: list[Run], metrics: dict[str, dict],
                 histories: dict[str, list], seconds: dict, hw: dict):
        self.experiment, self.mode, self.runs = experiment, mode, runs
        self._metrics, self.histories, self.seconds, self.hardware = metrics, histories, seconds, hw

    @property
    def groups(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.runs:
            seen.setdefault(r.group, None)
        return list(seen)

    def group_runs(self, group: str) -> list[Run]:
        return [r for r in self.runs if r.group == group]

    def metrics(self, key: str) -> dict:
        return self._metrics[key]

    def values(self, group: str, path: str) -> np.ndarray:
        vals = [flatten_metrics(self._metrics[r.key]).get(path) for r in self.group_runs(group)]
        return np.array([v for v in vals if v is not None], dtype=float)

    def interval(self, group: str, path: str):
        from nets.stats import seed_interval

        v = self.values(group, path)
        if v.size == 0:
            raise KeyError(f"no run of group {group!r} has metric {path!r}")
        return seed_interval(v)

    def pooled(self) -> dict:
        """``{group: {metric path: interval dict}}`` over every numeric leaf."""
        out = {}
        for g in self.groups:
            paths: dict[str, None] = {}
            for r in self.group_runs(g):
                for p in flatten_metrics(self._metrics[r.key]):
                    paths.setdefault(p, None)
            out[g] = {p: self.interval(g, p).to_dict() for p in paths if np.isfinite(self.values(g, p)).all()}
        return out

    def to_dict(self) -> dict:
        return {"experiment": self.experiment.name, "title": self.experiment.title, "mode": asdict(self.mode),
                "runs": [asdict(r) for r in self.runs], "metrics": self._metrics, "pooled": self.pooled(),
                "seconds": self.seconds, "hardware": self.hardware}


class Experiment:
    """Base class of a reproduction (see the module docstring)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    modes: ClassVar[dict[str, Mode]] = {}
    #: the Markdown report's file name in the output folder (``report.html`` goes beside it)
    report_file: ClassVar[str] = "RESULTS.md"

    # ------------------------------------------------------------------ to override
    def runs(self, mode: Mode) -> list[Run]:
        raise NotImplementedError(f"{type(self).__name__} must define runs(mode)")

    def analyze(self, run: Run, ctx: RunContext) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define analyze(run, ctx)")

    def report(self, results: Results, rep) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define report(results, rep)")

    # ------------------------------------------------------------------ machinery
    def default_out(self, mode: str) -> Path:
        import importlib

        module = importlib.import_module(type(self).__module__)
        return Path(module.__file__).resolve().parent / "results" / mode

    def execute(self, mode: str | Mode = "quick", out: str | os.PathLike | None = None, *, quiet: bool = False,
                fresh: bool = False, seeds: int | None = None, protocol: str | None = None) -> Results:
        """Train and analyze every run of ``mode`` (skipping stages already done), pool over
        seeds, write ``results.json`` and ``RESULTS.md``; return the :class:`Results`."""
        m = self._mode(mode, seeds, protocol)
        out = Path(out) if out is not None else self.default_out(m.name)
        out.mkdir(parents=True, exist_ok=True)
        timer = Timer()
        runs = self.runs(m)
        _check_unique(runs)
        metrics, histories = {}, {}
        from papers._blas import blas_threads

        with blas_threads(1):
            for run in runs:
                metrics[run.key], histories[run.key], secs, cached = self._stage(run, m, out, quiet=quiet,
                                                                                   fresh=fresh)
                timer.add(run.group, secs, elsewhere=cached)
        hw = hardware()
        results = Results(self, m, runs, metrics, histories, timer.totals(), hw)
        from nets.document import Report

        rep = Report(self.title)
        self.report(results, rep)
        rep.reproduce(self.command(m), hardware=hw, seconds=results.seconds)
        write_json(out / "results.json", results.to_dict(), default=str)
        rep.write(out / self.report_file)
        if not quiet:
            print(f"== {self.name} ({m.name}): {len(runs)} runs in {timer.total:.0f} s -> {out}", flush=True)
        return results

    def command(self, mode: Mode) -> str:
        extra = "" if mode.protocol == "both" else f" --protocol {mode.protocol}"
        return f"qbelief paper {self.name} --{mode.name}{extra}    # or: python -m papers.{self.name} --{mode.name}"

    def _mode(self, mode: str | Mode, seeds: int | None, protocol: str | None) -> Mode:
        if isinstance(mode, Mode):
            m = mode
        elif mode in self.modes:
            m = self.modes[mode]
        else:
            raise ValueError(f"{self.name} has no mode {mode!r}; modes: {', '.join(self.modes)}")
        if seeds is not None:
            if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
                raise ValueError(f"seeds must be a positive integer; got {seeds!r}")
            m = m.with_seeds(seeds)
        if protocol is not None:
            if protocol not in PROTOCOLS:
                raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
            m = replace(m, protocol=protocol)
        return m

    def _stage(self, run: Run, mode: Mode, out: Path, *, quiet: bool, fresh: bool
               ) -> tuple[dict, list, float, bool]:
        """``(metrics, history, seconds, cached)`` of ``run``: read from its stage file
        when an earlier process finished it (``cached``; with the seconds that process
        spent on it), else trained, analyzed and saved now."""
        stage = out / "stages" / f"{run.key}.json"
        run_dir = out / "runs" / run.key
        if fresh:
            stage.unlink(missing_ok=True)
            shutil.rmtree(run_dir, ignore_errors=True)
        if stage.is_file():
            try:
                saved = json.loads(stage.read_text())
                if saved.get("run") == to_jsonable(asdict(run)):
                    return saved["metrics"], saved.get("history", []), float(saved.get("seconds", 0.0)), True
            except (OSError, ValueError, KeyError):
                pass  # damaged or stale stage: redo it
        t0 = time.perf_counter()
        ctx = RunContext(mode=mode, out=out, quiet=quiet)
        if run.train is not None:
            ctx.trained = self.train_run(run, run_dir, quiet=quiet)
        metrics = to_jsonable(self.analyze(run, ctx))
        history = _thin(getattr(ctx.trained, "history", None) or [], 400)
        seconds = time.perf_counter() - t0
        write_json(stage, {"run": asdict(run), "metrics": metrics, "history": history, "seconds": seconds},
                   default=str)
        return metrics, history, seconds, False

    def train_run(self, run: Run, run_dir: Path, *, quiet: bool):
        """Train ``run`` with its TrainConfig fields into ``run_dir``, resuming a checkpoint
        left by an interrupted earlier attempt (the folder is the experiment's own: what an
        attempt left there without a checkpoint is replaced)."""
        from nets.config import TrainConfig
        from nets.train import train

        fields = dict(run.train, seed=run.seed, out_dir=str(run_dir), quiet=quiet)
        cfg = TrainConfig.from_dict(fields)
        resume = (run_dir / "checkpoint.pt").is_file()  # else: files of an attempt that never checkpointed
        return train(cfg, resume=resume, overwrite=not resume)

    # ------------------------------------------------------------------ command line
    def main(self, argv: list[str] | None = None) -> int:
        ap = argparse.ArgumentParser(prog=f"python -m papers.{self.name}", description=self.title)
        g = ap.add_mutually_exclusive_group()
        for name in self.modes:
            g.add_argument(f"--{name}", dest="mode", action="store_const", const=name,
                           help=_MODE_HELP.get(name, f"mode {name}"))
        ap.add_argument("--seeds", type=int, default=None, help="number of training seeds (default: the mode's)")
        ap.add_argument("--protocol", choices=PROTOCOLS, default=None,
                        help="ours, the paper's exact protocol, or both side by side (default both)")
        ap.add_argument("--out", default=None, help=f"output folder (default papers/{self.name}/results/<mode>)")
        ap.add_argument("--fresh", action="store_true", help="ignore finished stages and checkpoints; start over")
        ap.add_argument("--quiet", action="store_true", help="no progress output")
        args = ap.parse_args(argv)
        self.execute(args.mode or "quick", args.out, quiet=args.quiet, fresh=args.fresh, seeds=args.seeds,
                     protocol=args.protocol)
        return 0


_MODE_HELP = {"tiny": "seconds: the CI test", "quick": "a 2-core CPU in at most 20 minutes (default)",
              "full": "the paper's own scale (a GPU)"}


def _check_unique(runs: Iterable[Run]) -> None:
    seen = set()
    for r in runs:
        if r.key in seen:
            raise ValueError(f"two runs share the key {r.key!r}; keys must be unique")
        if not r.key or any(c in r.key for c in "/\\") or r.key.startswith("."):
            raise ValueError(f"run key {r.key!r} must be a plain file name")
        seen.add(r.key)


def _thin(history: list, n: int) -> list:
    if len(history) <= n:
        return list(history)
    idx = np.unique(np.linspace(0, len(history) - 1, n).round().astype(int))
    return [history[i] for i in idx]


def hardware() -> dict:
    """A short description of the machine: CPU count and model, torch device, versions."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    from nets.device import resolve_device

    dev = resolve_device("auto")
    info["torch"] = torch.__version__
    info["device"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    info["torch_threads"] = torch.get_num_threads()
    return info


class Timer:
    """Seconds per section, ``timer.add(name, s)`` (with ``elsewhere=True`` for seconds an
    earlier process spent: a stage it finished); ``timer.seconds`` maps name -> s."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._t0 = time.perf_counter()
        self._elsewhere = 0.0  # seconds spent by earlier processes

    def add(self, name: str, seconds: float, *, elsewhere: bool = False) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)
        if elsewhere:
            self._elsewhere += float(seconds)

    @property
    def total(self) -> float:
        """Wall seconds of this process so far."""
        return time.perf_counter() - self._t0

    def totals(self) -> dict[str, float]:
        """The sections and ``total``: this process's wall time plus the seconds earlier
        processes spent on the stages this one read (a resumed experiment reports its whole cost)."""
        return dict(self.seconds, total=self.total + self._elsewhere)
