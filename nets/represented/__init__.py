"""Which representations carry information beyond the next token, and how far ahead they look.

- :mod:`nets.represented.future` -- the process side, exact linear algebra on the minimal
  form: the k-step future distribution is linear in the belief (``Y_k = eta M_k``), its
  probe fit computed exactly in the row space of ``M_k`` (never ``V^k`` columns), the
  horizon at which the future determines the belief (:func:`belief_horizon`), the part of
  the belief a target does not determine (:func:`unexplained`);
- :mod:`nets.represented.analysis` -- :func:`what_is_represented`: the probe of every
  activation point onto the belief, the next token, the next k tokens and the belief
  beyond the next token, with controls;
- :mod:`nets.represented.result` -- :class:`RepresentedResult` (table, summary, JSON,
  figure, Markdown report).
"""

from .analysis import NOTHING_BEYOND, TARGETS, what_is_represented
from .future import Horizon, belief_horizon, unexplained
from .result import RepresentedResult, target_label

__all__ = ["what_is_represented", "RepresentedResult", "belief_horizon", "Horizon", "unexplained", "TARGETS",
           "NOTHING_BEYOND", "target_label"]
