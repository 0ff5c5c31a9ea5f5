"""Speed of qbelief's batched generator kernels against the JAX peer and per-sequence numpy code.

Run: ``python benchmarks/bench_generators.py [--rounds 3] [--repeat 3]`` (about 2.5 minutes;
``--quick``: one round, best of one, about a minute).
The JAX baseline needs the optional extra: ``pip install '.[bench]'``; without it the JAX
columns say "skipped" and only the targets against the numpy loops are checked.

Kernels (same processes and parameters for every contender):

- belief trajectories (:func:`bayes.belief_trajectories`, i.e. ``GHMM.forward``) of
  100,000 sampled words of length 64, Mess3 and Bloch walk;
- sampling 100,000 x 64: Mess3 by its hidden-state walk (``HMM.sample``), the Bloch walk
  through beliefs (``GHMM.sample``);
- the exact probabilities of all 3^10 Mess3 words (``word_probability``);
- streaming the 3 Mess3 x 2 Bloch walk product (432 joint symbols) in batches of
  25,000 x 10 with per-factor beliefs: the torch path (:mod:`nets.torch_kernels`, CPU
  here) against the numpy path (each factor's ``sample`` with beliefs).

Contenders: the JAX peer (:mod:`jax_baseline`, ``jit(vmap(lax.scan))`` in the style of the
field's JAX library, float64 and float32) and the papers' style of numpy code (one
sequence / one word at a time; timed on a subset and scaled linearly, as stated).
Target: qbelief at least 1.5x faster than JAX float64 on every kernel (and the torch
product stream at least as fast as the numpy one).

Single thread, set *before* numpy, jax and torch are imported (so this file sets them
itself, at the top, overriding the environment): ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1 for numpy;
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` and
``JAX_ENABLE_X64=1`` for JAX (every JAX kernel takes its dtype explicitly);
``torch.set_num_threads(1)``.  Timing: each round interleaves the contenders
(best of ``--repeat`` calls each, after a warm-up/compile call); the ratio is taken
within a round, and the median over ``--rounds`` rounds is reported (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ["JAX_ENABLE_X64"] = "1"
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, interleaved_best, summary_row  # noqa: E402

from bayes import belief_trajectories  # noqa: E402
from generators import joint_symbol, library, product  # noqa: E402
from generators.words import all_words  # noqa: E402

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402

    import jax_baseline as jb  # noqa: E402
except ImportError as exc:  # the optional extra is not installed
    jb = None
    JAX_MISSING = f"JAX baseline skipped: {exc} (install the extra: pip install '.[bench]')"

TARGET_JAX = 1.5  # qbelief at least this many times faster than JAX float64
TARGET_LOOP = 50.0  # ... and than per-sequence numpy code
N, LENGTH, SUBSET = 100_000, 64, 400


# ---------------------------------------------------------------------- per-sequence numpy code
def loop_forward(h, words):
    """Beliefs and log prefix probabilities, one sequence and one step at a time."""
    B, L = words.shape
    beliefs, logs = np.empty((B, L + 1, h.dim)), np.zeros((B, L + 1))
    for b in range(B):
        eta, logp = h.initial, 0.0
        beliefs[b, 0] = eta
        for t, x in enumerate(words[b]):
            v = eta @ h.operators[x]
            c = v @ h.tau
            eta, logp = v / c, logp + np.log(c)
            beliefs[b, t + 1], logs[b, t + 1] = eta, logp
    return beliefs, logs


def loop_sample(g, n, length, seed=0):
    """Per sequence, per step: draw from ``g.emission_probs(state)``, update the native state."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, length), dtype=np.int64)
    for i in range(n):
        s = g.initial_state
        for t in range(length):
            p = np.clip(g.emission_probs(s), 0, None)
            out[i, t] = x = rng.choice(len(p), p=p / p.sum())
            s = g.update(s, x)
    return out


def loop_word_probability(h, words):
    out = np.empty(len(words))
    for i, w in enumerate(words):
        v = h.initial
        for x in w:
            v = v @ h.operators[x]
        out[i] = v @ h.tau
    return out


