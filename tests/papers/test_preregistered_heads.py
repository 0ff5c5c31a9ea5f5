"""papers/preregistered_heads: the generalized Mess process, the prediction made from the
process (head types, counts, what each sub-test is worth), head matching, the verdict logic
on known cases, and the --tiny run end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from generators import equivalent, library, minimize
from generators.testing import enumerated_myopic_entropy
from nets.attention import transition_eigenvalues
from nets.stats import Interval, seed_interval
from papers.preregistered_heads.experiment import PAIRS, PreregisteredHeads, factor_theory, ptag, theory
from papers.preregistered_heads.heads import count_verdict, match_heads, predicted_types
from papers.preregistered_heads.processes import mess_n, mess_n_bounds
from papers.preregistered_heads.report import pair_verdict, subtests


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_mess_n_is_stochastic_with_repeated_eigenvalue(n):
    lo, hi = mess_n_bounds(n)
    assert lo == pytest.approx(-1 / (n - 1)) and hi == 1.0
    for lam in np.linspace(lo, hi, 7):
        for a in (0.0, 0.3, 1 / n, 0.85, 1.0):
            g = mess_n(n, lam, a)
            T = g.to_ghmm().operators
            assert T.shape == (n, n, n) and (T >= 0).all()
            M = T.sum(axis=0)
            assert np.allclose(M.sum(axis=1), 1.0)
            ev = np.sort(np.linalg.eigvals(M).real)
            assert np.allclose(np.sort(np.r_[1.0, [lam] * (n - 1)]), ev, atol=1e-7)
            v = np.random.default_rng(n).normal(size=(3, n))
            v -= v.mean(axis=1, keepdims=True)
            assert np.allclose(v @ M, lam * v)  # M acts as lam * I off the stationary direction
            assert np.allclose(g.to_ghmm().initial, np.full(n, 1 / n))


def test_mess_n_reaches_minus_07_only_with_two_states():
    assert minimize(mess_n(2, -0.7, 0.85)).dim == 2
    assert np.allclose(transition_eigenvalues(mess_n(2, -0.7, 0.85)), [-0.7])
    with pytest.raises(ValueError, match="lam"):
        mess_n(3, -0.7, 0.85)
    for x, a in [(0.15, 0.6), (0.05, 0.85), (0.5, 0.2)]:
        assert equivalent(mess_n(3, 1 - 3 * x, a), library.mess3(x=x, a=a))


@pytest.mark.parametrize("a, eff7, eff3", [(0.85, 0.41421, 0.1565), (0.7, 0.5996, 0.2526)])
def test_prediction_from_the_process(a, eff7, eff3):
    """The pre-registered head counts and parities, with the effective rates
    (0.414 for |lambda| = 0.7 at a = 0.85: the reference value)."""
    want = {(0.7, 0.7): [("all", 0.7)], (0.7, 0.3): [("all", 0.7), ("all", 0.3)],
            (0.7, -0.3): [("all", 0.7), ("even", 0.3), ("odd", 0.3)], (0.7, -0.7): [("all", 0.7), ("odd", 0.7)]}
    for l1, l2 in PAIRS:
        th = theory(l1, l2, a, 10)
        types = [th["types"][f"t{k}"] for k in range(th["predicted_heads"])]
        assert [(t["parity"], round(t["lambda"], 6)) for t in types] == want[(l1, l2)]
        for t in types:
            assert t["effective"] == pytest.approx(eff7 if t["lambda"] > 0.5 else eff3, abs=1e-4)
        f = [th["factors"][k] for k in ("f0", "f1")]
        expect = {(0.7, 0.7): f[1]["signal_lag2"], (0.7, 0.3): f[1]["signal_lag2"], (0.7, -0.3): f[1]["signal_lag3"],
                  (0.7, -0.7): f[1]["signal_lag3"]}[(l1, l2)]
        assert th["count_signal"] == pytest.approx(expect, rel=1e-12)
        modes = sorted(round(m["lambda"], 6) for m in th["product_modes"].values())
        assert modes == sorted({round(l1, 6), round(l2, 6), round(l1 * l2, 6)})
    # the lag signal of a factor against word enumeration
    g = library.mess_n(2, -0.7, a)
    h = enumerated_myopic_entropy(g, 7, base=math.e)
    assert factor_theory(-0.7, a, 6)["signal_lag3"] == pytest.approx(sum(h[2] - h[t] for t in range(3, 7)) / 6,
                                                                     rel=1e-9)


def test_predicted_types_merge_rules():
    def f(*modes):
        return {"modes": [{"lambda": m, "effective": m * 0.8, "parity_split": m < 0} for m in modes],
                "signal_lag2": 1.0, "signal_lag3": 0.25}

    t = predicted_types([f(-0.5), f(-0.5)])  # equal negative rates share the even and the odd head
    assert [(x["parity"], x["serves"], x["signal"]) for x in t] == [("even", [(0, "even"), (1, "even")], 0.5),
                                                                    ("odd", [(0, "odd"), (1, "odd")], 0.5)]
    assert len(predicted_types([f(0.5, -0.5)])) == 2  # one factor, two modes: all + even merge, odd apart


def test_match_heads_uses_parity_and_the_midpoint():
    types = [{"lambda": 0.7, "effective": 0.5, "parity": "all"}, {"lambda": 0.7, "effective": 0.5, "parity": "odd"}]
    heads = [{"rate": 0.5, "parity": "all", "kind": "decay"}, {"rate": 0.7, "parity": "all", "kind": "decay"},
             {"rate": 0.61, "parity": "all", "kind": "decay"}, {"rate": 0.3, "parity": "odd", "kind": "flat"}]
    assert match_heads(heads, types) == [2, None]  # midpoint 0.6; a flat head is never matched
    heads[3]["kind"] = "decay"
    assert match_heads(heads, types) == [2, 3]


def test_count_and_pair_verdicts():
    iv = {1: seed_interval([5e-4, 6e-4, 7e-4]), 2: seed_interval([1e-4, 1.1e-4, 1.2e-4]),
          3: seed_interval([1e-4, 1.05e-4, 1.1e-4])}
    assert count_verdict(iv, 2) == {"enough": True, "needed": True, "held": True}
    assert count_verdict(iv, 1) == {"enough": False, "needed": None, "held": False}
    assert count_verdict({1: iv[2], 2: iv[3]}, 1)["held"] is True
    assert count_verdict(iv, 3)["held"] is None  # nothing larger than 3 trained
    subs = [{"name": "count", "testable": True, "held_lambda": True, "held_effective": True},
            {"name": "all head", "testable": True, "held_lambda": False, "held_effective": True},
            {"name": "odd head", "testable": False, "held_lambda": False, "held_effective": False}]
    assert pair_verdict(subs, "effective") == "held where testable"
    assert pair_verdict(subs, "lambda") == "failed (all head)"
    assert pair_verdict(subs[:2], "effective") == "held"
    assert pair_verdict(subs[2:], "lambda") == "untestable at this scale"
    assert Interval(1.0, 1.0, 1.0, 1, method="single").excludes(2.0) is False


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("preregistered_tiny")
    return out, PreregisteredHeads().execute("tiny", out, quiet=True)


def test_tiny_run(tiny):
    out, res = tiny
    md = (out / "RESULTS.md").read_text()
    for l1, l2 in PAIRS:
        th = res.metrics(f"theory-ours-{ptag(l1, l2)}")
        again = theory(l1, l2, 0.7, 6)
        assert th["types"] == again["types"] and th["count_signal"] == again["count_signal"]
        for H in (1, 2):
            g = f"ours-{ptag(l1, l2)}-H{H}"
            v = res.values(g, "loss.excess")
            assert v.size == 2 and (v >= 0).all()
            assert res.interval(g, "loss.excess").hi == pytest.approx(seed_interval(v).hi)
            for s in (0, 1):  # the matched types follow from the stored head fits
                m = res.metrics(f"{g}-s{s}")
                types = [th["types"][f"t{k}"] for k in range(th["predicted_heads"])]
                match = match_heads(list(m["heads"].values()), types)
                assert [m["types"][f"t{k}"]["present"] for k in range(len(types))] == [float(i is not None)
                                                                                        for i in match]
        subs = subtests(res, "ours", l1, l2, [1, 2], th)
        row = (f"| ({l1:g}, {l2:g}) | ours (a = 0.7) | {pair_verdict(subs, 'lambda')} | "
               f"{pair_verdict(subs, 'effective')} |")
        assert row in md  # the verdict table is computed from the intervals
    assert (out / "head_rates.png").stat().st_size > 0


def test_readme_tradeoff_table_is_exact():
    from pathlib import Path

    import papers.preregistered_heads as pkg
    from papers.preregistered_heads.experiment import TRADEOFF_A, tradeoff

    readme = (Path(pkg.__file__).parent / "README.md").read_text()
    t = tradeoff(10)
    for a in TRADEOFF_A:
        r7, r3 = t[f"a{a:g}_l0.7"], t[f"a{a:g}_l0.3"]
        row = (f"| {a:g} | {r7['effective']:.3f} | {r7['signal_lag2']:.1e} | {r7['signal_lag3']:.1e} | "
               f"{r3['effective']:.3f} | {r3['signal_lag2']:.1e} | {r3['signal_lag3']:.1e} |")
        assert row in readme, row
