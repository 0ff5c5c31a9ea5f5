"""Pictures of belief manifolds (PNG).

matplotlib and qutip are imported inside the functions, so ``import bayes`` stays light.
Figures are drawn on :class:`matplotlib.figure.Figure` objects with their own Agg canvas
(``FigureCanvasAgg``): the global backend is never switched and pyplot's state is never
touched, so notebooks keep their interactive backend.

:func:`plot_beliefs` chooses the natural picture from the generator:

- ``"simplex"`` -- a 3-state HMM: the beliefs in the probability triangle, each point
  coloured by its own position (RGB = the three probabilities) -- the Mess3 fractal;
- ``"bloch"`` -- a qubit generator: Bloch vectors on the Bloch disk (the great circle
  containing them, e.g. the x-z plane for the Bloch walk) or, when they span 3-D, on
  qutip's Bloch sphere (``"bloch-sphere"`` forces it);
- ``"projection"`` -- anything else: the affine projection onto the plane orthogonal to
  ``tau`` (:func:`bayes.geometry.affine_projection`; principal components when more
  than 2 dimensions remain), coloured by the depth at which each belief first appears;
  a 2-dimensional GHMM gives a line segment, a 1-dimensional one (a one-state HMM, a
  ``d = 1`` quantum generator: every belief is the same point) a single point.

Point area grows with the belief's probability (:attr:`BeliefManifold.probs`).
"""

from __future__ import annotations

import os

import numpy as np

from generators import Generator
from generators.errors import ArgumentError, NotAGeneratorError
from generators.fileio import atomic_path
from generators.validation import check_choice, check_int, check_real

from .geometry import affine_projection, barycentric_coordinates, bloch_vectors
from .manifold import BeliefManifold, mixed_state_presentation

__all__ = ["plot_beliefs", "choose_style"]

_STYLES = ("auto", "simplex", "bloch", "bloch-sphere", "projection")


