"""The ``qbelief`` command line.

Subcommands: ``processes``, ``info``, ``beliefs``, ``train``, ``probe``, ``attention``,
``demo``, ``paper``.  The experiments that ``paper`` runs are found through the entry-point
group :data:`EXPERIMENTS` (``[project.entry-points."qbelief.experiments"]`` in
pyproject.toml: ``name = "module:main"``), so the library never imports the application.  PROCESS arguments are library specs (``mess3``,
``mess3:x=0.15,a=0.6``), products (``mess3*bloch_walk``) or paths to generator files
(``.toml``, ``.json``, ``.py``; see :mod:`generators.io`).

Errors in the user's input print one line (``qbelief: error: ...``) and exit with
status 2; ``--debug`` shows the traceback instead.  Heavy imports (torch, matplotlib)
happen inside the subcommands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from generators.fileio import atomic_path, write_json

__all__ = ["main", "resolve_process", "CLIError", "experiments", "EXPERIMENTS"]

#: the entry-point group of the experiments ``qbelief paper NAME`` runs
EXPERIMENTS = "qbelief.experiments"


class CLIError(ValueError):
    """A problem with the command line's input, reported as one line."""


def resolve_process(spec: str):
    """A generator from a library spec, a product spec or a generator file path."""
    from generators.io import resolve

    return resolve(spec.strip())


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


def cmd_train(args) -> int:
    from .train import train

    cfg = _train_config(args)
    out = Path(cfg.out_dir)
    if args.resume and not (out / "checkpoint.pt").is_file():
        raise CLIError(f"--resume: {out} has no checkpoint.pt to resume from")
    if args.nproc > 1:
        from .distributed import launch

        proc = launch(cfg, args.nproc, resume=args.resume)
        print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "done")
    else:
        res = train(cfg, resume=args.resume)
        rel = f"{res.final_relative:.4f}" if res.final_relative is not None else "-"
        print(f"trained {res.steps_done} steps: loss {res.final_loss:.5f} nats, relative to optimum {rel}"
              + (f"; exact validation loss {res.val_loss:.5f} ({res.val_relative:.4f} x optimum)"
                 if res.val_loss is not None else ""))
    print(f"run directory: {out} (config.json, metrics.jsonl, checkpoint.pt)")
    return 0


def cmd_probe(args) -> int:
    """Probe a run directory's model, or saved activations (``--activations FILE``)."""
    from .probe import ProbeDataset, build_probe_dataset

    reps = ["native", "minimal"] if args.representation == "both" else [args.representation]
    if args.activations:
        if args.run_dir:
            raise CLIError("give a run directory or --activations FILE, not both")
        if not args.process:
            raise CLIError("--activations needs --process PROCESS (the process that generated the tokens)")
        from .tensorfile import load_activation_file

        g = resolve_process(args.process)
        f = load_activation_file(_existing_file(args.activations, "--activations"),
                                 None if args.tokens is None else _existing_file(args.tokens, "--tokens"))
        ds = ProbeDataset.from_sequences(g, f.tokens, f.activations, bos=_file_bos(args.bos, f.tokens, g),
                                         weights=f.weights, untrained=None if args.no_untrained else f.untrained,
                                         representations=reps, markov_order=args.markov_order)
        out = Path(args.out) if args.out else Path(args.activations).resolve().parent
    else:
        if not args.run_dir:
            raise CLIError("give a run directory, or --activations FILE --process PROCESS")
        if args.tokens or args.process:
            raise CLIError("--tokens and --process go with --activations; a run directory knows its process")
        model, cfg, g, run = _load_run(args.run_dir)
        ds = build_probe_dataset(g, model, context=cfg.context, representations=reps, weighting=args.weighting,
                                 markov_order=args.markov_order, untrained=None if args.no_untrained else "auto")
        out = Path(args.out) if args.out else run
    _write_probe_results({k: ds.probe(k, seed=args.seed) for k in ds.beliefs}, out)
    return 0


