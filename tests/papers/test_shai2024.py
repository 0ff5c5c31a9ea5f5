"""papers/shai2024_belief_geometry: the --tiny configuration end to end (seconds), the
structure and sanity of results.json, and the RRXOR belief count."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from papers.shai2024_belief_geometry.run import PAPER_MSE, in_sample_fit, main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("shai2024_tiny")
    assert main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_tiny_files(tiny):
    for f in ["results.json", "RESULTS.md", "mess3_belief_fractal.png", "mess3_belief_geometry.png",
              "mess3_mse_trajectory.png", "mess3_loss_curve.png", "rrxor_belief_geometry.png",
              "rrxor_fit_by_layer.png", "rrxor_loss_curve.png"]:
        assert (tiny / f).stat().st_size > 0, f
    assert not list(tiny.rglob("*.pt")), "no checkpoints in the output folder"


def test_tiny_mess3_results(tiny):
    r = json.loads((tiny / "results.json").read_text())
    assert r["mode"] == "tiny"
    assert set(r["paper_numbers"]["mse_trajectory"]) == {str(k) for k in PAPER_MSE}
    traj = r["mess3"]["trajectory"]
    assert len(traj) >= 2
    assert [p["step"] for p in traj] == sorted(p["step"] for p in traj)
    for p in traj:
        for k in ("mse_pre_ln", "mse_post_ln", "mse_shuffled", "held_out_mse_pre_ln"):
            assert _finite(p[k]) and p[k] >= 0, (k, p)
        assert p["tokens"] == p["step"] * 64 * r["mess3"]["config"]["context"]
    f = r["mess3"]["final"]
    assert f["steps"] == traj[-1]["step"]
    for name, v in f["probe"].items():
        assert _finite(v["mse"]) and _finite(v["held_out_mse"]) and -1 <= v["r2"] <= 1, name
    last = f"blocks.{r['mess3']['config']['n_layers'] - 1}.resid_post"
    # the trained final residual stream beats the shuffled-belief control
    assert f["probe"][last]["mse"] < f["probe"][last]["shuffled_mse"]


def test_tiny_rrxor_results(tiny):
    x = json.loads((tiny / "results.json").read_text())["rrxor"]
    assert x["n_beliefs"] == 36 and x["manifold_closed"]
    assert "concat" in x["probe"] and "embed" in x["probe"]
    assert x["probe"]["concat"]["dim"] == sum(v["dim"] for k, v in x["probe"].items() if k != "concat")
    single = {k: v["mse"] for k, v in x["probe"].items() if k != "concat"}
    assert x["best_single_layer"] == min(single, key=single.get)
    assert x["concat_is_best"] == (x["probe"]["concat"]["mse"] <= single[x["best_single_layer"]])
    g = x["geometry"]
    for k in ("dist_r2_beliefs", "dist_r2_next", "dist_r2_beliefs_raw", "dist_r2_next_raw"):
        assert _finite(g[k]) and 0 <= g[k] <= 1, k


def test_tiny_markdown(tiny):
    md = (tiny / "RESULTS.md").read_text()
    assert "| tokens | paper MSE |" in md
    for tok in ("6.4e+04", "6.4e+05", "3.2e+06", "6.3e+08"):
        assert tok in md
    assert "0.95" in md and "0.31" in md and "Concatenation best" in md


def test_in_sample_fit_known_answers():
    """The paper's protocol on a constructed case: activations an affine image of the beliefs
    fit exactly; the shuffled control permutes beliefs only among rows of the same length."""
    rng = np.random.default_rng(0)
    N = 400
    Y = rng.dirichlet(np.ones(3), size=N)
    lengths = np.repeat([1, 2, 3, 4], N // 4)
    X = Y @ rng.normal(size=(3, 8)) + rng.normal(size=8)
    w = rng.random(N)
    ds = SimpleNamespace(beliefs={"native": Y}, weights=w / w.sum(), activations={"a": X}, untrained={"a": X},
                         lengths=lengths)
    fit = in_sample_fit(ds, "a")
    assert fit["mse"] < 1e-20 and fit["r2"] == pytest.approx(1.0)
    np.testing.assert_allclose(fit["predicted"], Y, atol=1e-10)
    # beliefs constant within each length: the shuffled control changes nothing
    Yc = np.repeat(rng.dirichlet(np.ones(3), size=4), N // 4, axis=0)
    ds.beliefs["native"] = Yc
    ds.activations["a"] = Yc @ rng.normal(size=(3, 8))
    assert in_sample_fit(ds, "a", shuffle=True)["mse"] < 1e-20
