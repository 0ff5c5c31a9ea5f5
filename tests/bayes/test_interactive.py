"""Interactive figures: the spec builders and their schema check, the belief figures of
``plot_beliefs(interactive=True)`` against the coordinates they claim, the page and the
notebook object, and import hygiene (no torch, no matplotlib)."""

import copy
import html
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from bayes import barycentric_coordinates, bloch_vectors, mixed_state_presentation, plot_beliefs
from bayes import interactive as ia
from generators import library
from generators.errors import ArgumentError


def page_specs(page: str) -> list[dict]:
    """The figure specs embedded in a page, as the viewer reads them."""
    return [json.loads(t)
            for t in re.findall(r'<script type="application/json" data-qb-figure="[^"]*">(.*?)</script>', page, re.S)]


def valid_spec() -> dict:
    pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return ia.figure_spec(
        [ia.scatter_panel(pts, title="a"), ia.scatter_panel(frames=np.stack([pts, 2 * pts]), title="b"),
         ia.lines_panel([ia.series("r2", [0, 10], [0.5, 0.9])], step_marker=True),
         ia.lines_panel([ia.series("x", [0, 1], [1, 2], mode="bars", y_frames=[[0.5, 1], [1, 2]])],
                        categories=["p", "q"])],
        steps=[0, 10], hover=ia.hover_table(["0", "1", "2"], Pr=[0.2, 0.3, 0.5]))


# ---------------------------------------------------------------------- builders
def test_builders_make_json_with_the_given_values():
    pts = np.arange(12.0).reshape(4, 3) / 7
    spec = ia.figure_spec([ia.scatter_panel(pts, colors=np.eye(3)[[0, 1, 2, 0]], sizes=[1, 2, 3, 4]),
                           ia.lines_panel([ia.series("a", [0, 1], [1.0, np.nan])])], title="t")
    p, s = spec["panels"]
    assert p["colors"] == [0xFF0000, 0x00FF00, 0x0000FF, 0xFF0000] and p["dims"] == 3 and p["sizes"] == [1, 2, 3, 4]
    np.testing.assert_allclose(p["points"], pts, atol=5e-5)
    assert s["series"][0]["y"] == [1.0, None] and s["series"][0]["color"] == ia.PALETTE[0]
    assert json.loads(json.dumps(spec, allow_nan=False)) == spec


def test_coordinates_keep_five_significant_digits_of_the_largest():
    assert ia.scatter_panel([[123.456789, 0.001234]])["points"] == [[123.46, 0.0]]
    assert ia.scatter_panel([[0.0123456, 0.5]])["points"] == [[0.01235, 0.5]]
    assert ia.scatter_panel([[0.0123456, 0.5]], digits=2)["points"] == [[0.01, 0.5]]


@pytest.mark.parametrize("mutate, needle", [
    (lambda s: s.update(extra=1), "unknown keys extra"),
    (lambda s: s.update(qbelief_figure=2), "schema version"),
    (lambda s: s["panels"][0].update(dims=4), "dims must be 2 or 3"),
    (lambda s: s["panels"][0]["points"][1].__setitem__(0, float("nan")), "finite"),
    (lambda s: s["panels"][0]["points"].__setitem__(1, [1.0, 2.0]), "rectangular"),
    (lambda s: s["panels"][0].update(points=[[0.0, 1.0]] * 3), "2 coordinates; dims is 3"),
    (lambda s: s.pop("steps"), "needs figure.steps"),
    (lambda s: s.update(steps=[0, 5, 10]), "has 2 frames"),
    (lambda s: s.update(steps=[10, 0]), "nondecreasing"),
    (lambda s: s.update(steps=[True, 1]), "list of integers"),
    (lambda s: s["panels"][0].update(colors=[1, 2, 2 ** 24]), "0xRRGGBB"),
    (lambda s: s["panels"][0].update(colors=[True, 1, 2]), "0xRRGGBB"),
    (lambda s: s["panels"][0].update(sizes=[1, 0, 1]), "positive radii"),
    (lambda s: s["panels"][2]["series"][0].update(mode="area"), "mode must be one of"),
    (lambda s: s["panels"][2].update(y_range=[1, 0]), "lo < hi"),
    (lambda s: s["panels"][2].update(log_y=True, y_range=[0, 1]), "lo > 0"),
    (lambda s: s["panels"][3]["series"][0].update(x=[0, 3]), "indexes panels[3].categories"),
    (lambda s: s["panels"][2]["series"][0].update(y=[1.0]), "y must have shape (2); got (1,)"),
    (lambda s: s["panels"][1].update(frames=[[[0.0, 0.0, 0.0]]] * 2), "share their rows"),
    (lambda s: s["panels"][3]["series"][0].update(y_frames=[[1, 2]]), "y_frames must have shape (2, 2)"),
    (lambda s: (s.pop("steps"), s["panels"].pop(1)), "y_frames needs figure.steps"),
    (lambda s: s["hover"].update(labels=["0"]), "3 strings"),
    (lambda s: s["panels"].append({"type": "pie"}), "'scatter' or 'lines'"),
    (lambda s: s["panels"][0].pop("axes"), "lacks axes"),
])
def test_check_rejects_malformed_specs(mutate, needle):
    spec = copy.deepcopy(valid_spec())
    mutate(spec)
    with pytest.raises(ArgumentError, match=re.escape(needle)):
        ia.check_figure_spec(spec)


