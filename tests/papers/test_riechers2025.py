"""papers/riechers2025_quantum: the --tiny configuration end to end (seconds), the structure
and sanity of results.json, and the non-minimal Mess3 generator used in the comparison."""

from __future__ import annotations

import json
import math

import pytest

from generators import equivalent, library
from papers.riechers2025_quantum.run import main, mess3_hidden_bit


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("riechers2025_tiny")
    assert main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_hidden_bit_hmm_is_mess3_with_a_larger_belief_space():
    from bayes import mixed_state_presentation
    from bayes.geometry import affine_dimension

    h = mess3_hidden_bit()
    assert h.dim == 6
    assert equivalent(h, library.get("mess3", x=0.05, a=0.85))
    assert affine_dimension(mixed_state_presentation(h, 4, progress=False).beliefs) > 2


def test_tiny_files(tiny):
    for f in ["results.json", "RESULTS.md", "belief_geometry.png", "cos_r2.png", "fit_by_layer.png",
              "loss_mess3.png", "loss_bloch_walk.png"]:
        assert (tiny / f).stat().st_size > 0, f
    assert not list(tiny.rglob("*.pt")), "no checkpoints in the output folder"


def test_tiny_results(tiny):
    r = json.loads((tiny / "results.json").read_text())
    assert r["mode"] == "tiny"
    assert set(r["runs"]) == {"mess3/transformer", "mess3/gru", "bloch_walk/transformer", "bloch_walk/gru"}
    for key, v in r["runs"].items():
        assert v["steps"] > 0 and _finite(v["val_relative"]) and v["val_relative"] > 0.9, key
        assert v["tokens"] == v["steps"] * 64 * 3
        # every prefix of length 1..3 is allowed: 3 + 9 + 27 (Mess3) and 4 + 16 + 64 (Bloch walk)
        assert v["n_prefixes"] == {"mess3": 39, "bloch_walk": 84}[key.split("/")[0]]
        c = v["concat"]
        for k in ("cos_r2", "r2", "rmse", "untrained_cos_r2", "markov3_target_cos_r2", "shuffled_rmse"):
            assert _finite(c[k]), (key, k)
        assert 0 <= c["cos_r2"] <= 1 and 0 <= c["markov3_target_cos_r2"] <= 1
        assert "concat" in v["layers"] and len(v["layers"]) >= 2
        assert v["minimal_dim"] == 3
    reps = r["representations"]
    assert set(reps) == {"mess3", "bloch_walk"}
    rows = reps["mess3"]["rows"]
    assert rows["minimal"]["belief_affine_dim"] == 2
    assert rows["minimal"]["coordinates"] == 2 and rows["native"]["coordinates"] == 3
    hidden = [x for k, x in rows.items() if "stayed-bit" in k]
    # the hidden bit doubles the states; its beliefs fill the 5-dim simplex
    assert len(hidden) == 1 and hidden[0]["coordinates"] == 6 and hidden[0]["belief_affine_dim"] == 5
    markov = [x for k, x in rows.items() if k.startswith("custom:markov3")]
    assert len(markov) == 1 and markov[0]["coordinates"] == 27  # one state per length-3 word
    bloch = reps["bloch_walk"]["rows"]
    assert bloch["minimal"]["belief_affine_dim"] == 2 and bloch["native"]["coordinates"] == 3  # tr(rho) = 1 dropped
    assert [x["coordinates"] for k, x in bloch.items() if k.startswith("custom:markov3")] == [64]


def test_tiny_markdown(tiny):
    md = (tiny / "RESULTS.md").read_text()
    assert "0.99-1.00" in md and "0.36-0.88" in md
    for key in ("mess3/transformer", "bloch_walk/gru", "Larger classical representations"):
        assert key in md