# ---------------------------------------------------------------------- contenders per kernel
def trajectories(name):
    g = library.get(name)
    h = g.to_ghmm()
    words = g.sample(N, LENGTH, seed=0)
    fns = {"qbelief": lambda: belief_trajectories(g, words)}
    if jb:
        wj = jnp.asarray(words)
        for dt in (jnp.float64, jnp.float32):
            arrays = jb.to_device(h, dt)
            fns[dt.__name__] = lambda a=arrays: jb.block(jb.forward_filter(*a, wj))
        ours = belief_trajectories(g, words[:2000])  # the peer computes the same numbers
        jbel, jlog = jb.forward_filter(*jb.to_device(h, jnp.float64), wj[:2000])
        err = max(np.abs(ours.beliefs - np.asarray(jbel)).max(), np.abs(ours.log_prob - np.asarray(jlog)).max())
        assert err < 1e-10, f"JAX and qbelief trajectories differ by {err:.3g}"
    loop = lambda: loop_forward(h, words[:SUBSET])  # noqa: E731
    return f"belief trajectories {name} {N:,} x {LENGTH}", fns, loop, N / SUBSET


def sampling(name):
    g = library.get(name)
    h = g.to_ghmm()
    fns = {"qbelief": lambda: g.sample(N, LENGTH, seed=0)}
    if jb:
        key = jax.random.PRNGKey(0)
        for dt in (jnp.float64, jnp.float32):
            arrays = jb.to_device(h, dt)
            if name == "mess3":  # an HMM: the hidden-state walk, like HMM.sample
                fns[dt.__name__] = lambda a=arrays: jb.block(jb.sample_hidden(a[0], a[2], key, N, LENGTH))
            else:
                fns[dt.__name__] = lambda a=arrays: jb.block(jb.sample_beliefs(*a, key, N, LENGTH))
    how = "hidden-state walk" if name == "mess3" else "through beliefs"
    subset = SUBSET // 2
    return f"sampling {name} ({how}) {N:,} x {LENGTH}", fns, lambda: loop_sample(g, subset, LENGTH), N / subset


def word_probabilities():
    g = library.mess3()
    h = g.to_ghmm()
    words = all_words(3, 10)
    fns = {"qbelief": lambda: g.word_probability(words)}
    if jb:
        for dt in (jnp.float64, jnp.float32):
            arrays, wj = jb.to_device(h, dt), jnp.asarray(words)
            fns[dt.__name__] = lambda a=arrays, w=wj: jb.block(jb.word_probabilities(*a, w))
    np.testing.assert_allclose(g.word_probability(words[::50]), loop_word_probability(h, words[::50]), rtol=1e-12)
    return f"word probabilities, all {len(words):,} Mess3 words of length 10", fns, \
        lambda: loop_word_probability(h, words[::10]), 10.0


# ---------------------------------------------------------------------- running and reporting
def measure(fns, rounds, repeat):
    for fn in fns.values():
        fn()  # warm-up, JAX compilation
    runs = [interleaved_best(fns, repeat) for _ in range(rounds)]
    times = {k: float(np.median([r[k] for r in runs])) for k in fns}
    ratios = {k: float(np.median([r[k] / r["qbelief"] for r in runs])) for k in fns if k != "qbelief"}
    return times, ratios


def report_kernel(title, fns, loop, scale, rounds, repeat) -> bool:
    times, ratios = measure(fns, rounds, repeat)
    slow = best_time(loop, repeat=1) * scale
    loop_ratio = slow / times["qbelief"]
    ok = loop_ratio >= TARGET_LOOP
    print(f"{title}\n    qbelief {times['qbelief'] * 1e3:9.1f} ms")
    if jb:
        for dt in ("float64", "float32"):
            print(f"    JAX {dt} {times[dt] * 1e3:9.1f} ms   qbelief faster by {ratios[dt]:5.2f}x (median of {rounds})")
        ok &= ratios["float64"] >= TARGET_JAX
        verdict = f"target >= {TARGET_JAX}x JAX float64 and >= {TARGET_LOOP:g}x numpy loop"
    else:
        print("    JAX: skipped (jax not installed)")
        verdict = f"target >= {TARGET_LOOP:g}x numpy loop (JAX target not checked)"
    print(f"    numpy per-sequence code {slow:9.2f} s (subset scaled x{scale:g})   "
          f"qbelief faster by {loop_ratio:7.0f}x")
    print(f"    {verdict}: {'OK' if ok else 'BELOW TARGET'}", flush=True)
    ms = lambda t: f"{t * 1e3:.1f} ms"  # noqa: E731
    summary_row(title, qbelief=ms(times["qbelief"]), jax=ms(times["float64"]) if jb else "skipped",
                numpy=f"{slow:.1f} s", ratio=(f"{ratios['float64']:.2f}x JAX f64, " if jb else "") +
                f"{loop_ratio:.0f}x numpy", target=f">= {TARGET_JAX}x JAX f64, >= {TARGET_LOOP:g}x numpy", met=ok)
    return ok


