"""Run every ``bench_*.py`` in this folder, each in its own process (so each sets its own
environment, e.g. BLAS threads, before numpy loads); exit non-zero if any misses a target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
failed = []
for path in sorted(here.glob("bench_*.py")):
    print(f"== {path.name}", flush=True)
    if subprocess.run([sys.executable, str(path), *sys.argv[1:]]).returncode != 0:
        failed.append(path.name)
print("all benchmarks met their targets" if not failed else f"below target: {', '.join(failed)}")
sys.exit(1 if failed else 0)
