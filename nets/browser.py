"""Open a report page in headless Chromium: a screenshot, the console, the viewer's status.

The tests of ``report.html`` and the script that makes ``docs/report-demo.png`` look at
pages the way a person does, with a real browser and no Python dependency: the
``chromium`` binary (Debian package ``chromium``; ``QBELIEF_BROWSER`` names another
Chromium-family binary) run twice on a local file --

1. ``--screenshot`` with ``--enable-logging=stderr``: the PNG and every console message
   (the viewer writes none, so any message -- an uncaught error included -- is a defect);
2. ``--dump-dom``: the page after its scripts ran, from which the viewer's counters
   ``data-qb-rendered`` (figures drawn) and ``data-qb-errors`` (figures that failed) are read.

``--virtual-time-budget`` lets the page finish its scripts before either is taken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["find_browser", "PageCheck", "check_page"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CONSOLE = re.compile(r':CONSOLE[^\]]*\] "(.*)", source: (\S*)')
_HTML_TAG = re.compile(r"<html\b[^>]*>")


def find_browser() -> str | None:
    """Path of a headless-capable Chromium: ``$QBELIEF_BROWSER``, else the first of
    chromium, chromium-browser, google-chrome(-stable) on ``PATH``; None when absent."""
    env = os.environ.get("QBELIEF_BROWSER")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    return next((p for p in map(shutil.which, _CANDIDATES) if p), None)


@dataclass
class PageCheck:
    """What a browser made of a page: the screenshot, the console messages (``(text,
    source)``), the viewer's counters (None when the viewer did not run) and the DOM
    after the page's scripts ran."""

    screenshot: Path
    console: list = field(default_factory=list)
    rendered: int | None = None
    errors: int | None = None
    dom: str = ""


def check_page(page: str | os.PathLike, screenshot: str | os.PathLike, *, width: int = 1400, height: int = 1800,
               browser: str | None = None, timeout: float = 120.0, budget_ms: int = 5000) -> PageCheck:
    """Load ``page`` (a local HTML file) in headless Chromium; write a ``width`` x ``height``
    PNG of it to ``screenshot`` and return the :class:`PageCheck`.

    Raises FileNotFoundError when no browser is found and RuntimeError when the browser
    fails (its stderr tail in the message).
    """
    exe = browser or find_browser()
    if exe is None:
        raise FileNotFoundError("no Chromium found (install the Debian package `chromium`, or set QBELIEF_BROWSER)")
    url = Path(page).resolve().as_uri()
    shot = Path(screenshot).resolve()
    shot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qb-chromium-") as profile:
        base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}",
                f"--virtual-time-budget={int(budget_ms)}"]
        shot_run = _run(base + ["--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
                                f"--window-size={int(width)},{int(height)}", url], timeout)
        if not shot.is_file():
            raise RuntimeError(f"{exe} wrote no screenshot: {shot_run.stderr[-2000:]}")
        dom = _run(base + ["--dump-dom", url], timeout).stdout
    console = [(m.group(1), m.group(2)) for m in _CONSOLE.finditer(shot_run.stderr)]
    tag = (_HTML_TAG.search(dom) or re.match("", "")).group(0)
    rendered, errors = (int(m.group(1)) if m else None
                        for m in (re.search(rf'\bdata-qb-{k}="(\d+)"', tag) for k in ("rendered", "errors")))
    return PageCheck(shot, console, rendered, errors, dom)


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {p.returncode}: {p.stderr[-2000:]}")
    return p
