"""Spectral learning of a GHMM from sampled sequences.

The learned model is an ordinary :class:`~generators.GHMM` (observable-operator form), so
everything else in qbelief accepts it: beliefs and mixed-state presentations
(:mod:`bayes`), minimal forms, products, sampling, probes of trained networks, and the
generator-file format (:func:`generators.io.save_generator`).

Algorithm (Hsu, Kakade, Zhang [1]_; in the Hankel form of Balle et al. [2]_)
-------------------------------------------------------------------------------
1. **Substring statistics.**  For every word ``w`` up to length ``2 l + 1`` the empirical
   frequency ``f(w) = count(w) / windows(|w|)`` over all windows of that length (a window
   never crosses from one sequence into the next).  Counted with mixed-radix codes
   (``code(w x) = V code(w) + x``, built one length at a time) and one ``np.bincount``
   per length: ``O(N L (2 l + 1))`` for ``N`` sequences of length ``L``.
2. **Hankel blocks.**  Prefixes ``u`` and suffixes ``v`` range over all words of length
   ``<= l`` (the *basis length*, ``max_length``): ``H[u, v] = f(u v)`` and
   ``H_x[u, v] = f(u x v)``.  ``l = "auto"`` is the largest ``l <= 8`` whose words of
   length ``2 l + 1`` have on average at least ``min_count`` (100) occurrences per
   observed word, capped so the basis has at most 1000 words.
3. **Rank.**  The data are cut into ``n_groups`` (32) groups (whole sequences, or chunks
   of one sequence), assigned at random (``seed``).  For a random half ``A`` of the groups,
   ``E = (H_A - H_B) / 2`` has the same distribution as the sampling error of ``H``
   (serial correlation and the repeated words of a Hankel matrix included); it is the
   empirical counterpart of the random-matrix bound ``sigma (sqrt(rows) + sqrt(cols))``
   for independent entries.  With ``U_r, V_r`` the top ``r`` singular vectors of ``H``,
   the noise level outside the first ``r`` directions is
   ``nu_r = median over n_splits (8) halves of |(I - U_r U_r^T) E (I - V_r V_r^T)|_2``,
   and the rank is the first ``r`` with ``s_{r+1}(H) <= threshold * nu_r``
   (``threshold`` 4).  Beyond the true rank ``s_{r+1}(H)`` is itself the norm of that
   projected error (up to ``O(|E|^2 / s_r)``), so the rule stops there; a direction whose
   singular value is not clearly above the noise is not learnable from these data.
4. **Operators.**  With ``V_r`` the top right singular vectors and ``F = H V_r``:
   ``T[x] = F^+ H_x V_r`` (``r x r``), exact when ``H`` is the true Hankel matrix of a
   rank-``r`` process.  ``sum_x T[x]`` is rescaled so its eigenvalue nearest 1 is exactly 1;
   ``tau`` and the stationary ``initial`` are its right and left eigenvectors
   (``initial @ tau = 1``), and coordinates are rotated so that ``tau = (1, 0, ..., 0)``
   (as :func:`generators.minimize` does).
4b. **Refinement** (``refine=True``).  The spectral estimate is consistent but weighs
   every Hankel entry alike, so rare and forbidden words (Moon's ``00``) come out with
   errors of many standard errors.  It is polished by minimum chi-square (Pearson, with a
   one-count floor): minimize ``sum_w n_|w| (Pr(w) - f(w))^2 / (f(w) + 1/n_|w|)`` over
   all words up to length ``2 l + 1`` (fewer if the Jacobian would exceed
   :data:`MAX_JACOBIAN` entries) with respect to the operators and the initial vector
   (``tau`` fixed), by Levenberg-Marquardt (``scipy.optimize.least_squares``) from the
   spectral estimate, with the exact Jacobian from forward and backward vectors and a
   weak tie ``0.01 |x - x0|`` to the spectral estimate (it pins the similarity gauge,
   along which the objective is flat); then normalized as in step 4.  The refined model is kept only if it lowers the objective.
5. **Validity.**  A learned GHMM can give some words negative probability (typically
   tiny ones: rare or forbidden words estimated slightly below zero, or very long words).
   :func:`~generators.check_nonnegative` searches for one; if found, a
   :class:`LearnedModelWarning` names the word.  With ``repair=True`` the model is
   replaced by its *restart smoothing* ``T'[x] = (1 - d) T[x] + d (T[x] tau) initial``:
   after each symbol the belief returns to the stationary one with probability ``d``
   (single-symbol probabilities unchanged, ``Pr'(x y) = (1 - d) Pr(x y) + d Pr(x) Pr(y)``;
   ``d = 1`` is the i.i.d. process, valid), with the smallest ``d`` in ``[1e-6, 1]`` for
   which the search finds no negative word (bisection in ``log d``, 20 steps).  This is the
   nearest valid model *within that one-parameter family*, and valid only as far as the
   bounded search can tell (nonnegativity is undecidable in general); it also lifts the
   process's forbidden words to probabilities of order ``d``.  Projecting onto the set of
   valid GHMMs itself has no known algorithm (word-by-word penalties in the refit of step
   4b were tried and chase one negative word into the next).

Cost: counting ``O(N L l)``; Hankel ``B x B`` with ``B = (V^(l+1) - 1) / (V - 1)`` basis
words, ``O(B^3)`` per SVD, ``n_splits`` extra SVD-sized products for the rank.

References
----------
.. [1] D. Hsu, S. M. Kakade, T. Zhang, "A spectral algorithm for learning hidden Markov
   models", arXiv:0811.4413.
.. [2] B. Balle, X. Carreras, F. M. Luque, A. Quattoni, "Spectral learning of weighted
   automata", Machine Learning 96 (2014); B. Balle, W. Hamilton, J. Pineau, "Methods of
   moments for learning stochastic languages", ICML 2014.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._linalg import orthonormal_completion
from .base import as_rng
from .errors import GeneratorError, ShapeError
from .ghmm import GHMM
from .nonnegativity import NonnegativityResult, check_nonnegative
from .words import all_words
from .sequences import MAX_COUNTS, assign_groups, check_sequences, load_sequences, substring_counts, window_codes

__all__ = ["learn_ghmm", "LearningReport", "LearnedModelWarning", "load_sequences"]


class LearnedModelWarning(UserWarning):
    """A learned model with a negative word probability (or another caveat)."""


@dataclass(frozen=True)
class LearningReport:
    """How a GHMM was learned.

    Attributes
    ----------
    dim : int -- learned dimension (chosen rank)
    basis_length : int -- prefix/suffix words up to this length (``max_length``)
    singular_values : ndarray -- of the Hankel matrix ``H``, descending
    noise_levels : ndarray -- ``nu_r`` for ``r = 0 .. len - 1`` (see the module docstring)
    threshold : float -- the rank rule's factor
    n_symbols : int -- number of symbols in the data
    alphabet_size : int
    nonnegativity : NonnegativityResult -- the search on the returned model
    repair : str -- how ``repair=True`` changed the model ("" if it did not)
    """

    dim: int
    basis_length: int
    singular_values: np.ndarray
    noise_levels: np.ndarray
    threshold: float
    n_symbols: int
    alphabet_size: int
    nonnegativity: NonnegativityResult
    repair: str

    def summary(self) -> str:
        k = min(len(self.singular_values), len(self.noise_levels), self.dim + 3)
        ratios = ", ".join(f"{s / n:.3g}" for s, n in zip(self.singular_values[:k], self.noise_levels[:k]))
        lines = [f"learned GHMM of dimension {self.dim} from {self.n_symbols} symbols (V = {self.alphabet_size}), "
                 f"basis words up to length {self.basis_length}",
                 f"singular values / noise level (rank rule: keep while > {self.threshold:g}): {ratios}",
                 self.nonnegativity.summary()]
        if self.repair:
            lines.append(f"repaired: {self.repair}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- learning
def learn_ghmm(sequences: Any, dim: int | str = "auto", max_length: int | None = None, seed: Any = 0, *,
               alphabet_size: int | None = None, refine: bool = True, repair: bool = False, threshold: float = 4.0,
               min_count: float = 100.0, n_groups: int = 32, n_splits: int = 8, check_length: int = 32,
               return_report: bool = False):
    """Learn a GHMM (observable-operator form) from sampled sequences by the spectral method.

    Parameters
    ----------
    sequences : int array (N, L), or (L,) for one long sequence
        Samples of a stationary process (each row starting anywhere in it).
    dim : int or "auto"
        Dimension of the learned model; ``"auto"`` chooses the rank from the singular
        values against their sampling noise (module docstring, step 3).
    max_length : int, optional
        Basis length ``l``: prefixes and suffixes are all words up to this length (word
        statistics up to ``2 l + 1`` are used).  Default: the largest with ``min_count``
        occurrences per observed word (step 2).
    seed : int or numpy Generator
        For the random grouping behind the noise estimate.
    alphabet_size : int, optional
        Number of symbols (default ``max + 1`` of the data).
    refine : bool
        Polish the spectral estimate by minimum chi-square over the word frequencies
        (step 4b); ``False`` returns the plain spectral estimate.
    repair : bool
        Replace a model with a found negative word by its smallest valid restart
        smoothing (step 5) instead of only warning.
    threshold, min_count, n_groups, n_splits : rank-rule factor, auto basis-length
        count, number of groups, number of random halves (step 2-3).
    check_length : int
        ``max_length`` of the :func:`~generators.check_nonnegative` search on the result.
    return_report : bool
        Also return a :class:`LearningReport`.

    Returns
    -------
    GHMM (or ``(GHMM, LearningReport)``) with ``tau = (1, 0, ..., 0)`` and the stationary
    initial belief; the other coordinates are fixed only up to a similarity keeping ``tau``
    (compare learned models by their word probabilities or :func:`generators.equivalent`).

    Examples
    --------
    >>> from generators import library, hankel_rank
    >>> g = library.mess3()
    >>> learned = learn_ghmm(g.sample(200, 5000, seed=1))
    >>> learned.dim == hankel_rank(g) == 3
    True
    """
    seq, V = check_sequences(sequences, alphabet_size)
    _check_options(threshold=threshold, min_count=min_count, n_groups=n_groups, n_splits=n_splits,
                   check_length=check_length)
    rng = as_rng(seed)
    groups = assign_groups(seq.shape, int(n_groups), rng)
    l = _basis_length(seq, V, max_length, min_count, int(n_groups))
    counts, windows = substring_counts(seq, V, 2 * l + 1, groups, int(n_groups))
    H, Hx = _hankel(_frequencies(counts, windows, np.arange(windows.shape[0])), V, l)
    U, s, Vt = np.linalg.svd(H)
    E = _split_errors(counts, windows, V, l, int(n_splits), rng)
    nu: dict[int, float] = {}

    def noise(r: int) -> float:  # computed only as far as the rank rule looks
        return nu[r] if r in nu else nu.setdefault(r, _noise_level(E, U, Vt, r))

    r = _choose_rank(dim, s, noise, threshold)
    noise_levels = np.array([noise(k) for k in range(min(len(s), r + 3))])
    g = _normalize(_spectral_operators(H, Hx, Vt[:r].T))
    if refine:
        g = _refine(g, counts, windows)
    report = dict(dim=r, basis_length=l, singular_values=s, noise_levels=noise_levels, threshold=float(threshold),
                  n_symbols=int(seq.size), alphabet_size=V)
    g, check, repaired = _validate(g, check_length, repair)
    g.name = f"learned(dim={g.dim}, l={l}, n={seq.size})"
    rep = LearningReport(nonnegativity=check, repair=repaired, **report)
    return (g, rep) if return_report else g


def _check_options(**opts) -> None:
    for name in ("threshold", "min_count"):
        val = opts[name]
        if isinstance(val, bool) or not isinstance(val, (int, float, np.number)) or not np.isfinite(val) or val <= 0:
            raise ShapeError(f"{name} must be a positive finite number; got {val!r}")
    for name in ("n_groups", "n_splits", "check_length"):
        val, lo = opts[name], 2 if name == "n_groups" else 1
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ShapeError(f"{name} must be an integer >= {lo}; got {val!r}")


def _basis_length(seq, V, max_length, min_count, n_groups) -> int:
    """``max_length`` checked, or the auto rule (module docstring, step 2) in one pass."""
    L = seq.shape[1]
    if max_length is not None:
        if isinstance(max_length, bool) or int(max_length) != max_length or max_length < 1:
            raise ShapeError(f"max_length must be a positive integer or None; got {max_length!r}")
        if 2 * int(max_length) + 1 > L:
            raise ShapeError(f"max_length={max_length} needs sequences of length >= {2 * max_length + 1}; got {L}")
        return int(max_length)
    if L < 3:
        raise ShapeError(f"learning needs sequences of length >= 3; got {L}")
    l = 1
    for k, code in window_codes(seq, V, 17):
        if k < 5 or k % 2 == 0:
            continue
        basis = (V ** ((k - 1) // 2 + 1) - 1) // max(V - 1, 1) if V > 1 else (k + 1) // 2
        if basis > 1000 or n_groups * V**k > MAX_COUNTS:
            break
        if code.size / np.count_nonzero(np.bincount(code.ravel(), minlength=V**k)) < min_count:
            break
        l = (k - 1) // 2
    return l


def _frequencies(counts, windows, sel) -> list[np.ndarray]:
    """Word frequencies pooled over the groups ``sel``: ``f[k]`` (V^k,), ``f[0] = [1]``."""
    f = [np.ones(1)]
    for k in range(1, len(counts)):
        f.append(counts[k][sel].sum(axis=0) / max(int(windows[sel, k].sum()), 1))
    return f


def _hankel(f, V: int, l: int) -> tuple[np.ndarray, np.ndarray]:
    """``H[u, v] = f(u v)`` and ``H_x[u, v] = f(u x v)`` over all words up to length ``l``
    (basis order: by length, then lexicographic), shapes (B, B) and (V, B, B)."""
    lens = np.concatenate([np.full(V**a, a) for a in range(l + 1)])
    codes = np.concatenate([np.arange(V**a) for a in range(l + 1)])
    shift = V ** lens[None, :]  # suffix length of each column
    tot = lens[:, None] + lens[None, :]
    H = np.empty(tot.shape)
    Hx = np.empty((V,) + tot.shape)
    for k in range(2 * l + 1):  # one gather per word length
        m = tot == k
        H[m] = f[k][(codes[:, None] * shift + codes[None, :])[m]]
        for x in range(V):
            Hx[x][m] = f[k + 1][((codes[:, None] * V + x) * shift + codes[None, :])[m]]
    return H, Hx


def _split_errors(counts, windows, V, l, n_splits, rng) -> np.ndarray:
    """``E = (H_A - H_B) / 2`` for ``n_splits`` random halves ``A`` of the groups, (S, B, B)."""
    G = windows.shape[0]
    E = []
    for _ in range(n_splits):
        perm = rng.permutation(G)
        HA, _ = _hankel(_frequencies(counts, windows, perm[: G // 2]), V, l)
        HB, _ = _hankel(_frequencies(counts, windows, perm[G // 2:]), V, l)
        E.append((HA - HB) / 2)
    return np.array(E)


def _noise_level(E: np.ndarray, U: np.ndarray, Vt: np.ndarray, r: int) -> float:
    """``nu_r``: median over the splits of ``|(I - U_r U_r^T) E (I - V_r V_r^T)|_2``."""
    Ur, Vr = U[:, :r], Vt[:r].T
    left = E - Ur @ (Ur.T @ E)  # batched over the splits
    return float(np.median(_spectral_norms(left - (left @ Vr) @ Vr.T)))


def _spectral_norms(A: np.ndarray, iterations: int = 100) -> np.ndarray:
    """``|A[s]|_2`` for a stack (S, m, n) by power iteration on ``A^T A`` from a fixed
    Gaussian start (a lower bound converging to the norm; 0.1% after 100 steps on
    noise matrices) -- batched products, much cheaper than S SVDs."""
    x = np.random.default_rng(0).normal(size=(A.shape[0], A.shape[2], 1))
    At = np.swapaxes(A, 1, 2)
    for _ in range(iterations):
        x = At @ (A @ x)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    return np.linalg.norm(A @ x, axis=(1, 2))


def _choose_rank(dim, s: np.ndarray, nu, threshold: float) -> int:
    """The rank rule (``nu(r)`` the noise level outside the top ``r`` directions)."""
    if isinstance(dim, str):
        if dim != "auto":
            raise ShapeError(f"dim must be a positive integer or 'auto'; got {dim!r}")
        r = 0
        while r < len(s) and s[r] > threshold * nu(r):
            r += 1
        if r == 0:
            raise GeneratorError("no singular value of the Hankel matrix is above its noise level: "
                                 "too few data to learn anything")
        return r
    if isinstance(dim, bool) or int(dim) != dim or not 1 <= dim <= len(s):
        raise ShapeError(f"dim must be an integer in 1..{len(s)} (the basis size) or 'auto'; got {dim!r}")
    return int(dim)


def _spectral_operators(H: np.ndarray, Hx: np.ndarray, Vr: np.ndarray) -> np.ndarray:
    """``T[x] = (H V_r)^+ H_x V_r``, shape (V, r, r) (module docstring, step 4)."""
    return np.einsum("ij,xjk,kl->xil", np.linalg.pinv(H @ Vr), Hx, Vr)


def _normalize(T: np.ndarray) -> GHMM:
    """Rescale so the eigenvalue of ``sum_x T[x]`` nearest 1 is 1; ``tau`` and the
    stationary ``initial`` its eigenvectors; coordinates rotated so ``tau = e_0``."""
    ev = np.linalg.eigvals(T.sum(axis=0))
    k = int(np.argmin(np.abs(ev - 1.0)))
    if abs(ev[k].imag) > 1e-9 or not 0.5 < ev[k].real < 1.5:
        raise GeneratorError(f"the learned sum_x T[x] has no eigenvalue near 1 (closest {ev[k]:.4g}); "
                             "try another dim or max_length")
    g = GHMM(T / ev[k].real, check_words_upto=0)
    h = g.similarity(orthonormal_completion(g.tau) * np.linalg.norm(g.tau))
    tau = np.where(np.abs(h.tau) < 1e-14, 0.0, h.tau)
    return GHMM(h.operators, tau, h.initial / (h.initial @ tau), check_words_upto=0)


#: the refinement's Jacobian holds at most this many entries (words x parameters)
MAX_JACOBIAN = 2 * 10**7
#: weight of the tie ``|x - x0|`` to the spectral estimate: it pins the similarity gauge
#: (``T -> S^-1 T S`` leaves every probability unchanged) at a negligible cost in fit
_GAUGE = 1e-2


def _refine(g: GHMM, counts: list, windows: np.ndarray) -> GHMM:
    """Minimum chi-square refinement (module docstring, step 4b) over the words whose
    lengths fit :data:`MAX_JACOBIAN`; returns ``g`` when nothing fits or improves."""
    from scipy.optimize import least_squares

    V, r = g.alphabet_size, g.dim
    n_par = V * r * r + r
    K, total = 0, 0
    while K + 1 < len(counts) and (total + V ** (K + 1)) * n_par <= MAX_JACOBIAN:
        K += 1
        total += V**K
    if K == 0:
        return g
    words = [all_words(V, k) for k in range(1, K + 1)]
    n = [float(windows[:, k].sum()) for k in range(1, K + 1)]
    f = [counts[k].sum(axis=0) / nk for k, nk in zip(range(1, K + 1), n)]
    wt = np.concatenate([np.sqrt(nk / (fk + 1.0 / nk)) for fk, nk in zip(f, n)])
    f = np.concatenate(f)

    def split(x):
        return x[: V * r * r].reshape(V, r, r), x[V * r * r:]

    x0 = np.concatenate([g.operators.ravel(), g.initial])

    def residual(x):
        T, a0 = split(x)
        fit = (np.concatenate([_forward_backward(T, a0, g.tau, w)[0] for w in words]) - f) * wt
        return np.concatenate([fit, _GAUGE * (x - x0)])

    def jacobian(x):
        T, a0 = split(x)
        J = np.vstack([_forward_backward(T, a0, g.tau, w, jac=True)[1] for w in words]) * wt[:, None]
        return np.vstack([J, _GAUGE * np.eye(n_par)])

    sol = least_squares(residual, x0, jac=jacobian, method="lm", max_nfev=200)
    if not sol.cost < 0.5 * np.sum(residual(x0) ** 2):
        return g
    try:
        return _normalize(split(sol.x)[0])
    except GeneratorError:  # the polished operators lost the eigenvalue 1: keep the spectral estimate
        return g


def _forward_backward(T, a0, tau, words, jac: bool = False):
    """Probabilities ``a0 T[w] tau`` of words (W, L) and, with ``jac``, their Jacobian
    (W, V r^2 + r) with respect to ``(T, a0)``: ``dPr/dT[x]_ij = sum_{t: w_t = x}
    (a0 T[w_<t])_i (T[w_>t] tau)_j``, ``dPr/da0 = T[w] tau``."""
    W, L = words.shape
    V, r, _ = T.shape
    F = np.empty((L + 1, W, r))
    F[0] = a0
    for t in range(L):
        F[t + 1] = np.einsum("wi,wij->wj", F[t], T[words[:, t]])
    if not jac:
        return F[L] @ tau, None
    B = np.empty((L + 1, W, r))
    B[L] = tau
    for t in range(L - 1, -1, -1):
        B[t] = np.einsum("wij,wj->wi", T[words[:, t]], B[t + 1])
    JT = np.stack([np.einsum("tw,twi,twj->wij", (words.T == x), F[:-1], B[1:]) for x in range(V)], axis=1)
    return F[L] @ tau, np.concatenate([JT.reshape(W, -1), B[0]], axis=1)


def _validate(g: GHMM, check_length: int, repair: bool):
    """Nonnegativity search on ``g``; warn, or repair by restart smoothing (module
    docstring, step 5).  Returns ``(model, search result, repair description)``."""
    check = check_nonnegative(g, max_length=check_length)
    if not check.found:
        return g, check, ""
    if not repair:
        warnings.warn(f"the learned GHMM gives word {check.word} the negative probability {check.probability:.3g} "
                      "(more data, a smaller dim, or repair=True)", LearnedModelWarning, stacklevel=3)
        return g, check, ""
    T = g.operators
    reset = np.einsum("xi,j->xij", T @ g.tau, g.initial)  # (T[x] tau) initial: emit x, restart

    def model(d):
        return GHMM((1 - d) * T + d * reset, g.tau, g.initial, check_words_upto=0)

    lo, hi = -6.0, 0.0  # bisection in log10 d: the search fails at 10^lo (or lo is the floor), passes at 10^hi
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if not check_nonnegative(model(10**mid), max_length=check_length).found else (mid, hi)
    h = model(10**hi)
    return h, check_nonnegative(h, max_length=check_length), f"restart smoothing d = {10**hi:.3g}"