def test_word_labels_and_colours_known_answers():
    assert ia.word_labels(np.array([[0, 1, -1], [-1, -1, -1], [3, 2, 1]])) == ["01", "ε", "321"]
    assert ia.word_labels(np.array([[10, 35, 61]])) == ["azZ"]
    assert ia.word_labels(np.array([[62, 0, -1]])) == ["62 0"]  # beyond 62 symbols: numbers
    assert ia.word_labels(np.zeros((2, 0), dtype=int)) == ["ε", "ε"]
    with pytest.raises(ArgumentError):
        ia.word_labels(np.array([[0.5]]))
    c = ia.position_colors([[0.0, 0.0], [1.0, 2.0], [0.5, 1.0]])
    np.testing.assert_allclose(c, [[0, 0, 1], [1, 1, 0], [0.5, 0.5, 0.5]])
    assert ia.rgb_ints([[1, 0, 0], [0, 0.5, 1]]).tolist() == [0xFF0000, 0x0080FF]
    with pytest.raises(ArgumentError):
        ia.rgb_ints([[1.5, 0, 0]])


# ---------------------------------------------------------------------- belief figures
def _rows_by_label(m):
    """Belief id of each shortest-word label (each belief has one word)."""
    labels = ia.word_labels(m.words())
    return {lab: i for i, lab in enumerate(labels)}


def test_simplex_figure_is_the_triangle_of_the_most_probable_beliefs():
    m = mixed_state_presentation(library.mess3(), 5)
    spec = plot_beliefs(m, interactive=True, max_points=100).spec
    panel, hover = spec["panels"][0], spec["hover"]
    assert panel["dims"] == 2 and len(panel["points"]) == 100 and len(panel["guides"]) == 3
    ids = np.array([_rows_by_label(m)[lab] for lab in hover["labels"]])
    np.testing.assert_allclose(panel["points"], barycentric_coordinates(m.beliefs[ids]), atol=1e-4)
    p = m.probs
    np.testing.assert_allclose(hover["fields"][0]["values"], p[ids], rtol=5e-4)
    dropped = np.setdiff1d(np.arange(m.n_beliefs), ids)
    assert p[ids].min() >= p[dropped].max()  # the most probable are kept
    assert np.all(np.diff(p[ids]) >= 0)  # drawn light first, heavy on top
    np.testing.assert_allclose(hover["fields"][1]["values"], m.beliefs[ids], rtol=5e-4)


def test_bloch_figure_is_the_bloch_ball_with_the_flat_axis_last():
    m = mixed_state_presentation(library.bloch_walk(), 4)
    spec = plot_beliefs(m, interactive=True).spec
    panel = spec["panels"][0]
    assert panel["dims"] == 3 and panel["axes"][2] == "Bloch y" and len(panel["points"]) == m.n_beliefs
    ids = np.array([_rows_by_label(m)[lab] for lab in spec["hover"]["labels"]])
    r = bloch_vectors(m.native(ids))
    cols = ["xyz".index(a[-1]) for a in panel["axes"]]
    np.testing.assert_allclose(panel["points"], r[:, cols], atol=1e-4)
    assert np.linalg.norm(panel["points"], axis=1).max() <= 1 + 1e-4


