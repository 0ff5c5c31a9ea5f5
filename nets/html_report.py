"""The HTML rendering of a :class:`nets.document.Report`: one self-contained page.

Importing this module registers :func:`render_html` as ``RENDERERS["html"]``;
:meth:`Report.to_html` and :meth:`Report.write` import it, so every report written through
``Report.write`` gets a ``report.html`` beside its Markdown.

The page works offline and alone: static figures are embedded as ``data:`` URIs (base64),
interactive figures (a figure's ``interactive=`` spec, or an ``interactive`` block) as JSON
drawn by the viewer of :mod:`bayes.interactive`, whose JavaScript and CSS are inlined
(about 25 kB).  Every block kind is rendered: headings (with a table of contents),
paragraphs (inline Markdown: ``code``, **bold**, *italic*, links and images; ``- `` lists
and pipe tables inside a paragraph), tables (cells formatted by
:func:`nets.document.fmt`, as in the Markdown; verdict cells coloured), figures, lists and
code.  Text is HTML-escaped; links other than http(s), mailto, anchors and relative paths
are shown as text.

>>> from nets.document import Report
>>> r = Report("A <title>")
>>> r.text("Verdict: **represented** (`concat`)")
>>> page = render_html(r)
>>> "<h1>A &lt;title&gt;</h1>" in page, "<strong>represented</strong> (<code>concat</code>)" in page
(True, True)
"""

from __future__ import annotations

import base64
import html
import mimetypes
import os
import re
from pathlib import Path

from bayes.interactive import embed_figure, html_page

from .document import RENDERERS, Report, fmt

__all__ = ["render_html"]

_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])")
_SAFE_URL = re.compile(r"^(https?:|mailto:|#|[^:]*$)", re.I)
_GOOD = ("reproduced", "represented", "consistent", "yes", "pass")
_BAD = ("not reproduced", "not represented", "not ", "inconsistent", "failed", "no")
_MID = ("partly", "partial", "mixed", "inconclusive")


class _Context:
    """Rendering state: the folder relative figure paths are looked up in, a figure counter."""

    def __init__(self, base: str | os.PathLike | None):
        self.base = None if base is None else Path(base)
        self.figures = 0

    def next_id(self) -> str:
        self.figures += 1
        return f"qb-fig-{self.figures}"

    def find(self, path: str) -> Path | None:
        p = Path(path)
        for cand in ([p] if p.is_absolute() else [p, *([self.base / p] if self.base is not None else [])]):
            if cand.is_file():
                return cand
        return None

    def relative(self, path: str) -> str:
        """``path`` relative to the report's folder (for links beside the page)."""
        if self.base is None:
            return path
        try:
            return os.path.relpath(path, self.base) if Path(path).is_absolute() or Path(path).exists() else path
        except ValueError:
            return path


def render_html(report: Report, base: str | os.PathLike | None = None) -> str:
    """The page of ``report``; relative figure paths are found from the working folder or
    ``base`` (the report's folder)."""
    ctx = _Context(base)
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    h2 = [b.data["text"] for b in report.blocks if b.kind == "heading" and b.data["level"] == 2]
    if len(h2) >= 3:
        body.append('<nav class="qb-toc">' + " · ".join(f'<a href="#{_slug(t)}">{html.escape(t)}</a>' for t in h2)
                    + "</nav>")
    for b in report.blocks:
        if b.kind not in _BLOCKS:
            raise ValueError(f"cannot render a report block of kind {b.kind!r}; known kinds: {', '.join(_BLOCKS)}")
        body.append(_BLOCKS[b.kind](b.data, ctx))
    body.append(f'<footer class="qb-footer">Written by qbelief{_version()}: one self-contained file (figures and '
                "viewer inlined, no network access). Drag 3-D panels to rotate; hover points for details.</footer>")
    return html_page(report.title, "\n".join(body), extra_css=_CSS)


# ---------------------------------------------------------------------- blocks
def _heading(d: dict, ctx: _Context) -> str:
    lv = min(max(int(d["level"]), 1), 6)
    return f'<h{lv} id="{_slug(d["text"])}">{_inline(d["text"], ctx)}</h{lv}>'


def _text(d: dict, ctx: _Context) -> str:
    out = []
    for para in re.split(r"\n\s*\n", d["text"].strip()):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if lines and all(ln.lstrip().startswith(("- ", "* ")) for ln in lines):
            out.append(_list({"items": [ln.lstrip()[2:] for ln in lines]}, ctx))
        elif len(lines) >= 2 and all(ln.lstrip().startswith("|") for ln in lines) and set(lines[1]) <= set("|-: "):
            cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
            out.append(_table({"header": cells[0], "rows": cells[2:], "caption": None}, ctx))
        elif lines:
            out.append(f"<p>{_inline(' '.join(ln.strip() for ln in lines), ctx)}</p>")
    return "\n".join(out)