def plot_beliefs(manifold: BeliefManifold | Generator, path: str | os.PathLike | None = None, *, style: str = "auto",
                 title: str | None = None, depth: int = 8, size_by_prob: bool = True,
                 figsize: tuple[float, float] = (6.0, 6.0), dpi: int = 120, interactive: bool = False,
                 max_points: int = 6000):
    """Write a PNG picture of the beliefs of ``manifold`` to ``path``; returns the path.

    With ``interactive=True`` returns a :class:`bayes.interactive.InteractiveFigure`
    instead (shown inline in Jupyter; ``path``, if given, must end in ``.html`` and the
    standalone page is written there): 3-D beliefs (the Bloch ball, a 4-state simplex,
    a GHMM's 3 principal axes orthogonal to ``tau``) rotate when dragged, and hovering a
    point shows its shortest prefix, its probability and its belief.  Points are coloured
    by position; the ``max_points`` most probable beliefs are drawn.

    Parameters
    ----------
    manifold : BeliefManifold or Generator
        A generator is enumerated to ``depth`` first.
    path : str or PathLike
        Output PNG (written atomically: a temporary file renamed into place).
    style : {"auto", "simplex", "bloch", "bloch-sphere", "projection"}
        See the module docstring; ``"auto"`` picks from the generator.
    title : str, optional
        Default: the generator's name, the number of beliefs and the depth.
    size_by_prob : bool
        Point area proportional to ``sqrt(probability)`` (else constant).
    figsize, dpi : figure size in inches and resolution; the PNG is
        ``figsize * dpi`` pixels (e.g. 720 x 720).
    interactive : bool
        Return an interactive figure (see above) instead of writing a PNG.
    max_points : int
        Interactive figures only: draw at most this many beliefs (the most probable).
    """
    if not isinstance(manifold, (BeliefManifold, Generator)):
        raise NotAGeneratorError(f"plot_beliefs needs a BeliefManifold or a Generator; got {type(manifold).__name__}"
                                 + ("; build a generator from a spec with generators.io.resolve"
                                    if isinstance(manifold, str) else ""))
    try:
        style = check_choice(style, "style", _STYLES)
    except ArgumentError as e:
        raise ArgumentError(str(e).replace("style must be", "unknown style; style must be", 1)) from None
    if not isinstance(interactive, (bool, np.bool_)):
        raise ArgumentError(f"interactive must be True or False; got {interactive!r}")
    path = _html_path(path) if interactive else _png_path(path)
    if title is not None and not isinstance(title, str):
        raise ArgumentError(f"title must be a string or None; got {title!r}")
    if not isinstance(size_by_prob, (bool, np.bool_)):
        raise ArgumentError(f"size_by_prob must be True or False; got {size_by_prob!r}")
    figsize = _figsize(figsize)
    dpi = check_int(dpi, "dpi", minimum=1, maximum=2000)
    if isinstance(manifold, Generator):
        manifold = mixed_state_presentation(manifold, check_int(depth, "depth", minimum=0))
    style = choose_style(manifold) if style == "auto" else style
    m = manifold
    g = m.generator
    if title is None:
        title = f"{g.name or type(g).__name__}: {m.n_beliefs:,} beliefs, depth {m.max_depth}"
    if interactive:
        return _interactive_figure(m, style, title, size_by_prob, check_int(max_points, "max_points", minimum=1),
                                   path)
    p = m.probs
    order = np.argsort(p, kind="stable")  # small points first, large ones on top
    sizes = _sizes(p, m.n_beliefs) if size_by_prob else np.full(m.n_beliefs, 4.0)
    if style == "bloch-sphere":
        return _bloch_sphere(m, path, title, order, figsize, dpi)

    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    if style == "simplex":
        _draw_simplex(ax, m, order, sizes)
    elif style == "bloch":
        _draw_bloch_disk(ax, m, order, sizes)
    else:
        _draw_projection(fig, ax, m, order, sizes)
    ax.set_title(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path


def choose_style(m: BeliefManifold) -> str:
    """The picture ``"auto"`` draws: simplex (3-state classical), bloch (qubit), projection."""
    g = m.generator
    if g.kind == "classical" and m.dim == 3 and np.allclose(g.to_ghmm().tau, 1.0):
        return "simplex"
    if g.kind == "quantum" and getattr(g, "dim", None) == 2 and m.dim == 4:
        return "bloch"
    return "projection"


# ---------------------------------------------------------------------- drawing helpers
def _figure(figsize: tuple[float, float], dpi: int):
    """A Figure with its own Agg canvas: no global backend switch, no pyplot state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _html_path(path) -> str | None:
    if path is None:
        return None
    try:
        path = os.fspath(path)
    except TypeError:
        raise ArgumentError(f"path must be None or a str or os.PathLike ending in .html; "
                            f"got {type(path).__name__}") from None
    if not isinstance(path, str) or not path.lower().endswith((".html", ".htm")):
        raise ArgumentError(f"an interactive figure is saved as HTML; the path must end in .html, got {path!r}")
    return path


def _interactive_figure(m: BeliefManifold, style: str, title: str, size_by_prob: bool, max_points: int,
                        path: str | None):
    """The :class:`~bayes.interactive.InteractiveFigure` of ``interactive=True`` (saved to ``path``)."""
    from .interactive import InteractiveFigure

    fig = InteractiveFigure(_interactive_spec(m, style, title, size_by_prob, max_points))
    if path is not None:
        fig.save(path)
    return fig


def _interactive_spec(m: BeliefManifold, style: str, title: str, size_by_prob: bool, max_points: int) -> dict:
    """The figure spec of :func:`plot_beliefs` ``interactive=True`` (one scatter panel)."""
    from . import interactive as ia

    g = m.generator
    p = m.probs
    keep = np.sort(np.argsort(-p, kind="stable")[:max_points])
    keep = keep[np.argsort(p[keep], kind="stable")]  # small points first, large ones on top
    guides: list = []
    if style == "simplex" or _is_tetrahedron(m):
        xyz = barycentric_coordinates(np.clip(m.beliefs[keep], 0.0, 1.0))
        guides = ia.simplex_guides(barycentric_coordinates(np.eye(m.dim)))
        axes = ["x", "y", "z"][:xyz.shape[1]]
        b = np.clip(m.beliefs[keep], 0.0, 1.0)
        colors = (b / np.maximum(b.max(axis=1, keepdims=True), 1e-12) if m.dim == 3  # RGB by position, as the PNG
                  else ia.position_colors(xyz))
        what = "the probability simplex"
    elif style in ("bloch", "bloch-sphere"):
        r = bloch_vectors(m.native(keep))
        order = np.argsort(-np.abs(r).max(axis=0), kind="stable")  # the flattest Bloch axis last
        xyz, axes = r[:, order], [f"Bloch {'xyz'[k]}" for k in order]
        guides = [gd[:, order] for gd in ia.sphere_guides()]
        colors, what = ia.position_colors(xyz), "the Bloch ball"
    else:
        xyz, what = _projection_coordinates(m, keep)
        axes = [f"coordinate {k + 1}" for k in range(xyz.shape[1])]
        colors = ia.position_colors(xyz)
    top = p[keep].max() if keep.size and p[keep].max() > 0 else 1.0
    sizes = (1.0 + 4.0 * np.sqrt(p[keep] / top)) if size_by_prob else np.full(keep.size, 2.2)
    if keep.size > 2000 and size_by_prob:
        sizes = 0.7 + 2.8 * np.sqrt(p[keep] / top)
    panel = ia.scatter_panel(xyz, title=f"beliefs in {what}", axes=axes, colors=colors, sizes=sizes, guides=guides)
    hover = ia.hover_table(ia.word_labels(m.words(keep)), Pr=p[keep], belief=m.beliefs[keep])
    shown = f"the {keep.size:,} most probable of {m.n_beliefs:,} beliefs" if keep.size < m.n_beliefs else \
        f"all {m.n_beliefs:,} beliefs"
    return ia.figure_spec([panel], title=title, hover=hover,
                          caption=f"{g.name or type(g).__name__}: {shown} to depth {m.max_depth}; point size grows "
                                  "with the belief's probability, colour with its position.")


def _is_tetrahedron(m: BeliefManifold) -> bool:
    g = m.generator
    return g.kind == "classical" and m.dim == 4 and bool(np.allclose(g.to_ghmm().tau, 1.0))


def _projection_coordinates(m: BeliefManifold, keep: np.ndarray) -> tuple[np.ndarray, str]:
    """Up to 3 coordinates of the beliefs orthogonal to ``tau`` (exact when the GHMM has
    dimension <= 4, else its top 3 principal axes); at least 2 columns (zero-padded)."""
    h = m.generator.to_ghmm()
    if h.dim == 1:
        return np.zeros((keep.size, 2)), "a 1-dimensional belief space (one point)"
    proj = affine_projection(m.beliefs, h.tau, dim=3, weights=m.probs)
    xyz = proj(m.beliefs[keep])
    if xyz.shape[1] < 2:
        xyz = np.column_stack([xyz, np.zeros(keep.size)])
    how = "the hyperplane orthogonal to tau" if proj.exact else (
        f"its top-3 principal axes orthogonal to tau ({100 * proj.explained_variance_ratio.sum():.0f}% variance)")
    return xyz, how


def _png_path(path) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise ArgumentError(f"path must be a str or os.PathLike ending in .png; got {type(path).__name__}") from None
    if not isinstance(path, str) or not path.lower().endswith(".png"):
        raise ArgumentError(f"plot_beliefs writes PNG files; the path must end in .png, got {path!r}")
    return path


def _figsize(figsize) -> tuple[float, float]:
    if isinstance(figsize, (str, bytes)) or not hasattr(figsize, "__len__") or len(figsize) != 2:
        raise ArgumentError(f"figsize must be (width, height) in inches; got {figsize!r}")
    return tuple(check_real(v, f"figsize[{i}]", minimum=0.0, maximum=100.0, min_open=True)
                 for i, v in enumerate(figsize))


def _sizes(p: np.ndarray, N: int) -> np.ndarray:
    top = p.max() if p.size and p.max() > 0 else 1.0
    base, least = (60.0, 6.0) if N < 200 else ((25.0, 2.0) if N < 5000 else (10.0, 0.6))
    return least + base * np.sqrt(p / top)


def _draw_simplex(ax, m: BeliefManifold, order: np.ndarray, sizes: np.ndarray) -> None:
    b = np.clip(m.beliefs, 0.0, 1.0)
    xy = barycentric_coordinates(b)
    tri = barycentric_coordinates(np.eye(3))
    ax.fill(tri[:, 0], tri[:, 1], facecolor="0.97", edgecolor="0.2", linewidth=1.0, zorder=0)
    colors = b / np.maximum(b.max(axis=1, keepdims=True), 1e-12)  # saturated RGB by position
    ax.scatter(xy[order, 0], xy[order, 1], s=sizes[order], c=colors[order], linewidths=0, zorder=2)
    for i, (x, y) in enumerate(tri):
        ax.annotate(f"state {i}", (x, y), textcoords="offset points",
                    xytext=(0, -14 if y == 0 else 6), ha="center", fontsize=9)
    ax.set_xlim(-0.08, 1.08)
    ax.set_ylim(-0.1, np.sqrt(3) / 2 + 0.08)
    ax.set_aspect("equal")
    ax.axis("off")


def _bloch_plane(r: np.ndarray) -> tuple[int, int, str, str]:
    """The coordinate plane containing the Bloch vectors best (smallest spread off it)."""
    names = "xyz"
    spread = np.abs(r).max(axis=0) if r.size else np.zeros(3)
    off = int(np.argmin(spread))
    i, j = [k for k in range(3) if k != off]
    return i, j, names[i], names[j]


def _draw_bloch_disk(ax, m: BeliefManifold, order: np.ndarray, sizes: np.ndarray) -> None:
    r = bloch_vectors(m.native())
    i, j, ni, nj = _bloch_plane(r)
    t = np.linspace(0, 2 * np.pi, 400)
    ax.fill(np.cos(t), np.sin(t), facecolor="0.96", edgecolor="0.2", linewidth=1.0, zorder=0)
    ax.plot([-1, 1], [0, 0], color="0.75", lw=0.6, zorder=1)
    ax.plot([0, 0], [-1, 1], color="0.75", lw=0.6, zorder=1)
    sc = ax.scatter(r[order, i], r[order, j], s=sizes[order], c=m.depth[order], cmap="viridis",
                    linewidths=0, zorder=2)
    cb = ax.figure.colorbar(sc, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label("depth first reached")
    ax.set_xlabel(f"Bloch {ni}")
    ax.set_ylabel(f"Bloch {nj}")
    for lab, pos in ((f"+{nj}", (0, 1.04)), (f"-{nj}", (0, -1.1)), (f"+{ni}", (1.04, 0)), (f"-{ni}", (-1.14, 0))):
        ax.annotate(lab, pos, fontsize=8, color="0.4")
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.2, 1.2)
    ax.set_aspect("equal")


def _draw_projection(fig, ax, m: BeliefManifold, order: np.ndarray, sizes: np.ndarray) -> None:
    h = m.generator.to_ghmm()
    if h.dim == 1:  # one-dimensional: eta = 1 / tau for every belief, a single point
        ax.scatter([0.0], [0.0], s=[sizes.max(initial=6.0)], c="C0", linewidths=0)
        ax.annotate("a 1-dimensional belief space: every belief is this one point", (0, 0),
                    textcoords="offset points", xytext=(0, 12), ha="center", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    proj = affine_projection(m.beliefs, h.tau, dim=2, weights=None)
    xy = proj(m.beliefs)
    if xy.shape[1] == 1:  # a 2-dimensional GHMM: its beliefs lie on a line segment
        xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])
        ax.set_yticks([])
    sc = ax.scatter(xy[order, 0], xy[order, 1], s=sizes[order], c=m.depth[order], cmap="viridis",
                    linewidths=0)
    cb = fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.04)
    cb.set_label("depth first reached")
    how = "orthogonal to tau" if proj.exact else (
        f"top-2 principal components orthogonal to tau ({100 * proj.explained_variance_ratio.sum():.0f}% variance)")
    ax.set_xlabel(f"belief coordinate 1 ({how})", fontsize=8)
    ax.set_ylabel("belief coordinate 2", fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")


def _bloch_sphere(m: BeliefManifold, path: str, title: str, order: np.ndarray, figsize, dpi) -> str:
    import qutip

    r = bloch_vectors(m.native())[order]
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1, projection="3d")
    b = qutip.Bloch(fig=fig, axes=ax)
    b.point_marker = ["o"]
    b.point_size = [6]
    b.add_points(r.T, meth="s")
    b.render()
    ax.set_title(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path
