"""Quantum generators: GHMM form vs direct Kraus computation, native updates, bases."""


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators import QuantumGenerator, coords_to_density, density_to_coords, gell_mann_basis, library
from generators.errors import IncompleteInstrumentError, ShapeError, StateError
from generators.testing import all_words

from .strategies import random_quantums


def kraus_word_probability(q, rho, word):
    for x in word:
        rho = sum(K @ rho @ K.conj().T for K in q.kraus[x])
    return np.trace(rho).real


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_gell_mann_basis_orthonormal_hermitian(d):
    F = gell_mann_basis(d)
    assert F.shape == (d * d, d, d)
    gram = np.einsum("iab,jba->ij", F, F)
    np.testing.assert_allclose(gram, np.eye(d * d), atol=1e-14)
    np.testing.assert_allclose(F, np.conj(np.transpose(F, (0, 2, 1))), atol=0)
    rho = np.diag(np.arange(1, d + 1)).astype(complex) / (d * (d + 1) / 2)
    np.testing.assert_allclose(coords_to_density(density_to_coords(rho)), rho, atol=1e-14)


def test_qubit_coordinates_are_bloch_vector():
    X = np.array([[0, 1], [1, 0]])
    Z = np.diag([1.0, -1])
    rho = (np.eye(2) + 0.3 * X + 0.5 * Z) / 2
    np.testing.assert_allclose(density_to_coords(rho), np.array([1, 0.3, 0, 0.5]) / np.sqrt(2), atol=1e-15)


@given(random_quantums(), st.data())
def test_ghmm_word_probabilities_equal_kraus(q, data):
    V = q.alphabet_size
    L = data.draw(st.integers(0, 4))
    words = all_words(V, L)[:50]
    direct = np.array([kraus_word_probability(q, q.initial_state, w) for w in words])
    np.testing.assert_allclose(q.word_probability(words), direct, atol=1e-12)
    np.testing.assert_allclose(q.to_ghmm().word_probability(words), direct, atol=1e-12)


@given(random_quantums(), st.data())
def test_native_update_equals_ghmm_update(q, data):
    rho = q.initial_state
    g = q.to_ghmm()
    eta = g.initial
    for _ in range(data.draw(st.integers(1, 5))):
        p = q.emission_probs(rho)
        np.testing.assert_allclose(p, g.emission_probs(eta), atol=1e-12)
        x = int(np.argmax(p))
        rho = q.update(rho, x)
        eta = g.update(eta, x)
        np.testing.assert_allclose(q.to_native(eta), rho, atol=1e-10)
        assert abs(np.trace(rho) - 1) < 1e-12
        assert np.linalg.eigvalsh(rho).min() > -1e-12


def test_default_initial_is_channel_fixed_point():
    q = library.random_quantum(d=3, n_symbols=2, rank=2, seed=4)
    rho = q.initial_state
    out = sum(K @ rho @ K.conj().T for Ks in q.kraus for K in Ks)
    np.testing.assert_allclose(out, rho, atol=1e-12)
    assert abs(np.trace(rho) - 1) < 1e-12


def test_accepts_qutip_and_round_trips():
    qutip = pytest.importorskip("qutip")
    q = library.bloch_walk()
    kraus, rho = q.to_qutip()
    assert isinstance(kraus[0][0], qutip.Qobj)
    q2 = QuantumGenerator.from_qutip(kraus, rho)
    words = np.random.default_rng(0).integers(0, 4, size=(20, 6))
    np.testing.assert_allclose(q2.word_probability(words), q.word_probability(words), atol=1e-15)
    q3 = QuantumGenerator(kraus, initial=qutip.basis(2, 0))  # a ket becomes |0><0|
    np.testing.assert_allclose(q3.initial_state, np.diag([1, 0]), atol=1e-15)


def test_input_forms_agree():
    q = library.bloch_walk()
    K = np.array([k[0] for k in q.kraus])
    for form in (K, K[:, None], {i: [K[i]] for i in range(4)}, [K[i] for i in range(4)]):
        np.testing.assert_allclose(QuantumGenerator(form).to_ghmm().operators, q.to_ghmm().operators)


def test_bad_instruments():
    with pytest.raises(IncompleteInstrumentError, match="identity"):
        QuantumGenerator([np.eye(2) * 0.5, np.eye(2) * 0.5])
    with pytest.raises(ShapeError, match="same dimension"):
        QuantumGenerator([[np.eye(2) / np.sqrt(2)], [np.eye(3) / np.sqrt(2)]])
    with pytest.raises(ShapeError):
        QuantumGenerator([])
    q = library.bloch_walk()
    with pytest.raises(StateError, match="initial must have trace 1.*got trace 2"):
        QuantumGenerator(q.kraus, initial=np.eye(2))
    with pytest.raises(StateError, match="initial must be positive semidefinite.*smallest eigenvalue is -0.5"):
        QuantumGenerator(q.kraus, initial=np.diag([1.5, -0.5]))