def _write_probe_results(results: dict, out: Path) -> None:
    """``probe[_REP].json``, ``..._geometry.png`` and ``..._by_layer.png`` per representation, and the summaries."""
    from .probe.plots import plot_belief_geometry, plot_fit_by_layer

    for rep, r in results.items():
        stem = "probe" if len(results) == 1 else f"probe_{rep}"
        r.to_json(out / f"{stem}.json")
        plot_belief_geometry(r, out / f"{stem}_geometry.png")
        plot_fit_by_layer(r, out / f"{stem}_by_layer.png")
        print(f"== representation: {rep}")
        print(r.summary())
    print(f"wrote probe results and figures into {out}")


def cmd_attention(args) -> int:
    from .attention import attention_analysis
    from .probe_plots import plot_attention_decay

    model, cfg, g, run = _load_run(args.run_dir)
    if cfg.model.kind != "transformer":
        raise CLIError(f"attention analysis needs a transformer run; {run} trained a {cfg.model.kind}")
    rep = attention_analysis(model, g, n_samples=args.samples, seed=args.seed)
    rep.to_json(run / "attention.json")
    plot_attention_decay(rep, run / "attention.png")
    print(rep.summary())
    print(f"wrote {run / 'attention.json'} and {run / 'attention.png'}")
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
    return int(found[args.name].load()(rest) or 0)


def _train_config(args):
    """TrainConfig from defaults < the resumed run's config < --config TOML < explicit flags;
    process from PROCESS.  Model fields may be flat or in a ``[model]`` table."""
    import tomllib

    from .train import TrainConfig

    values: dict = {}
    saved = Path(args.out) / "config.json"
    if args.resume and saved.is_file():  # a resumed run starts from its own saved options
        values.update({k: v for k, v in json.loads(saved.read_text()).items() if k not in ("process", "out_dir")})
    if args.config:
        p = Path(args.config)
        if not p.is_file():
            raise CLIError(f"config file {p} does not exist")
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise CLIError(f"{p}: not valid TOML: {e}") from None
        for k, v in raw.items():  # allow [model], [optimizer], ... tables: flatten them
            values.update(v if isinstance(v, dict) else {k: v})
    bad = sorted(set(values) - set(TrainConfig.keys()))
    if bad:
        raise CLIError(f"unknown config key(s) {bad}; valid: {', '.join(sorted(TrainConfig.keys()))}")
    values.update({k: v for k in TrainConfig.keys() if (v := getattr(args, f"cfg_{k}", None)) is not None})
    if args.model:
        values["kind"] = args.model
        if isinstance(values.get("model"), str):
            values["model"] = args.model
    values["process"] = args.process.strip()  # a file is read once and stored as its table (nets.config)
    values["out_dir"] = args.out
    if args.quiet:
        values["quiet"] = True
    return TrainConfig.from_dict(values)


def _load_run(run_dir: str):
    from .train import load_model

    run = Path(run_dir)
    if run.exists() and not run.is_dir():
        hint = (f"; to probe saved activations use --activations {run} --process PROCESS"
                if run.suffix in (".npz", ".pt", ".safetensors") else "")
        raise CLIError(f"{run} is a file, not a run directory{hint}")
    if not run.is_dir():
        raise CLIError(f"run directory {run} does not exist")
    ckpt = run / "checkpoint.pt"
    if not ckpt.is_file():
        raise CLIError(f"{run} is not a run directory: no checkpoint.pt (train with `qbelief train ... --out {run}`)")
    model, cfg = load_model(ckpt)
    return model, cfg, cfg.generator(), run


def _add_train_flags(s: argparse.ArgumentParser) -> None:
    """One ``--flag`` per TrainConfig field and per model field (dest ``cfg_<name>``,
    default None = unset)."""
    from dataclasses import MISSING, fields

    from .models import ModelConfig
    from .train import TrainConfig

    skip = {"process", "model", "out_dir", "quiet", "kind", "vocab_size", "n_ctx"}
    g = s.add_argument_group("training and model options (each also settable in --config TOML)")
    for f in [*fields(TrainConfig), *fields(ModelConfig)]:
        if f.name in skip:
            continue
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            g.add_argument(flag, dest=f"cfg_{f.name}", action=argparse.BooleanOptionalAction, default=None,
                           help=f"(default {default})")
        elif isinstance(default, tuple):
            g.add_argument(flag, dest=f"cfg_{f.name}", type=float, nargs=len(default), default=None,
                           help=f"(default {' '.join(map(str, default))})")
        else:
            typ = type(default) if default is not None else _none_type(f.name)
            g.add_argument(flag, dest=f"cfg_{f.name}", type=typ, default=None, help=f"(default {default})")


