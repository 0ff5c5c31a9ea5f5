"""What to probe: :class:`ProbeTask`, the arrays of one probe call, checked together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .arrays import as_2d, check_activations, check_weights

__all__ = ["ProbeTask", "TASK_OPTIONS"]

#: keyword arguments of :func:`nets.probe.probe` that carry data, not options
TASK_OPTIONS = ("untrained", "markov_beliefs", "markov_order", "next_probs", "shuffle_groups", "meta")


@dataclass(frozen=True, eq=False)
class ProbeTask:
    """The arrays of one probe: one row per input (prefix).

    Attributes
    ----------
    activations : dict name -> float64 (N, d_name)
        Activations at each probe point (an array is ``{"activations": array}``).
    beliefs : float64 (N, k) -- true beliefs in the chosen representation
    weights : float64 (N,) -- nonnegative row weights, normalized here (default uniform)
    untrained : dict name -> (N, d_name), optional -- the same points of a randomly
        initialized network of the same architecture (the untrained-network control);
        must have the same names
    markov_beliefs : (N, m), optional -- beliefs of an order-k Markov approximation of the
        process (the finite-memory baseline: features predicting the beliefs, and targets
        of the headline point); ``markov_order`` is its k
    next_probs : (N, V), optional -- next-symbol distributions (distance geometry)
    shuffle_groups : (N,), optional -- labels (e.g. prefix lengths): the shuffled control
        permutes beliefs only among rows with the same label, each row keeping its weight
    meta : dict -- recorded in ``ProbeResult.meta``
    """

    activations: Any
    beliefs: Any
    weights: Any = None
    untrained: Any = None
    markov_beliefs: Any = None
    markov_order: int | None = None
    next_probs: Any = None
    shuffle_groups: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        put = object.__setattr__
        acts = check_activations(self.activations, "activations")
        names = list(acts)
        N = next(iter(acts.values())).shape[0]
        Y = as_2d(self.beliefs, "beliefs")
        if Y.shape[0] != N:
            raise ValueError(f"beliefs have {Y.shape[0]} rows but activations have {N}; one row per input is required")
        put(self, "activations", acts)
        put(self, "beliefs", Y)
        put(self, "weights", check_weights(self.weights, N))
        if self.untrained is not None:
            unt = check_activations(self.untrained, "untrained")
            missing = [n for n in names if n not in unt]
            if missing:
                raise ValueError(f"untrained activations lack points {missing}; they must have the same names {names}")
            for n in names:
                if unt[n].shape[0] != N:
                    raise ValueError(f"untrained[{n!r}] has {unt[n].shape[0]} rows; expected {N}")
            put(self, "untrained", unt)
        for key in ("markov_beliefs", "next_probs"):
            v = getattr(self, key)
            if v is not None:
                v = as_2d(v, key)
                if v.shape[0] != N:
                    raise ValueError(f"{key} have {v.shape[0]} rows; expected {N}")
                put(self, key, v)
        if self.shuffle_groups is not None:
            g = np.asarray(self.shuffle_groups).reshape(-1)
            if g.shape != (N,):
                raise ValueError(f"shuffle_groups must have shape ({N},); got {g.shape}")
            put(self, "shuffle_groups", g)
        put(self, "meta", dict(self.meta or {}))

    @property
    def n_rows(self) -> int:
        return int(self.beliefs.shape[0])
