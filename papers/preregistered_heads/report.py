"""What the pooled seeds of :mod:`papers.preregistered_heads.experiment` show; every verdict
is computed from the intervals (:func:`pair_verdict`)."""

from __future__ import annotations

from pathlib import Path

from nets.stats import compare
from papers.piotrowski2025_attention.measure import is_testable
from papers.piotrowski2025_attention.report import interval, loss_noise, testability

from .heads import count_verdict

__all__ = ["write_report", "pair_verdict", "subtests"]


def _order(d: dict) -> list:
    return [d[k] for k in sorted(d, key=lambda k: int(k[1:]))]


def _pairs(results):
    """``[(protocol, l1, l2, a, head counts)]`` in run order."""
    seen: dict = {}
    for r in results.runs:
        if r.params.get("kind") == "trained":
            p = r.params
            hs = seen.setdefault((p["protocol"], p["l1"], p["l2"]), (p["protocol"], p["l1"], p["l2"], p["a"], []))[4]
            if p["heads"] not in hs:
                hs.append(p["heads"])
    return list(seen.values())


def _group(proto, l1, l2, H=None) -> str:
    from .experiment import ptag

    return f"{proto}-{ptag(l1, l2)}" + ("" if H is None else f"-H{H}")


def subtests(results, proto, l1, l2, hs: list, th: dict) -> list[dict]:
    """Each sub-test of a pair: ``{"name", "testable", "held_lambda", "held_effective",
    "text"}`` (held None: not determined at this scale, e.g. a head count not trained)."""
    out = []
    ivs = {H: results.interval(_group(proto, l1, l2, H), "loss.excess") for H in hs}
    P = th["predicted_heads"]
    cv = count_verdict(ivs, P)
    pair_hs = [h for h in ((P - 1, P) if P >= 2 else (1, 2)) if h in ivs]
    if len(pair_hs) == 2 and cv["held"] is not None:
        noise = max(loss_noise(results, _group(proto, l1, l2, h)) for h in pair_hs)
        words = f"{P} head(s) {'enough' if cv['enough'] else 'NOT enough'}" + (
            "" if P < 2 else f", {P - 1} {'not enough' if cv['needed'] else 'ALSO enough'}")
        out.append({"name": f"{P} heads", "testable": is_testable(th["count_signal"], noise),
                    "held_lambda": cv["held"], "held_effective": cv["held"],
                    "text": words + "; " + testability(th["count_signal"], noise, "the count")})
    Hmax = max(hs)
    g = _group(proto, l1, l2, Hmax)
    noise = loss_noise(results, g)
    n = results.values(g, "loss.excess").size
    for k, t in enumerate(_order(th["types"])):
        present = int(results.values(g, f"types.t{k}.present").sum())
        iv = interval(results, g, f"types.t{k}.rate")
        major = 2 * present > n
        hl = bool(major and iv is not None and not iv.excludes(t["lambda"]))
        he = bool(major and iv is not None and not iv.excludes(t["effective"]))
        nearer = None if iv is None else bool(abs(iv.mean - t["effective"]) < abs(iv.mean - t["lambda"]))
        out.append({"name": f"{t['parity']} head {t['lambda']:g} (effective {t['effective']:.2f})",
                    "testable": is_testable(t["signal"], noise),
                    "held_lambda": hl, "held_effective": he, "interval": iv, "present": present, "n": n,
                    "nearer_effective": nearer,
                    "text": f"found in {present} of {n} seeds; " + testability(t["signal"], noise, "this head")})
    return out


def pair_verdict(subs: list[dict], reading: str) -> str:
    """``held`` when every sub-test was testable and held under ``reading`` ("lambda" or
    "effective"), ``held where testable`` when the untestable ones are left out, ``failed
    (...)`` when a testable one did not hold, ``untestable`` when none is testable."""
    key = f"held_{reading}"
    tested = [s for s in subs if s["testable"] and s[key] is not None]
    if not tested:
        return "untestable at this scale"
    bad = [s["name"] for s in tested if not s[key]]
    if bad:
        return "failed (" + "; ".join(bad) + ")"
    return "held" if len(tested) == len(subs) else "held where testable"


