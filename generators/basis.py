"""Orthonormal Hermitian operator bases (generalized Gell-Mann matrices).

The real coordinates of a density matrix ``rho`` (d x d) are ``eta_i = tr(F_i rho)`` in an
orthonormal Hermitian basis ``{F_i}`` (``tr(F_i F_j) = delta_ij``) of ``d^2`` matrices,
and ``rho = sum_i eta_i F_i``.  The first element is ``I / sqrt(d)``, then the symmetric
off-diagonal matrices ``(E_jk + E_kj)/sqrt(2)``, the antisymmetric ones
``-i (E_jk - E_kj)/sqrt(2)`` (j < k), then the traceless diagonal ones
``(sum_{m<l} E_mm - l E_ll) / sqrt(l (l + 1))``.  For ``d = 2`` this is
``(I, X, Y, Z) / sqrt(2)``, so a qubit's coordinates are ``(1, x, y, z) / sqrt(2)`` with
``(x, y, z)`` the Bloch vector.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["gell_mann_basis", "density_to_coords", "coords_to_density"]


@lru_cache(maxsize=32)
def _basis(d: int) -> np.ndarray:
    if d < 1:
        raise ValueError(f"basis dimension must be >= 1; got {d}")
    mats = [np.eye(d, dtype=complex) / np.sqrt(d)]
    s2 = np.sqrt(2.0)
    for j in range(d):
        for k in range(j + 1, d):
            m = np.zeros((d, d), dtype=complex)
            m[j, k] = m[k, j] = 1.0 / s2
            mats.append(m)
    for j in range(d):
        for k in range(j + 1, d):
            m = np.zeros((d, d), dtype=complex)
            m[j, k] = -1j / s2
            m[k, j] = 1j / s2
            mats.append(m)
    for l in range(1, d):
        m = np.zeros((d, d), dtype=complex)
        m[np.arange(l), np.arange(l)] = 1.0
        m[l, l] = -float(l)
        mats.append(m / np.sqrt(l * (l + 1)))
    out = np.array(mats)
    out.setflags(write=False)
    return out


def gell_mann_basis(d: int) -> np.ndarray:
    """The ``d^2`` orthonormal Hermitian basis matrices, shape ``(d^2, d, d)`` complex."""
    return _basis(int(d))


def density_to_coords(rho: np.ndarray) -> np.ndarray:
    """Real coordinates ``eta_i = tr(F_i rho)`` of (batched) matrices ``(..., d, d) -> (..., d^2)``."""
    rho = np.asarray(rho)
    F = gell_mann_basis(rho.shape[-1])
    # tr(F_i rho) = sum_ab F_i[a, b] rho[b, a]
    return np.real(np.einsum("iab,...ba->...i", F, rho))


def coords_to_density(eta: np.ndarray) -> np.ndarray:
    """Matrices ``rho = sum_i eta_i F_i`` from coordinates ``(..., d^2) -> (..., d, d)``."""
    eta = np.asarray(eta, dtype=float)
    d = int(round(np.sqrt(eta.shape[-1])))
    if d * d != eta.shape[-1]:
        raise ValueError(f"coordinates must have a square length d^2; got {eta.shape[-1]}")
    return np.einsum("...i,iab->...ab", eta, gell_mann_basis(d))
