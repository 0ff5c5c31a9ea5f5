"""Riechers, Elliott, Shai 2025 (arXiv 2507.07432): networks represent the *minimal* belief
geometry of a process -- classical (Mess3), quantum (Bloch walk) or post-quantum (Moon,
FRDN) -- and not that of a finite-memory (Markov-3) approximation.

Runs: process x network x seed, under two training protocols (``--protocol``):

- ``paper``: Adam lr 1e-4, batch 128, 200 batches per epoch, sampled next-symbol targets,
  ReduceLROnPlateau(0.5, patience 1000 epochs), 20,000 epochs (full mode).  Quick mode
  runs it on Mess3 with the vanilla RNN for at most 40 epochs, stopping once the probe's
  RMSE has fallen by 80%: the paper's "RMSE falls by more than 80% within 20-40 epochs";
- ``ours``: Adam lr 1e-3, exact next-symbol targets (same expected gradient, far less
  noise), constant lr, a few epochs (quick mode: the transformer and the vanilla RNN on
  all four processes).

Every run is probed at checkpoints during training (:mod:`.trajectory`) and fully at the
end (:mod:`.analysis`); the report (:mod:`.report`) pools the seeds.
"""

from __future__ import annotations

import time
from pathlib import Path

from papers.experiment import Experiment, Mode, Run

from .processes import ARCH, PROCESSES

__all__ = ["Riechers2025", "OURS", "PAPER", "STEPS_PER_EPOCH", "QUICK_EPOCHS", "run_epochs", "main"]

STEPS_PER_EPOCH = 200
#: TrainConfig fields of the two protocols (batches of 128 words of length 9 from the
#: stationary process: ``stream`` sampling draws the same distribution as the paper's table
#: of all length-9 words; ``exact`` enumerates that table)
OURS = dict(context=8, data_mode="stream", targets="exact", optimizer="adam", lr=1e-3, batch_size=128,
            scheduler="constant", log_every=25)
PAPER = dict(context=8, data_mode="stream", targets="sampled", optimizer="adam", lr=1e-4, batch_size=128,
             scheduler="plateau", plateau_factor=0.5, plateau_patience=1000 * STEPS_PER_EPOCH, log_every=25)
TINY_ARCH = {"transformer": dict(ARCH["transformer"], n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32),
             "rnn": dict(ARCH["rnn"], n_layers=2, hidden=16)}
FULL_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 60, 100, 200, 500, 1000, 2000, 5000, 10000)
#: quick mode's training lengths (epochs): the Bloch walk, whose optimum sits 0.5% below log 4,
#: needs the longest; the transformer costs ~3.7x the vanilla RNN per step on a CPU
QUICK_EPOCHS = {"transformer": {"mess3": 3, "bloch_walk": 10, "moon": 3, "frdn": 4},
                "rnn": {"mess3": 2, "bloch_walk": 6, "moon": 6, "frdn": 3}}


def _block(processes, archs, epochs: dict, marks: tuple, stop_drop=None) -> dict:
    """One protocol's runs: ``epochs[arch]`` a number or ``{process: number}``; checkpoints
    at the epochs of ``marks`` below a run's length, and at its end."""
    return dict(processes=tuple(processes), archs=tuple(archs), epochs=epochs, marks=tuple(marks),
                stop_drop=stop_drop)


def run_epochs(block: dict, process: str, arch: str) -> float:
    """Training length (epochs) of ``process`` x ``arch`` in a protocol block."""
    e = block["epochs"][arch]
    return float(e[process] if isinstance(e, dict) else e)


