"""The belief geometry over training: probe a model while it trains, or a run's kept checkpoints.

Two ways to the same data -- for every probed step, the probe's prediction of the
held-out rows' beliefs and its held-out metrics, the *checkpoints* structure of
:mod:`nets.interactive` (``{"step", "points", "metrics"}``, what the training slider of
``report.html`` draws):

- during training, ``TrainConfig(probe_every=N)`` (or a :class:`ProbeCallback` passed to
  :func:`nets.train.train`): the model is probed at step 0, every ``N`` steps and at the
  last step.  Each probe adds ``probe_r2``, ``probe_cos_r2`` and ``probe_rmse`` to that
  step's record in ``metrics.jsonl`` and writes, into the run directory,
  ``probes.jsonl`` (one line per probed step: the headline metrics and R^2 per probe point)
  and ``probes/step_<N>.npz`` (the predicted points, float32 ``(n_test, k)``), with
  ``probes/reference.npz`` (the held-out rows' true beliefs and weights and the probe's
  options).  A resumed training keeps the records up to its checkpoint's step and
  recomputes the later ones (the training is deterministic), so records are neither
  doubled nor lost; a fresh start clears them.  At the end, the small-multiples figure
  ``probe_over_training.png`` (:func:`nets.probe.training_figure.plot_geometry_over_training`).
- after training, :func:`probe_over_training` (``qbelief probe RUN --over-training``):
  the kept checkpoints (``TrainConfig.keep_checkpoints``, ``checkpoints/step_N.pt``), the
  training's own records when their options match, and the newest checkpoint (probed with
  every control) -- :func:`write_over_training` writes the figure, the checkpoints JSON and
  ``report.md`` / ``report.html`` with the slider.

Every probe of one run uses the same dataset (every allowed prefix, or the given
weighting) and the same seed, hence the same held-out rows: point ``i`` of every step is
the same input.  The per-step probes skip the untrained-network and Markov controls (they
do not change with the step); the probe of the newest checkpoint has them.  Cost per
probe: one forward pass over the probe dataset and the closed-form CV of
:func:`nets.probe.fit_affine` (``O(n d^2)``), about a second for a small model on a
context-6 Mess3 dataset on one CPU core.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generators.fileio import atomic_path, write_json
from generators.validation import check_choice, check_int

from ..callbacks import Callback
from ..interactive import checkpoint_from_result

__all__ = ["TrainingProbe", "ProbeCallback", "ProbeRecords", "OverTraining", "probe_over_training",
           "write_over_training", "training_checkpoints", "PROBES", "PROBE_DIR", "FIGURE"]

PROBES = "probes.jsonl"
PROBE_DIR = "probes"
REFERENCE = "reference.npz"
FIGURE = "probe_over_training.png"
_STEP_FILE = re.compile(r"^step_(\d+)\.(pt|npz)$")


@dataclass(frozen=True)
class TrainingProbe:
    """How a model is probed over training: belief ``representation``, prefix
    ``weighting``, the probe's ``seed`` (which fixes the held-out rows) and CV ``folds``."""

    representation: str = "minimal"
    weighting: str = "probability"
    seed: int = 0
    folds: int = 5

    def __post_init__(self) -> None:
        check_choice(self.representation, "representation", ("minimal", "native"))
        check_choice(self.weighting, "weighting", ("probability", "uniform"))
        check_int(self.seed, "seed", minimum=0)
        check_int(self.folds, "folds", minimum=2)

    def probe(self, model: Any, generator: Any, *, untrained: Any = None, markov_order: Any = None,
              twin_seed: int = 0):
        """``(ProbeResult, ProbeDataset)`` of ``model`` over every prefix it can read
        (controls off unless asked for; ``untrained="auto"`` initializes the untrained twin
        with seed ``twin_seed + 1``)."""
        from .build import build_probe_dataset

        ds = build_probe_dataset(generator, model, representations=[self.representation],
                                 weighting=self.weighting, untrained=untrained, markov_order=markov_order,
                                 seed=check_int(twin_seed, "twin_seed", minimum=0))
        return ds.probe(self.representation, seed=self.seed, folds=self.folds), ds


def _record(result: Any, step: int) -> dict:
    """The ``probes.jsonl`` line of a probe at ``step``."""
    h = result.points[result.headline]
    return {"step": int(step), "headline": result.headline,
            **{k: float(h.test[k]) for k in ("r2", "cos_r2", "rmse")},
            "r2_by_point": {n: float(p.r2) for n, p in result.points.items()}}


