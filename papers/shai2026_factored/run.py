"""Shai et al. 2026, "Transformers learn factored representations": on an independent
product of processes, the residual stream holds each factor's belief in its own, nearly
orthogonal subspace — far fewer dimensions than the joint belief needs.

Measured here (same three numbers in every mode):

1. the 95%-variance (weighted-PCA) dimension of the final residual stream, against the
   factored prediction (sum of the factors' belief dimensions: 2 per Mess3 / Bloch walk)
   and the 95%-variance dimension of the joint beliefs (Kronecker products of the factor
   beliefs; ~135 for 3 Mess3 + 2 Bloch walks);
2. per-factor linear decodability (held-out R^2 of ``nets.probe.probe``);
3. the factor-subspace overlap, trained vs a randomly initialized net (see
   :func:`subspace_overlap` for the definition).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from papers.common import Timer, hardware, paper_main, write_results

NAME = "shai2026_factored"

#: the product per mode: (number of Mess3(.15,.6), number of Bloch walk(1,3))
PRODUCTS = {"tiny": (1, 1), "quick": (2, 1), "full": (3, 2)}
MODELS = {
    "tiny": dict(kind="transformer", n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32),
    "quick": dict(kind="transformer", n_layers=2, d_model=64, n_heads=2, d_head=32, d_mlp=256),
    "full": dict(kind="transformer", n_layers=4, d_model=120, n_heads=3, d_head=40, d_mlp=480),
}
#: TrainConfig fields per mode.  The paper trains with AdamW and states no weight decay:
#: we use AdamW's default, 0.01 (a weight decay of 0 would make it plain Adam)
TRAIN = {
    "tiny": dict(context=5, optimizer="adamw", weight_decay=0.01, lr=3e-3, batch_size=64, steps=20,
                 targets="exact", num_threads=1),
    "quick": dict(context=9, optimizer="adamw", weight_decay=0.01, lr=1e-3, batch_size=256, steps=1_000_000,
                  max_time_s=560.0, targets="exact", num_threads=1),
    # the paper: AdamW 5e-4, batch 25,000, 500k steps, context 9 (sampled next-token targets)
    "full": dict(context=9, optimizer="adamw", weight_decay=0.01, lr=5e-4, batch_size=25_000, steps=500_000,
                 targets="sampled", checkpoint_every=5000),
}
ANALYSIS = {"tiny": dict(n_eval=300, folds=3), "quick": dict(n_eval=3000, folds=5),
            "full": dict(n_eval=20000, folds=10)}
PAPER = {"joint_pca95": 135, "factored_prediction": 10, "trained_pca95": 11, "overlap_trained": 6e-4,
         "overlap_init": 0.5}


def main(argv=None) -> int:
    return paper_main(NAME, run, argv, description=__doc__.splitlines()[0])


def build_product(n_mess: int, n_bloch: int):
    """``n_mess`` x Mess3(0.15, 0.6) and ``n_bloch`` x Bloch walk(1, 3), independent."""
    from generators import library, product

    fs = [library.mess3(x=0.15, a=0.6) for _ in range(n_mess)] + \
         [library.bloch_walk(alpha=1.0, beta=3.0) for _ in range(n_bloch)]
    return product(*fs)


def run(mode: str, out: Path, *, quiet: bool = False) -> dict:
    from nets.report import plot_loss_curve
    from nets.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    timer = Timer()
    g = build_product(*PRODUCTS[mode])
    tr, an = dict(TRAIN[mode]), ANALYSIS[mode]
    with timer("train"):  # nets.train samples the product factor by factor (never the joint GHMM)
        res = train(dict(tr, process=g, model=MODELS[mode], seed=0, quiet=quiet, log_every=10,
                         out_dir=str(out / "run") if mode == "full" else None), resume=mode == "full")
    data = res.data
    say(f"== {g.name}: {data.alphabet_size} joint symbols, factor minimal dims {list(data.belief_dims)}, joint "
        f"minimal dim {data.belief_dim}")
    say(f"   {res.steps_done} steps, {res.timing['total_s']:.0f} s, loss/optimum {res.final_relative:.4f}")
    with timer("analysis"):
        an_out = analyse(res.model, data, an, out)
    dims, ov_t, ov_u, cum, final = (an_out[k] for k in ("dims", "ov_t", "ov_u", "cum", "layer"))
    d = res.model.config.d_model
    overlap = {"trained_decode": ov_t["decode_mean"], "untrained_decode": ov_u["decode_mean"],
               "trained_encode": ov_t["encode_mean"], "untrained_encode": ov_u["encode_mean"],
               "random_subspaces": float(np.mean([min(a, b) / d for a, b in
                                                  itertools.combinations(an_out["factor_dims"], 2)])),
               "trained_matrix": ov_t["decode_matrix"], "untrained_matrix": ov_u["decode_matrix"]}
    layer_dims = an_out["layer_dims"]
    with timer("figures"):
        plot_loss_curve({"exact targets" if tr["targets"] == "exact" else "sampled targets": res.history},
                        out / "loss_curve.png", title=f"{g.name}: loss / optimum")
        _plot_pca(cum, out / "pca_spectrum.png", dims, layer_dims[final]["trained_pca95"], d)
        _plot_overlap(ov_t["decode_matrix"], ov_u["decode_matrix"], [f.name for f in data.factors],
                      out / "subspace_overlap.png")
    results = {"paper": NAME, "mode": mode, "process": g.name, "factors": [f.name for f in data.factors],
               "alphabet_size": data.alphabet_size, "model": MODELS[mode], "train": tr,
               "training": {"steps": res.steps_done, "tokens": res.history[-1]["tokens"] if res.history else 0,
                            "seconds": res.timing["total_s"], "final_relative": res.final_relative,
                            "optimum_mean_nats": float(np.mean(res.optimum))},
               "analysis": {**an, "rows": an_out["rows"], "layer": final},
               "dims": dims, "dims_last_position": an_out["dims_last"], "explained_variance": an_out["explained"],
               "layer_dims": layer_dims, "activation_pca95": layer_dims[final]["trained_pca95"],
               "untrained_pca95": layer_dims[final]["untrained_pca95"], "decode": an_out["decode"],
               "overlap": overlap, "paper_numbers": PAPER, "seconds": dict(timer.seconds, total=timer.total),
               "hardware": hardware()}
    write_results(out, results, markdown(results))
    say(f"   activation pca95 {results['activation_pca95']} (untrained {results['untrained_pca95']}); factored "
        f"{dims['factored_prediction']}; joint {dims['joint_pca95_minimal_coords']}; overlap trained "
        f"{overlap['trained_decode']:.2e} vs untrained {overlap['untrained_decode']:.2e}")
    say(f"== done in {timer.total:.0f} s -> {out}")
    return results


def analyse(model, data, an: dict, out: Path) -> dict:
    """The three numbers on ``an["n_eval"]`` fresh sequences of ``data`` (a factored
    :class:`nets.data.BeliefData`), all positions pooled; factor figures into ``out``."""
    import torch

    from generators import factor_symbols
    from generators.representations import representation
    from nets.geometry_checks import affine_dimension, weighted_pca_dimension
    from nets.models import build_model
    from nets.probe import probe
    from nets.probe_plots import plot_belief_geometry

    ev = data.sample(an["n_eval"], np.random.default_rng(12345))
    L, K = data.context, len(data.factors)
    rows = an["n_eval"] * L
    # each factor's minimal belief coordinates, the constant one dropped (generators.representations)
    factor_b = [r.coordinates(b.numpy()).reshape(rows, -1) for r, b in zip(data.representations, ev.factor_beliefs)]
    factored = np.concatenate(factor_b, axis=1)
    joint_min = joint_coordinates(factor_b)
    fwords = factor_symbols(ev.words.numpy(), data.factor_sizes)
    joint_nat = _kron_rows([representation(f, "native").trajectories(fwords[..., k])[:, 1:L + 1].reshape(rows, -1)
                            for k, f in enumerate(data.factors)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        untrained = build_model(model.config).to(next(model.parameters()).device).eval()
    names = ["embed"] + [f"blocks.{i}.resid_post" for i in range(model.config.n_layers)]
    tokens = ev.tokens.numpy()
    acts, acts0 = _activations(model, tokens, names), _activations(untrained, tokens, names)
    final = names[-1]
    pca = lambda X: weighted_pca_dimension(X)[0]  # noqa: E731
    dims = {"factored_prediction": int(sum(affine_dimension(b) for b in factor_b)), "factored_pca95": pca(factored),
            "joint_minimal_coords": int(joint_min.shape[1]), "joint_pca95_minimal_coords": pca(joint_min),
            "joint_pca95_native_coords": pca(joint_nat), "joint_affine_dim": affine_dimension(joint_min)}
    last = (np.arange(rows) % L) == L - 1  # rows are sequence-major: position = row % L
    dims_last = {"activation_pca95": pca(acts[final][last]), "untrained_pca95": pca(acts0[final][last]),
                 "joint_pca95_minimal_coords": pca(joint_min[last]), "factored_pca95": pca(factored[last])}
    onehot = np.eye(data.alphabet_size)[tokens.reshape(-1)]
    explained = {"factor_beliefs": _explained(acts[final], factored),
                 "joint_beliefs": _explained(acts[final], joint_min),
                 "current_token": _explained(acts[final], onehot),
                 "untrained_factor_beliefs": _explained(acts0[final], factored),
                 "untrained_joint_beliefs": _explained(acts0[final], joint_min)}
    layer_dims = {n: {"trained_pca95": pca(acts[n]), "untrained_pca95": pca(acts0[n])} for n in names}
    cum = {"trained": weighted_pca_dimension(acts[final])[1], "untrained": weighted_pca_dimension(acts0[final])[1],
           "joint beliefs": weighted_pca_dimension(joint_min)[1],
           "factor beliefs (concatenated)": weighted_pca_dimension(factored)[1]}
    decode = []
    for k in range(K):
        pr = probe({final: acts[final]}, factor_b[k], concat=False, untrained={final: acts0[final]},
                   folds=an["folds"], seed=0, meta={"process": data.factors[k].name, "representation": "minimal"})
        pt = pr.points[final]
        decode.append({"factor": k, "process": data.factors[k].name, "r2": pt.r2, "rmse": pt.rmse,
                       "untrained_r2": (pt.untrained or {}).get("r2"), "shuffled_r2": pt.shuffled.get("r2")})
        plot_belief_geometry(pr, out / f"factor{k}_geometry.png",
                             title=f"factor {k}: {data.factors[k].name} — true beliefs | decoded from {final}")
    return {"rows": rows, "layer": final, "dims": dims, "dims_last": dims_last, "explained": explained,
            "layer_dims": layer_dims, "cum": cum, "decode": decode, "factor_dims": [b.shape[1] for b in factor_b],
            "ov_t": subspace_overlap(acts[final], factor_b), "ov_u": subspace_overlap(acts0[final], factor_b)}


def joint_coordinates(factor_coords: list) -> np.ndarray:
    """Joint beliefs of an independent product from the factors' minimal coordinates ``c_k``
    (rows, m_k): the Kronecker product of the factor beliefs ``(1, c_k)`` without its
    constant first entry, ``(rows, prod(m_k + 1) - 1)``.

    >>> joint_coordinates([np.array([[2.0]]), np.array([[3.0, 5.0]])]).tolist()
    [[3.0, 5.0, 2.0, 6.0, 10.0]]
    """
    ones = np.ones((factor_coords[0].shape[0], 1))
    return _kron_rows([np.concatenate([ones, c], axis=1) for c in factor_coords])[:, 1:]


# ---------------------------------------------------------------------- the overlap
def _orth(M: np.ndarray, rtol: float = 1e-8) -> np.ndarray:
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    return U[:, s > rtol * max(s.max(initial=0.0), 1e-300)]


def subspace_overlap(A: np.ndarray, factor_beliefs: list, *, var_keep: float = 0.999) -> dict:
    """Overlap of the activation subspaces that carry each factor's belief.

    Definition.  Centre the activations ``A`` (N, d) and each factor's beliefs ``B_k``
    (N, m_k).  Restrict ``A`` to its top principal components holding ``var_keep`` of the
    variance (so directions of numerically zero variance cannot be used), and fit the
    least-squares *decoder* ``W_k = A^+ B_k`` (d, m_k).  The factor-``k`` subspace ``S_k`` is the
    column space of ``W_k`` (the activation directions a linear read-out of factor ``k``
    uses).  The overlap of factors ``j, k`` is the mean squared cosine of the principal
    angles between ``S_j`` and ``S_k``::

        overlap(j, k) = || Q_j^T Q_k ||_F^2 / min(dim S_j, dim S_k)

    with ``Q`` orthonormal bases: 0 for orthogonal subspaces, 1 when one contains the
    other; ``min(m_j, m_k)/d`` on average for random subspaces.  The reported number is
    the mean over factor pairs.  The *encoding* variant uses instead the directions along
    which the activations move with factor ``k``'s belief: the columns of
    ``Cov(A, B_k) Cov(B_k)^-1`` (regression of activations on beliefs).

    Returns a dict with ``decode_mean``, ``encode_mean``, ``decode_matrix``, ``encode_matrix``.
    """
    A = np.asarray(A, dtype=np.float64)
    Ac = A - A.mean(axis=0)
    U, s, Vt = np.linalg.svd(Ac, full_matrices=False)
    var = s ** 2
    r = int(np.searchsorted(np.cumsum(var) / var.sum(), var_keep) + 1) if var.sum() > 0 else 0
    r = max(1, min(r, s.size))
    Q_dec, Q_enc = [], []
    for B in factor_beliefs:
        Bc = np.asarray(B, dtype=np.float64)
        Bc = Bc - Bc.mean(axis=0)
        W = Vt[:r].T @ ((U[:, :r].T @ Bc) / s[:r, None])  # (d, m): pseudo-inverse on the kept components
        Q_dec.append(_orth(W))
        G = Ac.T @ Bc @ np.linalg.pinv(Bc.T @ Bc)  # (d, m)
        Q_enc.append(_orth(G))
    out = {}
    for key, Qs in (("decode", Q_dec), ("encode", Q_enc)):
        K = len(Qs)
        M = np.eye(K)
        for j, k in itertools.combinations(range(K), 2):
            m = min(Qs[j].shape[1], Qs[k].shape[1])
            M[j, k] = M[k, j] = float(np.sum((Qs[j].T @ Qs[k]) ** 2) / m) if m else float("nan")
        off = [M[j, k] for j, k in itertools.combinations(range(K), 2)]
        out[f"{key}_matrix"] = M.tolist()
        out[f"{key}_mean"] = float(np.mean(off)) if off else float("nan")
    return out


# ---------------------------------------------------------------------- helpers
def _explained(A: np.ndarray, X: np.ndarray) -> float:
    """Share of the (total) variance of activations ``A`` explained by an affine least-squares
    fit on features ``X`` (in-sample; X has few columns relative to the rows)."""
    Ac = A - A.mean(axis=0)
    Xc = X - X.mean(axis=0)
    coef, *_ = np.linalg.lstsq(Xc, Ac, rcond=1e-10)
    return float(1.0 - np.sum((Ac - Xc @ coef) ** 2) / np.sum(Ac ** 2))


def _kron_rows(vs: list) -> np.ndarray:
    out = vs[0]
    for v in vs[1:]:
        out = (out[:, :, None] * v[:, None, :]).reshape(out.shape[0], -1)
    return out


def _activations(model, tokens: np.ndarray, names: list, batch: int = 2048) -> dict:
    """Activations ``name -> (N * L, d)`` float64, every position a row (:func:`nets.activations.collect`)."""
    from nets.activations import collect

    acts = collect(model, tokens, names, batch_size=batch)
    return {n: a.reshape(-1, a.shape[-1]).astype(np.float64) for n, a in acts.items()}


def _plot_pca(cum: dict, path: Path, dims: dict, trained95: int, d: int) -> None:
    from matplotlib.figure import Figure

    from nets.report import save_figure

    fig = Figure(figsize=(7, 4.2), dpi=110)
    ax = fig.subplots()
    for label, c in cum.items():
        c = np.asarray(c)
        ax.plot(np.arange(1, c.size + 1), c, "o-", ms=2.5, lw=1.2, label=f"{label} ({c.size} dims)")
    ax.axhline(0.95, color="k", ls="--", lw=0.8)
    ax.axvline(dims["factored_prediction"], color="tab:green", ls=":", lw=1,
               label=f"factored prediction ({dims['factored_prediction']})")
    ax.set_xscale("log")
    ax.set_xlabel("principal components")
    ax.set_ylabel("cumulative explained variance")
    ax.set_title(f"95% dimension: trained net {trained95} (d_model {d}), joint beliefs "
                 f"{dims['joint_pca95_minimal_coords']}, factored {dims['factored_prediction']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_overlap(Mt, Mu, labels, path: Path) -> None:
    from matplotlib.figure import Figure

    from nets.report import save_figure

    K = len(labels)
    fig = Figure(figsize=(9, 4), dpi=110)
    axes = fig.subplots(1, 2)
    for ax, M, t in ((axes[0], Mt, "trained"), (axes[1], Mu, "random init")):
        im = ax.imshow(np.asarray(M), vmin=0, vmax=1, cmap="viridis")
        for j in range(K):
            for k in range(K):
                ax.text(k, j, f"{M[j][k]:.1e}" if j != k else "1", ha="center", va="center", fontsize=7,
                        color="w" if M[j][k] < 0.5 else "k")
        ax.set_xticks(range(K))
        ax.set_yticks(range(K))
        ax.set_xticklabels([f"f{k}" for k in range(K)])
        ax.set_yticklabels([f"f{k}" for k in range(K)])
        ax.set_title(f"factor-subspace overlap, {t}", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.text(0.01, 0.01, "; ".join(f"f{k} = {labels[k]}" for k in range(K)), fontsize=7)
    save_figure(fig, path)


# ---------------------------------------------------------------------- report
def markdown(r: dict) -> str:
    from nets.report import markdown_table

    d, ov, t, hw, P = r["dims"], r["overlap"], r["training"], r["hardware"], r["paper_numbers"]
    dl = r["dims_last_position"]
    ex = r["explained_variance"]
    m, tr = r["model"], r["train"]
    big = r["mode"] == "full"
    lines = [
        "# Shai et al. 2026 — transformers learn factored representations",
        "",
        f"Mode **{r['mode']}**: `{r['process']}` ({r['alphabet_size']} joint symbols)"
        + ("" if big else " — a smaller product than the paper's 3 Mess3 + 2 Bloch walks (432 symbols), "
                          "so the predictions scale down: 2 dimensions per factor")
        + f". Hardware: {hw.get('cpu', '?')} ({hw.get('cpus')} CPUs), torch {hw.get('torch')} on {hw.get('device')}; "
        f"total {r['seconds']['total']:.0f} s.",
        "",
        "## The three numbers",
        "",
        markdown_table(["quantity", "paper (3 Mess3 + 2 Bloch, trained at scale)", "ours"], [
            ["95%-variance dim, joint beliefs", P["joint_pca95"],
             f"{d['joint_pca95_minimal_coords']} (of {d['joint_minimal_coords']} coords; native coords: "
             f"{d['joint_pca95_native_coords']})"],
            ["factored prediction (sum of factor belief dims)", P["factored_prediction"],
             f"{d['factored_prediction']} (their 95% dim: {d['factored_pca95']})"],
            ["95%-variance dim, final residual stream (trained)", f"~{P['trained_pca95']}",
             f"{r['activation_pca95']} of d_model {m['d_model']} (random init: {r['untrained_pca95']})"],
            ["same, last position only (joint / factored / trained / init)", "-",
             f"{dl['joint_pca95_minimal_coords']} / {dl['factored_pca95']} / {dl['activation_pca95']} / "
             f"{dl['untrained_pca95']}"],
            ["factor-subspace overlap, trained", P["overlap_trained"], f"{ov['trained_decode']:.2e}"],
            ["factor-subspace overlap, random init", f"~{P['overlap_init']}", f"{ov['untrained_decode']:.2e}"],
        ]),
        "",
        f"Overlap = mean over factor pairs of the mean squared cosine of the principal angles between the "
        "subspaces of the least-squares decoders of each factor's beliefs from the final residual stream "
        "(restricted to the components with 99.9% of its variance); 0 = orthogonal, random 2-dim subspaces "
        f"of R^{m['d_model']} give {ov['random_subspaces']:.3f} on average. With the *encoding* directions "
        f"(regression of activations on beliefs) instead: trained {ov['trained_encode']:.2e}, random init "
        f"{ov['untrained_encode']:.2e}.",
        "",
        "Share of the final residual stream's variance explained linearly by: the factor beliefs "
        f"(concatenated) {ex['factor_beliefs']:.3f}, the joint beliefs {ex['joint_beliefs']:.3f}, the current "
        f"token (one-hot) {ex['current_token']:.3f}; random init: factor {ex['untrained_factor_beliefs']:.3f}, "
        f"joint {ex['untrained_joint_beliefs']:.3f}. (Joint beliefs contain the factor beliefs as coordinates, "
        "so the joint share is never smaller; the gap is what the cross terms add.)",
        "",
        "Per-factor decoding from the final residual stream (held-out R², `nets.probe.probe`):",
        "",
        markdown_table(["factor", "process", "R² trained", "R² random init", "R² shuffled"],
                       [[x["factor"], x["process"], x["r2"], x["untrained_r2"], x["shuffled_r2"]] for x in r["decode"]]),
        "",
        "95%-variance dimension by layer: " + ", ".join(
            f"{n} {v['trained_pca95']} (init {v['untrained_pca95']})" for n, v in r["layer_dims"].items()),
        "",
        "![PCA spectrum](pca_spectrum.png)",
        "",
        "![overlap](subspace_overlap.png)",
        "",
        *[f"![factor {x['factor']}](factor{x['factor']}_geometry.png)" for x in r["decode"]],
        "",
        "![loss](loss_curve.png)",
        "",
        "## Protocol and differences",
        "",
        f"Transformer {m['n_layers']} layers, d_model {m['d_model']}, {m['n_heads']} heads x {m['d_head']}, d_mlp "
        f"{m['d_mlp']}, context {tr['context']}; {tr['optimizer']} lr {tr['lr']}, batch {tr['batch_size']}, "
        f"{tr['targets']} next-symbol targets; {t['steps']:,} steps ({t['tokens']:,} tokens, {t['seconds']:.0f} s), "
        f"final loss {t['final_relative']:.4f} x optimum ({t['optimum_mean_nats']:.4f} nats).",
        "Analysis on "
        f"{r['analysis']['rows']:,} (sequence, position) rows from {r['analysis']['n_eval']:,} fresh sequences, all "
        "positions pooled, uniform weights (= probability weighting by sampling).",
        "",
        "- Paper's model: 4 layers, d_model 120, 3 heads x 40, d_mlp 480, AdamW 5e-4, batch 25,000, 500k steps. "
        + ("Same here." if big else "Quick mode: a 2-layer d_model-64 net for ~9 CPU minutes on the smaller product."),
        "- Joint beliefs: Kronecker products of the factors' minimal belief vectors (1, b_k) with the constant "
        "coordinate dropped; the 95% dimension depends on the coordinates (the native ones — probability "
        "vectors ⊗ Gell-Mann coordinates — are given too). The paper's 135 is for its own coordinates.",
        "- The overlap definition is ours (the paper's exact formula is not in our notes); the comparison is "
        "trained vs random init under the same definition.",
        f"- Training: `nets.train.train` ({tr['optimizer']}, weight decay {tr.get('weight_decay')}: the paper's "
        "optimizer states no weight decay, so AdamW's default); `nets.data.BeliefData` samples the product factor "
        "by factor (each factor's minimal GHMM, joint symbols in mixed radix, the exact joint next-symbol "
        "distribution as the outer product of the factors'), so the joint GHMM is never built.",
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["seconds"].items()),
        "",
        "Reproduce: `python -m papers.shai2026_factored --quick` (or `qbelief paper shai2026_factored`); "
        "`--full` for the paper's product and scale (GPU).",
        "",
    ]
    return "\n".join(lines)
