"""Named processes of the literature, and random generators.

Every constructor validates every parameter (:mod:`generators.validation`: integers are
strict, ``3.0`` is not a count and ``True`` not a number; reals are finite; ranges are
stated in the message) and returns a generator whose ``name`` records them; parameters
that would build arrays above the memory cap (:mod:`generators.limits`) are refused
before anything is allocated.  ``names()`` lists the library, ``get(name, **params)``
builds by name, ``info(name)`` gives the kind, parameters and defaults, and
``parse_spec("mess3:x=0.15,a=0.6")`` parses the command-line form.  Definitions follow
``docs/REFERENCE.md`` (row-vector convention, ``T[x][i, j] = Pr(x, next=j | now=i)`` for
HMMs).
"""

from __future__ import annotations

import difflib
import inspect
import math
from fractions import Fraction
from typing import Callable

import numpy as np

from .base import Generator, as_rng
from .errors import ArgumentError, UnknownProcessError
from .ghmm import GHMM
from .hmm import HMM
from .limits import check_bytes
from .quantum import QuantumGenerator
from .validation import check_int, check_real, check_seed

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


def _param(value, fn: str, name: str, lo: float | None = None, hi: float | None = None, *,
           open_: bool = False) -> float:
    """A finite real parameter in ``[lo, hi]`` (``(lo, hi)`` if ``open_``); the message
    states the whole range, e.g. ``mess3 needs 0 <= x <= 0.5; got x=0.9``."""
    v = check_real(value, f"{fn}: {name}")
    le = "<" if open_ else "<="
    ok = (lo is None or (v > lo if open_ else v >= lo)) and (hi is None or (v < hi if open_ else v <= hi))
    if not ok:
        span = (f"{lo:g} {le} " if lo is not None else "") + name + (f" {le} {hi:g}" if hi is not None else "")
        raise ArgumentError(f"{fn} needs {span}; got {name}={v:g}")
    return v


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ArgumentError(msg)


# ---------------------------------------------------------------------- classical
@_register("classical")
def mess3(x: float = 0.05, a: float = 0.85) -> HMM:
    """Mess3(x, a): 3 states, 3 symbols; ``b = (1-a)/2``, ``y = 1-2x``.

    ``T[s][i, j]``: from state ``i`` emit symbol ``s`` with weight ``a`` if ``s == j``
    (the next state) else ``b``, times ``y`` if ``i == j`` else ``x``.  Stationary
    distribution uniform; ``sum_x T[x]`` has eigenvalues ``{1, 1-3x, 1-3x}``.
    Valid for ``0 <= x <= 1/2`` and ``0 <= a <= 1``.
    """
    x = _param(x, "mess3", "x", 0.0, 0.5)
    a = _param(a, "mess3", "a", 0.0, 1.0)
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
    check_bytes(24.0 * n**3, f"mess_n with n={n} states (its {n} operators of {n}x{n} floats)")
    lo, _ = mess_n_bounds(n)
    lam = _param(lam, "mess_n", "lam")
    a = _param(a, "mess_n", "a", 0.0, 1.0)
    _check(lo - 1e-12 <= lam <= 1.0,
           f"mess_n with n={n} states needs {lo:g} <= lam <= 1 (nonnegative diagonal lam + (1-lam)/n); "
           f"got lam={lam:g}" + ("; use n=2 for lam down to -1" if n > 2 else ""))
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
    return check_int(n, "mess_n: n (the number of states)", minimum=2)


@_register("classical")
def rrxor(p1: float = 0.5, p2: float = 0.5) -> HMM:
    """Random-random-XOR: two random bits then their XOR; states (S, 0, 1, T, F)."""
    p1, p2 = _param(p1, "rrxor", "p1", 0.0, 1.0), _param(p2, "rrxor", "p2", 0.0, 1.0)
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
    p = _param(p, "zero_one_random", "p", 0.0, 1.0)
    T = np.zeros((2, 3, 3))
    T[0] = [[0, 1, 0], [0, 0, 0], [1 - p, 0, 0]]
    T[1] = [[0, 0, 0], [0, 0, 1], [p, 0, 0]]
    return _named(HMM(T), "zero_one_random", p=p)