def _none_type(name: str):
    return {"d_head": int, "d_embed": int, "grad_clip": float, "max_time_s": float, "num_threads": int,
            "weight_decay": float}.get(name, str)


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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="less output, no progress bars")
    p = argparse.ArgumentParser(prog="qbelief", description=__doc__.split("\n\n")[0], parents=[common])
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
    s.add_argument("process")
    s.add_argument("--model", choices=["transformer", "lstm", "gru", "rnn"], default=None)
    s.add_argument("--config", help="TOML file of training options (flags override it)")
    s.add_argument("--out", required=True, help="run directory (checkpoints, metrics, config)")
    s.add_argument("--resume", action="store_true", help="continue a killed run from its checkpoint")
    s.add_argument("--nproc", type=int, default=1, help="data-parallel processes via torchrun (default 1)")
    _add_train_flags(s)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("probe", help="probe a trained run's (or saved) activations for the belief geometry")
    _add_probe_flags(s)
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
    m.add_argument("--quick", dest="mode", action="store_const", const="quick", help="2-core CPU, <= 15 min (default)")
    m.add_argument("--full", dest="mode", action="store_const", const="full", help="the paper's scale (GPU)")
    m.add_argument("--tiny", dest="mode", action="store_const", const="tiny", help="seconds (smoke test)")
    s.set_defaults(mode="quick")
    s.add_argument("--out", default=None, help="output folder (default papers/NAME/results/MODE)")
    s.set_defaults(func=cmd_paper)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = getattr(args, "debug", False)
    args.quiet = getattr(args, "quiet", False)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as e:
        if args.debug:
            raise
        msg = str(e).strip().strip('"') or type(e).__name__
        print(f"qbelief: error: {msg.splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qbelief: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------- probe/attention helpers
def _existing_file(path: str, flag: str) -> str:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{flag}: {p} does not exist")
    if not p.is_file():
        raise CLIError(f"{flag}: {p} is a folder, not a file")
    return path


def _file_bos(bos, tokens, g):
    """The BOS id of saved tokens: ``"auto"`` -- the alphabet size V when every sequence
    starts with token V, else none; ``"none"``; or an id."""
    if bos == "none":
        return None
    if bos == "auto":
        V = g.alphabet_size
        return V if tokens.ndim == 2 and tokens.shape[1] > 1 and bool(np.all(tokens[:, 0] == V)) else None
    return bos


def _add_probe_flags(s: argparse.ArgumentParser) -> None:
    """The ``probe`` command's arguments: a run directory, or an activation file and its process."""
    s.add_argument("run_dir", nargs="?", default=None, help="run directory (omit with --activations)")
    s.add_argument("--activations", metavar="FILE", help=".npz, .pt or .safetensors with tokens (N, L) and one "
                   "(N, L, d) array per activation point (optionally weights (N,), untrained/<point>)")
    s.add_argument("--process", help="the process that generated the tokens (with --activations)")
    s.add_argument("--tokens", metavar="FILE", help="token ids (N, L) in a separate file (with --activations)")
    s.add_argument("--bos", default="auto", type=lambda v: v if v in ("auto", "none") else int(v),
                   help="BOS token id of --activations' tokens: auto (token V when every sequence starts with it), "
                        "none, or an id")
    s.add_argument("--out", help="output folder (default: the run directory, or the activation file's folder)")
    s.add_argument("--representation", choices=["native", "minimal", "both"], default="minimal")
    s.add_argument("--weighting", choices=["probability", "uniform"], default="probability",
                   help="prefix weights of a run's probe (activation files: counts or their weights array)")
    s.add_argument("--markov-order", default="auto", type=lambda v: v if v == "auto" else int(v))
    s.add_argument("--no-untrained", action="store_true", help="skip the untrained-network baseline")
    s.add_argument("--seed", type=int, default=0)


if __name__ == "__main__":
    sys.exit(main())
