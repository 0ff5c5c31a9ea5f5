"""Checkpoints of training runs: writing, verified reading with fallback, resuming.

A checkpoint is a dict with ``format`` (:data:`CHECKPOINT_FORMAT`), ``step``, ``config``
(:meth:`nets.config.TrainConfig.to_dict`, the process included), ``model_config``,
``model`` (state dict), ``optimizer``, ``scheduler`` and ``rng`` (torch, numpy and CUDA
generator states), saved with ``torch.save`` and read with ``torch.load(...,
weights_only=True)``.  Where the files live, their checksums and the lock:
:mod:`nets.rundir`.

Opening a run never executes code: the file is read with ``weights_only=True`` (tensors,
numbers, strings, containers), and its stored process is a library spec or a generator
table; a stored ``.py`` path is refused (:meth:`TrainConfig.from_dict` with
``stored=True``).

Every load checks, in one-line errors (:class:`nets.rundir.CheckpointError`,
:class:`nets.rundir.RunMismatchError`, both ``ValueError``):

- the bytes against the checksum file beside them (a flipped byte is found);
- that torch can read the file, and that it has every entry with the right type;
- that its model config is the one its training config implies, and that the weights fit it;
- that ``config.json`` in the run directory describes the same run as the checkpoint
  (up to :data:`RESUMABLE_CHANGES`): a directory never mixes two runs silently.

:func:`open_run` takes the newest intact checkpoint (``checkpoint.pt``, else
``checkpoint.prev.pt`` with a one-line :class:`nets.rundir.RunWarning`).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators.fileio import atomic_path

from . import distributed as ddp
from . import rundir
from .config import TrainConfig
from .export import save_weights
from .models import ActivationModel, ModelConfig, build_model
from .rundir import CheckpointError, RunDirError, RunMismatchError

__all__ = ["CHECKPOINT_FORMAT", "RESUMABLE_CHANGES", "save_checkpoint", "load_checkpoint", "open_run", "load_model",
           "stored_config", "check_weights", "build_checked_model", "check_resumable", "check_run_config",
           "rng_state", "set_rng_state"]

CHECKPOINT_FORMAT = "qbelief.nets.checkpoint/1"
#: fields that may differ between a checkpoint's config and the config resuming it
RESUMABLE_CHANGES = frozenset({"steps", "checkpoint_every", "out_dir", "device", "quiet", "eval_every", "log_every",
                               "max_time_s", "num_threads", "keep_checkpoints", "max_beliefs",
                               "probe_every", "log"})
_ZIP_MAGIC = b"PK\x03\x04"


def save_checkpoint(out: str | os.PathLike, cfg: TrainConfig, model, optimizer, scheduler, step: int,
                    info: ddp.DistInfo, *, keep: bool = False) -> Path:
    """Write ``out/checkpoint.pt`` (the one before becomes ``checkpoint.prev.pt``) with its
    checksum, on the main rank; with ``keep`` also ``out/checkpoints/step_<step>.pt``; and
    the same weights as ``out/weights/model.safetensors`` + ``config.json``
    (:func:`nets.export.save_weights`: readable without qbelief's training code, e.g. by
    ``safetensors`` and :func:`nets.export.load_weights`).  Every rank waits for it.
    Returns the path of ``checkpoint.pt``."""
    out = Path(out)
    if info.is_main:
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "step": int(step),
            "config": cfg.to_dict(),
            "model_config": model.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": rng_state(),
        }
        staged = rundir.staged_path(out)
        with atomic_path(staged) as tmp:
            torch.save(ckpt, tmp)
        rundir.commit_checkpoint(out, staged)
        if keep:
            rundir.keep_checkpoint(out, step)
        save_weights(model, out / rundir.WEIGHTS_DIR)
    ddp.barrier(info)
    return out / rundir.CHECKPOINT


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """The checkpoint dict in file ``path`` (or the newest intact one of run directory
    ``path``), verified against its checksum and checked entry by entry.

    Keys: ``format``, ``step``, ``config`` (TrainConfig dict), ``model_config``,
    ``model`` (state dict), ``optimizer``, ``scheduler``, ``rng``.  Raises
    :class:`nets.rundir.CheckpointError` (a ``ValueError``) naming the file and what is
    wrong with it.
    """
    path = Path(path)
    if path.is_dir():
        return open_run(path, map_location)[0]
    try:
        data, _ = rundir.read_verified(path)
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such checkpoint file") from None
    ckpt = _torch_load(data, path, map_location)
    _check_entries(ckpt, path)
    return ckpt


def open_run(out: str | os.PathLike, map_location: Any = "cpu", *, check_config: bool = True
             ) -> tuple[dict, Path, TrainConfig]:
    """``(checkpoint, its path, its TrainConfig)`` of the newest intact checkpoint of run
    directory ``out``, checked against ``config.json`` (see the module docstring).

    When ``checkpoint.pt`` is damaged or missing, ``checkpoint.prev.pt`` is used and one
    :class:`nets.rundir.RunWarning` says so.  Raises :class:`nets.rundir.CheckpointError`
    when no checkpoint is intact, :class:`nets.rundir.RunDirError` when there is none.
    """
    out = Path(out)
    if not out.is_dir():
        raise RunDirError(f"{out} is a file, not a run directory" if out.exists() else
                          f"run directory {out} does not exist")
    errors, missing = [], []
    for path in rundir.candidates(out):
        if not path.exists():
            missing.append(path.name)
            continue
        try:
            ckpt = load_checkpoint(path, map_location)
            cfg = stored_config(ckpt, path)
            check_weights(ckpt, cfg, path)
        except CheckpointError as e:
            errors.append(str(e))
            continue
        if errors or missing:
            why = errors[0] if errors else f"{out / rundir.CHECKPOINT} is missing (its write was interrupted)"
            rundir.warn(f"{why}; using {path.name} (step {ckpt['step']}) instead")
        if check_config:
            check_run_config(out, cfg, path, ckpt["step"])
        return ckpt, path, cfg
    if errors:
        raise CheckpointError(f"{'; '.join(errors)}; no intact checkpoint is left in {out}: retrain it "
                              f"(qbelief train ... --out {out} --overwrite)")
    raise RunDirError(f"{out} is not a run directory: no {rundir.CHECKPOINT} (train with `qbelief train ... "
                      f"--out {out}`)")


def stored_config(ckpt: dict, path: str | os.PathLike) -> TrainConfig:
    """The :class:`TrainConfig` a checkpoint stores (never executing code), checked
    against its ``model_config``."""
    try:
        cfg = TrainConfig.from_dict(ckpt["config"], stored=True)
        model_cfg = ModelConfig.from_dict(ckpt["model_config"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path} is damaged or unusable: its stored config is invalid ({e})") from None
    if model_cfg.to_dict() != cfg.model.to_dict():
        k = next(k for k, v in model_cfg.to_dict().items() if cfg.model.to_dict().get(k) != v)
        raise CheckpointError(f"{path} is damaged: its model_config has {k}={model_cfg.to_dict()[k]!r} but its "
                              f"training config implies {k}={cfg.model.to_dict().get(k)!r}")
    return cfg


def check_run_config(out: str | os.PathLike, cfg: TrainConfig, path: str | os.PathLike, step: int) -> None:
    """Raise :class:`nets.rundir.RunMismatchError` if ``out/config.json`` describes another
    run than the checkpoint at ``path`` (config ``cfg``) up to :data:`RESUMABLE_CHANGES`.

    A missing ``config.json`` is fine (the checkpoint holds its config); an unreadable one
    gives a :class:`nets.rundir.RunWarning` and the checkpoint's config is used.
    """
    p = Path(out) / rundir.CONFIG
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        rundir.warn(f"{p} cannot be read ({rundir._reason(e)}); using the config stored in {Path(path).name}")
        return
    try:
        written = TrainConfig.from_dict(raw, stored=True)
    except (ValueError, TypeError) as e:
        raise RunMismatchError(f"{p} does not hold a valid run config ({e}); the checkpoint {Path(path).name} "
                               "holds its own: delete config.json to use it") from None
    diff = _config_diff(written.to_dict(), cfg.to_dict())
    if diff:
        k = diff[0]
        a, b = _flat(written.to_dict()).get(k), _flat(cfg.to_dict()).get(k)
        raise RunMismatchError(f"{out} mixes two runs: {rundir.CONFIG} has {k}={_short(a)} but {Path(path).name} "
                               f"(step {step}) was trained with {k}={_short(b)} (differing: {', '.join(diff)}); "
                               f"retrain with --overwrite, or restore the matching files")


def load_model(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[ActivationModel, TrainConfig]:
    """The model of a checkpoint file or of a run directory's newest intact checkpoint (eval
    mode) and its :class:`TrainConfig`, after every check of :func:`open_run` (a file in a
    run directory is checked against that directory's ``config.json``)."""
    path = Path(path)
    if not path.exists():
        raise RunDirError(f"run directory {path} does not exist")
    if path.is_file() and path.suffix in (".npz", ".safetensors"):
        raise RunDirError(f"{path} is a file, not a run directory; to probe saved activations use "
                          f"`qbelief probe --activations {path} --process PROCESS`")
    if path.is_dir():
        ckpt, path, cfg = open_run(path, map_location)
    else:
        ckpt = load_checkpoint(path, map_location)
        cfg = stored_config(ckpt, path)
        run = path.parent.parent if path.parent.name == rundir.KEPT_DIR else path.parent
        check_run_config(run, cfg, path, ckpt["step"])
    return build_checked_model(ckpt, cfg, path).to(map_location).eval(), cfg


def check_weights(ckpt: dict, cfg: TrainConfig, path: str | os.PathLike) -> None:
    """:class:`CheckpointError` unless the checkpoint has every weight of ``cfg``'s model
    with its shape, and no other (compared on the meta device: nothing allocated)."""
    from .budget import TrainingTooLargeError, check_model_memory

    try:
        check_model_memory(cfg.model, f"{path} (damaged?)")  # before building even on the meta device
    except TrainingTooLargeError as e:
        raise CheckpointError(str(e)) from None
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in build_model(cfg.model).state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in ckpt["model"].items()}
    if shapes != stored:
        k = sorted(set(shapes) ^ set(stored)) or [k for k in shapes if shapes[k] != stored[k]]
        raise CheckpointError(f"{path} is damaged: its weights do not fit its model config (first difference: "
                              f"{k[0]!r}: model {shapes.get(k[0])}, stored {stored.get(k[0])})")