def write_report(exp, results, rep) -> None:
    pairs = _pairs(results)
    th = {(pr, l1, l2): results.metrics(f"theory-{_group(pr, l1, l2)}") for pr, l1, l2, *_ in pairs}
    rep.text(f"Mode **{results.mode.name}**: {len(results.mode.seeds)} seeds per configuration; every number is a "
             "mean with a 95% t interval over seeds. No GPU was used: full mode is not run here. Protocols: "
             + "; ".join(sorted({f"{pr}: factors mess_n(2, lambda, a = {a:g}), head counts {hs}"
                                 for pr, _, _, a, hs in pairs})) + ".")
    _prediction(rep, pairs, th)
    _tradeoff(rep, results)
    _sweep(rep, results, pairs, th)
    verdicts = _types(rep, results, pairs, th)
    rep.section("Verdict per pair")
    rep.text("A sub-test counts only when testable: the most loss it can move (an upper bound, from the process) "
             "exceeds the seed-to-seed sd of the trained loss -- necessary, not sufficient, for the loss to show it. "
             "'As pre-registered' compares head rates with lambda, 'from the process' with the effective rate "
             "of `bayes.attention_decay_rates`; a head type holds when it is found in a majority of seeds and its rate "
             "interval contains the value; the count holds when the predicted count is enough and one fewer is not.")
    rep.table(["pair", "protocol", "as pre-registered (lambda)", "from the process (effective rate)",
               "head rates nearer the effective rate than lambda", "untestable sub-tests"], verdicts)
    _figures(rep, results, pairs, th, exp.out)


def _prediction(rep, pairs, th) -> None:
    rep.section("The prediction, made from the process")
    rep.text("Head types from each factor's modes (`heads.predicted_types`): rate |lambda| as pre-registered and the "
             "effective rate of the best attention-like filter; 'worth' is the most loss the head can move "
             "(lags >= 2 of what it serves, lags >= 3 for an even/odd head; nats per position). The product's own "
             "modes (lambda1 lambda2) are the rates a head tracking the joint belief would show.")
    rows = []
    for pr, l1, l2, a, _ in pairs:
        t = th[(pr, l1, l2)]
        types = "; ".join(f"{x['parity']} {x['lambda']:.2f} / {x['effective']:.3f} [{x['serves']}; worth "
                          f"{x['signal']:.1e}]" for x in _order(t["types"]))
        modes = ", ".join(f"{m['lambda']:+.2f} / {m['effective']:+.3f}" for m in _order(t["product_modes"]))
        rows.append([f"({l1:g}, {l2:g})", f"{pr} (a = {a:g})", t["predicted_heads"], types, modes,
                     f"{t['count_signal']:.1e}"])
    rep.table(["pair", "protocol", "heads", "types: parity lambda / effective", "product modes lambda / effective",
               "count worth"], rows)


def _tradeoff(rep, results) -> None:
    t = results.metrics("tradeoff")
    rep.section("Emission strength: the effective rate against the loss signal")
    rep.text("Weaker emissions (a toward 1/2) move the effective rate toward lambda but shrink the loss the lags "
             "carry, and with it what a sub-test can show. Exact values for one factor mess_n(2, +-lambda, a):")
    rows = []
    for a in sorted({v["a"] for v in t.values()}, reverse=True):
        r7, r3 = t[f"a{a:g}_l0.7"], t[f"a{a:g}_l0.3"]
        rows.append([a, r7["effective"], f"{r7['signal_lag2']:.1e}", f"{r7['signal_lag3']:.1e}", r3["effective"],
                     f"{r3['signal_lag2']:.1e}", f"{r3['signal_lag3']:.1e}"])
    rep.table(["a", "effective, |lambda| 0.7", "lags >= 2", "lags >= 3", "effective, |lambda| 0.3", "lags >= 2",
               "lags >= 3"], rows)


def _sweep(rep, results, pairs, th) -> None:
    rep.section("How many heads: the excess loss at each head count")
    allh = sorted({h for *_, hs in pairs for h in hs})
    rows = []
    for pr, l1, l2, a, hs in pairs:
        t = th[(pr, l1, l2)]
        cells = [results.interval(_group(pr, l1, l2, H), "loss.excess") if H in hs else None for H in allh]
        markov = sum(f["signal_lag2"] for f in t["factors"].values())
        count = [s for s in subtests(results, pr, l1, l2, hs, t) if s["name"].endswith("heads")]
        rows.append([f"({l1:g}, {l2:g}) {pr}", t["predicted_heads"], *cells, f"{markov:.1e}",
                     count[0]["text"] if count else "not determined: needs the counts P - 1 (or 2), P and more"])
    rep.table(["pair", "predicted"] + [f"H = {h} (nats)" for h in allh] + ["last-symbol predictor", "count test"],
              rows)


