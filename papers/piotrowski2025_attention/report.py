"""What the pooled seeds of :mod:`papers.piotrowski2025_attention.experiment` show, written
into a :class:`nets.document.Report`; every verdict is computed from the intervals."""

from __future__ import annotations

from pathlib import Path

from nets.document import fmt
from nets.stats import compare
from papers.experiment import Experiment, Mode

from .measure import is_testable

__all__ = ["FolderExperiment", "write_report", "interval", "loss_noise", "testability"]

PROTOCOL_TEXT = {"ours": "ours (exact targets)", "paper": "paper (sampled targets)"}


class FolderExperiment(Experiment):
    """An :class:`~papers.experiment.Experiment` whose ``report`` knows the output folder
    (``self.out``), for figures drawn from several runs (e.g. the loss curves)."""

    out: Path | None = None

    def execute(self, mode="quick", out=None, **kwargs):
        m = mode if isinstance(mode, Mode) else self.modes.get(mode)
        self.out = Path(out) if out is not None else self.default_out(m.name if m else str(mode))
        return super().execute(mode, self.out, **kwargs)


def interval(results, group: str, path: str):
    """The seed interval of ``path`` in ``group``, or None when no seed has it."""
    return results.interval(group, path) if results.values(group, path).size else None


def trained_groups(results):
    """``[(protocol, x, a, group)]`` in run order."""
    seen = {}
    for r in results.runs:
        if r.params.get("kind") == "trained":
            seen.setdefault(r.group, (r.params["protocol"], r.params["x"], r.params["a"], r.group))
    return list(seen.values())


def loss_noise(results, group: str) -> float:
    """Seed-to-seed standard deviation of the trained excess loss (NaN with one seed)."""
    v = results.values(group, "loss.excess")
    return float(v.std(ddof=1)) if v.size > 1 else float("nan")


def testability(signal: float, noise: float, what: str) -> str:
    ok = is_testable(signal, noise)
    return (f"{what} worth {signal:.1e} nats vs loss noise {noise:.1e}: "
            + ("testable" if ok else "UNTESTABLE at this scale (below the noise)"))


def write_report(exp, results, rep) -> None:
    from .experiment import tag

    groups = trained_groups(results)
    th = {tag(x, a): results.metrics(f"theory-{tag(x, a)}") for _, x, a, _ in groups}
    rep.text(f"Mode **{results.mode.name}**: {len(results.mode.seeds)} seeds per process; every number is a mean "
             "with a 95% t interval over seeds. No GPU was used: full mode is not run here.")
    _theory(rep, groups, th)
    rep.section("Verdicts in brief")
    rep.bullets(summary(results, groups, th))
    _loss(rep, results, groups, th)
    _attention(rep, results, groups, th)
    if any(results.values(g, "probe.mid.beliefs.r2").size for *_, g in groups):
        _geometry(rep, results, groups)
    _figures(rep, results, groups, exp.out)


def summary(results, groups, th) -> list[str]:
    """One computed sentence per claim and group (the tables below give the numbers)."""
    from .experiment import tag

    out = []
    for proto, x, a, g in groups:
        t, noise = th[tag(x, a)], loss_noise(results, g)
        head = f"({x:g}, {a:g}) {proto}:"
        iv = interval(results, g, "attention.fastest")
        if iv is not None:
            out.append(f"{head} fastest head {iv.format()}: {_rate_verdict(iv, abs(t['lambda']), abs(t['effective']))}"
                       + ("" if is_testable(t["signal_lag2"], noise) else " (UNTESTABLE: lags >= 2 below the noise)"))
        if t["parity_split"]:
            n = results.values(g, "attention.split").size
            k = int(results.values(g, "attention.split").sum())
            kp = int(results.values(g, "attention.parity_head").sum())
            ok = is_testable(t["signal_lag3"], noise)
            out.append(f"{head} even and odd heads in {k} of {n} seeds (a parity head in {kp}); the loss they serve "
                       f"(<= {t['signal_lag3']:.1e}) is {'above' if ok else 'below'} the loss noise ({noise:.1e}), "
                       f"and the trained excess loss is {fmt(results.interval(g, 'loss.excess'))}"
                       + ("" if ok else ": UNTESTABLE"))
        post, mid = interval(results, g, "probe.post.beliefs.r2"), interval(results, g, "probe.mid.beliefs.r2")
        if post is not None:
            gm = interval(results, g, "probe.mid.gasket_lambda.r2")
            out.append(f"{head} beliefs R^2 post-MLP {post.format()} vs post-attention {mid.format()}: "
                       f"{'post-MLP better' if post.lo > mid.hi else 'not separated'}; post-attention onto the "
                       f"gasket {gm.format()}: {'better than onto the beliefs' if gm.lo > mid.hi else 'not better'}")
    return out


