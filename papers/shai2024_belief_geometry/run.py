"""Shai et al. 2024, "Transformers represent belief state geometry in their residual stream".

Two experiments (see README.md):

A. Mess3(0.05, 0.85): the paper's transformer (4 layers, 1 head, d_model 64, d_head 8,
   d_mlp 256, ReLU, LayerNorm, context 10) trained with plain SGD (lr 0.01, batch 64, fresh
   sampled sequences, sampled next-token targets).  At checkpoints along training the final
   residual stream (before and after the final LayerNorm) of all 3^10 inputs at all 10
   positions is regressed (unweighted affine least squares) onto the 3-state belief; the MSE
   trajectory is set against the paper's, with a shuffled-belief control, and the belief
   fractal is drawn beside the network's projection of it.
B. RRXOR: d_model 128, 4 heads of 16.  The 36-state belief geometry, probed in each layer's
   residual stream and in their concatenation, and the pairwise-distance R^2 of the
   represented beliefs against the true beliefs and against the next-token distributions.

Training runs through ``nets.train.train`` in stages (resuming from the run's checkpoint, in
a temporary folder), so the network can be probed at the paper's token counts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from nets.report import save_figure
from papers.common import Timer, hardware, paper_main, write_results

from papers._blas import blas_threads

NAME = "shai2024_belief_geometry"

#: the paper's MSE trajectory for Mess3: tokens -> MSE (final residual stream, before LN)
PAPER_MSE = {64_000: 0.0118, 640_000: 0.0084, 3_200_000: 0.0025, 630_000_000: 0.0004}
PAPER = {"mse_final_pre_ln": 0.0004, "mse_final_post_ln": 0.0003, "rrxor_dist_r2_beliefs": 0.95,
         "rrxor_dist_r2_next": 0.31, "rrxor_n_beliefs": 36}

#: Mess3 training: the paper's architecture and SGD protocol (TrainConfig fields)
MESS3_TRAIN = dict(model="transformer", n_layers=4, d_model=64, n_heads=1, d_head=8, d_mlp=256, act="relu",
                   context=10, data_mode="stream", targets="sampled", optimizer="sgd", lr=0.01, batch_size=64,
                   scheduler="constant", log_every=50, seed=0)
#: RRXOR: the paper's width (d_model 128, 4 heads of 16); d_mlp 4 x d_model and context 10 are our choice
RRXOR_TRAIN = dict(MESS3_TRAIN, d_model=128, n_heads=4, d_head=16, d_mlp=512)

#: per mode: training budgets and options.  ``stages``: step counts at which Mess3 is probed
#: (100 / 1000 / 5000 / 984375 steps = the paper's 6.4e4 / 6.4e5 / 3.2e6 / 6.3e8 tokens)
MODES = {
    "full": dict(mess3_steps=984_375, mess3_seconds=None,
                 stages=[100, 300, 1000, 2000, 5000, 10_000, 30_000, 100_000, 300_000, 984_375],
                 rrxor=dict(), rrxor_steps=984_375, rrxor_seconds=None, mess3_depth=10, rrxor_depth=12,
                 threads=None, folds=10),
    # quick: a 2-core CPU; Mess3 keeps the paper's SGD protocol, RRXOR uses exact next-token
    # targets over all 2^11 words and Adam (plain SGD does not get far with RRXOR in minutes)
    "quick": dict(mess3_steps=984_375, mess3_seconds=270.0,
                  stages=[100, 1000, 5000, 20_000, 80_000, 984_375],
                  rrxor=dict(data_mode="exact", targets="exact", optimizer="adam", lr=1e-3, batch_size=128,
                             eval_every=500, scheduler="plateau", plateau_factor=0.5, plateau_patience=300,
                             grad_clip=1.0),
                  rrxor_steps=1_000_000, rrxor_seconds=200.0, mess3_depth=10, rrxor_depth=12, threads=1, folds=10),
    # tiny: the CI smoke test (seconds): small nets, short contexts
    "tiny": dict(mess3_steps=200, mess3_seconds=None, stages=[10, 50, 200],
                 mess3=dict(n_layers=1, d_model=16, d_head=8, d_mlp=32, context=5),
                 rrxor=dict(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, context=6, data_mode="exact",
                            targets="exact", optimizer="adam", lr=3e-3, batch_size=64),
                 rrxor_steps=200, rrxor_seconds=None, mess3_depth=5, rrxor_depth=8, threads=1, folds=5),
}


def run(mode: str, out: Path, *, quiet: bool = False) -> dict:
    """Run the reproduction in ``mode`` ("tiny" | "quick" | "full"), writing into ``out``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}; got {mode!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    opts = dict(MODES[mode])
    budget = os.environ.get("QBELIEF_FULL_BUDGET_S")
    if mode == "full" and budget:  # an optional wall-clock cap for a GPU session (split 60/40)
        opts["mess3_seconds"], opts["rrxor_seconds"] = 0.6 * float(budget), 0.35 * float(budget)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    timer = Timer()
    results: dict = {"paper": "Shai et al. 2024, arXiv 2405.15943", "mode": mode, "hardware": hardware(),
                     "paper_numbers": {"mse_trajectory": {str(k): v for k, v in PAPER_MSE.items()}, **PAPER}}
    work = Path(tempfile.mkdtemp(prefix="qbelief-shai2024-"))
    try:
        with blas_threads(1):
            results["mess3"] = _mess3(opts, out, work, timer, say, quiet)
            results["rrxor"] = _rrxor(opts, out, work, timer, say, quiet)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = dict(timer.seconds, total=timer.total)
    write_results(out, results, _markdown(results))
    say(f"== done in {timer.total:.0f} s: {out / 'RESULTS.md'}")
    return results


# ====================================================================== A. Mess3
def _mess3(opts: dict, out: Path, work: Path, timer: Timer, say, quiet: bool) -> dict:
    from bayes import mixed_state_presentation, plot_beliefs
    from generators import library
    from nets.probe_data import build_probe_dataset
    from nets.report import plot_loss_curve
    from nets.train import train

    g = library.get("mess3", x=0.05, a=0.85)
    cfg = dict(MESS3_TRAIN, **opts.get("mess3", {}))
    ctx = cfg["context"]
    tokens_per_step = cfg["batch_size"] * ctx
    say(f"== A. Mess3(0.05, 0.85): transformer {cfg['n_layers']}L d_model {cfg['d_model']}, SGD lr {cfg['lr']}, "
        f"batch {cfg['batch_size']}, context {ctx}")
    with timer("mess3_manifold"):
        man = mixed_state_presentation(g, opts["mess3_depth"], progress=False)
        plot_beliefs(man, out / "mess3_belief_fractal.png",
                     title=f"Mess3(0.05, 0.85): {len(man):,} beliefs to depth {opts['mess3_depth']}")
    last = f"blocks.{cfg['n_layers'] - 1}.resid_post"
    run_dir = work / "mess3"
    seconds_left = opts["mess3_seconds"]
    trajectory, res = [], None
    t_train = 0.0
    stages = sorted(s for s in opts["stages"] if s <= opts["mess3_steps"])
    for i, target in enumerate(stages):  # the first stage starts afresh, the others continue it
        t0 = time.perf_counter()
        with timer("mess3_train"):
            res = train(dict(cfg, process=g, steps=int(target), max_time_s=seconds_left, out_dir=str(run_dir),
                             num_threads=opts["threads"], quiet=quiet), resume=i > 0, overwrite=i == 0)
        dt = time.perf_counter() - t0
        t_train += dt
        if seconds_left is not None:
            seconds_left -= dt
        with timer("mess3_probe"):
            point = _mess3_point(res.model, g, last, res.steps_done * tokens_per_step, res.steps_done,
                                 build_probe_dataset)
        recent = [h["relative"] for h in res.history[-20:]]
        point["train_relative"] = float(np.mean(recent)) if recent else float("nan")
        trajectory.append(point)
        say(f"   step {res.steps_done:>7,} ({point['tokens']:.2e} tokens): MSE before LN {point['mse_pre_ln']:.5f}, "
            f"after LN {point['mse_post_ln']:.5f} (shuffled {point['mse_shuffled']:.5f}); "
            f"loss/optimum {point['train_relative']:.4f}")
        if res.steps_done < target or (seconds_left is not None and seconds_left <= 1.0):
            break
    # ---- final analysis: the probe with baselines and the figures
    with timer("mess3_probe"):
        ds = build_probe_dataset(g, res.model, representations=["native"], weighting="uniform",
                                 names=["embed", last, "ln_final"], markov_order=3)
        pr = ds.probe("native", concat=False, headline=last, rank="full", folds=opts["folds"])
        _simplex_figure(ds, last, out / "mess3_belief_geometry.png")
    plot_loss_curve({"SGD, sampled targets": res.history}, out / "mess3_loss_curve.png",
                    title="Mess3: transformer loss / Bayes-optimal loss")
    _trajectory_figure(trajectory, out / "mess3_mse_trajectory.png")
    head = pr.points[last]
    final = {
        "steps": res.steps_done, "tokens": res.steps_done * tokens_per_step, "train_seconds": t_train,
        "tokens_per_s": res.steps_done * tokens_per_step / max(t_train, 1e-9),
        "final_relative": res.final_relative,
        "paper_tokens_reached": [t for t in PAPER_MSE if t <= res.steps_done * tokens_per_step],
        "probe": {n: {"mse": in_sample_fit(ds, n)["mse"], "r2": in_sample_fit(ds, n)["r2"],
                      "shuffled_mse": in_sample_fit(ds, n, shuffle=True)["mse"], "held_out_mse": p.test["mse"],
                      "held_out_r2": p.r2, "held_out_shuffled_mse_nets_probe": p.shuffled["mse"],
                      "untrained_mse": in_sample_fit(ds, n, untrained=True)["mse"]} for n, p in pr.points.items()},
        "markov3_mse": (pr.baselines.get("markov") or {}).get("mse"), "verdict": pr.verdict,
        "headline_r2": head.r2, "n_beliefs_depth": len(man), "depth": opts["mess3_depth"],
    }
    return {"config": cfg, "trajectory": trajectory, "final": final}


def _mess3_point(model, g, last: str, tokens: int, step: int, build_probe_dataset) -> dict:
    """MSE of the unweighted affine fit (all inputs, all positions) at one checkpoint."""
    ds = build_probe_dataset(g, model, representations=["native"], weighting="uniform", names=[last, "ln_final"],
                             untrained=None, markov_order=None)
    pre = in_sample_fit(ds, last)
    return {"step": int(step), "tokens": int(tokens), "mse_pre_ln": pre["mse"], "r2_pre_ln": pre["r2"],
            "mse_post_ln": in_sample_fit(ds, "ln_final")["mse"],
            "mse_shuffled": in_sample_fit(ds, last, shuffle=True)["mse"],
            "held_out_mse_pre_ln": in_sample_fit(ds, last, held_out=True)["mse"]}


def in_sample_fit(ds, point: str | list, *, shuffle: bool = False, rank="full", seed: int = 0,
                  untrained: bool = False, held_out: bool = False) -> dict:
    """The paper's own protocol: fit the affine map on *all* inputs x positions and score it
    on the same rows (with uniform weights every (input, position) pair counts once).
    Returns :func:`nets.probe.probe_metrics` and ``"predicted"`` (all rows).

    ``shuffle=True`` is the shuffled-belief control: beliefs are permuted among inputs *of
    the same length*, so every row keeps its weight while the link between activations and
    beliefs is broken.  (``nets.probe``'s own control permutes beliefs together with their
    weights across all rows; with these very unequal weights -- a length-1 prefix stands
    for 3^(L-1) inputs -- its held-out error is dominated by a handful of heavy rows.)
    """
    from nets.probe import fit_affine, probe_metrics, train_test_split

    Y, w = ds.beliefs["native"], ds.weights
    names = [point] if isinstance(point, str) else list(point)
    acts = ds.untrained if untrained else ds.activations
    X = np.concatenate([acts[n] for n in names], axis=1).astype(np.float64)
    if shuffle:
        rng = np.random.default_rng(seed + 1)
        perm = np.arange(len(Y))
        for t in np.unique(ds.lengths):
            rows = np.nonzero(ds.lengths == t)[0]
            perm[rows] = rng.permutation(rows)
        Y = Y[perm]
    if held_out:  # the same split as nets.probe.probe
        tr, te = train_test_split(len(Y), 0.2, seed)
        fit = fit_affine(X[tr], Y[tr], w[tr], rank=rank, seed=seed)
        out = probe_metrics(Y[te], fit.predict(X[te]), w[te])
        out["rank"] = fit.rank
        return out
    fit = fit_affine(X, Y, w, rank=rank, seed=seed)
    pred = fit.predict(X)
    out = probe_metrics(Y, pred, w)
    out["predicted"] = pred
    out["rank"] = fit.rank
    return out


# ====================================================================== B. RRXOR
def _rrxor(opts: dict, out: Path, work: Path, timer: Timer, say, quiet: bool) -> dict:
    from bayes import mixed_state_presentation
    from generators import library
    from nets.probe_data import build_probe_dataset
    from nets.probe_plots import plot_fit_by_layer
    from nets.report import plot_loss_curve
    from nets.train import train

    g = library.get("rrxor")
    cfg = dict(RRXOR_TRAIN, **opts.get("rrxor", {}))
    say(f"== B. RRXOR: transformer {cfg['n_layers']}L d_model {cfg['d_model']}, {cfg['n_heads']} heads x "
        f"{cfg['d_head']}, {cfg['optimizer']} lr {cfg['lr']}, {cfg['targets']} targets")
    with timer("rrxor_manifold"):
        man = mixed_state_presentation(g, opts["rrxor_depth"], progress=False)
    with timer("rrxor_train"):
        res = train(dict(cfg, process=g, steps=int(opts["rrxor_steps"]), max_time_s=opts["rrxor_seconds"],
                         out_dir=str(work / "rrxor"), num_threads=opts["threads"], quiet=quiet), overwrite=True)
    tokens = res.steps_done * cfg["batch_size"] * cfg["context"]
    say(f"   {res.steps_done:,} steps ({tokens:.2e} tokens); loss/optimum "
        f"{res.val_relative if res.val_relative is not None else res.final_relative:.4f}")
    layers = ["embed"] + [f"blocks.{i}.resid_post" for i in range(cfg["n_layers"])]
    with timer("rrxor_probe"):
        ds = build_probe_dataset(g, res.model, representations=["native"], weighting="uniform",
                                 names=layers, markov_order=3)
        pr = ds.probe("native", concat=layers, headline="concat", rank="cv", folds=opts["folds"])
        plot_fit_by_layer(pr, out / "rrxor_fit_by_layer.png",
                          title="RRXOR: held-out fit of the 5-state beliefs by layer (uniform weights)")
        _rrxor_figure(ds, pr, man, layers, out / "rrxor_belief_geometry.png")
    plot_loss_curve({cfg["optimizer"]: res.history}, out / "rrxor_loss_curve.png",
                    title="RRXOR: transformer loss / Bayes-optimal loss")
    from nets.geometry_checks import distance_r2

    ins = {n: in_sample_fit(ds, layers if n == "concat" else n, rank="cv") for n in pr.points}
    pred = ins["concat"]["predicted"]
    ins_geometry = {"dist_r2_beliefs": distance_r2(pred, ds.beliefs["native"], ds.weights),
                    "dist_r2_next": distance_r2(pred, ds.next_probs, ds.weights)}
    single = {n: p for n, p in pr.points.items() if n != "concat"}
    best_single = min(single, key=lambda n: single[n].test["mse"])
    concat = pr.points["concat"]
    rec = {
        "config": cfg, "steps": res.steps_done, "tokens": tokens, "train_seconds": res.timing.get("total_s"),
        "loss_relative": res.val_relative if res.val_relative is not None else res.final_relative,
        "n_beliefs": len(man), "manifold_closed": bool(man.closed),
        "n_beliefs_seen_by_probe": int(len(np.unique(np.round(ds.beliefs["native"], 9), axis=0))),
        "probe": {n: {"mse": p.test["mse"], "r2": p.r2, "cos_r2": p.test["cos_r2"], "rank": p.rank, "dim": p.dim,
                      "shuffled_r2": in_sample_fit(ds, layers if n == "concat" else n, shuffle=True, rank="cv",
                                                   held_out=True)["r2"],
                      "untrained_r2": (p.untrained or {}).get("r2"), "in_sample_r2": ins[n]["r2"]}
                  for n, p in pr.points.items()},
        "in_sample_geometry": ins_geometry,
        "best_single_layer": best_single,
        "concat_is_best": bool(concat.test["mse"] <= single[best_single].test["mse"]),
        "geometry": pr.geometry, "verdict": pr.verdict,
        "markov3_r2": (pr.baselines.get("markov") or {}).get("r2"),
    }
    say(f"   beliefs: {len(man)} distinct (paper 36); concat R^2 {concat.r2:.4f} vs best single layer "
        f"{best_single} {single[best_single].r2:.4f}; distance R^2 vs beliefs {pr.geometry['dist_r2_beliefs']:.3f}, "
        f"vs next-token {pr.geometry.get('dist_r2_next', float('nan')):.3f}")
    return rec


# ====================================================================== figures
def _figure(**kwargs):
    """A :class:`matplotlib.figure.Figure` (no pyplot state)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _simplex_figure(ds, point: str, path: Path) -> None:
    """True beliefs | affine projection of the activations | the shuffled-belief control,
    all in the probability triangle, each point coloured by its true belief (RGB)."""
    from bayes.geometry import barycentric_coordinates

    Y = ds.beliefs["native"]
    fit, shuf = in_sample_fit(ds, point), in_sample_fit(ds, point, shuffle=True)
    panels = [("true beliefs (Bayes)", Y),
              (f"network: affine map of {point}\n(MSE {fit['mse']:.5f})", fit["predicted"]),
              (f"shuffled-belief control\n(MSE {shuf['mse']:.5f})", shuf["predicted"])]
    rows = np.nonzero(ds.lengths >= min(ds.lengths.max(), 6))[0]  # later positions: the fractal's fine detail
    rng = np.random.default_rng(0)
    if rows.size > 15000:
        rows = rng.choice(rows, 15000, replace=False)
    col = np.clip(Y[rows], 0, 1)
    fig = _figure(figsize=(13, 4.6), constrained_layout=True)
    axes = fig.subplots(1, 3)
    tri = barycentric_coordinates(np.eye(3))
    for ax, (title, P) in zip(axes, panels):
        c = barycentric_coordinates(P[rows])
        ax.plot(*np.vstack([tri, tri[:1]]).T, color="0.6", lw=0.8)
        ax.scatter(c[:, 0], c[:, 1], c=col, s=1.5, linewidths=0)
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 0.92)
        ax.axis("off")
    fig.suptitle("Mess3(0.05, 0.85): belief simplex vs the transformer's final residual stream "
                 f"(inputs of length >= {min(ds.lengths.max(), 6)})", fontsize=11)
    save_figure(fig, path, dpi=100)


def _trajectory_figure(traj: list, path: Path) -> None:
    fig = _figure(figsize=(6.5, 4.2), constrained_layout=True)
    ax = fig.subplots()
    t = [p["tokens"] for p in traj]
    ax.loglog(t, [p["mse_pre_ln"] for p in traj], "o-", label="ours: before final LN")
    ax.loglog(t, [p["mse_post_ln"] for p in traj], "s--", ms=4, label="ours: after final LN")
    ax.loglog(t, [p["mse_shuffled"] for p in traj], ":", color="0.5", label="ours: shuffled-belief control")
    ax.loglog(list(PAPER_MSE), list(PAPER_MSE.values()), "k*", ms=11, label="paper (before LN)")
    ax.set_xlabel("training tokens")
    ax.set_ylabel("MSE (affine probe -> belief)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("Mess3: belief-probe MSE during training")
    save_figure(fig, path, dpi=100)


def _rrxor_figure(ds, pr, man, layers: list, path: Path) -> None:
    """The 36-state geometry (top 3 principal axes of the beliefs) beside the projections
    from the concatenated residual streams and from the final layer alone."""
    from nets.probe import fit_affine

    Y, w = ds.beliefs["native"], ds.weights
    mu = w @ Y
    C = ((Y - mu) * w[:, None]).T @ (Y - mu)
    lam, V = np.linalg.eigh(C)
    V = V[:, ::-1][:, :3]
    Xc = np.concatenate([ds.activations[n] for n in layers], axis=1).astype(np.float64)
    r_cat = pr.points["concat"].rank
    pred_cat = fit_affine(Xc, Y, w, rank=max(r_cat, 1)).predict(Xc)
    last = layers[-1]
    pred_last = fit_affine(ds.activations[last].astype(np.float64), Y, w, rank=max(pr.points[last].rank, 1)).predict(
        ds.activations[last].astype(np.float64))
    # colour: by belief (36 clusters), via their first 3 principal coordinates
    c3 = (Y - mu) @ V
    col = np.clip((c3 - c3.min(0)) / np.where(np.ptp(c3, 0) > 0, np.ptp(c3, 0), 1), 0, 1)
    true_pts = (man.beliefs - mu) @ V
    fig = _figure(figsize=(13, 4.6), constrained_layout=True)
    panels = [(f"true beliefs: {len(man)} distinct", true_pts, None),
              (f"concat of {len(layers)} residual streams (R$^2$ {pr.points['concat'].r2:.3f})",
               (pred_cat - mu) @ V, col),
              (f"{last} alone (R$^2$ {pr.points[last].r2:.3f})", (pred_last - mu) @ V, col)]
    for k, (title, P, c) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1, projection="3d")
        if c is None:
            cc = (man.beliefs - mu) @ V
            cc = np.clip((cc - c3.min(0)) / np.where(np.ptp(c3, 0) > 0, np.ptp(c3, 0), 1), 0, 1)
            ax.scatter(P[:, 0], P[:, 1], P[:, 2], c=cc, s=40, depthshade=False)
        else:  # every input (faint) and the weighted mean per true belief (large)
            ax.scatter(P[:, 0], P[:, 1], P[:, 2], c=c, s=3, alpha=0.2, depthshade=False)
            _, inv = np.unique(np.round(Y, 9), axis=0, return_inverse=True)
            inv = inv.ravel()
            m = np.bincount(inv, weights=w)
            cent = np.stack([np.bincount(inv, weights=w * P[:, j]) / m for j in range(3)], axis=1)
            cc = np.stack([np.bincount(inv, weights=w * c[:, j]) / m for j in range(3)], axis=1)
            ax.scatter(cent[:, 0], cent[:, 1], cent[:, 2], c=np.clip(cc, 0, 1), s=40, edgecolors="k",
                       linewidths=0.3, depthshade=False)
        ax.set_title(title, fontsize=9)
        lim = np.abs(true_pts).max() * 1.3
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_zlim(-lim, lim)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
        ax.view_init(elev=25, azim=35)
    fig.suptitle("RRXOR: belief geometry (top 3 principal axes of the 5-state beliefs) vs the transformer's "
                 "(affine fit on all inputs; large dots: mean per true belief)",
                 fontsize=11)
    save_figure(fig, path, dpi=100)


# ====================================================================== RESULTS.md
def _markdown(r: dict) -> str:
    from nets.report import markdown_table

    m, x, hw = r["mess3"], r["rrxor"], r["hardware"]
    f = m["final"]
    cfg = m["config"]
    traj = m["trajectory"]
    rows = []
    for p in traj:
        rows.append((p["tokens"], [f"{p['tokens']:.2g}", PAPER_MSE.get(p["tokens"]), p["mse_pre_ln"], p["mse_post_ln"],
                                   p["mse_shuffled"], f"step {p['step']:,}"]))
    for tok, mse in PAPER_MSE.items():
        if not any(p["tokens"] == tok for p in traj):
            rows.append((tok, [f"{tok:.2g}", mse, None, None, None, f"not reached (stopped at {f['tokens']:.2g})"]))
    rows = [row for _, row in sorted(rows, key=lambda t: t[0])]
    extra: list = []
    probe_rows = [[n, v["mse"], v["held_out_mse"], v["r2"], v["shuffled_mse"], v["untrained_mse"]]
                  for n, v in f["probe"].items()]
    layer_rows = [[n, v["dim"], v["rank"], v["r2"], v["in_sample_r2"], v["mse"], v["shuffled_r2"], v["untrained_r2"]]
                  for n, v in x["probe"].items()]
    g = x["geometry"]
    secs = r["seconds"]
    quick = r["mode"] != "full"
    lines = [
        "# Shai et al. 2024 — transformers represent belief-state geometry: reproduction",
        "",
        f"Mode **{r['mode']}** on {hw.get('cpu', '?')} ({hw.get('cpus')} CPUs, torch device {hw.get('device')}, "
        f"torch {hw.get('torch')}); total {secs['total']:.0f} s "
        f"(Mess3 training {secs.get('mess3_train', 0):.0f} s, RRXOR training {secs.get('rrxor_train', 0):.0f} s, "
        f"probes {secs.get('mess3_probe', 0) + secs.get('rrxor_probe', 0):.0f} s).",
        "",
        "## A. Mess3(0.05, 0.85): the belief fractal in the final residual stream",
        "",
        f"Transformer {cfg['n_layers']} layers, {cfg['n_heads']} head (d_head {cfg['d_head']}), d_model "
        f"{cfg['d_model']}, d_mlp {cfg['d_mlp']}, {cfg['act']}, LayerNorm, context {cfg['context']}; SGD lr "
        f"{cfg['lr']}, batch {cfg['batch_size']}, fresh sampled sequences every step, sampled next-token targets. "
        f"Trained {f['steps']:,} steps = {f['tokens']:.3g} tokens in {f['train_seconds']:.0f} s "
        f"({f['tokens_per_s']:.3g} tokens/s); final training loss {f['final_relative']:.4f} x the Bayes optimum.",
        "",
        f"Probe (the paper's protocol): all {cfg['context']}-symbol inputs at all {cfg['context']} positions, each "
        "(input, position) pair weighted equally (a distinct prefix carries the count of inputs sharing it), "
        "affine least squares (full rank, no regularization) onto the 3-state belief, fitted and scored on all "
        "rows; MSE averaged over inputs x positions x coordinates. The same fit scored on a held-out 20% of the "
        "prefixes is in results.json and in the final table. Shuffled control: beliefs permuted among inputs of "
        "the same length, then the same fit.",
        "",
        "MSE trajectory (final residual stream; the paper's column is before the final LayerNorm):",
        "",
        markdown_table(["tokens", "paper MSE", "ours before LN", "ours after LN", "shuffled control", "note"],
                       rows + extra),
        "",
        f"Paper token counts reached: {', '.join(f'{t:.2g}' for t in f['paper_tokens_reached']) or 'none'}"
        + (" (6.3e8 tokens would take hours on this CPU; the full mode runs it on a GPU)." if quick else "."),
        "",
        "Final probe (paper: MSE 0.0004 before the final LayerNorm, 0.0003 after, at 6.3e8 tokens):",
        "",
        markdown_table(["point", "MSE (paper protocol)", "held-out MSE", "R²", "shuffled-belief MSE",
                        "untrained-net MSE"],
                       probe_rows),
        "",
        f"Markov-3 baseline (beliefs predicted from the last 3 symbols): MSE {f['markov3_mse']:.5f}. "
        f"Verdict: **{f['verdict']}**.",
        "",
        "![belief fractal vs the network's](mess3_belief_geometry.png)",
        "",
        "![MSE trajectory](mess3_mse_trajectory.png)",
        "",
        f"| exact belief fractal ({f['n_beliefs_depth']:,} beliefs to depth {f['depth']}) | training loss |",
        "|---|---|",
        "| ![fractal](mess3_belief_fractal.png) | ![loss](mess3_loss_curve.png) |",
        "",
        "## B. RRXOR: the geometry lives in the concatenation of all layers",
        "",
        f"Transformer {x['config']['n_layers']} layers, d_model {x['config']['d_model']}, {x['config']['n_heads']} "
        f"heads x {x['config']['d_head']}, d_mlp {x['config']['d_mlp']}, context {x['config']['context']}; "
        f"{x['config']['optimizer']} lr {x['config']['lr']}, batch {x['config']['batch_size']}, "
        f"{x['config']['data_mode']} data, {x['config']['targets']} targets; {x['steps']:,} steps = "
        f"{x['tokens']:.3g} tokens; loss {x['loss_relative']:.4f} x optimum.",
        "",
        f"Mixed-state presentation: **{x['n_beliefs']} distinct beliefs** (paper: 36; closed: "
        f"{x['manifold_closed']}); the probe's inputs reach {x['n_beliefs_seen_by_probe']} of them.",
        "",
        "Held-out fit of the 5-state belief (uniform weights over inputs x positions, rank by 10-fold CV):",
        "",
        markdown_table(["point", "dim", "rank", "held-out R²", "in-sample R²", "held-out MSE", "shuffled R²",
                        "untrained R²"], layer_rows),
        "",
        f"Best single layer: `{x['best_single_layer']}`. Concatenation best: **{x['concat_is_best']}**"
        + ("" if x["concat_is_best"] else " — the paper's claim is NOT reproduced here (see the note below)") + ".",
        "",
        markdown_table(["pairwise-distance R²", "paper", "ours (probe projection, held out)",
                        "ours (probe projection, all inputs)", "ours (raw activations)"],
                       [["vs true-belief distances", PAPER["rrxor_dist_r2_beliefs"], g.get("dist_r2_beliefs"),
                         x["in_sample_geometry"]["dist_r2_beliefs"], g.get("dist_r2_beliefs_raw")],
                        ["vs next-token-distribution distances", PAPER["rrxor_dist_r2_next"], g.get("dist_r2_next"),
                         x["in_sample_geometry"]["dist_r2_next"], g.get("dist_r2_next_raw")]]),
        "",
        "![RRXOR geometry](rrxor_belief_geometry.png)",
        "",
        "![RRXOR fit by layer](rrxor_fit_by_layer.png)",
        "",
        "![RRXOR loss](rrxor_loss_curve.png)",
        "",
        "## Differences from the paper, honestly",
        "",
    ]
    notes = []
    if quick:
        notes.append(f"- **Training length.** The paper trains Mess3 for 6.3e8 tokens; this {r['mode']} run reached "
                     f"{f['tokens']:.2g} tokens in its time budget, so only the early part of the MSE trajectory "
                     "can be compared. Where a paper token count was reached, compare the row; the final MSE is "
                     "expected to sit above the paper's 0.0004.")
        hits = [(p["tokens"], p["mse_pre_ln"] / PAPER_MSE[p["tokens"]]) for p in traj if p["tokens"] in PAPER_MSE]
    if hits:
        lo, hi = min(h for _, h in hits), max(h for _, h in hits)
        notes.append(f"- **Trajectory.** At the paper's token counts that were reached, our MSE is {lo:.2g}-{hi:.2g} x "
                     "the paper's (below 1 = our net learned the geometry faster). Likely causes: initialization "
                     "and implementation (ours: PyTorch defaults, pre-LN; the paper: TransformerLens) and "
                     "single-seed noise; the paper does not give its probe's exact checkpoints.")
    notes.append("- **RRXOR optimizer.** The quick mode trains RRXOR with exact next-token targets over all "
                     "2^11 words and Adam (lr 1e-3, halved when the loss plateaus for 300 steps, gradients clipped "
                     "at norm 1: at a constant 1e-3 Adam spiked late in an earlier run): with the paper's plain SGD "
                     "and sampled targets a transformer makes almost no progress on RRXOR in a few CPU minutes. "
                     "The full mode uses the SGD protocol.")
    if not x["concat_is_best"]:
        notes.append(f"- **Concatenation not best here.** The held-out MSE of the concatenated residual streams is "
                     f"above that of `{x['best_single_layer']}`. With the truncated-SVD rank chosen by "
                     "cross-validation the concatenation can do no better than its best layer only by estimation "
                     "noise: the probe has few distinct rows (RRXOR forbids most words) and the paper's uniform "
                     "weighting puts a large share of the weight on a handful of short prefixes, so held-out "
                     "differences of a few per cent are within the noise. The paper's claim is about a far longer "
                     "trained network.")
    gd, gn = x["geometry"].get("dist_r2_beliefs"), x["geometry"].get("dist_r2_next")
    if gd is not None and gn is not None and gd < gn:
        notes.append(f"- **RRXOR distances: the paper's ordering is not reproduced here.** Our represented-belief "
                     f"distances match the next-token-distribution distances (R² {gn:.2f}) better than the "
                     f"true-belief distances (R² {gd:.2f}); the paper has 0.31 vs 0.95. The network predicts "
                     f"at {x['loss_relative']:.4f} x the optimum, yet its linearly decodable belief is only partial "
                     f"(R² {x['probe']['concat']['r2']:.2f}): after {x['tokens']:.2g} tokens it holds mostly what "
                     "the next token needs (a transformer can read older tokens through attention at later "
                     "positions, so nothing forces the full belief into each position early in training). Whether "
                     "the full belief geometry emerges with the paper's much longer training is what the full "
                     "mode tests.")
    notes.append("- **RRXOR details not in our reference**: d_mlp (we use 4 x d_model = 512), the context (10, as "
                 "for Mess3) and the training length of the paper's RRXOR run.")
    notes.append("- **In-sample vs held out.** The Mess3 MSEs follow the paper (fit and score on all inputs); the "
                 "held-out values (20% of the prefixes) are beside them. Under the paper's uniform weighting a "
                 "length-1 prefix stands for 3^9 inputs, so the effective sample size is a few hundred and the "
                 "in-sample shuffled control sits somewhat below the belief variance. For RRXOR (640 concatenated "
                 "features, few distinct prefixes) the table leads with held-out numbers; in-sample R² is beside.")
    notes.append("- **Distance R².** Pairs are drawn with probability proportional to the product of the inputs' "
                 "weights; 'probe projection' uses distances between the probe's predicted beliefs, 'raw' between "
                 "the concatenated activations themselves. The paper's exact pairing is not specified.")
    notes.append("- **Initialization and implementation**: our own pre-LN transformer (nets.models), not "
                 "TransformerLens; learning curves therefore differ in detail.")
    if r["mode"] == "full":
        notes.append("- **Full mode** was written for a GPU and only started here for a few seconds (no GPU in "
                     "this session); its numbers come from wherever it is run.")
    lines += notes
    lines += ["", "## Reproduce", "", "```sh", f"python -m papers.{NAME} --{r['mode']}        # or: qbelief paper "
              f"{NAME} --{r['mode']}", "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return paper_main(NAME, run, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
