"""Decay rates that attention must track: the spectrum of ``sum_x T[x]`` and the
effective decay of the best attention-like linear filter of the past.

Piotrowski et al. [1]_ explain attention in one-layer transformers trained on Mess3 as a
constrained belief update: attention from destination ``d`` to source ``s`` decays like
``lambda^(d-s)`` with ``lambda`` the repeated eigenvalue of ``sum_x T[x]``, and a negative
``lambda`` splits even and odd distances between heads.  That is the *weak-emission*
limit.  With informative emissions the best linear filter of the past decays faster.

Definitions (row-vector GHMM ``(T, tau, pi)`` in its minimal form, ``M = sum_x T[x]``)
-------------------------------------------------------------------------------------
**Modes.**  The eigenvalues of ``M`` other than the stationary 1, grouped when equal
within ``tol`` (complex pairs listed once, ``Im > 0``).  For each group a real basis
``Y`` (n, m) of its right invariant subspace (``M Y = Y S``, from an ordered real Schur
form) gives the mode coordinates ``y_d = eta_d Y`` of the belief after position ``d``.
They obey ``E[y_{d+1} | past] = y_d S``: in the mean each mode decays by its eigenvalue.

**Second-order statistics** (exact, no sampling).  With ``p_a = pi T[a] tau``, centered
one-hot tokens ``x``, ``U_a = pi T[a]`` and ``T[b] tau = p_b tau + Y_ns beta_b``
(``Y_ns`` the basis of all non-stationary modes, ``S_ns`` its block)::

    Lambda_0 = diag(p) - p p^T,     Lambda_j = E[x_t x_{t+j}^T] = (U Y_ns) S_ns^(j-1) beta^T,
    C_k = E[x_{d-k} y_d^T] = U Y S^k                               (k >= 0)

(the second from ``E[eta_d | x_{<=d-k}] = eta_{d-k} M^k`` and ``E[1{x_t = a} eta_t] =
pi T[a]``; both hold for beliefs of any GHMM, so quantum and post-quantum processes are
covered).

**Effective rate** (``effective_rates``; the definition that reproduces the reference
values).  The *attention-like* filter of the past predicts the mode from the last ``D``
tokens with one weight profile over distances shared by all symbols and a learned
embedding ``E`` (V, m) per symbol::

    y_d ~ sum_{k=0}^{D-1} w_k E^T x_{d-k}       (minimize E |y_d - ...|^2)

fitted exactly from ``Lambda`` and ``C`` by alternating least squares (for fixed ``w``
the embedding is a linear solve; for fixed ``E`` the profile solves a symmetric Toeplitz
system ``q_{k-l} w_l = tr(E^T C_k)`` with ``q_j = tr(E^T Lambda_j E)``).  The rate is the
geometric decay of ``w``: least squares on consecutive ratios ``w_{k+1} = r w_k``
(order-2 Prony ``w_{k+2} = a_1 w_{k+1} + a_2 w_k`` for a complex pair, ``r`` its root
with ``Im >= 0``) over distances ``k <= D/2`` where ``|w_k| > 1e-6 max |w|``.

**Optimal linear predictor** (``filter_eigenvalues``).  The best unconstrained linear
filter of the past (the Wiener/Kalman predictor of the token process, whose covariances
are the ``Lambda_j``) has the innovations form ``z_{t+1} = A z_t + K (x_t - C z_t)`` with
``A = S_ns^T``, ``C = beta``, ``K`` from the forward Riccati equation of stochastic
realization [3]_: ``P = A P A^T + (G - A P C^T)(Lambda_0 - C P C^T)^+ (G - A P C^T)^T``,
``G = (U Y_ns)^T``, iterated from ``P = 0``.  Its weights on the past decay with the
eigenvalues of ``A - K C``.  For Mess-type processes (``M`` acts as ``lambda I`` on the
non-stationary subspace, emissions symmetric) both definitions give the same number.

Reference values (an independent audit; this module's numbers in brackets):
``mess_n(2, +-0.7, 0.85)``: 0.41 [+-0.41418]; Mess3 ``x = 0.15`` (``lambda = 0.55``) at
``a = 0.2``: 0.53 [0.52835], at ``a = 0.6``: 0.47 [0.46661].  The weak-emission
eigenvalue (0.7, 0.55, 0.55) misses all three; the attention-like fit and the optimal
predictor agree to 1e-8 on these processes.

**Products** (:func:`generators.product`).  The minimal form of an independent product
has the eigenvalues ``lambda_i`` of each factor and all products ``lambda_i mu_j`` of
factors' eigenvalues; they are reported as the minimal form gives them.  A head must
track each factor's own ``lambda_i`` (the factor beliefs); the products belong to the
joint belief's cross terms, which are functions of the factor beliefs -- a factored
representation does not need to attend at those rates.

Cost: eigen/Schur decomposition ``O(n^3)``; statistics ``O(D (V^2 m + V n m))``; the fit
``O(iterations D V^2 m)`` per mode (``D`` the window); the Riccati iteration
``O(iterations n^3)``.  ``method="sampled"`` adds sampling ``N L`` tokens and the same
fit from their empirical covariances (a check of the exact path).

References
----------
.. [1] M. Piotrowski, P. M. Riechers, D. Filan, A. S. Shai, "Constrained belief updates
   explain geometric structures in transformer representations", ICML 2025,
   arXiv:2502.01954.
.. [2] R. Prony (1795); see P. Stoica, R. Moses, "Spectral analysis of signals" (2005).
.. [3] P. Faurre, "Stochastic realization algorithms" (1976); T. Katayama, "Subspace
   methods for system identification" (2005), ch. 7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators import Generator, minimize

from ._util import as_generator, check_positive_int

__all__ = ["AttentionRates", "attention_decay_rates"]


@dataclass(frozen=True)
class AttentionRates:
    """Decay rates a belief-tracking attention layer needs (see the module docstring).

    Attributes (tuples aligned with ``eigenvalues``)
    ------------------------------------------------
    eigenvalues : complex -- non-stationary eigenvalues of ``sum_x T[x]`` (minimal form),
        grouped, by modulus descending; a complex pair appears once (``Im > 0``)
    multiplicities : int -- algebraic multiplicity (of each member of a pair)
    signs : int -- +1 / -1 for positive / negative real eigenvalues, 0 for complex pairs
        and for a zero eigenvalue
    parity_split : bool -- a negative eigenvalue: even and odd distances are predicted
        to go to different heads (attention weights are nonnegative)
    effective_rates : complex -- decay of the best attention-like filter of the mode
    weak_emission_rates : complex -- the rates in the weak-emission limit (the eigenvalues)
    filter_eigenvalues : tuple of complex -- eigenvalues of ``A - K C`` of the optimal
        linear predictor (not aligned with the modes), by modulus descending
    window : int -- distances ``0 .. window - 1`` in the fit
    method : str -- "exact" or "sampled (...)"
    """

    eigenvalues: tuple
    multiplicities: tuple
    signs: tuple
    parity_split: tuple
    effective_rates: tuple
    weak_emission_rates: tuple
    filter_eigenvalues: tuple
    window: int
    method: str

    def summary(self) -> str:
        rows = [f"attention decay rates ({self.method}, window {self.window}); eigenvalues of sum_x T[x] "
                "(minimal form, stationary 1 removed):",
                f"{'eigenvalue':>18}{'mult':>6}{'sign':>6}{'parity split':>14}{'effective rate':>18}"]
        for ev, m, s, p, r in zip(self.eigenvalues, self.multiplicities, self.signs, self.parity_split,
                                  self.effective_rates):
            sign = {1: "+", -1: "-", 0: "pair" if complex(ev).imag else "0"}[s]
            rows.append(f"{_fmt(ev):>18}{m:>6}{sign:>6}{'yes' if p else 'no':>14}{_fmt(r):>18}")
        if not self.eigenvalues:
            rows.append("  (none: the process is i.i.d., nothing to attend to)")
        rows.append("optimal linear predictor's eigenvalues: " + (", ".join(map(_fmt, self.filter_eigenvalues)) or "-"))
        return "\n".join(rows)


def attention_decay_rates(g: Generator, *, window: int | None = None, tol: float = 1e-6, method: str = "exact",
                          n_sequences: int = 2000, length: int = 500, seed=0) -> AttentionRates:
    """Eigenvalues attention must track and the effective decay of the best
    attention-like linear filter of the past (definitions in the module docstring).

    Parameters
    ----------
    g : Generator
        Any generator; its minimal form (:func:`generators.minimize`) is used.
    window : int, optional
        Number of distances ``D`` in the attention-like fit; default the smallest with
        ``rho^D <= 1e-8`` for the largest modulus ``rho`` among the eigenvalues and the
        predictor's, clipped to ``[8, 100]``.
    tol : float
        Eigenvalues closer than ``tol * max(1, |lambda|)`` are one group.
    method : "exact" or "sampled"
        "sampled" estimates the covariances from ``n_sequences x length`` sampled tokens
        (seeded) instead of computing them exactly: a check, not the recommended path.

    Returns
    -------
    AttentionRates

    Examples
    --------
    >>> from generators import library
    >>> r = attention_decay_rates(library.mess_n(2, -0.7, 0.85))
    >>> r.eigenvalues, r.parity_split, round(r.effective_rates[0].real, 4)
    (((-0.7+0j),), (True,), -0.4142)
    """
    as_generator(g)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1); got {tol!r}")
    if method not in ("exact", "sampled"):
        raise ValueError(f"method must be 'exact' or 'sampled'; got {method!r}")
    h = minimize(g)
    groups, Yns, Sns = _modes(h.operators.sum(axis=0), float(tol))
    U = np.einsum("i,xij->xj", h.initial, h.operators)  # rows pi T[a]
    p = h.symbol_vectors @ h.initial
    beta = _emission_coordinates(h, Yns)
    F = _predictor_eigenvalues(U @ Yns, Sns, beta, p)
    rho = max([abs(ev) for ev, *_ in groups] + [float(np.max(np.abs(F), initial=0.0))])
    D = _window(window, rho)
    if method == "exact":
        lam = _token_covariances(U @ Yns, Sns, beta, p, D)
        cross = [np.stack([U @ Y @ np.linalg.matrix_power(S, k) for k in range(D)]) for _, _, Y, S in groups]
        label = "exact"
    else:
        lam, cross = _sampled_statistics(h, [Y for _, _, Y, _ in groups], D, n_sequences, length, seed)
        label = f"sampled ({n_sequences} x {length} tokens, seed {seed})"
    rates = tuple(_rate(_attention_profile(lam, C), ev.imag > 0) for (ev, _, _, _), C in zip(groups, cross))
    evs = tuple(complex(ev) for ev, *_ in groups)
    signs = tuple(0 if ev.imag > 0 or ev == 0 else (1 if ev.real > 0 else -1) for ev in evs)
    return AttentionRates(eigenvalues=evs, multiplicities=tuple(m for _, m, _, _ in groups), signs=signs,
                          parity_split=tuple(s < 0 for s in signs), effective_rates=rates, weak_emission_rates=evs,
                          filter_eigenvalues=tuple(complex(z) for z in F), window=D, method=label)


# ---------------------------------------------------------------------- spectrum
def _modes(M: np.ndarray, tol: float):
    """Grouped non-stationary eigenvalues with real invariant bases, and the basis and
    block of all of them: ``([(lambda, mult, Y, S), ...], Y_ns, S_ns)``."""
    from scipy.linalg import schur

    n = M.shape[0]
    ev = np.linalg.eigvals(M)
    ev = np.delete(ev, int(np.argmin(np.abs(ev - 1.0))))
    reps: list[complex] = []
    for z in ev[np.argsort(-np.abs(ev), kind="stable")]:
        z = complex(z.real, abs(z.imag)) if abs(z.imag) > tol * max(1.0, abs(z)) else complex(z.real, 0.0)
        z = 0j if abs(z) <= tol else z  # a (possibly defective) zero eigenvalue
        if not any(abs(z - r) <= tol * max(1.0, abs(r)) for r in reps):
            reps.append(z)

    def near(z, r):
        return abs(z - r) <= tol * max(1.0, abs(r)) or abs(z - np.conj(r)) <= tol * max(1.0, abs(r))

    groups = []
    for r in reps:
        mult = max(1, int(sum(abs(z - r) <= max(tol * max(1.0, abs(r)), np.sqrt(tol) if r == 0 else 0) for z in ev)))
        S_, Z, k = schur(M, output="real", sort=lambda re, im, r=r: near(complex(re, im), r))
        groups.append((r, mult, Z[:, :k], S_[:k, :k]))
    S_, Z, k = schur(M, output="real", sort=lambda re, im: abs(complex(re, im) - 1.0) > tol)
    if k != n - 1:
        raise ValueError(f"the minimal form's eigenvalue 1 is not simple within tol={tol:g}")
    return groups, Z[:, :k], S_[:k, :k]


def _emission_coordinates(h, Yns: np.ndarray) -> np.ndarray:
    """``beta`` (V, m) with ``T[b] tau = p_b tau + Y_ns beta_b``."""
    basis = np.column_stack([h.tau, Yns])
    coef = np.linalg.lstsq(basis, h.symbol_vectors.T, rcond=None)[0]  # (1 + m, V)
    return coef[1:].T


def _token_covariances(G: np.ndarray, S: np.ndarray, beta: np.ndarray, p: np.ndarray, D: int) -> np.ndarray:
    """``Lambda_j`` for ``j = 0 .. D-1``, shape (D, V, V) (module docstring)."""
    lam = np.empty((D, p.size, p.size))
    lam[0] = np.diag(p) - np.outer(p, p)
    Gk = G
    for j in range(1, D):
        lam[j] = Gk @ beta.T
        Gk = Gk @ S
    return lam


def _predictor_eigenvalues(G, S, beta, p, max_iter: int = 100_000) -> np.ndarray:
    """Eigenvalues of ``A - K C`` of the optimal linear predictor (forward Riccati)."""
    m = S.shape[0]
    if m == 0:
        return np.zeros(0, dtype=complex)
    Q = _token_range(np.diag(p) - np.outer(p, p))
    A, C, Gc, L0 = S.T, Q.T @ beta, G.T @ Q, Q.T @ (np.diag(p) - np.outer(p, p)) @ Q
    P = np.zeros((m, m))
    for _ in range(max_iter):
        N = Gc - A @ P @ C.T
        P_new = A @ P @ A.T + N @ np.linalg.solve(L0 - C @ P @ C.T, N.T)
        done = np.abs(P_new - P).max() <= 1e-15 * max(1.0, np.abs(P_new).max())
        P = P_new
        if done:
            break
    else:
        raise ValueError("the Riccati iteration for the optimal predictor did not converge")
    K = (Gc - A @ P @ C.T) @ np.linalg.inv(L0 - C @ P @ C.T)
    F = np.linalg.eigvals(A - K @ C)
    return F[np.argsort(-np.abs(F), kind="stable")]


def _token_range(L0: np.ndarray) -> np.ndarray:
    """Orthonormal basis (V, r) of the range of ``Lambda_0 = diag(p) - p p^T``: centered
    one-hot vectors never leave it (it drops the all-ones direction and unused symbols)."""
    w, Q = np.linalg.eigh((L0 + L0.T) / 2)
    return Q[:, w > 1e-10 * max(w.max(), 1e-300)]


def _window(window, rho: float) -> int:
    if window is not None:
        return check_positive_int(window, "window", minimum=3)
    if rho <= 0:
        return 8
    return int(np.clip(np.ceil(np.log(1e-8) / np.log(min(rho, 1 - 1e-9))), 8, 100))


# ---------------------------------------------------------------------- the attention-like fit
def _attention_profile(lam: np.ndarray, C: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Profile ``w`` (D,) of the best ``sum_k w_k E^T x_{d-k}`` by alternating least squares
    from the covariances ``lam`` (D, V, V) and ``C`` (D, V, m); ``w`` scaled to max 1."""
    Q = _token_range(lam[0])  # centered one-hots live in the range of Lambda_0
    lam, C = Q.T @ lam @ Q, Q.T @ C
    D = lam.shape[0]
    w = 0.5 ** np.arange(D)
    sym = lam + np.swapaxes(lam, 1, 2)
    for _ in range(iterations):
        s = np.array([w[j:] @ w[: D - j] for j in range(D)])  # s_j = sum_k w_k w_{k-j}
        A = s[0] * lam[0] + np.einsum("j,jab->ab", s[1:], sym[1:])
        E = np.linalg.pinv(A, hermitian=True) @ np.einsum("k,kam->am", w, C)
        q = np.einsum("am,jab,bm->j", E, lam, E)  # autocovariance of the scalar E^T x: Q Toeplitz
        new = _solve_toeplitz(q, np.einsum("am,kam->k", E, C))
        new /= new[np.argmax(np.abs(new))]
        if np.abs(new - w).max() < 1e-12:
            return new
        w = new
    return w