@pytest.mark.parametrize("name, depth, dims", [("moon", 10, 2), ("frdn", 30, 3), ("mess_n:n=4", 4, 3)])
def test_exact_projections_keep_distances(name, depth, dims):
    """Projections orthogonal to tau (moon, FRDN) and the tetrahedron (a 4-state HMM) are
    isometries of the belief space up to scale: pairwise distances are proportional."""
    m = mixed_state_presentation(library.get(*name.split(":")[:1], **dict(
        [(kv.split("=")[0], int(kv.split("=")[1])) for kv in name.split(":")[1:]])), depth)
    spec = plot_beliefs(m, interactive=True).spec
    P = np.array(spec["panels"][0]["points"])
    assert P.shape[1] == dims
    ids = np.array([_rows_by_label(m)[lab] for lab in spec["hover"]["labels"]])
    B = m.beliefs[ids]
    d_pts = np.linalg.norm(P[:, None] - P[None], axis=-1)
    d_bel = np.linalg.norm(B[:, None] - B[None], axis=-1)
    scale = d_pts.max() / d_bel.max()
    np.testing.assert_allclose(d_pts, scale * d_bel, atol=2e-3 * d_pts.max())


def test_rrxor_uses_three_principal_axes_and_says_so():
    m = mixed_state_presentation(library.rrxor(), 8)
    spec = plot_beliefs(m, interactive=True).spec
    assert m.n_beliefs == 36 and len(spec["panels"][0]["points"]) == 36 and spec["panels"][0]["dims"] == 3
    assert "top-3 principal axes" in spec["panels"][0]["title"] and "all 36 beliefs" in spec["caption"]


def test_interactive_arguments_are_checked(tmp_path):
    m = mixed_state_presentation(library.mess3(), 2)
    with pytest.raises(ArgumentError, match="must end in .html"):
        plot_beliefs(m, tmp_path / "x.png", interactive=True)
    with pytest.raises(ArgumentError, match="interactive must be True or False"):
        plot_beliefs(m, tmp_path / "x.png", interactive="yes")
    with pytest.raises(ArgumentError, match="max_points"):
        plot_beliefs(m, interactive=True, max_points=0)
    with pytest.raises(ArgumentError, match="ending in .png"):
        plot_beliefs(m)  # the PNG path still needs a file
    fig = plot_beliefs(m, tmp_path / "m.html", interactive=True)
    assert page_specs((tmp_path / "m.html").read_text()) == [fig.spec]


# ---------------------------------------------------------------------- page and notebook object
def test_page_is_self_contained_and_round_trips_the_spec():
    spec = valid_spec()
    spec["title"] = 'evil </script><script>alert("x")</script>'
    fig = ia.InteractiveFigure(spec)
    page = fig.to_html()
    js, css = ia.viewer_assets()
    assert js in page and css in page and "QBViewer" in js
    assert page.count("<script") == 2 and "alert" in page  # the title is there, but cannot close its element
    assert page_specs(page) == [spec]
    assert not re.search(r"\b(src|href)=\"https?:", page)  # nothing fetched from the network
    frame = fig._repr_html_()
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" style="[^"]*" title="[^"]*"></iframe>', frame)
    assert m and html.unescape(m.group(1)) == page
    assert repr(fig) == f"InteractiveFigure({spec['title']!r}: scatter, scatter, lines, lines; 2 steps)"
    with pytest.raises(ArgumentError, match=".html"):
        fig.save("fig.png")


def test_viewer_assets_are_small():
    js, css = ia.viewer_assets()
    assert 10_000 < len(js.encode()) < 40_000 and len(css.encode()) < 8_000


def test_interactive_figures_import_neither_torch_nor_matplotlib():
    code = ("import sys, bayes, bayes.interactive\n"
            "from generators import library\n"
            "bayes.plot_beliefs(bayes.mixed_state_presentation(library.mess3(), 3), interactive=True)\n"
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
