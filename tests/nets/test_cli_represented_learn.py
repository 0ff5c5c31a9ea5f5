"""`qbelief represented` and `qbelief learn`, called in-process through nets.cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generators import library
from generators.io import load_generator
from generators.words import all_words
from nets.cli import main


def one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("qbelief: error:") and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)


# ---------------------------------------------------------------------- represented
@pytest.fixture(scope="module")
def mess3_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "r"
    assert main(["train", "mess3", "--model", "gru", "--hidden", "16", "--steps", "30", "--context", "4",
                 "--data-mode", "exact", "--targets", "exact", "--batch-size", "64", "--out", str(run),
                 "--quiet"]) == 0
    return run


def test_represented_writes_table_figure_json_and_prints_the_summary(mess3_run, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "rep"
    assert main(["represented", str(mess3_run), "--horizons", "1,2,5", "--out", str(out), "--n-boot", "20"]) == 0
    printed = capsys.readouterr().out
    d = json.loads((out / "represented.json").read_text())
    assert d["horizon"] == 1 and d["targets"] == ["belief", "next", "next_2", "next_5", "beyond_next"]
    assert {r["target"] for r in d["rows"]} == {"belief", "next", "next_2", "next_5"}  # nothing beyond for Mess3
    md = (out / "represented.md").read_text()
    for r in d["rows"]:
        if r["point"] != d["headline"]:
            label = {"belief": "belief", "next": "next token"}.get(r["target"], f"next {r['target'][5:]} tokens")
            assert f"| {r['point']} | {label} | {r['r2']:.3f} |" in md
    for p, v in d["verdicts"].items():
        assert f"{p}: {v}" in printed and f"`{p}`: {v}" in md
    assert "horizon 1" in printed and (out / "represented.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, needles", [
    (["--horizons", "0,2"], ["--horizons must be comma-separated positive integers", "'0,2'"]),
    (["--horizons", "1,x"], ["--horizons"]),
    (["--horizons", ""], ["--horizons"]),
])
def test_represented_bad_horizons(mess3_run, capsys, argv, needles):
    one_line_error(capsys, ["represented", str(mess3_run), *argv], *needles)


def test_represented_bad_run(tmp_path, capsys):
    one_line_error(capsys, ["represented", str(tmp_path / "nope")], "does not exist")
    one_line_error(capsys, ["represented", str(tmp_path)], "no checkpoint.pt")
    (tmp_path / "f.npz").write_bytes(b"")
    one_line_error(capsys, ["represented", str(tmp_path / "f.npz")], "is a file, not a run directory")


# ---------------------------------------------------------------------- learn
@pytest.fixture(scope="module")
def mess3_sequences(tmp_path_factory):
    d = tmp_path_factory.mktemp("seq")
    seq = library.mess3().sample(200, 2000, seed=1)
    np.save(d / "mess3.npy", seq)
    np.savez(d / "two.npz", train=seq, other=seq[:10])
    return d


def test_learn_from_sampled_mess3_then_info(mess3_sequences, tmp_path, capsys):
    out = tmp_path / "learned.json"
    assert main(["learn", str(mess3_sequences / "mess3.npy"), "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "learned GHMM of dimension 3" in printed and "singular values" in printed and "noise levels" in printed
    assert "no negative word found" in printed and f"wrote {out}" in printed
    g = load_generator(out)
    assert g.dim == 3 and g.alphabet_size == 3
    W = all_words(3, 3)  # the learned process's word probabilities are Mess3's, to sampling error
    np.testing.assert_allclose(g.word_probability(W), library.mess3().word_probability(W), rtol=0.05)
    assert main(["info", str(out), "--depth", "3"]) == 0
    info = capsys.readouterr().out
    assert any(line.startswith("minimal dimension") and line.split()[-1] == "3" for line in info.splitlines())


def test_learn_npz_key_and_fixed_dim(mess3_sequences, tmp_path, capsys):
    out = tmp_path / "d2.json"
    assert main(["learn", str(mess3_sequences / "two.npz"), "--key", "train", "--dim", "2", "--max-length", "2",
                 "--out", str(out)]) == 0
    assert "dimension 2" in capsys.readouterr().out and load_generator(out).dim == 2
    one_line_error(capsys, ["learn", str(mess3_sequences / "two.npz"), "--out", str(out)], "say which with key=")


def test_learn_refuses_an_unloadable_model_and_repairs_on_request(tmp_path, capsys):
    """Few golden-mean samples and --dim 3: the learned model gives a short word (length
    <= 6, checked on every load) a negative probability.  Without --repair nothing is
    written and the error says why and what to do; --repair writes a loadable model."""
    seq = tmp_path / "gm.npy"
    np.save(seq, library.golden_mean().sample(20, 200, seed=0))
    out = tmp_path / "gm.json"
    one_line_error(capsys, ["learn", str(seq), "--out", str(out), "--dim", "3"],
                   "not written", "could not be loaded back", "< 0", "--repair")
    assert not out.exists()
    assert main(["learn", str(seq), "--out", str(out), "--dim", "3", "--repair"]) == 0
    assert "repaired: restart smoothing" in capsys.readouterr().out
    g = load_generator(out)  # runs the length <= 6 check that refused the unrepaired model
    assert g.dim == 3 and np.all(g.word_probability(all_words(2, 6)) >= 0)


@pytest.mark.parametrize("argv, needles", [
    (["missing.npy", "--out", "x.json"], ["no such file"]),
    (["SEQ", "--out", "x.toml"], ["--out must name a .json"]),
    (["SEQ", "--out", "x.json", "--dim", "0"], ["--dim must be 'auto' or a positive integer"]),
    (["SEQ", "--out", "x.json", "--dim", "three"], ["--dim"]),
    (["SEQ", "--out", "x.json", "--max-length", "5000"], ["max_length=5000"]),
])
def test_learn_bad_input(mess3_sequences, tmp_path, capsys, argv, needles):
    argv = [str(mess3_sequences / "mess3.npy") if a == "SEQ" else str(tmp_path / a) if a.endswith(
        (".json", ".toml", "missing.npy")) else a for a in argv]
    one_line_error(capsys, ["learn", *argv], *needles)
