"""Run directories: their layout, their lock, checksummed checkpoint files and the metrics log.

A run directory (``qbelief train ... --out RUN``) holds::

    config.json                    the run's TrainConfig (a readable copy; the checkpoint holds its own)
    metrics.jsonl                  one JSON object per logged step
    checkpoint.pt                  the latest checkpoint           + checkpoint.pt.sha256
    checkpoint.prev.pt             the one before it               + checkpoint.prev.pt.sha256
    checkpoints/step_N.pt          kept at chosen steps            + step_N.pt.sha256
    .qbelief.lock                  the writer's lock (fcntl.flock)

Each checkpoint file has a checksum file in ``sha256sum`` format beside it (``sha256sum -c
checkpoint.pt.sha256`` checks it from a shell).  ``torch.load`` does not verify a zip
archive's CRCs, so without it one flipped byte would change a model silently; with it a
damaged file is found on load, and the reader falls back to ``checkpoint.prev.pt``.

Writing (:func:`commit_checkpoint`): the new checkpoint is written completely to a
temporary (:func:`generators.fileio.atomic_path`), then ``checkpoint.pt`` becomes
``checkpoint.prev.pt`` (checksum first, then data) and the temporary becomes
``checkpoint.pt`` (checksum first, then data).  Every rename is atomic, so a writer killed
at any moment leaves whole files only: at worst the newest checkpoint is missing or
unverifiable and the reader takes the previous one (:func:`candidates` order), saying so
in one warning line (:class:`RunWarning`).  A checkpoint file without a checksum file
(written before checksums existed, or caught between two renames) is read unverified.

Only one process writes a run directory at a time: :func:`run_lock` takes an exclusive
``fcntl.flock`` on ``.qbelief.lock`` for the whole run (the kernel drops it when the
process dies, so a stale lock file never blocks), and a second writer is refused with
:class:`RunBusyError`.  Under the lock the writer removes temporaries left by killed
writes (:func:`remove_stale`).  Readers (probe, attention) take no lock: every file they
read is replaced atomically, and :func:`read_verified` re-reads when a checkpoint is
rotated while it reads.

This module knows files and bytes, not torch: :mod:`nets.checkpoint` builds on it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from generators.fileio import _fsync_folder, remove_stale_temporaries, write_text

__all__ = ["CONFIG", "METRICS", "CHECKPOINT", "PREVIOUS", "KEPT_DIR", "LOCK", "RunDirError", "RunBusyError",
           "RunExistsError", "CheckpointError", "RunMismatchError", "RunWarning", "checksum_path", "kept_path",
           "run_files", "holds_run", "run_lock", "remove_stale", "clear_run", "commit_checkpoint",
           "keep_checkpoint", "quarantine", "candidates", "read_verified", "read_jsonl", "write_jsonl", "warn"]

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"
KEPT_DIR = "checkpoints"
#: the latest checkpoint's weights as ``model.safetensors`` + ``config.json`` (:func:`nets.export.save_weights`)
WEIGHTS_DIR = "weights"
LOCK = ".qbelief.lock"
#: what a run's analyses write into its directory (removed with the run it describes)
DERIVED = ("probe*.json", "probe*.png", "attention.json", "attention.png", "attention.md", "attention.html",
           "represented.*", "probes.jsonl", "probes/*.npz", "sweep_probe*.json", "sweep_probe*.png",
           "tracking.json")
_STAGED = f".{CHECKPOINT}.staged.tmp.pt"  # a complete new checkpoint before its rename (a stale temporary)
_HEX = re.compile(r"^[0-9a-f]{64}$")


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (the message says why and what to do)."""


class RunBusyError(RunDirError):
    """Another process holds the run directory's lock (it is training into it)."""


class RunExistsError(RunDirError):
    """A fresh run asked for a directory that already holds a run."""


class CheckpointError(RunDirError):
    """A checkpoint file that is damaged, or is not a qbelief checkpoint."""


class RunMismatchError(RunDirError):
    """A run directory whose files belong to different runs (config.json vs. checkpoint)."""


class RunWarning(UserWarning):
    """Something in a run directory was repaired or skipped (a damaged checkpoint, a bad metrics line)."""


def warn(message: str) -> None:
    """Issue a one-line :class:`RunWarning` (the command line prints it as ``qbelief: warning: ...``)."""
    warnings.warn(message, RunWarning, stacklevel=3)


