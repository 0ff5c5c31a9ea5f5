"""The ``qbelief`` command line.

Subcommands: ``processes``, ``info``, ``beliefs``, ``train``, ``probe``, ``attention``,
``demo``, ``paper``, ``represented``, ``learn``, ``discover``, ``sweep``.  The experiments that ``paper`` runs are
found through the entry-point
group :data:`EXPERIMENTS` (``[project.entry-points."qbelief.experiments"]`` in
pyproject.toml: ``name = "module:main"``), so the library never imports the application.  PROCESS arguments are library specs (``mess3``,
``mess3:x=0.15,a=0.6``), products (``mess3*bloch_walk``) or paths to generator files
(``.toml``, ``.json``, ``.py``; see :mod:`generators.io`).

Errors in the user's input, its files and the machine's resources print one line
(``qbelief: error: ...``) and exit with status 2; ``--debug`` shows the traceback instead.
Every argument and output path is checked before any work (:mod:`nets.cli_checks`);
warnings print as ``qbelief: warning: ...`` lines.  Heavy imports (torch, matplotlib)
happen inside the subcommands that need them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from generators.fileio import atomic_path, write_json

from .cli_checks import CLIError, OneLineParser, apply_argument_types, check_outputs, error_line, one_line_warnings
from .cli_probe import add_probe_flags, cmd_attention, cmd_probe
from .cli_train import add_train_flags, cmd_train
from .data import resolve_process

__all__ = ["main", "resolve_process", "CLIError", "experiments", "EXPERIMENTS"]

#: the entry-point group of the experiments ``qbelief paper NAME`` runs
EXPERIMENTS = "qbelief.experiments"


# ---------------------------------------------------------------------- subcommands
def cmd_processes(args) -> int:
    from generators import library

    print(f"{'name':<17} {'kind':<13} parameters (defaults)")
    for name in library.names():
        i = library.info(name)
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in i["params"].items())
        print(f"{name:<17} {i['kind']:<13} {params}")
        if not args.quiet:
            print(f"{'':<31}{i['doc']}")
    print("aliases: fanizza = frdn.  Products: join specs with '*', e.g. mess3*bloch_walk:beta=3")
    return 0


def cmd_info(args) -> int:
    from generators import hankel_rank

    g = resolve_process(args.process)
    h = g.to_ghmm()
    ev = np.linalg.eigvals(h.operators.sum(axis=0))
    ev = ev[np.argsort(-np.abs(ev))]
    rows = [
        ("process", g.name or args.process),
        ("kind", g.kind),
        ("alphabet size", g.alphabet_size),
        ("native dimension", g.dim),
        ("GHMM dimension", h.dim),
        ("minimal dimension", hankel_rank(g)),
        ("stationary Pr(x)", np.array2string(g.symbol_probabilities(), precision=5, suppress_small=True)),
        ("eigenvalues of sum_x T[x]", ", ".join(_complex(v) for v in ev)),
    ]
    info = {}
    try:
        from bayes import entropy_rate, excess_entropy, mixed_state_presentation

        man = mixed_state_presentation(g, args.depth, max_beliefs=args.max_beliefs)
        closed = bool(getattr(man, "closed", False))
        rows.append((f"mixed-state presentation (depth {args.depth})",
                     f"{len(man.beliefs)} distinct beliefs; " + ("closes (finite)" if closed else "does not close")))
        hr = entropy_rate(g)
        rows.append(("entropy rate (bits/symbol)", _estimate(hr)))
        ee = excess_entropy(g)
        rows.append(("excess entropy (bits)", _estimate(ee)))
        info = {"distinct_beliefs": len(man.beliefs), "closed": closed}
    except ImportError:  # bayes not available: structural info only
        pass
    for k, v in rows:
        print(f"{k:<40} {v}")
    if args.json:
        out = {k: (str(v) if not isinstance(v, (int, float)) else v) for k, v in rows} | info
        write_json(args.json, out)
    return 0


def cmd_beliefs(args) -> int:
    from bayes import mixed_state_presentation, plot_beliefs

    g = resolve_process(args.process)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    m = mixed_state_presentation(g, args.depth, args.tol, keep_all=args.keep_all, max_beliefs=args.max_beliefs,
                                 progress=None if not args.quiet else False)
    words = m.words()
    arrays = dict(beliefs=m.beliefs, probs=m.probs, depths=m.depth, words=words, next_state=m.next_state,
                  next_prob=m.next_prob, mass_per_depth=m.mass_per_depth())
    native = m.native()
    if isinstance(native, np.ndarray) and native.shape != m.beliefs.shape:
        arrays["native"] = native  # density matrices (N, d, d)
    npz = out / "manifold.npz"
    with atomic_path(npz) as tmp:
        np.savez_compressed(tmp, **arrays)
    png = plot_beliefs(m, out / "beliefs.png", title=args.title)
    status = "closes (finite presentation)" if m.closed else ("stopped at max-beliefs" if m.stopped else "open")
    print(f"{g.name or args.process}: {len(m)} distinct beliefs to depth {m.max_depth}; {status}")
    print(f"wrote {npz} (beliefs, probs, depths, words, transitions) and {png}")
    return 0


def cmd_demo(args) -> int:
    """The main job: the experiment registered as ``demo`` (:data:`EXPERIMENTS`)."""
    found = experiments()
    if "demo" not in found:
        raise CLIError(f"the demo experiment is not installed (entry point 'demo' in group {EXPERIMENTS!r}; "
                       "reinstall qbelief: pip install -e .)")
    rest = ["--quick" if args.quick else "--full", "--out", args.out] + (["--quiet"] if args.quiet else [])
    rest += ["--seconds", str(args.seconds)] if args.seconds is not None else []
    return int(found["demo"].load()(rest) or 0)


def experiments() -> dict:
    """The installed experiments: name -> entry point (group :data:`EXPERIMENTS`)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in sorted(entry_points(group=EXPERIMENTS), key=lambda ep: ep.name)}


