"""Files written atomically and values made JSON-able: the one implementation of each.

Every file qbelief writes (generator files, figures, arrays, checkpoints, JSON results,
Markdown reports) goes through :func:`atomic_path`: the data is written to a temporary
file in the destination folder, flushed to disk (``fsync``), given the usual permissions
(``0666`` less the umask, not ``mkstemp``'s private ``0600``) and renamed over the
destination (``os.replace`` is atomic on one file system), so a reader never sees a
partial file and a crash leaves the old file intact.  Temporaries are named
``.<name>.<random>.tmp<suffix>``; :func:`remove_stale_temporaries` deletes those left by
a killed writer.

:func:`to_jsonable` turns numpy scalars and arrays, complex numbers, paths, tuples and
dataclasses into plain JSON values (non-finite floats become ``null``, which JSON has no
other spelling for); :func:`write_json` writes the result atomically.

Examples
--------
>>> import json, os, tempfile
>>> import numpy as np
>>> d = tempfile.mkdtemp()
>>> p = write_json(os.path.join(d, "r.json"), {"r2": np.float64(0.5), "v": np.arange(2), "z": 1j})
>>> json.loads(p.read_text())
{'r2': 0.5, 'v': [0, 1], 'z': [0.0, 1.0]}
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["atomic_path", "write_text", "write_bytes", "write_json", "to_jsonable", "remove_stale_temporaries",
           "read_toml"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path that replaces ``path`` atomically when the block succeeds.

    The temporary lives in the destination folder (created if missing) and keeps the
    destination's suffix, so writers that pick a format from the extension
    (``Figure.savefig``, ``np.savez``, ``torch.save``) work unchanged.  On success the file
    is fsync'ed, chmod'ed to ``0666 & ~umask`` and renamed over ``path``; on any exception
    (``KeyboardInterrupt`` included) the temporary is removed and ``path`` is untouched.

    Raises ``IsADirectoryError`` when ``path`` is an existing folder, and the usual
    ``OSError`` subclasses (``PermissionError``, ``NotADirectoryError``) when the folder
    cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; a file path is needed here")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1,
               default: Callable[[Any], Any] | None = None) -> Path:
    """Write :func:`to_jsonable` of ``obj`` as JSON to ``path`` atomically; returns the path."""
    text = json.dumps(to_jsonable(obj, default=default), indent=indent, allow_nan=False)
    return write_text(path, text + "\n")


def to_jsonable(x: Any, *, default: Callable[[Any], Any] | None = None) -> Any:
    """Plain JSON values from nested Python/numpy data.

    - dict keys become strings; tuples, lists, sets (sorted) and arrays become lists;
    - numpy integers and bools become ``int`` / ``bool``; floats stay floats, except
      NaN and infinities, which become ``None``;
    - complex numbers become ``[re, im]``; paths become strings; enums their value;
      dataclass instances their fields (:func:`dataclasses.asdict` semantics);
    - anything else goes to ``default`` (e.g. ``str``) or raises ``TypeError``.
    """
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, np.bool_):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, (complex, np.complexfloating)):
        return [to_jsonable(x.real), to_jsonable(x.imag)]
    if isinstance(x, dict):
        return {str(k): to_jsonable(v, default=default) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v, default=default) for v in x]
    if isinstance(x, (set, frozenset)):
        return [to_jsonable(v, default=default) for v in sorted(x, key=repr)]
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist(), default=default)
    if isinstance(x, PurePath):
        return str(x)
    if isinstance(x, enum.Enum):
        return to_jsonable(x.value, default=default)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return to_jsonable({f.name: getattr(x, f.name) for f in dataclasses.fields(x)}, default=default)
    if default is not None:
        return to_jsonable(default(x))
    raise TypeError(f"cannot convert {type(x).__name__} to JSON; pass default= (e.g. str) to convert it")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete temporaries of ``path`` left behind by killed writers (``.<name>.*.tmp*``).

    Call it only while no other process writes ``path`` (e.g. holding the run's lock).
    Returns the removed paths.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for p in path.parent.glob(f".{path.name}.*.tmp*"):
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def read_toml(path: str | os.PathLike, what: str, error: type[ValueError]) -> dict:
    """The table of TOML file ``path``; anything wrong raises ``error`` (a ``ValueError``
    subclass) with one line naming the file and the problem (``what``: the kind of file,
    e.g. ``"config file"``).

    >>> read_toml("no/such.toml", "config file", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: config file no/such.toml does not exist
    """
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {p} does not exist" if not p.exists() else f"{what} {p} is not a file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise error(f"{p}: not a UTF-8 text file (byte {e.start}); a TOML file is needed") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{p}: not valid TOML: {e}") from None
