"""Interactive figures: a JSON figure specification and a small viewer that draws it.

One figure is a plain JSON-able dict (the *spec*); ``bayes/assets/viewer.js`` (vanilla
JavaScript, no dependency, shipped in the package) draws it on ``<canvas>`` elements in a
browser: orthographic 3-D scatter plots that rotate when dragged (every 3-D panel of a
figure rotates with the others: *linked views*), hover showing the point's prefix,
probability and belief (the same point highlighted in every panel), 2-D line and bar
charts, and a slider over training steps.  The same spec is embedded in ``report.html``
(:mod:`nets.html_report`) and shown inline in Jupyter (:class:`InteractiveFigure`).
Nothing here imports torch or matplotlib.

Spec (schema version 1; every key not listed is an error)::

    figure = {"qbelief_figure": 1, "title": str, "caption": str,
              "steps": [int, ...],          # optional: training steps -> a slider
              "hover": {"title": str, "labels": [str] * N,          # optional, per point
                        "fields": [{"name": str, "values": [number or [number]] * N}]},
              "panels": [panel, ...]}
    scatter = {"type": "scatter", "title": str, "dims": 2 | 3, "axes": [str] * dims,
               "points": (N, dims) | "frames": (S, N, dims)   # one frame per step
               "colors": [0xRRGGBB] * N, "sizes": [radius px] * N,
               "guides": [[[x, y(, z)], ...], ...],             # polylines (data coords)
               "link": str}                                     # panels that rotate together
    lines = {"type": "lines", "title": str, "x_label": str, "y_label": str, "log_y": bool,
             "categories": [str],            # optional: x values index these labels
                                             # (category k spans [k - 0.5, k + 0.5])
             "step_marker": bool,            # a vertical line at the slider's step
             "y_range": [lo, hi] | None,
             "series": [{"name": str, "x": [number], "y": [number or null],
                         "y_frames": (S, len(x)) | None,       # y per step (slider)
                         "color": 0xRRGGBB, "mode": "lines" | "markers" | "lines+markers"
                                                    | "dashed" | "bars"}]}

Scatter panels of one figure share their rows: point ``i`` of every scatter panel is the
same input (so colours, hover text and highlighting line up), and panels with the same
``link`` share one view (centre, scale and rotation).

The viewer's projection is orthographic: a point ``p`` is drawn at the first two
coordinates of ``R (p - c) / r`` (y up), ``R`` the view's rotation (a drag of ``(dx, dy)``
pixels left-multiplies it by rotations of ``0.01 dx`` about the screen's y axis and
``0.01 dy`` about its x axis), ``c`` the centre of the panels' bounding box and ``r``
the 99.5th percentile of ``|p - c|`` (so a few stray points do not shrink the picture;
static points, or the last frame, and the guides); points are painted far to near
(a depth sort: ``O(N log N)`` per redraw).  Files grow by about 8 bytes per coordinate.

Examples
--------
>>> import numpy as np
>>> p = scatter_panel(np.eye(3), title="vertices", axes=["a", "b", "c"])
>>> spec = figure_spec([p], title="three points")
>>> spec["panels"][0]["dims"], len(spec["panels"][0]["points"])
(3, 3)
>>> InteractiveFigure(spec)
InteractiveFigure('three points': scatter)
"""

from __future__ import annotations

import html
import json
import math
import os
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from generators.errors import ArgumentError
from generators.validation import check_real_array

__all__ = ["SCHEMA", "scatter_panel", "lines_panel", "series", "figure_spec", "hover_table", "check_figure_spec",
           "InteractiveFigure", "position_colors", "rgb_ints", "word_labels", "sphere_guides", "simplex_guides",
           "viewer_assets", "embed_figure", "html_page", "PALETTE"]

SCHEMA = 1
_MODES = ("lines", "markers", "lines+markers", "dashed", "bars")
#: the series colours (matplotlib's tab10), as 0xRRGGBB
PALETTE = (0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF)
_SYMBOLS = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