def product_stream(rounds, repeat) -> bool:
    """3 Mess3 x 2 Bloch walk, 25,000 x 10 with per-factor beliefs: torch (CPU) vs numpy."""
    import torch

    from nets.torch_kernels import sample_on_device

    torch.set_num_threads(1)
    p = product(library.mess3(), library.mess3(), library.mess3(), library.bloch_walk(), library.bloch_walk())
    n, length = 25_000, 10
    joint_dim = int(np.prod([f.to_ghmm().dim for f in p.factors]))

    def numpy_path():  # the same outputs (joint symbols, per-factor beliefs) from the numpy kernels
        rngs = np.random.default_rng(0).spawn(len(p.factors))
        parts = [f.sample(n, length, seed=r, return_beliefs=True) for f, r in zip(p.factors, rngs)]
        return joint_symbol(np.stack([w for w, _ in parts], axis=-1), p.sizes), [b for _, b in parts]

    fns = {"qbelief": numpy_path,
           "torch64": lambda: sample_on_device(p, n, length, seed=0, device="cpu", return_beliefs=True),
           "torch32": lambda: sample_on_device(p, n, length, seed=0, device="cpu", dtype=torch.float32,
                                               return_beliefs=True)}
    times, ratios = measure(fns, rounds, repeat)
    joint = best_time(lambda: p.sample(n, length, seed=0, return_beliefs=True), repeat=1)
    ok = ratios["torch64"] <= 1.0
    print(f"product stream: 3 Mess3 x 2 Bloch walk, {p.alphabet_size} joint symbols (joint GHMM dimension "
          f"{joint_dim}, never built), batches of {n:,} x {length}, per-factor beliefs, CPU, one thread")
    rate = lambda t: f"{t * 1e3:8.1f} ms = {n * length / t / 1e6:5.2f} M tokens/s"  # noqa: E731
    print(f"    numpy kernels, factor by factor    {rate(times['qbelief'])}")
    for k in ("torch64", "torch32"):
        print(f"    torch kernels float{k[-2:]} (device=cpu) {rate(times[k])}   numpy / torch = "
              f"{1 / ratios[k]:4.2f} (median of {rounds})")
    print(f"    numpy ProductGenerator.sample with joint ({joint_dim}-dim Kronecker) beliefs {rate(joint)}")
    print(f"    target: torch float64 at least as fast as the numpy kernels: {'OK' if ok else 'BELOW TARGET'}",
          flush=True)
    summary_row(f"product stream 432 symbols {n:,} x {length}: torch f64 (cpu) vs numpy kernels",
                qbelief=f"{times['torch64'] * 1e3:.1f} ms", numpy=f"{times['qbelief'] * 1e3:.1f} ms (kernels)",
                ratio=f"{1 / ratios['torch64']:.2f}x", target=">= 1x", met=ok)
    return ok


def main(argv=None) -> bool:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median ratio is reported")
    ap.add_argument("--repeat", type=int, default=3, help="calls per contender per round (best of)")
    ap.add_argument("--quick", action="store_true", help="one round, best of one call (a smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.repeat = 1, 1
    if not jb:
        print(JAX_MISSING)
    else:
        print(f"JAX {jax.__version__} baseline (jit(vmap(lax.scan)), CPU, one thread); numpy {np.__version__}")
    ok = True
    cases = [trajectories("mess3"), trajectories("bloch_walk"), sampling("mess3"), sampling("bloch_walk"),
             word_probabilities()]
    for title, fns, loop, scale in cases:
        ok &= report_kernel(title, fns, loop, scale, args.rounds, args.repeat)
    ok &= product_stream(args.rounds, args.repeat)
    print("generators: all targets met" if ok else "generators: BELOW TARGET")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
