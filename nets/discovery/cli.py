"""``qbelief discover RUN_OR_ACTIVATIONS [--dim auto|N] [--out DIR]``.

A run directory: ``--samples`` sequences of the run's context are sampled from its
process (only to have inputs: the analysis never sees the generator), the model's
default points collected, and :func:`nets.discover_geometry` run on them.  An activation
file (``.npz``, ``.pt``, ``.safetensors``; :mod:`nets.tensorfile`): its tokens and
``(N, L, d)`` arrays, nothing else.  Writes ``discovery.json`` (the numbers, the verdict
and both GHMMs) and ``discovered_ghmm.json`` (a generator file every ``qbelief`` command
reads, e.g. ``qbelief info DIR/discovered_ghmm.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from generators.errors import ArgumentError

__all__ = ["add_discover_command", "cmd_discover", "detect_bos"]


def add_discover_command(sub) -> None:
    """Register ``discover`` on the subparsers ``sub`` of the ``qbelief`` parser."""
    s = sub.add_parser("discover", help="find belief geometry in a run's (or saved) activations, no generator given")
    s.add_argument("source", metavar="RUN_OR_ACTIVATIONS",
                   help="run directory, or an activation file with tokens (N, L) and (N, L, d) arrays")
    s.add_argument("--dim", default="auto", type=lambda v: v if v == "auto" else int(v),
                   help="GHMM dimension: auto (cross-validated, default) or an integer")
    s.add_argument("--out", help="output folder (default: the run directory, or the activation file's folder)")
    s.add_argument("--point", default=None, help="activation point (default: the concatenation of all points)")
    s.add_argument("--tokens", metavar="FILE", help="token ids (N, L) in a separate file (activation files)")
    s.add_argument("--bos", default="auto", type=lambda v: v if v in ("auto", "none") else int(v),
                   help="BOS token id of an activation file's tokens: auto (detect_bos), none, or an id")
    s.add_argument("--samples", type=int, default=20000, help="sequences sampled for a run directory (20000)")
    s.add_argument("--max-dim", type=int, default=8, help="largest dimension tried by --dim auto (8)")
    s.add_argument("--no-compare", action="store_true", help="skip generators.learn_ghmm on the same tokens")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_discover)


def detect_bos(tokens: np.ndarray) -> int | None:
    """The BOS id of saved tokens: the token every sequence starts with, if it occurs
    nowhere else (and there are at least two positions); otherwise None."""
    tok = np.asarray(tokens)
    if tok.ndim != 2 or tok.shape[1] < 2:
        return None
    first = tok[0, 0]
    return int(first) if bool(np.all(tok[:, 0] == first)) and not bool(np.any(tok[:, 1:] == first)) else None


def cmd_discover(args: argparse.Namespace) -> int:
    from generators.fileio import write_json
    from generators.io import save_generator

    from . import discover_geometry

    src = Path(args.source)
    if not src.exists():
        raise ArgumentError(f"{src} does not exist: give a run directory or an activation file")
    if src.is_dir():
        acts, tokens, bos = _run_inputs(src, args)
    else:
        acts, tokens, bos = _file_inputs(src, args)
    r = discover_geometry(acts, tokens, args.dim, point=args.point, bos=bos, max_dim=args.max_dim,
                          compare=not args.no_compare, seed=args.seed)
    out = Path(args.out) if args.out else (src if src.is_dir() else src.resolve().parent)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "discovery.json", r.to_dict())
    save_generator(r.ghmm, out / "discovered_ghmm.json")
    print(r.summary())
    print(f"wrote {out / 'discovery.json'} and {out / 'discovered_ghmm.json'}")
    return 0


def _run_inputs(run: Path, args: argparse.Namespace):
    """Sampled inputs of a run and the model's activations at its default points."""
    from ..activations import collect
    from ..cli_probe import load_run

    if args.tokens:
        raise ArgumentError("--tokens goes with an activation file; a run directory samples its own inputs")
    if args.samples < 4:
        raise ArgumentError(f"--samples must be at least 4; got {args.samples}")
    model, cfg, g, _ = load_run(str(run))
    V = g.alphabet_size
    n_symbols = cfg.context - (1 if cfg.bos else 0)
    symbols = g.sample(args.samples, n_symbols, seed=args.seed)
    tokens = np.concatenate([np.full((args.samples, 1), V), symbols], axis=1) if cfg.bos else symbols
    return collect(model, tokens), tokens, (V if cfg.bos else None)


def _file_inputs(path: Path, args: argparse.Namespace):
    from ..tensorfile import load_activation_file

    f = load_activation_file(path, args.tokens)
    bos = detect_bos(f.tokens) if args.bos == "auto" else None if args.bos == "none" else args.bos
    return f.activations, f.tokens, bos
