"""papers/shai2026_factored: the subspace-overlap definitions on known answers (identical,
orthogonal, random subspaces; LayerNorm's null direction), the joint-belief construction,
and the --tiny configuration end to end against exact values (2 seeds pooled)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from generators import library
from generators.testing import enumerated_myopic_entropy
from papers.shai2026_factored.analysis import explained_share, joint_coordinates
from papers.shai2026_factored.experiment import Shai2026, product_spec
from papers.shai2026_factored.overlap import (factor_overlap, lstsq_decoders, orthonormal_basis, pca_decoders,
                                              random_overlap, subspace_overlap)


def test_subspace_overlap_known_answers():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert subspace_overlap(Q[:, :3], Q[:, :3]) == pytest.approx(1.0)  # identical
    assert subspace_overlap(Q[:, :3], Q[:, 3:6]) == pytest.approx(0.0, abs=1e-12)  # orthogonal
    assert subspace_overlap(Q[:, :2], Q[:, :4]) == pytest.approx(1.0)  # nested: the smaller one inside
    # one shared direction of two: cos^2 of the principal angles (1, 0) -> 1/2
    assert subspace_overlap(Q[:, [0, 1]], Q[:, [0, 2]]) == pytest.approx(0.5)
    # a 45-degree rotation of one direction out of the plane: (1 + 1/2) / 2
    v = (Q[:, 1] + Q[:, 2]) / math.sqrt(2)
    assert subspace_overlap(Q[:, :2], np.c_[Q[:, 0], v]) == pytest.approx(0.75)
    assert math.isnan(subspace_overlap(Q[:, :2], np.zeros((10, 0))))


def test_random_subspaces_overlap_k_over_d():
    rng = np.random.default_rng(1)
    d, k = 24, 3
    vals = [subspace_overlap(np.linalg.qr(rng.normal(size=(d, k)))[0], np.linalg.qr(rng.normal(size=(d, k)))[0])
            for _ in range(4000)]
    # E ||Q1^T Q2||_F^2 = k^2 / d, divided by min(k, k) = k
    assert np.mean(vals) == pytest.approx(k / d, rel=0.03)
    assert random_overlap([k, k, k], d) == pytest.approx(k / d)
    assert random_overlap([2, 4], 8) == pytest.approx(0.5)  # max(k_j, k_k) / d


def test_orthonormal_basis_drops_null_directions():
    M = np.c_[np.eye(5)[:, 0], 2 * np.eye(5)[:, 0], np.eye(5)[:, 1]]
    B = orthonormal_basis(M)
    assert B.shape == (5, 2)
    np.testing.assert_allclose(B.T @ B, np.eye(2), atol=1e-12)
    assert orthonormal_basis(np.zeros((4, 2))).shape == (4, 0)


def _two_factors(rng, N=3000, d=12, shared=False, noise=1e-3):
    B1, B2 = rng.normal(size=(N, 2)), rng.normal(size=(N, 2))
    A = noise * rng.normal(size=(N, d))
    if shared:
        A[:, :2] += B1 + B2
    else:
        A[:, :2] += B1
        A[:, 2:4] += B2
    return A, [B1, B2]


@pytest.mark.parametrize("decoder", ["pca", "lstsq"])
def test_factor_overlap_orthogonal_vs_shared(decoder):
    rng = np.random.default_rng(2)
    A, B = _two_factors(rng)
    o = factor_overlap(A, B, decoder)
    assert o["mean"] < 1e-4 and o["dims"] == [2, 2] and o["random"] == pytest.approx(2 / 12)
    np.testing.assert_allclose(np.diag(o["matrix"]), 1.0)
    A2, B2 = _two_factors(rng, shared=True)
    assert factor_overlap(A2, B2, decoder)["mean"] > 0.9


def test_decoders_are_least_squares():
    """Both decoders equal ordinary least squares when nothing is truncated."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    Y = rng.normal(size=(400, 2))
    ref = np.linalg.lstsq(np.c_[np.ones(400), A], Y, rcond=None)[0][1:]
    np.testing.assert_allclose(lstsq_decoders(A, [Y])[0], ref, atol=1e-10)
    np.testing.assert_allclose(pca_decoders(A, [Y], var_keep=1.0)[0], ref, atol=1e-10)


