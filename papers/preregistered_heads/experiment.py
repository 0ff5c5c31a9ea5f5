"""A pre-registered prediction (Simplex, 2025): the attention heads of one-layer transformers trained on
the product of two independent Mess-type processes with repeated eigenvalues (lambda1, lambda2).

Pairs (.7,.7), (.7,.3), (.7,-.3), (.7,-.7); factors ``mess_n(2, lambda, a)``.  The prediction
is made from the process (:mod:`.heads`, :func:`bayes.attention_decay_rates`): head types
with both the pre-registered rate ``lambda`` and the effective rate at emission strength
``a``, the head count, and what each sub-test is worth in loss.  Per pair: a sweep of 1-4
heads (the excess loss at each count over seeds) and the head types found at the largest
count (each head's fitted decay and parity, matched to the predicted types).  Protocols:
``ours`` uses weaker emissions (``a = 0.7``: the effective rate moves toward ``lambda``),
``paper`` the first run's ``a = 0.85`` (the pre-registration fixes no ``a``).
"""

from __future__ import annotations

from functools import lru_cache

from papers.experiment import Mode, Run
from papers.piotrowski2025_attention.report import FolderExperiment

from .report import write_report

PAIRS = ((0.7, 0.7), (0.7, 0.3), (0.7, -0.3), (0.7, -0.7))
EMISSION = {"ours": 0.7, "paper": 0.85}
#: emission strengths of the trade-off table (no training)
TRADEOFF_A = (0.85, 0.8, 0.75, 0.7, 0.65, 0.6)


def _train(d_model, d_mlp, **kw):
    return dict(model=dict(kind="transformer", n_layers=1, d_model=d_model, d_mlp=d_mlp), optimizer="adam",
                targets="exact", **kw)


MODES = {
    "tiny": Mode("tiny", seeds=(0, 1), budget_s=60, protocol="ours",
                 train=_train(12, 24, context=6, lr=3e-3, batch_size=32, steps=20, num_threads=1, log_every=5),
                 analysis=dict(heads={"ours": (1, 2), "paper": (2,)}, n_samples=128, n_eval=256)),
    "quick": Mode("quick", seeds=(0, 1, 2, 3, 4), budget_s=1200, protocol="both",
                  train=_train(24, 96, context=10, lr=3e-3, batch_size=128, steps=800, scheduler="cosine",
                               warmup_steps=50, num_threads=1, log_every=20),
                  analysis=dict(heads={"ours": (1, 2, 3, 4), "paper": (4,)}, n_samples=1024, n_eval=8192)),
    "full": Mode("full", seeds=tuple(range(10)), protocol="both",
                 train=_train(48, 192, context=10, lr=1e-3, batch_size=1024, steps=60_000, scheduler="cosine",
                              warmup_steps=500, checkpoint_every=5000, log_every=100),
                 analysis=dict(heads={"ours": (1, 2, 3, 4), "paper": (1, 2, 3, 4)}, n_samples=16384, n_eval=65536)),
}


def ptag(l1: float, l2: float) -> str:
    return f"{l1:+.1f}_{l2:+.1f}".replace("+", "p").replace("-", "m").replace(".", "")


def spec(lam: float, a: float) -> str:
    return f"mess_n:n=2,lam={lam:g},a={a:g}"