def cmd_paper(args) -> int:
    found = experiments()
    if args.name is None:
        if not found:
            print(f"no experiments installed (entry-point group {EXPERIMENTS!r}; install qbelief with pip)")
        import inspect

        for name, ep in found.items():  # the first line of each experiment module's docstring
            doc = (getattr(inspect.getmodule(ep.load()), "__doc__", None) or "").strip().splitlines()
            print(f"{name:<28} {doc[0] if doc else ep.value}")
        return 0
    if args.name not in found:
        import difflib

        close = difflib.get_close_matches(args.name, list(found), n=2, cutoff=0.4)
        raise CLIError(f"unknown paper {args.name!r}" + (f"; did you mean {', '.join(close)}?" if close else "")
                       + f" (available: {', '.join(found) or 'none installed'})")
    rest = [f"--{args.mode}"] + (["--out", args.out] if args.out else []) + (["--quiet"] if args.quiet else [])
    rest += (["--seeds", str(args.seeds)] if args.seeds is not None else []) + (
        ["--protocol", args.protocol] if args.protocol else []) + (["--fresh"] if args.fresh else [])
    return int(found[args.name].load()(rest) or 0)


# ---------------------------------------------------------------------- helpers
def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _complex(v: complex) -> str:
    if abs(v.imag) < 1e-12:
        return f"{v.real:.6g}"
    return f"{v.real:.4g}{v.imag:+.4g}i"


def _estimate(x) -> str:
    """Format a :class:`bayes.Estimate` (exact, or with standard error / truncation bound)."""
    v = f"{float(x):.6f}"
    if getattr(x, "exact", False):
        return v + " (exact)"
    bits = [f"+- {x.stderr:.2g} (s.e.)"] if getattr(x, "stderr", 0) else []
    bits += [f"truncation bound {x.bound:.2g}"] if getattr(x, "bound", 0) else []
    method = getattr(x, "method", "")
    return " ".join([v] + bits) + (f"  [{method}]" if method else "")


