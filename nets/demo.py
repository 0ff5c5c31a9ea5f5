"""The main job (``make demo`` = ``qbelief demo``): define a quantum generator, compute its
belief manifold, train a transformer on it, and test whether the transformer represents
the belief geometry.

1. The Bloch walk (Riechers, Elliott, Shai 2025) is defined from its Kraus operators, the
   way a user would (:func:`bloch_walk_from_kraus`), checked as an instrument, and
   compared with the Markov-k approximations that a small classical model could offer.
2. Its mixed-state presentation is drawn on the Bloch disk, with Mess3's fractal beside it.
3. A small transformer is trained with exact next-symbol targets on the CPU.
4. Every layer and their concatenation are probed for the minimal (3-dim) belief
   coordinates, against shuffled, untrained-network and Markov-k baselines.
5. ``report.md`` collects the figures, the numbers and the commands to reproduce.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import numpy as np

from generators.fileio import write_json, write_text

__all__ = ["run_demo", "bloch_walk_from_kraus", "DEMO_TRAIN", "QUICK_TRAIN"]

#: training options of the full demo (TrainConfig fields); the process is added at run time
DEMO_TRAIN = dict(model=dict(kind="transformer", n_layers=4, d_model=64, n_heads=4, d_head=16, d_mlp=256),
                  context=8, data_mode="exact", targets="exact", optimizer="adam", lr=2e-3, warmup_steps=200,
                  scheduler="cosine", batch_size=256, steps=3000, max_time_s=360.0, eval_every=250, log_every=10,
                  checkpoint_every=500, num_threads=1, seed=0)
#: the quick demo (tests): same recipe, a smaller model and a few hundred steps
QUICK_TRAIN = dict(DEMO_TRAIN, model=dict(DEMO_TRAIN["model"], n_layers=1, d_model=32, n_heads=2, d_head=16, d_mlp=64),
                   steps=300, warmup_steps=30, max_time_s=15.0, eval_every=100, checkpoint_every=100)


def bloch_walk_from_kraus(alpha: float = 1.0, beta: float = 51 ** 0.5):
    """The Bloch walk as a user defines it: four Kraus operators on a qubit, one per symbol.

    ``K0 = g [[a+b, 0], [0, a-b]]``, ``K1 = g [[a-b, 0], [0, a+b]]``,
    ``K2 = g [[a, b], [b, a]]``, ``K3 = g [[a, -b], [-b, a]]``, ``g = 1/(2 sqrt(a^2+b^2))``.
    """
    from generators import QuantumGenerator

    a, b = alpha, beta
    g = 1 / (2 * np.sqrt(a**2 + b**2))
    kraus = [
        [g * np.array([[a + b, 0], [0, a - b]])],
        [g * np.array([[a - b, 0], [0, a + b]])],
        [g * np.array([[a, b], [b, a]])],
        [g * np.array([[a, -b], [-b, a]])],
    ]
    return QuantumGenerator(kraus, name=f"bloch_walk(alpha={alpha:g}, beta={beta:.6g}) from Kraus operators")


def run_demo(out: str | Path = "runs/demo", *, quick: bool = False, quiet: bool = False,
             seconds: float | None = None) -> dict:
    """Run the main job, writing figures, ``results.json`` and ``report.md`` into ``out``.

    Returns the numbers of the report as a dict.
    """
    from generators.validation import check_real

    from .report import markdown_table

    if seconds is not None:  # checked before any work
        seconds = check_real(seconds, "seconds", minimum=0.0, min_open=True)
    t_start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    q = bloch_walk_from_kraus()
    opts = dict(QUICK_TRAIN if quick else DEMO_TRAIN)
    if seconds is not None:
        opts["max_time_s"] = float(seconds)
    results: dict = {"quick": quick, "generator": _generator_section(q, quick, say),
                     "manifold": _manifold_section(q, quick, out, say)}
    results["training"], res = _training_section(q, opts, out, quiet, say)
    results["probe"] = _probe_section(res.model, q, opts, quick, out, say)
    results["seconds_total"] = time.time() - t_start
    write_json(out / "results.json", results, default=str)
    write_text(out / "report.md", _report(results, opts, markdown_table))
    say(f"== done in {results['seconds_total']:.0f} s: {out / 'report.md'}")
    return results


def _generator_section(q, quick: bool, say) -> dict:
    """1. The instrument check, the dimensions, and what Markov-k predictors lose."""
    from bayes import entropy_rate, myopic_entropy
    from generators import equivalent, hankel_rank, library, markov_approximation

    from .units import NATS

    say("== 1. the quantum generator: Bloch walk from its Kraus operators")
    completeness = float(np.abs(sum(K.conj().T @ K for Ks in q.kraus for K in Ks) - np.eye(2)).max())
    dims = {"native (qubit)": q.dim, "GHMM (Gell-Mann)": q.to_ghmm().dim, "minimal (Hankel rank)": hankel_rank(q)}
    same = equivalent(q, library.bloch_walk())
    say(f"   valid instrument: |sum K^dagger K - I| = {completeness:.1e}; same process as library.bloch_walk(): {same}")
    say("   dimensions: " + ", ".join(f"{k} {v}" for k, v in dims.items()))
    kmax = 3 if quick else 5
    h = myopic_entropy(q, kmax + 2, base=NATS)
    hr_est = entropy_rate(q, base=NATS)
    hr, hr_se = float(hr_est), float(getattr(hr_est, "stderr", 0.0))
    markov_rows = []
    for k in range(kmax + 1):
        m = markov_approximation(q, k)
        gap = h[k] - hr  # a Markov-k predictor's loss on the true process is h(k+1)
        markov_rows.append({"order": k, "states": m.dim, "loss_nats": float(h[k]), "gap_nats": float(gap),
                            "relative": float(h[k] / hr), "same_process": bool(equivalent(m, q))})
    say(f"   entropy rate {hr:.6f} +- {hr_se:.1e} nats (log 4 = {np.log(4):.6f}); Markov-k predictors lose:")
    for r in markov_rows:
        say(f"     k={r['order']} ({r['states']:>5} states): {r['loss_nats']:.6f} nats, gap {r['gap_nats']:.2e}, "
            f"same process: {r['same_process']}")
    return {"name": q.name, "completeness_error": completeness, "dims": dims, "equivalent_to_library": same,
            "entropy_rate_nats": hr, "entropy_rate_stderr": hr_se, "markov": markov_rows}


def _manifold_section(q, quick: bool, out: Path, say) -> dict:
    """2. The belief manifolds of the Bloch walk and (for contrast) Mess3, drawn."""
    from bayes import mixed_state_presentation, plot_beliefs
    from generators import library

    say("== 2. belief manifolds")
    depth = 6 if quick else 8
    man = mixed_state_presentation(q, depth, progress=False)
    plot_beliefs(man, out / "bloch_walk_beliefs.png", title=f"Bloch walk: {len(man):,} beliefs to depth {depth}")
    mess = mixed_state_presentation(library.mess3(), 7 if quick else 10, progress=False)
    plot_beliefs(mess, out / "mess3_beliefs.png", title=f"Mess3(0.05, 0.85): {len(mess):,} beliefs (contrast)")
    say(f"   Bloch walk: {len(man):,} distinct beliefs to depth {depth} (closed: {man.closed}); "
        f"Mess3: {len(mess):,}")
    return {"bloch_walk_beliefs": len(man), "depth": depth, "closed": bool(man.closed), "mess3_beliefs": len(mess)}


def _training_section(q, opts: dict, out: Path, quiet: bool, say):
    """3. The transformer trained with exact targets: ``(numbers, TrainResult)``."""
    from .report import plot_loss_curve
    from .train import train

    say("== 3. training a transformer with exact next-symbol targets")
    res = train(dict(opts, process=q, out_dir=str(out / "run"), quiet=quiet), overwrite=True)
    tr = {"steps": res.steps_done, "tokens": int(res.history[-1]["tokens"]) if res.history else 0,
          "seconds": float(res.timing.get("total_s", res.history[-1]["time_s"] if res.history else 0.0)),
          "final_relative": res.final_relative, "val_loss_nats": res.val_loss, "val_relative": res.val_relative,
          "optimum_nats": float(np.mean(res.optimum))}
    say(f"   {tr['steps']} steps in {tr['seconds']:.0f} s; exact validation loss {res.val_loss:.5f} nats = "
        f"{res.val_relative:.5f} x optimum")
    plot_loss_curve({"exact targets": res.history}, out / "loss_curve.png",
                    title="Bloch walk: transformer loss / Bayes-optimal loss")
    return tr, res


def _probe_section(model, q, opts: dict, quick: bool, out: Path, say) -> dict:
    """4. Every layer and their concatenation probed for the minimal belief coordinates."""
    from .probe_data import probe_model
    from .probe_plots import plot_belief_geometry, plot_fit_by_layer

    say("== 4. probing every layer and their concatenation for the minimal belief coordinates")
    pr = probe_model(model, q, representation="minimal", dataset_kwargs={"context": opts["context"]},
                     folds=5 if quick else 10)
    pr.to_json(out / "probe.json")
    plot_belief_geometry(pr, out / "belief_geometry.png",
                         title="Bloch walk: true minimal beliefs (left) vs the transformer's (right)")
    plot_fit_by_layer(pr, out / "fit_by_layer.png", title="Bloch walk: fit of the belief coordinates by layer")
    say(pr.summary())
    head = pr.points[pr.headline]
    return {"verdict": pr.verdict, "headline": pr.headline, "r2": head.r2, "rmse": head.rmse,
            "points": {n: {"r2": p.r2, "rmse": p.rmse, "shuffled_rmse": p.shuffled.get("rmse"),
                           "untrained_rmse": (p.untrained or {}).get("rmse")} for n, p in pr.points.items()},
            "markov": pr.baselines.get("markov"), "geometry": pr.geometry}


# ---------------------------------------------------------------------- helpers
def _train_command(opts: dict, out: str) -> str:
    """The ``qbelief train`` command line of ``opts`` (flags for the values off their defaults)."""
    from dataclasses import fields

    from .models import ModelConfig
    from .train import TrainConfig

    defaults = {f.name: f.default for f in (*fields(TrainConfig), *fields(ModelConfig))}
    flat = {**{k: v for k, v in opts.items() if k != "model"}, **opts["model"]}
    parts = ["qbelief", "train", "bloch_walk", "--model", str(flat["kind"])]
    for k, v in flat.items():
        if k in ("kind", "process") or defaults.get(k) == v or v is None:
            continue
        parts += [f"--{k.replace('_', '-')}", str(v)]
    return " ".join(shlex.quote(p) for p in parts + ["--out", out])


def _report(r: dict, opts: dict, table) -> str:
    g, m, t, p = r["generator"], r["manifold"], r["training"], r["probe"]
    arch = opts["model"]
    lines = [
        "# qbelief demo: does a transformer represent the belief geometry of a quantum process?",
        "",
        ("*Quick mode (a smoke test; numbers are not meaningful).*\n" if r["quick"] else ""),
        f"**Verdict: {p['verdict'].upper()}** — probing `{p['headline']}`, held-out R² = {p['r2']:.4f}, "
        f"RMSE = {p['rmse']:.4f} on the minimal belief coordinates.",
        "",
        "## 1. The generator",
        "",
        f"`{g['name']}`: four Kraus operators on a qubit, one per symbol "
        f"(|Σ K†K − I| = {g['completeness_error']:.1e}; equivalent to `library.bloch_walk()`: "
        f"{g['equivalent_to_library']}).",
        "",
        table(["representation", "dimension"], [[k, v] for k, v in g["dims"].items()]),
        "",
        f"Entropy rate {g['entropy_rate_nats']:.6f} ± {g['entropy_rate_stderr']:.1e} nats/symbol (log 4 = "
        f"{np.log(4):.6f}; an estimate: the manifold does not close). A Markov-k model "
        "predicts with loss h(k+1) on this process; none of them is the process:",
        "",
        table(["k", "states", "loss (nats)", "gap to optimum (nats)", "loss / optimum", "same process"],
              [[x["order"], x["states"], x["loss_nats"], x["gap_nats"], x["relative"], x["same_process"]]
               for x in g["markov"]]),
        "",
        "## 2. Belief manifolds",
        "",
        f"The Bloch walk reaches {m['bloch_walk_beliefs']:,} distinct beliefs by depth {m['depth']} "
        f"(closed: {m['closed']}); they lie in the x–z disk of the Bloch ball. Mess3 for contrast "
        f"({m['mess3_beliefs']:,} beliefs, a fractal in the simplex).",
        "",
        "| Bloch walk | Mess3 |",
        "|---|---|",
        "| ![Bloch walk beliefs](bloch_walk_beliefs.png) | ![Mess3 beliefs](mess3_beliefs.png) |",
        "",
        "## 3. Training",
        "",
        f"Transformer: {arch['n_layers']} layers, {arch['n_heads']} heads × {arch['d_head']}, d_model "
        f"{arch['d_model']}, d_mlp {arch['d_mlp']}, context {opts['context']}; Adam lr {opts['lr']} "
        f"({opts['warmup_steps']} warm-up steps, cosine decay over {opts['steps']:,} steps), batch "
        f"{opts['batch_size']}, exact data mode with exact next-symbol targets. {t['steps']:,} steps, "
        f"{t['tokens']:,} tokens, {t['seconds']:.0f} s on the CPU. Exact validation loss "
        f"{t['val_loss_nats']:.5f} nats = **{t['val_relative']:.5f} × optimum** ({t['optimum_nats']:.5f}).",
        "",
        "![loss curve](loss_curve.png)",
        "",
    ]
    return "\n".join(lines + _report_probe(r, opts, table))


def _report_probe(r: dict, opts: dict, table) -> list[str]:
    """Sections 4 (probes) and the commands to reproduce, as report lines."""
    m, p = r["manifold"], r["probe"]
    mk = p.get("markov") or {}
    return [
        "## 4. Probes",
        "",
        "Probability-weighted affine least squares from activations to the minimal belief coordinates, "
        "truncated-SVD rank by cross-validation, held-out metrics. Baselines: the same probe on shuffled "
        "beliefs, on an untrained network of the same architecture, and the beliefs of a Markov-k model"
        + (f" (k = {mk.get('order')}, {mk.get('n_states')} states: R² {mk.get('r2', float('nan')):.4f}, "
           f"RMSE {mk.get('rmse', float('nan')):.4f})." if mk else "."),
        "",
        table(["point", "R²", "RMSE", "shuffled RMSE", "untrained RMSE"],
              [[n, x["r2"], x["rmse"], x["shuffled_rmse"], x["untrained_rmse"]] for n, x in p["points"].items()]),
        "",
        "![true vs represented beliefs](belief_geometry.png)",
        "",
        "![fit by layer](fit_by_layer.png)",
        "",
        "Geometry: " + ", ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}"
                                 for k, v in (p.get("geometry") or {}).items()),
        "",
        "## Reproduce",
        "",
        "```sh",
        "make demo                     # = .venv/bin/qbelief demo" + (" --quick" if r["quick"] else ""),
        "# or step by step:",
        "qbelief info bloch_walk",
        f"qbelief beliefs bloch_walk --depth {m['depth']} --out runs/demo/beliefs",
        _train_command(opts, "runs/demo/run"),
        "qbelief probe runs/demo/run",
        "qbelief attention runs/demo/run",
        "```",
        "",
        f"Total time {r['seconds_total']:.0f} s.",
        "",
    ]
