"""Memory guard of the mixed-state presentation: size estimates and the belief cap.

A presentation with ``N`` beliefs of a GHMM of dimension ``n`` over ``V`` symbols holds
about ``N * bytes_per_belief(n, V)`` bytes of result arrays: the beliefs ``(N, n)``
float64, ``next_state`` int64 and ``next_prob`` float64 ``(N, V)``, ``depth``/``symbol``
int32, ``parent`` int64, ``expanded`` bool, and about one ``(id, mass)`` entry of the
per-depth mass per belief; merging adds a sorted packed ``key | id`` index (8 bytes).  While
a level is built its candidate children take about as much again, so the peak is about
twice the result.

Without an explicit ``max_beliefs`` the cap is :func:`default_cap`: as many beliefs as
fit in :data:`DEFAULT_MEMORY_BUDGET` bytes of result arrays (4.75 million for Mess3,
3.9 million for the Bloch walk).  A level that would pass it is refused with
:class:`ManifoldTooLargeError` *before* it is allocated.
"""

from __future__ import annotations

import os

from generators.limits import format_bytes

__all__ = ["ManifoldTooLargeError", "DEFAULT_MEMORY_BUDGET", "bytes_per_belief", "default_cap", "too_large",
           "memory_bound"]

#: bytes of result arrays a mixed-state presentation may take without an explicit max_beliefs
DEFAULT_MEMORY_BUDGET = 512 * 2**20


class ManifoldTooLargeError(ValueError):
    """A mixed-state presentation would exceed its belief cap (the memory guard).

    Raised before the level that would pass the cap is allocated.  The message states
    the estimate (beliefs and bytes), the depth completed, and how to raise the cap
    (``max_beliefs=`` in the API, ``--max-beliefs`` on the command line).
    """


def bytes_per_belief(n: int, V: int, keep_all: bool = False) -> int:
    """Bytes of result arrays per belief: ``8 n + 16 V + 33`` (+8 for the merge index)."""
    per = 8 * n + 16 * V + 4 + 8 + 4 + 1 + 16
    return per if keep_all else per + 8


def default_cap(n: int, V: int, keep_all: bool = False) -> int:
    """Default ``max_beliefs``: ``DEFAULT_MEMORY_BUDGET // bytes_per_belief(n, V)``."""
    return max(1, DEFAULT_MEMORY_BUDGET // bytes_per_belief(n, V, keep_all))


def memory_bound(n: int, V: int) -> int:
    """Most beliefs that could fit in this machine's physical memory (an upper bound on
    any presentation's size; ``2**40`` where the memory size is unknown)."""
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 2**40
    return max(1, phys // bytes_per_belief(n, V, keep_all=True))


def too_large(what: str, depth: int, need: int, done_depth: int, done: int, cap: int, per_belief: int,
              default: bool) -> ManifoldTooLargeError:
    """The one-line :class:`ManifoldTooLargeError` for a refused level.

    ``need`` beliefs (an upper bound) at ``depth``; ``done`` beliefs complete to
    ``done_depth``; ``cap`` the belief cap, ``per_belief`` bytes each.
    """
    which = (f"the default cap of {cap:,} beliefs ({format_bytes(DEFAULT_MEMORY_BUDGET)} of result arrays)"
             if default else f"the cap max_beliefs={cap:,}")
    return ManifoldTooLargeError(
        f"{what}: depth {depth} would need up to {need:,} beliefs (~{format_bytes(need * per_belief)} of "
        f"result arrays, about twice that while building), over {which}; complete to depth {done_depth} with "
        f"{done:,} beliefs. Pass a larger max_beliefs= (command line: --max-beliefs) to raise the cap, "
        "or ask for a smaller depth"
    )
