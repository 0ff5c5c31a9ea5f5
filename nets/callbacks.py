"""Hooks into the training loop of :func:`nets.train.train`: :class:`Callback` and its list.

A callback sees the run at three moments and may stop it:

- ``on_start(state)`` -- the run directory is open, the model built (and restored when
  resuming: ``state.step`` is the checkpoint's step, 0 for a fresh run);
- ``on_log(state, record)`` -- after every logged step, before ``record`` (the metrics
  dict) is written to ``metrics.jsonl``: a callback may add keys to it (the probe's
  metrics go there, so ``metrics.jsonl`` keeps everything); returning True stops training
  (a checkpoint is saved);
- ``on_end(state, result)`` -- after the last step, with the :class:`nets.train.TrainResult`;
- ``close()`` -- always, also when training failed (release files, finish tracker runs).

``state`` is the running training: ``state.cfg`` (:class:`nets.config.TrainConfig`),
``state.model`` (in train mode between steps: a callback that evaluates it switches to
eval mode and back), ``state.data`` (:class:`nets.data.BeliefData`), ``state.out`` (the
run directory or None), ``state.step``, ``state.history`` and ``state.info``
(:class:`nets.distributed.DistInfo`: under torchrun a callback usually acts on the main
rank only, ``state.info.is_main``).

:func:`callbacks_for` assembles what :func:`nets.train.train` runs: the config's own
callbacks (``probe_every`` -> :class:`nets.probe.over_training.ProbeCallback`, ``log`` ->
:class:`nets.tracking.TrackingCallback`) around the user's (a plain function
``callback(step, record)`` as before, a :class:`Callback`, or a list of them).  Order: the
probe first (its metrics join the record), then the user's, then the trackers (they see
the whole record).

>>> class Stop(Callback):
...     def on_log(self, state, record):
...         return record["step"] >= 3
>>> from nets.config import TrainConfig
>>> from nets.train import train
>>> cfg = TrainConfig(process="mess3", context=4, steps=50, batch_size=8, quiet=True,
...                   model={"kind": "gru", "hidden": 8, "n_layers": 1})
>>> train(cfg, callback=Stop()).steps_done
3
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

__all__ = ["Callback", "FunctionCallback", "CallbackList", "callbacks_for"]


class Callback:
    """Base class of training callbacks (see the module docstring); every hook is optional."""

    def on_start(self, state: Any) -> None:
        """The run is open and built (``state.step``: the step it starts from)."""

    def on_log(self, state: Any, record: dict) -> bool | None:
        """A logged step's metrics (may be extended in place); True stops training."""

    def on_end(self, state: Any, result: Any) -> None:
        """Training finished normally; ``result`` is the :class:`nets.train.TrainResult`."""

    def close(self) -> None:
        """Release what the callback holds (called after ``on_end``, or after a failure)."""


class FunctionCallback(Callback):
    """A plain function ``callback(step, record) -> bool | None`` as a :class:`Callback`."""

    def __init__(self, fn: Callable[[int, dict], Any]):
        self.fn = fn

    def on_log(self, state: Any, record: dict) -> bool:
        return bool(self.fn(record["step"], record))


class CallbackList(Callback):
    """Several callbacks called in order; ``on_log`` stops when any of them asks to;
    ``close`` closes every one even when one of them fails (the first error is raised)."""

    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks = list(callbacks)

    def on_start(self, state: Any) -> None:
        for c in self.callbacks:
            c.on_start(state)

    def on_log(self, state: Any, record: dict) -> bool:
        stop = False
        for c in self.callbacks:
            stop = bool(c.on_log(state, record)) or stop
        return stop

    def on_end(self, state: Any, result: Any) -> None:
        for c in self.callbacks:
            c.on_end(state, result)

    def close(self) -> None:
        error = None
        for c in self.callbacks:
            try:
                c.close()
            except Exception as e:  # close the others before reporting it
                error = error or e
        if error is not None:
            raise error


def _as_callbacks(callback: Any) -> list[Callback]:
    if callback is None:
        return []
    if isinstance(callback, Callback):
        return [callback]
    if isinstance(callback, (list, tuple)):
        return [c for item in callback for c in _as_callbacks(item)]
    if callable(callback):
        return [FunctionCallback(callback)]
    raise ValueError(f"callback must be a function callback(step, record), a nets.callbacks.Callback or a list of "
                     f"them; got {type(callback).__name__}")


def callbacks_for(cfg: Any, callback: Any = None) -> CallbackList:
    """The callbacks a training with config ``cfg`` runs: the probe over training
    (``cfg.probe_every``), the user's ``callback`` (function, Callback or list), the
    trackers (``cfg.log``), in that order."""
    user = _as_callbacks(callback)
    builtin_first, builtin_last = [], []
    if getattr(cfg, "probe_every", 0):
        from .probe.over_training import ProbeCallback

        builtin_first.append(ProbeCallback(cfg.probe_every))
    if getattr(cfg, "log", ()):
        from .tracking import TrackingCallback

        builtin_last.append(TrackingCallback())
    return CallbackList(builtin_first + user + builtin_last)
