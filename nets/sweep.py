"""Sweeps: a grid of trainings (processes x architectures x seeds x any TrainConfig field),
each probed, aggregated over seeds.

A sweep file (TOML; ``qbelief sweep SWEEP.toml``) has four tables::

    [sweep]                      # the sweep's own options (all optional)
    out = "runs/sweep-mess3"     # its folder, relative to the file (default: the file's stem beside it)
    seeds = [0, 1, 2]            # training seeds: the repetitions aggregated over
    representation = "minimal"   # the final probe: belief representation,
    weighting = "probability"    #   prefix weighting,
    probe_seed = 0               #   the probe's seed (the held-out rows),
    controls = true              #   the untrained-network and Markov baselines

    [base]                       # TrainConfig fields every run shares (a [base.model] table too)
    context = 6
    steps = 300

    [models.transformer]         # named architectures (ModelConfig fields); optional
    kind = "transformer"
    [models.gru]
    kind = "gru"

    [grid]                       # TrainConfig or model field -> list of values; the grid is their product
    process = ["mess3", "mess3:x=0.05,a=0.85"]
    d_model = [16, 32]           # a model field: set in every [models] entry

The runs are the product ``grid x models x seeds`` in that order.  Run ``i`` lives in
``OUT/runs/<name>``, ``name`` made of every grid value, the model's name and the seed
(``process=mess3__gru__seed=1``): adding a value to a grid adds runs and renames none, so
a sweep that grows is resumed, not redone.  A run is a plain training directory:
:meth:`SweepPlan.prepare` (``qbelief sweep --prepare``) writes each run's ``config.json``,
``qbelief train --resume --out RUN`` trains that run alone -- also under torchrun (DDP,
``--nproc N``) -- and the sweep then finds it finished and only probes it.

Unknown keys are errors that name the key and the closest valid one; every run's config is
built (and so checked) before any training starts.  Cost of planning: one
:class:`nets.config.TrainConfig` per run (a process resolution each).

Running, probing and aggregating: :func:`nets.sweep_run.run_sweep`; the backends (local
process pool, Ray) in :mod:`nets.sweep_backends`; the results in :mod:`nets.sweep_report`.

>>> plan = SweepPlan.from_dict({"sweep": {"seeds": [0, 1]}, "base": {"steps": 5, "context": 4},
...                             "models": {"gru": {"kind": "gru"}, "lstm": {"kind": "lstm"}},
...                             "grid": {"lr": [0.001, 0.01]}}, out="/tmp/s")
>>> [r.name for r in plan.runs][:3], len(plan.runs)
(['lr=0.001__gru__seed=0', 'lr=0.001__gru__seed=1', 'lr=0.001__lstm__seed=0'], 8)
>>> plan.runs[1].group, plan.runs[1].config["seed"], plan.runs[1].config["lr"]
('lr=0.001__gru', 1, 0.001)
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.errors import ArgumentError
from generators.validation import check_choice, check_int

from .config import MODEL_FIELDS, TrainConfig

__all__ = ["SweepError", "SweepOptions", "RunSpec", "SweepPlan", "load_sweep", "SECTIONS", "OPTIONS", "RUNS_DIR"]

SECTIONS = ("sweep", "base", "models", "grid")
#: the [sweep] table's keys and defaults
OPTIONS = {"out": None, "seeds": [0], "representation": "minimal", "weighting": "probability", "probe_seed": 0,
           "controls": True}
#: the folder of a sweep that holds its runs
RUNS_DIR = "runs"
#: TrainConfig fields a sweep sets itself
_OWN = ("seed", "out_dir")


class SweepError(ArgumentError):
    """A sweep file or table that cannot be run (names the key and what is valid)."""


@dataclass(frozen=True)
class SweepOptions:
    """The ``[sweep]`` table (see the module docstring)."""

    seeds: tuple = (0,)
    representation: str = "minimal"
    weighting: str = "probability"
    probe_seed: int = 0
    controls: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.seeds, (list, tuple)) or not self.seeds:
            raise SweepError(f"[sweep] seeds must be a nonempty list of integers; got {self.seeds!r}")
        seeds = tuple(check_int(s, "[sweep] seeds entry", minimum=0) for s in self.seeds)
        if len(set(seeds)) != len(seeds):
            raise SweepError(f"[sweep] seeds must be distinct; got {list(seeds)}")
        object.__setattr__(self, "seeds", seeds)
        check_choice(self.representation, "[sweep] representation", ("minimal", "native"))
        check_choice(self.weighting, "[sweep] weighting", ("probability", "uniform"))
        check_int(self.probe_seed, "[sweep] probe_seed", minimum=0)
        if not isinstance(self.controls, bool):
            raise SweepError(f"[sweep] controls must be true or false; got {self.controls!r}")


@dataclass(frozen=True)
class RunSpec:
    """One training of a sweep: its ``name`` (folder), ``group`` (the name without the
    seed: the runs aggregated together), ``seed``, and its TrainConfig dict ``config``."""

    name: str
    group: str
    seed: int
    config: dict = field(hash=False)

    def train_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.config)


@dataclass
class SweepPlan:
    """The runs of a sweep, in order, and where they live.

    Attributes
    ----------
    out : Path -- the sweep's folder (runs in ``out/runs/<name>``, results in ``out``)
    options : SweepOptions
    runs : list of RunSpec -- ``len(grid product) * len(models or [base]) * len(seeds)``
    source : dict -- the sweep table as read (kept in ``out/sweep.json``)
    """

    out: Path
    options: SweepOptions
    runs: list
    source: dict

    @classmethod
    def from_dict(cls, table: dict, *, out: str | os.PathLike | None = None, base_dir: Path | None = None,
                  log: tuple = ()) -> "SweepPlan":
        """The plan of a sweep table; ``out`` overrides ``[sweep] out`` (relative paths are
        taken from ``base_dir``, the sweep file's folder); ``log`` adds trackers to every run."""
        if not isinstance(table, dict):
            raise SweepError(f"a sweep must be a table with [sweep], [base], [models], [grid]; got {table!r}")
        for key in table:
            check_choice(key, "sweep file table", SECTIONS)
        sweep = _table(table, "sweep")
        for key in sweep:
            check_choice(key, "[sweep] key", tuple(OPTIONS))
        where = out if out is not None else sweep.get("out")
        if where is None:
            raise SweepError("the sweep needs a folder: [sweep] out = \"...\" or --out")
        where = Path(where)
        if not where.is_absolute() and base_dir is not None and out is None:
            where = base_dir / where
        where = where.absolute()  # workers (a Ray node) may start elsewhere
        opts = SweepOptions(**{k: tuple(v) if k == "seeds" and isinstance(v, list) else v
                               for k, v in sweep.items() if k != "out"})
        runs = _expand(_table(table, "base"), _models(table), _grid(table), opts.seeds, where, tuple(log))
        return cls(where, opts, runs, table)

    def groups(self) -> dict[str, list[RunSpec]]:
        """``group -> its runs`` (one per seed), in plan order."""
        out: dict[str, list] = {}
        for r in self.runs:
            out.setdefault(r.group, []).append(r)
        return out

    def run_dir(self, run: RunSpec) -> Path:
        return self.out / RUNS_DIR / run.name

    def prepare(self) -> list[Path]:
        """Write each run's ``config.json`` into its folder (runs that hold a run already are
        left alone) and return the folders written.  Any run then trains alone with
        ``qbelief train --resume --out RUN`` -- under torchrun (DDP) with ``--nproc N`` --
        and the sweep finds it finished; a run not trained that way the sweep trains."""
        from generators.fileio import write_json

        from . import rundir

        written = []
        for r in self.runs:
            folder = self.run_dir(r)
            if not rundir.holds_run(folder):
                folder.mkdir(parents=True, exist_ok=True)
                write_json(folder / rundir.CONFIG, r.config)
                written.append(folder)
        return written


def load_sweep(path: str | os.PathLike, *, out: str | os.PathLike | None = None, log: tuple = ()) -> SweepPlan:
    """Read a sweep TOML file (see the module docstring) into its :class:`SweepPlan`; the
    default folder is the file's stem beside it."""
    from generators.fileio import read_toml

    p = Path(path)
    table = read_toml(p, "sweep file", SweepError)
    if out is None and "out" not in table.get("sweep", {}):
        out = p.parent / p.stem
    return SweepPlan.from_dict(table, out=out, base_dir=p.parent, log=log)


# ---------------------------------------------------------------------- parsing
def _table(table: dict, name: str) -> dict:
    t = table.get(name, {})
    if not isinstance(t, dict):
        raise SweepError(f"[{name}] must be a table; got {t!r}")
    return t


def _not_own(key: str, where: str) -> None:
    if key in _OWN:
        raise SweepError(f"{where} {key} is set by the sweep: " + (
            "list the training seeds in [sweep] seeds" if key == "seed" else "each run trains in OUT/runs/NAME"))


def _train_keys() -> tuple:
    return tuple(k for k in TrainConfig.keys() if k not in _OWN)


def _models(table: dict) -> dict[str, dict]:
    """``[models.NAME]`` tables: name -> ModelConfig fields (empty: the base's model)."""
    models = _table(table, "models")
    for name, m in models.items():
        if not isinstance(m, dict):
            raise SweepError(f"[models.{name}] must be a table of model fields ({', '.join(MODEL_FIELDS)}); "
                             f"got {m!r}")
        for key in m:
            check_choice(key, f"[models.{name}] key", MODEL_FIELDS)
        _check_name(name, "model name")
    return models


def _grid(table: dict) -> dict[str, list]:
    grid = _table(table, "grid")
    for key, values in grid.items():
        _not_own(key, "[grid]")
        check_choice(key, "[grid] key", tuple(k for k in _train_keys() if k != "model"))
        if not isinstance(values, list) or not values:
            raise SweepError(f"[grid] {key} must be a nonempty list of values; got {values!r}")
        shown = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(shown)) != len(shown):
            raise SweepError(f"[grid] {key} lists a value twice: {values!r}")
    return grid


