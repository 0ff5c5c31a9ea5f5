"""The `qbelief` console script, run as a user would (subprocess), on small inputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
QBELIEF = Path(sys.executable).parent / "qbelief"

pytestmark = pytest.mark.skipif(not QBELIEF.exists(), reason="console script not installed")


def run(*args, check=True, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([str(QBELIEF), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def one_line_error(p, *needles):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    err = p.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("qbelief: error:"), err
    for n in needles:
        assert n in err, (n, err)


def test_processes_lists_library():
    out = run("processes").stdout
    for name in ["mess3", "bloch_walk", "moon", "frdn", "rrxor", "random_quantum"]:
        assert name in out
    assert "quantum" in out and "post-quantum" in out and "x=0.05" in out


def test_info_library_and_file(tmp_path):
    out = run("info", "rrxor", "--depth", "10", "--json", tmp_path / "i.json").stdout
    assert "minimal dimension" in out and "36 distinct beliefs" in out and "closes" in out
    d = json.loads((tmp_path / "i.json").read_text())
    assert d["closed"] is True and d["distinct_beliefs"] == 36
    out = run("info", EXAMPLES / "bloch_walk.toml", "--depth", "4").stdout
    assert "quantum" in out and "does not close" in out
    assert "minimal dimension" in out and " 3\n" in out.split("minimal dimension")[1][:60] + "\n"


def test_beliefs_writes_manifold_and_picture(tmp_path):
    out = run("beliefs", "mess3:x=0.15,a=0.6", "--depth", "4", "--out", tmp_path / "b").stdout
    assert "121 distinct beliefs" in out
    z = np.load(tmp_path / "b" / "manifold.npz")
    assert z["beliefs"].shape == (121, 3) and z["words"].shape == (121, 4)
    np.testing.assert_allclose(z["probs"].sum(), 1.0)
    np.testing.assert_allclose(z["beliefs"][1], [0.6, 0.2, 0.2], atol=1e-12)
    assert (tmp_path / "b" / "beliefs.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("run") / "r"
    cfg = tmp_path_factory.mktemp("cfg") / "c.toml"
    cfg.write_text('[model]\nn_layers = 1\nd_model = 16\nn_heads = 2\nd_mlp = 32\n[optim]\nlr = 0.003\n'
                   'batch_size = 64\n')
    run("train", "mess3", "--model", "transformer", "--config", cfg, "--steps", "30", "--context", "6",
        "--data-mode", "exact", "--targets", "exact", "--out", d, "--quiet")
    return d


def test_train_writes_run_and_resumes(tiny_run):
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["model"]["n_layers"] == 1 and cfg["model"]["n_heads"] == 2 and cfg["model"]["vocab_size"] == 3
    assert cfg["lr"] == 0.003 and cfg["context"] == 6 and cfg["targets"] == "exact" and cfg["process"] == "mess3"
    lines = (tiny_run / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 30
    # --resume takes the run's saved options; only the new length is given
    out = run("train", "mess3", "--out", tiny_run, "--resume", "--steps", "40", "--quiet", check=False)
    assert out.returncode == 0, out.stderr
    steps = [json.loads(x)["step"] for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 40 and steps == sorted(set(steps))


def test_probe_and_attention(tiny_run):
    out = run("probe", tiny_run, "--no-untrained").stdout
    assert "verdict:" in out and "concat" in out
    d = json.loads((tiny_run / "probe.json").read_text())
    assert f"verdict: {d['verdict'].upper()}" in out  # the command prints what it saved
    h = d["points"][d["headline"]]["test"]
    from nets.probe import verdict

    assert d["verdict"] == verdict(h["r2"], h["rmse"], d["baselines"]["rmse"])[0]  # the verdict follows from the numbers
    assert (tiny_run / "probe_geometry.png").exists() and (tiny_run / "probe_by_layer.png").exists()
    probe_page = (tiny_run / "report.html").read_text()
    out = run("attention", tiny_run, "--samples", "256").stdout
    assert "lambda" in out and (tiny_run / "attention.json").exists()
    # attention.html: one panel per layer with the predicted decays; the probe's page stays
    page = (tiny_run / "attention.html").read_text()
    assert page.count("data-qb-figure=") == 1 and "predicted" in page and "attention.html" in out
    assert (tiny_run / "report.html").read_text() == probe_page


def test_train_rnn_from_generator_file(tmp_path):
    run("train", EXAMPLES / "mess3.toml", "--model", "gru", "--hidden", "16", "--n-layers", "1", "--steps", "5",
        "--context", "5", "--out", tmp_path / "g", "--quiet")
    out = run("probe", tmp_path / "g", "--no-untrained", "--markov-order", "1").stdout
    assert "layers.0.hidden" in out
    p = run("attention", tmp_path / "g", check=False)
    one_line_error(p, "transformer")


@pytest.mark.parametrize("args,needles", [
    (["info", "mess4"], ["unknown process 'mess4'", "did you mean mess3"]),
    (["info", "mess3:x"], ["malformed parameter"]),
    (["info", "mess3:x=abc"], ["not a number"]),
    (["info", "mess3:z=1"], ["no parameter 'z'"]),
    (["info", "mess3:x=0.9"], ["0 <= x <= 0.5"]),
    (["beliefs", "moon:alpha=0.5", "--out", "/tmp/qb-x"], ["alpha > 1 > beta"]),
    (["probe", "/nonexistent/run"], ["does not exist"]),
    (["attention", str(ROOT / "examples")], ["not a run directory"]),
    (["train", "mess3", "--out", "/tmp/qb-y", "--optimizer", "rmsprop", "--steps", "1"], ["optimizer"]),
])
def test_errors_are_one_line(args, needles):
    one_line_error(run(*args, check=False), *needles)


def test_invalid_generator_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "quantum"\nkraus = [[[[1, 0], [0, 0.5]]]]\n')
    one_line_error(run("info", bad, check=False), "bad.toml", "complete instrument")
    bad.write_text('kind = "hmm"\nT = [[[0.5, 0.4], [0.5, 0.5]]]\n')
    one_line_error(run("info", bad, check=False), "row 0 sums")
    cfg = tmp_path / "c.toml"
    cfg.write_text("nlayers = 2\n")
    one_line_error(run("train", "mess3", "--config", cfg, "--out", tmp_path / "r", check=False),
                   "unknown config key", "nlayers")


def test_paper_lists_the_installed_experiments_and_rejects_unknown_names():
    out = run("paper").stdout
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert names == sorted(["shai2024_belief_geometry", "riechers2025_quantum", "piotrowski2025_attention",
                            "shai2026_factored", "preregistered_heads", "demo"])
    assert "Transformers learn factored representations" in out
    one_line_error(run("paper", "shai2025", check=False), "unknown paper 'shai2025'", "did you mean",
                   "shai2024_belief_geometry")



def test_paper_forwards_seeds_protocol_and_fresh(monkeypatch, capsys):
    """`qbelief paper NAME ...` hands the experiment its own command line."""
    from nets import cli

    seen = []

    class EP:
        name, value = "toy", "toy:main"

        def load(self):
            return lambda argv: seen.append(argv) or 0

    monkeypatch.setattr(cli, "experiments", lambda: {"toy": EP()})
    assert cli.main(["paper", "toy", "--tiny", "--seeds", "2", "--protocol", "paper", "--fresh", "--out", "o"]) == 0
    assert seen == [["--tiny", "--out", "o", "--seeds", "2", "--protocol", "paper", "--fresh"]]
    assert cli.main(["paper", "toy"]) == 0 and seen[-1] == ["--quick"]
    assert cli.main(["paper", "toy", "--protocol", "theirs"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_library_never_imports_the_application():
    """No module of generators, bayes or nets imports papers (the CLI finds them by entry point)."""
    import ast

    offenders = []
    for pkg in ("generators", "bayes", "nets"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "papers"]
    assert offenders == []


def test_train_rnn_from_a_python_generator_file_stores_its_table(tmp_path):
    script = tmp_path / "proc.py"
    script.write_text("from generators import library\ngenerator = library.mess3(x=0.15, a=0.6)\n")
    run("train", script, "--model", "gru", "--hidden", "8", "--n-layers", "1", "--steps", "2", "--context", "3",
        "--out", tmp_path / "r", "--quiet")
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["process"]["kind"] == "hmm" and cfg["model"]["kind"] == "gru"
    np.testing.assert_allclose(cfg["process"]["T"][0][0], [0.42, 0.03, 0.03], atol=1e-12)  # T0[0] = [a y, b x, b x]
    script.unlink()  # the run no longer needs the file, and reopening it runs no code
    out = run("probe", tmp_path / "r", "--no-untrained", "--markov-order", "1").stdout
    assert "layers.0.hidden" in out


def test_debug_shows_traceback():
    p = run("--debug", "info", "mess4", check=False)
    assert p.returncode != 0 and "Traceback" in p.stderr