def _solve_toeplitz(q: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``Q w = b`` for the symmetric Toeplitz ``Q[k, l] = q[|k - l|]`` (Levinson,
    ``O(D^2)``), with a ridge of ``1e-12 q[0]`` against a singular ``Q``."""
    from scipy.linalg import solve_toeplitz

    r = q.copy()
    r[0] += 1e-12 * max(abs(q[0]), 1e-300)
    try:
        return solve_toeplitz(r, b)
    except np.linalg.LinAlgError:
        D = q.size
        return np.linalg.lstsq(q[np.abs(np.arange(D)[:, None] - np.arange(D))], b, rcond=None)[0]


def _rate(w: np.ndarray, pair: bool) -> complex:
    """Geometric decay of a profile: ratio least squares (real) or order-2 Prony (pair)."""
    D = w.size
    big = np.nonzero(np.abs(w) > 1e-6 * np.abs(w).max())[0]
    K = min(D // 2, int(big.max()) if big.size else 0)
    if not pair:
        a, b = w[:K], w[1:K + 1]
        return complex(a @ b / (a @ a)) if K >= 1 else 0j
    if K < 3:
        return 0j
    X = np.column_stack([w[1:K], w[: K - 1]])
    a1, a2 = np.linalg.lstsq(X, w[2:K + 1], rcond=None)[0]
    roots = np.roots([1.0, -a1, -a2])
    return complex(roots[np.argmax(roots.imag)])


# ---------------------------------------------------------------------- sampled check
def _sampled_statistics(h, Ys: list, D: int, n: int, length: int, seed):
    """Empirical ``Lambda_j`` (D, V, V) and ``C_k`` per mode from sampled sequences of the
    minimal form and their beliefs (every position ``d >= k`` is a sample of ``C_k``)."""
    n = check_positive_int(n, "n_sequences")
    length = check_positive_int(length, "length", minimum=D + 1)
    words, beliefs = h.sample(n, length, seed=seed, return_beliefs=True)
    V = h.alphabet_size
    p = np.bincount(words.ravel(), minlength=V) / words.size
    lam = np.empty((D, V, V))
    lam[0] = np.diag(p) - np.outer(p, p)
    for j in range(1, D):
        pair = np.bincount((words[:, :-j] * V + words[:, j:]).ravel(), minlength=V * V) / (n * (length - j))
        lam[j] = pair.reshape(V, V) - np.outer(p, p)
    cross = []
    for Y in Ys:
        y = beliefs[:, 1:] @ Y  # y[:, d] = mode coordinates after position d
        ybar = y.reshape(-1, Y.shape[1]).mean(axis=0)
        C = np.empty((D, V, Y.shape[1]))
        for k in range(D):
            src = words[:, : length - k].ravel()
            tgt = y[:, k:].reshape(-1, Y.shape[1])
            C[k] = np.stack([np.bincount(src, weights=tgt[:, c], minlength=V) for c in range(Y.shape[1])], axis=1)
            C[k] = C[k] / src.size - np.outer(p, ybar)
        cross.append(C)
    return lam, cross


def _fmt(z: complex) -> str:
    z = complex(z)
    return f"{z.real:.5g}" if abs(z.imag) < 1e-12 else f"{z.real:.4g}{z.imag:+.4g}j"