def build_checked_model(ckpt: dict, cfg: TrainConfig, path: str | os.PathLike) -> ActivationModel:
    """The model of ``cfg`` with the checkpoint's weights (:func:`check_weights` first)."""
    check_weights(ckpt, cfg, path)
    model = build_model(cfg.model)
    model.load_state_dict(ckpt["model"])
    return model


def check_resumable(cfg: TrainConfig, stored: dict) -> None:
    """Raise ``ValueError`` unless ``cfg`` equals the checkpoint's config ``stored`` up to
    :data:`RESUMABLE_CHANGES` (both compared in their current, JSON form)."""
    now = cfg.to_dict()
    then = TrainConfig.from_dict(stored, stored=True).to_dict()
    diff = _config_diff(now, then)
    if diff:
        k = diff[0]
        raise ValueError(f"cannot resume: the checkpoint was trained with {k}={_short(_flat(then).get(k))} but "
                         f"the config has {k}={_short(_flat(now).get(k))} (differing fields: {diff}); only "
                         f"{sorted(RESUMABLE_CHANGES)} may change")


def rng_state() -> dict:
    """The torch, numpy (legacy global) and CUDA generator states as tensors and numbers."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved (CUDA states only on the same device count)."""
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


# ---------------------------------------------------------------------- helpers
def _torch_load(data: bytes, path: Path, map_location: Any) -> Any:
    """``torch.load(weights_only=True)`` of verified bytes; :class:`CheckpointError` if it fails."""
    if not data:
        raise CheckpointError(f"{path} is damaged: the file is empty (its write was cut short?)")
    if not data.startswith(_ZIP_MAGIC):
        raise CheckpointError(f"{path} is damaged or not a qbelief checkpoint: it is not a torch zip archive")
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for damaged files
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        why = next((ln for ln in lines if ln.startswith("WeightsUnpickler error")), lines[0] if lines else "")
        raise CheckpointError(f"{path} is damaged: torch.load cannot read it ({type(e).__name__}: {why[:160]})") \
            from None


