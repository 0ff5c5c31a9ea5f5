"""The write-up of :class:`~.experiment.Shai2024`: every number a mean with a 95% interval
over seeds (:mod:`nets.stats`) beside the paper's value and the controls; every verdict is
computed from the intervals (:func:`nets.stats.compare`)."""

from __future__ import annotations

import json
from pathlib import Path

from nets.stats import compare

from . import figures
from .mess3 import PAPER_MSE, PAPER_MSE_FINAL
from .rrxor import PAPER, VIEW, layer_points

__all__ = ["write_report", "verdict_words"]

INIT = {"torch": "PyTorch init", "transformer_lens": "TransformerLens init"}
#: a prediction keeping less than this share of the beliefs' variance has collapsed to a point
COLLAPSED = 0.1
WHOSE = {"paper": "the paper's (in-sample)", "ours": "our (held-out)"}


def _arch(t: dict) -> str:
    heads = f"{t['n_heads']} head{'s' if t['n_heads'] > 1 else ''} of {t['d_head']}"
    return (f"{t['n_layers']} layer{'s' * (t['n_layers'] > 1)}, {heads}, d_model {t['d_model']}, d_mlp "
            f"{t['d_mlp']}, {t['act']}, LayerNorm, context {t['context']}")


def _optimizer(t: dict) -> str:
    return (f"{t['optimizer']} lr {t['lr']}, batch {t['batch_size']}, {t['data_mode']} data, {t['targets']} "
            "next-token targets")


def verdict_words(cmp: dict, iv, paper: float | None) -> str:
    """Plain words for a :func:`nets.stats.compare` outcome: against the paper (matches /
    below / above) and which controls the interval is separated from."""
    parts = []
    if paper is not None:
        parts.append("matches the paper" if cmp["matches_paper"] else
                     f"{'below' if iv.hi < paper else 'above'} the paper")
    beat = [k for k, b in cmp["beats"].items() if b]
    tied = [k for k, b in cmp["beats"].items() if not b]
    if beat:
        parts.append("beats " + ", ".join(beat))
    if tied:
        parts.append("not separated from " + ", ".join(tied))
    return "; ".join(parts)