def _table(d: dict, ctx: _Context) -> str:
    header = d["header"]
    verdict_cols = {j for j, h in enumerate(header) if str(h).strip().lower() in ("verdict", "status")}
    rows = []
    for r in d["rows"]:
        cells = []
        for j, v in enumerate(r):
            text = fmt(v)
            cls = [c for c in (_verdict_class(text) if j in verdict_cols else "",
                               "num" if _is_number(text) else "") if c]
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{_inline(text, ctx)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f'<p class="qb-caption-table">{_inline(d["caption"], ctx)}</p>' if d.get("caption") else ""
    head = "<tr>" + "".join(f"<th>{_inline(str(h), ctx)}</th>" for h in header) + "</tr>"
    return f"{cap}<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(d: dict, ctx: _Context) -> str:
    """The interactive spec when there is one (with a link to the static image beside the
    page), else the image file embedded."""
    cap = _inline(d.get("caption") or "", ctx)
    if d.get("interactive"):
        found = ctx.find(d["path"])
        if found is not None:
            cap += f' <a class="qb-static" href="{html.escape(ctx.relative(str(found)), quote=True)}">static image</a>'
        inner = embed_figure(d["interactive"], ctx.next_id())
    else:
        inner = _image(d["path"], d.get("caption") or "", ctx)
    return f"<figure>{inner}" + (f"<figcaption>{cap}</figcaption>" if cap else "") + "</figure>"


def _interactive(d: dict, ctx: _Context) -> str:
    cap = f"<figcaption>{_inline(d['caption'], ctx)}</figcaption>" if d.get("caption") else ""
    return f"<figure>{embed_figure(d['spec'], ctx.next_id())}{cap}</figure>"


def _list(d: dict, ctx: _Context) -> str:
    return "<ul>" + "".join(f"<li>{_inline(i, ctx)}</li>" for i in d["items"]) + "</ul>"


def _code(d: dict, ctx: _Context) -> str:
    lang = html.escape(str(d.get("language") or ""), quote=True)
    return f'<pre><code class="language-{lang}">{html.escape(d["text"])}</code></pre>'


_BLOCKS = {"heading": _heading, "text": _text, "table": _table, "figure": _figure, "interactive": _interactive,
           "list": _list, "code": _code}


# ---------------------------------------------------------------------- inline Markdown
def _inline(text: str, ctx: _Context) -> str:
    """Escaped HTML of one line of inline Markdown (code spans are left verbatim)."""
    out, pos = [], 0
    for m in _CODE.finditer(text):
        out += [_links(text[pos:m.start()], ctx), f"<code>{html.escape(m.group(1))}</code>"]
        pos = m.end()
    out.append(_links(text[pos:], ctx))
    return "".join(out)


def _links(text: str, ctx: _Context) -> str:
    out, pos = [], 0
    for m in _LINK.finditer(text):
        out.append(_emphasis(html.escape(text[pos:m.start()])))
        bang, label, url = m.groups()
        if bang:
            out.append(_image(url, label, ctx))
        elif _SAFE_URL.match(url):
            out.append(f'<a href="{html.escape(url, quote=True)}">{_emphasis(html.escape(label))}</a>')
        else:
            out.append(html.escape(m.group(0)))
        pos = m.end()
    out.append(_emphasis(html.escape(text[pos:])))
    return "".join(out)


def _emphasis(escaped: str) -> str:
    return _EM.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", escaped))


def _image(path: str, alt: str, ctx: _Context) -> str:
    """An ``<img>`` with the file embedded as a ``data:`` URI (or a visible note when the
    file is missing)."""
    found = ctx.find(path)
    if found is None:
        return f'<span class="qb-missing">[figure file not found: {html.escape(path)}]</span>'
    mime = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    data = base64.b64encode(found.read_bytes()).decode("ascii")
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(alt, quote=True)}">'


# ---------------------------------------------------------------------- helpers
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _is_number(text: str) -> bool:
    head = text.split(" [", 1)[0]
    try:
        float(head)
        return True
    except ValueError:
        return False


def _verdict_class(text: str) -> str:
    t = text.lower()
    if any(w in t for w in _MID):
        return "qb-verdict-mid"
    if any(t.startswith(w) or f" {w}" in t for w in _BAD):
        return "qb-verdict-bad"
    return "qb-verdict-good" if any(w in t for w in _GOOD) else ""


def _version() -> str:
    try:
        from importlib.metadata import version

        return " " + version("qbelief")
    except Exception:  # noqa: BLE001 -- a missing distribution only loses the version string
        return ""


_CSS = """.qb-toc { font-size: 0.92em; margin: -0.3em 0 1em; color: #555; }
.qb-footer { margin-top: 3em; font-size: 0.85em; color: #777; border-top: 1px solid #ddd; padding-top: 0.5em; }
.qb-static { font-size: 0.9em; margin-left: 0.5em; }
"""

RENDERERS["html"] = render_html
