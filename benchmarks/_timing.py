"""Timing helpers shared by the benchmarks (best-of-k wall time, peak memory) and the rows
of ``run_all.py``'s summary table (:func:`summary_row`)."""

from __future__ import annotations

import gc
import json
import os
import time
import tracemalloc
from typing import Callable


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Smallest wall time in seconds over ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_memory(fn: Callable[[], object]) -> tuple[object, float]:
    """``(result, peak MiB)`` of Python/numpy allocations while ``fn`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak / 2**20


def report(name: str, fast: float, slow: float, target: float, note: str = "") -> bool:
    """Print one benchmark line with the speed-up ratio against the baseline and target."""
    ratio = slow / fast
    ok = ratio >= target
    print(f"{name:<58} fast {fast * 1e3:9.2f} ms  baseline {slow * 1e3:10.1f} ms  "
          f"ratio {ratio:8.1f}x  (target >= {target:g}x) {'OK' if ok else 'BELOW TARGET'} {note}")
    return ok


def interleaved_best(fns: dict[str, Callable[[], object]], repeat: int = 3, *,
                     clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Best-of-``repeat`` time (seconds, by ``clock``: wall time by default, or
    ``time.thread_time`` for the CPU time of this thread on a busy machine) of each
    function, calls interleaved round-robin.

    Interleaving spreads the load of other processes on a shared machine over all
    candidates alike, so the *ratios* of one call are meaningful even when absolute times
    drift.  Each contender's result is kept until just before its own next call, so every
    call allocates its outputs right after freeing its *own* previous ones (as a loop
    calling one kernel does), not memory another contender just released: large freed
    blocks of another allocator (e.g. XLA's) otherwise cost the next numpy allocation a
    page-compaction stall.  Each function should be warmed up (compiled) before.
    """
    best = {name: float("inf") for name in fns}
    kept: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            kept.pop(name, None)
            gc.collect()
            t0 = clock()
            kept[name] = fn()
            best[name] = min(best[name], clock() - t0)
    return best


#: run_all.py names a JSON-lines file here; each benchmark appends its summary rows to it
SUMMARY_ENV = "QBELIEF_BENCH_SUMMARY"
SUMMARY_FIELDS = ("kernel", "qbelief", "jax", "numpy", "ratio", "target", "met")


def summary_row(kernel: str, *, qbelief: str = "", jax: str = "", numpy: str = "", ratio: str = "",
                target: str = "", met: bool | None = None) -> None:
    """Append one row of the summary table (all fields already formatted; ``jax`` /
    ``numpy``: the baselines' times, "skipped" when a baseline did not run, "" when the
    kernel has none) to the file named by ``$QBELIEF_BENCH_SUMMARY``; nothing without it."""
    path = os.environ.get(SUMMARY_ENV)
    if path:
        row = dict(zip(SUMMARY_FIELDS, (kernel, qbelief, jax, numpy, ratio, target, met)))
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
