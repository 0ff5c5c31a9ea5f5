"""The qbelief demo (the main job): does a transformer represent the belief geometry of a quantum process?

1. The Bloch walk is defined from its Kraus operators, the way a user would
   (:func:`.generator.bloch_walk_from_kraus`), checked as an instrument, and compared with
   the Markov-k approximations a small classical model could offer.
2. Its belief manifold is drawn on the Bloch disk, with Mess3's fractal beside it.
3. A small transformer is trained with exact next-symbol targets, once per seed.
4. Every layer and their concatenation are probed for the minimal (3-dim) belief
   coordinates against shuffled, untrained-network and Markov-k baselines; the headline
   R^2 is a mean with a 95% interval over the seeds.
5. ``runs/demo/report.md`` (and ``report.html`` when the HTML renderer is installed)
   collects the figures, the numbers, the commands to reproduce every step and what to
   try next.

``qbelief demo`` (= ``make demo``, mode ``full``: three seeds, about 6 CPU-minutes) or
``qbelief demo --quick`` (a smoke test, about a minute); ``--seconds S`` caps each seed's
training time; ``--out DIR`` (default ``runs/demo``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from papers.experiment import Experiment, Mode, Run

from .generator import bloch_walk_from_kraus, draw_manifolds, generator_facts
from .views import save_probe_views

__all__ = ["Demo", "DEMO_TRAIN", "QUICK_TRAIN", "main"]

#: the main job's training (TrainConfig fields; the process is added per run).  A batch of
#: 64 words for 4000 Adam steps reaches the belief geometry in about a CPU-minute per seed
DEMO_TRAIN = dict(model="transformer", n_layers=4, d_model=64, n_heads=4, d_head=16, d_mlp=256, context=8,
                  data_mode="exact", targets="exact", optimizer="adam", lr=2e-3, warmup_steps=200,
                  scheduler="cosine", batch_size=64, steps=4000, max_time_s=200.0, log_every=10,
                  checkpoint_every=1000, num_threads=1)
#: the quick demo (tests): the same recipe, a one-layer model, context 6, a few hundred steps
QUICK_TRAIN = dict(DEMO_TRAIN, n_layers=1, d_model=32, n_heads=2, d_head=16, d_mlp=64, context=6, steps=300,
                   warmup_steps=30, max_time_s=15.0, checkpoint_every=100)


class Demo(Experiment):
    name = "demo"
    title = "qbelief demo: does a transformer represent the belief geometry of a quantum process?"
    report_file = "report.md"
    modes = {
        "quick": Mode("quick", seeds=(0, 1), train=QUICK_TRAIN, budget_s=120,
                      analysis=dict(kmax=3, depth=6, mess3_depth=7, folds=5)),
        "full": Mode("full", seeds=(0, 1, 2), train=DEMO_TRAIN, budget_s=600,
                     analysis=dict(kmax=5, depth=8, mess3_depth=10, folds=10)),
    }

    def __init__(self, seconds: float | None = None):
        from generators.validation import check_real

        # checked before any work: a finite number of seconds > 0, or None (the mode's steps)
        self.seconds = None if seconds is None else check_real(seconds, "seconds", minimum=0.0, min_open=True)

    def default_out(self, mode: str) -> Path:
        return Path("runs/demo")

    def command(self, mode: Mode) -> str:
        return "make demo                     # = qbelief demo" if mode.name == "full" else "qbelief demo --quick"

    def execute(self, mode="full", out=None, **kwargs):
        name = mode.name if isinstance(mode, Mode) else mode
        self.out_dir = Path(out) if out is not None else self.default_out(name)
        return super().execute(mode, self.out_dir, **kwargs)

    def runs(self, mode: Mode) -> list[Run]:
        from generators.io import generator_to_dict

        train = dict(mode.train, process=generator_to_dict(bloch_walk_from_kraus()))
        if self.seconds is not None:
            train["max_time_s"] = float(self.seconds)
        return [Run("generator", "generator", 0, None, dict(mode.analysis))] + [
            Run(f"transformer-s{s}", "transformer", s, train, {"folds": mode.analysis["folds"]}) for s in mode.seeds]

    def analyze(self, run: Run, ctx) -> dict:
        q = bloch_walk_from_kraus()
        if run.group == "generator":
            from generators.io import save_generator

            ctx.say("== 1. the quantum generator: Bloch walk from its Kraus operators")
            facts = generator_facts(q, run.params["kmax"])
            ctx.say(f"   |sum K^dagger K - I| = {facts['completeness_error']:.1e}; dimensions "
                    + ", ".join(f"{k} {v}" for k, v in facts["dims"].items()))
            ctx.say("== 2. belief manifolds")
            facts["manifold"] = draw_manifolds(q, run.params["depth"], run.params["mess3_depth"], ctx.out)
            save_generator(q, ctx.out / "bloch_walk_kraus.json")
            return facts
        return self._probe(run, ctx, q)

    def _probe(self, run: Run, ctx, q) -> dict:
        from nets.probe import build_probe_dataset
        from nets.probe.plots import plot_belief_geometry, plot_fit_by_layer

        res = ctx.trained
        ctx.say(f"== 3. {run.key}: {res.steps_done:,} steps, exact validation loss {res.val_relative:.5f} x optimum")
        ctx.say(f"== 4. {run.key}: probing every layer and their concatenation for the minimal belief coordinates")
        ds = build_probe_dataset(q, res.model, representations=["minimal"], context=res.config.context)
        pr = ds.probe(folds=run.params["folds"], seed=run.seed)
        ctx.say(pr.summary())
        if run.seed == ctx.mode.seeds[0]:
            pr.to_json(ctx.out / "probe.json")
            plot_belief_geometry(pr, ctx.out / "belief_geometry.png",
                                 title="Bloch walk: true minimal beliefs (left) vs the transformer's (right)")
            plot_fit_by_layer(pr, ctx.out / "fit_by_layer.png",
                              title="Bloch walk: fit of the belief coordinates by layer")
            save_probe_views(pr, ds, ctx.out)
        mk = pr.baselines.get("markov") or {}
        points = {n: {"r2": p.r2, "rmse": p.rmse, "shuffled_r2": p.shuffled["r2"],
                      "untrained_r2": (p.untrained or {}).get("r2"), "rank": p.rank} for n, p in pr.points.items()}
        return {"verdict": pr.verdict, "headline": pr.headline, "r2": pr.points[pr.headline].r2,
                "rmse": pr.points[pr.headline].rmse, "points": points,
                "markov": {k: mk[k] for k in ("order", "n_states", "r2", "rmse") if k in mk},
                "geometry": {k: v for k, v in pr.geometry.items() if isinstance(v, (int, float))},
                "training": {"steps": res.steps_done, "tokens": res.steps_done * res.config.batch_size
                             * res.config.context, "seconds": _training_seconds(res),
                             "val_relative": res.val_relative, "final_relative": res.final_relative}}

    def report(self, results, rep) -> None:
        from .report import write_report

        write_report(results, rep, self.out_dir)


def _training_seconds(res) -> float:
    """Wall seconds of the training: this process's when it trained, else (a finished run
    reopened by a resumed experiment) the elapsed time its metrics log recorded last."""
    if res.timing.get("steps", 0) or not res.history:
        return float(res.timing.get("total_s", 0.0))
    return float(res.history[-1]["time_s"])


def main(argv: list[str] | None = None) -> int:
    """``python -m papers.demo [--quick|--full] [--seconds S] [--out DIR] [--quiet] ...``
    (the main job, ``--full``, when no mode is given)."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--seconds", type=float, default=None)
    known, rest = ap.parse_known_args(argv)
    if not any(a in ("--quick", "--full") for a in rest):
        rest = ["--full"] + rest
    return Demo(seconds=known.seconds).main(rest)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
