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

from .errors import ShapeError
from .limits import check_bytes
from .validation import check_int

__all__ = ["gell_mann_basis", "density_to_coords", "coords_to_density"]


@lru_cache(maxsize=32)
def _basis(d: int) -> np.ndarray:
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
    """The ``d^2`` orthonormal Hermitian basis matrices, shape ``(d^2, d, d)`` complex
    (``16 d^4`` bytes, refused above :data:`generators.limits.MAX_BYTES`)."""
    d = check_int(d, "d", minimum=1)
    check_bytes(16.0 * d**4, f"the Gell-Mann basis of dimension d={d} ({d * d} complex {d}x{d} matrices)")
    return _basis(d)


def density_to_coords(rho: np.ndarray) -> np.ndarray:
    """Real coordinates ``eta_i = tr(F_i rho)`` of (batched) matrices ``(..., d, d) -> (..., d^2)``."""
    rho = np.asarray(rho)
    if rho.ndim < 2 or rho.shape[-1] != rho.shape[-2] or not np.issubdtype(rho.dtype, np.number):
        raise ShapeError(f"density_to_coords needs numeric square matrices (..., d, d); got shape {rho.shape}, "
                         f"dtype {rho.dtype}")
    F = gell_mann_basis(rho.shape[-1])
    # tr(F_i rho) = sum_ab F_i[a, b] rho[b, a]
    return np.real(np.einsum("iab,...ba->...i", F, rho))


def coords_to_density(eta: np.ndarray) -> np.ndarray:
    """Matrices ``rho = sum_i eta_i F_i`` from coordinates ``(..., d^2) -> (..., d, d)``."""
    eta = np.asarray(eta, dtype=float)
    d = int(round(np.sqrt(eta.shape[-1]))) if eta.ndim else 0
    if eta.ndim == 0 or d < 1 or d * d != eta.shape[-1]:
        raise ShapeError(f"coordinates must have a last axis of square length d^2 >= 1; got shape {eta.shape}")
    return np.einsum("...i,iab->...ab", eta, gell_mann_basis(d))
