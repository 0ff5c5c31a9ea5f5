"""The ``train`` subcommand of :mod:`nets.cli`: its flags, ``--config`` files and ``--resume``.

Every :class:`nets.config.TrainConfig` field is a flag and a key of the optional TOML
``--config`` file (tables such as ``[model]`` are flattened); flags override the file;
``--resume`` continues from the configuration stored in the run's checkpoint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_checks import CLIError

__all__ = ["cmd_train", "add_train_flags"]


def cmd_train(args) -> int:
    from .train import train

    cfg = _train_config(args)
    out = Path(cfg.out_dir)
    if args.nproc > 1:
        from . import rundir
        from .distributed import launch

        if not args.resume and not args.overwrite and rundir.holds_run(out):  # before starting torchrun
            raise CLIError(f"{out} already holds a run; continue it with --resume, replace it with --overwrite, "
                           "or choose another --out")
        proc = launch(cfg, args.nproc, resume=args.resume, overwrite=args.overwrite)
        print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "done")
    else:
        res = train(cfg, resume=args.resume, overwrite=args.overwrite)
        rel = f"{res.final_relative:.4f}" if res.final_relative is not None else "-"
        print(f"trained {res.steps_done} steps: loss {res.final_loss:.5f} nats, relative to optimum {rel}"
              + (f"; exact validation loss {res.val_loss:.5f} ({res.val_relative:.4f} x optimum)"
                 if res.val_loss is not None else ""))
    print(f"run directory: {out} (config.json, metrics.jsonl, checkpoint.pt)")
    return 0



def _train_config(args):
    """TrainConfig from defaults < the resumed checkpoint's config < --config TOML < explicit
    flags; process from PROCESS (on --resume, the checkpoint's when PROCESS is not given).
    Model fields may be flat or in a ``[model]`` table."""
    from .train import TrainConfig

    if args.resume and args.overwrite:
        raise CLIError("--resume continues the run in --out and --overwrite replaces it: give one")
    values: dict = {}
    stored = _resumed_config(Path(args.out)) if args.resume else None
    if stored is not None:  # a resumed run starts from the options its checkpoint was trained with
        values.update({k: v for k, v in stored.items() if k not in ("out_dir", "quiet")})
    if args.config:
        values.update(_read_config_file(Path(args.config)))
    bad = sorted(set(values) - set(TrainConfig.keys()))
    if bad:
        raise CLIError(f"unknown config key(s) {bad}; valid: {', '.join(sorted(TrainConfig.keys()))}")
    values.update({k: v for k in TrainConfig.keys() if (v := getattr(args, f"cfg_{k}", None)) is not None})
    if args.model:
        values["kind"] = args.model
        if isinstance(values.get("model"), str):
            values["model"] = args.model
    if args.process is not None:
        values["process"] = args.process.strip()  # a file is read once and stored as its table (nets.config)
    elif stored is None:
        raise CLIError("train needs a PROCESS (a library spec such as mess3, or a generator file)")
    values["out_dir"] = args.out
    if args.quiet:
        values["quiet"] = True
    return TrainConfig.from_dict(values)



def _resumed_config(out: Path) -> dict:
    """The config stored in the checkpoint --resume will continue (checked like every load)."""
    import warnings

    from . import rundir
    from .checkpoint import open_run

    if not any(p.exists() for p in rundir.candidates(out)):
        if (out / rundir.CONFIG).is_file():  # killed before its first checkpoint: it restarts from step 0
            return _run_config_json(out / rundir.CONFIG)
        raise CLIError(f"--resume: {out} has no checkpoint to resume from")
    with warnings.catch_warnings():  # training opens the run again and warns then
        warnings.simplefilter("ignore")
        ckpt, _, _ = open_run(out)
    return ckpt["config"]



def _run_config_json(p: Path) -> dict:
    """A run's ``config.json`` (its process never executed: read as a stored config)."""
    from .train import TrainConfig

    try:
        return TrainConfig.from_dict(json.loads(p.read_text(encoding="utf-8")), stored=True).to_dict()
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CLIError(f"{p} cannot be read ({e}) and there is no checkpoint to resume from; start afresh with "
                       "--overwrite") from None



def _read_config_file(p: Path) -> dict:
    """The options of a ``--config`` TOML file, its tables (``[model]``, ``[optim]``...) flattened."""
    from generators.fileio import read_toml

    raw = read_toml(p, "config file", CLIError)
    values: dict = {}
    for k, v in raw.items():  # allow [model], [optimizer], ... tables: flatten them
        values.update(v if isinstance(v, dict) else {k: v})
    return values



def add_train_flags(s: argparse.ArgumentParser) -> None:
    """One ``--flag`` per TrainConfig field and per model field (dest ``cfg_<name>``,
    default None = unset)."""
    from dataclasses import MISSING, fields

    from .models import ModelConfig
    from .train import TrainConfig

    skip = {"process", "model", "out_dir", "quiet", "kind", "vocab_size", "n_ctx"}
    g = s.add_argument_group("training and model options (each also settable in --config TOML)")
    for f in [*fields(TrainConfig), *fields(ModelConfig)]:
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            g.add_argument(flag, dest=f"cfg_{f.name}", action=argparse.BooleanOptionalAction, default=None,
                           help=f"(default {default})")
        elif isinstance(default, tuple):
            g.add_argument(flag, dest=f"cfg_{f.name}", type=type(default[0]) if default else _TUPLE_TYPES[f.name],
                           nargs=len(default) if default else "+", default=None,
                           help=f"(default {' '.join(map(str, default)) or 'none'})")
        else:
            typ = type(default) if default is not None else _none_type(f.name)
            g.add_argument(flag, dest=f"cfg_{f.name}", type=typ, default=None, help=f"(default {default})")



#: element type of the tuple fields whose default is empty
_TUPLE_TYPES = {"keep_checkpoints": int, "log": str}


def _none_type(name: str):
    return {"d_head": int, "d_embed": int, "grad_clip": float, "max_time_s": float, "num_threads": int,
            "weight_decay": float, "max_beliefs": int}.get(name, str)
