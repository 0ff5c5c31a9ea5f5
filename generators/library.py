"""Named processes of the literature, and random generators.

Every constructor validates its parameters and returns a generator whose ``name`` records
them.  ``names()`` lists the library, ``get(name, **params)`` builds by name, ``info(name)``
gives the kind, parameters and defaults, and ``parse_spec("mess3:x=0.15,a=0.6")`` parses
the command-line form.  Definitions follow ``shared/REFERENCE.md`` (row-vector convention,
``T[x][i, j] = Pr(x, next=j | now=i)`` for HMMs).
"""

from __future__ import annotations

import difflib
import inspect
import math
from fractions import Fraction
from typing import Callable

import numpy as np

from .base import Generator, as_rng
from .errors import GeneratorError, UnknownProcessError
from .ghmm import GHMM
from .hmm import HMM
from .quantum import QuantumGenerator

__all__ = [
    "mess3", "mess_n", "mess_n_bounds", "rrxor", "zero_one_random", "even_process", "golden_mean", "bloch_walk", "moon",
    "frdn", "fanizza", "random_hmm", "random_quantum", "random_ghmm",
    "names", "get", "info", "parse_spec",
]

_REGISTRY: dict[str, Callable[..., Generator]] = {}
_KINDS: dict[str, str] = {}
_ALIASES: dict[str, str] = {}


def _register(kind: str):
    def deco(fn):
        _REGISTRY[fn.__name__] = fn
        _KINDS[fn.__name__] = kind
        return fn

    return deco


def _named(g: Generator, fn: str, **params) -> Generator:
    args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    g.name = f"{fn}({args})"
    return g


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise GeneratorError(msg)


# ---------------------------------------------------------------------- classical
@_register("classical")
def mess3(x: float = 0.05, a: float = 0.85) -> HMM:
    """Mess3(x, a): 3 states, 3 symbols; ``b = (1-a)/2``, ``y = 1-2x``.

    ``T[s][i, j]``: from state ``i`` emit symbol ``s`` with weight ``a`` if ``s == j``
    (the next state) else ``b``, times ``y`` if ``i == j`` else ``x``.  Stationary
    distribution uniform; ``sum_x T[x]`` has eigenvalues ``{1, 1-3x, 1-3x}``.
    Valid for ``0 <= x <= 1/2`` and ``0 <= a <= 1``.
    """
    _check(0.0 <= x <= 0.5, f"mess3 needs 0 <= x <= 0.5; got x={x}")
    _check(0.0 <= a <= 1.0, f"mess3 needs 0 <= a <= 1; got a={a}")
    b, y = (1 - a) / 2, 1 - 2 * x
    move = np.full((3, 3), x) + np.eye(3) * (y - x)  # move[i, j] = y if i == j else x
    T = np.empty((3, 3, 3))
    for s in range(3):
        emit = np.full(3, b)
        emit[s] = a  # weight depends on the next state j
        T[s] = move * emit[None, :]
    return _named(HMM(T), "mess3", x=x, a=a)


@_register("classical")
def mess_n(n: int = 2, lam: float = 0.7, a: float = 0.85) -> HMM:
    """Generalized Mess: ``n`` states and symbols, transition matrix ``M = lam I + (1-lam) J/n``.

    The state moves by ``M`` (``J`` the all-ones matrix) and emits the symbol equal to the
    *new* state with probability ``a``, each other with ``(1-a)/(n-1)``:
    ``T[x][i, j] = M[i, j] (a if x == j else (1-a)/(n-1))``, so ``sum_x T[x] = M``.
    ``M = lam I + (1-lam) 1 pi`` (``pi`` uniform) acts as exactly ``lam I`` on the
    non-stationary subspace: spectrum ``{1, lam (n-1 times)}``, attention decays like
    ``lam^(d-s)`` (Piotrowski et al. 2025).  Valid for ``-1/(n-1) <= lam <= 1``
    (nonnegative diagonal ``lam + (1-lam)/n``; see :func:`mess_n_bounds`), so
    ``lam = -0.7`` needs ``n = 2``; no classical chain acting as ``lam I`` off the
    stationary direction can do better (``trace M = 1 + (n-1) lam >= 0``).
    ``mess_n(3, 1-3x, a)`` is ``mess3(x, a)``.
    """
    n = _check_n(n)
    lo, _ = mess_n_bounds(n)
    lam, a = float(lam), float(a)
    _check(lo - 1e-12 <= lam <= 1.0,
           f"mess_n with n={n} states needs {lo:g} <= lam <= 1 (nonnegative diagonal lam + (1-lam)/n); "
           f"got lam={lam:g}" + ("; use n=2 for lam down to -1" if n > 2 else ""))
    _check(0.0 <= a <= 1.0, f"mess_n needs an emission probability 0 <= a <= 1; got a={a:g}")
    M = np.clip(lam * np.eye(n) + (1.0 - lam) / n * np.ones((n, n)), 0.0, None)  # -0.0 at the boundary
    M /= M.sum(axis=1, keepdims=True)
    emit = np.full((n, n), (1.0 - a) / (n - 1))  # emit[x, j]: symbol x on arriving in state j
    np.fill_diagonal(emit, a)
    T = M[None, :, :] * emit[:, None, :]
    return _named(HMM(T), "mess_n", n=n, lam=lam, a=a)


