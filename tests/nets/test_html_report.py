"""report.html: the renderer of every block kind, the figure specs of probe results,
training checkpoints and attention against the numbers they show, ``qbelief probe``
writing the page, and the page opened in headless Chromium as a person would (no console
errors, every figure drawn, a screenshot with a picture in it, linked rotation and hover)."""

from __future__ import annotations

import base64
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from bayes import belief_trajectories, mixed_state_presentation, plot_beliefs
from bayes import interactive as ia
from bayes.geometry import weighted_pca
from generators import library
from generators.errors import ArgumentError
from nets.attention import AttentionReport, fit_decay
from nets.browser import check_page, find_browser
from nets.document import Report
from nets.html_report import render_html
from nets.interactive import (projections_spec, attention_spec, check_checkpoints, checkpoint_from_result, fit_by_layer_spec,
                              geometry_spec)
from nets.probe import build_probe_dataset
from nets.probe.plots import _belief_colors, plot_belief_geometry, plot_fit_by_layer

CHROMIUM = find_browser()
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (Debian package `chromium`; "
                                   ".ci/run installs it) -- the browser checks of report.html did not run")


def page_specs(page: str) -> list[dict]:
    return [json.loads(t) for t in
            re.findall(r'<script type="application/json" data-qb-figure="[^"]*">(.*?)</script>', page, re.S)]


@pytest.fixture(scope="module")
def probed():
    """Mess3 prefixes to length 4 with activations that hold the beliefs (one noisy layer,
    one clean), random untrained twins, probed with seed 3."""
    ds = build_probe_dataset("mess3", None, context=4, markov_order=1)
    Y = ds.beliefs["minimal"]
    rng = np.random.default_rng(0)
    n = len(ds)
    ds.activations = {f"blocks.{i}.resid_post": Y @ rng.normal(size=(Y.shape[1], 8)) + s * rng.normal(size=(n, 8))
                      for i, s in enumerate([0.05, 0.005])}
    ds.untrained = {k: rng.normal(size=(n, 8)) for k in ds.activations}
    return ds, ds.probe("minimal", seed=3)


# ---------------------------------------------------------------------- probe result -> rows, figures
def test_held_out_rows_and_prefixes_are_the_probes(probed):
    ds, r = probed
    rows = r.held_out_rows()
    assert rows.size == r.meta["n_test"]
    np.testing.assert_array_equal(ds.beliefs["minimal"][rows], r.arrays["beliefs"])
    labels, probs = r.held_out_prefixes(ds)
    assert labels == ia.word_labels(ds.prefixes[rows])
    words = [np.array([int(c) for c in lab]) for lab in labels]  # Pr(u) from the generator, prefix by prefix
    exact = [np.exp(belief_trajectories(library.mess3(), w[None]).log_prob[0, -1]) for w in words]
    np.testing.assert_allclose(probs, exact, rtol=1e-9)
    other = build_probe_dataset("mess3", None, context=4, markov_order=1, weighting="uniform")
    with pytest.raises(ValueError, match="do not match"):
        r.held_out_prefixes(other)


def test_geometry_spec_projects_true_and_predicted_beliefs_on_the_same_axes(probed):
    ds, r = probed
    labels, probs = r.held_out_prefixes(ds)
    spec = geometry_spec(r, labels=labels, probs=probs)
    true, learned = spec["panels"]
    fields = {f["name"]: np.array(f["values"]) for f in spec["hover"]["fields"]}
    Y, w = r.arrays["beliefs"], r.arrays["weights"] / r.arrays["weights"].sum()
    pca = weighted_pca(Y, w)
    assert true["dims"] == learned["dims"] == 2  # Mess3: a planar simplex
    np.testing.assert_allclose(true["points"], pca.project(fields["belief"], 2), atol=2e-3)
    np.testing.assert_allclose(learned["points"], pca.project(fields["predicted"], 2), atol=2e-3)
    # colours: the PNG figure's colour of each row's true belief
    j = np.argmin(np.abs(Y[None] - fields["belief"][:, None]).sum(-1), axis=1)
    assert true["colors"] == learned["colors"] == ia.rgb_ints(_belief_colors(pca, Y))[j].tolist()
    lab = dict(zip(labels, probs))
    np.testing.assert_allclose(fields["Pr"], [lab[x] for x in spec["hover"]["labels"]], rtol=5e-4)
    assert np.all(np.diff(fields["Pr"]) >= 0)  # heavy points drawn last
    sub = geometry_spec(r, max_points=10)
    assert len(sub["panels"][0]["points"]) == 10 and "labels" not in sub["hover"]
    loaded = type(r).from_dict(r.to_dict())  # saved without its arrays: nothing to draw, and it says so
    with pytest.raises(ArgumentError, match="include_arrays=True"):
        loaded.plot_interactive()


