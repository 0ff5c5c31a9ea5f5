"""Run every ``bench_*.py`` in this folder, each in its own process (so each sets its own
environment, e.g. BLAS threads, before numpy loads), then print one summary table of every
kernel with a target: qbelief's time, the JAX peer's and the papers' numpy code's (or
"skipped"), the ratio and its target.  Arguments (e.g. ``--quick``) are passed to every
benchmark.  Exit status non-zero if any benchmark misses a target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here))
from _timing import SUMMARY_ENV, SUMMARY_FIELDS  # noqa: E402


def print_summary(rows: list) -> None:
    """The rows as one aligned table, then the baselines that were skipped."""
    head = ("kernel", "qbelief", "JAX peer", "numpy paper code", "ratio", "target", "met")
    cells = [head] + [tuple(str(r[k]) if k != "met" else {True: "yes", False: "NO", None: "-"}[r[k]]
                            for k in SUMMARY_FIELDS) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    print("\n== summary ==")
    for i, c in enumerate(cells):
        print(" | ".join(x.ljust(w) for x, w in zip(c, widths)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    for base, key in (("JAX peer", "jax"), ("numpy paper code", "numpy")):
        skipped = [r["kernel"] for r in rows if r[key] == "skipped"]
        if skipped:
            print(f"{base} skipped for: {'; '.join(skipped)}")


def main() -> int:
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.jsonl"
        env = {**os.environ, SUMMARY_ENV: str(summary)}
        for path in sorted(here.glob("bench_*.py")):
            print(f"== {path.name}", flush=True)
            if subprocess.run([sys.executable, str(path), *sys.argv[1:]], env=env).returncode != 0:
                failed.append(path.name)
        rows = [json.loads(line) for line in summary.read_text().splitlines()] if summary.exists() else []
    print_summary(rows)
    print("all benchmarks met their targets" if not failed else f"below target: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
