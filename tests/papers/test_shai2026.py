"""papers/shai2026_factored: the --tiny configuration end to end, the factored data, and
the subspace-overlap definition."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bayes import myopic_entropy
from generators import library, product
from papers.shai2026_factored.factored import FactoredData
from papers.shai2026_factored.run import build_product, main, subspace_overlap


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("shai2026_tiny")
    assert main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def test_tiny_outputs(tiny):
    for f in ["results.json", "RESULTS.md", "loss_curve.png", "pca_spectrum.png", "subspace_overlap.png",
              "factor0_geometry.png", "factor1_geometry.png"]:
        assert (tiny / f).stat().st_size > 0, f
    r = json.loads((tiny / "results.json").read_text())
    d = r["dims"]
    assert d["factored_prediction"] == 4  # Mess3 (2) + Bloch walk (2)
    assert 1 <= d["joint_pca95_minimal_coords"] <= d["joint_minimal_coords"] == 8
    assert 1 <= r["activation_pca95"] <= r["model"]["d_model"]
    for k in ("trained_decode", "untrained_decode", "trained_encode", "untrained_encode"):
        assert 0.0 <= r["overlap"][k] <= 1.0 + 1e-9
    assert len(r["decode"]) == 2 and all(-1 <= x["r2"] <= 1 for x in r["decode"])
    assert r["training"]["final_relative"] > 0.9
    assert "factor-subspace overlap" in (tiny / "RESULTS.md").read_text()


def test_factored_data_matches_the_product():
    g = product(library.mess3(x=0.15, a=0.6), library.bloch_walk(alpha=1.0, beta=3.0))
    data = FactoredData(g, 4, seed=3)
    b = data.batch(0, 5)
    assert b.tokens.shape == (5, 4) and b.next_probs.shape == (5, 4, 12)
    assert np.allclose(b.next_probs.sum(-1), 1.0, atol=1e-6)
    # the joint next-symbol distribution after the first symbol, from the product's own Bayes update
    for i in range(5):
        st = g.update(g.initial_state, int(b.words[i, 0]))
        assert np.allclose(g.emission_probs(st), b.next_probs[i, 0], atol=1e-6)
    # optimum = sum of the factors' myopic entropies = the joint one (small enough to check)
    h = myopic_entropy(g, 5, base=math.e)[1:]
    assert np.allclose(data.optimum, h, atol=1e-9)
    assert np.array_equal(data.batch(0, 5).words, b.words)  # pure function of (seed, step)


def test_big_product_is_never_materialized():
    g = build_product(3, 2)
    assert g.alphabet_size == 432
    data = FactoredData(g, 9)
    b = data.sample(3, np.random.default_rng(0), next_probs=False)
    assert b.tokens.shape == (3, 9) and b.tokens.max() < 432
    assert [h.dim for h in data.minimal] == [3, 3, 3, 3, 3]
    assert g._ghmm_cache is None  # the joint (432 x 243^2) GHMM was never built


def test_subspace_overlap_definition():
    rng = np.random.default_rng(0)
    N, d = 4000, 12
    B1, B2 = rng.normal(size=(N, 2)), rng.normal(size=(N, 2))
    # orthogonal embedding: factor 1 in coords 0-1, factor 2 in coords 2-3
    A = np.zeros((N, d))
    A[:, :2], A[:, 2:4] = B1, B2
    A += 1e-3 * rng.normal(size=(N, d))
    assert subspace_overlap(A, [B1, B2])["decode_mean"] < 1e-3
    # shared embedding: both factors written into the same two directions
    A2 = np.zeros((N, d))
    A2[:, :2] = B1 + B2
    A2[:, 2:4] = 1e-3 * rng.normal(size=(N, 2))
    ov = subspace_overlap(A2, [B1, B2])
    assert ov["decode_mean"] > 0.9 and ov["encode_mean"] > 0.9
