"""papers/shai2026_factored: the --tiny configuration end to end against known values, the
joint-belief construction, and the subspace-overlap definition.  (The factored data and
training live in nets: tests/nets/test_data.py and tests/nets/test_train.py.)"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from generators import library
from generators.testing import enumerated_myopic_entropy
from papers.shai2026_factored.run import joint_coordinates, main, subspace_overlap


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("shai2026_tiny")
    assert main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def test_tiny_outputs(tiny):
    for f in ["results.json", "RESULTS.md", "loss_curve.png", "pca_spectrum.png", "subspace_overlap.png",
              "factor0_geometry.png", "factor1_geometry.png"]:
        assert (tiny / f).stat().st_size > 0, f
    assert "factor-subspace overlap" in (tiny / "RESULTS.md").read_text()


def test_tiny_known_values(tiny):
    """Mess3(.15, .6) x Bloch walk(1, 3), context 5: the numbers a wrong analysis would change."""
    r = json.loads((tiny / "results.json").read_text())
    assert r["alphabet_size"] == 12 and r["train"]["weight_decay"] == 0.01 and r["train"]["optimizer"] == "adamw"
    t = r["training"]
    assert t["steps"] == 20 and t["tokens"] == 20 * 64 * 5
    # the optimum: sum of the factors' myopic entropies at positions 2..6, by enumeration of every factor word
    h = (enumerated_myopic_entropy(library.mess3(x=0.15, a=0.6), 6, base=math.e)
         + enumerated_myopic_entropy(library.bloch_walk(alpha=1.0, beta=3.0), 6, base=math.e))
    assert t["optimum_mean_nats"] == pytest.approx(float(np.mean(h[1:])), rel=1e-9)
    d = r["dims"]
    assert d["factored_prediction"] == 4  # Mess3 (2) + Bloch walk (2)
    assert d["joint_minimal_coords"] == 8 and d["joint_affine_dim"] == 8  # (1, b1) x (1, b2) minus the constant
    assert 1 <= d["joint_pca95_minimal_coords"] <= 8 and d["factored_pca95"] <= d["joint_pca95_minimal_coords"]
    assert r["analysis"]["rows"] == 300 * 5
    ov = r["overlap"]
    assert ov["random_subspaces"] == pytest.approx(2 / 16)  # two 2-dim subspaces of R^16
    np.testing.assert_allclose(np.diag(ov["trained_matrix"]), 1.0)
    ex = r["explained_variance"]  # the joint beliefs contain the factor beliefs as coordinates
    assert ex["joint_beliefs"] >= ex["factor_beliefs"] - 1e-12
    assert ex["untrained_joint_beliefs"] >= ex["untrained_factor_beliefs"] - 1e-12
    assert r["training"]["final_relative"] > 0.9


def test_joint_coordinates_are_the_kronecker_product():
    rng = np.random.default_rng(0)
    c1, c2 = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    J = joint_coordinates([c1, c2])
    full = np.einsum("ni,nj->nij", np.c_[np.ones(5), c1], np.c_[np.ones(5), c2]).reshape(5, -1)
    np.testing.assert_allclose(J, full[:, 1:])
    np.testing.assert_allclose(J[:, :3], c2)  # 1 x (1, c2): the second factor's own coordinates come first


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