def write_report(results, rep, out: Path) -> None:
    findings: list[str] = []
    mess3_rows, mess3_ours, collapse = _mess3(results, findings)
    layers, dist = _rrxor(results, findings)
    rep.section("What holds and what does not")
    rep.text(f"Mode **{results.mode.name}**, {len(results.mode.seeds)} seeds per configuration; every number is a "
             "mean with a 95% t interval over seeds. The verdicts below are computed from the intervals.")
    rep.bullets(findings)

    rep.section("A. Mess3(0.05, 0.85): the belief simplex in the final residual stream")
    first = next(r for r in results.runs if r.group.startswith("mess3"))
    rep.text(f"The paper's network ({_arch(first.train)}) and protocol (plain SGD, lr {first.train['lr']}, batch "
             f"{first.train['batch_size']}, fresh sampled sequences, sampled next-token targets), "
             "trained from PyTorch's default initialization (ours) and from TransformerLens's (the paper's: every "
             "weight N(0, (0.8/sqrt(d_model))^2), biases 0). Controls: the same run's network at step 0 "
             "(untrained) and, as in the paper, the beliefs of all (input, position) pairs permuted at random, "
             "refitted and scored against the true beliefs (shuffled).")
    ctx = first.train["context"]
    rep.text(f"**The paper's protocol** (its Figure 6 notebook): all 3^{ctx} inputs at all {ctx} positions, every "
             "(input, position) pair once, affine least squares from the final residual stream before the final "
             "LayerNorm to the 3-state belief, fitted and scored on the same rows; MSE over inputs x positions x "
             "coordinates.")
    rep.comparison(mess3_rows)
    rep.text("**Our probe** on the same rows and weights: fitted on 80% of the prefixes (truncated-SVD rank by "
             f"{results.mode.analysis['folds']}-fold cross-validation), scored on the held-out 20%; its shuffled "
             "control permutes beliefs among prefixes of the same length (every prefix keeps its weight).")
    rep.table(["tokens", "init", "held-out MSE", "held-out R^2", "shuffled MSE", "untrained MSE (step 0)"],
              mess3_ours)
    rep.text(collapse)
    rep.figure(out / "mess3_mse_trajectory.png", "MSE of the paper's fit during training (mean and 95% interval "
               "over seeds) against the paper's values (stars); dotted: the untrained networks")
    figures.mse_trajectory(results, out / "mess3_mse_trajectory.png")
    for init in _mess3_inits(results):
        rep.figure(out / f"mess3_simplex_{init}.png", f"True beliefs | network | shuffled control ({INIT[init]}, "
                   "first seed)")
    rep.figure(out / "mess3_belief_fractal.png", "The exact belief fractal (mixed-state presentation)")

    rep.section("B. RRXOR: the geometry across layers, and the pairwise-distance R^2")
    rr = results.group_runs("rrxor")[0]
    n = results.metrics(rr.key)["rows"]
    rep.text(f"{_arch(rr.train)}; {_optimizer(rr.train)}, {rr.train['steps']:,} steps, loss "
             f"{results.interval('rrxor', 'loss_relative').format(4)} x the optimum. Probe rows: the {n['distinct']} "
             f"distinct prefixes of the {n['inputs']} allowed {rr.train['context']}-symbol inputs, each weighted by "
             f"the number of inputs sharing it ({n['pairs']} input x position pairs).")
    rep.table(["point", "held-out R^2 (ours)", "shuffled R^2", "untrained R^2", "in-sample MSE (paper's)",
               "untrained in-sample MSE"], layers)
    rep.figure(out / "rrxor_fit_by_layer.png", "Held-out R^2 by layer (mean and 95% interval over seeds)")
    figures.fit_by_layer(results, out / "rrxor_fit_by_layer.png")
    rep.text("**Distance R^2, two definitions.** *Paper's* (its Figure 7 notebook): ordinary least squares fitted "
             "in sample from the concatenation of all 12 residual hooks (1536 columns for 1046 distinct rows: the "
             "fit can nearly interpolate; the authors' float32 singular-value cutoff), then the R^2 of a linear fit "
             "of all pairwise distances of the predicted beliefs on those of the true beliefs (and of the "
             "next-token distributions), over all input x position pairs. *Ours*: the concatenated layers' probe "
             "fitted on 80% of the prefixes (rank by cross-validation), distances over the held-out 20%. Ceiling: "
             "true beliefs against true next-token distributions on the same rows (what a perfect probe scores).")
    rep.table(["definition", "distances vs", "paper", "trained", "untrained (own init)", "untrained (other init)",
               "shuffled", "ceiling", "verdict"], dist)
    view = out / VIEW  # report.html: the same in 3-D, drag to rotate
    rep.figure(out / "rrxor_geometry.png", "The 36 belief states and the paper's in-sample fit of the trained and "
               "of the untrained network (first seed)",
               interactive=json.loads(view.read_text()) if view.is_file() else None)
    hist = {f"Mess3, {INIT[r.params['init']]}, seed {r.seed}": results.histories[r.key] for r in results.runs
            if r.group.startswith("mess3") and r.seed == results.mode.seeds[0]}
    hist.update({f"RRXOR, seed {r.seed}": results.histories[r.key] for r in results.group_runs("rrxor")})
    figures.loss_curves(hist, out / "loss_curves.png")
    rep.figure(out / "loss_curves.png", "Training loss / Bayes-optimal loss")
    _differences(results, rep)


def _mess3_inits(results) -> list[str]:
    return [g.split("-", 1)[1] for g in results.groups if g.startswith("mess3-")]


