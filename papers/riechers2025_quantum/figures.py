"""Figures of the Riechers et al. 2025 reproduction (PNG, no pyplot state).

- :func:`geometry_grid`: per process, the minimal beliefs and each net's probe projection
  (held-out prefixes of the first seed) in the top two weighted principal axes of the true
  beliefs (:func:`bayes.geometry.weighted_pca`);
- :func:`cos_r2_figure`: cos R^2 per process and net with 95% intervals over seeds, beside
  the Markov-3 comparison and the controls;
- :func:`layers_figure`: held-out R^2 per layer (mean and interval over seeds);
- :func:`trajectory_figure`: the probe's RMSE relative to initialization during training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bayes.geometry import weighted_pca
from nets.probe.plots import new_figure, save_figure

__all__ = ["save_arrays", "load_arrays", "geometry_grid", "cos_r2_figure", "layers_figure", "trajectory_figure"]


def save_arrays(out: Path, group: str, pr: Any) -> None:
    """The held-out beliefs, predictions and weights of a probe, for :func:`geometry_grid`."""
    from generators.fileio import atomic_path

    path = Path(out) / "arrays" / f"{group}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{k: np.asarray(pr.arrays[k]) for k in ("beliefs", "predicted", "weights")})


def load_arrays(out: Path, group: str) -> dict | None:
    path = Path(out) / "arrays" / f"{group}.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _colors(C: np.ndarray) -> np.ndarray:
    """RGB from up to three principal coordinates (a missing third one from the first two)."""
    C = np.concatenate([C, np.zeros((C.shape[0], max(0, 3 - C.shape[1])))], axis=1)[:, :3]
    span = np.ptp(C, axis=0)
    col = np.clip((C - C.min(0)) / np.where(span > 0, span, 1.0), 0, 1)
    if span[2] < 1e-9:
        col[:, 2] = 1 - 0.5 * (col[:, 0] + col[:, 1])
    return col


def geometry_views(arrays: dict, processes: list, archs: list) -> list[tuple[dict, str]]:
    """The interactive counterpart of :func:`geometry_grid` for report.html: per process,
    the minimal beliefs beside each net's projection (3-D where the beliefs span three
    dimensions: drag to rotate).  Nets probed on different held-out rows get a view each."""
    from nets.interactive import projections_spec

    views = []
    for p in processes:
        got = [(a, arrays[(p, a)]) for a in archs if arrays.get((p, a)) is not None]
        groups: list[list] = []
        for a, arr in got:  # nets that share the held-out rows share a view
            same = next((g for g in groups if np.array_equal(g[0][1]["beliefs"], arr["beliefs"])), None)
            if same is not None:
                same.append((a, arr))
            else:
                groups.append([(a, arr)])
        for g in groups:
            ref = g[0][1]
            spec = projections_spec(ref["beliefs"], {f"{a}: probe projection": arr["predicted"] for a, arr in g},
                                    ref["weights"], title=f"{p}: minimal beliefs and the probe projection "
                                    "of the concatenated layers (held-out prefixes, first seed)")
            views.append((spec, f"{p}, " + " and ".join(a for a, _ in g)))
    return views


def geometry_grid(arrays: dict, processes: list, archs: list, titles: dict, path: Path) -> None:
    """``arrays[(process, arch)]`` from :func:`load_arrays`; ``titles[(process, arch)]`` the
    panel captions."""
    fig = new_figure((2.6 * (1 + len(archs)), 2.6 * len(processes)))
    axes = fig.subplots(len(processes), 1 + len(archs), squeeze=False)
    for r, p in enumerate(processes):
        first = next(arrays[(p, a)] for a in archs if arrays.get((p, a)) is not None)
        Y, w = first["beliefs"], first["weights"]
        pca = weighted_pca(Y, w)
        col = _colors(pca.project(Y, 3))
        order = np.argsort(w)
        size = 1 + 12 * np.sqrt(w[order] / w.max())
        ty = pca.project(Y, 2)
        lo, hi = np.percentile(ty, 0.5, axis=0), np.percentile(ty, 99.5, axis=0)
        pad = 0.15 * (hi - lo) + 1e-9
        panels = [("minimal beliefs", ty)] + [(titles[(p, a)], pca.project(arrays[(p, a)]["predicted"], 2))
                                             for a in archs if arrays.get((p, a)) is not None]
        for c, (title, P) in enumerate(panels):
            ax = axes[r, c]
            ax.scatter(P[order, 0], P[order, 1], c=col[order], s=size, linewidths=0)
            ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
            if c == 0:
                ax.set_ylabel(p, fontsize=10)
    fig.suptitle("Minimal-generator beliefs (left) and each net's probe projection of its concatenated layers "
                 "(held-out prefixes, first seed)", fontsize=9)
    save_figure(fig, path, dpi=90)


def _bar(ax, x, iv, color, label, width):
    ax.bar(x, iv.mean, width, color=color, label=label)
    if iv.method != "single":
        ax.errorbar(x, iv.mean, yerr=[[iv.mean - iv.lo], [iv.hi - iv.mean]], color="k", lw=0.8, capsize=2)


def cos_r2_figure(results: Any, groups: list, path: Path) -> None:
    """Bars: trained -> minimal beliefs, trained -> Markov-3 beliefs, untrained -> minimal,
    shuffled, each mean with its 95% interval over seeds."""
    series = [("concat.cos_r2", "trained -> minimal beliefs", "tab:blue"),
              ("concat.markov3_targets.cos_r2", "trained -> Markov-3 beliefs", "tab:red"),
              ("concat.untrained.cos_r2", "untrained -> minimal beliefs", "tab:gray"),
              ("concat.shuffled.cos_r2", "shuffled beliefs", "k")]
    fig = new_figure((max(7.0, 1.0 * len(groups)), 3.8))
    ax = fig.subplots()
    wd = 0.8 / len(series)
    for k, (metric, label, color) in enumerate(series):
        for i, g in enumerate(groups):
            _bar(ax, i + (k - 1.5) * wd, results.interval(g, metric), color, label if i == 0 else None, wd)
    ax.axhspan(0.99, 1.0, color="tab:blue", alpha=0.12, label="paper: minimal 0.99-1.00")
    ax.axhspan(0.36, 0.88, color="tab:red", alpha=0.07, label="paper: Markov-3 0.36-0.88")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g.replace("-", "\n", 1) for g in groups], fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("held-out cosine-similarity R$^2$")
    ax.legend(fontsize=7, ncol=3, loc="lower left")
    save_figure(fig, path, dpi=90)


def layers_figure(results: Any, groups: list, layer_names: dict, path: Path) -> None:
    """Held-out R^2 of each layer and of the concatenation, mean and interval over seeds, with
    the untrained net's; one panel per group (``process-arch-protocol``): rows nets, columns
    processes."""
    procs = list(dict.fromkeys(g.split("-")[0] for g in groups))
    archs = list(dict.fromkeys(g.split("-")[1] for g in groups))
    fig = new_figure((2.8 * len(procs), 2.5 * len(archs)))
    axes = fig.subplots(len(archs), len(procs), squeeze=False, sharey=True)
    for g in groups:
        p, a = g.split("-")[:2]
        ax = axes[archs.index(a), procs.index(p)]
        names = layer_names[g] + ["concat"]
        for key, color, label in (("r2", "tab:blue", "trained"), ("untrained.r2", "tab:gray", "untrained")):
            ivs = [results.interval(g, f"layers.{n}.{key}" if n != "concat" else f"concat.{key}") for n in names]
            m = np.array([max(iv.mean, -0.05) for iv in ivs])
            err = np.array([[iv.mean - iv.lo, iv.hi - iv.mean] for iv in ivs]).T
            ax.errorbar(range(len(names)), m, yerr=err, fmt="o-", ms=3, capsize=2, color=color, label=label)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(["in" if n == "embed" else ("all" if n == "concat" else n.split(".")[1]) for n in names],
                           fontsize=7)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{p} / {a}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("held-out R$^2$", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Fit by layer (in = embedding, all = concatenated): mean and 95% interval over seeds", fontsize=9)
    save_figure(fig, path, dpi=90)


def trajectory_figure(results: Any, groups: list, path: Path) -> None:
    """RMSE / RMSE at initialization vs epochs, one line per seed, the 20% line dashed."""
    fig = new_figure((7.0, 4.0))
    ax = fig.subplots()
    colors = [f"C{i}" for i in range(10)]
    for k, g in enumerate(groups):
        for j, run in enumerate(results.group_runs(g)):
            t = results.metrics(run.key)["trajectory"]
            e, r = np.asarray(t["epochs"], dtype=float), np.asarray(t["rmse"], dtype=float)
            ax.plot(np.maximum(e, e[1] / 2 if e.size > 1 else 1.0), r / r[0], "o-", ms=2.5, lw=1,
                    color=colors[k % 10], alpha=0.8, label=g if j == 0 else None)
    ax.axhline(0.2, color="k", ls="--", lw=0.8, label="80% drop")
    ax.axvspan(20, 40, color="tab:green", alpha=0.08, label="paper: >80% drop within 20-40 epochs")
    ax.set_xscale("log")
    ax.set_xlabel("epochs of 200 batches (initialization drawn at the left edge)")
    ax.set_ylabel("probe RMSE / RMSE at initialization")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, ncol=2)
    save_figure(fig, path, dpi=90)
