"""The demo's report: the verdict with its interval over seeds, the four steps, the
commands to reproduce each, and what to try next."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np

from nets.stats import compare

from .views import load_view

__all__ = ["write_report", "train_command", "NEXT_STEPS"]

#: the commands a user can try next (issue 13), as (what, command) pairs; RUN is the first seed's run
NEXT_STEPS = [
    ("what the network represents beyond the next token", "qbelief represented {run}"),
    ("a generator learned from data (here: sequences you saved as an int array)",
     "qbelief learn SEQUENCES.npy --out learned.json"),
    ("probe any model's saved activations for a process's beliefs",
     "qbelief probe --activations FILE --process {process}"),
]


def write_report(results, rep, out: Path) -> None:
    g = results.metrics("generator")
    runs = results.group_runs("transformer")
    first = runs[0]
    r2 = results.interval("transformer", "r2")
    controls = {"untrained": results.interval("transformer", f"points.{_headline(results)}.untrained_r2"),
                "shuffled": results.interval("transformer", f"points.{_headline(results)}.shuffled_r2"),
                "Markov-k": results.interval("transformer", "markov.r2")}
    verdicts = [results.metrics(r.key)["verdict"] for r in runs]
    cmp = compare(r2, controls=controls)
    if results.mode.name != "full":
        rep.text("*Quick mode: a smoke test of the pipeline; the numbers are not meaningful.*")
    rep.text(f"**Verdict: {_count(verdicts)}** -- probing `{_headline(results)}`, held-out R^2 of the minimal "
             f"belief coordinates {r2.format(4)} (mean and 95% interval over {len(runs)} seeds): "
             f"{_beats(cmp)}.")

    rep.section("1. The generator")
    rep.text(f"`{g['name']}`: four Kraus operators on a qubit, one per symbol (|sum K^dagger K - I| = "
             f"{g['completeness_error']:.1e}; the same process as `library.bloch_walk()`: "
             f"{'yes' if g['equivalent_to_library'] else 'no'}).")
    rep.table(["representation", "dimension"], list(g["dims"].items()))
    rep.text(f"Entropy rate {g['entropy_rate_nats']:.6f} +- {g['entropy_rate_stderr']:.1e} nats/symbol (log 4 = "
             f"{np.log(4):.6f}; an estimate: the manifold does not close). A Markov-k model predicts with loss "
             "h(k+1) on this process; none of them is the process:")
    rep.table(["k", "states", "loss (nats)", "gap to optimum (nats)", "loss / optimum", "same process"],
              [[m["order"], m["states"], m["loss_nats"], m["gap_nats"], m["relative"], m["same_process"]]
               for m in g["markov"]])

    m = g["manifold"]
    rep.section("2. Belief manifolds")
    rep.text(f"The Bloch walk reaches {m['bloch_walk_beliefs']:,} distinct beliefs by depth {m['depth']} (closed: "
             f"{m['closed']}); they lie in the x-z disk of the Bloch ball. Mess3 for contrast "
             f"({m['mess3_beliefs']:,} beliefs, a fractal in the simplex).")
    rep.figure(out / "bloch_walk_beliefs.png", "Bloch walk beliefs (in report.html: the Bloch ball, drag to rotate)",
               interactive=load_view(out, "bloch_walk"))
    rep.figure(out / "mess3_beliefs.png", "Mess3 beliefs (contrast)")

    t = first.train
    rep.section("3. Training")
    rep.text(f"Transformer: {t['n_layers']} layer{'s' * (t['n_layers'] > 1)}, {t['n_heads']} heads x {t['d_head']}, "
             f"d_model {t['d_model']}, d_mlp {t['d_mlp']}, context {t['context']}; Adam lr {t['lr']} "
             f"({t['warmup_steps']} warm-up steps, cosine decay over {t['steps']:,} steps), batch "
             f"{t['batch_size']}, exact data mode with exact next-symbol targets; {len(runs)} seeds.")
    rep.table(["seed", "steps", "tokens", "seconds", "exact validation loss / optimum"],
              [[r.seed] + [results.metrics(r.key)["training"][k] for k in ("steps", "tokens", "seconds",
                                                                            "val_relative")] for r in runs])
    from nets.report import plot_loss_curve

    plot_loss_curve({f"seed {r.seed}": results.histories[r.key] for r in runs if results.histories[r.key]},
                    out / "loss_curve.png", title="Bloch walk: transformer loss / Bayes-optimal loss")
    rep.figure(out / "loss_curve.png", "loss curve")

    _probes(results, rep, out, controls)
    rep.section("Try next")
    run_dir = out / "runs" / first.key
    rep.bullets([f"{what}: `{cmd.format(run=run_dir, process=out / 'bloch_walk_kraus.json')}`"
                 for what, cmd in NEXT_STEPS])
    rep.section("Step by step")
    rep.code("\n".join([
        "qbelief info bloch_walk",
        f"qbelief beliefs {out / 'bloch_walk_kraus.json'} --depth {m['depth']} --out {out / 'beliefs'}",
        train_command(t, out / "bloch_walk_kraus.json", out / "run"),
        f"qbelief probe {out / 'run'}",
        f"qbelief attention {out / 'run'}",
    ]))


def _headline(results) -> str:
    return results.metrics(results.group_runs("transformer")[0].key)["headline"]


def _count(verdicts: list[str]) -> str:
    names = sorted(set(verdicts), key=lambda v: -verdicts.count(v))
    return ", ".join(f"{v.upper()} in {verdicts.count(v)} of {len(verdicts)} seeds" for v in names)


def _beats(cmp: dict) -> str:
    beat = [k for k, b in cmp["beats"].items() if b]
    tied = [k for k, b in cmp["beats"].items() if not b]
    words = (["above the " + ", ".join(beat) + " baseline" + ("s" if len(beat) > 1 else "")] if beat else [])
    words += (["not separated from the " + ", ".join(tied)] if tied else [])
    return "; ".join(words)


def _probes(results, rep, out: Path, controls: dict) -> None:
    mk = results.metrics(results.group_runs("transformer")[0].key)["markov"]
    rep.section("4. Probes")
    rep.text("Probability-weighted affine least squares from activations to the minimal belief coordinates, "
             "truncated-SVD rank by cross-validation, held-out metrics. Baselines: the same probe on shuffled "
             "beliefs, on an untrained network of the same architecture, and the beliefs of a Markov-k model "
             f"(k = {mk.get('order')}, {mk.get('n_states')} states: R^2 {controls['Markov-k'].format(4)}).")
    pts = list(results.metrics(results.group_runs("transformer")[0].key)["points"])
    iv = lambda p, k: results.interval("transformer", f"points.{p}.{k}")  # noqa: E731
    rep.table(["point", "R^2", "RMSE", "shuffled R^2", "untrained R^2"],
              [[p, iv(p, "r2"), iv(p, "rmse"), iv(p, "shuffled_r2"), iv(p, "untrained_r2")] for p in pts],
              caption="mean and 95% interval over seeds")
    rep.figure(out / "belief_geometry.png", "true vs represented beliefs (first seed)",
               interactive=load_view(out, "geometry"))
    rep.figure(out / "fit_by_layer.png", "fit by layer (first seed)", interactive=load_view(out, "fit_by_layer"))
    geo = results.metrics(results.group_runs("transformer")[0].key)["geometry"]
    rep.text("Geometry (first seed): " + ", ".join(f"{k} = {v:.3g}" for k, v in geo.items()))


def train_command(t: dict, process: Path, out: Path) -> str:
    """The ``qbelief train`` command line of the TrainConfig fields ``t`` (flags for the
    values off their defaults)."""
    from dataclasses import fields

    from nets.config import TrainConfig
    from nets.models import ModelConfig

    defaults = {f.name: f.default for f in (*fields(TrainConfig), *fields(ModelConfig))}
    parts = ["qbelief", "train", str(process), "--model", str(t["model"])]
    for k, v in t.items():
        if k in ("model", "process", "kind") or defaults.get(k) == v or v is None:
            continue
        parts += [f"--{k.replace('_', '-')}", str(v)]
    return " ".join(shlex.quote(p) for p in parts + ["--out", str(out)])