def _types(rep, results, pairs, th) -> list:
    rep.section("Head types at the largest head count")
    rows, verdicts = [], []
    for pr, l1, l2, a, hs in pairs:
        t = th[(pr, l1, l2)]
        g = _group(pr, l1, l2, max(hs))
        prod = min(_order(t["product_modes"]), key=lambda m: abs(abs(m["lambda"]) - abs(l1 * l2)))
        subs = subtests(results, pr, l1, l2, hs, t)
        for s, ty in zip([s for s in subs if "interval" in s], _order(t["types"])):
            iv = s["interval"]
            if iv is None:
                rows.append((f"{s['name']}, ({l1:g}, {l2:g}) {pr}", ty["lambda"], "-", {}, s["text"]))
                continue
            c = compare(iv, paper=ty["lambda"])
            cands = {"lambda": ty["lambda"], "the effective rate": ty["effective"],
                     "lambda1 lambda2": abs(prod["lambda"]), "its effective rate": abs(prod["effective"])}
            near = min(cands, key=lambda k: abs(cands[k] - iv.mean))
            v = (f"{'contains' if c['matches_paper'] else 'excludes'} lambda, "
                 f"{'excludes' if iv.excludes(ty['effective']) else 'contains'} the effective rate, "
                 f"{'excludes' if iv.excludes(abs(prod['lambda'])) else 'contains'} lambda1 lambda2 and "
                 f"{'excludes' if iv.excludes(abs(prod['effective'])) else 'contains'} its effective rate; nearest "
                 f"{near}; " + s["text"])
            rows.append((f"{s['name']}, ({l1:g}, {l2:g}) {pr}", ty["lambda"], iv,
                         {"effective": ty["effective"], "lambda1 lambda2": abs(prod["lambda"]),
                          "its effective": abs(prod["effective"]),
                          "untrained": interval(results, g, "untrained_fastest")}, v))
        untestable = [s["name"] for s in subs if not s["testable"]]
        found = [s for s in subs if s.get("nearer_effective") is not None]
        verdicts.append([f"({l1:g}, {l2:g})", f"{pr} (a = {a:g})", pair_verdict(subs, "lambda"),
                         pair_verdict(subs, "effective"),
                         f"{sum(s['nearer_effective'] for s in found)} of {len(found)}",
                         ", ".join(untestable) or "-"])
    rep.comparison(rows)
    return verdicts


def _figures(rep, results, pairs, th, out: Path) -> None:
    from nets.report import plot_loss_curve

    from .experiment import ptag

    rep.section("Figures")
    first = results.mode.seeds[0]
    hist = {f"({l1:g}, {l2:g}) {pr} H={max(hs)}": results.histories.get(f"{_group(pr, l1, l2, max(hs))}-s{first}", [])
            for pr, l1, l2, _, hs in pairs}
    plot_loss_curve(hist, out / "loss_curves.png", title=f"products of two Mess-2 processes, seed {first}")
    plot_head_rates(results, pairs, th, out / "head_rates.png")
    rep.figure(out / "head_rates.png", "matched head rates (95% intervals over seeds) against lambda (dashed) and "
                                       "the effective rate (solid)")
    rep.figure(out / "loss_curves.png", "training loss over the optimum")
    for pr, l1, l2, _, hs in pairs:
        f = out / f"attention_{pr}_{ptag(l1, l2)}.png"
        if f.is_file():
            rep.figure(f, f"attention by distance, ({l1:g}, {l2:g}), {pr}, {max(hs)} heads, seed {first}")


def plot_head_rates(results, pairs, th, path: Path) -> None:
    from nets.probe.plots import new_figure, save_figure

    fig = new_figure((1.9 * max(len(pairs), 2), 4.2))
    ax = fig.subplots()
    marks = {"all": "o", "even": "^", "odd": "v"}
    for i, (pr, l1, l2, a, hs) in enumerate(pairs):
        t = th[(pr, l1, l2)]
        g = _group(pr, l1, l2, max(hs))
        for k, ty in enumerate(_order(t["types"])):
            x = i + 0.12 * (k - 1)
            ax.hlines(ty["lambda"], x - 0.05, x + 0.05, colors="k", linestyles="--", lw=1)
            ax.hlines(ty["effective"], x - 0.05, x + 0.05, colors="C0", lw=1.5)
            iv = interval(results, g, f"types.t{k}.rate")
            if iv is not None:
                ax.errorbar([x], [iv.mean], yerr=[[iv.mean - iv.lo], [iv.hi - iv.mean]], fmt=marks[ty["parity"]],
                            color="C3", ms=6, capsize=3)
    ax.set_xticks(range(len(pairs)))
    ax.set_xticklabels([f"({l1:g}, {l2:g})\n{pr}, a={a:g}" for pr, l1, l2, a, _ in pairs], fontsize=8)
    ax.set_ylabel("|decay rate| per distance")
    ax.set_title("matched heads (o all, ^ even, v odd); dashed: lambda; solid: effective rate", fontsize=9)
    save_figure(fig, path)