def _theory(rep, groups, th) -> None:
    from .experiment import tag

    rep.section("What each process predicts (exact, no training)")
    rep.text("`bayes.attention_decay_rates`: lambda = 1 - 3x is the repeated eigenvalue of sum_x T[x] (the paper's "
             "rate, exact only in the weak-emission limit); the effective rate is the decay of the best "
             "attention-like linear filter of the past at this emission strength. The loss the lags >= 2 (attention "
             "distances >= 1) and >= 3 (distances >= 2: what an even/odd split can be worth) carry is the optimal "
             "loss with the last 1 or 2 symbols minus the optimal loss (`measure.lag_signal`, nats per position).")
    rows, seen = [], set()
    for _, x, a, _ in groups:
        if (x, a) in seen:
            continue
        seen.add((x, a))
        t = th[tag(x, a)]
        rows.append([f"({x:g}, {a:g})", t["lambda"], t["effective"], "yes" if t["parity_split"] else "no",
                     f"{t['signal_lag2']:.2e}", f"{t['signal_lag3']:.2e}"])
    rep.table(["(x, a)", "lambda", "effective rate", "parity split predicted", "loss of lags >= 2",
               "loss of lags >= 3"], rows)


def _loss(rep, results, groups, th) -> None:
    from .experiment import tag

    rep.section("Loss: how close to the optimum, and the seed-to-seed noise")
    rows = []
    for proto, x, a, g in groups:
        iv = results.interval(g, "loss.excess")
        markov = th[tag(x, a)]["signal_lag2"]
        rows.append([f"({x:g}, {a:g}) {proto}", iv, loss_noise(results, g), markov,
                     results.interval(g, "loss.untrained_excess"),
                     "yes" if compare(iv, controls={"m": markov}, higher_is_better=False)["beats"]["m"] else "no"])
    rep.table(["(x, a) protocol", "excess loss (nats, KL to the exact next-symbol law)", "sd over seeds",
               "last-symbol predictor's excess", "untrained excess", "beats the last-symbol predictor"], rows)


def _attention(rep, results, groups, th) -> None:
    from .experiment import tag

    rep.section("Attention decay vs lambda and vs the effective rate")
    rep.text("Per seed, `nets.attention.attention_analysis` fits each head's mean attention (last destination) "
             "against distance; 'fastest head' is the fastest-decaying head that neither attends only to the "
             "current token (|rate| < 0.1) nor uniformly (|rate| > 0.9): a prediction-free choice. The paper's "
             "value is |lambda|; the effective rate and the untrained twin's fastest head are the controls. A "
             "sub-test is UNTESTABLE when the loss it concerns is below the seed-to-seed sd of the trained loss.")
    rows = []
    for proto, x, a, g in groups:
        t, noise = th[tag(x, a)], loss_noise(results, g)
        lam, eff = abs(t["lambda"]), abs(t["effective"])
        unt = interval(results, g, "attention.untrained_fastest")
        iv = interval(results, g, "attention.fastest")
        n = results.values(g, "attention.split").size
        if iv is not None:
            v = f"{_rate_verdict(iv, lam, eff)}; " + testability(t["signal_lag2"], noise, "lags >= 2")
            rows.append((f"fastest head |rate|, ({x:g}, {a:g}) {proto}", lam, iv,
                         {"effective": eff, "untrained": unt}, v))
        if t["parity_split"]:
            k = int(results.values(g, "attention.split").sum())
            kp = int(results.values(g, "attention.parity_head").sum())
            v = (f"even and odd heads in {k} of {n} seeds, a parity-separating head in {kp} of {n}; "
                 + testability(t["signal_lag3"], noise, "lags >= 3"))
            rows.append((f"even/odd split, ({x:g}, {a:g}) {proto}", "yes", f"{k} of {n}", {}, v))
            for par in ("even", "odd"):
                ivp = interval(results, g, f"attention.rate_{par}")
                if ivp is not None:
                    rows.append((f"{par} head |rate|, ({x:g}, {a:g}) {proto}", lam, ivp, {"effective": eff},
                                 _rate_verdict(ivp, lam, eff) + f" (seeds with a split: {ivp.n})"))
    rep.comparison(rows)