# ---------------------------------------------------------------------- the files of a run
class ProbeRecords:
    """The probe records of run directory ``out`` (see the module docstring)."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.jsonl, self.folder = self.out / PROBES, self.out / PROBE_DIR

    def steps_on_disk(self) -> dict[int, Path]:
        if not self.folder.is_dir():
            return {}
        found = {int(m.group(1)): p for p in self.folder.iterdir() if (m := _STEP_FILE.match(p.name))}
        return dict(sorted(found.items()))

    def truncate(self, step: int) -> None:
        """Keep the records of steps ``<= step``; ``step == 0`` (a fresh start) clears them."""
        from ..rundir import read_jsonl, write_jsonl

        on_disk = self.steps_on_disk()
        keep = []
        if step > 0 and self.jsonl.exists():
            keep = [r for r in read_jsonl(self.jsonl, upto_step=step) if r["step"] in on_disk]
        for s, p in on_disk.items():
            if step == 0 or s > step:
                p.unlink()
        if step == 0:
            (self.folder / REFERENCE).unlink(missing_ok=True)
        if self.jsonl.exists() or keep:
            write_jsonl(self.jsonl, keep)

    def append(self, result: Any, step: int, spec: TrainingProbe) -> dict:
        """Write the probe at ``step``: its points, then its line (so a line always has its
        points); the reference on the first write.  Returns the line."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ref = self.folder / REFERENCE
        if not ref.exists():
            _save_npz(ref, beliefs=result.arrays["beliefs"], weights=result.arrays["weights"],
                      options=np.array(json.dumps(asdict(spec))))
        _save_npz(self.folder / f"step_{int(step)}.npz", points=np.asarray(result.arrays["predicted"], np.float32))
        rec = _record(result, step)
        with open(self.jsonl, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return rec

    def load(self, spec: TrainingProbe | None = None) -> tuple[list[dict], dict | None]:
        """``(checkpoints, reference)``: the slider entries on disk (steps with both a line
        and points) and the reference arrays; nothing when ``spec`` is given and differs
        from the options the records were made with."""
        from ..rundir import read_jsonl

        ref_path = self.folder / REFERENCE
        if not self.jsonl.exists() or not ref_path.exists():
            return [], None
        with np.load(ref_path) as z:
            ref = {"beliefs": z["beliefs"], "weights": z["weights"], "options": json.loads(str(z["options"]))}
        if spec is not None and ref["options"] != asdict(spec):
            return [], None
        on_disk, entries = self.steps_on_disk(), {}
        for r in read_jsonl(self.jsonl):
            if r["step"] in on_disk:
                with np.load(on_disk[r["step"]]) as z:
                    entries[r["step"]] = {"step": r["step"], "points": z["points"].astype(np.float64),
                                          "metrics": {k: r[k] for k in ("r2", "cos_r2", "rmse") if k in r}}
        return [entries[s] for s in sorted(entries)], ref


def _save_npz(path: Path, **arrays: Any) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


# ---------------------------------------------------------------------- during training
class ProbeCallback(Callback):
    """Probe the model at step 0, every ``every`` steps and at the last step (see the
    module docstring).  ``checkpoints`` holds the slider entries (also without a run
    directory); ``probe`` the options (:class:`TrainingProbe`)."""

    def __init__(self, every: int, probe: TrainingProbe | None = None):
        self.every = check_int(every, "probe_every", minimum=1)
        self.spec = probe or TrainingProbe()
        self.checkpoints: list[dict] = []
        self.records: ProbeRecords | None = None

    def on_start(self, state: Any) -> None:
        if not state.info.is_main:
            return
        if state.out is not None:
            self.records = ProbeRecords(state.out)
            self.records.truncate(state.step)
            self.checkpoints = self.records.load(self.spec)[0]
        if state.step == 0:
            self._probe(state, 0)

    def on_log(self, state: Any, record: dict) -> None:
        step = record["step"]
        if state.info.is_main and (step % self.every == 0 or step == state.cfg.steps):
            rec = self._probe(state, step)
            record.update({f"probe_{k}": rec[k] for k in ("r2", "cos_r2", "rmse")})

    def on_end(self, state: Any, result: Any) -> None:
        if not state.info.is_main or state.out is None or not self.checkpoints:
            return
        from .training_figure import plot_geometry_over_training

        ref = self.records.load(self.spec)[1]
        if ref is not None:
            plot_geometry_over_training(self.checkpoints, ref["beliefs"], ref["weights"], Path(state.out) / FIGURE,
                                        title=f"{state.cfg.process if isinstance(state.cfg.process, str) else ''} "
                                              f"[{self.spec.representation}]: probe over training")

    def _probe(self, state: Any, step: int) -> dict:
        """Probe ``state.model`` now (global RNG states kept: the training stays exact)."""
        from ..checkpoint import rng_state, set_rng_state

        saved = rng_state()
        try:
            result, _ = self.spec.probe(state.model, state.cfg.generator())
        finally:
            set_rng_state(saved)
        self.checkpoints = [c for c in self.checkpoints if c["step"] != step] + [checkpoint_from_result(result, step)]
        if self.records is not None:
            return self.records.append(result, step, self.spec)
        return _record(result, step)


# ---------------------------------------------------------------------- after training
def _with_records(run: Path, spec: TrainingProbe, result: Any, step: int) -> tuple[dict, dict]:
    """``(step -> slider entry, step -> source)``: ``result`` (the newest checkpoint's probe
    at ``step``) and the training's records made with ``spec`` on the same held-out rows."""
    entries, sources = {step: checkpoint_from_result(result, step)}, {step: "newest checkpoint"}
    recorded, ref = ProbeRecords(run).load(spec)
    if ref is not None and ref["beliefs"].shape == result.arrays["beliefs"].shape and np.allclose(
            ref["beliefs"], result.arrays["beliefs"]):
        for c in recorded:
            entries.setdefault(c["step"], c)
            sources.setdefault(c["step"], "training record")
    return entries, sources


def training_checkpoints(run_dir: str | os.PathLike, result: Any, step: int,
                         probe: TrainingProbe | None = None) -> list | None:
    """The training slider of a run's probe ``result`` (made at checkpoint ``step``): the
    probe records of its training (``probe_every``) made with the options ``probe`` on the
    same held-out rows, and ``result`` itself; None when there are none (what
    ``qbelief probe RUN`` passes to the report)."""
    entries, _ = _with_records(Path(run_dir), probe or TrainingProbe(), result, int(step))
    return [entries[s] for s in sorted(entries)] if len(entries) > 1 else None


@dataclass
class OverTraining:
    """What :func:`probe_over_training` found: the newest checkpoint's full ``result``
    (every control) and its ``dataset``, the slider ``checkpoints`` (sorted by step) and
    where each step came from (``sources``: step -> "kept checkpoint" | "training record"
    | "newest checkpoint")."""

    result: Any
    dataset: Any
    checkpoints: list
    sources: dict = field(default_factory=dict)


def probe_over_training(run_dir: str | os.PathLike, probe: TrainingProbe | None = None, *,
                        untrained: Any = "auto", markov_order: Any = "auto") -> OverTraining:
    """Probe a run over its training: the newest checkpoint with the controls, every kept
    checkpoint, and the training's own probe records (``probe_every``) when they were made
    with the same options.  Raises the run-loading errors of :func:`nets.checkpoint.open_run`."""
    from ..checkpoint import build_checked_model, load_model, open_run
    from ..rundir import KEPT_DIR, RunDirError

    spec, run = probe or TrainingProbe(), Path(run_dir)
    ckpt, path, cfg = open_run(run)
    model, g = build_checked_model(ckpt, cfg, path).eval(), cfg.generator()
    result, ds = spec.probe(model, g, untrained=untrained, markov_order=markov_order)
    final = int(ckpt["step"])
    entries, sources = _with_records(run, spec, result, final)
    kept = run / KEPT_DIR
    for p in sorted(kept.iterdir() if kept.is_dir() else [], key=lambda p: p.name):
        m = _STEP_FILE.match(p.name)
        if m is None or m.group(2) != "pt" or int(m.group(1)) in entries:
            continue
        model_s, _ = load_model(p)
        res_s, _ = spec.probe(model_s, g)
        entries[int(m.group(1))] = checkpoint_from_result(res_s, int(m.group(1)))
        sources[int(m.group(1))] = "kept checkpoint"
    if len(entries) < 2:
        raise RunDirError(f"{run} has one probed step only (step {final}): keep checkpoints while training "
                          "(keep_checkpoints = [...]) or probe during it (probe_every = N)")
    steps = sorted(entries)
    return OverTraining(result, ds, [entries[s] for s in steps], {s: sources[s] for s in steps})


def write_over_training(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                        probe: TrainingProbe | None = None, **options: Any) -> Path:
    """:func:`probe_over_training`, then into ``out`` (default ``RUN/over_training``):
    ``probe_over_training.json`` (the checkpoints list), ``probe_over_training.png`` (small
    multiples), the newest checkpoint's ``probe.json`` and figures, and ``report.md`` +
    ``report.html`` with the training slider.  Returns the Markdown path."""
    from .training_figure import over_training_report

    found = probe_over_training(run_dir, probe, **options)
    out = Path(out) if out is not None else Path(run_dir) / "over_training"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "probe_over_training.json", [{**c, "points": np.asarray(c["points"]).tolist()}
                                                  for c in found.checkpoints])
    return over_training_report(found, out, run=Path(run_dir))
