"""The main job (papers/demo, ``qbelief demo``): the quick mode end to end through the
console script, known answers of the generator step, the commands the report prints."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generators import equivalent, library
from generators.io import load_generator
from papers.demo import experiment as demo
from papers.demo.generator import bloch_walk_from_kraus

ROOT = Path(__file__).resolve().parents[2]
QBELIEF = Path(sys.executable).parent / "qbelief"


def qbelief(*args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([str(QBELIEF), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=ROOT)
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    if not QBELIEF.exists():
        pytest.skip("console script not installed")
    out = tmp_path_factory.mktemp("demo") / "demo"
    return out, qbelief("demo", "--quick", "--out", out, "--seconds", "8")


def test_kraus_definition_is_the_bloch_walk():
    q = bloch_walk_from_kraus()
    K = [k for ks in q.kraus for k in ks]
    np.testing.assert_allclose(sum(k.conj().T @ k for k in K), np.eye(2), atol=1e-15)
    assert equivalent(q, library.bloch_walk())
    assert not equivalent(bloch_walk_from_kraus(1.0, 3.0), library.bloch_walk())


def test_quick_end_to_end(quick):
    out, stdout = quick
    for step in ("== 1.", "== 2.", "== 3.", "== 4.", "verdict:"):
        assert step in stdout
    for f in ("report.md", "results.json", "bloch_walk_beliefs.png", "mess3_beliefs.png", "loss_curve.png",
              "belief_geometry.png", "fit_by_layer.png", "probe.json", "bloch_walk_kraus.json"):
        assert (out / f).stat().st_size > 0, f
    assert not (out / "RESULTS.md").exists()  # the demo's report is report.md
    r = json.loads((out / "results.json").read_text())
    g = r["metrics"]["generator"]
    assert g["dims"] == {"native (qubit)": 2, "GHMM (Gell-Mann)": 4, "minimal (Hankel rank)": 3}
    assert g["equivalent_to_library"] is True and g["completeness_error"] < 1e-14
    # a Markov-0 predictor knows only the symbol frequencies: uniform, loss log 4; order k has 4^k states
    assert g["markov"][0]["loss_nats"] == pytest.approx(math.log(4), abs=1e-12)
    assert [m["states"] for m in g["markov"]] == [4 ** k for k in range(len(g["markov"]))]
    assert all(not m["same_process"] and m["gap_nats"] > 0 for m in g["markov"])
    assert r["pooled"]["transformer"]["r2"]["n"] == 2  # the headline R^2 pools the two seeds
    assert equivalent(load_generator(out / "bloch_walk_kraus.json"), library.bloch_walk())


def test_report_commands(quick, tmp_path):
    out, _ = quick
    text = (out / "report.md").read_text()
    assert "![loss curve](loss_curve.png)" in text and "mean and 95% interval over 2 seeds" in text
    for cmd in ("qbelief represented", "qbelief learn SEQUENCES.npy --out learned.json",
                "qbelief probe --activations FILE --process"):
        assert cmd in text, cmd
    train = next(line for line in text.splitlines() if line.startswith("qbelief train "))
    args = shlex.split(train)[2:]
    args[args.index("--steps") + 1] = "3"
    args[args.index("--out") + 1] = str(tmp_path / "run")
    qbelief("train", *args)  # the printed command runs
    assert json.loads((tmp_path / "run" / "config.json").read_text())["context"] == 6


def test_main_defaults_to_the_main_job(monkeypatch):
    seen = {}
    monkeypatch.setattr(demo.Demo, "execute", lambda self, mode, out, **kw: seen.update(mode=mode, out=out,
                                                                                       seconds=self.seconds))
    assert demo.main(["--quiet"]) == 0 and seen == {"mode": "full", "out": None, "seconds": None}
    assert demo.main(["--quick", "--seconds", "5", "--out", "x"]) == 0
    assert seen == {"mode": "quick", "out": "x", "seconds": 5.0}
    with pytest.raises(ValueError, match="seconds must be a finite real number > 0"):
        demo.main(["--seconds", "0"])


def test_report_html_views(quick):
    """report.html draws the Bloch ball, the true geometry beside the probe projection
    (3-D, each held-out row with its prefix) and the fit by layer, from the saved views."""
    from papers.demo.views import load_view

    out, _ = quick
    html = (out / "report.html").read_text()
    ball, geo, fit = (load_view(out, k) for k in ("bloch_walk", "geometry", "fit_by_layer"))
    # the Bloch walk's beliefs fill a disk of the ball (affine dimension 2): 2-D panels; the ball itself is 3-D
    assert [p["type"] for p in geo["panels"]] == ["scatter", "scatter"] and len(geo["panels"][0]["points"][0]) == 2
    assert len(geo["hover"]["labels"]) == len(geo["panels"][0]["points"]) == len(geo["panels"][1]["points"])
    assert all(set(lab) <= set("0123") for lab in geo["hover"]["labels"])  # prefixes over the 4 symbols
    probe = json.loads((out / "probe.json").read_text())
    assert [s["name"] for s in fit["panels"][1]["series"]][:3] == ["trained", "shuffled beliefs", "untrained net"]
    assert fit["panels"][1]["categories"] == list(probe["points"])
    assert ball["panels"][0]["type"] == "scatter" and len(ball["panels"][0]["points"][0]) == 3 and html.count("data-qb-figure=") == 3


@pytest.mark.skipif(__import__("nets.browser", fromlist=["find_browser"]).find_browser() is None,
                    reason="no headless Chromium (Debian package `chromium`; .ci/run installs it)")
def test_report_html_renders_in_chromium(quick, tmp_path):
    """The demo's page as a person opens it: every figure drawn, no console message, and
    a screenshot with many distinct colours (not blank)."""
    from matplotlib.image import imread

    from nets.browser import check_page

    out, _ = quick
    chk = check_page(out / "report.html", tmp_path / "shot.png", width=1400, height=3000)
    assert chk.console == [] and chk.errors == 0 and chk.rendered >= 3, (chk.console, chk.rendered, chk.errors)
    img = np.round(imread(str(chk.screenshot))[..., :3] * 255).astype(np.int64)
    codes = (img[..., 0] << 16) | (img[..., 1] << 8) | img[..., 2]
    assert np.unique(codes).size > 200 and np.mean(codes != 0xFFFFFF) > 0.05
