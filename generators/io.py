"""Reading and writing user-defined generators (TOML, JSON, Python files).

A generator file is a table with a ``kind`` and the matrices of that kind:

- ``kind = "hmm"``: ``T`` (V x n x n nested lists), optional ``initial`` (n).
- ``kind = "quantum"``: ``kraus``, a list per symbol of its Kraus matrices (d x d);
  complex entries as ``[re, im]`` pairs or strings like ``"0.5+0.5j"``; optional
  ``initial`` density matrix (d x d, same entry forms).
- ``kind = "ghmm"``: ``T``, optional ``tau`` and ``initial``.
- ``kind = "product"``: ``factors``, a list of generator tables (any kind); the
  independent product of the factors (:func:`generators.product`), kept factored.

An optional ``name`` (a string) labels the generator.  Any other key is an error (with
the closest valid key suggested: a typo such as ``inital`` must not silently fall back
to the stationary state); so are booleans where numbers belong (JSON ``true`` is not
1.0), NaN and infinities, and a file that is not UTF-8 text.  Every problem raises
:class:`GeneratorFileError` (a ``ValueError``) naming the file, the field and what is
wrong.

**A Python file (``.py``) is executed as code, with the privileges of the user running
qbelief**: load only files you trust, as you would run any script.  It must define a
module-level ``generator`` (any :class:`~generators.Generator`); an exception or a
``sys.exit`` inside it becomes a :class:`GeneratorFileError` naming the file (a
``KeyboardInterrupt`` still interrupts).

:func:`save_generator` writes JSON atomically (:func:`generators.fileio.write_json`).
"""

from __future__ import annotations

import difflib
import json
import runpy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from .base import Generator, check_generator
from .errors import ArgumentError
from .fileio import write_json
from .ghmm import GHMM
from .hmm import HMM
from .quantum import QuantumGenerator
from .validation import check_real_array

__all__ = ["resolve", "load_generator", "generator_from_dict", "generator_to_dict", "save_generator", "GeneratorFileError"]

KINDS = ("hmm", "quantum", "ghmm", "product")
#: the keys a generator table may have, per kind
KEYS = {"hmm": ("kind", "name", "T", "initial"), "ghmm": ("kind", "name", "T", "tau", "initial"),
        "quantum": ("kind", "name", "kraus", "initial"), "product": ("kind", "name", "factors")}


class GeneratorFileError(ValueError):
    """A generator file that cannot be read or does not define a valid generator."""


def resolve(spec: "str | Path | Generator") -> Generator:
    """A generator from a spec: a :class:`Generator` (returned as is), a path to a
    ``.toml``/``.json``/``.py`` generator file, or a library spec such as ``"mess3"``,
    ``"mess3:x=0.15,a=0.6"`` or a product ``"mess3*bloch_walk:beta=3"``
    (:func:`generators.library.parse_spec`).  A ``.py`` file is executed (module docstring)."""
    from . import library

    if isinstance(spec, Generator):
        return spec
    if isinstance(spec, Path) or (isinstance(spec, str) and Path(spec).suffix.lower() in (".toml", ".json", ".py")):
        return load_generator(spec)
    if not isinstance(spec, str):
        raise ArgumentError(f"a process spec must be a Generator, a file path or a library spec string; "
                            f"got {type(spec).__name__} {spec!r}"[:300])
    return library.parse_spec(spec)


