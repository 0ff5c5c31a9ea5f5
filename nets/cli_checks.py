"""What the ``qbelief`` command line checks before any work, and how it reports failures.

- :func:`argument_types`: the type of every flag by its name (``--samples``, ``--seed``,
  ``--depth``, ``--markov-order``, ``--seconds``, paths, ...), so a bad value is refused by
  the parser, in one line, before anything runs;
- :func:`check_outputs`: the output folder or file of each command is a folder (or file)
  that can be written, checked before the work that would fill it;
- :func:`error_line`: any exception as the one line ``qbelief: error: ...`` and its exit
  status (2 for bad input, files and resources; 1 for an internal error);
- :func:`one_line_warnings`: warnings as ``qbelief: warning: ...`` lines.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["CLIError", "OneLineParser", "argument_types", "check_outputs", "error_line", "one_line_warnings",
           "USER_ERRORS"]

#: exceptions that report a problem with the input, the files or the resources (exit status 2)
USER_ERRORS = (ValueError, OSError, KeyError, RuntimeError, ArithmeticError, MemoryError)
_MAX_LINE = 1000


class CLIError(ValueError):
    """A problem with the command line's input, reported as one line."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``qbelief: error: ...``), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"qbelief: error: {message} (see `{self.prog} --help`)\n")


# ---------------------------------------------------------------------- argument types
def _integer(name: str, minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}; got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}; got {v}")
        return v
    parse.__name__ = name
    return parse


def _positive_real(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0; got {text!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0; got {text!r}")
        return v
    parse.__name__ = name
    return parse


def _markov_order(text: str) -> int | str:
    if text.strip() == "auto":
        return "auto"
    return _integer("markov order", 0)(text)


def _text(name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{name} must not be empty")
        if "\0" in text:
            raise argparse.ArgumentTypeError(f"{name} must not contain a NUL character")
        return text
    parse.__name__ = name
    return parse


def argument_types() -> dict[str, Callable[[str], Any]]:
    """The parser type of each flag, by its ``dest`` (applied to every subcommand that has it)."""
    return {
        "depth": _integer("depth", 0), "max_beliefs": _integer("max beliefs", 1), "tol": _positive_real("tol"),
        "nproc": _integer("number of processes", 1), "samples": _integer("samples", 1),
        "seed": _integer("seed", 0), "markov_order": _markov_order, "seconds": _positive_real("seconds"),
        "out": _text("output path"), "json": _text("JSON path"), "config": _text("config path"),
        "run_dir": _text("run directory"), "process": _text("process"), "name": _text("name"),
        "activations": _text("activations path"), "tokens": _text("tokens path"),
    }


def apply_argument_types(parser: argparse.ArgumentParser) -> None:
    """Set :func:`argument_types` on every matching action of ``parser`` and its subcommands."""
    types = argument_types()
    todo = [parser]
    while todo:
        p = todo.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
            elif action.dest in types and action.nargs in (None, "?") and (
                    action.type in (None, int, float, str) or getattr(action.type, "__name__", "") == "<lambda>"):
                action.type = types[action.dest]


# ---------------------------------------------------------------------- output paths
def _writable_folder(path: Path, what: str) -> None:
    """Raise :class:`CLIError` unless ``path`` is, or can be made as, a writable folder."""
    if path.exists() and not path.is_dir():
        raise CLIError(f"{what} {path} is a file; a folder is needed")
    base = path
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise CLIError(f"{what} {path} cannot be made: {base} is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise CLIError(f"{what} {path}: no permission to write in {base}")


def check_outputs(args: argparse.Namespace) -> None:
    """Check the output of ``args.command`` (folder or file) before the command runs."""
    cmd = args.command
    if cmd in ("beliefs", "train", "demo") or (cmd == "paper" and getattr(args, "out", None)):
        _writable_folder(Path(args.out), "--out" if cmd != "train" else "run directory")
    elif cmd in ("probe", "attention"):
        out = getattr(args, "out", None) or getattr(args, "run_dir", None)
        if out:
            p = Path(out)
            if p.is_dir():
                _writable_folder(p, "output folder")
    elif cmd == "info" and args.json:
        p = Path(args.json)
        if p.is_dir():
            raise CLIError(f"--json {p} is a folder; a file path is needed")
        _writable_folder(p.parent, "--json folder")


# ---------------------------------------------------------------------- reporting
def _os_error(e: OSError) -> str:
    if e.errno == errno.EACCES or isinstance(e, PermissionError):
        where = f" {e.filename}" if e.filename else ""
        return f"permission denied:{where} (check its permissions, or choose another path)"
    if e.strerror and e.filename:
        target = f" -> {e.filename2}" if e.filename2 else ""
        return f"{e.filename}{target}: {e.strerror[0].lower()}{e.strerror[1:]}"
    return str(e)


def error_line(e: BaseException) -> tuple[str, int]:
    """``(the one-line message, exit status)`` of an exception the command line did not expect."""
    if isinstance(e, MemoryError):
        msg = (f"ran out of memory ({e}); " if str(e) else "ran out of memory; ") + \
              "ask for less (a smaller --batch-size, --depth, --samples or model)"
        status = 2
    elif isinstance(e, OSError):
        msg, status = _os_error(e), 2
    elif isinstance(e, (ValueError, ArithmeticError)):
        msg, status = str(e) or type(e).__name__, 2
    elif isinstance(e, USER_ERRORS):
        msg, status = f"{type(e).__name__}: {e}", 2
    else:
        msg, status = f"internal error ({type(e).__name__}: {e}); rerun with --debug for the traceback", 1
    msg = " ".join(msg.split())
    if len(msg) > _MAX_LINE:
        msg = msg[:_MAX_LINE] + " ..."
    return f"qbelief: error: {msg}", status


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Print every warning raised in the block as one line ``qbelief: warning: ...`` on stderr."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"qbelief: warning: {text}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def quiet_broken_pipe() -> int:
    """After stdout's reader went away (``qbelief processes | head -1``): point stdout at
    /dev/null so that the final flush is silent; the exit status a shell gives a command
    killed by SIGPIPE (141)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 141
