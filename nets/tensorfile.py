"""Named arrays on disk: safetensors (read and written here, no extra dependency), and the
activation files that ``qbelief probe --activations`` reads.

safetensors
-----------
The format (https://github.com/huggingface/safetensors) is::

    8 bytes        N, the header length (unsigned little-endian 64-bit)
    N bytes        a JSON object: name -> {"dtype": "F32", "shape": [2, 3],
                   "data_offsets": [begin, end]}, and optionally "__metadata__": {str: str}
    the rest       the tensors' bytes, little-endian, row-major; offsets are relative to
                   the start of this buffer

:func:`save_safetensors` pads the header with spaces to a multiple of 8 bytes (as the
reference writer does) and lays the tensors out in name order.  :func:`load_safetensors`
checks every offset, shape and dtype (``F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8
BOOL``; ``BF16`` is read as float32).

Activation files
----------------
``.npz``, ``.pt`` (a dict of tensors/arrays, loaded with ``weights_only=True``) or
``.safetensors``, holding ``tokens`` (N, L) int, one ``(N, L, d)`` array per activation
point (any name), optionally ``weights`` (N,) and an untrained twin's activations under
``untrained/<point>``.  :func:`load_activation_file` / :func:`save_activation_file`.

>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "a.safetensors")
>>> _ = save_safetensors(p, {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}, metadata={"who": "doc"})
>>> load_safetensors(p)["x"].tolist(), read_safetensors_metadata(p)
([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], {'who': 'doc'})
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from generators.fileio import atomic_path

__all__ = ["save_safetensors", "load_safetensors", "read_safetensors_metadata", "ActivationFile",
           "load_activation_file", "save_activation_file", "ACTIVATION_SUFFIXES"]

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v).str: k for k, v in _DTYPES.items() if k not in ("BF16",)}
#: suffixes :func:`load_activation_file` reads
ACTIVATION_SUFFIXES = (".npz", ".pt", ".safetensors")
UNTRAINED_PREFIX = "untrained/"


def save_safetensors(path: str | os.PathLike, tensors: Mapping[str, Any],
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` (name -> numpy array or torch tensor) as a safetensors file,
    atomically.  A bfloat16 tensor is written as ``BF16``; other dtypes as their numpy type."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name in sorted(tensors):
        code, arr = _encode(name, tensors[name])
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(head)))
        fh.write(head)
        for raw in blobs:
            fh.write(raw)
    return Path(path)


def _encode(name: str, t: Any) -> tuple[str, np.ndarray]:
    if hasattr(t, "detach"):
        import torch

        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            return "BF16", t.view(torch.int16).numpy().view("<u2")
        t = t.numpy()
    a = np.asarray(t)
    code = _CODES.get((a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype).str)
    if code is None:
        raise ValueError(f"tensor {name!r} has dtype {a.dtype}, which safetensors cannot store; "
                         f"use one of {', '.join(_DTYPES)}")
    return code, a.astype(_DTYPES[code], copy=False)


def _read_header(fh: Any, size: int) -> tuple[dict, int]:
    raw = fh.read(8)
    if len(raw) != 8:
        raise ValueError("not a safetensors file: shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", raw)
    if n > size - 8:
        raise ValueError(f"not a safetensors file: header length {n} exceeds the file size {size}")
    try:
        header = json.loads(fh.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not a safetensors file: the header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("not a safetensors file: the header is not a JSON object")
    return header, 8 + n


def read_safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (empty when absent)."""
    with open(path, "rb") as fh:
        header, _ = _read_header(fh, os.path.getsize(path))
    return dict(header.get("__metadata__") or {})


