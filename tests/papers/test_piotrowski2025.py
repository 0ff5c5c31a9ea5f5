"""papers/piotrowski2025_attention: the --tiny configuration end to end (seconds), and the
gasket coordinates of the linear update."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papers.piotrowski2025_attention.run import PROCESSES, gasket_coordinates, main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("piotrowski_tiny")
    assert main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def test_tiny_writes_results_and_figures(tiny):
    for f in ["results.json", "RESULTS.md", "loss_curves.png"]:
        assert (tiny / f).stat().st_size > 0, f
    for x, a in PROCESSES:
        assert (tiny / f"attention_mess3_x{x:g}_a{a:g}.png").exists()
        assert (tiny / f"geometry_mess3_x{x:g}_a{a:g}.png").exists()
    md = (tiny / "RESULTS.md").read_text()
    assert "Attention decay" in md and "gasket" in md


def test_tiny_results_are_sane(tiny):
    r = json.loads((tiny / "results.json").read_text())
    assert r["mode"] == "tiny" and len(r["processes"]) == 4
    for p in r["processes"]:
        assert p["lambda"] == pytest.approx(1 - 3 * p["x"])
        assert len(p["heads"]) == r["config"]["n_heads"] >= 2
        for h in p["heads"]:
            assert np.isfinite(h["lam"]) and abs(h["lam"]) <= 1.5
        # the summary numbers follow from the head fits
        parities = {h["parity"] for h in p["heads"]}
        assert p["parity_split"] == (p["lambda"] < 0 and {"even", "odd"} <= parities)
        lam = abs(p["lambda"])
        assert p["best_abs_rel_error"] == pytest.approx(min(abs(abs(h["lam"]) - lam) / lam for h in p["heads"]))
        assert p["final_relative"] > 0.9  # a loss cannot beat the Bayes optimum by much
        for point in p["probe"].values():
            assert -1.0 <= point["beliefs_r2"] <= 1.0 and -1.0 <= point["gasket_r2"] <= 1.0
            assert 0 < point["top3_variance"] <= 1.0 + 1e-9
        eig = p["attention"]["eigenvalues"]
        assert all(abs(e[0] - p["lambda"]) < 1e-8 for e in eig)


def test_gasket_coordinates():
    prefixes = np.array([[0, -1, -1], [0, 1, -1], [2, 1, 0]])
    lengths = np.array([1, 2, 3])
    g = gasket_coordinates(prefixes, lengths, 0.5)
    assert np.allclose(g[0], [1, 0, 0])
    assert np.allclose(g[1], np.array([0.5, 1, 0]) / 1.5)
    assert np.allclose(g[2], np.array([1, 0.5, 0.25]) / 1.75)
    gn = gasket_coordinates(prefixes, lengths, -0.5)
    assert np.allclose(gn[1], np.array([-0.5, 1, 0]) / 1.5)
