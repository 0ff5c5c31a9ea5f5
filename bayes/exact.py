"""Exact beliefs with sympy: rational numbers or symbolic parameters.

The same generalized Bayes update as the float code, in exact arithmetic::

    eta' = eta T[x] / (eta T[x] tau),     Pr(w) = eta_0 T[w_1] ... T[w_L] tau

so a user can get a belief as a closed-form expression (e.g. Mess3 with symbols ``x``,
``a``: the belief after ``0`` is ``(a, (1-a)/2, (1-a)/2)`` whatever ``x``), and tests can
check floats against exact values.

``exact_generator("mess3", x="x", a=sympy.Rational(3, 5))`` builds the library processes
that have closed forms (mess3, rrxor, zero_one_random, even_process, golden_mean,
bloch_walk); ``exact_generator(g)`` turns any float generator into rationals
(``limit_denominator``), which is exact only when its entries are rational.
Parameters may be numbers (floats are converted to the rational they print as, ``0.15 ->
3/20``), strings (symbol names) or sympy expressions.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from generators import Generator, ShapeError, ZeroProbabilityError
from generators.errors import ArgumentError, NotAGeneratorError, StateError
from generators.validation import check_int

__all__ = ["ExactGHMM", "exact_generator", "exact_belief", "exact_names"]


class ExactGHMM:
    """A GHMM with sympy entries: operators ``T[x]`` (n x n), column ``tau``, row ``initial``.

    Parameters
    ----------
    operators : sequence of sympy Matrix (n, n)
    tau : sympy Matrix (n, 1) or sequence
    initial : sympy Matrix (1, n) or sequence, optional
        Default: the stationary row (left null vector of ``sum_x T[x] - I``), normalized
        by ``initial tau = 1``.
    name : str, optional
    """

    def __init__(self, operators: Sequence[Any], tau: Any, initial: Any = None, *, name: str | None = None):
        ops = [sp.Matrix(T) for T in operators]
        if not ops or any(T.shape != ops[0].shape or T.shape[0] != T.shape[1] for T in ops):
            raise ShapeError("operators must be a nonempty list of square matrices of one size")
        n = ops[0].shape[0]
        tau = sp.Matrix(tau).reshape(n, 1)
        self.operators = ops
        self.tau = tau
        self.name = name
        if initial is None:
            initial = _stationary(ops, tau)
        initial = sp.Matrix(initial).reshape(1, n)
        norm = sp.simplify((initial * tau)[0, 0])
        if norm == 0:
            raise StateError("initial state has initial @ tau = 0; it cannot be normalized")
        self.initial = (initial / norm).applyfunc(sp.simplify)

    # ------------------------------------------------------------------ structure
    @property
    def alphabet_size(self) -> int:
        return len(self.operators)

    @property
    def dim(self) -> int:
        return self.tau.shape[0]

    @property
    def free_symbols(self) -> set:
        """Symbols appearing in the operators, tau or initial state."""
        out = set(self.tau.free_symbols) | set(self.initial.free_symbols)
        for T in self.operators:
            out |= T.free_symbols
        return out

    def __repr__(self) -> str:
        syms = ", ".join(sorted(map(str, self.free_symbols))) or "no symbols"
        return f"<ExactGHMM {self.name or ''}: V={self.alphabet_size}, n={self.dim}, {syms}>"

    # ------------------------------------------------------------------ Bayes
    def emission_probs(self, state: Any = None) -> list:
        """``[Pr(x | state) for x]`` (simplified expressions); default state: ``initial``."""
        eta = self._state(state)
        return [sp.simplify((eta * T * self.tau)[0, 0]) for T in self.operators]

    def update(self, state: Any, x: int) -> sp.Matrix:
        """Belief after symbol ``x``: ``eta T[x] / (eta T[x] tau)`` (1 x n, simplified)."""
        x = self._symbol(x)
        return self._normalized(self._state(state) * self.operators[x],
                                f"symbol {x} has probability 0 from this state; cannot condition on it")

    def belief(self, word: Sequence[int], state: Any = None) -> sp.Matrix:
        """Belief (1 x n) after ``word`` from ``state`` (default ``initial``)."""
        v = self._state(state)
        for x in self._word(word):  # exact arithmetic: one product per symbol, normalized at the end
            v = v * self.operators[x]
        return self._normalized(v, f"word {tuple(int(s) for s in word)} has probability 0")

    def _normalized(self, v: sp.Matrix, zero_message: str) -> sp.Matrix:
        """``v / (v tau)`` simplified; :class:`ZeroProbabilityError` with ``zero_message`` when ``v tau = 0``."""
        p = sp.simplify((v * self.tau)[0, 0])
        if p == 0:
            raise ZeroProbabilityError(zero_message)
        return (v / p).applyfunc(sp.simplify)

    def word_probability(self, word: Sequence[int], state: Any = None) -> sp.Expr:
        """``Pr(word) = eta T[w_1] ... T[w_L] tau`` (simplified)."""
        v = self._state(state)
        for x in self._word(word):
            v = v * self.operators[x]
        return sp.simplify((v * self.tau)[0, 0])

    # ------------------------------------------------------------------ conversions
    def subs(self, values: dict | None = None, **kw) -> "ExactGHMM":
        """Substitute values for symbols (``{symbol or name: value}``)."""
        vals = dict(values or {})
        vals.update(kw)
        by_name = {str(s): s for s in self.free_symbols}
        table = {(by_name.get(k, sp.Symbol(k)) if isinstance(k, str) else k): _as_sympy(v) for k, v in vals.items()}
        f = lambda M: M.subs(table).applyfunc(sp.simplify)  # noqa: E731
        return ExactGHMM([f(T) for T in self.operators], f(self.tau), f(self.initial), name=self.name)

    def numeric(self, values: dict | None = None, **kw):
        """The float :class:`generators.GHMM` (all symbols substituted)."""
        from generators import GHMM

        e = self.subs(values, **kw) if (values or kw) else self
        if e.free_symbols:
            raise ArgumentError(f"symbols {sorted(map(str, e.free_symbols))} need values for a numeric GHMM")
        T = np.array([np.array(M.evalf(), dtype=float) for M in e.operators])
        tau = np.array(e.tau.evalf(), dtype=float).reshape(-1)
        init = np.array(e.initial.evalf(), dtype=float).reshape(-1)
        return GHMM(T, tau, init, check_words_upto=0, name=self.name)

    def lambdify(self, expr: Any, symbols: Sequence[Any] | None = None) -> Callable:
        """A numpy function of ``symbols`` (default: sorted free symbols) evaluating ``expr``."""
        syms = sorted(self.free_symbols, key=str) if symbols is None else list(symbols)
        return sp.lambdify(syms, expr, "numpy")

    # ------------------------------------------------------------------ internals
    def _state(self, state: Any) -> sp.Matrix:
        """A user-given belief: ``n`` entries with ``eta tau = 1`` (the state rule of
        :mod:`generators.base`; only checked where ``eta tau - 1`` is a number, not an
        expression in free symbols)."""
        if state is None:
            return self.initial
        try:
            eta = sp.Matrix(state)
        except (TypeError, ValueError, sp.SympifyError) as e:
            raise StateError(f"a state must be {self.dim} numbers or sympy expressions; got {state!r} ({e})") from None
        if eta.shape not in ((1, self.dim), (self.dim, 1)):
            raise StateError(f"a state must have {self.dim} entries; got shape {eta.shape}")
        eta = eta.reshape(1, self.dim)
        norm = sp.simplify((eta * self.tau)[0, 0])
        if norm.is_number and sp.simplify(norm - 1) != 0:
            raise StateError(f"a state must satisfy eta tau = 1 (a normalized belief); got eta tau = {norm}; "
                             "divide it by that")
        return eta

    def _word(self, word: Any) -> list[int]:
        if isinstance(word, (str, bytes)) or not hasattr(word, "__iter__"):
            raise ShapeError(f"a word must be a sequence of integer symbols in 0..{self.alphabet_size - 1}; "
                             f"got {word!r}")
        return [self._symbol(x) for x in word]

    def _symbol(self, x: Any) -> int:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not 0 <= x < self.alphabet_size:
            raise ShapeError(f"symbol {x!r} out of range: symbols must be integers in 0..{self.alphabet_size - 1}")
        return int(x)


# ---------------------------------------------------------------------- constructors
def exact_names() -> list[str]:
    """Library processes :func:`exact_generator` can build in closed form."""
    return sorted(_EXACT)


def exact_generator(spec: str | Generator, *, symbolic: bool = False, max_denominator: int = 10**9,
                    **params) -> ExactGHMM:
    """An :class:`ExactGHMM` from a library name (closed form) or a float generator.

    Parameters
    ----------
    spec : str or Generator
        A name in :func:`exact_names`, or any generator (entries rationalized with
        ``Fraction.limit_denominator(max_denominator)``; exact only if they are rational).
    symbolic : bool
        Parameters not given become positive symbols named after them (``mess3`` -> ``x``,
        ``a``); :meth:`ExactGHMM.subs` accepts their names as keys.
    **params
        Parameter values: numbers (floats taken as the rational they print as), strings
        (symbol names) or sympy expressions.  Defaults are the library's.
    """
    max_denominator = check_int(max_denominator, "max_denominator", minimum=1)
    if not isinstance(symbolic, (bool, np.bool_)):
        raise ArgumentError(f"symbolic must be True or False; got {symbolic!r}")
    if isinstance(spec, Generator):
        if params:
            raise ArgumentError("parameters are only accepted with a library name")
        h = spec.to_ghmm()
        q = np.vectorize(lambda v: sp.Rational(Fraction(float(v)).limit_denominator(max_denominator)), otypes=[object])
        return ExactGHMM([sp.Matrix(q(T)) for T in h.operators], sp.Matrix(q(h.tau)), sp.Matrix(q(h.initial)),
                         name=spec.name)
    if not isinstance(spec, str):
        raise NotAGeneratorError(f"spec must be a library name (one of {', '.join(exact_names())}) or a Generator; "
                                 f"got {type(spec).__name__}")
    key = spec.strip().lower().replace("-", "_")
    if key not in _EXACT:
        raise ArgumentError(f"no closed form for {spec!r}; exact forms exist for {', '.join(exact_names())} "
                         "(or pass a float generator to rationalize it)")
    fn, defaults = _EXACT[key]
    bad = [k for k in params if k not in defaults]
    if bad:
        raise ArgumentError(f"{key} has no parameter {bad[0]!r}; valid: {', '.join(defaults)}")
    vals = {k: _as_sympy(params[k]) if k in params else (sp.Symbol(k, positive=True) if symbolic else _as_sympy(d))
            for k, d in defaults.items()}
    return fn(**vals)


def exact_belief(spec: str | Generator | ExactGHMM, word: Sequence[int], **params) -> sp.Matrix:
    """Belief (1 x n sympy Matrix) after ``word``; ``spec`` as in :func:`exact_generator`."""
    e = spec if isinstance(spec, ExactGHMM) else exact_generator(spec, **params)
    return e.belief(word)


def _as_sympy(v: Any) -> sp.Expr:
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, str):
        return sp.Symbol(v)
    if isinstance(v, (bool, np.bool_)):
        raise ArgumentError(f"parameter values must be numbers, symbol names or sympy expressions; got {v!r}")
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    if isinstance(v, (float, np.floating)):
        return sp.Rational(repr(float(v)))  # 0.15 -> 3/20
    if isinstance(v, Fraction):
        return sp.Rational(v.numerator, v.denominator)
    raise ArgumentError(f"parameter values must be numbers, symbol names or sympy expressions; got {v!r}")


def _stationary(ops: list, tau: sp.Matrix) -> sp.Matrix:
    total = sum(ops[1:], ops[0])
    n = total.shape[0]
    null = (total.T - sp.eye(n)).nullspace(simplify=True)
    if len(null) != 1:
        raise ArgumentError(f"sum_x T[x] has a {len(null)}-dimensional eigenvalue-1 space; give `initial`")
    v = null[0].T
    return (v / (v * tau)[0, 0]).applyfunc(sp.simplify)


def _hmm(T: list, initial: Any = None, name: str = "") -> ExactGHMM:
    n = sp.Matrix(T[0]).shape[0]
    return ExactGHMM(T, sp.ones(n, 1), initial, name=name)


def _mess3(x, a) -> ExactGHMM:
    b, y = (1 - a) / 2, 1 - 2 * x
    T = []
    for s in range(3):
        T.append(sp.Matrix(3, 3, lambda i, j: (y if i == j else x) * (a if j == s else b)))
    return _hmm(T, [sp.Rational(1, 3)] * 3, name=f"mess3(x={x}, a={a})")


def _rrxor(p1, p2) -> ExactGHMM:
    S, Z, O, Tt, F = range(5)
    T0, T1 = sp.zeros(5, 5), sp.zeros(5, 5)
    T0[S, Z], T1[S, O] = p1, 1 - p1
    T0[Z, F], T1[Z, Tt] = p2, 1 - p2
    T0[O, Tt], T1[O, F] = p2, 1 - p2
    T1[Tt, S] = 1
    T0[F, S] = 1
    return _hmm([T0, T1], name=f"rrxor(p1={p1}, p2={p2})")


def _zero_one_random(p) -> ExactGHMM:
    T0 = sp.Matrix([[0, 1, 0], [0, 0, 0], [1 - p, 0, 0]])
    T1 = sp.Matrix([[0, 0, 0], [0, 0, 1], [p, 0, 0]])
    return _hmm([T0, T1], [sp.Rational(1, 3)] * 3, name=f"zero_one_random(p={p})")


def _even_process(p) -> ExactGHMM:
    return _hmm([sp.Matrix([[1 - p, 0], [0, 0]]), sp.Matrix([[0, p], [1, 0]])], name=f"even_process(p={p})")


def _golden_mean(p) -> ExactGHMM:
    return _hmm([sp.Matrix([[1 - p, 0], [1, 0]]), sp.Matrix([[0, p], [0, 0]])], name=f"golden_mean(p={p})")


def _bloch_walk(alpha, beta) -> ExactGHMM:
    """Gell-Mann coordinates ``(1, x, y, z)/sqrt(2)`` (same basis as generators.basis):
    ``T[x][i, j] = tr(F_j K F_i K^dagger)``, ``tau_i = tr(F_i)``, initial ``I/2``."""
    a, b = alpha, beta
    g = 1 / (2 * sp.sqrt(a**2 + b**2))
    K = [g * sp.Matrix([[a + b, 0], [0, a - b]]), g * sp.Matrix([[a - b, 0], [0, a + b]]),
         g * sp.Matrix([[a, b], [b, a]]), g * sp.Matrix([[a, -b], [-b, a]])]
    r2 = sp.sqrt(2)
    F = [sp.eye(2) / r2, sp.Matrix([[0, 1], [1, 0]]) / r2, sp.Matrix([[0, -sp.I], [sp.I, 0]]) / r2,
         sp.Matrix([[1, 0], [0, -1]]) / r2]
    ops = []
    for k in K:
        M = [k * Fi * k.H for Fi in F]
        ops.append(sp.Matrix(4, 4, lambda i, j: sp.simplify(sp.re(sp.expand((F[j] * M[i]).trace())))))
    tau = sp.Matrix([r2, 0, 0, 0])
    init = sp.Matrix([[1 / r2, 0, 0, 0]])
    return ExactGHMM(ops, tau, init, name=f"bloch_walk(alpha={alpha}, beta={beta})")


_EXACT: dict[str, tuple[Callable[..., ExactGHMM], dict]] = {
    "mess3": (_mess3, {"x": 0.05, "a": 0.85}),
    "rrxor": (_rrxor, {"p1": 0.5, "p2": 0.5}),
    "zero_one_random": (_zero_one_random, {"p": 0.5}),
    "even_process": (_even_process, {"p": 0.5}),
    "golden_mean": (_golden_mean, {"p": 0.5}),
    "bloch_walk": (_bloch_walk, {"alpha": 1, "beta": sp.sqrt(51)}),
}
