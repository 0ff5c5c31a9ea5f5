"""Shai et al. 2026, "Transformers learn factored representations" (arXiv 2602.02385).

On an independent product of processes a transformer represents each factor's belief in
its own, nearly orthogonal subspace -- far fewer dimensions than the joint belief needs.

Runs: one training per seed on the product (the paper's 3 x Mess3(0.15, 0.6) + 2 x Bloch
walk(1, 3) in full mode; 2 x Mess3 + 1 Bloch walk in quick mode; Mess3 x Bloch walk in
tiny mode), through :func:`nets.train.train` (the product sampled factor by factor, the
joint GHMM never built).  ``--protocol``: ``ours`` trains with exact next-symbol targets,
``paper`` with the paper's AdamW lr 5e-4 and sampled targets (full mode: batch 25,000,
500k steps); quick mode runs ``ours`` unless asked.  Both definitions of the overlap are
always reported.  The science is in :mod:`.analysis` and :mod:`.overlap`, the write-up in
:mod:`.report`.
"""

from __future__ import annotations

from pathlib import Path

from papers.experiment import Experiment, Mode, Run

__all__ = ["Shai2026", "product_spec", "main"]

MODELS = {
    "tiny": dict(kind="transformer", n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32),
    "quick": dict(kind="transformer", n_layers=2, d_model=64, n_heads=2, d_head=32, d_mlp=256),
    "full": dict(kind="transformer", n_layers=4, d_model=120, n_heads=3, d_head=40, d_mlp=480),
}
#: AdamW with weight decay 0.01: the paper trains with AdamW and names no weight decay, so
#: AdamW's default (a weight decay of 0 would make it plain Adam)
ADAMW = dict(optimizer="adamw", weight_decay=0.01, data_mode="stream", log_every=10)


def product_spec(n_mess: int, n_bloch: int) -> str:
    """Library spec of ``n_mess`` x Mess3(0.15, 0.6) and ``n_bloch`` x Bloch walk(1, 3).

    >>> product_spec(1, 1)
    'mess3:x=0.15,a=0.6*bloch_walk:alpha=1,beta=3'
    """
    return "*".join(["mess3:x=0.15,a=0.6"] * n_mess + ["bloch_walk:alpha=1,beta=3"] * n_bloch)


def _mode(name: str, seeds, product, train: dict, paper: dict, analysis: dict, protocol: str, budget) -> Mode:
    return Mode(name, seeds=seeds, train=dict(ADAMW, model=MODELS[name], **train), budget_s=budget, protocol=protocol,
                analysis=dict(analysis, product=product, ours=dict(targets="exact"), paper=paper))


class Shai2026(Experiment):
    name = "shai2026_factored"
    title = "Shai et al. 2026 (arXiv 2602.02385): transformers learn factored representations"
    modes = {
        "tiny": _mode("tiny", (0, 1), (1, 1), dict(context=5, lr=3e-3, batch_size=64, steps=20, num_threads=1),
                      dict(targets="sampled", lr=3e-3), dict(n_eval=300, folds=3), "both", 60),
        "quick": _mode("quick", (0, 1, 2), (2, 1), dict(context=9, lr=1e-3, batch_size=256, steps=6000,
                                                        num_threads=1),
                       dict(targets="sampled", lr=5e-4), dict(n_eval=3000, folds=5), "ours", 1200),
        "full": _mode("full", (0, 1, 2), (3, 2), dict(context=9, lr=5e-4, batch_size=25_000, steps=500_000,
                                                      checkpoint_every=5000),
                      dict(targets="sampled", lr=5e-4), dict(n_eval=20000, folds=10), "both", None),
    }

    def runs(self, mode: Mode) -> list[Run]:
        a = mode.analysis
        protocols = ("ours", "paper") if mode.protocol == "both" else (mode.protocol,)
        spec = product_spec(*a["product"])
        return [Run(f"{p}-s{s}", p, s, dict(mode.train, **a[p], process=spec), {"protocol": p})
                for p in protocols for s in mode.seeds]

    def execute(self, mode="quick", out=None, **kwargs):
        import torch

        name = mode.name if isinstance(mode, Mode) else mode
        self.out_dir = Path(out) if out is not None else self.default_out(name)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the analysis' forward passes too: a small model on a small shared CPU
        try:
            return super().execute(mode, self.out_dir, **kwargs)
        finally:
            torch.set_num_threads(threads)

    def command(self, mode: Mode) -> str:
        """The reproduce line; ``--protocol`` only when it differs from the mode's default
        (quick mode's is ``ours``)."""
        default = self.modes.get(mode.name)
        if default is not None and mode.protocol == default.protocol:
            return f"qbelief paper {self.name} --{mode.name}    # or: python -m papers.{self.name} --{mode.name}"
        return f"python -m papers.{self.name} --{mode.name} --protocol {mode.protocol}"

    def analyze(self, run: Run, ctx) -> dict:
        import numpy as np
        import torch

        from nets.models import build_model

        from .analysis import analyze_factored
        from .figures import run_figures

        res = ctx.trained
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(10_000 + run.seed)
            untrained = build_model(res.model.config).eval()
        a = ctx.mode.analysis
        m, arrays = analyze_factored(res.model, untrained, res.data, n_eval=a["n_eval"], folds=a["folds"],
                                     seed=run.seed)
        m["training"] = {"steps": res.steps_done, "loss_relative": res.final_relative,
                         "optimum_nats": float(np.mean(res.optimum)), "seconds": float(res.timing["total_s"])}
        m["process"] = {"alphabet_size": res.data.alphabet_size, "factors": len(res.data.factors),
                        "d_model": res.model.config.d_model}
        if run.seed == ctx.mode.seeds[0]:
            run_figures(ctx.out, run.group, res, arrays)
        ov = m["overlap"]
        ctx.say(f"   {run.key}: {res.steps_done} steps, loss/opt {res.final_relative:.4f}; pca95 "
                f"{m['dims']['trained_pca95']} (untrained {m['dims']['untrained_pca95']}, factored "
                f"{m['dims']['factored_prediction']}, joint {m['dims']['joint_pca95']}); overlap ours "
                f"{ov['ours']['trained']:.2e} (init {ov['ours']['untrained']:.2e}), authors' {ov['authors']['trained']:.2e} "
                f"(init {ov['authors']['untrained']:.2e})")
        return m

    def report(self, results, rep) -> None:
        from .report import write_report

        write_report(results, rep, self.out_dir)


def main(argv: list[str] | None = None) -> int:
    return Shai2026().main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
