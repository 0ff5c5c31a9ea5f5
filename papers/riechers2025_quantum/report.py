"""RESULTS.md of the Riechers et al. 2025 reproduction: every number a mean with a 95%
interval over seeds, beside its controls; verdicts computed from the intervals.

A metric is compared with its control *paired by seed* (both come from the same seed's
held-out prefixes): the interval of the per-seed difference (:func:`paired`) decides
"above" / "below" / "not separated" (:func:`separation`).  A published range is met when
the mean lies in it (:func:`range_verdict`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nets.stats import Interval, paired_interval

from . import figures
from .experiment import run_epochs
from .processes import probe_points

__all__ = ["write_report", "range_verdict", "paired", "separation"]

PAPER_MINIMAL = (0.99, 1.00)
PAPER_MARKOV = (0.36, 0.88)
PAPER_EPOCHS = (20, 40)
_RANGE_WORDS = {"in": "in the paper's range", "below": "below the paper's range", "above": "above the paper's range",
                "unresolved": "not resolved (the interval spans the paper's range but the mean lies outside it)"}


def range_verdict(iv: Interval, lo: float, hi: float) -> str:
    """An interval against a published range ``[lo, hi]``: ``"below"`` / ``"above"`` when
    the whole interval lies outside, ``"in"`` when the mean lies inside, else
    ``"unresolved"``.

    >>> range_verdict(Interval(0.95, 0.93, 0.97, 3), 0.99, 1.0), range_verdict(Interval(0.5, 0.4, 0.6, 3), 0.36, 0.88)
    ('below', 'in')
    >>> range_verdict(Interval(0.9, 0.7, 1.1, 3), 0.99, 1.0)
    'unresolved'
    """
    if iv.hi < lo:
        return "below"
    if iv.lo > hi:
        return "above"
    return "in" if lo <= iv.mean <= hi else "unresolved"


def paired(results, g: str, a: str, b: str) -> Interval:
    """Interval over seeds of the per-seed difference ``metric a - metric b`` in group ``g``
    (:func:`nets.stats.paired_interval`)."""
    return paired_interval(results.values(g, a), results.values(g, b))


def separation(diff: Interval) -> str:
    """``"above"`` / ``"below"`` when the difference's interval excludes 0, else ``"not separated"``.

    >>> separation(Interval(0.1, 0.05, 0.15, 3)), separation(Interval(0.1, -0.05, 0.25, 3))
    ('above', 'not separated')
    """
    return "above" if diff.lo > 0 else ("below" if diff.hi < 0 else "not separated")


def _groups(results, protocol: str) -> list[str]:
    return [g for g in results.groups if g.endswith(f"-{protocol}")]


def _label(g: str) -> str:
    p, arch, proto = g.split("-")
    return f"{p} / {arch}" + (" (paper's training)" if proto == "paper" else "")


def _vs(results, g: str, a: str, controls: dict) -> str:
    """``"above untrained (+0.08 [0.01, 0.15]), ..."``: each control paired with ``a``."""
    out = []
    for name, b in controls.items():
        d = paired(results, g, a, b)
        word = {"not separated": "not separated from"}.get(separation(d), separation(d))
        out.append(f"{word} {name} ({d.mean:+.3g} [{d.lo:+.3g}, {d.hi:+.3g}])")
    return ", ".join(out)


def write_report(results, rep, out: Path) -> None:
    """Fill ``rep`` (a :class:`nets.document.Report`) from the pooled ``results``; figures
    into ``out``."""
    ours, paper = _groups(results, "ours"), _groups(results, "paper")
    n = len(results.mode.seeds)
    rep.text("**Claim** (arXiv 2507.07432): networks trained on next-symbol prediction represent the belief "
             "geometry of the process's *minimal* generator -- classical (Mess3), quantum (Bloch walk) or "
             "post-quantum (Moon, FRDN): a linear probe of all layers concatenated recovers the minimal beliefs with "
             "cosine-similarity R^2 0.99-1.00 for every process and net, against 0.36-0.88 onto the beliefs of the "
             "order-3 Markov approximation; the probe's RMSE falls by more than 80% within 20-40 epochs; deeper "
             "layers and the concatenation fit best.",
             f"**This run** (mode {results.mode.name}, {n} seeds per configuration; every number is a mean with a "
             f"95% t interval over the seeds; a control is compared paired by seed): {len(ours)} process/net "
             "configurations under our training protocol" + (f" and {len(paper)} under the paper's" if paper else "")
             + ". No GPU was available: the full mode (the paper's 20,000 epochs) was not run.")
    _verdicts(results, rep, ours, paper)
    if ours:
        _headline(results, rep, ours, out)
    _trajectory(results, rep, ours + paper, out)
    if ours:
        _layers(results, rep, ours, out)
    for g in ours:
        if "representations" in results.metrics(results.group_runs(g)[0].key):
            _representations(results, rep, g)
    _training(results, rep, ours + paper)
    _differences(rep, results.mode)


def _verdicts(results, rep, ours, paper) -> None:
    """The claims, each checked against the intervals."""
    iv = results.interval
    items = []
    if ours:
        cos = {g: iv(g, "concat.cos_r2") for g in ours}
        for word in ("in", "unresolved", "below"):
            hit = [g for g in ours if range_verdict(cos[g], *PAPER_MINIMAL) == word]
            if hit:
                items.append(f"**cos R^2 onto the minimal beliefs** {_RANGE_WORDS[word]} 0.99-1.00: {len(hit)} of "
                             f"{len(ours)} configurations (" + ", ".join(f"{_label(g)} {cos[g].format()}" for g in hit)
                             + ").")
        for name, path in (("the untrained net", "concat.untrained.cos_r2"),
                           ("shuffled beliefs", "concat.shuffled.cos_r2"),
                           ("the Markov-3 beliefs (the paper's comparison)", "concat.markov3_targets.cos_r2")):
            won = [g for g in ours if separation(paired(results, g, "concat.cos_r2", path)) == "above"]
            items.append(f"**cos R^2 above {name}** (paired by seed) for {len(won)} of {len(ours)}"
                         + ("" if len(won) == len(ours) else "; not for " + ", ".join(
                             _label(g) for g in ours if g not in won)) + ".")
        mk = {g: range_verdict(iv(g, "concat.markov3_targets.cos_r2"), *PAPER_MARKOV) for g in ours}
        items.append(f"**Markov-3 cos R^2 in 0.36-0.88** for {sum(v == 'in' for v in mk.values())} of {len(ours)}"
                     + "".join(f"; {_label(g)} {iv(g, 'concat.markov3_targets.cos_r2').format()} {v}"
                               for g, v in mk.items() if v != "in") + ".")
        lay = {g: _layer_verdict(results, g) for g in ours}
        items.append(f"**deeper layers fit best**: the last layer above the first (paired) for "
                     f"{sum(v[1] == 'above' for v in lay.values())} of {len(ours)}; **the concatenation** not below "
                     f"the best single layer for {sum(v[0] != 'below' for v in lay.values())} of {len(ours)}.")
    for g in paper:
        n_hit = int(results.values(g, "trajectory.reached_80").sum())
        n = len(results.group_runs(g))
        e80 = iv(g, "trajectory.epochs_to_80") if n_hit else None
        where = "-" if e80 is None else ("earlier than 20 epochs" if e80.hi < PAPER_EPOCHS[0] else
                                         "within 20-40 epochs" if e80.lo <= PAPER_EPOCHS[1] else "later")
        items.append(f"**RMSE falls by >80% within 20-40 epochs** (the paper's optimizer, {_label(g)}): {n_hit} of {n} "
                     "seeds reached it" + (f", after {e80.format(1)} epochs: {where}" if e80 is not None else
                                           f" within {iv(g, 'training.epochs').hi:g} epochs") + ".")
    rep.section("Verdicts")
    rep.bullets(items)


def _headline(results, rep, groups, out) -> None:
    rep.section("Minimal beliefs vs Markov-3 beliefs (all layers concatenated)")
    iv = results.interval
    rows, rows_mk, rows_rmse = [], [], []
    for g in groups:
        cos = iv(g, "concat.cos_r2")
        boot = float(np.mean(results.values(g, "bootstrap.cos_r2_hi") - results.values(g, "bootstrap.cos_r2_lo"))) / 2
        rows.append((_label(g), "0.99-1.00", cos, {"untrained": iv(g, "concat.untrained.cos_r2"),
                                                  "shuffled": iv(g, "concat.shuffled.cos_r2"),
                                                  "paper's reading (in-sample)": iv(g, "concat.paper.cos_r2"),
                                                  "probe-input bootstrap half-width": boot},
                     _RANGE_WORDS[range_verdict(cos, *PAPER_MINIMAL)] + "; " + _vs(
                         results, g, "concat.cos_r2", {"untrained": "concat.untrained.cos_r2",
                                                       "shuffled": "concat.shuffled.cos_r2"})))
        mk = iv(g, "concat.markov3_targets.cos_r2")
        rows_mk.append((_label(g), "0.36-0.88", mk, {"minimal (same activations)": cos},
                        _RANGE_WORDS[range_verdict(mk, *PAPER_MARKOV)] + "; minimal " + _vs(
                            results, g, "concat.cos_r2", {"Markov-3": "concat.markov3_targets.cos_r2"})))
        ctrl = {"untrained": "concat.untrained.rmse", "shuffled": "concat.shuffled.rmse",
                "the last-3-symbols baseline": "markov3_features.rmse"}
        rows_rmse.append((_label(g), None, iv(g, "concat.rmse"), {k: iv(g, v) for k, v in ctrl.items()},
                          _vs(results, g, "concat.rmse", ctrl)))
    rep.text("Held-out cosine-similarity R^2 (20% of the prefixes) of the probe onto the minimal generator's "
             "beliefs, beside the same probe on a randomly initialized net and on beliefs shuffled across prefixes "
             "of the same length; the paper's reading (fit and score on every prefix) beside it. Each seed uses its "
             "own held-out split, so the interval over seeds holds both the training and the split noise; the "
             "bootstrap half-width (over the held-out prefixes of one net, averaged over seeds) is the probe-input "
             "noise alone. Verdicts: the mean against the paper's range, and each control paired by seed "
             "(difference and its interval).")
    rep.comparison(rows)
    rep.text("The paper's comparison: the same activations probed onto the beliefs of the order-3 Markov "
             "approximation (a finite-memory representation of the same data).")
    rep.comparison(rows_mk)
    rep.text("Probability-weighted RMSE (held out; lower is better), beside the controls and the memory baseline "
             "(the minimal beliefs predicted linearly from the Markov-3 beliefs, i.e. from the last three symbols).")
    rep.comparison(rows_rmse)
    figures.cos_r2_figure(results, groups, out / "cos_r2.png")
    rep.figure(out / "cos_r2.png", "cos R^2 per process and net (bars: means, whiskers: 95% intervals over seeds)")


def _trajectory(results, rep, groups, out) -> None:
    rep.section("The probe's RMSE during training")
    rep.text("The probe of the concatenated layers at checkpoints (step 0 is the run's own initialization; "
             "processes with more than 16,384 words of length 8 -- the Bloch walk -- are probed on the prefixes of "
             "4,096 sampled words, the others on every prefix; 5-fold CV). Epochs of 200 batches of 128. The paper: "
             "the RMSE falls by more than 80% within 20-40 epochs under its optimizer (Adam 1e-4, sampled targets); "
             "under ours (10x the learning rate, exact targets) epochs are not comparable with the paper's.")
    rows = []
    for g in groups:
        reached = results.values(g, "trajectory.reached_80")
        n_hit = int(reached.sum())
        e80 = results.interval(g, "trajectory.epochs_to_80") if n_hit else None
        ep = results.interval(g, "training.epochs")
        rows.append([_label(g), f"{n_hit} of {reached.size}", e80, ep.format(1),
                     results.interval(g, "trajectory.drop_final"), results.interval(g, "trajectory.rmse_init")])
    rep.table(["configuration", "seeds with an 80% drop", "epochs to the 80% drop (those seeds)", "epochs trained",
               "RMSE drop at the end", "RMSE at initialization"], rows)
    figures.trajectory_figure(results, groups, out / "rmse_trajectory.png")
    rep.figure(out / "rmse_trajectory.png", "probe RMSE relative to initialization (one line per seed)")


def _layer_names(results, g: str) -> list[str]:
    return probe_points(results.mode.analysis["arch"][g.split("-")[1]])


def _layer_verdict(results, g: str) -> tuple[str, str, str]:
    """(concatenation vs the best single layer, last layer vs first, the best layer's name),
    each comparison paired by seed."""
    names = _layer_names(results, g)
    best = max(names, key=lambda n: results.interval(g, f"layers.{n}.r2").mean)
    return (separation(paired(results, g, "concat.r2", f"layers.{best}.r2")),
            separation(paired(results, g, f"layers.{names[-1]}.r2", f"layers.{names[0]}.r2")), best)


def _layers(results, rep, groups, out) -> None:
    rep.section("Deeper layers and the concatenation")
    rows = []
    for g in groups:
        names = _layer_names(results, g)
        cat, deeper, best = _layer_verdict(results, g)
        rows.append([_label(g), best, results.interval(g, f"layers.{best}.r2"), results.interval(g, "concat.r2"),
                     results.interval(g, f"layers.{names[0]}.r2"), results.interval(g, f"layers.{names[-1]}.r2"),
                     f"concatenation {cat} the best layer; last layer {deeper} the first"])
    rep.table(["configuration", "best single layer", "its R^2", "concatenation R^2", "first layer R^2",
               "last layer R^2", "verdict (paired by seed)"], rows)
    names = {g: _layer_names(results, g) for g in groups}
    figures.layers_figure(results, groups, names, out / "fit_by_layer.png")
    rep.figure(out / "fit_by_layer.png", "held-out R^2 by layer (mean and 95% interval over seeds)")
    arrays = {tuple(g.split("-")[:2]): figures.load_arrays(out, g) for g in groups}
    procs = list(dict.fromkeys(g.split("-")[0] for g in groups))
    archs = list(dict.fromkeys(g.split("-")[1] for g in groups))
    titles = {tuple(g.split("-")[:2]): f"{g.split('-')[1]}: cos R$^2$ {results.interval(g, 'concat.cos_r2').mean:.3f}"
              for g in groups}
    if all(arrays.get((p, a)) is not None for p in procs for a in archs):
        figures.geometry_grid(arrays, procs, archs, titles, out / "belief_geometry.png")
        rep.figure(out / "belief_geometry.png", "minimal beliefs and each net's probe projection (first seed)")
        for spec, caption in figures.geometry_views(arrays, procs, archs):
            rep.interactive(spec, caption)


def _representations(results, rep, g) -> None:
    rep.section("Larger representations of the same data")
    rep.text(f"{_label(g)}: the concatenated activations probed onto the beliefs of other generators -- the native "
             "generator, a 6-state HMM of Mess3 with a hidden bit that records (noisily) whether the last transition "
             "stayed put (the same process, beliefs in a 5-dim simplex, the bit of no use for prediction) and the "
             "Markov-3 HMM (a different, approximate process). A net that holds the minimal belief and nothing more "
             "fits the larger representations worse.")
    iv = results.interval
    rows = []
    for key, label in (("minimal", "minimal generator"), ("native", "native generator"),
                       ("hidden_bit", "hidden-bit HMM (6 states)"), ("markov3", "Markov-3 HMM")):
        p = f"representations.{key}"
        vs = "-" if key == "minimal" else "minimal " + _vs(results, g, "representations.minimal.r2", {key: f"{p}.r2"})
        rows.append([label, int(iv(g, f"{p}.coordinates").mean), int(iv(g, f"{p}.belief_affine_dim").mean),
                     iv(g, f"{p}.r2"), iv(g, f"{p}.rmse"), vs])
    rep.table(["beliefs of", "coordinates", "affine dim of beliefs", "held-out R^2", "RMSE",
               "verdict (R^2, paired by seed)"], rows)
    rep.text(f"Effective dimension of the concatenated activations (weighted PCA, 95% of the variance): "
             f"{iv(g, 'representations.activation_pca95').format(1)}.")


def _training(results, rep, groups) -> None:
    rep.section("Training")
    iv = results.interval
    rows = [[_label(g), f"{iv(g, 'training.epochs').mean:g}", iv(g, "training.loss_relative").format(4),
             iv(g, "training.cpu_train_s").format(1), iv(g, "training.cpu_trajectory_s").format(1),
             iv(g, "training.cpu_analysis_s").format(1)] for g in groups]
    rep.table(["configuration", "epochs", "training loss / optimum (last 10% of steps)", "CPU s training",
               "CPU s checkpoint probes", "CPU s final analysis"], rows)


def _differences(rep, mode) -> None:
    rep.section("Differences from the paper")
    a = mode.analysis
    ours, paper = a["ours"], a["paper"]
    items = [
        f"**Training (ours).** Adam lr {a['train']['ours']['lr']:g} with *exact* next-symbol targets (the expected "
        "loss and gradient equal the sampled ones') and a constant learning rate, for "
        + "; ".join(f"{k}: " + ", ".join(f"{p} {run_epochs(ours, p, k):g}" for p in ours["processes"])
                    for k in ours["archs"]) + " epochs -- not the paper's 20,000 epochs at lr 1e-4. A configuration "
        "below 0.99 here is not evidence against the paper unless its trajectory has flattened (see the RMSE "
        "figure).",
        f"**Training (the paper's optimizer)** on {', '.join(paper['processes'])} with {', '.join(paper['archs'])}, "
        f"up to {max(run_epochs(paper, p, k) for p in paper['processes'] for k in paper['archs']):g} epochs"
        + (", stopped at the first checkpoint with an 80% RMSE drop." if paper["stop_drop"] else "."),
        "**Data.** Batches of 128 length-9 words drawn i.i.d. from the stationary process (``stream``), the same "
        "distribution as the paper's draws from the table of all length-9 words; the full mode's paper protocol "
        "uses the table itself.",
        "**Cosine-similarity R^2**: the paper gives no formula; ours is the squared probability-weighted cosine "
        "between the centered prediction and the centered truth (nets.probe), reported on held-out prefixes and, as "
        "the paper's reading, on the prefixes the probe was fitted to.",
        "**The vanilla RNN** stands for the three RNN kinds in quick mode (it is the cheapest on a CPU); LSTM and GRU "
        "run in the full mode.",
        "**Markov-3**: for the Bloch walk (4 symbols) the Markov-3 HMM has 64 states, for the others 27 or fewer.",
    ]
    rep.bullets(items)