def mess_n_bounds(n: int) -> tuple[float, float]:
    """The range ``[-1/(n-1), 1]`` of ``lam`` for which :func:`mess_n` is a valid HMM."""
    n = _check_n(n)
    return -1.0 / (n - 1), 1.0


def _check_n(n) -> int:
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise GeneratorError(f"mess_n needs an integer number of states n >= 2; got {n!r}")
    return int(n)


@_register("classical")
def rrxor(p1: float = 0.5, p2: float = 0.5) -> HMM:
    """Random-random-XOR: two random bits then their XOR; states (S, 0, 1, T, F)."""
    _check(0 <= p1 <= 1 and 0 <= p2 <= 1, f"rrxor needs p1, p2 in [0, 1]; got {p1}, {p2}")
    S, Z, O, Tt, F = range(5)
    T = np.zeros((2, 5, 5))
    T[0, S, Z], T[1, S, O] = p1, 1 - p1
    T[0, Z, F], T[1, Z, Tt] = p2, 1 - p2
    T[0, O, Tt], T[1, O, F] = p2, 1 - p2
    T[1, Tt, S] = 1.0
    T[0, F, S] = 1.0
    return _named(HMM(T), "rrxor", p1=p1, p2=p2)


@_register("classical")
def zero_one_random(p: float = 0.5) -> HMM:
    """Zero-One-Random: emits 0, 1, then a random bit (1 with probability ``p``)."""
    _check(0 <= p <= 1, f"zero_one_random needs p in [0, 1]; got {p}")
    T = np.zeros((2, 3, 3))
    T[0] = [[0, 1, 0], [0, 0, 0], [1 - p, 0, 0]]
    T[1] = [[0, 0, 0], [0, 0, 1], [p, 0, 0]]
    return _named(HMM(T), "zero_one_random", p=p)


@_register("classical")
def even_process(p: float = 0.5) -> HMM:
    """Even process: 1s come in even blocks; from state A emit 0 (stay) w.p. ``1-p``."""
    _check(0 < p < 1, f"even_process needs 0 < p < 1; got {p}")
    T = np.array([[[1 - p, 0], [0, 0]], [[0, p], [1, 0]]], dtype=float)
    return _named(HMM(T), "even_process", p=p)


@_register("classical")
def golden_mean(p: float = 0.5) -> HMM:
    """Golden mean process: no two consecutive 1s."""
    _check(0 < p < 1, f"golden_mean needs 0 < p < 1; got {p}")
    T = np.array([[[1 - p, 0], [1, 0]], [[0, p], [0, 0]]], dtype=float)
    return _named(HMM(T), "golden_mean", p=p)


# ---------------------------------------------------------------------- quantum
@_register("quantum")
def bloch_walk(alpha: float = 1.0, beta: float = 51 ** 0.5) -> QuantumGenerator:
    """Bloch walk: one qubit, 4 symbols, one Kraus operator each.

    With ``g = 1 / (2 sqrt(alpha^2 + beta^2))``: ``K0 = g diag(a+b, a-b)``,
    ``K1 = g diag(a-b, a+b)``, ``K2 = g [[a, b], [b, a]]``, ``K3 = g [[a, -b], [-b, a]]``.
    The state walks in the x-z plane of the Bloch ball; no finite HMM generates it.
    """
    _check(alpha > 0 and beta > 0, f"bloch_walk needs alpha, beta > 0; got {alpha}, {beta}")
    a, b = float(alpha), float(beta)
    g = 1.0 / (2.0 * math.sqrt(a * a + b * b))
    K = g * np.array([
        [[a + b, 0], [0, a - b]],
        [[a - b, 0], [0, a + b]],
        [[a, b], [b, a]],
        [[a, -b], [-b, a]],
    ], dtype=complex)
    return _named(QuantumGenerator(K), "bloch_walk", alpha=a, beta=b)