def _mess3(results, findings: list[str]):
    rows, ours, status = [], [], {}
    last = None
    for init in _mess3_inits(results):
        g = f"mess3-{init}"
        stages = sorted(int(k) for k in results.metrics(results.group_runs(g)[0].key)["stages"])
        last = stages[-1]
        unt = results.interval(g, "stages.0.paper.mse_pre_ln")
        unt_ours = results.interval(g, "stages.0.ours.mse")
        for s in stages[1:]:
            tokens = int(results.values(g, f"stages.{s}.tokens")[0])
            iv = results.interval(g, f"stages.{s}.paper.mse_pre_ln")
            shuf = results.interval(g, f"stages.{s}.paper.shuffled.mse")
            paper = PAPER_MSE.get(tokens)
            cmp = compare(iv, paper=paper, controls={"untrained": unt, "shuffled": shuf}, higher_is_better=False)
            rows.append((f"MSE at {tokens:.2g} tokens, {INIT[init]}", paper, iv,
                         {"untrained": unt, "shuffled": shuf}, verdict_words(cmp, iv, paper)))
            if paper is not None:
                status.setdefault(init, []).append(f"{tokens:.2g}: {iv.format(4)} ({verdict_words(cmp, iv, paper)})")
            ours.append([f"{tokens:.2g}", INIT[init]]
                        + [results.interval(g, f"stages.{s}.ours.{k}") for k in ("mse", "r2", "shuffled_mse")]
                        + [unt_ours])
        post = results.interval(g, f"stages.{last}.paper.mse_post_ln")
        tokens = int(results.values(g, f"stages.{last}.tokens")[0])
        paper = PAPER_MSE_FINAL["post_ln"] if tokens == max(PAPER_MSE) else None
        rows.append((f"MSE after the final LayerNorm at {tokens:.2g} tokens, {INIT[init]}", paper, post, {},
                     verdict_words(compare(post, paper=paper), post, paper) if paper else "-"))
        at = "; ".join(status[init]) if init in status else "none of the paper's token counts is reached in this mode"
        findings.append(f"Mess3, {INIT[init]}: the MSE of the paper's fit at the paper's token counts: {at}. "
                        f"Untrained network (step 0): {unt.format(4)}.")
    reached = max(PAPER_MSE) <= int(results.values(f"mess3-{_mess3_inits(results)[0]}", f"stages.{last}.tokens")[0])
    if not reached:
        findings.append(f"Mess3 after 6.3e8 tokens (paper: MSE {PAPER_MSE_FINAL['pre_ln']}, "
                        f"{PAPER_MSE_FINAL['post_ln']} after LayerNorm): not reached in this mode (the full mode "
                        "trains that far on a GPU).")
    spread = _pooled(results, [f"mess3-{i}" for i in _mess3_inits(results)], f"stages.{last}.paper.shuffled.spread")
    dist = _pooled(results, [f"mess3-{i}" for i in _mess3_inits(results)],
                   f"stages.{last}.paper.shuffled.centre_distance")
    held = ("collapses to the simplex centre, as in the paper" if spread.hi < COLLAPSED else
            "does not collapse to the centre")
    collapse = (f"Shuffled-belief control (last step, all runs): its predictions keep {spread.format(4)} of the "
                f"beliefs' variance (a collapse: below {COLLAPSED}) and their mean lies {dist.format(4)} from the "
                f"simplex centre: the control {held}.")
    findings.append(collapse)
    return rows, ours, collapse


def _pooled(results, groups: list[str], path: str):
    from nets.stats import seed_interval

    import numpy as np

    return seed_interval(np.concatenate([results.values(g, path) for g in groups]))


