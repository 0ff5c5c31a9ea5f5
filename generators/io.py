"""Reading and writing user-defined generators (TOML, JSON, Python files).

A generator file is a table with a ``kind`` and the matrices of that kind:

- ``kind = "hmm"``: ``T`` (V x n x n nested lists), optional ``initial`` (n).
- ``kind = "quantum"``: ``kraus``, a list per symbol of its Kraus matrices (d x d);
  complex entries as ``[re, im]`` pairs or strings like ``"0.5+0.5j"``; optional
  ``initial`` density matrix (d x d, same entry forms).
- ``kind = "ghmm"``: ``T``, optional ``tau`` and ``initial``.
- ``kind = "product"``: ``factors``, a list of generator tables (any kind); the
  independent product of the factors (:func:`generators.product`), kept factored.

An optional ``name`` labels the generator.  A Python file (``.py``) must define a
module-level ``generator`` (any :class:`~generators.Generator`).  Every problem raises
:class:`GeneratorFileError` naming the file, the field and what is wrong.
"""

from __future__ import annotations

import json
import runpy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from .base import Generator
from .ghmm import GHMM
from .hmm import HMM
from .quantum import QuantumGenerator

__all__ = ["resolve", "load_generator", "generator_from_dict", "generator_to_dict", "save_generator", "GeneratorFileError"]

KINDS = ("hmm", "quantum", "ghmm", "product")


class GeneratorFileError(ValueError):
    """A generator file that cannot be read or does not define a valid generator."""


def resolve(spec: "str | Path | Generator") -> Generator:
    """A generator from a spec: a :class:`Generator` (returned as is), a path to a
    ``.toml``/``.json``/``.py`` generator file, or a library spec such as ``"mess3"``,
    ``"mess3:x=0.15,a=0.6"`` or a product ``"mess3*bloch_walk:beta=3"``
    (:func:`generators.library.parse_spec`)."""
    from . import library

    if isinstance(spec, Generator):
        return spec
    if isinstance(spec, Path) or Path(str(spec)).suffix.lower() in (".toml", ".json", ".py"):
        return load_generator(spec)
    if not isinstance(spec, str):
        raise ValueError(f"a process spec must be a Generator, a file path or a library spec string; "
                         f"got {type(spec).__name__}")
    return library.parse_spec(spec)


def load_generator(path: str | Path) -> Generator:
    """Load a generator from a ``.toml``, ``.json`` or ``.py`` file (see module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise GeneratorFileError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".py":
        try:
            ns = runpy.run_path(str(p))
        except Exception as e:  # a user's script: report its error in one line
            raise GeneratorFileError(f"{p}: running the file failed: {type(e).__name__}: {e}") from e
        g = ns.get("generator")
        if not isinstance(g, Generator):
            raise GeneratorFileError(f"{p}: a Python generator file must define `generator` (a qbelief Generator); "
                                     f"got {type(g).__name__}")
        return g
    try:
        if suffix == ".toml":
            data = tomllib.loads(p.read_text())
        elif suffix == ".json":
            data = json.loads(p.read_text())
        else:
            raise GeneratorFileError(f"{p}: unknown file type {suffix!r}; use .toml, .json or .py")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise GeneratorFileError(f"{p}: not valid {suffix[1:].upper()}: {e}") from e
    try:
        return generator_from_dict(data)
    except GeneratorFileError as e:
        raise GeneratorFileError(f"{p}: {e}") from None
    except ValueError as e:
        raise GeneratorFileError(f"{p}: invalid generator: {e}") from None


def generator_from_dict(data: dict) -> Generator:
    """Build a generator from a parsed file table (``kind`` plus its matrices)."""
    if not isinstance(data, dict):
        raise GeneratorFileError("the file must hold a table with a `kind` field")
    kind = str(data.get("kind", "")).lower()
    if kind not in KINDS:
        raise GeneratorFileError(f"`kind` must be one of {', '.join(KINDS)}; got {data.get('kind')!r}")
    name = data.get("name")
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
    """Write ``g`` as JSON (full float precision) so that :func:`load_generator` restores it."""
    Path(path).write_text(json.dumps(generator_to_dict(g), indent=1))


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
    try:
        a = np.array(data[key], dtype=float)
    except (TypeError, ValueError) as e:
        raise GeneratorFileError(f"`{key}` must be a nested list of real numbers with equal row lengths ({e})") from None
    if a.ndim != ndim:
        raise GeneratorFileError(f"`{key}` must be {ndim}-dimensional; got shape {a.shape}")
    return a


def _complex_matrix(m: Any, where: str) -> np.ndarray:
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
        if len(v) != 2:
            raise ValueError(f"a complex pair must be [re, im]; got {v!r}")
        return complex(float(v[0]), float(v[1]))
    if isinstance(v, str):
        return complex(v.replace(" ", "").replace("i", "j"))
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a number")
    return complex(v)
