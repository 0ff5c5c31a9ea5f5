"""A report as a document: one structure, rendered to Markdown (and to HTML).

Experiments, probes and sweeps describe what they found as a :class:`Report` -- an ordered
list of blocks (headings, paragraphs, tables, figures, "paper vs ours" comparisons,
notes, a reproduce footer) -- instead of writing Markdown strings by hand.  The same
object renders to ``RESULTS.md`` / ``report.md`` (:meth:`Report.to_markdown`) and to a
self-contained HTML page (:meth:`Report.to_html`, when an HTML renderer is installed
in :data:`RENDERERS`), so the two never disagree.

Numbers that carry an interval are :class:`nets.stats.Interval` objects and are shown as
``mean [lo, hi]``.

Examples
--------
>>> from nets.stats import Interval
>>> r = Report("Demo")
>>> r.section("Fit")
>>> r.comparison([("R^2", 0.95, Interval(0.97, 0.96, 0.98, 3), {"untrained": 0.35}, "reproduced")])
>>> print(r.to_markdown().splitlines()[4])
| quantity | paper | ours (95% interval over seeds) | controls | verdict |
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from generators.fileio import write_text

from .stats import Interval

__all__ = ["Report", "Block", "fmt", "RENDERERS"]

#: extra renderers by format name: ``renderer(report, base)`` -> text, ``base`` the folder
#: figure paths are relative to (or None).  ``"html"`` is registered by
#: :mod:`nets.html_report`, which :meth:`Report.to_html` and :meth:`Report.write` import.
RENDERERS: dict[str, Callable[..., str]] = {}


def fmt(v: Any, digits: int = 3) -> str:
    """One table cell: intervals as ``mean [lo, hi]``, floats with ``digits`` significant
    decimals (scientific below 1e-3), ``None``/NaN as ``-``."""
    if isinstance(v, Interval):
        if abs(v.mean) and abs(v.mean) < 1e-3:
            return f"{v.mean:.2e} [{v.lo:.2e}, {v.hi:.2e}]" if v.method != "single" else f"{v.mean:.2e}"
        return v.format(digits)
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2e}" if v != 0 and abs(v) < 1e-3 else f"{v:.{digits}f}"
    return str(v)


@dataclass
class Block:
    """One element of a report: ``kind`` is heading | text | table | figure | list | code |
    interactive; ``data`` holds its content (see :class:`Report`'s methods).  ``interactive``
    is a figure without an image file: only the HTML page draws it."""

    kind: str
    data: dict


@dataclass
class Report:
    """An ordered document.  Build with the methods below, then render.

    Attributes
    ----------
    title : str
    blocks : list of Block
    meta : dict -- free-form facts (hardware, timings, versions) kept with the document.
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    def section(self, title: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", {"text": title, "level": int(level)}))

    def text(self, *paragraphs: str) -> None:
        for p in paragraphs:
            self.blocks.append(Block("text", {"text": str(p)}))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None) -> None:
        self.blocks.append(Block("table", {"header": [str(h) for h in header], "rows": [list(r) for r in rows],
                                           "caption": caption}))

    def comparison(self, rows: Iterable[tuple], *, ours_label: str = "ours (95% interval over seeds)") -> None:
        """"Paper vs ours" rows: ``(quantity, paper value or None, ours (Interval or float),
        {control name: value or Interval}, verdict text)``."""
        body = []
        for quantity, paper, ours, controls, verdict in rows:
            ctrl = "; ".join(f"{k} {fmt(v)}" for k, v in (controls or {}).items()) or "-"
            body.append([quantity, fmt(paper), fmt(ours), ctrl, verdict])
        self.table(["quantity", "paper", ours_label, "controls", "verdict"], body)

    def figure(self, path: str | os.PathLike, caption: str = "", *, interactive: dict | None = None) -> None:
        """A figure file (relative to the report's folder when rendered) with a caption;
        ``interactive`` optionally carries a figure specification
        (:func:`bayes.interactive.figure_spec`, checked here) that the HTML page draws
        instead of the static image; the Markdown shows the image."""
        if interactive is not None:
            from bayes.interactive import check_figure_spec

            check_figure_spec(interactive)
        self.blocks.append(Block("figure", {"path": os.fspath(path), "caption": caption, "interactive": interactive}))

    def interactive(self, spec: dict, caption: str = "") -> None:
        """An interactive figure without an image file (e.g. a slider over training steps):
        drawn in ``report.html``; the Markdown says where to find it."""
        from bayes.interactive import check_figure_spec

        self.blocks.append(Block("interactive", {"spec": check_figure_spec(spec), "caption": caption}))

    def bullets(self, items: Iterable[str]) -> None:
        self.blocks.append(Block("list", {"items": [str(i) for i in items]}))

    def code(self, text: str, language: str = "sh") -> None:
        self.blocks.append(Block("code", {"text": text, "language": language}))

    def reproduce(self, command: str, *, hardware: dict | None = None, seconds: dict | None = None) -> None:
        """The footer: how to reproduce, on what machine, how long it took."""
        self.section("Reproduce")
        self.code(command)
        if hardware:
            hw = hardware
            self.text(f"Hardware: {hw.get('cpu', '?')} ({hw.get('cpus', '?')} CPUs), torch {hw.get('torch', '?')} on "
                      f"{hw.get('device', '?')}.")
        if seconds:
            self.text("Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))

    # ------------------------------------------------------------------ rendering
    def to_markdown(self, base: str | os.PathLike | None = None) -> str:
        """GitHub Markdown; figure paths are made relative to ``base`` when given."""
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            out += _MD[b.kind](b.data, base) + [""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self, base: str | os.PathLike | None = None) -> str:
        """A self-contained HTML page (:mod:`nets.html_report`, or whatever is registered
        as ``RENDERERS["html"]``); relative figure paths are looked up in ``base`` too."""
        _load_html_renderer()
        return RENDERERS["html"](self, base)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the Markdown rendering atomically to ``path`` and the HTML page beside it:
        ``report.md`` and ``RESULTS.md`` -> ``report.html``, any other ``NAME.md`` ->
        ``NAME.html`` (so the analyses of one run directory keep a page each).  Returns the
        Markdown path."""
        path = Path(path)
        write_text(path, self.to_markdown(base=path.parent))
        _load_html_renderer()
        page = path.parent / "report.html" if path.stem in ("report", "RESULTS") else path.with_suffix(".html")
        write_text(page, self.to_html(base=path.parent))
        return path


def _load_html_renderer() -> None:
    """Register the HTML renderer (imported on first use: the viewer assets are read then)."""
    if "html" not in RENDERERS:
        from . import html_report  # noqa: F401  (registers RENDERERS["html"])


def _md_table(d: dict, base) -> list[str]:
    lines = ["| " + " | ".join(d["header"]) + " |", "|" + "---|" * len(d["header"])]
    lines += ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in r) + " |" for r in d["rows"]]
    return ([f"*{d['caption']}*", ""] if d.get("caption") else []) + lines


def _md_figure(d: dict, base) -> list[str]:
    p = d["path"]
    if base is not None:
        try:
            p = os.path.relpath(p, base)
        except ValueError:
            pass
    return [f"![{d['caption']}]({p})", *([f"*{d['caption']}*"] if d["caption"] else [])]


_MD = {
    "heading": lambda d, base: ["#" * d["level"] + " " + d["text"]],
    "text": lambda d, base: [d["text"]],
    "table": _md_table,
    "figure": _md_figure,
    "list": lambda d, base: [f"- {i}" for i in d["items"]],
    "code": lambda d, base: [f"```{d['language']}", d["text"], "```"],
    "interactive": lambda d, base: [f"*Interactive figure in report.html: {d['caption'] or d['spec']['title']}*"],
}
