"""The ``qbelief sweep`` command, registered by :func:`nets.cli.build_parser` through :func:`add_sweep_command`.

``qbelief sweep SWEEP.toml [--out DIR] [--workers N] [--threads T] [--backend local|ray]
[--address ADDR] [--log tensorboard,wandb,mlflow] [--dry-run] [--prepare]`` -- every run of the grid
(:mod:`nets.sweep`) trained (finished runs are not retrained, partial ones resumed),
probed and aggregated over seeds into ``OUT/RESULTS.md`` + ``report.html``
(:mod:`nets.sweep_report`).  One line per finished run; exit status 0 when every run
finished, 1 when one failed (the others are reported), 2 on bad input (one line).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .cli_checks import CLIError

__all__ = ["add_sweep_command", "cmd_sweep"]


def cmd_sweep(args) -> int:
    from .sweep import load_sweep
    from .sweep_run import default_workers, run_sweep
    from .tracking import check_trackers

    if args.address is not None and args.backend != "ray":
        raise CLIError("--address goes with --backend ray")
    if args.backend == "ray":
        from .sweep_backends import ray_available

        if not ray_available():
            raise CLIError("--backend ray needs Ray: pip install 'qbelief[ray]'")
    plan = load_sweep(args.sweep, out=args.out, log=check_trackers(args.log))
    workers = args.workers or default_workers(args.threads)
    print(f"sweep: {len(plan.runs)} runs in {len(plan.groups())} groups into {plan.out} "
          f"({args.backend}, {workers} workers x {args.threads} threads)")
    if args.dry_run:
        for r in plan.runs:
            print(f"  {plan.run_dir(r)}")
        return 0
    if args.prepare:
        written = plan.prepare()
        print(f"wrote config.json into {len(written)} run folder(s) under {plan.out / 'runs'}; train one with "
              "`qbelief train --resume --out RUN` (--nproc N: torchrun), then run this sweep")
        return 0

    def progress(s: dict, done: int, total: int) -> None:
        if args.quiet:
            return
        what = s.get("error") if s["status"] in ("failed", "stopped") else (
            f"{s['headline']} R² {s['points'][s['headline']]['r2']:.3f}")
        print(f"[{done}/{total}] {s['name']}: {s['status']} in {s['seconds']:.1f} s; {what}", flush=True)

    command = f"qbelief sweep {shlex.quote(args.sweep)}" + (f" --out {shlex.quote(args.out)}" if args.out else "")
    outcome = run_sweep(plan, workers=workers, threads=args.threads, backend=args.backend, address=args.address,
                        progress=progress, command=command)
    print(f"wrote {outcome.report} and report.html ({outcome.seconds:.0f} s)")
    if outcome.failed:
        print(f"qbelief: {len(outcome.failed)} run(s) did not finish: "
              + ", ".join(s["name"] for s in outcome.failed), file=sys.stderr)
        return 1
    return 0


def _positive(name: str):
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer; got {text!r}")
        return int(text)
    parse.__name__ = name
    return parse


def add_sweep_command(sub) -> None:
    """The parser of ``sweep``."""
    s = sub.add_parser("sweep", help="train, probe and aggregate a grid of runs (processes x models x seeds x "
                                     "options) from a TOML file")
    s.add_argument("sweep", metavar="SWEEP.toml", help="the sweep file ([sweep], [base], [models], [grid])")
    s.add_argument("--out", help="the sweep's folder (default: [sweep] out, else the file's stem beside it)")
    s.add_argument("--workers", type=_positive("workers"), default=None,
                   help="runs at a time (default: the CPUs divided by --threads)")
    s.add_argument("--threads", type=_positive("threads"), default=1, help="torch threads per run (default 1)")
    s.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local process pool (default) or a Ray cluster (pip install 'qbelief[ray]')")
    s.add_argument("--address", default=None, help="Ray cluster address (auto, ray://host:10001); default: a "
                                                    "local Ray instance")
    s.add_argument("--log", default=None, help="trackers for every run: tensorboard, wandb, mlflow (comma separated)")
    s.add_argument("--dry-run", action="store_true", help="list the runs and stop")
    s.add_argument("--prepare", action="store_true", help="write each run's config.json and stop (train runs alone "
                                                          "with `qbelief train --resume --out RUN`, e.g. under torchrun)")
    s.set_defaults(func=cmd_sweep)