def test_layernorm_null_direction():
    """Row-centred float32 activations (as after LayerNorm) with the factors in orthogonal
    directions: the authors' float32 cutoff drops the (almost) null direction of all-ones and
    finds orthogonal subspaces; a float64 cutoff keeps it, every decoder loads on it, and the
    overlap of two-dimensional subspaces goes to 1/2."""
    rng = np.random.default_rng(4)
    N, d = 4000, 16
    B1, B2 = rng.normal(size=(N, 2)), rng.normal(size=(N, 2))
    Z = 0.05 * rng.normal(size=(N, d))
    Z[:, 0:2] += B1
    Z[:, 2:4] -= B1  # each factor written with zero row sum, so centring rows keeps it
    Z[:, 4:6] += B2
    Z[:, 6:8] -= B2
    A = (Z - Z.mean(axis=1, keepdims=True)).astype(np.float32)
    assert factor_overlap(A, [B1, B2], "lstsq")["mean"] < 1e-2
    f64 = np.finfo(np.float64).eps * (N + d + 1)
    assert factor_overlap(A, [B1, B2], "lstsq", rcond=f64)["mean"] == pytest.approx(0.5, abs=0.05)
    assert factor_overlap(A, [B1, B2], "pca")["mean"] < 1e-2  # ours never uses a zero-variance direction


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least two factors"):
        factor_overlap(np.zeros((5, 3)), [np.zeros((5, 1))])
    with pytest.raises(ValueError, match="decoder"):
        factor_overlap(np.zeros((5, 3)), [np.zeros((5, 1))] * 2, "svd")
    with pytest.raises(ValueError, match="rows"):
        factor_overlap(np.zeros((5, 3)), [np.zeros((5, 1)), np.zeros((4, 1))])


def test_joint_coordinates_are_the_kronecker_product():
    rng = np.random.default_rng(0)
    c1, c2 = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    J = joint_coordinates([c1, c2])
    full = np.einsum("ni,nj->nij", np.c_[np.ones(5), c1], np.c_[np.ones(5), c2]).reshape(5, -1)
    np.testing.assert_allclose(J, full[:, 1:])
    np.testing.assert_allclose(J[:, :3], c2)  # 1 x (1, c2): the second factor's own coordinates come first
    X = rng.normal(size=(50, 2))
    assert explained_share(X @ [[1.0, 0.0], [2.0, 1.0]], X) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("shai2026_tiny")
    assert Shai2026().main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def test_tiny_known_values(tiny):
    """Mess3(.15, .6) x Bloch walk(1, 3), context 5: the numbers a wrong analysis would change."""
    r = json.loads((tiny / "results.json").read_text())
    assert set(r["pooled"]) == {"ours", "paper"}
    h = (enumerated_myopic_entropy(library.mess3(x=0.15, a=0.6), 6, base=math.e)
         + enumerated_myopic_entropy(library.bloch_walk(alpha=1.0, beta=3.0), 6, base=math.e))
    for key, m in r["metrics"].items():
        assert m["process"] == {"alphabet_size": 12, "factors": 2, "d_model": 16}
        # the optimum: sum of the factors' myopic entropies at positions 2..6, by enumeration
        assert m["training"]["optimum_nats"] == pytest.approx(float(np.mean(h[1:])), rel=1e-9)
        assert m["training"]["steps"] == 20 and m["rows"] == 300 * 5
        d = m["dims"]
        assert d["factored_prediction"] == 4 and d["joint_coords"] == 8 and d["joint_affine_dim"] == 8
        assert d["factored_pca95"] <= d["joint_pca95"] <= 8
        for defn in ("ours", "authors", "authors_float64"):
            assert m["overlap"][defn]["random"] == pytest.approx(2 / 16)  # two 2-dim subspaces of R^16
        ex = m["explained"]["trained"]  # the joint beliefs contain the factor beliefs as coordinates
        assert ex["joint_beliefs"] >= ex["factor_beliefs"] - 1e-12
    pooled = r["pooled"]["ours"]["overlap.authors.trained"]
    assert pooled["n"] == 2 and pooled["lo"] <= pooled["mean"] <= pooled["hi"]
    assert r["runs"][0]["train"]["weight_decay"] == 0.01 and r["runs"][0]["train"]["optimizer"] == "adamw"
    assert r["runs"][0]["train"]["process"] == product_spec(1, 1)
    md = (tiny / "RESULTS.md").read_text()
    assert "overlap, trained (authors)" in md and "weight decay 0.01" in md
    assert (tiny / "subspace_overlap_ours.png").stat().st_size > 0


def test_doctests():
    import doctest

    from papers.shai2026_factored import analysis, experiment, overlap

    for mod in (analysis, experiment, overlap):
        assert doctest.testmod(mod, optionflags=doctest.ELLIPSIS).failed == 0, mod.__name__
