"""Belief representations: native, minimal (cached), equivalent generators; the constant coordinate."""

from __future__ import annotations

import numpy as np
import pytest

from generators import library, minimize
from generators.errors import ArgumentError
from generators.representations import minimal_form, representation


def test_minimal_is_cached_per_generator_and_canonical():
    g = library.bloch_walk()
    assert minimal_form(g) is minimal_form(g)
    r = representation(g, "minimal")
    np.testing.assert_allclose(r.ghmm.tau, [1.0, 0.0, 0.0], atol=1e-14)
    assert (r.constant_index, r.dim) == (0, 2)


def test_native_keeps_hmm_probabilities_and_drops_quantum_identity_coordinate():
    h = representation(library.mess3(), "native")
    assert h.constant_index is None and h.dim == 3
    q = representation(library.bloch_walk(), "native")  # tau = (sqrt 2, 0, 0, 0): eta_0 = 1/sqrt 2
    assert q.constant_index == 0 and q.dim == 3
    b = q.trajectories(np.array([[0, 2, 1]]))
    np.testing.assert_allclose(b[0, :, 0], 2 ** -0.5, atol=1e-14)


def test_equivalent_generator_and_rejections():
    g = library.mess3(x=0.15, a=0.6)
    r = representation(g, minimize(g))
    words = np.array([[0, 1], [2, 2]])
    np.testing.assert_allclose(r.final_beliefs(words), representation(g, "minimal").final_beliefs(words), atol=1e-12)
    with pytest.raises(ArgumentError, match="not equivalent"):
        representation(g, library.mess3(x=0.1, a=0.6))
    with pytest.raises(ArgumentError, match="'native', 'minimal'"):
        representation(g, "minimum")


def test_coordinates_drop_exactly_the_constant_one():
    g = library.mess3(x=0.15, a=0.6)
    r = representation(g, "minimal")
    b = r.trajectories(np.array([[0, 1]]))
    np.testing.assert_array_equal(r.coordinates(b), b[..., 1:])
    with pytest.raises(ArgumentError, match="last dimension 3"):
        r.coordinates(np.ones((2, 4)))