# ---------------------------------------------------------------------- post-quantum
@_register("post-quantum")
def moon(alpha: float = math.e, beta: float = 0.5) -> GHMM:
    """Moon: a 3-dimensional post-quantum GHMM over 3 symbols (Riechers et al. 2025).

    ``T0 = nu outer([1,1,0], [1,-1,-1])``, ``T1 = nu [[alpha,0,0],[0,1,0],[0,ln alpha,1]]``,
    ``T2`` likewise with ``beta``; ``nu`` makes the spectral radius of ``sum_x T[x]`` one.
    Requires ``alpha > 1 > beta > 0``, ``alpha + beta != 2`` and ``ln alpha / ln beta``
    irrational (checked against rationals with denominator <= 50).
    """
    _check(alpha > 1 > beta > 0, f"moon needs alpha > 1 > beta > 0; got alpha={alpha}, beta={beta}")
    _check(abs(alpha + beta - 2) > 1e-12, f"moon needs alpha + beta != 2; got {alpha + beta}")
    r = math.log(alpha) / math.log(beta)
    q = Fraction(r).limit_denominator(50)
    _check(abs(r - float(q)) > 1e-12,
           f"moon needs ln(alpha)/ln(beta) irrational; got {r} = {q}")
    T = np.zeros((3, 3, 3))
    T[0] = np.outer([1, 1, 0], [1, -1, -1])
    T[1] = [[alpha, 0, 0], [0, 1, 0], [0, math.log(alpha), 1]]
    T[2] = [[beta, 0, 0], [0, 1, 0], [0, math.log(beta), 1]]
    nu = 1.0 / np.max(np.abs(np.linalg.eigvals(T.sum(axis=0))))
    return _named(GHMM(nu * T), "moon", alpha=alpha, beta=beta)


@_register("post-quantum")
def frdn(alpha: float = 2000.0, lam: float = 0.49) -> GHMM:
    """FRDN (Fanizza et al.): a 4-dimensional GHMM over 2 symbols with ``tau = ones``.

    ``D = 1 - 2 lam cos(alpha) + lam^2``, ``a = (1 - lam cos + lam sin)/D``,
    ``b = (1 - lam cos - lam sin)/D``, ``pi0 = [1 - (2/(1-lam) - a - b)/4, 1/(2(1-lam)), -a/4, -b/4]``,
    ``w = [1, 1-lam, 1 + lam (sin - cos), 1 - lam (sin + cos)]``, ``T_a = outer(w, pi0)``,
    ``T_b = lam blockdiag(0, 1, rotation(alpha))``.  Needs ``0 < lam < 1``.
    """
    _check(0 < lam < 1, f"frdn needs 0 < lam < 1; got lam={lam}")
    c, s = math.cos(alpha), math.sin(alpha)
    D = 1 - 2 * lam * c + lam ** 2
    a = (1 - lam * c + lam * s) / D
    b = (1 - lam * c - lam * s) / D
    pi0 = np.array([1 - (2 / (1 - lam) - a - b) / 4, 1 / (2 * (1 - lam)), -a / 4, -b / 4])
    w = np.array([1, 1 - lam, 1 + lam * (s - c), 1 - lam * (s + c)])
    Ta = np.outer(w, pi0)
    Tb = np.zeros((4, 4))
    Tb[1, 1] = 1.0
    Tb[2:, 2:] = [[c, -s], [s, c]]
    Tb *= lam
    return _named(GHMM(np.array([Ta, Tb]), np.ones(4)), "frdn", alpha=alpha, lam=lam)


def fanizza(alpha: float = 2000.0, lam: float = 0.49) -> GHMM:
    """Alias of :func:`frdn`."""
    return frdn(alpha=alpha, lam=lam)


_ALIASES["fanizza"] = "frdn"


# ---------------------------------------------------------------------- random
@_register("classical")
def random_hmm(n_states: int = 3, n_symbols: int = 2, seed: int = 0, concentration: float = 1.0) -> HMM:
    """A random HMM: each row of the joint (symbol, next state) table is Dirichlet(concentration)."""
    _check(n_states >= 1 and n_symbols >= 1, "random_hmm needs n_states, n_symbols >= 1")
    rng = as_rng(seed)
    rows = rng.dirichlet(np.full(n_symbols * n_states, float(concentration)), size=n_states)
    T = rows.reshape(n_states, n_symbols, n_states).transpose(1, 0, 2)
    return _named(HMM(T), "random_hmm", n_states=n_states, n_symbols=n_symbols, seed=seed)


