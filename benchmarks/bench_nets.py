"""Benchmark of nets training: throughput, data-pipeline share, exact vs sampled targets.

    python benchmarks/bench_nets.py                # full (about 6-10 minutes on 2 CPU cores)
    python benchmarks/bench_nets.py --quick        # smoke run (about 1 minute)
    python benchmarks/bench_nets.py --steps 3000 --json out.json

1. Throughput (tokens/s) of the Mess3(0.05, 0.85) setup of Shai et al. 2024 (transformer,
   4 layers, 1 head, d_model 64, d_head 8, d_mlp 256, context 10) on CPU with 1 thread and
   with torch's default threads, at batch 64 (the paper's) and 256; on GPU too when CUDA is
   available.  The data pipeline's share of a training step (sampling, belief labels,
   host-to-device copy) is measured inside :func:`nets.train` and must be < 10%.
2. Exact vs sampled targets on Bloch walk (1, sqrt 51): (a) variance of the minibatch loss
   and of the minibatch gradient at the same parameters (same expectation); (b) the
   same architecture trained for the same wall time with each, then a held-out affine
   least-squares fit from all layers' residual streams (all positions) to the minimal
   beliefs' Bloch coordinates: R^2.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from nets.data import BeliefData
from nets.models import build_model
from nets.probe import sampled_belief_r2
from nets.train import TrainConfig, loss_fn, train

MESS3 = dict(process="mess3:x=0.05,a=0.85", context=10, model="transformer", n_layers=4, n_heads=1, d_model=64,
             d_head=8, d_mlp=256, act="relu", optimizer="adam", lr=1e-3, data_mode="stream", quiet=True)
BLOCH = dict(process="bloch_walk", context=8, model="transformer", n_layers=4, d_model=64, d_mlp=256,
             batch_size=256, optimizer="adam", lr=2e-3, warmup_steps=200, scheduler="cosine", data_mode="exact",
             quiet=True)


def throughput(device: str, threads: int | None, batch: int, steps: int) -> dict:
    """Tokens/s and the data share of ``steps`` training steps (after 10 warm-up steps)."""
    cfg = TrainConfig.from_dict({**MESS3, "batch_size": batch, "steps": 10, "device": device, "num_threads": threads})
    train(cfg)  # warm-up (allocator, kernels)
    res = train(TrainConfig.from_dict({**cfg.to_dict(), "steps": steps}))
    t = res.timing
    return {"device": device, "threads": threads or torch.get_num_threads(), "batch": batch, "steps": steps,
            "step_ms": 1e3 * t["total_s"] / t["steps"], "tokens_per_s": t["tokens_per_s"],
            "data_share": t["data_share"]}


def target_variance(n_batches: int = 30, batch: int = 256) -> dict:
    """Variance of minibatch loss and gradient, sampled vs exact targets, same parameters."""
    data = BeliefData(BLOCH["process"], BLOCH["context"], mode="exact")
    torch.manual_seed(0)
    model = build_model(TrainConfig.from_dict(BLOCH).model_config(data.vocab_size))
    out = {}
    for targets in ("sampled", "exact"):
        losses, grads = [], []
        for step in range(n_batches):
            b = data.batch(step, batch)
            model.zero_grad()
            loss = loss_fn(model(b.tokens), b, targets)
            loss.backward()
            losses.append(loss.item())
            grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy().copy())
        g = np.array(grads)
        out[targets] = {"loss_mean": float(np.mean(losses)), "loss_var": float(np.var(losses)),
                        "grad_var_trace": float(g.var(axis=0).sum()),
                        "grad_mean_norm2": float((g.mean(axis=0) ** 2).sum())}
    out["loss_var_ratio"] = out["sampled"]["loss_var"] / out["exact"]["loss_var"]
    out["grad_var_ratio"] = out["sampled"]["grad_var_trace"] / out["exact"]["grad_var_trace"]
    return out


def exact_vs_sampled(steps: int, threads: int | None) -> dict:
    """Same architecture and schedule, exact vs sampled targets on Bloch walk.

    Both runs take the same number of steps of the same cost (equal time up to noise;
    the measured times are reported)."""
    out = {}
    for targets in ("exact", "sampled"):
        res = train(TrainConfig.from_dict({**BLOCH, "targets": targets, "steps": steps, "num_threads": threads,
                                             "device": "cpu", "warmup_steps": min(200, steps // 10)}))
        out[targets] = {"seconds": res.timing["total_s"], "steps": res.steps_done, "val_relative": res.val_relative,
                        "probe_r2": sampled_belief_r2(res.model, res.data)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    ap.add_argument("--steps", type=int, default=None, help="training steps per target kind (default 3000)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for the exact-vs-sampled runs")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    steps = 30 if args.quick else 150
    train_steps = args.steps or (300 if args.quick else 3000)
    results = {"torch": torch.__version__, "cpu_threads_default": torch.get_num_threads()}

    print("== throughput: Mess3 transformer (4 layers, d_model 64, context 10) ==")
    rows = []
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        for threads in ([1, None] if device == "cpu" else [None]):
            for batch in (64, 256):
                r = throughput(device, threads, batch, steps if device == "cpu" else 5 * steps)
                rows.append(r)
                print(f"{device:5s} threads={r['threads']:<2d} batch={batch:<4d} step {r['step_ms']:7.2f} ms  "
                      f"{r['tokens_per_s']:10.0f} tokens/s  data share {100 * r['data_share']:5.2f}%")
    results["throughput"] = rows
    worst = max(r["data_share"] for r in rows)
    print(f"data pipeline share: max {100 * worst:.2f}% (requirement < 10%): {'OK' if worst < 0.10 else 'FAIL'}")

    print("\n== exact vs sampled targets: Bloch walk (1, sqrt 51), same parameters ==")
    tv = target_variance(10 if args.quick else 30)
    results["target_variance"] = tv
    for k in ("sampled", "exact"):
        print(f"{k:8s} loss mean {tv[k]['loss_mean']:.5f}  loss var {tv[k]['loss_var']:.3e}  "
              f"grad var (trace) {tv[k]['grad_var_trace']:.3e}")
    print(f"variance ratio sampled/exact: loss {tv['loss_var_ratio']:.1f}x, gradient {tv['grad_var_ratio']:.1f}x")

    print(f"\n== exact vs sampled targets: Bloch walk, {train_steps} steps (equal time) each ==")
    es = exact_vs_sampled(train_steps, args.threads)
    results["exact_vs_sampled"] = es
    for k, r in es.items():
        print(f"{k:8s} {r['steps']:6d} steps {r['seconds']:6.1f} s  val loss/optimum {r['val_relative']:.5f}  "
              f"belief probe R^2 (held out) {r['probe_r2']:.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0 if worst < 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
