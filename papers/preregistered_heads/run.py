"""A pre-registered prediction (Simplex, 2025): attention heads of transformers trained on
the product of two independent Mess-type processes with repeated eigenvalues
(lambda1, lambda2) in {(.7,.7), (.7,.3), (.7,-.3), (.7,-.7)}.

Predicted head types (rate, parity):

* (.7, .7): one head, 0.7 on all distances;
* (.7, .3): two heads, 0.7 and 0.3;
* (.7, -.3): three heads, 0.7, and 0.3 on the even and on the odd distances;
* (.7, -.7): two heads, one 0.7 on all distances (shared by the 0.7 process and the even
  distances of the -0.7 process), one 0.7 on the odd distances.

Processes: :func:`papers.preregistered_heads.processes.mess_n` (``n = 2`` states, since
``lambda = -0.7`` is below the ``-1/(n-1)`` floor of any larger Mess-type process).  Each
model has more heads than any prediction needs; ``nets.attention.attention_analysis``
fits every head's decay, and each head is classified by its rate and parity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from papers.common import Timer, hardware, paper_main, write_results

NAME = "preregistered_heads"
PAIRS = [(0.7, 0.7), (0.7, 0.3), (0.7, -0.3), (0.7, -0.7)]
#: predicted head types: (|rate|, parity) with parity "all" / "even" / "odd"
PREDICTED = {
    (0.7, 0.7): [(0.7, "all")],
    (0.7, 0.3): [(0.7, "all"), (0.3, "all")],
    (0.7, -0.3): [(0.7, "all"), (0.3, "even"), (0.3, "odd")],
    (0.7, -0.7): [(0.7, "all"), (0.7, "odd")],
}
PROCESS = dict(n=2, a=0.85)
MODELS = {
    "tiny": dict(kind="transformer", n_layers=1, d_model=16, n_heads=4, d_head=4, d_mlp=32),
    "quick": dict(kind="transformer", n_layers=1, d_model=64, n_heads=4, d_head=16, d_mlp=256),
    "full": dict(kind="transformer", n_layers=1, d_model=64, n_heads=4, d_head=16, d_mlp=256),
}
TRAIN = {
    "tiny": dict(context=6, lr=3e-3, batch_size=64, steps=20, max_time_s=None),
    "quick": dict(context=10, lr=1e-3, batch_size=256, steps=1_000_000, max_time_s=165.0),
    "full": dict(context=10, lr=1e-3, batch_size=1024, steps=60_000, max_time_s=None, scheduler="cosine"),
}
#: head counts trained per pair (full mode also asks how many heads are *needed*)
HEAD_SWEEP = {"tiny": [4], "quick": [4], "full": [1, 2, 3, 4]}
ANALYSIS = {"tiny": dict(n_samples=256, n_eval=256), "quick": dict(n_samples=8192, n_eval=8192),
            "full": dict(n_samples=32768, n_eval=32768)}
RATE_TOL = 0.15


def main(argv=None) -> int:
    return paper_main(NAME, run, argv, description=__doc__.splitlines()[0])


def build_pair(l1: float, l2: float, n: int = 2, a: float = 0.85):
    from generators import product

    from .processes import mess_n

    return product(mess_n(n, l1, a), mess_n(n, l2, a))


def classify_head(h: dict, rates: list[float], tol: float = RATE_TOL) -> tuple:
    """(rate, parity) of a head fit (``HeadDecay`` dict): the nearest candidate |rate| within
    ``tol``; else ``("flat", parity)`` for |lambda| > 0.9 (near-uniform attention),
    ``("self", parity)`` for |lambda| < 0.1 or a single-distance head, ``("other", parity)``.
    The candidates are |lambda1|, |lambda2| and |lambda1 lambda2| (the product's third
    eigenvalue, which ``attention_analysis`` also matches heads to)."""
    lam = h["lam_abs"]
    if h["n_points"] < 2 or lam < 0.1:
        return ("self", h["parity"])
    best = min(rates, key=lambda r: abs(r - lam))
    if abs(best - lam) <= tol:
        return (round(best, 6), h["parity"])
    return ("flat" if lam > 0.9 else "other", h["parity"])


def verdict(observed: list[tuple], predicted: list[tuple]) -> dict:
    """Strict comparison of the head types found with the predicted ones: the prediction
    holds iff the set of types of all heads, except near-uniform ("flat") or current-token
    ("self") heads, equals the predicted set.  A head at another rate ("other", or the
    product eigenvalue lambda1 lambda2) is an extra type and makes it fail."""
    def key(t):
        return (str(t[0]), t[1])

    found = sorted({(t[0], t[1]) for t in observed if t[0] not in ("flat", "self")}, key=key)
    pred = sorted({(t[0], t[1]) for t in predicted}, key=key)
    return {"observed_types": [list(t) for t in found], "predicted_types": [list(t) for t in pred],
            "missing": [list(t) for t in pred if t not in found], "extra": [list(t) for t in found if t not in pred],
            "held": found == pred}


def assess(results: dict) -> dict:
    """Classify every head of every run and compare with :data:`PREDICTED` (in place)."""
    for e in results["pairs"]:
        l1, l2 = e["lambdas"]
        rates = sorted({round(abs(l1), 6), round(abs(l2), 6), round(abs(l1 * l2), 6)})
        for run in e["runs"]:
            types = [classify_head(h, rates, results.get("rate_tol", RATE_TOL)) for h in run["heads"]]
            for h, t in zip(run["heads"], types):
                h["type"] = [t[0], t[1]]
            run["verdict"] = verdict(types, PREDICTED[(l1, l2)])
        best = min(r["eval_relative"] for r in e["runs"])
        e["heads_needed"] = min(r["n_heads"] for r in e["runs"] if r["eval_relative"] <= best + 1e-3)
        e["predicted_heads"] = len(PREDICTED[(l1, l2)])
    results["held_count"] = sum(e["runs"][-1]["verdict"]["held"] for e in results["pairs"])
    return results


def run(mode: str, out: Path, *, quiet: bool = False) -> dict:
    from nets.attention import attention_analysis
    from nets.probe_plots import plot_attention_decay
    from nets.report import plot_loss_curve

    from nets.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    timer = Timer()
    tr, an = dict(TRAIN[mode]), ANALYSIS[mode]
    ctx = tr.pop("context")
    results = {"paper": NAME, "mode": mode, "process": PROCESS, "model": MODELS[mode], "train": dict(tr, context=ctx),
               "head_sweep": HEAD_SWEEP[mode], "analysis": an, "rate_tol": RATE_TOL, "pairs": []}
    histories = {}
    for l1, l2 in PAIRS:
        g = build_pair(l1, l2, **PROCESS)
        tag = f"pair_{l1:+.1f}_{l2:+.1f}".replace("+", "p").replace("-", "m").replace(".", "")
        say(f"== {g.name}")
        entry = {"lambdas": [l1, l2], "process": g.name, "runs": []}
        for H in HEAD_SWEEP[mode]:
            mc = dict(MODELS[mode], n_heads=H, d_head=MODELS[mode]["d_model"] // H)
            with timer(f"train {tag} H={H}"):  # the product is sampled factor by factor (nets.data)
                res = train(dict(tr, process=g, context=ctx, model=mc, optimizer="adam", targets="exact", seed=0,
                                 quiet=quiet, log_every=10, num_threads=1 if mode != "full" else None))
            with timer(f"analysis {tag} H={H}"):
                loss, _ = res.data.validation_loss(res.model, n_words=an["n_eval"], seed=999)
                ev = {"relative": loss / res.data.optimum_mean}
                rep = attention_analysis(res.model, g, n_samples=an["n_samples"], seed=1)
            heads = rep.to_dict()["heads"]
            run_rec = {"n_heads": H, "steps": res.steps_done, "seconds": res.timing["total_s"],
                       "eval_relative": ev["relative"], "optimum_mean_nats": res.data.optimum_mean, "heads": heads, "eigenvalues":
                           [[float(np.real(e)), float(np.imag(e))] for e in rep.eigenvalues],
                       "profile": rep.to_dict()["profiles"]}
            entry["runs"].append(run_rec)
            assess({"pairs": [entry], "rate_tol": RATE_TOL})
            types = [tuple(h["type"]) for h in heads]
            if H == max(HEAD_SWEEP[mode]):
                plot_attention_decay(rep, out / f"attention_{tag}.png",
                                     title=f"lambdas ({l1:g}, {l2:g}): {H} heads")
                histories[f"({l1:g}, {l2:g})"] = res.history
            say(rep.summary())
            say(f"   H={H}: loss/optimum {ev['relative']:.5f}; head types {types}; prediction held: "
                f"{run_rec['verdict']['held']}")
        results["pairs"].append(entry)
    assess(results)
    with timer("figures"):
        plot_loss_curve(histories, out / "loss_curves.png", title="products of two Mess-2 processes: loss / optimum")
        _plot_summary(results, out / "head_rates.png")
    results["seconds"] = dict(timer.seconds, total=timer.total)
    results["hardware"] = hardware()
    write_results(out, results, markdown(results))
    say(f"== prediction held for {results['held_count']} of {len(PAIRS)} pairs; done in {timer.total:.0f} s -> {out}")
    return results


def _plot_summary(r: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    from nets.report import save_figure

    fig = Figure(figsize=(7.5, 4.2), dpi=110)
    ax = fig.subplots()
    marks = {"all": "o", "even": "^", "odd": "v"}
    for i, e in enumerate(r["pairs"]):
        run = e["runs"][-1]
        for h in run["heads"]:
            ax.scatter(i + 0.06 * (h["head"] - 1.5), h["lam"], marker=marks[h["parity"]], s=45,
                       color=f"C{h['head']}", label=f"head {h['head']}" if i == 0 else None)
        for lam in e["lambdas"]:
            ax.hlines([lam], i - 0.3, i + 0.3, colors="k", linestyles="--", lw=0.8)
        ax.hlines([e["lambdas"][0] * e["lambdas"][1]], i - 0.3, i + 0.3, colors="gray", linestyles=":", lw=0.8)
    ax.set_xticks(range(len(r["pairs"])))
    ax.set_xticklabels([f"({e['lambdas'][0]:g}, {e['lambdas'][1]:g})" for e in r["pairs"]])
    ax.set_ylabel("fitted lambda (negative: parity-split head)")
    ax.set_title("fitted decay per head (o all, ^ even, v odd); dashed: lambda1, lambda2; dotted: lambda1*lambda2",
                 fontsize=9)
    ax.axhline(0, color="gray", lw=0.5)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, path)


def _t(t) -> str:
    """A head type as text: ``0.7/odd``, ``other/all``."""
    return f"{t[0]:g}/{t[1]}" if not isinstance(t[0], str) else f"{t[0]}/{t[1]}"


def markdown(r: dict) -> str:
    from nets.report import markdown_table

    hw, m, tr = r["hardware"], r["model"], r["train"]
    rows = []
    for e in r["pairs"]:
        run = e["runs"][-1]
        v = run["verdict"]
        heads = "; ".join(f"h{h['head']}: {h['lam']:+.2f} {h['parity']} -> "
                          + _t(h["type"])
                          for h in run["heads"])
        rows.append([f"({e['lambdas'][0]:g}, {e['lambdas'][1]:g})",
                     ", ".join(_t(t) for t in v["predicted_types"]), heads,
                     ", ".join(_t(t) for t in v["observed_types"]) or "-",
                     "**yes**" if v["held"] else "no", f"{run['eval_relative']:.5f}"])
    sweep = len(r["head_sweep"]) > 1
    tags = [f"pair_{e['lambdas'][0]:+.1f}_{e['lambdas'][1]:+.1f}".replace("+", "p").replace("-", "m").replace(".", "")
            for e in r["pairs"]]
    lines = [
        "# Pre-registered prediction: attention heads for products of two Mess-type processes",
        "",
        f"Mode **{r['mode']}**. Hardware: {hw.get('cpu', '?')} ({hw.get('cpus')} CPUs), torch {hw.get('torch')} on "
        f"{hw.get('device')}; total {r['seconds']['total']:.0f} s.",
        "",
        f"**The prediction held for {r['held_count']} of {len(r['pairs'])} lambda pairs** (strictly: a pair counts "
        "only if the set of types of all non-flat heads equals the predicted set; details below).",
        "",
        "## Processes",
        "",
        f"Each factor is `mess_n(n={r['process']['n']}, lam, a={r['process']['a']})` "
        "(`papers/preregistered_heads/processes.py`): transition matrix `M = lam I + (1-lam) J/n`, the new state "
        "emitted correctly with probability a. `sum_x T[x] = M` has spectrum {1, lam (n-1 times)} and acts as "
        "`lam I` on the whole non-stationary subspace — the Mess3 property behind a single attention decay. "
        "A classical process with that property needs `lam >= -1/(n-1)`, so lam = -0.7 forces n = 2 (Mess3 stops "
        "at -0.5); we use n = 2 for every factor so the four pairs differ only in lambda. The product's "
        "minimal-form eigenvalues are {lambda1, lambda2, lambda1 lambda2}.",
        "",
        "## Heads found vs predicted",
        "",
        f"One-layer transformer, {m['n_heads']} heads x {m['d_head']}, d_model {m['d_model']}, d_mlp {m['d_mlp']}, "
        f"context {tr['context']}. Each head's decay is fitted by `nets.attention.attention_analysis` "
        "(mean attention of the last position vs distance; parity-split heads get a negative rate fitted on "
        "their dominant parity) and classified to the nearest of |lambda1|, |lambda2| and |lambda1 lambda2| "
        f"(the product's third eigenvalue) within {r['rate_tol']} ('flat' = near-uniform attention, "
        "|lambda| > 0.9; 'self' = attends only to the current token; 'other' = any other rate). Types are "
        "written rate/parity. A head of type 'other' or at lambda1 lambda2 is an extra type: the prediction "
        "then fails.",
        "",
        markdown_table(["(l1, l2)", "predicted types", "heads (fitted lambda, parity -> type)", "types found",
                        "held", "loss/optimum"], rows),
        "",
        "loss/optimum: exact cross-entropy on 8192 fresh sequences over the Bayes-optimal loss (sum of the "
        "factors' myopic entropies). Every model is within a few 1e-4 of the optimum, so the loss barely "
        "constrains the far tail of the attention profile (weights ~0.7^9 = 0.04 of the first).",
        "",
        "![head rates](head_rates.png)",
        "",
        *[f"![attention {t}](attention_{t}.png)" for t in tags],
        "",
    ]
    if sweep:
        lines += ["## How many heads are needed (loss vs number of heads)", "",
                  markdown_table(["(l1, l2)", "predicted heads"] + [f"H={h}" for h in r["head_sweep"]] + ["needed"],
                                 [[f"({e['lambdas'][0]:g}, {e['lambdas'][1]:g})", e["predicted_heads"]]
                                  + [f"{x['eval_relative']:.5f}" for x in e["runs"]] + [e["heads_needed"]]
                                  for e in r["pairs"]]),
                  "", "'needed' = fewest heads whose exact held-out loss is within 1e-3 (relative) of the best.", ""]
    else:
        lines += ["The head-count sweep (1..4 heads, loss vs heads: is one head *enough* for (.7,.7)?) runs "
                  "only in `--full` mode.", ""]
    lines += [
        "![loss](loss_curves.png)",
        "",
        "## Caveats",
        "",
        "- With more heads than needed, the net may spread one decay over several heads, or leave a head "
        "nearly unused but still with a pattern; the verdict compares the *set of types*, not head counts.",
        "- A 0.3 decay leaves only 3-4 distances above the fit floor (0.3^4 ~ 0.008), so its rate and parity "
        "are less certain than 0.7's; short CPU training (quick mode) adds noise.",
        "- Mess-2 factors (2 states, 1-dim belief) instead of Mess3 for all pairs, as explained above.",
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["seconds"].items()),
        "",
        "Reproduce: `python -m papers.preregistered_heads --quick` (or `qbelief paper preregistered_heads`); "
        "`--full` adds the 1..4-head sweep and longer training (GPU).",
        "",
    ]
    return "\n".join(lines)
