"""Piotrowski, Riechers, Filan, Shai (ICML 2025, arXiv 2502.01954): attention decay lambda^(d-s), the even/odd
head split for negative lambda, the post-attention gasket and the post-MLP fractal.

One-layer transformers trained on Mess3(x, a), (x, a) in {0.15, 0.5} x {0.2, 0.6}, context
10; for each: ``nets.attention.attention_analysis`` (mean attention vs distance per head,
fitted decay, parity split) against ``lambda = 1 - 3x``; probes of ``blocks.0.resid_mid``
(after attention) and ``blocks.0.resid_post`` (after the MLP) onto the beliefs and onto the
"gasket" coordinates of the linear (constrained) update; top-3 principal components of
both residual streams drawn beside the belief simplex.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from papers.common import Timer, hardware, paper_main, write_results

NAME = "piotrowski2025_attention"
PROCESSES = [(0.15, 0.2), (0.15, 0.6), (0.5, 0.2), (0.5, 0.6)]

#: TrainConfig fields per mode (the process is added per run); max_time_s is per process
CONFIGS = {
    "tiny": dict(model="transformer", n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32, context=6,
                 optimizer="adam", lr=3e-3, batch_size=64, steps=30, targets="exact", num_threads=1),
    "quick": dict(model="transformer", n_layers=1, d_model=64, n_heads=2, d_head=32, d_mlp=256, context=10,
                  optimizer="adam", lr=1e-3, batch_size=256, steps=100_000, max_time_s=150.0, targets="exact",
                  num_threads=1),
    "full": dict(model="transformer", n_layers=1, d_model=64, n_heads=4, d_head=16, d_mlp=256, context=10,
                 optimizer="adam", lr=1e-3, batch_size=1024, steps=100_000, scheduler="cosine", targets="exact"),
}
ANALYSIS = {"tiny": dict(n_samples=256, max_points=2000, folds=3),
            "quick": dict(n_samples=4096, max_points=12000, folds=5),
            "full": dict(n_samples=16384, max_points=30000, folds=10)}


def main(argv=None) -> int:
    return paper_main(NAME, run, argv, description=__doc__.splitlines()[0])


def run(mode: str, out: Path, *, quiet: bool = False) -> dict:
    from generators import library
    from nets.attention import attention_analysis
    from nets.probe_data import build_probe_dataset
    from nets.probe_plots import plot_attention_decay
    from nets.report import plot_loss_curve
    from nets.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    timer = Timer()
    cfg, an = dict(CONFIGS[mode]), ANALYSIS[mode]
    results = {"paper": NAME, "mode": mode, "config": cfg, "analysis": an, "processes": []}
    histories, geo = {}, []
    for x, a in PROCESSES:
        g = library.mess3(x=x, a=a)
        lam = 1 - 3 * x
        tag = f"mess3_x{x:g}_a{a:g}"
        say(f"== {g.name}: lambda = 1 - 3x = {lam:g}")
        with timer(f"train {tag}"):
            res = train(dict(cfg, process=g, quiet=quiet,
                             out_dir=str(out / "runs" / tag) if mode == "full" else None,
                             checkpoint_every=5000 if mode == "full" else 0), overwrite=mode == "full")
        histories[f"x={x:g}, a={a:g}"] = res.history
        with timer(f"analysis {tag}"):
            rep = attention_analysis(res.model, g, n_samples=an["n_samples"], seed=1)
            plot_attention_decay(rep, out / f"attention_{tag}.png",
                                 title=f"Mess3({x:g}, {a:g}): lambda = 1-3x = {lam:g}")
            ds = build_probe_dataset(g, res.model, representations=("native",),
                                     names=["blocks.0.resid_mid", "blocks.0.resid_post"], untrained=None,
                                     markov_order=None)
            gasket = gasket_coordinates(ds.prefixes, ds.lengths, lam)
            pb = ds.probe("native", concat=False, folds=an["folds"], seed=0)
            pg = _probe_onto(ds, gasket, an["folds"])
            pca = {}
            last = ds.lengths == ds.lengths.max()
            for n in ("blocks.0.resid_mid", "blocks.0.resid_post"):
                from nets.geometry_checks import weighted_pca_dimension

                d95, cum = weighted_pca_dimension(ds.activations[n][last], ds.weights[last])
                pca[n] = {"pca95": d95, "top3_variance": float(cum[2])}
            geo.append((tag, g.name, lam, ds, last))
        heads = [h for h in rep.to_dict()["heads"]]
        parities = sorted(h["parity"] for h in heads)
        split = lam < 0 and "even" in parities and "odd" in parities
        fitted = [h["lam"] for h in heads]
        row = {"x": x, "a": a, "lambda": lam, "process": g.name, "steps": res.steps_done,
               "tokens": int(res.history[-1]["tokens"]) if res.history else 0,
               "train_seconds": res.timing.get("total_s"), "final_relative": res.final_relative,
               "heads": heads, "parity_split": bool(split),
               "best_abs_rel_error": float(min(abs(abs(f) - abs(lam)) / abs(lam) for f in fitted)),
               "attention": rep.to_dict(),
               "probe": {n: {"beliefs_r2": pb.points[n].r2, "beliefs_rmse": pb.points[n].rmse,
                             "gasket_r2": pg.points[n].r2, **pca[n]}
                         for n in ("blocks.0.resid_mid", "blocks.0.resid_post")}}
        results["processes"].append(row)
        say(rep.summary())
        say("   probe R^2 (beliefs / gasket): " + ", ".join(
            f"{n.split('.')[-1]} {v['beliefs_r2']:.4f} / {v['gasket_r2']:.4f}" for n, v in row["probe"].items()))
    with timer("figures"):
        plot_loss_curve(histories, out / "loss_curves.png", title="Mess3, one-layer transformers: loss / optimum")
        for tag, gname, lam, ds, last in geo:
            plot_gasket_vs_fractal(ds, last, out / f"geometry_{tag}.png", max_points=an["max_points"],
                                   title=f"{gname}: beliefs | post-attention (resid_mid) | post-MLP (resid_post), "
                                         "top-3 PCs")
    results["seconds"] = dict(timer.seconds, total=timer.total)
    results["hardware"] = hardware()
    write_results(out, results, markdown(results))
    say(f"== done in {timer.total:.0f} s -> {out}")
    return results


# ---------------------------------------------------------------------- analysis helpers
def gasket_coordinates(prefixes: np.ndarray, lengths: np.ndarray, lam: float, V: int = 3) -> np.ndarray:
    """The linear ("constrained") update the attention layer can compute: for a prefix
    ``x_0..x_d``, ``sum_s lam^(d-s) e_{x_s} / sum_s |lam|^(d-s)`` (one-hot ``e``), shape (N, V).
    Its image over all prefixes is the Sierpinski-like gasket of Piotrowski et al."""
    N, L = prefixes.shape
    out = np.zeros((N, V))
    norm = np.zeros(N)
    for s in range(L):
        ok = s < lengths
        D = np.where(ok, lengths - 1 - s, 0)
        w = np.where(ok, np.power(float(lam), D), 0.0)
        out[np.arange(N)[ok], prefixes[ok, s]] += w[ok]
        norm += np.abs(w)
    return out / norm[:, None]


def _probe_onto(ds, targets: np.ndarray, folds: int):
    from nets.probe import probe

    names = ["blocks.0.resid_mid", "blocks.0.resid_post"]
    return probe({n: ds.activations[n] for n in names}, targets, ds.weights, concat=False, folds=folds, seed=0)


def plot_gasket_vs_fractal(ds, rows: np.ndarray, path: Path, *, max_points: int = 12000, title: str = "") -> None:
    """True beliefs in the simplex, and the top-3 weighted principal components of the
    post-attention and post-MLP residual streams, every point coloured by its true belief."""
    from matplotlib.figure import Figure

    from bayes.geometry import barycentric_coordinates
    from nets.report import save_figure

    idx = np.flatnonzero(rows)
    w = ds.weights[idx]
    if idx.size > max_points:
        pick = np.random.default_rng(0).choice(idx.size, size=max_points, replace=False, p=w / w.sum())
        idx, w = idx[pick], w[pick]
    B = ds.beliefs["native"][idx]
    col = np.clip(B, 0, 1)
    fig = Figure(figsize=(15, 4.8), dpi=100)
    ax = fig.add_subplot(1, 3, 1)
    xy = barycentric_coordinates(B)
    ax.scatter(xy[:, 0], xy[:, 1], c=col, s=1.5, lw=0)
    ax.set_aspect("equal")
    ax.set_title("true beliefs (simplex)", fontsize=9)
    ax.axis("off")
    for k, n in enumerate(("blocks.0.resid_mid", "blocks.0.resid_post")):
        A = ds.activations[n][idx].astype(np.float64)
        p = w / w.sum()
        mu = p @ A
        C = ((A - mu) * p[:, None]).T @ (A - mu)
        ev, vec = np.linalg.eigh(C)
        P = (A - mu) @ vec[:, ::-1][:, :3]
        frac = ev[::-1][:3] / ev.sum()
        ax = fig.add_subplot(1, 3, k + 2, projection="3d")
        ax.scatter(P[:, 0], P[:, 1], P[:, 2], c=col, s=1.2, lw=0, depthshade=False)
        ax.view_init(elev=25, azim=45)
        ax.set_title(f"{n} (PC variance {', '.join(f'{f:.2f}' for f in frac)})", fontsize=9)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


# ---------------------------------------------------------------------- report
def markdown(r: dict) -> str:
    from nets.report import markdown_table

    cfg = r["config"]
    rows = []
    for p in r["processes"]:
        hs = "; ".join(f"h{h['head']}: {h['lam']:+.3f} ({h['parity']}, R²={h['fit_r2'] if h['fit_r2'] is not None else float('nan'):.2f})"
                       for h in p["heads"])
        rows.append([f"({p['x']:g}, {p['a']:g})", f"{p['lambda']:+.2f}", hs,
                     ("yes" if p["parity_split"] else "no") if p["lambda"] < 0 else "n/a",
                     f"{p['best_abs_rel_error']:.3f}", f"{p['final_relative']:.4f}", p["steps"]])
    prow = []
    for p in r["processes"]:
        m, q = p["probe"]["blocks.0.resid_mid"], p["probe"]["blocks.0.resid_post"]
        prow.append([f"({p['x']:g}, {p['a']:g})", m["beliefs_r2"], q["beliefs_r2"], m["gasket_r2"], q["gasket_r2"],
                     m["top3_variance"], q["top3_variance"]])
    hw = r["hardware"]
    tags = [f"mess3_x{p['x']:g}_a{p['a']:g}" for p in r["processes"]]
    neg = [p for p in r["processes"] if p["lambda"] < 0]
    pos = [p for p in r["processes"] if p["lambda"] > 0]
    lines = [
        "# Piotrowski et al. 2025 — constrained belief updates in one-layer transformers",
        "",
        f"Mode **{r['mode']}**" + (" (a CPU-sized run: shorter training than the paper)" if r["mode"] != "full" else "")
        + f". Hardware: {hw.get('cpu', '?')} ({hw.get('cpus')} CPUs), torch {hw.get('torch')} on "
        f"{hw.get('device')}; total time {r['seconds']['total']:.0f} s.",
        "",
        "## Attention decay vs lambda = 1 - 3x",
        "",
        "Paper: attention from destination d to source s decays like lambda^(d-s) with lambda = 1 - 3x "
        "(0.55 for x = 0.15, -0.5 for x = 0.5); for negative lambda two heads split the even and odd "
        "distances. Ours (`nets.attention.attention_analysis`, last destination, 4096 sampled "
        "sequences; a parity-split head's rate is reported negative):",
        "",
        markdown_table(["(x, a)", "lambda", "fitted per head", "even/odd split", "best rel. error", "loss/optimum",
                        "steps"], rows),
        "",
        "Verdict: positive lambda — best head |lambda| within "
        + ", ".join(f"{100 * p['best_abs_rel_error']:.0f}%" for p in pos)
        + " of 0.55; negative lambda — even/odd split found in "
        + f"{sum(p['parity_split'] for p in neg)} of {len(neg)} runs.",
        "",
        *[f"![attention {t}](attention_{t}.png)" for t in tags],
        "",
        "## Post-attention gasket vs post-MLP fractal",
        "",
        "Paper: the residual stream after attention is a Sierpinski-like gasket (the linear update "
        "sum_s lambda^(d-s) e_{x_s}), after the MLP the belief fractal, both in the top 3 principal "
        "components. Ours: held-out R² of probability-weighted linear probes (`nets.probe.probe`, all "
        "prefixes of length 1..10) onto the beliefs and onto the normalized gasket coordinates, and "
        "the variance share of the top 3 PCs at the last position:",
        "",
        markdown_table(["(x, a)", "R² beliefs (mid)", "R² beliefs (post)", "R² gasket (mid)", "R² gasket (post)",
                        "top-3 var (mid)", "top-3 var (post)"], prow),
        "",
        f"Verdict: the post-MLP stream fits the beliefs better than the post-attention stream in "
        f"{sum(q[2] > q[1] for q in prow)} of {len(prow)} runs; the post-attention stream fits the linear-update "
        f"(gasket) coordinates better than the beliefs in {sum(q[3] > q[1] for q in prow)} of {len(prow)} runs. "
        "The figures show both streams' top-3 PCs coloured by the true belief.",
        "",
        *[f"![geometry {t}](geometry_{t}.png)" for t in tags],
        "",
        "![loss curves](loss_curves.png)",
        "",
        "## Protocol and differences",
        "",
        f"Transformer: {cfg['n_layers']} layer, {cfg['n_heads']} heads x {cfg['d_head']}, d_model {cfg['d_model']}, "
        f"d_mlp {cfg['d_mlp']}, context {cfg['context']}; {cfg['optimizer']} lr {cfg['lr']}, batch "
        f"{cfg['batch_size']}, fresh sequences every step, exact next-symbol targets (same expected "
        "gradient as sampled targets, less noise)"
        + (f", {cfg.get('max_time_s'):.0f} s per process on the CPU." if cfg.get("max_time_s") else "."),
        "",
        "- The paper trains far longer; our quick runs stop at a time budget, so the attention profile "
        "at large distances (weights ~lambda^9) is below the noise floor and the fit uses the distances "
        "above `floor=1e-4`.",
        "- Head count is ours (2 in quick mode, 4 in full mode); the paper's exact width settings are not "
        "in our reference notes.",
        "- a = 0.2 is close to the uninformative a = 1/3 (the emitted symbol says little about the new "
        "state), so the (x, 0.2) processes carry a weaker signal per symbol than (x, 0.6); at x = 0.5 the "
        "state always moves (diagonal 1 - 2x = 0).",
        "- With negative lambda a single head cannot produce sign-alternating weights; the split into an even "
        "and an odd head is what the paper reports. Runs that have not split yet (short training) show "
        "near-flat heads instead.",
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["seconds"].items()),
        "",
        "Reproduce: `python -m papers.piotrowski2025_attention --quick` (or `qbelief paper "
        "piotrowski2025_attention`); `--full` for the longer GPU protocol.",
        "",
    ]
    return "\n".join(lines)