@_register("classical")
def even_process(p: float = 0.5) -> HMM:
    """Even process: 1s come in even blocks; from state A emit 0 (stay) w.p. ``1-p``."""
    p = _param(p, "even_process", "p", 0.0, 1.0, open_=True)
    T = np.array([[[1 - p, 0], [0, 0]], [[0, p], [1, 0]]], dtype=float)
    return _named(HMM(T), "even_process", p=p)


@_register("classical")
def golden_mean(p: float = 0.5) -> HMM:
    """Golden mean process: no two consecutive 1s."""
    p = _param(p, "golden_mean", "p", 0.0, 1.0, open_=True)
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
    a = _param(alpha, "bloch_walk", "alpha", 0.0, open_=True)
    b = _param(beta, "bloch_walk", "beta", 0.0, open_=True)
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
    alpha, beta = _param(alpha, "moon", "alpha"), _param(beta, "moon", "beta")
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
    alpha = _param(alpha, "frdn", "alpha")
    lam = _param(lam, "frdn", "lam", 0.0, 1.0, open_=True)
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
    """A random HMM: each row of the joint (symbol, next state) table is Dirichlet(concentration).

    ``concentration > 0``: small values (0.02-0.2) give near-deterministic rows whose
    entries span many orders of magnitude.
    """
    n_states = check_int(n_states, "random_hmm: n_states", minimum=1)
    n_symbols = check_int(n_symbols, "random_hmm: n_symbols", minimum=1)
    seed = check_seed(seed, "random_hmm: seed")
    concentration = _param(concentration, "random_hmm", "concentration", 0.0, open_=True)
    check_bytes(24.0 * n_symbols * n_states**2,
                f"random_hmm with {n_states} states and {n_symbols} symbols ({n_symbols} operators of "
                f"{n_states}x{n_states} floats)")
    rng = as_rng(seed)
    rows = rng.dirichlet(np.full(n_symbols * n_states, concentration), size=n_states)
    T = rows.reshape(n_states, n_symbols, n_states).transpose(1, 0, 2)
    extra = {} if concentration == 1.0 else {"concentration": concentration}
    return _named(HMM(T), "random_hmm", n_states=n_states, n_symbols=n_symbols, seed=seed, **extra)


@_register("quantum")
def random_quantum(d: int = 2, n_symbols: int = 3, rank: int = 1, seed: int = 0) -> QuantumGenerator:
    """A random instrument: ``n_symbols x rank`` complex Ginibre matrices ``G`` made complete
    by ``K = G S^{-1/2}`` with ``S = sum G^dagger G``.  Its GHMM form has ``d^2``
    dimensions (``8 n_symbols d^4`` bytes, refused above :data:`generators.limits.MAX_BYTES`)."""
    d = check_int(d, "random_quantum: d", minimum=1)
    n_symbols = check_int(n_symbols, "random_quantum: n_symbols", minimum=1)
    rank = check_int(rank, "random_quantum: rank", minimum=1)
    seed = check_seed(seed, "random_quantum: seed")
    check_bytes(48.0 * n_symbols * rank * d * d,
                f"random_quantum with d={d}, {n_symbols} symbols, rank {rank} (its Kraus operators)")
    check_bytes(8.0 * n_symbols * d**4 + 48.0 * d**4,
                f"random_quantum with d={d}: the {d * d}-dimensional GHMM form ({n_symbols} operators of "
                f"{d * d}x{d * d} floats)")
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
    well-conditioned matrix).  Same process as the HMM, so probabilities are valid.

    ``S = I + G`` with Gaussian ``G`` of scale ``0.7`` for ``n_states <= 5`` and
    ``0.45 / sqrt(n_states)`` beyond (spectral norm of ``G`` about 0.9, so ``S`` stays
    invertible at any size), redrawn until ``cond(S) < 50``; after 1000 draws it raises.
    """
    n_states = check_int(n_states, "random_ghmm: n_states", minimum=1)
    n_symbols = check_int(n_symbols, "random_ghmm: n_symbols", minimum=1)
    seed = check_seed(seed, "random_ghmm: seed")
    rng = as_rng(seed)
    h = random_hmm(n_states, n_symbols, seed=int(rng.integers(2**31)))
    scale = 0.7 if n_states <= 5 else 0.45 / math.sqrt(n_states)
    for _ in range(1000):
        S = np.eye(n_states) + rng.normal(scale=scale, size=(n_states, n_states))
        if np.linalg.cond(S) < 50:
            break
    else:  # pragma: no cover - the scaled rule succeeds with overwhelming probability
        raise ArgumentError(f"random_ghmm: no coordinate change with condition number < 50 in 1000 draws "
                            f"for n_states={n_states}; try another seed")
    g = h.to_ghmm().similarity(S)
    out = GHMM(g.operators, g.tau, g.initial)
    return _named(out, "random_ghmm", n_states=n_states, n_symbols=n_symbols, seed=seed)


# ---------------------------------------------------------------------- registry
def names() -> list[str]:
    """Names of the library's processes (aliases excluded), sorted."""
    return sorted(_REGISTRY)