def build_parser() -> argparse.ArgumentParser:
    common = OneLineParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="less output, no progress bars")
    p = OneLineParser(prog="qbelief", description=__doc__.split("\n\n")[0], parents=[common])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser
    sub.add_parser = lambda *a, **k: _add(*a, parents=[common], **k)  # --debug/--quiet after the command too

    s = sub.add_parser("processes", help="list the library's processes")
    s.set_defaults(func=cmd_processes)

    s = sub.add_parser("info", help="structure and information quantities of a process")
    s.add_argument("process", help="library spec, product spec or generator file")
    s.add_argument("--depth", type=int, default=8, help="mixed-state presentation depth (default 8)")
    s.add_argument("--max-beliefs", type=int, default=200_000, help="stop the manifold at this many beliefs")
    s.add_argument("--json", help="also write the numbers to this JSON file")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("beliefs", help="the mixed-state presentation (belief manifold) and its picture")
    s.add_argument("process")
    s.add_argument("--depth", type=int, default=8, help="maximum word length (default 8)")
    s.add_argument("--out", required=True, help="output directory (manifold.npz, beliefs.png)")
    s.add_argument("--tol", type=float, default=1e-9, help="merge tolerance (default 1e-9)")
    s.add_argument("--max-beliefs", type=int, default=None, help="stop before exceeding this many beliefs")
    s.add_argument("--keep-all", action="store_true", help="keep every word-tree node (no merging)")
    s.add_argument("--title", default=None, help="figure title")
    s.set_defaults(func=cmd_beliefs)

    s = sub.add_parser("train", help="train a transformer or RNN on a process")
    s.add_argument("process", nargs="?", default=None, help="library spec or generator file (with --resume: "
                   "optional, the run's own)")
    s.add_argument("--model", choices=["transformer", "lstm", "gru", "rnn"], default=None)
    s.add_argument("--config", help="TOML file of training options (flags override it)")
    s.add_argument("--out", required=True, help="run directory (checkpoints, metrics, config)")
    s.add_argument("--resume", action="store_true", help="continue a killed run from its checkpoint")
    s.add_argument("--overwrite", action="store_true", help="replace the run that --out already holds")
    s.add_argument("--nproc", type=int, default=1, help="data-parallel processes via torchrun (default 1)")
    add_train_flags(s)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("probe", help="probe a trained run's (or saved) activations for the belief geometry")
    add_probe_flags(s)
    s.set_defaults(func=cmd_probe)

    s = sub.add_parser("attention", help="attention by distance and its decay per head")
    s.add_argument("run_dir")
    s.add_argument("--samples", type=int, default=2048, help="sequences to average over")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_attention)

    s = sub.add_parser("demo", help="the main job: quantum generator -> belief manifold -> transformer -> probe")
    s.add_argument("--quick", action="store_true", help="about a minute (for tests)")
    s.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    s.add_argument("--seconds", type=float, default=None, help="training time cap per seed (default 200, quick 15)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("paper", help="reproduce a published result (without NAME: list the installed ones)")
    s.add_argument("name", nargs="?", default=None, help="experiment name, e.g. shai2024_belief_geometry")
    m = s.add_mutually_exclusive_group()
    m.add_argument("--quick", dest="mode", action="store_const", const="quick", help="2-core CPU, <= 20 min (default)")
    m.add_argument("--full", dest="mode", action="store_const", const="full", help="the paper's scale (GPU)")
    m.add_argument("--tiny", dest="mode", action="store_const", const="tiny", help="seconds (smoke test)")
    s.set_defaults(mode="quick")
    s.add_argument("--out", default=None, help="output folder (default papers/NAME/results/MODE)")
    s.add_argument("--seeds", type=int, default=None, help="training seeds (default: the mode's)")
    s.add_argument("--protocol", choices=("ours", "paper", "both"), default=None,
                   help="ours, the paper's exact protocol, or both side by side (default: the mode's)")
    s.add_argument("--fresh", action="store_true", help="ignore finished stages and checkpoints; start over")
    s.set_defaults(func=cmd_paper)
    from .cli_beyond import add_parsers  # `represented` and `learn` (issue 13)
    from .cli_sweep import add_sweep_command  # `sweep` (issue 12)
    from .discovery.cli import add_discover_command  # `discover` (issue 13)

    add_parsers(sub)
    add_discover_command(sub)
    add_sweep_command(sub)
    apply_argument_types(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 internal error, 2 bad input,
    130 interrupted, 141 output closed early)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a one-line parse error (already printed)
        return e.code if isinstance(e.code, int) else 2
    args.debug = getattr(args, "debug", False)
    args.quiet = getattr(args, "quiet", False)
    with one_line_warnings():
        try:
            check_outputs(args)
            status = int(args.func(args) or 0)
            sys.stdout.flush()
            return status
        except KeyboardInterrupt:
            print("qbelief: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            from .cli_checks import quiet_broken_pipe

            return quiet_broken_pipe()
        except Exception as e:
            if args.debug:
                raise
            line, status = error_line(e)
            print(line, file=sys.stderr)
            return status


# ---------------------------------------------------------------------- probe/attention helpers
if __name__ == "__main__":
    sys.exit(main())
