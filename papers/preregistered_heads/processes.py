"""Generalized Mess processes ("Mess-n", :func:`generators.library.mess_n`): classical HMMs
whose transition matrix acts as ``lambda * I`` on everything but the stationary direction,
for any ``lambda`` a stochastic matrix allows — down to ``-1`` with two states.

Definition
----------
``mess_n(n, lam, a)``: ``n`` hidden states, ``n`` symbols.  The state moves with the
symmetric transition matrix ::

    M = lam * I + (1 - lam) * J / n          (J the all-ones matrix)

(diagonal ``lam + (1-lam)/n``, off-diagonal ``(1-lam)/n``) and emits the symbol equal to the
*new* state with probability ``a``, each other symbol with ``(1-a)/(n-1)``::

    T[x][i, j] = M[i, j] * (a if x == j else (1 - a)/(n - 1))

Properties (derived here, checked in ``tests/papers/test_preregistered_heads.py``)

* ``sum_x T[x] = M`` (the emission weights of each ``j`` sum to 1), so the process is a valid
  HMM iff ``M >= 0`` and ``0 <= a <= 1``.
* ``M = lam I + (1 - lam) 1 pi`` with ``pi = 1/n`` uniform; hence ``M 1 = 1``, ``pi M = pi``
  and for every ``v`` with ``v 1 = 0`` (the non-stationary subspace of row vectors)
  ``v M = lam v``.  The spectrum is ``{1, lam (n-1 times)}`` and ``M`` restricted to the
  non-stationary subspace is *exactly* ``lam * I`` — the property that makes a single
  attention decay ``lam^(d-s)`` sufficient for the constrained belief update of
  Piotrowski et al. (2025).
* Nonnegativity: off-diagonal needs ``lam <= 1``, diagonal ``lam + (1-lam)/n >= 0``, i.e.
  ``lam >= -1/(n-1)``.  So ``lam = -0.7`` needs ``n = 2``.
* Mess3 is the case ``n = 3``: ``mess_n(3, 1 - 3x, a) == mess3(x, a)`` (diagonal
  ``1 - 2x``, off-diagonal ``x``, emission ``a`` / ``(1-a)/2``).  Mess3 therefore stops at
  ``lam = -1/2`` (``x = 1/2``).

Why no 3-state (or larger) classical process can do better: any ``n``-state stochastic
``M`` that acts as ``lam I`` on the whole non-stationary subspace is
``lam I + (1 - lam) 1 pi`` for its stationary ``pi``; its diagonal entries
``lam + (1 - lam) pi_i`` are nonnegative only if ``lam >= -pi_i / (1 - pi_i)`` for every
``i``, and ``min_i pi_i <= 1/n`` gives ``lam >= -1/(n-1)``.  (Equivalently
``trace M = 1 + (n-1) lam >= 0``.)  A *repeated* eigenvalue ``-0.7`` with a 3-dimensional
belief simplex is thus impossible for a classical HMM; the two-state ``mess_n(2, lam, a)``
(a binary symmetric hidden Markov chain seen through a binary symmetric channel) is the
Mess-type process that reaches ``lam = -0.7`` (its non-stationary subspace is 1-dimensional,
on which ``M`` is trivially ``lam``).  Its minimal (Hankel-rank) dimension is 2 for
``a != 1/2`` and ``lam != 0``.
"""

from __future__ import annotations

# the family lives in the library (``generators.library.mess_n``, also
# ``qbelief info mess_n:n=2,lam=-0.7``); re-exported here for this paper
from generators.library import mess_n, mess_n_bounds

__all__ = ["mess_n", "mess_n_bounds"]