class PreregisteredHeads(FolderExperiment):
    name = "preregistered_heads"
    title = "Pre-registered prediction (Simplex, 2025): attention heads on products of Mess-type processes"
    modes = MODES

    def runs(self, mode: Mode) -> list[Run]:
        protocols = ("ours", "paper") if mode.protocol == "both" else (mode.protocol,)
        L = mode.train["context"]
        out = [Run("tradeoff", "tradeoff", 0, None, {"kind": "tradeoff", "context": L})]
        for proto in protocols:
            a = EMISSION[proto]
            for l1, l2 in PAIRS:
                p = {"l1": l1, "l2": l2, "a": a, "context": L, "protocol": proto}
                out.append(Run(f"theory-{proto}-{ptag(l1, l2)}", f"theory-{proto}-{ptag(l1, l2)}", 0, None,
                               dict(p, kind="theory")))
                for H in mode.analysis["heads"][proto]:
                    d = mode.train["model"]["d_model"]
                    train = dict(mode.train, process=f"{spec(l1, a)}*{spec(l2, a)}",
                                 model=dict(mode.train["model"], n_heads=H, d_head=d // H))
                    out += [Run(f"{proto}-{ptag(l1, l2)}-H{H}-s{s}", f"{proto}-{ptag(l1, l2)}-H{H}", s, train,
                                dict(p, kind="trained", heads=H)) for s in mode.seeds]
        return out

    def analyze(self, run: Run, ctx) -> dict:
        p = run.params
        if p["kind"] == "tradeoff":
            return tradeoff(p["context"])
        th = theory(p["l1"], p["l2"], p["a"], p["context"])
        if p["kind"] == "theory":
            return th
        return trained_metrics(run, ctx, th, first=run.seed == ctx.mode.seeds[0])

    def report(self, results, rep) -> None:
        write_report(self, results, rep)


@lru_cache(maxsize=64)
def factor_theory(lam: float, a: float, context: int) -> dict:
    """One factor ``mess_n(2, lam, a)``: its modes (eigenvalue, effective rate, parity
    split) and the loss its lags >= 2 / >= 3 are worth (nats)."""
    from bayes import attention_decay_rates
    from generators import library
    from papers.piotrowski2025_attention.measure import lag_signal

    g = library.mess_n(2, lam, a)
    r = attention_decay_rates(g)
    modes = [{"lambda": float(ev.real), "effective": float(eff.real), "parity_split": bool(ps)}
             for ev, eff, ps in zip(r.eigenvalues, r.effective_rates, r.parity_split)]
    return {"modes": modes, "signal_lag2": lag_signal(g, context, 2), "signal_lag3": lag_signal(g, context, 3)}


def theory(l1: float, l2: float, a: float, context: int) -> dict:
    """The prediction for a pair, from the process: head types, head count, the count
    sub-test's loss, and the product's own modes (the rates a joint-belief head would use)."""
    from bayes import attention_decay_rates
    from generators import library, product

    from .heads import count_signal, predicted_types

    factors = [factor_theory(lam, a, context) for lam in (l1, l2)]
    types = predicted_types(factors)
    prod = attention_decay_rates(product(library.mess_n(2, l1, a), library.mess_n(2, l2, a)))
    return {"factors": {f"f{i}": {"lambda": f["modes"][0]["lambda"], "effective": f["modes"][0]["effective"],
                                  "signal_lag2": f["signal_lag2"], "signal_lag3": f["signal_lag3"]}
                        for i, f in enumerate(factors)},
            "types": {f"t{k}": {"lambda": t["lambda"], "effective": t["effective"], "parity": t["parity"],
                                "serves": ", ".join(f"f{i} {role}" for i, role in t["serves"]), "signal": t["signal"]}
                      for k, t in enumerate(types)},
            "predicted_heads": len(types), "count_signal": count_signal(types, factors),
            "product_modes": {f"m{k}": {"lambda": float(ev.real), "effective": float(eff.real)}
                              for k, (ev, eff) in enumerate(zip(prod.eigenvalues, prod.effective_rates))}}


def tradeoff(context: int) -> dict:
    """Weaker emissions move the effective rate toward lambda but shrink the loss signal:
    both, exactly, for |lambda| in {0.7, 0.3} over :data:`TRADEOFF_A`."""
    out = {}
    for a in TRADEOFF_A:
        for lam in (0.7, 0.3):
            f = factor_theory(lam, a, context)
            out[f"a{a:g}_l{lam:g}"] = {"a": a, "lambda": lam, "effective": f["modes"][0]["effective"],
                                       "signal_lag2": f["signal_lag2"], "signal_lag3": f["signal_lag3"]}
    return out


def trained_metrics(run: Run, ctx, th: dict, *, first: bool) -> dict:
    """Excess loss (and the untrained twin's), each head's fit, and the head matched to each
    predicted type (its rate; ``present`` 1/0)."""
    from nets.adapters import as_source
    from papers.piotrowski2025_attention.measure import excess_loss, head_rates

    from .heads import match_heads

    an, res, p = ctx.mode.analysis, ctx.trained, run.params
    g = res.data.generator
    twin = as_source(res.model).untrained(1000 + run.seed).module
    m = {"loss": {"excess": excess_loss(res.model, res.data, n_words=an["n_eval"]),
                  "untrained_excess": excess_loss(twin, res.data, n_words=an["n_eval"]), "steps": res.steps_done}}
    rep, heads = head_rates(res.model, g, n_samples=an["n_samples"])
    _, untrained = head_rates(res.model, g, n_samples=an["n_samples"], untrained_seed=1000 + run.seed)
    m["heads"] = {f"h{i}": dict(h) for i, h in enumerate(heads)}
    m["untrained_fastest"] = min(h["rate"] for h in untrained)
    types = [th["types"][k] for k in sorted(th["types"], key=lambda k: int(k[1:]))]
    match = match_heads(heads, types)
    m["types"] = {f"t{k}": ({"present": 1.0, "rate": heads[i]["rate"]} if i is not None else {"present": 0.0})
                  for k, i in enumerate(match)}
    m["unmatched_decay"] = float(sum(h["kind"] == "decay" for h in heads) - sum(i is not None for i in match))
    if first and p["heads"] == max(an["heads"][p["protocol"]]):
        from nets.attention import plot_attention_decay

        plot_attention_decay(rep, ctx.out / f"attention_{p['protocol']}_{ptag(p['l1'], p['l2'])}.png",
                             title=f"lambdas ({p['l1']:g}, {p['l2']:g}), a = {p['a']:g}: {p['heads']} heads, "
                                   f"seed {run.seed}")
    return m


def main(argv=None) -> int:
    return PreregisteredHeads().main(argv)
