"""papers/piotrowski2025_attention: the exact predictions (rates, lag signals), the
measurements on cases with known answers, and the --tiny run end to end (pooling over two
seeds, verdicts that follow from the intervals)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from generators import library, product
from generators.testing import enumerated_myopic_entropy
from nets.data import BeliefData
from nets.stats import seed_interval
from papers.piotrowski2025_attention.experiment import PROCESSES, Piotrowski2025, attention_metrics, tag, theory
from papers.piotrowski2025_attention.geometry import gasket_coordinates, top_variance_share
from papers.piotrowski2025_attention.measure import excess_loss, is_testable, lag_signal
from papers.piotrowski2025_attention.report import _rate_verdict


def _signal_by_enumeration(g, L, m):
    h = enumerated_myopic_entropy(g, L + 1, base=math.e)  # h[t-1] = h(t), by enumerating every word
    return sum(h[m - 1] - h[t - 1] for t in range(m + 1, L + 2)) / L


@pytest.mark.parametrize("x, a", [(0.15, 0.6), (0.5, 0.2)])
def test_lag_signal_matches_enumeration(x, a):
    g = library.mess3(x=x, a=a)
    for m in (2, 3):
        assert lag_signal(g, 5, m) == pytest.approx(_signal_by_enumeration(g, 5, m), rel=1e-9, abs=1e-15)
    assert lag_signal(g, 5, 6) == 0.0 and lag_signal(g, 5, 2) > lag_signal(g, 5, 3) > 0


def test_lag_signal_of_a_product_is_the_sum():
    f1, f2 = library.mess_n(2, 0.7, 0.7), library.mess_n(2, -0.3, 0.7)
    assert lag_signal(product(f1, f2), 6, 2) == pytest.approx(lag_signal(f1, 6, 2) + lag_signal(f2, 6, 2), rel=1e-9)
    assert lag_signal(library.mess_n(2, 0.0, 0.7), 6, 2) == pytest.approx(0.0, abs=1e-15)  # i.i.d.: no signal


def test_theory_reference_rates():
    """The effective rates of the reference (0.53 / 0.47 for x = 0.15 at a = 0.2 / 0.6);
    lambda = 1 - 3x and the parity split for x = 0.5."""
    t02, t06 = theory(library.mess3(x=0.15, a=0.2), 10), theory(library.mess3(x=0.15, a=0.6), 10)
    assert t02["effective"] == pytest.approx(0.52835, abs=1e-4) and t06["effective"] == pytest.approx(0.46661, abs=1e-4)
    assert t02["lambda"] == pytest.approx(0.55) and not t02["parity_split"] and t02["multiplicity"] == 2
    t = theory(library.mess3(x=0.5, a=0.6), 10)
    assert t["lambda"] == pytest.approx(-0.5) and t["parity_split"] and t["effective"] < 0
    assert t06["signal_lag2"] == pytest.approx(_signal_by_enumeration(library.mess3(x=0.15, a=0.6), 10, 2), rel=1e-8)


class _Uniform(torch.nn.Module):
    """Zero logits: the uniform prediction, whose KL to p is log V - H(p)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, tokens):
        return torch.zeros(*tokens.shape, 3) * self.w


def test_excess_loss_known_answer():
    data = BeliefData(library.mess3(x=0.15, a=0.6), 4)
    p = data.sample(300, 7).next_probs.double()
    expected = float((p * (torch.log(p) + math.log(3))).sum(-1).mean())  # sum_x p (log p - log 1/3)
    assert excess_loss(_Uniform(), data, n_words=300, seed=7, chunk=128) == pytest.approx(expected, rel=1e-12)
    # data for sampled-target training carry no next-symbol laws: the same words, the same value
    bare = BeliefData(library.mess3(x=0.15, a=0.6), 4, next_probs=False)
    assert excess_loss(_Uniform(), bare, n_words=300, seed=7) == pytest.approx(expected, rel=1e-12)
    # in expectation it is log 3 minus the optimum
    assert excess_loss(_Uniform(), data, n_words=20000, seed=1) == pytest.approx(math.log(3) - data.optimum_mean,
                                                                                 rel=0.02)


def test_attention_metrics():
    heads = [{"rate": 0.02, "parity": "all", "kind": "self"}, {"rate": 0.52, "parity": "even", "kind": "decay"},
             {"rate": 0.48, "parity": "odd", "kind": "decay"}, {"rate": 0.95, "parity": "all", "kind": "flat"}]
    m = attention_metrics(heads, [{"rate": 0.99}, {"rate": 0.97}])
    assert m == {"split": 1.0, "parity_head": 1.0, "untrained_fastest": 0.97, "fastest": 0.48, "rate_even": 0.52,
                 "rate_odd": 0.48}
    m = attention_metrics(heads[:2] + heads[3:], [{"rate": 1.0}])
    assert m == {"split": 0.0, "parity_head": 1.0, "untrained_fastest": 1.0, "fastest": 0.52}
    assert "fastest" not in attention_metrics([heads[0]], [{"rate": 1.0}])


