"""The configuration of a training run: :class:`TrainConfig` (JSON-able, nests :class:`ModelConfig`).

The process is stored so that opening a run never executes code and never depends on a
file outside the run: a library spec string (``"mess3:x=0.05,a=0.85"``,
``"mess3*bloch_walk"``) is kept as written; a :class:`generators.Generator` and a
generator file (``.toml``, ``.json``, and ``.py``, which is run once, when the config is
made) become their generator-file table (:func:`generators.io.generator_to_dict`; an
independent product stays factored, ``kind = "product"``).

Older configs wrote the model's fields flat beside the training fields
(``"model": "transformer", "n_layers": 4, ...``) and a process as a GHMM dict
``{"operators", "tau", "initial"}``; :meth:`TrainConfig.from_dict` reads both.

>>> cfg = TrainConfig.from_dict({"process": "mess3", "model": "gru", "hidden": 16, "context": 5})
>>> cfg.model.kind, cfg.model.hidden, cfg.model.vocab_size, cfg.model.n_ctx
('gru', 16, 3, 5)
>>> TrainConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from generators.errors import ArgumentError
from generators.validation import check_choice, check_int, check_real

from .data import MODES, REPRESENTATIONS, TARGETS, resolve_process
from .device import check_device
from .models import ModelConfig

__all__ = ["TrainConfig", "OPTIMIZERS", "SCHEDULERS", "MODEL_FIELDS"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("constant", "cosine", "plateau")
#: ModelConfig fields a flat config may give beside the training fields (vocab_size and
#: n_ctx are not among them: they follow from the process and the context)
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig) if f.name not in ("vocab_size", "n_ctx"))
_FILE_SUFFIXES = (".toml", ".json", ".py")


@dataclass
class TrainConfig:
    """Everything a training run depends on (JSON-able via :meth:`to_dict`).

    Process and data
        process : library spec (``"mess3:x=0.05,a=0.85"``), a Generator, a generator-file
        table or a generator file path (stored as described in the module docstring)
        representation : "minimal" | "native" (belief labels; see :mod:`nets.data`)
        context : model positions L;  bos : prepend a BOS token
        data_mode : "stream" | "exact";  targets : "sampled" | "exact"
    Model
        model : a :class:`nets.models.ModelConfig` (or a dict of its fields); its
        ``vocab_size`` (alphabet size, +1 with BOS) and ``n_ctx`` (= context) are set from
        the process and the context, replacing any values given there
    Optimization
        optimizer : "sgd" | "adam" | "adamw";  lr;  weight_decay (None: the optimizer's
        default, 0.01 for AdamW and 0 for Adam and SGD); momentum (SGD); betas (Adam);
        grad_clip (max global norm or None); batch_size (global); steps
        scheduler : "constant" | "cosine" (to 0 over ``steps``) | "plateau"
        (``ReduceLROnPlateau`` on the per-step training loss: ``plateau_factor``,
        ``plateau_patience`` in steps);  warmup_steps : linear warm-up from lr/warmup_steps
        (constant and cosine)
    Run
        seed, device ("auto" | "cpu" | "cuda[:N]"), bf16 (autocast), out_dir,
        checkpoint_every (steps; 0 = only at the end), keep_checkpoints (steps at which
        a checkpoint is also kept as ``checkpoints/step_N.pt``; :mod:`nets.rundir`),
        log_every, eval_every (exact validation loss every N steps; exact mode),
        max_time_s (stop early, saving a checkpoint), num_threads (torch CPU threads during
        the run; None: :func:`nets.device.default_threads`, 1 thread for small models),
        quiet (no progress bar)
        max_beliefs : belief cap of the mixed-state presentation behind the optimum
        (``bayes.myopic_entropy``; None: its default memory guard)
    Observation
        probe_every : probe the model every N steps (a multiple of ``log_every``; 0 = off):
        :class:`nets.probe.over_training.ProbeCallback` writes ``probes.jsonl`` and
        ``probes/step_N.npz`` (the geometry over training)
        log : experiment trackers to mirror the run to, any of "tensorboard", "wandb",
        "mlflow" (:mod:`nets.tracking`; ``metrics.jsonl`` stays the record)
    """

    process: Any = "mess3"
    representation: str = "minimal"
    context: int = 10
    bos: bool = False
    data_mode: str = "stream"
    targets: str = "sampled"
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float | None = None
    momentum: float = 0.0
    betas: tuple = (0.9, 0.999)
    grad_clip: float | None = None
    batch_size: int = 256
    steps: int = 1000
    scheduler: str = "constant"
    warmup_steps: int = 0
    plateau_factor: float = 0.5
    plateau_patience: int = 1000
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    out_dir: str | None = None
    checkpoint_every: int = 0
    keep_checkpoints: tuple = ()
    log_every: int = 1
    eval_every: int = 0
    max_time_s: float | None = None
    num_threads: int | None = None
    quiet: bool = False
    max_beliefs: int | None = None
    probe_every: int = 0
    log: tuple = ()

    def __post_init__(self):
        self.process, self._generator = _stored_process(self.process)
        for name, valid in (("representation", REPRESENTATIONS), ("data_mode", MODES), ("targets", TARGETS),
                            ("optimizer", OPTIMIZERS), ("scheduler", SCHEDULERS)):
            check_choice(getattr(self, name), name, valid)
        for name in ("context", "batch_size", "steps", "log_every", "plateau_patience"):
            check_int(getattr(self, name), name, minimum=1)
        for name in ("seed", "checkpoint_every", "eval_every", "warmup_steps"):
            check_int(getattr(self, name), name, minimum=0)
        check_real(self.lr, "lr", minimum=0.0, min_open=True)
        check_real(self.momentum, "momentum", minimum=0.0)
        check_real(self.plateau_factor, "plateau_factor", minimum=0.0, maximum=1.0, min_open=True, max_open=True)
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise ArgumentError(f"betas must be two numbers (beta1, beta2), each in [0, 1); got {self.betas!r}")
        self.betas = tuple(check_real(b, "betas", minimum=0.0, maximum=1.0, max_open=True) for b in self.betas)
        for name in ("bos", "bf16", "quiet"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ArgumentError(f"{name} must be true or false; got {getattr(self, name)!r} "
                                    f"({type(getattr(self, name)).__name__})")
            setattr(self, name, bool(getattr(self, name)))
        self.keep_checkpoints = _check_steps(self.keep_checkpoints)
        if self.max_beliefs is not None:
            check_int(self.max_beliefs, "max_beliefs", minimum=1)
        for name, open_min in (("weight_decay", False), ("grad_clip", True), ("max_time_s", True)):
            if getattr(self, name) is not None:
                check_real(getattr(self, name), name, minimum=0.0, min_open=open_min)
        if self.num_threads is not None:
            check_int(self.num_threads, "num_threads", minimum=1)
        if self.warmup_steps and self.scheduler == "plateau":
            raise ValueError("warmup_steps works with scheduler 'constant' or 'cosine', not 'plateau'")
        self.device = check_device(self.device)
        if self.out_dir is not None:
            if not isinstance(self.out_dir, (str, Path)) or not str(self.out_dir).strip():
                raise ArgumentError(f"out_dir must be a folder path or None; got {self.out_dir!r}")
            self.out_dir = str(self.out_dir)
        self.model = self._sized_model(self.model)
        self._check_observation()

    def _check_observation(self) -> None:
        """``probe_every`` (a multiple of ``log_every``: its metrics join that step's record) and ``log``."""
        from .tracking import check_trackers

        check_int(self.probe_every, "probe_every", minimum=0)
        if self.probe_every % self.log_every:
            raise ArgumentError(f"probe_every={self.probe_every} must be a multiple of log_every={self.log_every} "
                                "(the probe's metrics join that step's metrics record)")
        self.log = check_trackers(self.log)

    def _sized_model(self, model: Any) -> ModelConfig:
        """The ModelConfig with ``vocab_size`` and ``n_ctx`` set from the process and context."""
        sizes = {"vocab_size": self._generator.alphabet_size + int(self.bos), "n_ctx": self.context}
        if isinstance(model, ModelConfig):
            return replace(model, **sizes)
        if isinstance(model, dict):
            return ModelConfig.from_dict({**model, **sizes})
        raise ValueError(f"model must be a nets.models.ModelConfig or a dict of its fields; got {model!r} (a flat "
                         "config with model='transformer' and the model's fields beside it: TrainConfig.from_dict)")

    # ------------------------------------------------------------------ conversions
    def generator(self):
        """The process as a :class:`generators.Generator` (resolved once per config)."""
        return self._generator

    def model_config(self, vocab_size: int | None = None) -> ModelConfig:
        """The :class:`ModelConfig` (its vocabulary replaced by ``vocab_size`` if given)."""
        return self.model if vocab_size is None else replace(self.model, vocab_size=int(vocab_size))

    def to_dict(self) -> dict:
        """Plain JSON-able dict: the model nested, a Generator process as its file table."""
        from generators import Generator
        from generators.io import generator_to_dict

        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["model"] = self.model.to_dict()
        d["betas"] = list(self.betas)
        d["keep_checkpoints"] = list(self.keep_checkpoints)
        d["log"] = list(self.log)
        if isinstance(self.process, Generator):
            d["process"] = generator_to_dict(self.process)
        return d

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every key :meth:`from_dict` accepts: the fields, and the model's flat fields."""
        return tuple(f.name for f in fields(cls)) + MODEL_FIELDS

    @classmethod
    def from_dict(cls, d: dict, *, stored: bool = False) -> "TrainConfig":
        """A config from its dict, nested or flat.

        Model fields may be given in a ``model`` table, flat beside the training fields, or
        both (flat ones override the table); ``model`` may also be the kind alone
        (``"lstm"``), as in older configs.  ``stored=True`` (a config read from a run)
        refuses a process given as a ``.py`` path: opening a run never executes code.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a TrainConfig dict is needed; got {type(d).__name__}")
        bad = sorted(set(d) - set(cls.keys()))
        if bad:
            raise ValueError(f"unknown TrainConfig field(s) {bad}; valid: {sorted(cls.keys())}")
        values = {k: v for k, v in d.items() if k not in MODEL_FIELDS}
        model = values.get("model", {})
        model = model.to_dict() if isinstance(model, ModelConfig) else model
        model = {"kind": model} if isinstance(model, str) else dict(model)
        flat = {k: d[k] for k in MODEL_FIELDS if k in d}
        if "kind" in flat and isinstance(values.get("model"), str) and flat["kind"] != values["model"]:
            raise ValueError(f"model={values['model']!r} and kind={flat['kind']!r} disagree")
        values["model"] = {**model, **flat}
        if stored and isinstance(values.get("process"), str) and _is_path(values["process"], (".py",)):
            raise ValueError(f"a stored run may not name a Python file as its process ({values['process']!r}): "
                             "opening a run never executes code")
        for name in ("betas", "keep_checkpoints"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)


def _check_steps(steps: Any) -> tuple:
    """``keep_checkpoints``: distinct steps >= 1, sorted (steps beyond ``steps`` are reached
    only by a resumed, longer run)."""
    if not isinstance(steps, (tuple, list)):
        raise ArgumentError(f"keep_checkpoints must be a list of steps; got {steps!r}")
    return tuple(sorted({check_int(s, "keep_checkpoints step", minimum=1) for s in steps}))


def _is_path(spec: str, suffixes: tuple = _FILE_SUFFIXES) -> bool:
    return Path(spec.strip()).suffix.lower() in suffixes


def _stored_process(process: Any) -> tuple[Any, Any]:
    """``(what the config stores, the Generator)`` for a process given in any accepted form."""
    from generators import Generator
    from generators.io import generator_to_dict

    if isinstance(process, Path):
        process = str(process)
    g = resolve_process(process)
    if isinstance(process, Generator):
        return process, g
    if isinstance(process, str) and not _is_path(process):
        return process, g
    return generator_to_dict(g), g  # a file (loaded once) or a table (normalized)