# ---------------------------------------------------------------------- layout
def checksum_path(path: str | os.PathLike) -> Path:
    """``checkpoint.pt -> checkpoint.pt.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def kept_path(out: str | os.PathLike, step: int) -> Path:
    """Where the checkpoint kept at ``step`` lives: ``out/checkpoints/step_<step>.pt``."""
    return Path(out) / KEPT_DIR / f"step_{int(step)}.pt"


def run_files(out: str | os.PathLike) -> list[Path]:
    """The files of a run present in ``out`` (config, metrics, checkpoints, checksums, kept
    checkpoints, quarantined damaged checkpoints, the exported weights)."""
    out = Path(out)
    if not out.is_dir():
        return []
    names = [CONFIG, METRICS, CHECKPOINT, PREVIOUS]
    found = [out / n for n in names if (out / n).exists()]
    found += sorted(p for n in (CHECKPOINT, PREVIOUS) for p in out.glob(f"{n}.*") if p.is_file())
    kept = out / KEPT_DIR
    if kept.is_dir():
        found += sorted(p for p in kept.iterdir() if re.fullmatch(r"step_\d+\.pt(\.sha256|\.damaged.*)?", p.name))
    found += [p for p in (out / WEIGHTS_DIR / "model.safetensors", out / WEIGHTS_DIR / "config.json") if p.is_file()]
    return found


def holds_run(out: str | os.PathLike) -> bool:
    """Whether ``out`` holds (part of) a training run."""
    return bool(run_files(out))


# ---------------------------------------------------------------------- the lock
@contextmanager
def run_lock(out: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive writer's lock of run directory ``out`` (created if missing).

    ``fcntl.flock`` on ``out/.qbelief.lock``, non-blocking: raises :class:`RunBusyError`
    naming the holder's pid when another process holds it.  The lock is released when the
    block ends or the process dies (a lock file left behind never blocks anyone).
    """
    import fcntl

    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise RunBusyError(f"{out} is in use: another qbelief process (pid {holder}) is training into it; wait "
                               "for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        except BaseException:
            if created and os.listdir(out) == [LOCK]:  # a run refused before it wrote anything leaves nothing
                path.unlink()
                out.rmdir()
            raise
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def remove_stale(out: str | os.PathLike) -> list[Path]:
    """Delete temporaries left in ``out`` by killed writers (call it holding :func:`run_lock`)."""
    out = Path(out)
    removed = []
    for name in (CONFIG, METRICS, CHECKPOINT, PREVIOUS, CONFIG + ".sha256", CHECKPOINT + ".sha256",
                 PREVIOUS + ".sha256"):
        removed += remove_stale_temporaries(out / name)
    removed += remove_stale_temporaries(staged_path(out))  # the staged checkpoint's own temporary
    if (out / KEPT_DIR).is_dir():
        removed += remove_stale_temporaries(out / KEPT_DIR / "step_*.pt")
        removed += remove_stale_temporaries(out / KEPT_DIR / "step_*.pt.sha256")
    return removed


def clear_run(out: str | os.PathLike) -> list[Path]:
    """Delete the run in ``out`` (its files, kept checkpoints and the analyses of it); other
    files stay.  Call it holding :func:`run_lock`.  Returns the removed paths."""
    out = Path(out)
    gone = run_files(out) + sorted(p for pat in DERIVED for p in out.glob(pat) if p.is_file())
    for p in gone:
        p.unlink(missing_ok=True)
    for folder in (out / KEPT_DIR, out / WEIGHTS_DIR):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return gone


# ---------------------------------------------------------------------- writing checkpoints
def staged_path(out: str | os.PathLike) -> Path:
    """Where a new checkpoint is written before :func:`commit_checkpoint` (a hidden temporary)."""
    return Path(out) / _STAGED


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_checksum(path: Path, digest: str) -> None:
    write_text(checksum_path(path), f"{digest}  {path.name}\n")


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` over ``dst`` (removing ``dst`` if ``src`` is missing)."""
    if src.exists():
        os.replace(src, dst)
    else:
        dst.unlink(missing_ok=True)


def commit_checkpoint(out: str | os.PathLike, staged: str | os.PathLike) -> Path:
    """Make the complete file ``staged`` the run's ``checkpoint.pt``, keeping the one before
    as ``checkpoint.prev.pt``; each with its checksum.  Returns the new ``checkpoint.pt``.

    Order (every step an atomic rename, so a kill leaves whole files): the latest's
    checksum as prev's, latest -> prev, the new checksum, staged -> latest.
    """
    out, staged = Path(out), Path(staged)
    digest = _sha256_file(staged)
    latest, prev = out / CHECKPOINT, out / PREVIOUS
    if latest.exists():
        try:
            old = read_checksum(latest)
        except CheckpointError:  # a damaged checksum file: prev will be read unverified
            old = None
        if old is None:
            checksum_path(prev).unlink(missing_ok=True)
        else:
            _write_checksum(prev, old)  # the file names itself: `sha256sum -c` checks the right file
        os.replace(latest, prev)
    _write_checksum(latest, digest)
    os.replace(staged, latest)
    _fsync_folder(out)
    return latest


def keep_checkpoint(out: str | os.PathLike, step: int) -> Path:
    """Copy ``checkpoint.pt`` (just written at ``step``) to ``checkpoints/step_<step>.pt`` with its checksum."""
    import shutil

    from generators.fileio import atomic_path

    src, dst = Path(out) / CHECKPOINT, kept_path(out, step)
    dst.parent.mkdir(parents=True, exist_ok=True)
    _write_checksum(dst, read_checksum(src) or _sha256_file(src))  # the source's digest verifies the copy
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def quarantine(path: str | os.PathLike) -> Path:
    """Rename a damaged checkpoint (and its checksum) to ``<name>.damaged`` so that it leaves
    the rotation but stays for inspection.  Returns the new path."""
    path = Path(path)
    dst = path.with_name(path.name + ".damaged")
    _move(checksum_path(path), checksum_path(dst))
    _move(path, dst)
    return dst


# ---------------------------------------------------------------------- reading checkpoints
def candidates(out: str | os.PathLike) -> list[Path]:
    """The checkpoints to try, newest first: ``checkpoint.pt``, ``checkpoint.prev.pt``."""
    out = Path(out)
    return [out / CHECKPOINT, out / PREVIOUS]


def read_checksum(path: str | os.PathLike) -> str | None:
    """The SHA-256 hex digest recorded beside ``path`` (None without a checksum file).

    Raises :class:`CheckpointError` if the checksum file is unreadable or malformed.
    """
    c = checksum_path(path)
    try:
        text = c.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{c} cannot be read ({_reason(e)}); it should hold the SHA-256 of {Path(path).name}")
    digest = (text.split() or [""])[0].lower()
    if not _HEX.match(digest):
        raise CheckpointError(f"{c} is damaged: it does not start with a SHA-256 hex digest")
    return digest


def read_verified(path: str | os.PathLike) -> tuple[bytes, bool]:
    """``(the bytes of path, whether a checksum verified them)``.

    Raises :class:`CheckpointError` when the bytes do not match the recorded checksum
    (re-reading up to three times when a writer replaced the file while it was read), and
    ``FileNotFoundError`` when ``path`` is missing.  Other ``OSError`` (permissions) pass.
    """
    path = Path(path)
    for _ in range(3):
        want = read_checksum(path)
        data = path.read_bytes()
        if want is None:
            return data, False
        got = hashlib.sha256(data).hexdigest()
        if got == want:
            return data, True
        if read_checksum(path) == want:  # no writer raced us: the file itself is damaged
            break
    raise CheckpointError(f"{path} is damaged: its SHA-256 is {got[:12]}... but {checksum_path(path).name} "
                          f"records {want[:12]}... (changed on disk)")


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    text = str(e).strip().splitlines()
    return (text[0][:160] if text else type(e).__name__)


# ---------------------------------------------------------------------- metrics log
def read_jsonl(path: str | os.PathLike, *, upto_step: int | None = None) -> list[dict]:
    """The records of a metrics log: every line that is a JSON object with an integer
    ``step`` (``<= upto_step`` if given), in file order.

    A last line cut short by a kill is dropped silently; any other bad line is skipped,
    and one :class:`RunWarning` names the skipped lines.  Records are never dropped
    because a line before them is bad.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw_text = fh.read()
    lines = raw_text.split(b"\n")
    torn = len(lines) - 1 if not raw_text.endswith(b"\n") else -1  # a last line without its newline
    out, bad = [], []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            rec = None
        if not (isinstance(rec, dict) and isinstance(rec.get("step"), int) and not isinstance(rec["step"], bool)):
            if i != torn:  # a torn last line is expected after a kill
                bad.append(i + 1)
            continue
        if upto_step is None or rec["step"] <= upto_step:
            out.append(rec)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        warn(f"{path}: skipped {len(bad)} damaged line{'s' if len(bad) > 1 else ''} ({'line' if len(bad) == 1 else 'lines'} "
             f"{shown}); kept the {len(out)} valid records")
    return out


def write_jsonl(path: str | os.PathLike, records: list[dict]) -> None:
    """Write ``records`` as JSON lines, atomically."""
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))