@_register("quantum")
def random_quantum(d: int = 2, n_symbols: int = 3, rank: int = 1, seed: int = 0) -> QuantumGenerator:
    """A random instrument: ``n_symbols x rank`` complex Ginibre matrices ``G`` made complete
    by ``K = G S^{-1/2}`` with ``S = sum G^dagger G``."""
    _check(d >= 1 and n_symbols >= 1 and rank >= 1, "random_quantum needs d, n_symbols, rank >= 1")
    rng = as_rng(seed)
    G = rng.normal(size=(n_symbols, rank, d, d)) + 1j * rng.normal(size=(n_symbols, rank, d, d))
    S = np.einsum("xkba,xkbc->ac", G.conj(), G)
    w, U = np.linalg.eigh(S)
    S_inv_half = (U / np.sqrt(w)) @ U.conj().T
    K = G @ S_inv_half
    return _named(QuantumGenerator(K), "random_quantum", d=d, n_symbols=n_symbols, rank=rank, seed=seed)


@_register("post-quantum")
def random_ghmm(n_states: int = 3, n_symbols: int = 2, seed: int = 0) -> GHMM:
    """A valid GHMM with negative entries: a random HMM in random coordinates
    (``T' = S^-1 T S``, ``tau' = S^-1 1``, ``initial' = initial S``, ``S`` a random
    well-conditioned matrix).  Same process as the HMM, so probabilities are valid."""
    rng = as_rng(seed)
    h = random_hmm(n_states, n_symbols, seed=int(rng.integers(2**31)))
    while True:
        S = np.eye(n_states) + rng.normal(scale=0.7, size=(n_states, n_states))
        if np.linalg.cond(S) < 50:
            break
    g = h.to_ghmm().similarity(S)
    out = GHMM(g.operators, g.tau, g.initial)
    return _named(out, "random_ghmm", n_states=n_states, n_symbols=n_symbols, seed=seed)


# ---------------------------------------------------------------------- registry
def names() -> list[str]:
    """Names of the library's processes (aliases excluded), sorted."""
    return sorted(_REGISTRY)


def _resolve(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY) + list(_ALIASES), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownProcessError(f"unknown process {name!r}{hint} (known: {', '.join(names())})")
    return key


def get(name: str, **params) -> Generator:
    """Build the library process ``name`` with keyword ``params`` (defaults otherwise).

    Raises :class:`UnknownProcessError` for unknown names (with the closest valid ones)
    and :class:`ValueError` for unknown parameter names.
    """
    key = _resolve(name)
    fn = _REGISTRY[key]
    sig = inspect.signature(fn)
    bad = [p for p in params if p not in sig.parameters]
    if bad:
        raise ValueError(f"{key} has no parameter {bad[0]!r}; valid: {', '.join(sig.parameters)}")
    return fn(**params)


def info(name: str) -> dict:
    """``{"name", "kind", "params": {param: default}, "doc"}`` of a library process."""
    key = _resolve(name)
    fn = _REGISTRY[key]
    params = {p.name: p.default for p in inspect.signature(fn).parameters.values()}
    doc = (fn.__doc__ or "").strip().splitlines()[0]
    return {"name": key, "kind": _KINDS[key], "params": params, "doc": doc}


def parse_spec(spec: str) -> Generator:
    """Build from ``"name"`` or ``"name:p=v,q=w"``; ``*`` joins factors of a product.

    Values are parsed as int, then float (``sqrt(51)``-style expressions are not allowed;
    write ``7.1414``), e.g. ``"mess3:x=0.15,a=0.6*bloch_walk:beta=3"``.
    """
    from .compose import product

    parts = [p.strip() for p in spec.split("*") if p.strip()]
    if not parts:
        raise ValueError(f"empty process specification {spec!r}")
    gens = [_parse_one(p) for p in parts]
    return gens[0] if len(gens) == 1 else product(*gens)


def _parse_one(spec: str) -> Generator:
    name, _, rest = spec.partition(":")
    key = _resolve(name)
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ValueError(f"malformed parameter {item!r} in {spec!r}: expected name=value")
        params[k.strip()] = _parse_value(v.strip(), item)
    return get(key, **params)


def _parse_value(v: str, item: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    raise ValueError(f"malformed value in {item!r}: {v!r} is not a number")
