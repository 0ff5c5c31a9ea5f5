"""Benchmark of nets training: data streaming, CPU threads, tokens/s of the papers'
architectures, exact vs sampled targets.

    python benchmarks/bench_nets.py                  # everything (about 12 minutes on 2 CPU cores)
    python benchmarks/bench_nets.py --quick          # smoke run (about 2 minutes)
    python benchmarks/bench_nets.py --sections data,threads --json out.json

Sections (``--sections``, comma-separated; default all):

``data``
    Batches of the 3 Mess3 x 2 Bloch walk product (432 joint symbols; Shai et al. 2026,
    arXiv:2602.02385) of 25,000 words x 10 symbols (context 9) from :class:`nets.data.BeliefData`:
    the host path (numpy kernels, CPU tensors) against the device path (torch kernels,
    ``device="cpu"`` here), with and without the exact next-symbol table (B, 9, 432);
    interleaved best-of, ratio within a round.  Target: the device path on the CPU at
    least as fast as the host path.  With CUDA: the device path on the GPU against one
    training step of the paper's model on such a batch (target: a batch takes no longer
    than a step, so the data keeps up); without CUDA these rows say so.
``threads``
    Steps/s of the default ``qbelief train mess3`` model (Shai et al. 2024's transformer,
    batch 64, context 10) with 1 thread and with one thread per available core, and the
    count :func:`nets.device.default_threads` picks.
``throughput``
    Tokens/s and the data pipeline's share of a step (sampling, labels, copy; measured
    inside :func:`nets.train`; requirement < 10%) of the papers' own configurations:
    Shai et al. 2024 (arXiv:2405.15943) Mess3 and RRXOR transformers (SGD, batch 64, context 10) and
    Riechers et al. 2025 (arXiv:2507.07432) transformer and recurrent nets (Adam, batch
    128, context 8, exact-mode data), CPU float32 at the default thread count; with CUDA
    also float32 and bf16 autocast.  Also: compute operators per training step (torch
    profiler, forward + backward + optimizer), the input of the GPU wall-time estimate in
    docs/PERFORMANCE.md.
``targets``
    Exact vs sampled targets on Bloch walk (1, sqrt 51): (a) variance of the minibatch loss
    and gradient at the same parameters (same expectation); (b) the same architecture
    trained for the same number of steps with each, then a held-out affine least-squares
    fit from all layers' residual streams to the minimal beliefs' Bloch coordinates: R^2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_best, summary_row  # noqa: E402

from generators import library, product  # noqa: E402
from nets.data import BeliefData  # noqa: E402
from nets.device import available_cores, default_threads  # noqa: E402
from nets.models import build_model  # noqa: E402
from nets.probe import sampled_belief_r2  # noqa: E402
from nets.train import TrainConfig, _make_optimizer, loss_fn, train  # noqa: E402

# The papers' training setups, as their `--full` modes train them (copied, so that the benchmark
# does not depend on the papers package; sources: papers/shai2024_belief_geometry/experiment.py
# MESS3_TRAIN / RRXOR_TRAIN, papers/riechers2025_quantum/experiment.py PAPER with data_mode
# "exact" and processes.py ARCH, papers/shai2026_factored/experiment.py ADAMW, MODELS and
# the "full" mode).
MESS3_TRAIN = dict(model="transformer", n_layers=4, d_model=64, n_heads=1, d_head=8, d_mlp=256, act="relu",
                   context=10, data_mode="stream", targets="sampled", optimizer="sgd", lr=0.01, batch_size=64)
RRXOR_TRAIN = dict(MESS3_TRAIN, d_model=128, n_heads=4, d_head=16, d_mlp=512)
RIECHERS_TRAIN = dict(context=8, data_mode="exact", targets="sampled", optimizer="adam", lr=1e-4, batch_size=128)
RIECHERS_ARCH = {"transformer": dict(n_layers=4, d_model=64, n_heads=4, d_head=16, d_mlp=256, act="relu"),
                 "rnn": dict(n_layers=4, hidden=64)}
SHAI2026_FULL = dict(model=dict(kind="transformer", n_layers=4, d_model=120, n_heads=3, d_head=40, d_mlp=480),
                     context=9, optimizer="adamw", weight_decay=0.01, lr=5e-4, batch_size=25_000, targets="sampled")

BLOCH = dict(process="bloch_walk", context=8, model="transformer", n_layers=4, d_model=64, d_mlp=256,
             batch_size=256, optimizer="adam", lr=2e-3, warmup_steps=200, scheduler="cosine", data_mode="exact",
             quiet=True)
NO_CUDA = "skipped: no CUDA device in this run (torch.cuda.is_available() is False)"
#: operators that only make views or allocate (no kernel of their own)
VIEW_OPS = {"aten::view", "aten::reshape", "aten::_reshape_alias", "aten::slice", "aten::t", "aten::transpose",
            "aten::expand", "aten::as_strided", "aten::select", "aten::unsqueeze", "aten::squeeze", "aten::permute",
            "aten::detach", "aten::alias", "aten::empty", "aten::empty_like", "aten::empty_strided",
            "aten::_unsafe_view", "aten::resize_", "aten::lift_fresh", "aten::split", "aten::chunk", "aten::unbind",
            "aten::narrow", "aten::to", "aten::result_type", "aten::lift", "aten::numpy_T", "aten::flatten",
            "aten::view_as", "aten::contiguous", "aten::zeros_like", "aten::ones_like", "aten::expand_as"}


def the_product():
    """3 Mess3 x 2 Bloch walk (432 joint symbols), the paper's parameters (library defaults)."""
    return product(library.mess3(), library.mess3(), library.mess3(), library.bloch_walk(), library.bloch_walk())