def _resolve(name: str) -> str:
    if not isinstance(name, str):
        raise ArgumentError(f"a process name must be a string; got {name!r} ({type(name).__name__})")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY) + list(_ALIASES), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownProcessError(f"unknown process {name!r}{hint} (known: {', '.join(names())})")
    return key


def get(name: str, **params) -> Generator:
    """Build the library process ``name`` with keyword ``params`` (defaults otherwise).

    Raises :class:`UnknownProcessError` for unknown names (with the closest valid ones),
    :class:`~generators.errors.ArgumentError` for unknown parameter names (with the
    closest valid one) and for invalid values.
    """
    key = _resolve(name)
    fn = _REGISTRY[key]
    valid = list(inspect.signature(fn).parameters)
    bad = [p for p in params if p not in valid]
    if bad:
        close = difflib.get_close_matches(bad[0], valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ArgumentError(f"{key} has no parameter {bad[0]!r}{hint} (valid: {', '.join(valid)})")
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
    write ``7.1414``), e.g. ``"mess3:x=0.15,a=0.6*bloch_walk:beta=3"``.  Malformed specs
    raise :class:`~generators.errors.ArgumentError` (one line, naming the spec and the
    part): an empty factor (``"mess3 *"``, ``"mess3**rrxor"``), an empty parameter item
    (``"mess3:x=0.1,,a=0.5"``) or list (``"mess3:"``), a parameter given twice, a value
    that is not a number.  Integer parameters need integer values (``n_states=3``, not
    ``3.0``).
    """
    from .compose import product

    if not isinstance(spec, str):
        raise ArgumentError(f"a process spec must be a string such as 'mess3:x=0.15'; got {spec!r} "
                            f"({type(spec).__name__})")
    parts = [p.strip() for p in spec.split("*")]
    if not spec.strip():
        raise ArgumentError(f"empty process specification {spec!r}; give a name such as 'mess3' "
                            f"(known: {', '.join(names())})")
    for k, p in enumerate(parts):
        if not p:
            raise ArgumentError(f"empty factor {k + 1} of {len(parts)} in the process spec {spec!r}: '*' joins two "
                                "processes, e.g. 'mess3*bloch_walk'")
    gens = [_parse_one(p, spec) for p in parts]
    return gens[0] if len(gens) == 1 else product(*gens)


def _parse_one(part: str, spec: str) -> Generator:
    name, colon, rest = part.partition(":")
    key = _resolve(name)
    params: dict = {}
    if colon and not rest.strip():
        raise ArgumentError(f"empty parameter list after {name.strip() + ':'!r} in the process spec {spec!r}; "
                            f"write name:param=value or drop the ':'")
    if colon:
        for item in (s.strip() for s in rest.split(",")):
            if not item:
                raise ArgumentError(f"empty parameter in {part!r} (process spec {spec!r}): "
                                    "parameters are separated by single commas, e.g. mess3:x=0.1,a=0.5")
            k, eq, v = item.partition("=")
            k = k.strip()
            if not eq or not k or not v.strip():
                raise ArgumentError(f"malformed parameter {item!r} in {spec!r}: expected name=value")
            if k in params:
                raise ArgumentError(f"parameter {k!r} given twice in {part!r} (process spec {spec!r})")
            params[k] = _parse_value(v.strip(), item)
    return get(key, **params)


def _parse_value(v: str, item: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    raise ArgumentError(f"malformed value in {item!r}: {v!r} is not a number")
