"""The unit of every loss and information quantity in :mod:`nets` (and the papers): nats.

:mod:`bayes` reports information in bits by default (``base=2``); a network's
cross-entropy is in nats (``torch.log_softmax``).  Every call from :mod:`nets` or
:mod:`papers` into :mod:`bayes` passes ``base=NATS`` so the Bayes-optimal loss and the
network's loss are in the same unit.

>>> import math
>>> from bayes import myopic_entropy
>>> from generators import library
>>> h = myopic_entropy(library.mess3(x=0.15, a=0.6), 1, base=NATS)
>>> bool(abs(h[0] - math.log(3)) < 1e-12)
True
"""

from __future__ import annotations

import math

__all__ = ["NATS"]

#: logarithm base of natural units (pass as ``base=NATS`` to :mod:`bayes`)
NATS = math.e