def _rrxor(results, findings: list[str]):
    L = sum(1 for k in results.metrics(results.group_runs("rrxor")[0].key)["layers"]["points"]
            if k.startswith("blocks."))
    man = results.metrics("manifolds")["rrxor"]
    findings.append(f"RRXOR has {man['n_beliefs']} distinct belief states (paper {PAPER['n_beliefs']}; mixed-state "
                    f"presentation {'closed' if man['closed'] else 'not closed'} at depth {man['depth']}).")
    layers = []
    for p in layer_points(L) + ["concat"]:
        iv = lambda k: results.interval("rrxor", f"layers.points.{p}.{k}")  # noqa: E731
        layers.append([p, iv("ours.r2"), iv("ours.shuffled_r2"), iv("ours.untrained_r2"), iv("paper.mse"),
                       iv("paper.untrained_mse")])
    gain = results.interval("rrxor", "layers.concat_gain")
    cmp = compare(gain, controls={"zero": 0.0})
    best = [results.metrics(r.key)["layers"]["best_single"] for r in results.group_runs("rrxor")]
    top = max(set(best), key=best.count)
    findings.append(f"RRXOR geometry across layers: the concatenation's held-out R^2 minus the best single point's "
                    f"(`{top}` in {best.count(top)} of {len(best)} seeds) is {gain.format(3)}: "
                    + ("the concatenation fits better than any single layer, as the paper says." if cmp["beats"]["zero"]
                       else "not separated from zero: the paper's 'in no single layer but in the concatenation' is "
                            "not reproduced at this training length."))
    mse = {p: results.interval("rrxor", f"layers.points.{p}.paper.mse") for p in layer_points(L)}
    single = min(mse, key=lambda p: mse[p].mean)
    cat, cat_u = (results.interval("rrxor", f"layers.points.concat.paper.{k}") for k in ("mse", "untrained_mse"))
    findings.append(f"Under the paper's in-sample MSE the concatenation wins ({cat.format(4)} against "
                    f"{mse[single].format(4)} for the best single point `{single}`), but so does the untrained "
                    f"network's concatenation ({cat_u.format(4)}): "
                    + ("it beats every trained single point, so the in-sample comparison rewards columns, not "
                       "training." if cat_u.hi < mse[single].lo else "it does not beat the best trained single point."))
    dist = []
    for d in ("paper", "ours"):
        for q in ("beliefs", "next"):
            iv = lambda k: results.interval("rrxor", f"distances.{k}.{d}.{q}")  # noqa: E731
            tr, un, uo, sh = iv("trained"), iv("untrained"), iv("untrained_other"), iv("shuffled")
            ceil = results.interval("rrxor", f"distances.ceiling.{d}") if q == "next" else None
            paper = PAPER[f"dist_r2_{q}"]
            cmp = compare(tr, paper=paper, controls={"untrained": un, "shuffled": sh})
            dist.append([d, "true beliefs" if q == "beliefs" else "next-token distributions", paper, tr, un, uo, sh,
                         ceil, verdict_words(cmp, tr, paper)])
            if q == "beliefs":
                findings.append(f"RRXOR distance R^2 vs true beliefs, {WHOSE[d]} definition: trained {tr.format(3)} "
                                f"(paper {paper}), untrained {un.format(3)}, shuffled {sh.format(3)}: "
                                f"{verdict_words(cmp, tr, paper)}.")
            else:
                side = compare(tr, controls={"ceiling": ceil})["beats"]["ceiling"]
                below = compare(tr, controls={"ceiling": ceil}, higher_is_better=False)["beats"]["ceiling"]
                where = ("above the ceiling: the represented geometry follows the next-token distributions more "
                         "closely than the true beliefs do" if side else "below the ceiling" if below else
                         "not separated from the ceiling")
                findings.append(f"RRXOR distance R^2 vs next-token distributions, {WHOSE[d]} definition: trained "
                                f"{tr.format(3)} (paper {paper}); true beliefs score {ceil.format(3)} (the ceiling): "
                                f"{where}; {verdict_words(cmp, tr, paper)}.")
    share = {d: (results.interval("rrxor", f"distances.untrained.{d}.beliefs").mean
                 / results.interval("rrxor", f"distances.trained.{d}.beliefs").mean) for d in ("paper", "ours")}
    rr = results.group_runs("rrxor")[0]
    cols, rows = 3 * L * rr.train["d_model"], results.metrics(rr.key)["rows"]["distinct"]
    findings.append(f"What the two definitions measure: an untrained network reaches {share['paper']:.0%} of the "
                    f"trained network's distance R^2 under the paper's in-sample definition and {share['ours']:.0%} "
                    f"under the held-out one. The in-sample fit ({cols} columns for {rows} distinct prefixes) "
                    "measures mostly its own capacity; the held-out fit measures what training added.")
    return layers, dist


def _differences(results, rep) -> None:
    quick = results.mode.name != "full"
    rep.section("Differences from the paper")
    items = [
        "Initialization: both PyTorch's defaults (our library's) and TransformerLens's are run for Mess3; RRXOR is "
        "trained from PyTorch's (TransformerLens's with `--protocol paper`) and both untrained networks are its "
        "controls.",
        "The paper's fits are in sample; ours are held out with the rank chosen by cross-validation. Both are "
        "reported: an in-sample fit with more columns than distinct rows (RRXOR's 1536 vs 1046) scores an "
        "untrained network nearly as high as a trained one.",
        "The paper's singular-value cutoff is emulated as float32 machine epsilon (scikit-learn's "
        "`LinearRegression` before 1.6 on float32 activations); with a float64 cutoff its RRXOR fits interpolate "
        "(R^2 ~ 1 for every network).",
    ]
    if quick:
        rr, m3 = results.group_runs("rrxor")[0].train, next(r for r in results.runs if r.group.startswith("mess3"))
        tokens = m3.train["steps"] * m3.train["batch_size"] * m3.train["context"]
        items += [f"Training length: Mess3 stops at {tokens:.2g} tokens (the paper: 6.3e8); RRXOR is trained with "
                  f"{_optimizer(rr)} for {rr['steps']:,} steps (lr halved on plateaus, gradients clipped at 1) "
                  "instead of plain SGD with sampled targets for 5.1e8 tokens: plain SGD makes almost no progress "
                  "on RRXOR in CPU minutes.",
                  "No GPU was available in the session that wrote this mode; the full mode has not been run."]
    rep.bullets(items)