# ---------------------------------------------------------------------- data
def data_stream(rounds: int, repeat: int) -> dict:
    """Host vs device (CPU) batches of the product, 25,000 x 10 symbols; ratio within a round
    (one thread, as the training of a small model runs)."""
    g, B, L = the_product(), 25_000, 9
    out, ok = {}, True
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    print(f"{g.alphabet_size} joint symbols, batches of {B:,} words x {L + 1} symbols (context {L}), CPU, one "
          "thread (CPU time of the thread: the machine is shared):")
    for next_probs in (False, True):
        host, dev = (BeliefData(g, L, next_probs=next_probs, device=d) for d in (None, "cpu"))
        fns = {"host": lambda: host.batch(0, B), "device": lambda: dev.batch(0, B)}
        for fn in fns.values():
            fn()
        runs = [interleaved_best(fns, repeat, clock=time.thread_time) for _ in range(rounds)]
        t = {k: float(np.median([r[k] for r in runs])) for k in fns}
        ratio = float(np.median([r["device"] / r["host"] for r in runs]))
        ok &= ratio <= 1.0
        what = "with" if next_probs else "without"
        out[f"{what}_next_probs"] = {**t, "device_over_host": ratio}
        rate = lambda s: f"{s * 1e3:8.1f} ms = {B * (L + 1) / s / 1e6:5.2f} M symbols/s"  # noqa: E731
        print(f"  {what:>7} next_probs  host (numpy) {rate(t['host'])}   device='cpu' (torch) {rate(t['device'])}"
              f"   device / host time {ratio:4.2f} (median of {rounds})")
        summary_row(f"BeliefData 432 symbols {B:,} x {L + 1} {what} next_probs: device='cpu' vs host",
                    qbelief=f"{t['device'] * 1e3:.0f} ms", numpy=f"{t['host'] * 1e3:.0f} ms (host path)",
                    ratio=f"{1 / ratio:.2f}x", target=">= 1x", met=ratio <= 1.0)
    torch.set_num_threads(threads)
    print(f"  target: device path on the CPU at least as fast as the host path: {'OK' if ok else 'BELOW TARGET'}")
    if torch.cuda.is_available():
        out["cuda"] = data_vs_step_cuda(g, B, L)
    else:
        print(f"  cuda: device path on the GPU vs a GPU training step: {NO_CUDA}")
        summary_row(f"BeliefData 432 symbols {B:,} x {L + 1} on cuda vs a GPU training step", qbelief="skipped",
                    target="batch <= step")
    out["ok"] = ok
    return out


