"""Shared plumbing of the paper reproductions: command line, output folder, hardware
description, timing, and atomic writing of ``results.json`` and ``RESULTS.md``.

A paper's ``run.py`` defines ``run(mode, out, *, quiet) -> dict`` and calls
:func:`paper_main` from its ``main``; ``mode`` is ``"tiny"`` (the CI test: seconds),
``"quick"`` (a 2-core CPU, at most 15 minutes) or ``"full"`` (the paper's scale, a GPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Callable

__all__ = ["paper_main", "hardware", "write_results", "Timer", "MODES", "paper_dir"]

MODES = ("tiny", "quick", "full")


def paper_dir(name: str) -> Path:
    """The folder of paper ``name`` inside the repository."""
    return Path(__file__).resolve().parent / name


def hardware() -> dict:
    """A short description of the machine: CPU count and model, torch device, versions."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    from nets.device import resolve_device

    dev = resolve_device("auto")
    info["torch"] = torch.__version__
    info["device"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    info["torch_threads"] = torch.get_num_threads()
    return info


class Timer:
    """Wall-clock sections: ``with timer("train"): ...``; ``timer.seconds`` maps name -> s."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def __call__(self, name: str):
        timer = self

        class _Section:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = timer.seconds.get(name, 0.0) + time.perf_counter() - self.t

        return _Section()

    @property
    def total(self) -> float:
        return time.perf_counter() - self._t0


def write_results(out: Path, results: dict, markdown: str) -> None:
    """Write ``results.json`` and ``RESULTS.md`` into ``out`` atomically (write, rename)."""
    from generators.fileio import write_json, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results, default=str)
    write_text(out / "RESULTS.md", markdown)


def paper_main(name: str, run: Callable[..., dict], argv: list[str] | None = None, description: str = "") -> int:
    """Command line of a paper: ``--quick`` (default) | ``--full`` | ``--tiny``, ``--out DIR``,
    ``--quiet``; calls ``run(mode, out, quiet=...)``."""
    ap = argparse.ArgumentParser(prog=f"python -m papers.{name}", description=description)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="a 2-core CPU in at most 15 minutes (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full", help="the paper's own scale (GPU)")
    g.add_argument("--tiny", dest="mode", action="store_const", const="tiny", help="seconds: the CI smoke test")
    ap.add_argument("--out", default=None, help="output folder (default papers/<name>/results/<mode>)")
    ap.add_argument("--quiet", action="store_true", help="no progress output")
    args = ap.parse_args(argv)
    mode = args.mode or "quick"
    out = Path(args.out) if args.out else paper_dir(name) / "results" / mode
    out.mkdir(parents=True, exist_ok=True)
    run(mode, out, quiet=args.quiet)
    return 0