def test_projections_spec_from_arrays_is_geometry_spec(probed):
    """From saved arrays, one panel per network: the same points and colours as geometry_spec."""
    _, r = probed
    Y, P, w = (r.arrays[k] for k in ("beliefs", "predicted", "weights"))
    ref = geometry_spec(r)
    spec = projections_spec(Y, {"net A": P, "net B": Y}, w, title="t")
    assert [p["title"] for p in spec["panels"]] == ["true beliefs", "net A", "net B"]
    for got, want in zip(spec["panels"], ref["panels"]):
        assert got["points"] == want["points"] and got["colors"] == want["colors"]
    assert spec["panels"][2]["points"] == spec["panels"][0]["points"]  # a perfect prediction lies on the truth
    with pytest.raises(ValueError, match="shape"):
        projections_spec(Y, {"bad": P[:, :1]}, w)
    with pytest.raises(ValueError, match="weights"):
        projections_spec(Y, {"net": P}, -w)


def test_checkpoints_make_a_slider_and_a_metrics_panel(probed):
    _, r = probed
    Y, P = r.arrays["beliefs"], r.arrays["predicted"]
    cps = [{"step": 0, "points": P + 0.5, "metrics": {"r2": 0.1}}, {"step": 50, "points": Y, "metrics": {"r2": 0.7}},
           checkpoint_from_result(r, 200)]
    spec = geometry_spec(r, checkpoints=cps)
    true, learned, metrics = spec["panels"]
    assert spec["steps"] == [0, 50, 200] and np.array(learned["frames"]).shape == (3, len(Y), 2)
    np.testing.assert_allclose(learned["frames"][1], true["points"], atol=1e-4)  # the exact beliefs: the true panel
    assert metrics["step_marker"] and [s["name"] for s in metrics["series"]] == ["cos_r2", "r2", "rmse"]
    r2 = next(s for s in metrics["series"] if s["name"] == "r2")
    np.testing.assert_allclose(r2["y"], [0.1, 0.7, r.points[r.headline].r2], atol=1e-6)
    assert metrics["series"][0]["y"][:2] == [None, None]  # cos_r2 only at the last step


@pytest.mark.parametrize("bad, needle", [
    ([], "nonempty list"),
    ([{"step": 0, "points": np.zeros((3, 2))}], "shape"),
    ([{"step": 5, "points": "P"}, {"step": 1, "points": "P"}], "sorted by step"),
    ([{"step": True, "points": "P"}], "step must be an integer"),
    ([{"step": 0, "points": "P", "loss": 1}], "keys step, points"),
    ([{"step": 0, "points": "NaN"}], "finite"),
])
def test_malformed_checkpoints_are_rejected(probed, bad, needle):
    _, r = probed
    P = r.arrays["predicted"]
    swap = {"P": P, "NaN": np.full_like(P, np.nan)}
    bad = [{k: swap.get(v, v) if isinstance(v, str) else v for k, v in c.items()} for c in bad]
    with pytest.raises(ArgumentError, match=needle):
        check_checkpoints(bad, *P.shape)


