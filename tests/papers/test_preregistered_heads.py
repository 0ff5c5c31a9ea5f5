"""papers/preregistered_heads: the generalized Mess process (eigenvalues, stochasticity,
Mess3 as a special case), the head classification, and the --tiny run end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from generators import equivalent, library, minimize
from generators.testing import enumerated_myopic_entropy
from nets.attention import transition_eigenvalues
from papers.preregistered_heads.processes import mess_n, mess_n_bounds
from papers.preregistered_heads.run import PAIRS, assess, build_pair, classify_head, main, verdict


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
            # M acts as lam * I on the non-stationary subspace (rows summing to zero)
            v = np.random.default_rng(n).normal(size=(3, n))
            v -= v.mean(axis=1, keepdims=True)
            assert np.allclose(v @ M, lam * v)
            assert np.allclose(g.to_ghmm().initial, np.full(n, 1 / n))


def test_mess_n_reaches_minus_07_only_with_two_states():
    g = mess_n(2, -0.7, 0.85)
    assert minimize(g).dim == 2
    assert np.allclose(transition_eigenvalues(g), [-0.7])
    with pytest.raises(ValueError, match="lam"):
        mess_n(3, -0.7, 0.85)
    with pytest.raises(ValueError):
        mess_n(1, 0.5, 0.5)
    with pytest.raises(ValueError):
        mess_n(2, 0.5, 1.2)


def test_mess3_is_the_three_state_case():
    for x, a in [(0.15, 0.6), (0.05, 0.85), (0.5, 0.2)]:
        assert equivalent(mess_n(3, 1 - 3 * x, a), library.mess3(x=x, a=a))
    assert np.allclose(mess_n(3, 1 - 3 * 0.15, 0.6).to_ghmm().operators,
                       library.mess3(x=0.15, a=0.6).to_ghmm().operators)


def test_pair_spectra():
    """The product's minimal form has spectrum {1, l1, l2, l1 l2} (repeats merged)."""
    for l1, l2 in PAIRS:
        ev = np.real(np.array(transition_eigenvalues(build_pair(l1, l2))))
        assert np.allclose(np.unique(np.round(ev, 8)), np.unique(np.round([l1, l2, l1 * l2], 8)))


def test_classify_and_verdict():
    h = lambda lam, parity="all", n=5: {"lam_abs": lam, "parity": parity, "n_points": n}  # noqa: E731
    assert classify_head(h(0.68), [0.7, 0.3]) == (0.7, "all")
    assert classify_head(h(0.33, "odd"), [0.7, 0.3]) == (0.3, "odd")
    assert classify_head(h(0.97), [0.7, 0.3])[0] == "flat"
    assert classify_head(h(0.02), [0.7, 0.3])[0] == "self"
    v = verdict([(0.7, "all"), (0.7, "odd"), ("flat", "all")], [(0.7, "all"), (0.7, "odd")])
    assert v["held"] and not v["missing"] and not v["extra"]
    assert not verdict([(0.7, "all")], [(0.7, "all"), (0.3, "all")])["held"]


def test_tiny_run(tmp_path):
    assert main(["--tiny", "--quiet", "--out", str(tmp_path)]) == 0
    for f in ["results.json", "RESULTS.md", "head_rates.png", "loss_curves.png"]:
        assert (tmp_path / f).stat().st_size > 0, f
    r = json.loads((tmp_path / "results.json").read_text())
    assert [e["lambdas"] for e in r["pairs"]] == [list(p) for p in PAIRS]
    for e in r["pairs"]:
        run = e["runs"][-1]
        assert len(run["heads"]) == r["model"]["n_heads"] == 4 and run["steps"] == 20
        # the optimum the loss is measured against: the factors' myopic entropies (positions 2..7,
        # nats) summed, by enumerating every factor word (an independent, slow reference)
        l1, l2 = e["lambdas"]
        h = sum(enumerated_myopic_entropy(library.mess_n(2, lam, 0.85), 7, base=math.e) for lam in (l1, l2))
        assert run["optimum_mean_nats"] == pytest.approx(float(np.mean(h[1:])), rel=1e-9)
        assert run["eval_relative"] > 0.9
        eig = sorted(x[0] for x in run["eigenvalues"])
        assert any(abs(x - l2) < 1e-8 for x in eig) and any(abs(x - l1 * l2) < 1e-8 for x in eig)
        # the verdict follows from the heads: re-classifying the stored head fits gives the same one
        again = assess({"pairs": [{**e, "runs": [{**x, "heads": [dict(h) for h in x["heads"]]} for x in e["runs"]]}],
                        "rate_tol": r["rate_tol"]})
        assert again["pairs"][0]["runs"][-1]["verdict"] == run["verdict"]
        assert [h["type"] for h in again["pairs"][0]["runs"][-1]["heads"]] == [h["type"] for h in run["heads"]]
    assert r["held_count"] == sum(e["runs"][-1]["verdict"]["held"] for e in r["pairs"])
    md = (tmp_path / "RESULTS.md").read_text()
    assert f"The prediction held for {r['held_count']} of 4 lambda pairs" in md