# ---------------------------------------------------------------------- builders
def scatter_panel(points: Any = None, *, frames: Any = None, title: str = "", axes: Sequence[str] | None = None,
                  colors: Any = None, sizes: Any = None, guides: Sequence[Any] = (), link: str = "view",
                  digits: int = 5) -> dict:
    """A scatter panel: ``points`` (N, 2 or 3), or ``frames`` (S, N, 2 or 3), one per step.

    ``colors``: (N,) 0xRRGGBB integers or (N, 3) RGB in [0, 1]; ``sizes``: (N,) radii in
    CSS pixels; ``guides``: polylines drawn under the points (e.g. :func:`sphere_guides`).
    Coordinates are rounded to ``digits`` significant digits of the largest one (file
    size: 1e-4 of the picture's extent is far below a pixel); the spec is checked by
    :func:`figure_spec`.
    """
    if (points is None) == (frames is None):
        raise ArgumentError("give the scatter panel points (N, dims) or frames (steps, N, dims), not both or neither")
    data = check_real_array(points if frames is None else frames, "points" if frames is None else "frames",
                            ndim=2 if frames is None else 3)
    if data.shape[-1] not in (2, 3):
        raise ArgumentError(f"scatter points must have 2 or 3 coordinates; got shape {data.shape}")
    dims = int(data.shape[-1])
    panel: dict[str, Any] = {"type": "scatter", "title": str(title), "dims": dims,
                             "axes": list(axes) if axes is not None else [f"axis {i + 1}" for i in range(dims)],
                             ("points" if frames is None else "frames"): _rounded(data, digits), "link": str(link)}
    n = data.shape[-2]
    if colors is not None:
        c = np.asarray(colors)
        panel["colors"] = (rgb_ints(c) if c.ndim == 2 else c.reshape(-1).astype(np.int64)).tolist()
    if sizes is not None:
        panel["sizes"] = _rounded(check_real_array(sizes, "sizes", shape=(n,)), 3)
    if len(guides):
        panel["guides"] = [_rounded(check_real_array(g, f"guides[{i}]", ndim=2), 5) for i, g in enumerate(guides)]
    return panel


def series(name: str, x: Any, y: Any, *, color: int | None = None, mode: str = "lines+markers",
           y_frames: Any = None) -> dict:
    """One series of a :func:`lines_panel`; NaN in ``y`` (or ``y_frames`` (S, len(x))) is a gap."""
    xs = check_real_array(x, "x", ndim=1)
    ys = check_real_array(y, "y", ndim=1, finite=False)
    out = {"name": str(name), "x": _rounded(xs, 7), "y": _nullable(ys), "mode": mode}
    if color is not None:
        out["color"] = color
    if y_frames is not None:
        out["y_frames"] = _nullable(check_real_array(y_frames, "y_frames", ndim=2, finite=False))
    return out


def lines_panel(series_list: Sequence[dict], *, title: str = "", x_label: str = "", y_label: str = "",
                log_y: bool = False, categories: Sequence[str] | None = None, step_marker: bool = False,
                y_range: Sequence[float] | None = None) -> dict:
    """A 2-D chart of :func:`series` (colours from :data:`PALETTE` when not given)."""
    out = []
    for k, s in enumerate(series_list):
        s = dict(s)
        s.setdefault("color", PALETTE[k % len(PALETTE)])
        out.append(s)
    panel = {"type": "lines", "title": str(title), "x_label": str(x_label), "y_label": str(y_label),
             "log_y": log_y, "step_marker": step_marker, "series": out,
             "y_range": None if y_range is None else [float(v) for v in y_range]}
    if categories is not None:
        panel["categories"] = [str(c) for c in categories]
    return panel


def hover_table(labels: Sequence[str] | None = None, *, title: str = "prefix", **fields: Any) -> dict:
    """Per-point hover text: a label (e.g. the prefix) and named values (numbers or vectors,
    to 4 significant digits), e.g. ``hover_table(words, Pr=probs, belief=beliefs)``."""
    out: dict[str, Any] = {"title": str(title), "fields": []}
    if labels is not None:
        out["labels"] = [str(v) for v in labels]
    for name, v in fields.items():
        a = check_real_array(v, name)
        if a.ndim not in (1, 2):
            raise ArgumentError(f"hover field {name} must be (N,) or (N, k); got shape {a.shape}")
        out["fields"].append({"name": name, "values": _significant(a, 4).tolist()})
    return out