def test_fit_by_layer_spec_shows_the_points_and_controls(probed):
    _, r = probed
    spec = fit_by_layer_spec(r)
    rmse, r2 = spec["panels"]
    assert rmse["categories"] == list(r.points) == ["blocks.0.resid_post", "blocks.1.resid_post", "concat"]
    by_name = {s["name"]: s for s in r2["series"]}
    np.testing.assert_allclose(by_name["trained"]["y"], [p.r2 for p in r.points.values()], atol=1e-6)
    np.testing.assert_allclose(by_name["shuffled beliefs"]["y"], [p.shuffled["r2"] for p in r.points.values()],
                               atol=1e-6)
    np.testing.assert_allclose(by_name["untrained net"]["y"], [p.untrained["r2"] for p in r.points.values()],
                               atol=1e-6)
    mk = r.baselines["markov"]
    assert by_name["Markov-1 beliefs"]["mode"] == "dashed"
    np.testing.assert_allclose(by_name["Markov-1 beliefs"]["y"], [mk["r2"]] * 2, atol=1e-6)
    assert spec["caption"].startswith(f"Verdict: {r.verdict}") and r.verdict in spec["title"]


def test_attention_spec_draws_measured_fitted_and_predicted_decays():
    D = np.arange(8)
    prof = np.stack([0.4 * 0.6 ** D, 0.7 * 0.3 ** D])
    heads = fit_decay(prof, layer=0, floor=1e-9, eigenvalues=[0.55])
    rep = AttentionReport(profiles={0: prof}, heads=heads, eigenvalues=[0.55], meta={"process": "toy"})
    spec = attention_spec(rep, SimpleNamespace(effective_rates=(0.5, 0.25)))
    (panel,) = spec["panels"]
    s = {x["name"]: x for x in panel["series"]}
    assert panel["log_y"] and s["head 0"]["mode"] == "markers"
    np.testing.assert_allclose(s["head 0"]["y"], prof[0], rtol=1e-5)
    np.testing.assert_allclose(s["head 0 fit λ=0.600 (all)"]["y"], prof[0], rtol=1e-5)  # exact geometric decay
    np.testing.assert_allclose(s["head 0 predicted |r|=0.500"]["y"], 0.4 * 0.5 ** D, rtol=1e-5)
    np.testing.assert_allclose(s["head 1 predicted |r|=0.250"]["y"], 0.7 * 0.25 ** D, rtol=1e-5)
    default = attention_spec(rep)  # without rates: the matched eigenvalue
    assert "head 0 predicted |r|=0.550" in [x["name"] for x in default["panels"][0]["series"]]


# ---------------------------------------------------------------------- the renderer
def test_every_block_kind_is_rendered(tmp_path, probed):
    _, r = probed
    png = plot_fit_by_layer(r, tmp_path / "fit.png") and tmp_path / "fit.png"
    rep = Report("Results <&>")
    for h in ("One", "Two", "Three"):
        rep.section(h)
    rep.text("A **bold** and *em* `x<y` [link](https://example.org) [bad](javascript:alert(1))\n\n- a\n- b\n\n"
             "| k | v |\n|---|---|\n| 1 | 2 |")
    rep.table(["quantity", "ours", "verdict"], [["R^2", 0.951234, "reproduced"], ["RMSE", None, "not reproduced"],
                                                ["x", 1.5, "partly"]], caption="the table")
    rep.figure(png, "static figure")
    rep.figure(png, "interactive figure", interactive=fit_by_layer_spec(r))
    rep.figure(tmp_path / "missing.png", "gone")
    rep.interactive(geometry_spec(r), "only in HTML")
    rep.bullets(["first", "`second`"])
    rep.code("qbelief probe <run>")
    page = render_html(rep, tmp_path)
    assert "<h1>Results &lt;&amp;&gt;</h1>" in page and '<h2 id="two">Two</h2>' in page
    assert '<nav class="qb-toc"><a href="#one">One</a>' in page
    assert "<strong>bold</strong> and <em>em</em> <code>x&lt;y</code> <a href=\"https://example.org\">link</a>" in page
    assert "javascript:" not in page.split("<script>")[0].replace("[bad](javascript:alert(1))", "")
    assert "<ul><li>a</li><li>b</li></ul>" in page and "<th>k</th>" in page and "<td class=\"num\">2</td>" in page
    assert '<td class="num">0.951</td>' in page and '<td class="qb-verdict-good">reproduced</td>' in page
    assert '<td class="qb-verdict-bad">not reproduced</td>' in page and '<td>-</td>' in page
    assert '<td class="qb-verdict-mid">partly</td>' in page
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(imgs) == 1 and base64.b64decode(imgs[0]) == png.read_bytes()
    assert "[figure file not found:" in page and 'href="fit.png">static image</a>' in page
    assert page_specs(page) == [fit_by_layer_spec(r), geometry_spec(r)]
    assert "<li><code>second</code></li>" in page and "qbelief probe &lt;run&gt;</code></pre>" in page
    rep.blocks.append(type(rep.blocks[0])("video", {}))
    with pytest.raises(ValueError, match="kind 'video'"):
        render_html(rep)