def test_gasket_coordinates():
    prefixes = np.array([[0, -1, -1], [0, 1, -1], [2, 1, 0]])
    lengths = np.array([1, 2, 3])
    g = gasket_coordinates(prefixes, lengths, 0.5)
    assert np.allclose(g[0], [1, 0, 0])
    assert np.allclose(g[1], np.array([0.5, 1, 0]) / 1.5)
    assert np.allclose(g[2], np.array([1, 0.5, 0.25]) / 1.75)
    assert np.allclose(gasket_coordinates(prefixes, lengths, -0.5)[1], np.array([-0.5, 1, 0]) / 1.5)


def test_top_variance_share():
    rng = np.random.default_rng(0)
    flat = np.c_[rng.normal(size=(500, 3)), np.zeros((500, 2))] @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
    assert top_variance_share(flat, np.ones(500)) == pytest.approx(1.0)
    iso = np.diag([1.0, 1.0, 1.0, 1.0])  # four orthogonal points: equal variance in 3 of 3 + 1 directions
    assert top_variance_share(np.r_[iso, -iso], np.ones(8)) == pytest.approx(0.75)


def test_testable_and_rate_verdict():
    assert is_testable(1e-4, 5e-5) and not is_testable(1e-5, 5e-5) and not is_testable(1.0, float("nan"))
    iv = seed_interval([0.60, 0.62, 0.61])
    assert _rate_verdict(iv, 0.7, 0.6) == ("excludes lambda 0.700, contains the effective rate 0.600; "
                                           "nearer the effective rate")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("piotrowski_tiny")
    return out, Piotrowski2025().execute("tiny", out, quiet=True)


def test_tiny_pools_two_seeds_and_reports_the_exact_predictions(tiny):
    out, res = tiny
    data = json.loads((out / "results.json").read_text())
    md = (out / "RESULTS.md").read_text()
    assert data["mode"]["seeds"] == [0, 1]
    for x, a in PROCESSES:
        g = library.mess3(x=x, a=a)
        th = res.metrics(f"theory-{tag(x, a)}")
        assert th["signal_lag2"] == pytest.approx(_signal_by_enumeration(g, 6, 2), rel=1e-8)
        assert f"| ({x:g}, {a:g}) | {th['lambda']:.3f} | {th['effective']:.3f} |" in md
        grp = f"ours-{tag(x, a)}"
        v = res.values(grp, "loss.excess")
        assert v.size == 2 and (v >= 0).all()
        assert data["pooled"][grp]["loss.excess"]["mean"] == pytest.approx(v.mean())
        assert data["pooled"][grp]["loss.excess"]["hi"] == pytest.approx(seed_interval(v).hi)
        for s in (0, 1):  # the summaries follow from the per-head fits
            m = res.metrics(f"{grp}-s{s}")
            decay = [h["rate"] for h in m["heads"].values() if h["kind"] == "decay"]
            assert m["attention"].get("fastest") == (min(decay) if decay else None)
            assert 0 <= m["probe"]["mid"]["top3"]["share"] <= 1 + 1e-12
        row = [ln for ln in md.splitlines() if ln.startswith(f"| fastest head \\|rate\\|, ({x:g}, {a:g}) ours")]
        iv = res.interval(grp, "attention.fastest") if res.values(grp, "attention.fastest").size else None
        if iv is not None:  # the verdict text is computed from the interval
            assert row and _rate_verdict(iv, abs(th["lambda"]), abs(th["effective"])) in row[0]
    assert (out / "loss_curves.png").stat().st_size > 0


def test_readme_table_is_the_exact_prediction():
    """The README's table of predictions is what ``theory`` computes (context 10)."""
    from pathlib import Path

    import papers.piotrowski2025_attention as pkg

    readme = (Path(pkg.__file__).parent / "README.md").read_text()
    for x, a in PROCESSES:
        t = theory(library.mess3(x=x, a=a), 10)
        row = (f"| ({x:g}, {a:g}) | {t['lambda']:.2g} | {t['effective']:.3f} | {'yes' if t['parity_split'] else 'no'} "
               f"| {t['signal_lag2']:.1e} | {t['signal_lag3']:.1e} |")
        assert row in readme, row
