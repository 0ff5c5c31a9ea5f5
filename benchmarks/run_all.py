"""Run every ``bench_*.py`` in this folder; exit non-zero if any misses its target."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
failed = []
for path in sorted(here.glob("bench_*.py")):
    print(f"== {path.name}")
    mod = runpy.run_path(str(path), run_name="bench")
    if "main" in mod and not mod["main"]():
        failed.append(path.name)
print("all benchmarks met their targets" if not failed else f"below target: {', '.join(failed)}")
sys.exit(1 if failed else 0)
