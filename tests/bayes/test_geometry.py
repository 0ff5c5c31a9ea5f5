"""Geometry: simplex and Bloch coordinates, projections, affine dimension, exact maps."""

import numpy as np
import pytest

from bayes import (affine_dimension, affine_projection, barycentric_coordinates, belief_trajectories,
                   bloch_vectors, linear_map, mixed_state_presentation, representation_map)
from generators import library, minimize


def test_barycentric_vertices_and_centroid():
    np.testing.assert_allclose(barycentric_coordinates(np.eye(3)), [[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]])
    np.testing.assert_allclose(barycentric_coordinates([1 / 3] * 3), [0.5, np.sqrt(3) / 6])
    tet = barycentric_coordinates(np.eye(4))
    d = np.linalg.norm(tet[:, None] - tet[None], axis=-1)
    np.testing.assert_allclose(d[np.triu_indices(4, 1)], 1.0)  # regular tetrahedron
    with pytest.raises(ValueError, match="3 or 4 states"):
        barycentric_coordinates(np.ones(5) / 5)


def test_bloch_vectors_of_known_states():
    zero = np.array([[1, 0], [0, 0]])
    plus = np.full((2, 2), 0.5)
    plus_i = np.array([[0.5, -0.5j], [0.5j, 0.5]])
    np.testing.assert_allclose(bloch_vectors(np.array([zero, plus, plus_i, np.eye(2) / 2])),
                               [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 0]], atol=1e-15)
    with pytest.raises(ValueError, match="2x2"):
        bloch_vectors(np.eye(3))


def test_bloch_walk_belief_after_symbol_0_moves_along_z():
    g = library.bloch_walk(alpha=1.0, beta=4.3)
    tr = belief_trajectories(g, [[0]])
    np.testing.assert_allclose(bloch_vectors(tr.native()[0, 1]), [0, 0, 0.44125192], atol=1e-8)
    # in GHMM coordinates (I, X, Y, Z)/sqrt(2): the qubit's eta = (1, x, y, z)/sqrt(2)
    np.testing.assert_allclose(tr.beliefs[0, 1] * np.sqrt(2), [1, 0, 0, 0.44125192], atol=1e-8)
    # the minimal GHMM in canonical coordinates (tau = e0) has first coordinate 1
    mg = minimize(g)
    np.testing.assert_allclose(belief_trajectories(mg, [[0, 2, 1]]).beliefs[..., 0], 1.0, atol=1e-12)


@pytest.mark.parametrize("name, depth, minimal_dim", [
    ("mess3", 4, 3), ("bloch_walk", 4, 3), ("moon", 10, 3), ("frdn", 20, 4), ("rrxor", 10, 5),
])
def test_affine_dimension_is_minimal_dimension_minus_one(name, depth, minimal_dim):
    g = library.get(name)
    m = mixed_state_presentation(g, depth)
    assert minimize(g).dim == minimal_dim
    assert affine_dimension(m.beliefs) == minimal_dim - 1


def test_affine_dimension_edge_cases():
    assert affine_dimension(np.ones((5, 3)) / 3 + 1e-17 * np.arange(15).reshape(5, 3)) == 0
    assert affine_dimension([[1.0, 0.0], [0.0, 1.0]]) == 1


def test_affine_projection_is_an_isometry_when_exact():
    g = library.moon()
    m = mixed_state_presentation(g, 12)
    proj = affine_projection(m.beliefs, g.to_ghmm().tau, dim=2)
    assert proj.exact and proj.components.shape == (2, 3)
    np.testing.assert_allclose(proj.components @ g.to_ghmm().tau, 0.0, atol=1e-12)
    xy = proj(m.beliefs)
    d2 = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    d3 = np.linalg.norm(m.beliefs[:, None] - m.beliefs[None], axis=-1)
    np.testing.assert_allclose(d2, d3, atol=1e-10)


def test_affine_projection_pca():
    g = library.frdn()
    m = mixed_state_presentation(g, 40)
    proj = affine_projection(m.beliefs, g.to_ghmm().tau, dim=2, weights=m.probs)
    assert not proj.exact and proj.dim == 2
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(2), atol=1e-12)
    assert 0.5 < proj.explained_variance_ratio.sum() <= 1 + 1e-12
    assert np.all(np.diff(proj.explained_variance_ratio) <= 0)
    full = affine_projection(m.beliefs, g.to_ghmm().tau, dim=3)
    assert full.exact
    with pytest.raises(ValueError, match="weights"):
        affine_projection(m.beliefs, weights=-np.ones(m.n_beliefs))


@pytest.mark.parametrize("name", ["mess3", "rrxor", "bloch_walk", "even_process"])
def test_representation_map_onto_minimal_ghmm_is_exact(name):
    g = library.get(name)
    mg = minimize(g)
    A = representation_map(g, mg, depth=5)
    assert A.matrix.shape == (g.to_ghmm().dim, mg.dim) and A.residual < 1e-10
    words = g.sample(50, 12, seed=4)
    src = belief_trajectories(g, words).beliefs
    np.testing.assert_allclose(A(src), belief_trajectories(mg, words).beliefs, atol=1e-9)


def test_representation_map_rejects_different_processes():
    with pytest.raises(ValueError, match="no linear map fits"):
        representation_map(library.mess3(x=0.05, a=0.85), library.mess3(x=0.15, a=0.6), depth=3)
    with pytest.raises(ValueError, match="different alphabets"):
        representation_map(library.mess3(), library.rrxor())
    with pytest.raises(ValueError, match="same N"):
        linear_map(np.ones((3, 2)), np.ones((4, 2)))


@pytest.mark.parametrize("call, match", [
    (lambda: barycentric_coordinates([[np.nan, 0.5, 0.5]]), r"p must be finite; entry \(0, 0\) is nan"),
    (lambda: barycentric_coordinates([[True, False, False]]), "dtype bool"),
    (lambda: bloch_vectors(np.array([["a", "b"], ["c", "d"]])), "numeric 2x2 density matrices"),
    (lambda: bloch_vectors(np.full((2, 2), np.nan)), "finite density matrices"),
    (lambda: affine_projection([[0.5, 0.5], [np.inf, 0.0]]), r"beliefs must be finite; entry \(1, 0\) is inf"),
    (lambda: affine_projection([[0.5, 0.5], [1.0, 0.0]], weights=[1.0, -1.0]), r"weights must be nonnegative; weights\[1\] = -1"),
    (lambda: affine_projection([[0.5, 0.5], [1.0, 0.0]], dim=1.5), "dim must be an integer[^;]*; got 1.5"),
    (lambda: affine_projection([[0.5, 0.5], [1.0, 0.0]], tau=[1.0, np.nan]), r"tau must be finite"),
    (lambda: affine_dimension([[0.5, 0.5]], tol=-1), "tol must be a finite real number > 0[^;]*; got -1"),
    (lambda: linear_map([[1.0, np.nan]], [[1.0]]), "source must be finite"),
    (lambda: representation_map("mess3", library.mess3()), r"g_from must be a generators.Generator.*resolve"),
    (lambda: representation_map(library.mess3(), library.mess3(), depth=-1), "depth must be an integer >= 0"),
])
def test_geometry_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