def load_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All tensors of a safetensors file as numpy arrays (``BF16`` as float32), checked
    against the file: offsets inside the data buffer and matching each shape and dtype."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        header, start = _read_header(fh, size)
        buf = fh.read()
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            code, shape, (a, b) = spec["dtype"], [int(s) for s in spec["shape"]], spec["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: tensor {name!r} has a malformed header entry {spec!r}") from e
        if code not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {code!r}; supported: {', '.join(_DTYPES)}")
        dt = np.dtype(_DTYPES[code])
        if not (0 <= a <= b <= len(buf)) or b - a != int(np.prod(shape)) * dt.itemsize:
            raise ValueError(f"{path}: tensor {name!r} has data_offsets {[a, b]} inconsistent with shape {shape}, "
                             f"dtype {code} and a data buffer of {len(buf)} bytes")
        arr = np.frombuffer(buf, dtype=dt, count=int(np.prod(shape)), offset=a).reshape(shape)
        if code == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return out


@dataclass
class ActivationFile:
    """Contents of an activation file: ``tokens`` (N, L), ``activations`` name -> (N, L, d),
    ``untrained`` name -> (N, L, d) or None, ``weights`` (N,) or None."""

    tokens: np.ndarray
    activations: dict
    untrained: dict | None = None
    weights: np.ndarray | None = None


def load_activation_file(path: str | os.PathLike, tokens: str | os.PathLike | None = None) -> ActivationFile:
    """Read an activation file (module doc); ``tokens`` names a separate file whose
    ``tokens`` entry (or a ``.npy`` array) holds the token ids."""
    arrays = _load_arrays(path)
    if tokens is not None:
        extra = {"tokens": np.load(tokens)} if str(tokens).endswith(".npy") else _load_arrays(tokens)
        if "tokens" not in extra:
            raise ValueError(f"{tokens} has no 'tokens' array; it has {sorted(extra)}")
        arrays["tokens"] = extra["tokens"]
    if "tokens" not in arrays:
        raise ValueError(f"{path} has no 'tokens' array (N, L); it has {sorted(arrays)} -- give --tokens FILE")
    tok = np.asarray(arrays.pop("tokens"))
    weights = arrays.pop("weights", None)
    unt = {k[len(UNTRAINED_PREFIX):]: v for k, v in arrays.items() if k.startswith(UNTRAINED_PREFIX)}
    acts = {k: v for k, v in arrays.items() if not k.startswith(UNTRAINED_PREFIX)}
    bad = {k: np.shape(v) for k, v in acts.items() if np.ndim(v) != 3}
    if bad or not acts:
        raise ValueError(f"{path}: activations must be arrays (N, L, d) next to tokens (N, L); "
                         f"{'got ' + str(bad) if bad else 'found none'}")
    return ActivationFile(tokens=tok, activations=acts, untrained=unt or None,
                          weights=None if weights is None else np.asarray(weights))


def save_activation_file(path: str | os.PathLike, tokens: Any, activations: Mapping[str, Any], *,
                         untrained: Mapping[str, Any] | None = None, weights: Any = None) -> Path:
    """Write an activation file (the format is chosen by the suffix of ``path``)."""
    arrays = {"tokens": np.asarray(tokens), **{k: _np(v) for k, v in activations.items()}}
    arrays.update({UNTRAINED_PREFIX + k: _np(v) for k, v in (untrained or {}).items()})
    if weights is not None:
        arrays["weights"] = np.asarray(weights)
    suffix = Path(path).suffix
    if suffix == ".safetensors":
        return save_safetensors(path, arrays)
    with atomic_path(path) as tmp:
        if suffix == ".npz":
            np.savez(tmp, **arrays)
        elif suffix == ".pt":
            import torch

            torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}, tmp)
        else:
            raise ValueError(f"activation files end in {', '.join(ACTIVATION_SUFFIXES)}; got {path}")
    return Path(path)


def _np(v: Any) -> np.ndarray:
    return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)


def _load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist" if not p.exists() else f"{p} is not a file")
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if p.suffix == ".safetensors":
        return load_safetensors(p)
    if p.suffix == ".pt":
        import torch

        obj = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(obj, Mapping):
            raise ValueError(f"{p} must hold a dict of named tensors; got {type(obj).__name__}")
        return {str(k): _np(v) for k, v in obj.items()}
    raise ValueError(f"activation files end in {', '.join(ACTIVATION_SUFFIXES)}; got {p}")