def figure_spec(panels: Sequence[dict], *, title: str = "", caption: str = "", steps: Sequence[int] | None = None,
                hover: dict | None = None) -> dict:
    """The figure: panels drawn side by side, a slider when ``steps`` are given.  Checked
    with :func:`check_figure_spec` (returns the spec)."""
    spec: dict[str, Any] = {"qbelief_figure": SCHEMA, "title": str(title), "caption": str(caption),
                            "panels": list(panels)}
    if steps is not None:
        spec["steps"] = [int(s) for s in steps]
    if hover is not None:
        spec["hover"] = hover
    return check_figure_spec(spec)


# ---------------------------------------------------------------------- colours, labels, guides
def position_colors(coords: Any) -> np.ndarray:
    """RGB in [0, 1] (N, 3) from positions (N, k): the first three coordinates that vary
    (range above 1e-6 of the largest range), each min-max scaled to [0, 1]; with fewer
    than 3 the blue channel is ``1 - (r + g) / 2`` (so a planar set still uses three hues).

    >>> position_colors([[0.0, 0.0, 5.0], [1.0, 2.0, 5.0]]).tolist()
    [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """
    c = check_real_array(coords, "coords", ndim=2)
    if c.shape[0] == 0:
        return np.zeros((0, 3))
    span = c.max(axis=0) - c.min(axis=0)
    c = c[:, span > 1e-6 * max(float(span.max()), 1e-300)][:, :3]
    lo, hi = c.min(axis=0), c.max(axis=0)
    out = np.clip((c - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    if out.shape[1] < 3:
        out = np.column_stack([out, np.zeros((out.shape[0], 3 - out.shape[1]))])
        out[:, 2] = 1.0 - 0.5 * (out[:, 0] + out[:, 1])
    return out


def rgb_ints(rgb: Any) -> np.ndarray:
    """0xRRGGBB integers (N,) from RGB rows (N, 3) in [0, 1]."""
    c = check_real_array(rgb, "rgb", ndim=2)
    if c.shape[1] != 3 or c.size and (c.min() < 0 or c.max() > 1):
        raise ArgumentError(f"rgb must be (N, 3) with entries in [0, 1]; got shape {c.shape}")
    b = np.rint(c * 255).astype(np.int64)
    return (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]


def word_labels(words: Any, empty: str = "ε") -> list[str]:
    """Strings of ``-1``-padded words (N, L): one character per symbol (``0-9a-zA-Z``,
    up to 62 symbols; larger alphabets space-separated), ``empty`` for the empty word.

    >>> word_labels([[0, 1, -1], [-1, -1, -1], [3, 2, 1]])
    ['01', 'ε', '321']
    """
    w = np.asarray(words)
    if w.ndim != 2 or not np.issubdtype(w.dtype, np.integer):
        raise ArgumentError(f"words must be an integer array (N, L) padded with -1; got {w.dtype} {w.shape}")
    if w.shape[1] == 0:
        return [empty] * w.shape[0]
    if w.max(initial=-1) >= _SYMBOLS.size:  # rare: a large alphabet (a loop over rows is acceptable here)
        return [" ".join(str(int(s)) for s in r[r >= 0]) or empty for r in w]
    chars = np.where(w >= 0, _SYMBOLS[np.clip(w, 0, None)], 0).astype(np.uint8)
    out = np.ascontiguousarray(chars).view(f"S{w.shape[1]}").reshape(-1).astype(str)  # trailing NULs dropped
    out[out == ""] = empty
    return out.tolist()


def sphere_guides(n: int = 96) -> list[np.ndarray]:
    """The unit sphere's three great circles (xy, xz, yz planes) and the three axes."""
    t = np.linspace(0, 2 * np.pi, n + 1)
    c, s, z = np.cos(t), np.sin(t), np.zeros_like(t)
    axes = [np.array([-e, e]) for e in np.eye(3)]
    return [np.column_stack(v) for v in ((c, s, z), (c, z, s), (z, c, s))] + axes


def simplex_guides(vertices: Any) -> list[np.ndarray]:
    """Edges between every pair of vertices (k, d): a triangle or a tetrahedron."""
    v = check_real_array(vertices, "vertices", ndim=2)
    i, j = np.triu_indices(v.shape[0], 1)
    return [np.stack([v[a], v[b]]) for a, b in zip(i, j)]


# ---------------------------------------------------------------------- checking
def check_figure_spec(spec: Any) -> dict:
    """Check a figure spec against the schema in the module docstring; returns it.

    Raises :class:`~generators.errors.ArgumentError` naming the offending key (e.g.
    ``panels[1].series[0].y``) and what would be valid.
    """
    _check_keys(spec, "figure", {"qbelief_figure", "title", "caption", "panels"}, {"steps", "hover"})
    if spec["qbelief_figure"] != SCHEMA:
        raise ArgumentError(f"figure.qbelief_figure must be {SCHEMA} (the schema version); "
                            f"got {spec['qbelief_figure']!r}")
    for k in ("title", "caption"):
        _str(spec[k], f"figure.{k}")
    steps = spec.get("steps")
    if steps is not None:
        if (not isinstance(steps, list) or not steps
                or any(isinstance(s, bool) or not isinstance(s, int) for s in steps)):
            raise ArgumentError(f"figure.steps must be a nonempty list of integers; got {steps!r:.80}")
        if any(b < a for a, b in zip(steps, steps[1:])):
            raise ArgumentError(f"figure.steps must be nondecreasing; got {steps!r:.80}")
    n_steps = len(steps) if steps else None
    if not isinstance(spec["panels"], list) or not spec["panels"]:
        raise ArgumentError("figure.panels must be a nonempty list of panels")
    n_rows = set()
    for i, p in enumerate(spec["panels"]):
        where = f"panels[{i}]"
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "scatter":
            n_rows.add(_check_scatter(p, where, n_steps))
        elif kind == "lines":
            _check_lines(p, where, n_steps)
        else:
            raise ArgumentError(f"{where}.type must be 'scatter' or 'lines'; got {kind!r}")
    if len(n_rows) > 1:
        raise ArgumentError(f"the scatter panels have different numbers of points {sorted(n_rows)}; the panels of "
                            "one figure share their rows (point i is the same input in every panel)")
    if "hover" in spec:
        _check_hover(spec["hover"], n_rows.pop() if n_rows else None)
    return spec


def _check_scatter(p: dict, where: str, n_steps: int | None) -> int:
    _check_keys(p, where, {"type", "title", "dims", "axes"}, {"points", "frames", "colors", "sizes", "guides", "link"})
    dims = p["dims"]
    if dims not in (2, 3) or isinstance(dims, bool):
        raise ArgumentError(f"{where}.dims must be 2 or 3; got {dims!r}")
    if not isinstance(p["axes"], list) or len(p["axes"]) != dims:
        raise ArgumentError(f"{where}.axes must be a list of {dims} labels; got {p['axes']!r:.80}")
    if ("points" in p) == ("frames" in p):
        raise ArgumentError(f"{where} needs 'points' or 'frames' (one of them)")
    if "frames" in p:
        if n_steps is None:
            raise ArgumentError(f"{where}.frames needs figure.steps (one frame per step)")
        a = check_real_array(p["frames"], f"{where}.frames", ndim=3)
        if a.shape[0] != n_steps:
            raise ArgumentError(f"{where}.frames has {a.shape[0]} frames; figure.steps has {n_steps}")
    else:
        a = check_real_array(p["points"], f"{where}.points", ndim=2)
    if a.shape[-1] != dims:
        raise ArgumentError(f"{where}: points have {a.shape[-1]} coordinates; dims is {dims}")
    n = int(a.shape[-2])
    if "colors" in p:
        c = p["colors"]
        if (not isinstance(c, list) or len(c) != n
                or any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFF for v in c)):
            raise ArgumentError(f"{where}.colors must be {n} integers 0xRRGGBB (0..16777215)")
    if "sizes" in p:
        s = check_real_array(p["sizes"], f"{where}.sizes", shape=(n,))
        if s.size and s.min() <= 0:
            raise ArgumentError(f"{where}.sizes must be positive radii in pixels; got minimum {s.min():g}")
    for j, g in enumerate(p.get("guides", [])):
        check_real_array(g, f"{where}.guides[{j}]", shape=(None, dims))
    _str(p["title"], f"{where}.title")
    _str(p.get("link", ""), f"{where}.link")
    return n


def _check_lines(p: dict, where: str, n_steps: int | None) -> None:
    _check_keys(p, where, {"type", "title", "x_label", "y_label", "series"},
                {"log_y", "categories", "step_marker", "y_range"})
    for k in ("log_y", "step_marker"):
        if not isinstance(p.get(k, False), bool):
            raise ArgumentError(f"{where}.{k} must be true or false; got {p[k]!r}")
    if p.get("y_range") is not None:
        r = check_real_array(p["y_range"], f"{where}.y_range", shape=(2,))
        if not r[0] < r[1] or (p.get("log_y") and r[0] <= 0):
            raise ArgumentError(f"{where}.y_range must be [lo, hi] with lo < hi (lo > 0 on a log axis); "
                                f"got {r.tolist()}")
    cats = p.get("categories")
    if cats is not None and (not isinstance(cats, list) or not all(isinstance(c, str) for c in cats)):
        raise ArgumentError(f"{where}.categories must be a list of strings")
    if not isinstance(p["series"], list) or not p["series"]:
        raise ArgumentError(f"{where}.series must be a nonempty list")
    for j, s in enumerate(p["series"]):
        sw = f"{where}.series[{j}]"
        _check_keys(s, sw, {"name", "x", "y", "mode"}, {"color", "y_frames"})
        if s["mode"] not in _MODES:
            raise ArgumentError(f"{sw}.mode must be one of {', '.join(_MODES)}; got {s['mode']!r}")
        x = check_real_array(s["x"], f"{sw}.x", ndim=1)
        check_real_array(_nan(s["y"]), f"{sw}.y", shape=(x.size,), finite=False)
        if cats is not None and x.size and (x.min() < -0.5 or x.max() > len(cats) - 0.5):
            raise ArgumentError(f"{sw}.x indexes {where}.categories: values must lie in [-0.5, {len(cats) - 0.5}]")
        if "y_frames" in s:
            if n_steps is None:
                raise ArgumentError(f"{sw}.y_frames needs figure.steps (one row per step)")
            check_real_array(_nan(s["y_frames"]), f"{sw}.y_frames", shape=(n_steps, x.size), finite=False)
        c = s.get("color", 0)
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 0xFFFFFF:
            raise ArgumentError(f"{sw}.color must be an integer 0xRRGGBB; got {c!r}")
        _str(s["name"], f"{sw}.name")


def _check_hover(h: Any, n: int | None) -> None:
    _check_keys(h, "figure.hover", {"title", "fields"}, {"labels"})
    if n is None:
        raise ArgumentError("figure.hover describes points, but the figure has no scatter panel")
    if "labels" in h and (not isinstance(h["labels"], list) or len(h["labels"]) != n):
        raise ArgumentError(f"figure.hover.labels must be a list of {n} strings (one per point)")
    for j, f in enumerate(h["fields"]):
        _check_keys(f, f"figure.hover.fields[{j}]", {"name", "values"}, set())
        a = check_real_array(f["values"], f"figure.hover.fields[{j}].values")
        if a.ndim not in (1, 2) or a.shape[0] != n:
            raise ArgumentError(f"figure.hover.fields[{j}].values must have {n} rows; got shape {a.shape}")


def _check_keys(d: Any, where: str, required: set, optional: set) -> None:
    if not isinstance(d, Mapping):
        raise ArgumentError(f"{where} must be a dict; got {type(d).__name__}")
    missing, unknown = required - set(d), set(d) - required - optional
    if missing:
        raise ArgumentError(f"{where} lacks {', '.join(sorted(missing))}")
    if unknown:
        raise ArgumentError(f"{where} has unknown keys {', '.join(sorted(map(str, unknown)))}; valid keys: "
                            f"{', '.join(sorted(required | optional))}")


def _str(v: Any, where: str) -> None:
    if not isinstance(v, str):
        raise ArgumentError(f"{where} must be a string; got {v!r:.60}")


def _nan(v: Any) -> Any:
    """JSON ``null`` back to NaN in (nested) lists of numbers."""
    return np.array(v, dtype=float) if isinstance(v, list) else v


def _rounded(a: np.ndarray, digits: int) -> list:
    """``a`` as nested lists, rounded to ``digits`` significant digits of its largest entry."""
    top = float(np.abs(a).max()) if a.size else 0.0
    decimals = digits - 1 - (math.floor(math.log10(top)) if top > 0 else 0)
    return np.round(a, max(decimals, 0)).tolist()


def _significant(a: Any, digits: int) -> np.ndarray:
    """Each entry rounded to ``digits`` significant digits (NaN and infinities kept); one
    :func:`numpy.round` per distinct decimal exponent, not per entry."""
    a = np.asarray(a, dtype=float)
    out = a.copy()
    ok = np.isfinite(a) & (a != 0)
    e = np.zeros(a.shape, dtype=np.int64)
    e[ok] = np.floor(np.log10(np.abs(a[ok])))
    for k in np.unique(e[ok]):
        sel = ok & (e == k)
        out[sel] = np.round(a[sel], int(digits - 1 - k))
    return out


def _nullable(a: np.ndarray) -> list:
    """Nested lists of ``a`` to 6 significant digits, NaN and infinities as ``None``."""
    r = _significant(a, 6)
    return np.where(np.isfinite(r), r, None).tolist() if not np.isfinite(r).all() else r.tolist()


# ---------------------------------------------------------------------- HTML
@lru_cache(maxsize=1)
def viewer_assets() -> tuple[str, str]:
    """``(javascript, css)`` of the viewer, read from the package's ``assets`` folder."""
    from importlib import resources

    base = resources.files("bayes") / "assets"
    return (base / "viewer.js").read_text(encoding="utf-8"), (base / "viewer.css").read_text(encoding="utf-8")


def embed_figure(spec: dict, element_id: str) -> str:
    """HTML of one figure: its container ``<div>`` and its spec as an inert JSON
    ``<script>`` (``<``, ``>`` and ``&`` written as JSON ``\\u`` escapes, which occur only
    inside strings: no spec text can close the element or start markup)."""
    data = (json.dumps(spec, separators=(",", ":"), allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    eid = html.escape(element_id, quote=True)
    return (f'<div class="qb-figure" id="{eid}"></div>\n'
            f'<script type="application/json" data-qb-figure="{eid}">{data}</script>')


def html_page(title: str, body: str, *, extra_css: str = "") -> str:
    """A complete, self-contained HTML document: ``body`` plus the viewer (inlined)."""
    js, css = viewer_assets()
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{css}\n{extra_css}</style>\n</head>\n<body>\n"
            f"{body}\n<script>\n{js}\n</script>\n</body>\n</html>\n")


class InteractiveFigure:
    """A figure spec that shows itself: inline in Jupyter (``_repr_html_``: an ``<iframe>``
    whose ``srcdoc`` is the whole page, so the viewer runs isolated and offline), or as
    a standalone page (:meth:`to_html`, :meth:`save`)."""

    def __init__(self, spec: dict, *, height: int | None = None):
        self.spec = check_figure_spec(spec)
        n = len(spec["panels"])
        rows = math.ceil(n / 3)  # panels side by side, about three to a row
        self.height = int(height) if height is not None else 120 + 430 * rows + (60 if "steps" in spec else 0)

    def to_html(self) -> str:
        """The standalone page (viewer inlined, no network access needed)."""
        return html_page(self.spec["title"] or "qbelief figure", embed_figure(self.spec, "qb-fig-0"))

    def save(self, path: str | os.PathLike) -> str:
        """Write :meth:`to_html` to ``path`` (ending in .html) atomically; returns the path."""
        from generators.fileio import write_text

        p = os.fspath(path)
        if not p.lower().endswith((".html", ".htm")):
            raise ArgumentError(f"an interactive figure is saved as HTML; the path must end in .html, got {p!r}")
        write_text(p, self.to_html())
        return p

    def _repr_html_(self) -> str:
        doc = html.escape(self.to_html(), quote=True)
        return (f'<iframe srcdoc="{doc}" style="width:100%;height:{self.height}px;border:0" '
                f'title="{html.escape(self.spec["title"], quote=True)}"></iframe>')

    def __repr__(self) -> str:
        kinds = ", ".join(p["type"] for p in self.spec["panels"])
        return f"InteractiveFigure({self.spec['title']!r}: {kinds}" + (
            f"; {len(self.spec['steps'])} steps)" if "steps" in self.spec else ")")