def test_write_puts_report_html_beside_the_markdown(tmp_path, probed):
    _, r = probed
    rep = Report("R")
    rep.figure(tmp_path / "g.png", "geometry", interactive=geometry_spec(r))
    plot_belief_geometry(r, tmp_path / "g.png")
    rep.interactive(fit_by_layer_spec(r), "fit")
    md = rep.to_markdown(base=tmp_path)
    assert md == "# R\n\n![geometry](g.png)\n*geometry*\n\n*Interactive figure in report.html: fit*\n"
    rep.write(tmp_path / "RESULTS.md")
    rep.write(tmp_path / "sub" / "report.md")
    for page in (tmp_path / "report.html", tmp_path / "sub" / "report.html"):
        assert page_specs(page.read_text()) == [geometry_spec(r), fit_by_layer_spec(r)]
    assert (tmp_path / "RESULTS.md").read_text() == md
    with pytest.raises(ArgumentError, match="lacks"):
        rep.figure("x.png", "bad", interactive={"qbelief_figure": 1, "title": "", "caption": ""})


def test_probe_command_writes_report_html(tmp_path):
    from nets.cli import main

    g = library.mess3()
    tokens = g.sample(400, 6, seed=0)
    beliefs = belief_trajectories(g, tokens).beliefs[:, 1:]
    rng = np.random.default_rng(1)
    acts = {"layer0": beliefs @ rng.normal(size=(3, 8)) + 0.01 * rng.normal(size=(400, 6, 8))}
    np.savez(tmp_path / "acts.npz", tokens=tokens, **acts)
    assert main(["probe", "--activations", str(tmp_path / "acts.npz"), "--process", "mess3", "--markov-order", "1",
                 "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    verdict = json.loads((tmp_path / "out" / "probe.json").read_text())["verdict"]
    geo, fit = page_specs(page)
    assert f"Verdict: {verdict.upper()}" in page and verdict in fit["title"]
    assert len(geo["hover"]["labels"]) == len(geo["panels"][0]["points"]) 
    assert [f["name"] for f in geo["hover"]["fields"]] == ["weight", "belief", "predicted"]  # sampled: no Pr(u)
    assert "![True beliefs" in (tmp_path / "out" / "report.md").read_text()


def test_plot_interactive_in_a_notebook(probed):
    ds, r = probed
    fig = r.plot_interactive(dataset=ds)
    assert [p["type"] for p in fig.spec["panels"]] == ["scatter", "scatter", "lines", "lines"]
    assert fig._repr_html_().startswith("<iframe srcdoc=") and fig.spec["hover"]["labels"]


# ---------------------------------------------------------------------- in a browser
def _distinct_colours(png, box):
    from matplotlib.image import imread

    img = imread(str(png))[box[0]:box[1], box[2]:box[3], :3]
    q = np.round(img * 255).astype(np.int64)
    codes = (q[..., 0] << 16) | (q[..., 1] << 8) | q[..., 2]
    return np.unique(codes).size, float(np.mean(codes != 0xFFFFFF))


@needs_browser
def test_report_renders_in_chromium(tmp_path, probed):
    """A report with every interactive figure (belief manifold in 3-D, geometry with a
    training slider, fit by layer, attention): drawn without console messages."""
    ds, r = probed
    rep = Report("Browser check")
    rep.interactive(plot_beliefs(mixed_state_presentation(library.bloch_walk(), 5), interactive=True).spec, "ball")
    cps = [{"step": s, "points": r.arrays["predicted"] * (1 + 1 / (1 + s)), "metrics": {"r2": s / 100}}
           for s in (0, 10, 100)]
    r.report_section(rep, dataset=ds, checkpoints=cps)
    D = np.arange(6)
    prof = np.stack([0.5 * 0.5 ** D, 0.3 * 0.8 ** D])
    rep.interactive(attention_spec(AttentionReport({0: prof}, fit_decay(prof), [0.5], {})), "attention")
    per_step = ia.series("R²", [0, 1], [0.9, 0.95], mode="bars", y_frames=[[0.1, 0.2], [0.5, 0.6], [0.9, 0.95]])
    rep.interactive(ia.figure_spec([ia.lines_panel([per_step], categories=["layer 0", "layer 1"])],
                                   steps=[0, 10, 100]), "fit by layer at each checkpoint")
    rep.write(tmp_path / "report.md")
    chk = check_page(tmp_path / "report.html", tmp_path / "shot.png", width=1300, height=2400)
    assert chk.console == [] and (chk.rendered, chk.errors) == (5, 0)
    n, inked = _distinct_colours(chk.screenshot, (0, 2400, 0, 1300))
    assert n > 200 and inked > 0.05, (n, inked)


@needs_browser
def test_linked_rotation_hover_and_errors_in_chromium(tmp_path):
    """Drag one 3-D panel: the other redraws rotated; hover the centre point: the tooltip
    shows its prefix; a malformed figure is reported in the page, not thrown."""
    pts = np.vstack([np.zeros(3), np.eye(3), -np.eye(3)])
    spec = ia.figure_spec([ia.scatter_panel(pts, title="a"), ia.scatter_panel(2 * pts, title="b")],
                          hover=ia.hover_table(["c", "x", "y", "z", "-x", "-y", "-z"], Pr=np.full(7, 1 / 7)))
    probe_js = """<script>
window.addEventListener("load", function () {
  var cs = document.querySelectorAll("canvas"), r = cs[0].getBoundingClientRect(), before = cs[1].toDataURL();
  function ev(t, x, y) {
    cs[0].dispatchEvent(new PointerEvent(t, {clientX: r.left + x, clientY: r.top + y, bubbles: true, pointerId: 7}));
  }
  ev("pointerdown", 100, 100); ev("pointermove", 170, 140); ev("pointerup", 170, 140);
  document.documentElement.setAttribute("data-linked", before !== cs[1].toDataURL() ? "yes" : "no");
  ev("pointermove", r.width / 2, r.height / 2);
  var tip = document.querySelector(".qb-tip");
  document.documentElement.setAttribute("data-tip", tip.style.display + ":" + tip.textContent.split("\\n")[0]);
});
</script></body>"""
    page = ia.InteractiveFigure(spec).to_html().replace("</body>", probe_js)
    (tmp_path / "f.html").write_text(page)
    chk = check_page(tmp_path / "f.html", tmp_path / "f.png", width=900, height=600)
    assert chk.console == [] and (chk.rendered, chk.errors) == (1, 0)
    assert 'data-linked="yes"' in chk.dom and 'data-tip="block:prefix c"' in chk.dom
    n, inked = _distinct_colours(chk.screenshot, (40, 420, 0, 760))
    assert n > 20 and inked > 0.01
    broken = ia.html_page("broken", '<div class="qb-figure" id="f"></div><script type="application/json" '
                                    'data-qb-figure="f">{"qbelief_figure": 1, "panels": [{"type": "pie"}]}</script>')
    (tmp_path / "b.html").write_text(broken)
    chk = check_page(tmp_path / "b.html", tmp_path / "b.png", width=600, height=300)
    assert chk.console == [] and (chk.rendered, chk.errors) == (0, 1)
    assert "could not be drawn: unknown panel type \"pie\"" in chk.dom.replace("&quot;", '"')


def test_readme_snippet_runs(tmp_path, monkeypatch):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Interactive reports", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__readme__"}
    exec(compile(code, "README.md[interactive reports]", "exec"), ns)
    assert [p["type"] for p in ns["fig"].spec["panels"]] == ["scatter", "scatter", "lines", "lines"]
    specs = page_specs((tmp_path / "probe-report" / "report.html").read_text())
    assert specs[0]["hover"]["labels"] and specs[1]["title"].endswith(ns["result"].verdict)