class Riechers2025(Experiment):
    name = "riechers2025_quantum"
    title = ("Riechers, Elliott, Shai 2025 (arXiv 2507.07432): networks use the minimal (quantum / "
             "post-quantum) belief representation")
    modes = {
        "tiny": Mode("tiny", seeds=(0, 1), train=dict(num_threads=1), budget_s=60, analysis=dict(
            arch=TINY_ARCH, folds=3, train={"ours": dict(OURS, context=3, lr=3e-3, log_every=5),
                                           "paper": dict(PAPER, context=3, lr=1e-3, log_every=5)},
            ours=_block(["mess3", "bloch_walk"], ["transformer", "rnn"], {"transformer": 0.1, "rnn": 0.1}, (0.05,)),
            paper=_block(["mess3"], ["rnn"], {"rnn": 0.2}, (0.1,), stop_drop=0.8))),
        "quick": Mode("quick", seeds=(0, 1, 2), train=dict(num_threads=1), budget_s=1200, analysis=dict(
            arch=ARCH, folds=10, train={"ours": OURS, "paper": PAPER},
            ours=_block(list(PROCESSES), ["transformer", "rnn"], QUICK_EPOCHS, (0.25, 0.5, 1, 2, 3, 4, 6, 8)),
            paper=_block(["mess3"], ["rnn"], {"rnn": 40}, (2, 4, 6, 8, 10, 12, 15, 20, 25, 30, 35), stop_drop=0.8))),
        "full": Mode("full", seeds=(0, 1, 2), train=dict(), analysis=dict(
            arch=ARCH, folds=10, train={"ours": OURS, "paper": dict(PAPER, data_mode="exact")},
            ours=_block(list(PROCESSES), list(ARCH), {a: 200 for a in ARCH}, FULL_EPOCHS),
            paper=_block(list(PROCESSES), list(ARCH), {a: 20000 for a in ARCH}, FULL_EPOCHS))),
    }

    # ------------------------------------------------------------------ runs
    def runs(self, mode: Mode) -> list[Run]:
        a = mode.analysis
        protocols = ("ours", "paper") if mode.protocol == "both" else (mode.protocol,)
        out = []
        for proto in protocols:
            b = a[proto]
            for p in b["processes"]:
                for arch in b["archs"]:
                    epochs = run_epochs(b, p, arch)
                    marks = [round(e * STEPS_PER_EPOCH) for e in b["marks"] if e < epochs]
                    steps = round(epochs * STEPS_PER_EPOCH)
                    marks.append(steps)
                    group = f"{p}-{arch}-{proto}"
                    params = {"process": p, "arch": arch, "protocol": proto, "checkpoints": marks,
                              "stop_drop": b["stop_drop"],
                              "representations": proto == "ours" and p == "mess3" and arch == b["archs"][0]}
                    train = dict(a["train"][proto], **mode.train, process=PROCESSES[p], model=dict(a["arch"][arch]),
                                 steps=steps)
                    out += [Run(f"{group}-s{s}", group, s, train, params) for s in mode.seeds]
        return out

    def train_run(self, run: Run, run_dir: Path, *, quiet: bool):
        from .analysis import trajectory_probe
        from .processes import process
        from .trajectory import train_with_trajectory

        g, arch, drop = process(run.params["process"]), run.train["model"], run.params["stop_drop"]

        def stop(traj: list) -> bool:
            return drop is not None and traj[-1]["rmse"] <= (1 - drop) * traj[0]["rmse"]

        return train_with_trajectory(dict(run.train, seed=run.seed), run_dir, run.params["checkpoints"],
                                     lambda model: trajectory_probe(g, model, arch, seed=run.seed), stop=stop,
                                     quiet=quiet)

    def execute(self, mode="quick", out=None, **kwargs):
        import torch

        name = mode.name if isinstance(mode, Mode) else mode
        self.out_dir = Path(out) if out is not None else self.default_out(name)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the probes' forward passes too: small models, a small shared CPU
        try:
            return super().execute(mode, self.out_dir, **kwargs)
        finally:
            torch.set_num_threads(threads)

    # ------------------------------------------------------------------ analysis
    def analyze(self, run: Run, ctx) -> dict:
        from .analysis import analyze_net, compare_representations
        from .figures import save_arrays
        from .processes import mess3_hidden_bit, process
        from .trajectory import epochs_to_drop

        t0 = time.process_time()
        p, arch, folds = run.params["process"], run.train["model"], ctx.mode.analysis["folds"]
        g, tr = process(p), ctx.trained
        extra = []
        if run.params["representations"]:
            from generators import markov_approximation

            extra = ["native", mess3_hidden_bit(), markov_approximation(g, 3)]
        m, pr, ds = analyze_net(g, tr.model, arch, folds=folds, seed=run.seed, representations=extra)
        if extra:
            m["representations"] = compare_representations(ds, arch, folds=folds, seed=run.seed)
        steps = [t["step"] for t in tr.trajectory]
        rmse = [t["rmse"] for t in tr.trajectory]
        e80 = epochs_to_drop(steps, rmse, 0.8, STEPS_PER_EPOCH)
        m["trajectory"] = {"epochs": [s / STEPS_PER_EPOCH for s in steps], "rmse": rmse,
                           "cos_r2": [t["cos_r2"] for t in tr.trajectory], "reached_80": float(e80 is not None),
                           "drop_final": 1.0 - rmse[-1] / rmse[0], "rmse_init": rmse[0]}
        if e80 is not None:
            m["trajectory"]["epochs_to_80"] = e80
        m["training"] = {"epochs": tr.steps_done / STEPS_PER_EPOCH, "loss_relative": tr.final_relative,
                         "cpu_train_s": tr.seconds["train"], "cpu_trajectory_s": tr.seconds["probe"],
                         "cpu_analysis_s": time.process_time() - t0}
        if run.seed == ctx.mode.seeds[0]:
            save_arrays(ctx.out, run.group, pr)
        ctx.say(f"   {run.key}: {tr.steps_done / STEPS_PER_EPOCH:g} epochs, loss/opt {tr.final_relative:.4f}, "
                f"cos R2 {m['concat']['cos_r2']:.4f} (untrained {m['concat']['untrained']['cos_r2']:.3f}, "
                f"Markov-3 targets {m['concat']['markov3_targets']['cos_r2']:.3f}), RMSE drop "
                f"{m['trajectory']['drop_final']:.2f}")
        return m

    def report(self, results, rep) -> None:
        from .report import write_report

        write_report(results, rep, self.out_dir)


def main(argv: list[str] | None = None) -> int:
    return Riechers2025().main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
