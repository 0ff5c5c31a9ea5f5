"""The ``probe`` and ``attention`` subcommands of :mod:`nets.cli`, and loading a run for them.

A run directory is opened only through :func:`nets.checkpoint.load_model` (checksums,
entries, ``config.json``; the stored process is a spec or a table, never code that runs);
saved activations (``--activations FILE --process P``) go through
:meth:`nets.probe.ProbeDataset.from_sequences`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .cli_checks import CLIError
from .data import resolve_process

__all__ = ["cmd_probe", "cmd_attention", "load_run", "add_probe_flags"]


def cmd_probe(args) -> int:
    """Probe a run directory's model, or saved activations (``--activations FILE``)."""
    from .probe import ProbeDataset, build_probe_dataset

    reps = ["native", "minimal"] if args.representation == "both" else [args.representation]
    if args.activations:
        if args.run_dir:
            raise CLIError("give a run directory or --activations FILE, not both")
        if args.over_training:
            raise CLIError("--over-training probes a run directory's checkpoints; saved activations have none")
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
        if args.over_training:
            return _over_training(args, reps)
        model, cfg, g, run = load_run(args.run_dir)
        ds = build_probe_dataset(g, model, context=cfg.context, representations=reps, weighting=args.weighting,
                                 markov_order=args.markov_order, untrained=None if args.no_untrained else "auto")
        out = Path(args.out) if args.out else run
    results = {k: ds.probe(k, seed=args.seed) for k in ds.beliefs}
    sliders = None if args.activations else _training_sliders(run, results, args)
    _write_probe_results(results, out, ds, sliders)
    return 0


def _training_sliders(run: Path, results: dict, args) -> dict | None:
    """The training slider of each representation whose probes over training
    (``probe_every``) the run holds with this probe's options (:mod:`nets.probe.over_training`)."""
    from .probe.over_training import PROBES, TrainingProbe, training_checkpoints

    if not (run / PROBES).exists():
        return None
    from .checkpoint import open_run

    step = int(open_run(run)[0]["step"])
    found = {rep: training_checkpoints(run, r, step, TrainingProbe(rep, args.weighting, args.seed))
             for rep, r in results.items()}
    return {rep: c for rep, c in found.items() if c is not None} or None


def _over_training(args, reps: list) -> int:
    """``--over-training``: the run's kept checkpoints and training probes, its slider report."""
    from .probe.over_training import TrainingProbe, write_over_training

    if len(reps) != 1:
        raise CLIError("--over-training probes one representation: --representation minimal or native")
    load_run(args.run_dir)  # the run's checks and one-line errors
    md = write_over_training(args.run_dir, args.out, TrainingProbe(reps[0], args.weighting, args.seed),
                             untrained=None if args.no_untrained else "auto", markov_order=args.markov_order)
    print(f"wrote {md}, report.html (training slider) and probe_over_training.png into {md.parent}")
    return 0



def _write_probe_results(results: dict, out: Path, dataset=None, checkpoints: dict | None = None) -> None:
    """``probe[_REP].json``, ``..._geometry.png`` and ``..._by_layer.png`` per representation, the summaries,
    and ``report.md`` + ``report.html`` (interactive figures) of them all."""
    from .probe.plots import plot_belief_geometry, plot_fit_by_layer
    from .probe.result import write_probe_report

    figures = {}
    for rep, r in results.items():
        stem = "probe" if len(results) == 1 else f"probe_{rep}"
        r.to_json(out / f"{stem}.json")
        figures[rep] = (out / f"{stem}_geometry.png", out / f"{stem}_by_layer.png")
        plot_belief_geometry(r, figures[rep][0])
        plot_fit_by_layer(r, figures[rep][1])
        print(f"== representation: {rep}")
        print(r.summary())
    write_probe_report(results, out, figures=figures, dataset=dataset, checkpoints=checkpoints)
    print(f"wrote probe results, figures and report.md / report.html into {out}")



def cmd_attention(args) -> int:
    from .attention import attention_analysis
    from .probe_plots import plot_attention_decay

    model, cfg, g, run = load_run(args.run_dir)
    if cfg.model.kind != "transformer":
        raise CLIError(f"attention analysis needs a transformer run; {run} trained a {cfg.model.kind}")
    rep = attention_analysis(model, g, n_samples=args.samples, seed=args.seed)
    rep.to_json(run / "attention.json")
    plot_attention_decay(rep, run / "attention.png")
    page = _attention_page(rep, g, run)
    print(rep.summary())
    print(f"wrote {run / 'attention.json'}, {run / 'attention.png'} and {page}")
    return 0


def _attention_page(rep, g, run: Path) -> Path:
    """``attention.md`` and ``attention.html``: attention by distance per head, measured,
    fitted and predicted (:func:`bayes.attention_decay_rates`, when the process has them)."""
    from .document import Report
    from .interactive import attention_spec

    try:
        from bayes import attention_decay_rates

        rates = attention_decay_rates(g)
    except ValueError:  # a process without a decay spectrum: the fitted decays alone
        rates = None
    doc = Report(f"Attention by distance: {run}")
    doc.text(rep.summary().replace("\n", "  \n"))
    doc.figure(run / "attention.png", "mean attention by distance per head (log scale), fitted decay"
               + (" and the decays predicted from the process" if rates is not None else ""),
               interactive=attention_spec(rep, rates))
    return doc.write(run / "attention.md").with_suffix(".html")



def load_run(run_dir: str):
    """``(model, config, generator, run directory)`` of a run's newest intact checkpoint
    (:func:`nets.checkpoint.load_model`: every check, and the stored process is a spec or a
    table, never code that runs)."""
    from .checkpoint import load_model

    if Path(run_dir).is_file():
        raise CLIError(f"{run_dir} is a file, not a run directory" + (
            f"; to probe saved activations use --activations {run_dir} --process PROCESS"
            if Path(run_dir).suffix in (".npz", ".pt", ".safetensors") else ""))
    model, cfg = load_model(run_dir)
    return model, cfg, cfg.generator(), Path(run_dir)


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



def add_probe_flags(s: argparse.ArgumentParser) -> None:
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
    s.add_argument("--over-training", action="store_true",
                   help="probe the run's kept checkpoints and training probes (probe_every): small multiples and a "
                        "report with a training slider, in --out (default RUN/over_training)")