def load_generator(path: str | Path) -> Generator:
    """Load a generator from a ``.toml``, ``.json`` or ``.py`` file (see module docstring;
    a ``.py`` file is executed as code)."""
    if not isinstance(path, (str, Path)):
        raise ArgumentError(f"path must be a str or pathlib.Path; got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        raise GeneratorFileError(f"{p}: is a folder, not a generator file")
    if not p.is_file():
        raise GeneratorFileError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".py":
        return _run_python_file(p)
    if suffix not in (".toml", ".json"):
        raise GeneratorFileError(f"{p}: unknown file type {suffix!r}; use .toml, .json or .py")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise GeneratorFileError(f"{p}: not UTF-8 text (byte {e.start} is 0x{e.object[e.start]:02x}); a generator "
                                 f"file must be UTF-8 {suffix[1:].upper()}") from None
    except OSError as e:
        raise GeneratorFileError(f"{p}: cannot be read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text, object_pairs_hook=_no_duplicates)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, GeneratorFileError) as e:
        raise GeneratorFileError(f"{p}: not valid {suffix[1:].upper()}: {e}") from None
    try:
        return generator_from_dict(data)
    except GeneratorFileError as e:
        raise GeneratorFileError(f"{p}: {e}") from None
    except ValueError as e:
        raise GeneratorFileError(f"{p}: invalid generator: {e}") from None


def _run_python_file(p: Path) -> Generator:
    """Execute a ``.py`` generator file; every failure but Ctrl-C is one GeneratorFileError."""
    try:
        ns = runpy.run_path(str(p))
    except KeyboardInterrupt:
        raise
    except SystemExit as e:  # the script must not end the program (exit code 0 included)
        raise GeneratorFileError(f"{p}: running the file called sys.exit({e.code!r}); a generator file must "
                                 "define `generator`, not exit") from None
    except BaseException as e:  # a user's script: report its error in one line
        raise GeneratorFileError(f"{p}: running the file failed: {type(e).__name__}: {e}") from e
    g = ns.get("generator")
    if not isinstance(g, Generator):
        raise GeneratorFileError(f"{p}: a Python generator file must define `generator` (a qbelief Generator); "
                                 f"got {type(g).__name__}")
    return g


def _no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise GeneratorFileError(f"key {dup!r} appears twice in one object")
    return dict(pairs)


def generator_from_dict(data: dict) -> Generator:
    """Build a generator from a parsed file table (``kind`` plus its matrices; module docstring)."""
    if not isinstance(data, dict):
        raise GeneratorFileError(f"the file must hold a table with a `kind` field; got {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind.lower() not in KINDS:
        raise GeneratorFileError(f"`kind` must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    kind = kind.lower()
    unknown = [k for k in data if k not in KEYS[kind]]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), KEYS[kind], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise GeneratorFileError(f"unknown key {unknown[0]!r} in a {kind!r} generator{hint} "
                                 f"(valid keys: {', '.join(KEYS[kind])})")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise GeneratorFileError(f"`name` must be a string; got {name!r} ({type(name).__name__})"[:200])
    if kind == "product":
        return _product_from_dict(data, name)
    if kind == "hmm":
        g = HMM(_real(data, "T", 3), _real(data, "initial", 1, optional=True))
    elif kind == "ghmm":
        g = GHMM(_real(data, "T", 3), _real(data, "tau", 1, optional=True), _real(data, "initial", 1, optional=True))
    else:
        if "kraus" not in data:
            raise GeneratorFileError("a quantum generator needs `kraus`: a list per symbol of Kraus matrices")
        raw = data["kraus"]
        if not isinstance(raw, list) or not raw:
            raise GeneratorFileError("`kraus` must be a non-empty list (one entry per symbol)")
        kraus = []
        for x, ops in enumerate(raw):
            if not isinstance(ops, list) or not ops:
                raise GeneratorFileError(f"kraus[{x}] must be a non-empty list of matrices")
            kraus.append([_complex_matrix(m, f"kraus[{x}][{k}]") for k, m in enumerate(ops)])
        initial = data.get("initial")
        g = QuantumGenerator(kraus, None if initial is None else _complex_matrix(initial, "initial"))
    g.name = name or g.name
    return g


def generator_to_dict(g: Generator) -> dict:
    """The file table of an HMM, QuantumGenerator, ProductGenerator (its factors' tables) or
    any other generator (its GHMM form); complex entries as ``[re, im]``."""
    from .compose import ProductGenerator

    g = check_generator(g)
    if isinstance(g, ProductGenerator):
        return {"kind": "product", "name": g.name or "", "factors": [generator_to_dict(f) for f in g.factors]}
    if isinstance(g, HMM):
        return {"kind": "hmm", "name": g.name or "", "T": g.T.tolist(), "initial": g.initial_state.tolist()}
    if isinstance(g, QuantumGenerator):
        pairs = lambda m: np.stack([m.real, m.imag], axis=-1).tolist()  # noqa: E731
        return {"kind": "quantum", "name": g.name or "", "kraus": [[pairs(k) for k in K] for K in g.kraus],
                "initial": pairs(g.initial_state)}
    h = g.to_ghmm()
    return {"kind": "ghmm", "name": g.name or "", "T": h.operators.tolist(), "tau": h.tau.tolist(),
            "initial": h.initial.tolist()}


def save_generator(g: Generator, path: str | Path) -> None:
    """Write ``g`` as JSON (full float precision) so that :func:`load_generator` restores it.

    The path must end in ``.json``; the file is replaced atomically (a reader never sees
    a partial file, a crash leaves the old one).
    """
    g = check_generator(g)
    if not isinstance(path, (str, Path)) or Path(path).suffix.lower() != ".json":
        raise ArgumentError(f"save_generator writes JSON: the path must end in .json; got {path!r}")
    write_json(path, generator_to_dict(g), indent=1)


# ---------------------------------------------------------------------- helpers
def _product_from_dict(data: dict, name: Any) -> Generator:
    from .compose import ProductGenerator

    raw = data.get("factors")
    if not isinstance(raw, list) or not raw:
        raise GeneratorFileError("a product needs `factors`: a non-empty list of generator tables")
    factors = []
    for k, f in enumerate(raw):
        try:
            factors.append(generator_from_dict(f))
        except ValueError as e:
            raise GeneratorFileError(f"factors[{k}]: {e}") from None
    return ProductGenerator(factors, name=name or None)


def _real(data: dict, key: str, ndim: int, optional: bool = False):
    if key not in data:
        if optional:
            return None
        raise GeneratorFileError(f"missing field `{key}`")
    _no_booleans(data[key], f"`{key}`")
    try:
        a = check_real_array(data[key], f"`{key}`")
    except ArgumentError as e:
        raise GeneratorFileError(str(e)) from None
    if a.ndim != ndim:
        raise GeneratorFileError(f"`{key}` must be {ndim}-dimensional; got shape {a.shape}")
    return a


def _no_booleans(value: Any, where: str, at: str = "") -> None:
    """JSON ``true``/TOML ``true`` where a number belongs is an error, not 1.0."""
    if isinstance(value, bool):
        raise GeneratorFileError(f"{where}{at} is {str(value).lower()} (a boolean); numbers are expected")
    if isinstance(value, list):
        for i, v in enumerate(value):
            _no_booleans(v, where, f"{at}[{i}]")


def _complex_matrix(m: Any, where: str) -> np.ndarray:
    _no_booleans(m, where)
    if not isinstance(m, list) or not all(isinstance(row, list) for row in m):
        raise GeneratorFileError(f"{where} must be a square matrix (a list of rows); got {type(m).__name__}")
    try:
        rows = [[_complex_entry(v) for v in row] for row in m]
        a = np.array(rows, dtype=complex)
    except (TypeError, ValueError) as e:
        raise GeneratorFileError(f"{where}: entries must be numbers, [re, im] pairs or strings like "
                                 f"'0.5+0.5j' ({e})") from None
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise GeneratorFileError(f"{where} must be a square matrix; got shape {a.shape}")
    return a


def _complex_entry(v: Any) -> complex:
    if isinstance(v, (list, tuple)):
        if len(v) != 2 or not all(isinstance(u, (int, float)) for u in v):
            raise ValueError(f"a complex pair must be two numbers [re, im]; got {v!r}")
        return complex(float(v[0]), float(v[1]))
    if isinstance(v, str):
        return complex(v.replace(" ", "").replace("i", "j"))
    if not isinstance(v, (int, float)):
        raise ValueError(f"{v!r} is not a number")
    return complex(v)
