"""What Riechers, Elliott, Shai 2025 (arXiv 2507.07432) [1] train on and with.

- :data:`PROCESSES`: the four processes as library specs (JSON-able, so a run's
  configuration can be stored and compared): Mess3(0.05, 0.85) (classical), the Bloch walk
  (1, sqrt 51) (quantum: no finite classical HMM generates it), Moon (post-quantum) and FRDN
  (post-quantum-style);
- :data:`ARCH`: the paper's networks (a 4-layer transformer; LSTM / GRU / vanilla-RNN
  stacks of 4 layers of 64) and :func:`probe_points` (the layers whose activations are
  concatenated);
- :func:`mess3_hidden_bit`: a *non-minimal* 6-state HMM of Mess3, the larger classical
  representation the activations are also probed onto.

References
----------
.. [1] P. M. Riechers, T. J. Elliott, A. S. Shai, "Neural networks leverage nominally
   quantum and post-quantum representations", arXiv 2507.07432 (2025).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PROCESSES", "ARCH", "RNN_KINDS", "probe_points", "mess3_hidden_bit", "process"]

#: name -> library spec (the paper's parameters)
PROCESSES = {
    "mess3": "mess3:x=0.05,a=0.85",
    "bloch_walk": f"bloch_walk:alpha=1,beta={51 ** 0.5!r}",
    "moon": "moon",
    "frdn": "frdn",
}
RNN_KINDS = ("lstm", "gru", "rnn")
#: the paper's networks: model fields per kind
ARCH = {"transformer": dict(kind="transformer", n_layers=4, d_model=64, n_heads=4, d_head=16, d_mlp=256, act="relu"),
        **{k: dict(kind=k, n_layers=4, hidden=64) for k in RNN_KINDS}}


def process(name: str):
    """The :class:`generators.Generator` of a process in :data:`PROCESSES`."""
    from nets.data import resolve_process

    if name not in PROCESSES:
        raise ValueError(f"unknown process {name!r}; known: {', '.join(PROCESSES)}")
    return resolve_process(PROCESSES[name])


def probe_points(model: dict) -> list[str]:
    """The activations concatenated by the probe: a transformer's embedding and every
    block's residual stream; an RNN's every layer's hidden state.

    >>> probe_points(ARCH["transformer"])[-1], probe_points(ARCH["gru"])
    ('blocks.3.resid_post', ['layers.0.hidden', 'layers.1.hidden', 'layers.2.hidden', 'layers.3.hidden'])
    """
    n = int(model["n_layers"])
    if model["kind"] == "transformer":
        return ["embed"] + [f"blocks.{i}.resid_post" for i in range(n)]
    return [f"layers.{i}.hidden" for i in range(n)]


def mess3_hidden_bit(x: float = 0.05, a: float = 0.85, keep: float = 0.9):
    """Mess3 with a hidden "stayed" bit: a 6-state HMM of *the same process* (non-minimal).

    State ``(j, d)``: Mess3 state ``j`` and a bit ``d`` recording (noisily) whether the last
    transition stayed put: ``d = 1`` with probability ``keep`` if it went ``i -> i``, else
    with probability ``1 - keep``.  The bit never influences emissions or transitions, so
    the process is Mess3's; but it is correlated with the observed symbols, so a Bayesian
    observer of this HMM carries a belief about it -- a nonlinear function of the past of
    no use for prediction (its beliefs span a 5-dim simplex, not a plane).
    """
    from generators import HMM, library

    T = library.get("mess3", x=x, a=a).to_ghmm().operators
    V, n, _ = T.shape
    R = np.zeros((n, n, 2))  # R[i, j, d]: Pr(bit d | transition i -> j)
    same = np.eye(n, dtype=bool)
    R[same, 1], R[same, 0] = keep, 1 - keep
    R[~same, 1], R[~same, 0] = 1 - keep, keep
    T2 = np.einsum("xij,ijd->xijd", T, R)  # independent of the previous bit
    T2 = np.repeat(T2.reshape(V, n, 1, n * 2), 2, axis=2).reshape(V, 2 * n, 2 * n)
    return HMM(T2, name=f"mess3 + hidden stayed-bit ({2 * n} states)")