_ENTRIES = (("step", int), ("config", dict), ("model_config", dict), ("model", dict), ("optimizer", dict),
            ("rng", dict))


def _check_entries(ckpt: Any, path: Path) -> None:
    """Every entry present with its type (the step a non-negative int, the weights tensors, ...)."""
    def bad(what: str):
        raise CheckpointError(f"{path} is damaged or not a qbelief checkpoint: {what}")

    if not isinstance(ckpt, dict):
        bad(f"it holds a {type(ckpt).__name__}, not a dict")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        bad(f"its format is {_short(ckpt.get('format'))}, not {CHECKPOINT_FORMAT!r}")
    for key, typ in _ENTRIES:
        if key not in ckpt:
            bad(f"it has no {key!r} entry")
        v = ckpt[key]
        if not isinstance(v, typ) or isinstance(v, bool):
            bad(f"its {key!r} entry is a {type(v).__name__}, not a {typ.__name__}")
    if ckpt["step"] < 0:
        bad(f"its step is {ckpt['step']}")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in ckpt["model"].items()):
        bad("its 'model' entry is not a dict of named tensors")
    if not {"state", "param_groups"} <= set(ckpt["optimizer"]):
        bad("its 'optimizer' entry is not an optimizer state")
    if not isinstance(ckpt.get("scheduler"), (dict, type(None))):
        bad("its 'scheduler' entry is not a scheduler state")
    rng, n = ckpt["rng"], ckpt["rng"].get("numpy")
    if not (isinstance(rng.get("torch"), torch.Tensor) and isinstance(n, dict)
            and isinstance(n.get("keys"), torch.Tensor) and n["keys"].numel() == 624
            and all(isinstance(n.get(k), t) for k, t in (("pos", int), ("has_gauss", int),
                                                          ("cached_gaussian", float)))):
        bad("its 'rng' entry is not a random-generator state")


def _jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d))


def _flat(d: dict) -> dict:
    """A config dict in JSON form with the model's fields as ``model.<field>``."""
    d = _jsonable(d)
    model = d.pop("model", None)
    return {**d, **({f"model.{k}": v for k, v in model.items()} if isinstance(model, dict) else {"model": model})}


def _config_diff(a: dict, b: dict) -> list[str]:
    """Fields (outside :data:`RESUMABLE_CHANGES`) where two config dicts differ, in JSON form,
    the process first."""
    a, b = _flat(a), _flat(b)
    diff = [k for k in set(a) | set(b) if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k)]
    return sorted(diff, key=lambda k: (k != "process", k))


def _short(v: Any, n: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."
