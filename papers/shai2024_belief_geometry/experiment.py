"""Shai et al. 2024 (arXiv 2405.15943): transformers represent belief-state geometry in their residual stream.

A. Mess3(0.05, 0.85): the paper's transformer and plain-SGD protocol, probed at the
   paper's token counts (:mod:`.mess3`), from PyTorch's and from TransformerLens's
   initialization (:mod:`.training`).
B. RRXOR: the 36-state belief geometry across layers and the pairwise-distance R^2, under
   the paper's in-sample definition and a held-out one, each with the untrained-network
   and shuffled-belief controls and the ceiling (:mod:`.rrxor`).

Configuration and runs here; the science in :mod:`.mess3`, :mod:`.rrxor` and
:mod:`.protocol`; the write-up in :mod:`.report`.  ``--protocol``: ``paper`` trains from
TransformerLens's initialization, ``ours`` from PyTorch's, ``both`` (default) trains Mess3
from both and RRXOR from PyTorch's (both initializations are its untrained controls);
both analysis definitions are always reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generators.fileio import write_json
from papers.experiment import Experiment, Mode, Run

from . import mess3, rrxor
from .training import INITS

__all__ = ["Shai2024", "MESS3_TRAIN", "RRXOR_TRAIN", "main"]

#: the paper's Mess3 network and protocol (the authors' train_config.json): TrainConfig fields
MESS3_TRAIN = dict(model="transformer", n_layers=4, d_model=64, n_heads=1, d_head=8, d_mlp=256, act="relu",
                   context=10, data_mode="stream", targets="sampled", optimizer="sgd", lr=0.01, batch_size=64,
                   scheduler="constant", log_every=50)
#: RRXOR: d_model 128, 4 heads of 16; d_mlp 512 is TransformerLens's default 4 x d_model
RRXOR_TRAIN = dict(MESS3_TRAIN, d_model=128, n_heads=4, d_head=16, d_mlp=512)
#: quick-mode RRXOR: exact next-symbol targets over all allowed words and Adam (minutes, not hours)
ADAM_EXACT = dict(data_mode="exact", targets="exact", optimizer="adam", lr=1e-3, batch_size=128, eval_every=250,
                  scheduler="plateau", plateau_factor=0.5, plateau_patience=300, grad_clip=1.0)
#: SGD steps of batch 64 x 10 tokens: the paper's 6.4e4, 6.4e5, 3.2e6 (and 6.3e8) tokens
PAPER_STEPS = (100, 1000, 5000)


class Shai2024(Experiment):
    name = "shai2024_belief_geometry"
    title = "Shai et al. 2024 (arXiv 2405.15943): belief-state geometry in the residual stream"
    modes = {
        "tiny": Mode("tiny", seeds=(0, 1), train=dict(num_threads=1), budget_s=90, analysis=dict(
            mess3=dict(n_layers=1, d_model=16, d_head=8, d_mlp=32, context=5), stages=(0, 10, 50),
            rrxor=dict(ADAM_EXACT, n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, context=6, lr=3e-3,
                       batch_size=64, eval_every=0),
            rrxor_steps=100, folds=5, depth={"mess3": 5, "rrxor": 8})),
        "quick": Mode("quick", seeds=(0, 1, 2), train=dict(num_threads=1), budget_s=1200, analysis=dict(
            mess3={}, stages=(0,) + PAPER_STEPS, rrxor=ADAM_EXACT, rrxor_steps=1000, folds=10,
            depth={"mess3": 10, "rrxor": 12})),
        "full": Mode("full", seeds=(0, 1, 2), analysis=dict(
            mess3={}, stages=(0,) + PAPER_STEPS + (20_000, 100_000, 300_000, 984_375), rrxor={},
            rrxor_steps=795_900, folds=10, depth={"mess3": 10, "rrxor": 12})),
    }

    # ------------------------------------------------------------------ runs
    def runs(self, mode: Mode) -> list[Run]:
        a = mode.analysis
        inits = {"both": INITS, "ours": ("torch",), "paper": ("transformer_lens",)}[mode.protocol]
        out = [Run("manifolds", "manifolds", 0, None, {"depth": dict(a["depth"])})]
        stages = sorted(a["stages"])
        for init in inits:
            out += [Run(f"mess3-{init}-s{s}", f"mess3-{init}", s,
                        dict(MESS3_TRAIN, **mode.train, **a["mess3"], process=mess3.PROCESS, steps=stages[-1]),
                        {"init": init, "stages": stages}) for s in mode.seeds]
        init = "transformer_lens" if mode.protocol == "paper" else "torch"
        out += [Run(f"rrxor-s{s}", "rrxor", s,
                    dict(RRXOR_TRAIN, **mode.train, **a["rrxor"], process=rrxor.PROCESS, steps=a["rrxor_steps"]),
                    {"init": init, "stages": [0, a["rrxor_steps"]]}) for s in mode.seeds]
        return out

    def train_run(self, run: Run, run_dir: Path, *, quiet: bool):
        from nets.config import TrainConfig

        from .training import train_in_stages

        cfg = TrainConfig.from_dict(dict(run.train, seed=run.seed))
        return train_in_stages(cfg, run.params["init"], run.params["stages"], run_dir, quiet=quiet)

    def execute(self, mode="quick", out=None, **kwargs):
        name = mode.name if isinstance(mode, Mode) else mode
        self.out_dir = Path(out) if out is not None else self.default_out(name)
        return super().execute(mode, self.out_dir, **kwargs)

    # ------------------------------------------------------------------ analysis
    def analyze(self, run: Run, ctx) -> dict:
        if run.group == "manifolds":
            return self._manifolds(run, ctx)
        return self._mess3(run, ctx) if run.group.startswith("mess3") else self._rrxor(run, ctx)

    def _mess3(self, run: Run, ctx) -> dict:
        """Every kept network of a Mess3 run (:func:`.mess3.stage_metrics`)."""
        from generators.io import resolve

        cfg, models = ctx.trained.result.config, ctx.trained.models
        g, tokens_per_step = resolve(run.train["process"]), cfg.batch_size * cfg.context
        out: dict = {"stages": {}}
        for s, model in models.items():
            met, arrays = mess3.stage_metrics(model, g, cfg.model.n_layers, seed=run.seed,
                                              folds=ctx.mode.analysis["folds"], markov=s == max(models))
            met["tokens"] = s * tokens_per_step
            if s > 0:
                met["loss_relative"] = _loss_near(ctx.trained.history, s)
            out["stages"][str(s)] = met
            ctx.say(f"   {run.key} step {s:>7,}: paper-protocol MSE {met['paper']['mse_pre_ln']:.5f}, "
                    f"held-out {met['ours']['mse']:.5f}")
        if run.seed == ctx.mode.seeds[0]:
            mess3.simplex_figure(arrays, ctx.out / f"mess3_simplex_{run.params['init']}.png",
                                 title=f"Mess3(0.05, 0.85) after {max(models) * tokens_per_step:.2g} tokens "
                                       f"({run.params['init']} init, seed {run.seed})")
        return out

    def _rrxor(self, run: Run, ctx) -> dict:
        """The trained RRXOR network against its controls (:mod:`.rrxor`)."""
        from generators.io import resolve

        from .training import initial_model

        cfg, models, folds = ctx.trained.result.config, ctx.trained.models, ctx.mode.analysis["folds"]
        g, L = resolve(run.train["process"]), cfg.model.n_layers
        other = next(i for i in INITS if i != run.params["init"])
        nets = {"trained": models[max(models)], "untrained": models[0], "untrained_other": initial_model(cfg, other)}
        rows = rrxor.probe_rows(g, nets, L)
        n_pairs = int(rows["counts"].sum())
        out = {"layers": rrxor.layer_fits(rows, L, seed=run.seed, folds=folds),
               "distances": rrxor.distance_metrics(rows, L, seed=run.seed, folds=folds),
               "loss_relative": _final_relative(ctx.trained.result),
               "tokens": max(models) * cfg.batch_size * cfg.context,
               "rows": {"distinct": len(rows["counts"]), "pairs": n_pairs, "inputs": n_pairs // cfg.context}}
        if run.seed == ctx.mode.seeds[0]:
            man = _manifold(g, ctx.mode.analysis["depth"]["rrxor"])
            fits = rrxor.in_sample_fits(rows, L)
            rrxor.geometry_figure(rows, fits, man.beliefs, ctx.out / "rrxor_geometry.png",
                                  title="RRXOR: belief states (top 3 principal axes) vs the paper's in-sample fit "
                                        "from all 12 residual hooks")
            write_json(ctx.out / rrxor.VIEW, rrxor.geometry_view(rows, fits))
        d = out["distances"]
        ctx.say(f"   {run.key}: distance R^2 paper {d['trained']['paper']['beliefs']:.3f}/"
                f"{d['trained']['paper']['next']:.3f} (untrained {d['untrained']['paper']['beliefs']:.3f}), ours "
                f"{d['trained']['ours']['beliefs']:.3f}/{d['trained']['ours']['next']:.3f}")
        return out

    def _manifolds(self, run: Run, ctx) -> dict:
        from bayes import plot_beliefs
        from generators.io import resolve

        out, mans = {}, {}
        for key, spec in (("mess3", mess3.PROCESS), ("rrxor", rrxor.PROCESS)):
            mans[key] = man = _manifold(resolve(spec), run.params["depth"][key])
            out[key] = {"n_beliefs": len(man), "closed": int(bool(man.closed)), "depth": run.params["depth"][key]}
        plot_beliefs(mans["mess3"], ctx.out / "mess3_belief_fractal.png",
                     title=f"Mess3(0.05, 0.85): {out['mess3']['n_beliefs']:,} beliefs to depth "
                           f"{out['mess3']['depth']}")
        return out

    def report(self, results, rep) -> None:
        from .report import write_report

        write_report(results, rep, self.out_dir)


def _manifold(g, depth: int):
    from bayes import mixed_state_presentation

    return mixed_state_presentation(g, depth, progress=False)


def _loss_near(history: list, step: int, n: int = 20) -> float:
    """Mean training loss / optimum over the last ``n`` logged steps up to ``step``."""
    vals = [h["relative"] for h in history if 0 < h["step"] <= step][-n:]
    return float(np.mean(vals)) if vals else float("nan")


def _final_relative(result) -> float:
    return float(result.val_relative if result.val_relative is not None else result.final_relative)


def main(argv: list[str] | None = None) -> int:
    return Shai2024().main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