def _rate_verdict(iv, lam: float, eff: float) -> str:
    a, b = compare(iv, paper=lam), compare(iv, paper=eff)
    near = "lambda" if abs(iv.mean - lam) < abs(iv.mean - eff) else "the effective rate"
    return (f"{'contains' if a['matches_paper'] else 'excludes'} lambda {lam:.3f}, "
            f"{'contains' if b['matches_paper'] else 'excludes'} the effective rate {eff:.3f}; nearer {near}")


def _geometry(rep, results, groups) -> None:
    rep.section("Post-attention gasket vs post-MLP belief fractal")
    rep.text("Held-out R^2 of probability-weighted affine probes (`nets.probe.probe`, every prefix of length 1..10) "
             "of the post-attention (`resid_mid`) and post-MLP (`resid_post`) streams onto the beliefs and onto the "
             "gasket coordinates sum_s r^(d-s) e_{x_s} / sum_s |r|^(d-s) at r = lambda and at the effective rate; "
             "controls: the untrained twin and shuffled targets. Top-3: the share of the weighted variance in the "
             "top 3 principal components at the last position (`bayes.geometry.weighted_pca`).")
    rows, held = [], []
    for proto, x, a, g in groups:
        def iv(p):
            return interval(results, g, p)

        post, mid = iv("probe.post.beliefs.r2"), iv("probe.mid.beliefs.r2")
        c = compare(post, controls={"post-attention": mid, "untrained": iv("probe.post.beliefs.untrained")})
        held.append(c["beats"]["post-attention"])
        rows.append((f"R^2 beliefs, post-MLP, ({x:g}, {a:g}) {proto}", None, post,
                     {"post-attention": mid, "untrained": iv("probe.post.beliefs.untrained"),
                      "shuffled": iv("probe.post.beliefs.shuffled")}, c["text"]))
        for r in ("lambda", "effective"):
            gm = iv(f"probe.mid.gasket_{r}.r2")
            cg = compare(gm, controls={"beliefs": mid})
            rows.append((f"R^2 gasket({r}), post-attention, ({x:g}, {a:g}) {proto}", None, gm,
                         {"beliefs": mid, "untrained": iv(f"probe.mid.gasket_{r}.untrained")},
                         "fits the gasket better than the beliefs" if cg["beats"]["beliefs"] else cg["text"]))
        for s in ("mid", "post"):
            share, unt = iv(f"probe.{s}.top3.share"), iv(f"probe.{s}.top3.untrained")
            rows.append((f"top-3 PC variance share, {s}, ({x:g}, {a:g}) {proto}", None, share, {"untrained": unt},
                         compare(share, controls={"untrained": unt})["text"]))
    rep.comparison(rows)
    rep.text(f"The post-MLP stream fits the beliefs better than the post-attention stream (intervals separated) in "
             f"{sum(held)} of {len(held)} process/protocol groups.")


def _figures(rep, results, groups, out: Path) -> None:
    from nets.report import plot_loss_curve

    from .experiment import tag

    first = results.mode.seeds[0]
    hist = {f"({x:g}, {a:g}) {p}": results.histories.get(f"{p}-{tag(x, a)}-s{first}", []) for p, x, a, _ in groups}
    if any(hist.values()):
        rep.section("Figures")
        plot_loss_curve(hist, out / "loss_curves.png", title=f"one-layer transformers on Mess3, seed {first}")
        rep.figure(out / "loss_curves.png", "training loss over the optimum")
        for p, x, a, _ in groups:
            for kind in ("attention", "geometry"):
                f = out / f"{kind}_{p}_{tag(x, a)}.png"
                if f.is_file():
                    rep.figure(f, f"{kind}, Mess3({x:g}, {a:g}), {PROTOCOL_TEXT[p]}, seed {first}")

