"""One view of any model for collecting activations: :class:`ActivationSource`.

:func:`as_source` wraps

- a qbelief model (:class:`nets.models.ActivationModel`) -- :class:`QbeliefSource`;
- a TransformerLens model -- a ``HookedTransformer`` (TransformerLens 2.x/3.x) or a
  ``TransformerBridge`` (4.x): :class:`TransformerLensSource` reads ``cfg.d_vocab`` and
  ``cfg.n_ctx``, caches through ``run_with_cache(names_filter=...)`` and builds the
  untrained twin from ``cfg``;
- any ``torch.nn.Module`` mapping token ids ``(B, L)`` to anything, with the points to
  record named by submodule: :class:`ModuleSource` (forward hooks).

A source knows its vocabulary and context (when it can), its activation names (either
spelling: :func:`nets.activations.aliases`), its default probe points, how to run a
batch, and how to build an untrained twin of the same architecture (the probe's
untrained-network control).  TransformerLens is optional (``pip install qbelief[tl]``);
nothing here imports it unless a TransformerLens model is passed.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from .device import module_device
from .activations import resolve_names

__all__ = ["ActivationSource", "QbeliefSource", "TransformerLensSource", "ModuleSource", "as_source", "resolve_bos"]


class ActivationSource:
    """A model seen as a map from token ids to named activations.

    Subclasses set :attr:`module` (the ``torch.nn.Module``), :attr:`vocab_size` and
    :attr:`n_ctx` (None when unknown) and implement :meth:`activation_names`,
    :meth:`run` and :meth:`untrained`.
    """

    module: torch.nn.Module
    vocab_size: int | None = None
    n_ctx: int | None = None
    kind: str = "model"

    def activation_names(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def default_points(self) -> list[str]:
        """The points probed by default (every name unless a subclass knows better)."""
        return [n for n in self.activation_names() if "pattern" not in n]

    def resolve(self, names: str | Iterable[str] | None) -> list[str]:
        """Names or patterns (either spelling) -> this source's names, in its order."""
        return resolve_names(names, self.activation_names(), what=self.kind)

    def run(self, tokens: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:  # pragma: no cover
        """Activations ``name -> (B, L, ...)`` of one batch of token ids ``(B, L)``."""
        raise NotImplementedError

    def untrained(self, seed: int) -> "ActivationSource":  # pragma: no cover - abstract
        """A randomly initialized twin (same architecture), seeded; the global torch RNG is restored."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return module_device(self.module)

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode inside the block, the previous mode restored afterwards."""
        was = self.module.training
        self.module.eval()
        try:
            yield
        finally:
            self.module.train(was)


class QbeliefSource(ActivationSource):
    """A :class:`nets.models.ActivationModel` (or anything with ``run_with_cache(tokens,
    names)``, ``activation_names()``, ``vocab_size``, ``n_ctx`` and ``config``)."""

    kind = "qbelief model"

    def __init__(self, model: Any):
        self.module, self.model = model, model
        self.vocab_size, self.n_ctx = int(model.vocab_size), int(model.n_ctx)
        self.kind = getattr(model, "kind", self.kind)

    def activation_names(self) -> list[str]:
        return list(self.model.activation_names())

    def default_points(self) -> list[str]:
        """``embed``, every ``blocks.i.resid_post`` and ``ln_final`` of a transformer;
        every ``layers.i.hidden`` of an RNN; otherwise every non-attention point."""
        names = self.activation_names()
        res = [n for n in names if n == "embed" or n.endswith(".resid_post") or n == "ln_final"]
        if any(n.endswith(".resid_post") for n in res):
            return res
        hid = [n for n in names if n.startswith("layers.") and n.endswith(".hidden")]
        return hid or super().default_points()

    def run(self, tokens: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
        return self.model.run_with_cache(tokens.to(self.device), names)[1]

    def untrained(self, seed: int) -> "QbeliefSource":
        from .models import build_model

        cfg = getattr(self.model, "config", None)
        if cfg is None:
            raise ValueError("an untrained twin needs model.config; pass an untrained model or a factory")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return QbeliefSource(build_model(cfg).to(self.device))


class TransformerLensSource(ActivationSource):
    """A TransformerLens ``HookedTransformer`` or ``TransformerBridge``.

    Names are its hook names (``blocks.0.hook_resid_post``; qbelief's spelling is
    accepted too); the default points are ``blocks.*.hook_resid_post``.
    """

    kind = "TransformerLens model"

    def __init__(self, model: Any):
        self.module, self.model = model, model
        cfg = model.cfg
        self.vocab_size, self.n_ctx = int(cfg.d_vocab), int(cfg.n_ctx)

    def activation_names(self) -> list[str]:
        return list(self.model.hook_dict)

    def default_points(self) -> list[str]:
        return self.resolve("blocks.*.hook_resid_post")

    def run(self, tokens: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
        want = set(names)
        _, cache = self.model.run_with_cache(tokens.to(self.device), names_filter=lambda n: n in want)
        return {n: cache[n] for n in names}

    def untrained(self, seed: int) -> "TransformerLensSource":
        cfg = copy.deepcopy(self.model.cfg)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if hasattr(type(self.model), "boot_native"):  # TransformerLens 4.x bridge
                if getattr(cfg, "architecture", None) not in (None, "TransformerLensNative"):
                    raise ValueError(f"cannot build an untrained twin of a {cfg.architecture} bridge from its cfg; "
                                     "pass untrained= (a model or a factory)")
                if hasattr(cfg, "seed"):
                    cfg.seed = seed
                twin = type(self.model).boot_native(cfg)
            else:
                twin = type(self.model)(cfg)
        return TransformerLensSource(twin.to(self.device))


class ModuleSource(ActivationSource):
    """Any ``torch.nn.Module`` that maps token ids ``(B, L)`` through its ``forward``,
    with activations recorded by forward hooks on named submodules.

    Parameters
    ----------
    module : torch.nn.Module
    points : mapping name -> submodule path (``"blocks.0"``), or a sequence of paths
        (the names are the paths).  A hooked submodule must output a tensor ``(B, L, d)``
        (or a tuple whose first element is one, as ``nn.GRU`` does).
    vocab_size, n_ctx : int, optional
        The model's vocabulary and context (needed to align a process's symbols with
        tokens and to detect a BOS token); read from ``module.vocab_size`` /
        ``module.n_ctx`` or ``module.cfg.d_vocab`` / ``module.cfg.n_ctx`` when not given.
    """

    kind = "torch module"

    def __init__(self, module: torch.nn.Module, points: Mapping[str, str] | Sequence[str], *,
                 vocab_size: int | None = None, n_ctx: int | None = None):
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"ModuleSource needs a torch.nn.Module; got {type(module).__name__}")
        self.module = module
        self.points = dict(points) if isinstance(points, Mapping) else {str(p): str(p) for p in points}
        if not self.points:
            raise ValueError("ModuleSource needs at least one point (name -> submodule path)")
        subs = dict(module.named_modules())
        bad = [p for p in self.points.values() if p not in subs]
        if bad:
            raise ValueError(f"no submodule {bad[0]!r} in this {type(module).__name__}; submodules: "
                             f"{', '.join(n for n in subs if n)}")
        cfg = getattr(module, "cfg", None)
        self.vocab_size = vocab_size if vocab_size is not None else getattr(module, "vocab_size",
                                                                            getattr(cfg, "d_vocab", None))
        self.n_ctx = n_ctx if n_ctx is not None else getattr(module, "n_ctx", getattr(cfg, "n_ctx", None))

    def activation_names(self) -> list[str]:
        return list(self.points)

    def run(self, tokens: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
        subs = dict(self.module.named_modules())
        out: dict[str, torch.Tensor] = {}

        def hook(name: str):
            def record(_mod, _args, output):
                out[name] = output[0] if isinstance(output, (tuple, list)) else output
            return record

        handles = [subs[self.points[n]].register_forward_hook(hook(n)) for n in names]
        try:
            self.module(tokens.to(self.device))
        finally:
            for h in handles:
                h.remove()
        return {n: out[n] for n in names}

    def untrained(self, seed: int) -> "ModuleSource":
        """A deep copy with every submodule's ``reset_parameters()`` called (seeded).
        Raises ``ValueError`` when a parameter belongs to a module without
        ``reset_parameters`` (it would keep its trained value): pass ``untrained=`` then."""
        twin = copy.deepcopy(self.module)
        resettable = [m for m in twin.modules() if callable(getattr(m, "reset_parameters", None))]
        covered = {id(p) for m in resettable for p in m.parameters(recurse=False)}
        stuck = [n for n, p in twin.named_parameters() if id(p) not in covered]
        if stuck:
            raise ValueError(f"cannot re-initialize parameters {stuck[:4]} (their modules have no reset_parameters); "
                             "pass untrained= (a model or a factory) for the untrained-network control")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for m in resettable:
                m.reset_parameters()
        return ModuleSource(twin, self.points, vocab_size=self.vocab_size, n_ctx=self.n_ctx)


def as_source(model: Any, points: Mapping[str, str] | Sequence[str] | None = None, **kw: Any) -> ActivationSource:
    """The :class:`ActivationSource` of ``model`` (returned as is if it already is one).

    ``points`` (with ``vocab_size``/``n_ctx`` in ``kw``) wraps a plain module in a
    :class:`ModuleSource`; qbelief and TransformerLens models are recognized by type.
    """
    if isinstance(model, ActivationSource):
        return model
    if points is not None:
        return ModuleSource(model, points, **kw)
    if hasattr(model, "run_with_cache") and hasattr(model, "activation_names"):
        return QbeliefSource(model)
    if hasattr(model, "run_with_cache") and hasattr(model, "hook_dict") and hasattr(getattr(model, "cfg", None),
                                                                                   "d_vocab"):
        return TransformerLensSource(model)
    if isinstance(model, torch.nn.Module):
        raise ValueError(f"a plain {type(model).__name__} has no named activation points: wrap it as "
                         "nets.adapters.ModuleSource(module, points={'name': 'submodule.path', ...})")
    raise ValueError(f"cannot read activations from a {type(model).__name__}: pass a qbelief model, a "
                     "TransformerLens model, a torch.nn.Module wrapped in ModuleSource, or arrays")


def resolve_bos(vocab: int | None, V: int, bos: Any) -> int | None:
    """The BOS token id of a model with vocabulary ``vocab`` reading a process of ``V`` symbols.

    ``bos="auto"``: none when ``vocab == V``, token ``V`` when ``vocab == V + 1``, else a
    ``ValueError`` (the model was not trained on this process); ``None``: no BOS; an
    int: that token, which must lie outside the alphabet ``0..V-1``.
    """
    if vocab is None:
        if bos == "auto":
            raise ValueError("the model's vocabulary size is unknown: give vocab_size (ModuleSource) or bos=None/int")
        vocab = V + 1 if bos is not None else V
    vocab = int(vocab)
    if bos == "auto":
        if vocab == V:
            return None
        if vocab == V + 1:
            return V
        raise ValueError(f"the model's vocabulary has {vocab} tokens but the generator has {V} symbols "
                         f"(expected {V}, or {V + 1} with a BOS token): the model was not trained on this process")
    if bos is None:
        if vocab < V:
            raise ValueError(f"the model's vocabulary has {vocab} tokens; the generator needs {V}")
        return None
    if isinstance(bos, (bool, np.bool_)) or not isinstance(bos, (int, np.integer)) or not V <= bos < vocab:
        raise ValueError(f"bos token {bos!r} must be a model token outside the alphabet 0..{V - 1} (vocab {vocab})")
    return int(bos)
