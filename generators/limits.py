"""The memory cap: estimate an allocation's bytes before making it, refuse it above the cap.

Constructors and samplers that would build arrays whose size the user chooses (the
operators of ``mess_n(n)``, the ``d^2``-dimensional GHMM form of a ``d``-level quantum
generator, ``sample(n, length)``) call :func:`check_bytes` with their estimate first, so
an impossible request fails at once with one line instead of thrashing or dying in
``MemoryError``.

The cap is :data:`MAX_BYTES`: 2 GiB by default, or the environment variable
``QBELIEF_MAX_BYTES`` (a byte count such as ``8e9``) read at import.  Raise it for one
session by assigning ``generators.limits.MAX_BYTES = 16 * 2**30``, or per call with
:func:`check_bytes`'s ``limit``.

Examples
--------
>>> format_bytes(3 * 2**30)
'3.0 GiB'
>>> check_bytes(10**12, "an array of 10^12 bytes", limit=2**31)
Traceback (most recent call last):
...
generators.errors.MemoryLimitError: an array of 10^12 bytes would take 931.3 GiB, above the memory cap 2.0 GiB (generators.limits.MAX_BYTES; raise it there or with the environment variable QBELIEF_MAX_BYTES)
"""

from __future__ import annotations

import os

from .errors import MemoryLimitError

__all__ = ["MAX_BYTES", "check_bytes", "format_bytes"]


def _from_env() -> int:
    raw = os.environ.get("QBELIEF_MAX_BYTES")
    if raw is None:
        return 2 * 2**30
    try:
        value = float(raw)
    except ValueError:
        raise MemoryLimitError(f"QBELIEF_MAX_BYTES must be a byte count such as 8e9; got {raw!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise MemoryLimitError(f"QBELIEF_MAX_BYTES must be a positive finite byte count; got {raw!r}")
    return int(value)


#: the largest allocation (bytes) that capped operations may make; see the module docstring
MAX_BYTES: int = _from_env()


def format_bytes(b: float) -> str:
    """``1536 -> '1.5 KiB'`` (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(b) < 1024 or unit == "PiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def check_bytes(nbytes: float, what: str, *, limit: float | None = None) -> None:
    """Raise :class:`~generators.errors.MemoryLimitError` if ``nbytes > limit``.

    ``limit`` defaults to the current :data:`MAX_BYTES`; ``what`` names the allocation
    in the message (e.g. ``"sample(n=10**9, length=10): the words"``).
    """
    cap = MAX_BYTES if limit is None else limit
    if nbytes > cap:
        raise MemoryLimitError(f"{what} would take {format_bytes(nbytes)}, above the memory cap {format_bytes(cap)} "
                               "(generators.limits.MAX_BYTES; raise it there or with the environment variable "
                               "QBELIEF_MAX_BYTES)")