def cuda_time(fn, repeat: int = 5) -> float:
    """Best-of wall time of ``fn`` with the GPU synchronized around each call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def data_vs_step_cuda(g, B: int, L: int) -> dict:
    """A device batch on the GPU against one training step of the Shai 2026 model on it."""
    dev = BeliefData(g, L, next_probs=False, device="cuda")
    cfg = TrainConfig.from_dict({**SHAI2026_FULL, "process": "mess3", "bf16": True, "device": "cuda"})
    model = build_model(cfg.model_config(dev.vocab_size)).cuda()
    opt = _make_optimizer(cfg, model)
    batch = dev.batch(0, B)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(model(batch.tokens), batch, "sampled")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_data, t_step = cuda_time(lambda: dev.batch(1, B)), cuda_time(step)
    print(f"  cuda: device batch {t_data * 1e3:.1f} ms, training step (bf16) {t_step * 1e3:.1f} ms: the data "
          f"{'keeps up' if t_data <= t_step else 'is SLOWER than the step'}")
    summary_row(f"BeliefData 432 symbols {B:,} x {L + 1} on cuda vs a GPU training step (bf16)",
                qbelief=f"{t_data * 1e3:.1f} ms", ratio=f"{t_step / t_data:.2f}x", target="batch <= step",
                met=t_data <= t_step)
    return {"batch_s": t_data, "step_s": t_step, "keeps_up": t_data <= t_step}


# ---------------------------------------------------------------------- threads and throughput
def throughput(cfg_dict: dict, device: str, threads: int | None, steps: int, bf16: bool = False) -> dict:
    """Tokens/s and the data share of ``steps`` training steps (at most 30 s of them; after 10
    warm-up steps)."""
    base = {**cfg_dict, "device": device, "num_threads": threads, "bf16": bf16, "quiet": True, "out_dir": None,
            "log_every": max(1, steps), "eval_every": 0, "max_time_s": 30.0}
    train(TrainConfig.from_dict({**base, "steps": 10}))  # warm-up (allocator, kernels)
    res = train(TrainConfig.from_dict({**base, "steps": steps}))
    t = res.timing
    return {"device": device, "threads": t["threads"], "steps": t["steps"], "bf16": bf16,
            "step_ms": 1e3 * t["total_s"] / t["steps"], "steps_per_s": t["steps"] / t["total_s"],
            "tokens_per_s": t["tokens_per_s"], "data_share": t["data_share"]}


def threads_effect(steps: int) -> dict:
    """Steps/s of the default mess3 model at 1 thread and at one thread per available core."""
    cores = available_cores()
    cfg = {**MESS3_TRAIN, "process": "mess3:x=0.05,a=0.85"}
    n = sum(p.numel() for p in build_model(TrainConfig.from_dict(cfg).model_config(3)).parameters())
    pick = default_threads(n, cfg["batch_size"] * cfg["context"])
    rows = [throughput(cfg, "cpu", k, steps) for k in sorted({1, cores})]
    print(f"Shai 2024 Mess3 transformer ({n:,} parameters, batch {cfg['batch_size']} x context {cfg['context']}); "
          f"{cores} available cores; nets.device.default_threads picks {pick}")
    for r in rows:
        print(f"  {r['threads']:2d} thread(s): {r['steps_per_s']:7.1f} steps/s  ({r['step_ms']:6.2f} ms/step, "
              f"{r['tokens_per_s']:9.0f} tokens/s)")
    if len(rows) == 2:
        print(f"  1 thread / {cores} threads speed: {rows[0]['steps_per_s'] / rows[1]['steps_per_s']:.2f}x")
    return {"n_params": n, "cores": cores, "default_threads": pick, "rows": rows}


def paper_configs() -> dict:
    """The papers' training setups (TrainConfig dicts; the process is one of the papers')."""
    out = {"shai2024 mess3": {**MESS3_TRAIN, "process": "mess3:x=0.05,a=0.85"},
           "shai2024 rrxor": {**RRXOR_TRAIN, "process": "rrxor"}}
    for kind in ("transformer", "lstm", "gru", "rnn"):
        arch = RIECHERS_ARCH["transformer" if kind == "transformer" else "rnn"]
        out[f"riechers2025 {kind}"] = {**RIECHERS_TRAIN, **arch, "model": kind, "process": "mess3:x=0.05,a=0.85",
                                       "scheduler": "constant"}
    return out


def ops_per_step(cfg_dict: dict) -> tuple[int, int]:
    """Compute operators (torch profiler leaf events that are not views) of one CPU training
    step: ``(forward + backward, optimizer step)``; about the kernel launches of one eager
    GPU step, except that a CUDA optimizer fuses its per-parameter operators (foreach) and
    cuDNN its recurrent layers' (see docs/PERFORMANCE.md)."""
    from torch.profiler import ProfilerActivity, profile

    cfg = TrainConfig.from_dict({**cfg_dict, "device": "cpu"})
    data = BeliefData(cfg.generator(), cfg.context, mode=cfg.data_mode, next_probs=cfg.targets == "exact")
    model = build_model(cfg.model_config(data.vocab_size))
    opt = _make_optimizer(cfg, model)
    batch = data.batch(0, cfg.batch_size)

    def grads():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(batch.tokens), batch, cfg.targets).backward()

    def count(fn) -> int:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        leaves = [e for e in prof.events() if not e.cpu_children and e.name.startswith("aten::")]
        return sum(e.name not in VIEW_OPS for e in leaves)

    grads()
    opt.step()
    return count(grads), count(opt.step)


