"""Mirror runs to experiment trackers: TensorBoard, Weights & Biases, MLflow (optional extras).

``TrainConfig(log=["tensorboard", "wandb", "mlflow"])`` (``qbelief train ... --log
tensorboard``, ``qbelief sweep ... --log mlflow``) sends a run's config (as parameters),
every logged metrics record (loss, relative loss, learning rate, validation loss and,
with ``probe_every``, the probe's held-out R^2 / RMSE), the final numbers and probe
results (as a summary) and the figures (PNG files of the run directory) to each tracker.

``metrics.jsonl`` stays the source of truth: a tracker that is not installed, cannot
start or fails while logging gives one warning line (:class:`TrackingWarning`) and is
dropped for the rest of the run; training never stops because of a tracker.

The trackers (each an optional extra of qbelief; versions pinned in pyproject.toml):

- ``tensorboard`` (``pip install 'qbelief[tensorboard]'``): event files in
  ``RUN/tensorboard/`` (``tensorboard --logdir RUN``), written by
  ``torch.utils.tensorboard.SummaryWriter``.  A resumed run purges the events after its
  checkpoint's step (``purge_step``), so re-trained steps are not doubled.
- ``wandb`` (``qbelief[wandb]``): online when ``WANDB_MODE=online`` or an API key is set
  (``WANDB_API_KEY``), otherwise offline (``RUN/wandb/offline-run-*``; upload later with
  ``wandb sync``) -- a training never waits on a login prompt.  Project from
  ``WANDB_PROJECT`` (default ``qbelief``).
- ``mlflow`` (``qbelief[mlflow]``, the ``mlflow-skinny`` client): the tracking URI from
  ``MLFLOW_TRACKING_URI``, else the local file store ``file:./mlruns`` (resolved against
  the working folder when the run starts); experiment from ``MLFLOW_EXPERIMENT_NAME``
  (default ``qbelief``).  MLflow 3 keeps file stores behind an opt-in; for a ``file:``
  URI this module sets ``MLFLOW_ALLOW_FILE_STORE=true`` unless it is already set.

A run directory keeps its trackers' run ids in ``tracking.json``, so a resumed training,
and the probes written into the run afterwards (:mod:`nets.sweep_run`), continue the same
wandb and MLflow runs; a sweep also puts its name there as the runs' group
(:func:`set_group`: a wandb group, the MLflow tag ``qbelief.group``).

>>> check_trackers("tensorboard, mlflow")
('tensorboard', 'mlflow')
>>> check_trackers(["tensorbord"])
Traceback (most recent call last):
...
generators.errors.ArgumentError: log must be one of 'tensorboard', 'wandb', 'mlflow'; got 'tensorbord'; did you mean 'tensorboard'?
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Iterable, Mapping

from generators.errors import ArgumentError
from generators.fileio import write_json
from generators.validation import check_choice

from .callbacks import Callback

__all__ = ["TRACKERS", "EXTRAS", "STATE", "TrackingWarning", "check_trackers", "available", "flat_params",
           "Tracker", "TensorBoardTracker", "WandbTracker", "MlflowTracker", "Tracking", "TrackingCallback", "set_group"]

TRACKERS = ("tensorboard", "wandb", "mlflow")
#: tracker -> (the module it needs, the pip extra that installs it)
EXTRAS = {"tensorboard": ("tensorboard", "qbelief[tensorboard]"), "wandb": ("wandb", "qbelief[wandb]"),
          "mlflow": ("mlflow", "qbelief[mlflow]")}
#: the file of a run directory that keeps its trackers' run ids
STATE = "tracking.json"


class TrackingWarning(UserWarning):
    """A tracker that could not start or failed (the run goes on; metrics.jsonl has everything)."""


def _warn(message: str) -> None:
    warnings.warn(" ".join(message.split()), TrackingWarning, stacklevel=3)


def _reason(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__


def check_trackers(value: Any) -> tuple[str, ...]:
    """``log`` as a tuple of distinct tracker names (a list, or strings with commas: ``--log a,b``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ArgumentError(f"log must be a list of trackers ({', '.join(TRACKERS)}); got {value!r}")
    names = [p.strip() for v in value for p in (v.split(",") if isinstance(v, str) else [v])]
    out: list[str] = []
    for v in (n for n in names if n != ""):
        check_choice(v, "log", TRACKERS)
        if v not in out:
            out.append(v)
    return tuple(out)


def available(name: str) -> bool:
    """Whether the package tracker ``name`` needs is installed (nothing is imported)."""
    return importlib.util.find_spec(EXTRAS[check_choice(name, "tracker", TRACKERS)][0]) is not None


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config dict flattened for trackers: nested tables as ``model.d_model``, lists and
    process tables as JSON text, None as ``"None"``."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k != "process":
            out.update(flat_params(v, key + "."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        else:
            out[key] = json.dumps(v, default=str) if v is not None else "None"
    return out


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric entries (bools and ``step`` left out)."""
    return {k: float(v) for k, v in values.items() if k != "step" and isinstance(v, (int, float))
            and not isinstance(v, bool) and math.isfinite(float(v))}


# ---------------------------------------------------------------------- the trackers
class Tracker(ABC):
    """One tracker's run: the five methods below; ``new`` is False when the run was
    continued from ``tracking.json`` (its parameters are logged already)."""

    name = ""
    new = True

    @abstractmethod
    def log_params(self, params: dict) -> None:
        """The run's configuration (flat: :func:`flat_params`)."""

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Scalars at a training step."""

    @abstractmethod
    def log_summary(self, values: dict[str, float], step: int | None) -> None:
        """Final numbers of the run."""

    @abstractmethod
    def log_figure(self, path: Path, step: int | None) -> None:
        """A PNG file."""

    @abstractmethod
    def close(self) -> None:
        """Finish the run (flush files, mark it finished)."""


class TensorBoardTracker(Tracker):
    """Event files in ``folder/tensorboard`` (``./runs/...`` without a folder)."""

    name = "tensorboard"

    def __init__(self, folder: Path | None, name: str, state: dict, *, purge_step: int | None = None, **_: Any):
        import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it: fail here, as a missing extra)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=None if folder is None else str(folder / "tensorboard"),
                                    purge_step=purge_step)
        self.new = purge_step is None  # a resumed run has its config text already

    def log_params(self, params: dict) -> None:
        text = "\n".join(f"    {k} = {v}" for k, v in params.items())  # indented: a code block in Markdown
        self.writer.add_text("config", text, 0)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def log_summary(self, values: dict[str, float], step: int | None) -> None:
        for k, v in values.items():
            self.writer.add_scalar(f"summary/{k}", v, step or 0)
        self.writer.flush()

    def log_figure(self, path: Path, step: int | None) -> None:
        from matplotlib.image import imread

        img = imread(path)
        self.writer.add_image(path.stem, img[..., :3], step or 0, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker(Tracker):
    """A wandb run (offline unless online is asked for or a key is set; see the module doc)."""

    name = "wandb"

    def __init__(self, folder: Path | None, name: str, state: dict, *, group: str | None = None, **_: Any):
        import wandb

        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        known = state.get("wandb", {}).get("id")
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "qbelief"), name=name, group=group,
                              id=known, resume="allow" if known else None, mode=mode,
                              dir=None if folder is None else str(folder), reinit="create_new")
        self.wandb = wandb  # new stays True: an offline resume writes a new file, which needs the config too
        state["wandb"] = {"id": self.run.id, "mode": mode}

    def log_params(self, params: dict) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def log_summary(self, values: dict[str, float], step: int | None) -> None:
        self.run.summary.update(values)

    def log_figure(self, path: Path, step: int | None) -> None:
        self.run.log({path.stem: self.wandb.Image(str(path))}, **({} if step is None else {"step": step}))

    def close(self) -> None:
        self.run.finish()


class MlflowTracker(Tracker):
    """An MLflow run, through :class:`mlflow.tracking.MlflowClient` (no global active run)."""

    name = "mlflow"

    def __init__(self, folder: Path | None, name: str, state: dict, *, group: str | None = None,
                 experiment: str | None = None, **_: Any):
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"file:{Path.cwd() / 'mlruns'}"
        if uri.startswith("file:") or "://" not in uri:
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        known = state.get("mlflow", {})
        if known.get("run_id") and known.get("uri") == uri:
            self.run_id, self.new = known["run_id"], False
        else:
            exp_name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME", "qbelief")
            exp = self.client.get_experiment_by_name(exp_name)
            exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(exp_name)
            tags = {"qbelief.group": group} if group else {}
            self.run_id = self.client.create_run(exp_id, run_name=name, tags=tags).info.run_id
            self.new = True
        state["mlflow"] = {"run_id": self.run_id, "uri": uri}

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k.replace(":", "/"), v, now, int(step))
                                                    for k, v in metrics.items()])

    def log_summary(self, values: dict[str, float], step: int | None) -> None:
        self.log_metrics(values, step or 0)

    def log_figure(self, path: Path, step: int | None) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


_CLASSES = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker, "mlflow": MlflowTracker}


# ---------------------------------------------------------------------- a set of trackers
class Tracking:
    """The trackers of one run; every call is guarded (a failing tracker warns once and is
    dropped).  Open with :meth:`open`; use as a context manager or call :meth:`close`."""

    def __init__(self, trackers: Iterable[Tracker] = ()):
        self.trackers = list(trackers)

    @classmethod
    def open(cls, names: Iterable[str], folder: str | os.PathLike | None, *, name: str, group: str | None = None,
             params: Mapping[str, Any] | None = None, purge_step: int | None = None,
             experiment: str | None = None) -> "Tracking":
        """Start (or, from ``folder/tracking.json``, continue) a run in each tracker of
        ``names``; log ``params`` (flattened) to the trackers whose run is new."""
        folder = None if folder is None else Path(folder)
        state = _read_state(folder)
        group = group or state.get("group")  # a sweep names its runs' group (set_group)
        out = []
        for tracker in check_trackers(tuple(names)):
            module, extra = EXTRAS[tracker]
            if importlib.util.find_spec(module) is None:
                _warn(f"tracker {tracker} is not installed (pip install '{extra}'); not logging to it "
                      "(metrics.jsonl has everything)")
                continue
            try:
                t = _CLASSES[tracker](folder, name, state, group=group, purge_step=purge_step,
                                      experiment=experiment)
            except Exception as e:  # a tracker never stops a run
                _warn(f"tracker {tracker} could not start ({_reason(e)}); not logging to it")
                continue
            out.append(t)
        if folder is not None and out:
            write_json(folder / STATE, state)
        tracking = cls(out)
        if params:
            flat = flat_params(params)
            for t in list(tracking.trackers):
                if t.new:
                    tracking._call(t, "log_params", flat)
        return tracking

    def _call(self, tracker: Tracker, method: str, *args: Any) -> None:
        try:
            getattr(tracker, method)(*args)
        except Exception as e:
            _warn(f"tracker {tracker.name} failed in {method} ({_reason(e)}); not logging to it any more "
                  "(metrics.jsonl has everything)")
            self.trackers.remove(tracker)
            try:
                tracker.close()
            except Exception:  # already failing: its close may fail too
                pass

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """The finite numbers of ``metrics`` at ``step``."""
        values = _numbers(metrics)
        for t in list(self.trackers):
            self._call(t, "log_metrics", values, int(step))

    def log_summary(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Final numbers (the run's summary; scalars at ``step`` in TensorBoard and MLflow)."""
        nums = _numbers(values)
        for t in list(self.trackers):
            self._call(t, "log_summary", nums, step)

    def log_figure(self, path: str | os.PathLike, step: int | None = None) -> None:
        """A PNG figure (an image in TensorBoard and wandb, an artifact in MLflow)."""
        for t in list(self.trackers):
            self._call(t, "log_figure", Path(path), step)

    def close(self) -> None:
        for t in list(self.trackers):
            self._call(t, "close")
        self.trackers = []

    def __enter__(self) -> "Tracking":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def set_group(folder: str | os.PathLike, group: str) -> None:
    """Make the trackers of the run in ``folder`` put it in ``group`` (a wandb group, the
    MLflow tag ``qbelief.group``): what a sweep does for each of its runs."""
    folder = Path(folder)
    state = _read_state(folder)
    if state.get("group") != group:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / STATE, {**state, "group": str(group)})


def _read_state(folder: Path | None) -> dict:
    if folder is None:
        return {}
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        _warn(f"{folder / STATE} cannot be read ({_reason(e)}); starting new tracker runs")
        return {}
    return state if isinstance(state, dict) else {}


class TrackingCallback(Callback):
    """The training callback of ``TrainConfig.log``: opens the trackers when the run starts
    (continuing their runs when resuming), logs every metrics record, and at the end the
    final numbers and the run directory's PNG figures (main rank only)."""

    def __init__(self):
        self.tracking: Tracking | None = None

    def on_start(self, state: Any) -> None:
        cfg = state.cfg
        if not state.info.is_main or not cfg.log:
            return
        name = Path(state.out).name if state.out is not None else None
        self.tracking = Tracking.open(cfg.log, state.out, name=name, params=cfg.to_dict(),
                                      purge_step=state.step + 1 if state.step else None)

    def on_log(self, state: Any, record: dict) -> None:
        if self.tracking is not None:
            self.tracking.log_metrics(record, record["step"])

    def on_end(self, state: Any, result: Any) -> None:
        if self.tracking is None:
            return
        self.tracking.log_summary({"final_loss": result.final_loss, "final_relative": result.final_relative,
                                   "val_loss": result.val_loss, "val_relative": result.val_relative,
                                   "steps": result.steps_done}, result.steps_done)
        if state.out is not None:
            for png in sorted(Path(state.out).glob("*.png")):
                self.tracking.log_figure(png, result.steps_done)

    def close(self) -> None:
        if self.tracking is not None:
            self.tracking.close()
            self.tracking = None
