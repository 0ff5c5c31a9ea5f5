"""The ``qbelief represented`` and ``qbelief learn`` commands (the analyses of the README's
"Beyond the papers"), registered by :func:`nets.cli.build_parser` through :func:`add_parsers`.

- ``qbelief represented RUN [--horizons 1,2,4,8] [--out DIR]`` -- which points of a run's
  model represent the belief, the next token, the next k tokens and the belief beyond the
  next token (:func:`nets.represented.what_is_represented`); writes ``represented.md``
  (the table, :class:`nets.document.Report`), ``represented.png`` and ``represented.json``
  and prints the summary.
- ``qbelief learn SEQUENCES.npy|.npz --out learned.json [--dim auto|N] [--max-length N]
  [--seed S] [--repair]`` -- a GHMM learned from sampled sequences
  (:func:`generators.learn_ghmm`) written as a generator file
  (:func:`generators.io.save_generator`), so ``qbelief info learned.json`` reads it.  A
  learned model that gives a word of length <= 6 a negative probability could not be
  loaded back (every load checks those words): it is *refused*, with a one-line error
  suggesting ``--repair`` (restart smoothing), never written.  Negative words the search
  finds beyond that are reported in one ``warning:`` line and the model is written.

Errors in the input are :class:`nets.cli.CLIError` (one line, exit status 2).
"""

from __future__ import annotations

from pathlib import Path

from .cli_checks import CLIError

__all__ = ["add_parsers", "cmd_represented", "cmd_learn"]
def cmd_represented(args) -> int:
    """What each point of a run's model represents: belief, next token, next k tokens, the
    belief beyond the next token (:func:`nets.represented.what_is_represented`)."""
    from .represented import what_is_represented

    res = what_is_represented(args.run_dir, horizons=_horizons(args.horizons), seed=args.seed, n_boot=args.n_boot,
                              untrained=None if args.no_untrained else "auto")
    paths = res.write(Path(args.out) if args.out else Path(args.run_dir))
    print(res.summary())
    print(f"wrote {paths['markdown']} (table), {paths['figure']} and {paths['json']}")
    return 0


def _horizons(text: str) -> tuple[int, ...]:
    """``"1,2,4,8"`` -> ``(1, 2, 4, 8)``; anything but comma-separated positive integers is a CLIError."""
    parts = [t.strip() for t in str(text).split(",")]
    if not parts or not all(t.isdigit() and int(t) >= 1 for t in parts):
        raise CLIError(f"--horizons must be comma-separated positive integers such as 1,2,4,8; got {text!r}")
    return tuple(int(t) for t in parts)


def cmd_learn(args) -> int:
    """Learn a GHMM from sampled sequences (:func:`generators.learn_ghmm`) and write it as
    a generator file.  A model whose short words (length <= 6, the check every load runs)
    include a negative probability could not be loaded back: it is refused, with the
    suggestion to rerun with ``--repair`` (restart smoothing), unless it was repaired."""
    import warnings

    from generators.io import generator_from_dict, generator_to_dict, save_generator
    from generators.learning import LearnedModelWarning, learn_ghmm, load_sequences

    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise CLIError(f"--out must name a .json generator file; got {out}")
    seq = load_sequences(args.sequences, key=args.key)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LearnedModelWarning)
        g, report = learn_ghmm(seq, dim=_learn_dim(args.dim), max_length=args.max_length, seed=args.seed,
                               repair=args.repair, return_report=True)
    try:
        generator_from_dict(generator_to_dict(g))  # exactly what `qbelief info` / load_generator will run
    except ValueError as e:
        why = str(e).splitlines()[0].split(";")[0]
        hint = "more data or a smaller --dim" if args.repair else \
            "rerun with --repair (restart smoothing), or use more data or a smaller --dim"
        raise CLIError(f"not written: the learned GHMM could not be loaded back ({why}); {hint}") from None
    save_generator(g, out)
    print(report.summary())
    k = len(report.noise_levels)
    print("singular values " + ", ".join(f"{v:.4g}" for v in report.singular_values[:k])
          + " vs noise levels " + ", ".join(f"{v:.3g}" for v in report.noise_levels))
    for w in caught:
        if issubclass(w.category, LearnedModelWarning):
            print(f"warning: {str(w.message).splitlines()[0]}")
    print(f"wrote {out} (dimension {g.dim}; `qbelief info {out}` reads it)")
    return 0


def _learn_dim(text: str):
    if text == "auto":
        return "auto"
    if not text.isdigit() or int(text) < 1:
        raise CLIError(f"--dim must be 'auto' or a positive integer; got {text!r}")
    return int(text)


def add_parsers(sub) -> None:
    """The parsers of ``represented`` and ``learn``."""
    s = sub.add_parser("represented", help="which points represent the belief, the next token, the next k tokens, "
                                            "and the belief beyond the next token")
    s.add_argument("run_dir", metavar="RUN", help="run directory (from `qbelief train`)")
    s.add_argument("--horizons", default="1,2,4,8", help="k of the next-k-token targets (default 1,2,4,8)")
    s.add_argument("--out", help="output folder (default: the run directory)")
    s.add_argument("--seed", type=int, default=0, help="split, folds and shuffles (default 0)")
    s.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples of the headline R^2 (0: none)")
    s.add_argument("--no-untrained", action="store_true", help="skip the untrained-network control")
    s.set_defaults(func=cmd_represented)

    s = sub.add_parser("learn", help="learn a GHMM from sampled sequences (.npy/.npz) into a generator file")
    s.add_argument("sequences", metavar="SEQUENCES", help=".npy or .npz of int symbols (N, L) or (L,)")
    s.add_argument("--out", required=True, help="the generator file to write (.json)")
    s.add_argument("--dim", default="auto", help="learned dimension: auto (rank rule) or N (default auto)")
    s.add_argument("--max-length", type=int, default=None, help="basis word length (default: from the counts)")
    s.add_argument("--seed", type=int, default=0, help="grouping of the data for the noise estimate (default 0)")
    s.add_argument("--key", default=None, help="array name in a .npz holding several")
    s.add_argument("--repair", action="store_true",
                   help="replace a model with a negative word by its smallest valid restart smoothing")
    s.set_defaults(func=cmd_learn)