def papers_throughput(steps: int) -> dict:
    """Tokens/s and data share of the papers' setups: CPU float32; CUDA float32 and bf16."""
    out = {}
    cuda = torch.cuda.is_available()
    for name, cfg in paper_configs().items():
        rows = [throughput(cfg, "cpu", None, steps)]
        if cuda:
            rows += [throughput(cfg, "cuda", None, 5 * steps, bf16=b) for b in (False, True)]
        n = sum(p.numel() for p in build_model(TrainConfig.from_dict(cfg).model_config(3)).parameters())
        ops = ops_per_step(cfg)
        out[name] = {"n_params": n, "tokens_per_step": cfg["batch_size"] * cfg["context"], "ops_per_step": ops,
                     "rows": rows}
        for r in rows:
            kind = f"{r['device']} {'bf16' if r['bf16'] else 'float32'}"
            print(f"  {name:<22} {n:>8,} params  {kind:<13} threads {r['threads']}  {r['step_ms']:7.2f} ms/step  "
                  f"{r['tokens_per_s']:9.0f} tokens/s  data share {100 * r['data_share']:5.2f}%  "
                  f"ops/step {ops[0]} + {ops[1]} (optimizer)")
        if not cuda:
            print(f"  {name:<22} cuda float32 and bf16: {NO_CUDA}")
    return out


# ---------------------------------------------------------------------- exact vs sampled targets
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
    ap.add_argument("--sections", default="data,threads,throughput,targets", help="comma-separated sections")
    ap.add_argument("--steps", type=int, default=None, help="training steps per target kind (default 3000)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for the exact-vs-sampled runs")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    sections = set(args.sections.split(","))
    unknown = sections - {"data", "threads", "throughput", "targets"}
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; choose from data, threads, throughput, targets")
    steps = 30 if args.quick else 150
    results = {"torch": torch.__version__, "cores": available_cores(), "cuda": torch.cuda.is_available()}
    ok = True
    if "data" in sections:
        print("== data stream: 3 Mess3 x 2 Bloch walk, BeliefData host path vs device path ==")
        results["data"] = data_stream(1 if args.quick else 3, 2)
        ok &= results["data"]["ok"]
    if "threads" in sections:
        print("\n== CPU threads: the default qbelief train mess3 model ==")
        results["threads"] = threads_effect(steps)
    if "throughput" in sections:
        print("\n== tokens/s of the papers' setups (CPU float32, default threads) ==")
        results["throughput"] = papers_throughput(steps)
        worst = max(r["data_share"] for v in results["throughput"].values() for r in v["rows"])
        print(f"data pipeline share: max {100 * worst:.2f}% (requirement < 10%): {'OK' if worst < 0.10 else 'FAIL'}")
        summary_row("data share of a training step, the papers' setups (max)", qbelief=f"{100 * worst:.1f}%",
                    target="< 10%", met=worst < 0.10)
        ok &= worst < 0.10
    if "targets" in sections:
        targets_section(args, results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0 if ok else 1


def targets_section(args, results: dict) -> None:
    """Exact vs sampled targets: variance at fixed parameters, then equal-steps training."""
    train_steps = args.steps or (300 if args.quick else 3000)
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


if __name__ == "__main__":
    sys.exit(main())