def _check_name(name: str, what: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SweepError(f"{what} {name!r} must be letters, digits, '.', '_' or '-'")


def _label(value: Any) -> str:
    """A grid value in a folder name (a table or list as its compact JSON)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)


def _expand(base: dict, models: dict, grid: dict, seeds: tuple, out: Path, log: tuple) -> list[RunSpec]:
    """The runs: grid (keys in file order) x models x seeds, each config built and checked."""
    for key in base:
        _not_own(key, "[base]")
        check_choice(key, "[base] key", _train_keys())
    keys = list(grid)
    runs, seen = [], {}
    for values in itertools.product(*(grid[k] for k in keys)):
        for model_name, model in (models.items() if models else [(None, None)]):
            parts = [f"{k}={_label(v)}" for k, v in zip(keys, values)] + ([model_name] if model_name else [])
            group = "__".join(parts) or "run"
            for seed in seeds:
                name = f"{group}__seed={seed}"
                if name in seen:
                    raise SweepError(f"two runs of the sweep get the folder name {name!r} ({seen[name]} and "
                                     f"{dict(zip(keys, values))}); make the grid values distinct in letters and digits")
                seen[name] = dict(zip(keys, values))
                cfg = {**base, **dict(zip(keys, values)), "seed": seed, "out_dir": str(out / RUNS_DIR / name)}
                if model is not None:
                    cfg["model"] = {**_base_model(base), **model,  # grid model fields apply to every model
                                    **{k: v for k, v in zip(keys, values) if k in MODEL_FIELDS}}
                    for k in MODEL_FIELDS:
                        cfg.pop(k, None)
                if log:
                    cfg["log"] = list(dict.fromkeys([*cfg.get("log", []), *log]))
                cfg.setdefault("quiet", True)
                try:
                    full = TrainConfig.from_dict(cfg).to_dict()
                except ValueError as e:
                    raise SweepError(f"run {name}: {e}") from None
                runs.append(RunSpec(name, group, seed, full))
    return runs


def _base_model(base: dict) -> dict:
    """The base's model fields (a [base.model] table and flat model keys) under a named model."""
    model = base.get("model", {})
    model = {"kind": model} if isinstance(model, str) else dict(model)
    return {**model, **{k: base[k] for k in MODEL_FIELDS if k in base}}
