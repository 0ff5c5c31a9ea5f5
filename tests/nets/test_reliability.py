"""The command line under bad input, damaged runs, concurrent writers and planted code.

Each case runs ``nets.cli.main([...])`` in-process (fast) unless it needs a real process
(a lock held by another process, kill -9, a closed pipe, torchrun).  Every failure must
be one line ``qbelief: error: ...`` on stderr with exit status 2 and no traceback; every
warning one line ``qbelief: warning: ...``.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nets import rundir
from nets.cli import main
from nets.rundir import CHECKPOINT, PREVIOUS

S = ["--n-layers", "1", "--d-model", "8", "--d-mlp", "16", "--context", "4", "--batch-size", "8", "--quiet"]
QBELIEF = Path(sys.executable).parent / "qbelief"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args):
    """``(exit status, stdout, stderr)`` of ``qbelief ARGS`` run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def one_line_error(result, *needles):
    rc, _, err = result
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("qbelief: warning:")]
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("qbelief: error: "), err
    for n in needles:
        assert n.lower() in lines[0].lower(), (n, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 4-step run with checkpoints at steps 2 and 4 (a pristine copy per test: ``fresh_run``)."""
    out = tmp_path_factory.mktemp("base") / "run"
    rc, _, err = cli("train", "mess3", "--out", out, "--steps", "4", "--checkpoint-every", "2", *S)
    assert rc == 0, err
    return out


@pytest.fixture
def fresh_run(run_dir, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    return out


def rewrite_checkpoint(path: Path, change) -> None:
    """Change a checkpoint's dict and re-record its checksum (as anyone editing the file can)."""
    ck = torch.load(path, weights_only=True)
    change(ck)
    torch.save(ck, path)
    rundir.checksum_path(path).write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")


# ---------------------------------------------------------------------- security
MARKER_CODE = "from pathlib import Path\nPath({marker!r}).write_text('ran')\nfrom generators import library\n" \
              "generator = library.mess3()\n"


@pytest.mark.parametrize("name, stored", [("gen.py", "{abs}"), ("gen.py", "gen.py"), ("gen.py", " gen.py\n"),
                                          ("GEN.PY", "GEN.PY"), ("gen.py", "mess3*{abs}"),
                                          ("gen.py", "{abs}*mess3")])
def test_opening_a_run_never_runs_a_planted_generator_file(fresh_run, tmp_path, monkeypatch, name, stored):
    """A run directory whose checkpoint (checksum re-recorded) and config.json name a .py
    generator: probe, attention, --resume and the API refuse in one line; the file never runs."""
    marker = tmp_path / "PWNED"
    script = fresh_run / name
    script.write_text(MARKER_CODE.format(marker=str(marker)))
    spec = stored.format(abs=script)
    monkeypatch.chdir(fresh_run)  # relative names resolve next to the planted file
    for p in (fresh_run / CHECKPOINT, fresh_run / PREVIOUS):
        rewrite_checkpoint(p, lambda ck: ck["config"].__setitem__("process", spec))
    cfg = json.loads((fresh_run / "config.json").read_text())
    (fresh_run / "config.json").write_text(json.dumps({**cfg, "process": spec}))
    for args in (["probe", fresh_run, "--no-untrained"], ["attention", fresh_run, "--samples", "8"],
                 ["train", "--out", fresh_run, "--resume", "--steps", "6"],
                 ["train", "mess3", "--out", fresh_run, "--resume", "--steps", "6", *S]):
        one_line_error(cli(*args))
        assert not marker.exists(), args
    from nets.checkpoint import load_model, open_run

    for load in (load_model, open_run, lambda p: load_model(p / CHECKPOINT)):
        with pytest.raises(ValueError):
            load(fresh_run)
    assert not marker.exists()


def test_a_pickle_payload_in_a_checkpoint_never_runs(fresh_run, tmp_path):
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    p = fresh_run / CHECKPOINT
    rewrite_checkpoint(p, lambda ck: ck.__setitem__("extra", Payload()))
    rc, _, err = cli("probe", fresh_run, "--no-untrained")
    assert rc == 0 and not marker.exists()  # the damaged latest is refused, the previous one probed
    assert "qbelief: warning:" in err and "torch.load cannot read it" in err and "checkpoint.prev.pt" in err
    shutil.copy(p, fresh_run / PREVIOUS)
    shutil.copy(rundir.checksum_path(p), rundir.checksum_path(fresh_run / PREVIOUS))
    one_line_error(cli("attention", fresh_run), "no intact checkpoint")
    assert not marker.exists()


def test_a_python_generator_runs_only_when_named_on_the_command_line(tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "proc.py"
    script.write_text(MARKER_CODE.format(marker=str(marker)))
    rc, _, err = cli("train", script, "--out", tmp_path / "r", "--steps", "2", *S)
    assert rc == 0 and marker.read_text() == "ran", err
    marker.unlink()
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["process"]["kind"] == "hmm"  # stored as its table
    rc, _, err = cli("attention", tmp_path / "r", "--samples", "8")
    assert rc == 0 and not marker.exists(), err


# ---------------------------------------------------------------------- runs lost or mixed up
def test_training_into_a_run_is_refused_unless_resume_or_overwrite(fresh_run):
    before = {p.name: p.read_bytes() for p in fresh_run.iterdir() if p.is_file() and p.name != ".qbelief.lock"}
    one_line_error(cli("train", "rrxor", "--out", fresh_run, "--steps", "5", *S), "already holds a run",
                   "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in fresh_run.iterdir() if p.is_file() and p.name != ".qbelief.lock"} \
        == before
    rc, out, err = cli("train", "rrxor", "--out", fresh_run, "--steps", "5", "--overwrite", *S)
    assert rc == 0, err
    assert json.loads((fresh_run / "config.json").read_text())["process"] == "rrxor"
    assert torch.load(fresh_run / CHECKPOINT, weights_only=True)["config"]["process"] == "rrxor"
    assert not (fresh_run / PREVIOUS).exists()  # the old run's files are gone with it
    one_line_error(cli("train", "rrxor", "--out", fresh_run, "--resume", "--overwrite", *S), "give one")


def test_a_second_writer_is_refused_while_the_first_holds_the_run(fresh_run):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from nets.rundir import run_lock\n"
                               f"with run_lock({str(fresh_run)!r}):\n print('locked', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_line_error(cli("train", "--out", fresh_run, "--resume", "--steps", "6"), "is in use",
                              f"pid {holder.pid}")
        one_line_error(cli("train", "mess3", "--out", fresh_run, "--overwrite", *S), "is in use")
        assert "choose another --out" in line
    finally:
        holder.send_signal(signal.SIGKILL)  # a killed holder leaves its lock file, which never blocks
        holder.wait()
    rc, _, err = cli("train", "--out", fresh_run, "--resume", "--steps", "6")
    assert rc == 0, err
    assert torch.load(fresh_run / CHECKPOINT, weights_only=True)["step"] == 6


def test_two_trainings_started_together_one_is_refused(tmp_path):
    """Two real processes race for one --out: exactly one trains, the other says why."""
    out = tmp_path / "r"
    cmd = [str(QBELIEF), "train", "mess3", "--out", str(out), "--steps", "300", "--checkpoint-every", "50", *S]
    procs = [subprocess.Popen(cmd + ["--seed", str(s)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=ENV) for s in (7, 8)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    err = next(e for rc, e in results if rc == 2).strip()
    assert len(err.splitlines()) == 1 and ("is in use" in err or "already holds a run" in err), err
    ck = torch.load(out / CHECKPOINT, weights_only=True)
    cfg = json.loads((out / "config.json").read_text())
    assert ck["step"] == 300 and ck["config"]["seed"] == cfg["seed"]  # one run, not two mixed
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 301))


def test_a_run_whose_config_and_checkpoint_disagree_is_refused(fresh_run):
    cfg = json.loads((fresh_run / "config.json").read_text())
    (fresh_run / "config.json").write_text(json.dumps({**cfg, "process": "rrxor"}))
    for args in (["probe", fresh_run], ["attention", fresh_run], ["train", "--out", fresh_run, "--resume"]):
        one_line_error(cli(*args), "mixes two runs", "config.json has process='rrxor'", "'mess3'")


def test_one_flipped_byte_is_found_and_the_previous_checkpoint_used(fresh_run):
    p = fresh_run / CHECKPOINT
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    rc, out, err = cli("attention", fresh_run, "--samples", "16")
    warn = [ln for ln in err.splitlines() if ln.startswith("qbelief: warning:")]
    assert rc == 0 and len(err.strip().splitlines()) == 1 and len(warn) == 1, err
    assert "checkpoint.pt is damaged" in warn[0] and "using checkpoint.prev.pt (step 2)" in warn[0]
    rc, out, err = cli("train", "--out", fresh_run, "--resume", "--steps", "6")
    assert rc == 0 and "using checkpoint.prev.pt (step 2)" in err
    assert torch.load(p, weights_only=True)["step"] == 6 and (fresh_run / (CHECKPOINT + ".damaged")).exists()


DAMAGES = {
    "empty": lambda b: b"", "truncated": lambda b: b[: len(b) // 2], "text": lambda b: b"hello\n",
    "random": lambda b: bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8)),
    "pickle": lambda b: __import__("pickle").dumps({"format": "qbelief.nets.checkpoint/1"}),
}
EDITS = {
    "missing model_config": lambda ck: ck.pop("model_config"), "missing model": lambda ck: ck.pop("model"),
    "missing rng": lambda ck: ck.pop("rng"), "string step": lambda ck: ck.__setitem__("step", "4"),
    "negative step": lambda ck: ck.__setitem__("step", -1), "not a dict": lambda ck: ck.clear(),
    "wrong format": lambda ck: ck.__setitem__("format", "other/1"),
}


@pytest.mark.parametrize("damage", [*DAMAGES, *EDITS])
def test_a_damaged_only_checkpoint_is_one_line_naming_it(fresh_run, damage):
    (fresh_run / PREVIOUS).unlink()
    rundir.checksum_path(fresh_run / PREVIOUS).unlink()
    p = fresh_run / CHECKPOINT
    if damage in DAMAGES:
        p.write_bytes(DAMAGES[damage](p.read_bytes()))
        rundir.checksum_path(p).unlink()  # no checksum: what torch makes of the bytes decides
    else:
        rewrite_checkpoint(p, EDITS[damage])
    for args in (["probe", fresh_run], ["attention", fresh_run], ["train", "--out", fresh_run, "--resume"],
                 ["train", "mess3", "--out", fresh_run, "--resume", *S]):
        line = one_line_error(cli(*args), str(p), "damaged", "--overwrite")
        assert len(line) < 700


def test_resume_edge_cases_on_the_command_line(fresh_run):
    cfg_before = (fresh_run / "config.json").read_text()
    one_line_error(cli("train", "--out", fresh_run, "--resume", "--steps", "2"), "already at step 4",
                   "steps >= 4")
    assert (fresh_run / "config.json").read_text() == cfg_before
    (fresh_run / "config.json").unlink()  # no config.json, no flags: the checkpoint's own config
    rc, out, err = cli("train", "--out", fresh_run, "--resume", "--steps", "6")
    assert rc == 0 and "trained 6 steps" in out, err
    assert json.loads((fresh_run / "config.json").read_text())["batch_size"] == 8
    one_line_error(cli("train", "mess3", "--out", fresh_run, "--resume", "--steps", "8", "--lr", "0.5"),
                   "cannot resume", "lr")
    one_line_error(cli("train", "--out", fresh_run.parent / "none", "--resume"), "no checkpoint to resume from")
    for p in fresh_run.glob("checkpoint*"):  # a run killed before its first checkpoint restarts from step 0
        p.unlink()
    rc, out, err = cli("train", "--out", fresh_run, "--resume", "--steps", "3")
    assert rc == 0 and "trained 3 steps" in out and "restarting it from step 0" in err, err
    cfg = json.loads((fresh_run / "config.json").read_text())
    (fresh_run / "config.json").write_text(json.dumps({**cfg, "lr": 0.5}))
    for p in fresh_run.glob("checkpoint*"):
        p.unlink()
    one_line_error(cli("train", "rrxor", "--out", fresh_run, "--resume", *S), "holds another run", "--overwrite")
    one_line_error(cli("train", "--out", fresh_run.parent / "none2"), "needs a PROCESS")


def test_resume_keeps_metrics_after_a_corrupt_line(fresh_run):
    m = fresh_run / "metrics.jsonl"
    lines = m.read_text().splitlines()
    lines[1] = lines[1][:10]
    m.write_text("\n".join(lines) + "\n")
    rc, _, err = cli("train", "--out", fresh_run, "--resume", "--steps", "6")
    assert rc == 0 and err.count("qbelief: warning:") == 1 and "skipped 1 damaged line (line 2)" in err, err
    assert [json.loads(x)["step"] for x in m.read_text().splitlines()] == [1, 3, 4, 5, 6]


def test_kill_9_during_checkpoint_writes_loses_nothing(tmp_path):
    """Kill a training that checkpoints every step at arbitrary moments, three times; each
    time the run opens, and resuming (which removes the stale temporaries) continues it."""
    out = tmp_path / "r"
    cmd = [str(QBELIEF), "train", "mess3", "--out", str(out), "--steps", "100000", "--checkpoint-every", "1", *S]
    rng = np.random.default_rng(3)
    for i in range(3):
        p = subprocess.Popen(cmd + (["--resume"] if i else []), stderr=subprocess.PIPE, env=ENV)
        while not (out / PREVIOUS).exists() and p.poll() is None:
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.05, 0.4)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        from nets.checkpoint import open_run

        with __import__("warnings").catch_warnings(record=True) as w:
            __import__("warnings").simplefilter("always")
            ckpt, path, _ = open_run(out)  # loads (a one-line warning if the latest was being replaced)
        assert all(issubclass(x.category, rundir.RunWarning) and "\n" not in str(x.message) for x in w)
        assert ckpt["step"] >= 1 and ckpt["config"]["process"] == "mess3"
    rc, out_text, err = cli("train", "--out", out, "--resume", "--steps", str(ckpt["step"] + 3))
    assert rc == 0, err
    assert not list(out.glob(".*tmp*"))  # stale temporaries removed under the lock
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, ckpt["step"] + 4))


# ---------------------------------------------------------------------- bad input, one line each
def test_config_file_values_are_checked(tmp_path):
    cases = {'betas = [0.9]\n': "betas must be two numbers", 'bos = "yes"\n': "bos must be true or false",
             'bos = "false"\n': "bos must be true or false", 'bf16 = 1\n': "bf16 must be true or false",
             'keep_checkpoints = [0]\n': "keep_checkpoints", 'steps = "10"\n': "steps must be an integer",
             'lr = nan\n': "lr must be a finite", '[model]\nd_head = 2.5\n': "d_head must be an integer",
             'max_beliefs = -1\n': "max_beliefs"}
    for text, needle in cases.items():
        c = tmp_path / "c.toml"
        c.write_text(text)
        one_line_error(cli("train", "mess3", "--config", c, "--out", tmp_path / "r", *S), needle)
        assert not (tmp_path / "r").exists()
    c.write_bytes(b"\xff\xfe\x00b\x00o")
    one_line_error(cli("train", "mess3", "--config", c, "--out", tmp_path / "r", *S), str(c), "UTF-8")
    one_line_error(cli("train", "mess3", "--config", tmp_path, "--out", tmp_path / "r", *S), "is not a file")


@pytest.mark.parametrize("args, needle", [
    (["probe", "RUN", "--markov-order", "abc"], "markov order must be an integer >= 0; got 'abc'"),
    (["probe", "RUN", "--markov-order", "-1"], "markov order must be an integer >= 0; got -1"),
    (["probe", "RUN", "--seed", "-1"], "seed must be an integer >= 0"),
    (["attention", "RUN", "--samples", "0"], "samples must be an integer >= 1; got 0"),
    (["train", "mess3", "--out", "OUT", "--nproc", "0"], "number of processes must be an integer >= 1"),
    (["train", "mess3", "--out", "OUT", "--nproc", "-1"], "number of processes must be an integer >= 1"),
    (["train", "mess3", "--out", "OUT", "--nproc", "3", *S], "must be divisible by the number of processes (3)"),
    (["train", "mess3", "--out", "OUT", "--steps", "1e9"], "invalid int value: '1e9'"),
    (["demo", "--seconds", "-1", "--out", "OUT"], "seconds must be a finite number > 0; got '-1'"),
    (["demo", "--seconds", "nan", "--out", "OUT"], "seconds must be a finite number > 0; got 'nan'"),
    (["beliefs", "mess3", "--out", ""], "output path must not be empty"),
    (["beliefs", "mess3", "--out", "OUT", "--depth", "-2"], "depth must be an integer >= 0"),
    (["beliefs", "mess3", "--out", "OUT", "--max-beliefs", "0"], "max beliefs must be an integer >= 1"),
    (["beliefs", "mess3", "--out", "OUT", "--tol", "inf"], "tol must be a finite number > 0"),
    (["info", "mess3", "--json", " "], "JSON path must not be empty"),
    (["info", ""], "process must not be empty"),
])
def test_flags_are_checked_before_any_work(fresh_run, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    args = [str(fresh_run) if a == "RUN" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    one_line_error(cli(*args), needle)
    assert sorted(os.listdir(tmp_path)) == ["run"]  # nothing written (in the working directory either)


def test_demo_checks_its_time_budget_before_any_work(tmp_path):
    from papers.demo.experiment import Demo

    for bad in (-1.0, float("nan"), 0.0, "10"):
        with pytest.raises(ValueError, match="seconds must be a finite real number > 0"):
            Demo(seconds=bad).execute("quick", tmp_path / "demo", quiet=True)
    assert not (tmp_path / "demo").exists()
    one_line_error(cli("demo", "--quick", "--seconds", "-1", "--out", tmp_path / "demo"),
                   "seconds must be a finite number > 0")
    assert not (tmp_path / "demo").exists()


def test_output_paths_that_cannot_be_written(tmp_path, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    one_line_error(cli("beliefs", "mess3", "--depth", "2", "--out", f), "is a file; a folder is needed")
    one_line_error(cli("train", "mess3", "--out", f / "sub", *S), "cannot be made", "afile is a file")
    one_line_error(cli("info", "mess3", "--depth", "1", "--json", tmp_path), "is a folder; a file path is needed")
    one_line_error(cli("info", "mess3", "--depth", "1", "--json", f / "x.json"), "afile is a file")
    one_line_error(cli("probe", f), "is a file, not a run directory")
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == ro else real(p, mode, **k))
    for args in (["beliefs", "mess3", "--out", ro / "b"], ["train", "mess3", "--out", ro / "run", *S],
                 ["demo", "--quick", "--out", ro], ["info", "mess3", "--json", ro / "i.json"]):
        one_line_error(cli(*args), "no permission to write in", str(ro))
    assert list(ro.iterdir()) == []


def test_permission_errors_while_working_are_one_line(fresh_run, tmp_path, monkeypatch):
    """What the OS refuses (unreadable files, unwritable run directories) is reported by name."""
    g = tmp_path / "g.toml"
    g.write_text('kind = "hmm"\nT = [[[0.5, 0.5], [0.5, 0.5]]]\n')
    c = tmp_path / "c.toml"
    c.write_text("steps = 2\n")
    real_read_text, real_read_bytes = Path.read_text, Path.read_bytes

    def denied(path):
        if path in (g, c, fresh_run / CHECKPOINT, fresh_run / PREVIOUS):
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: denied(self) or real_read_text(self, *a, **k))
    monkeypatch.setattr(Path, "read_bytes", lambda self: denied(self) or real_read_bytes(self))
    one_line_error(cli("info", g), "permission denied", str(g))
    one_line_error(cli("train", "mess3", "--config", c, "--out", tmp_path / "r", *S), "permission denied", str(c))
    one_line_error(cli("probe", fresh_run), "permission denied", "checkpoint.pt")
    monkeypatch.undo()
    import tempfile

    real_mkstemp = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, dir=None, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(dir))) if str(dir).startswith(str(fresh_run)) else
        real_mkstemp(*a, dir=dir, **k))
    one_line_error(cli("train", "--out", fresh_run, "--resume", "--steps", "6"), "permission denied", str(fresh_run))
    one_line_error(cli("attention", fresh_run, "--samples", "8"), "permission denied", str(fresh_run))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes everything")
def test_real_permissions(fresh_run, tmp_path):
    g = tmp_path / "g.toml"
    g.write_text('kind = "hmm"\nT = [[[0.5, 0.5], [0.5, 0.5]]]\n')
    g.chmod(0)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line_error(cli("info", g), "permission denied")
        one_line_error(cli("train", "mess3", "--out", ro / "run", *S), "no permission")
    finally:
        g.chmod(0o644)
        ro.chmod(0o755)


def test_memory_is_estimated_before_it_is_allocated(tmp_path):
    line = one_line_error(cli("train", "mess3", "--batch-size", "1000000000", "--steps", "1", "--out", tmp_path / "a",
                              "--quiet"), "one training step needs about", "the cap", "lower --batch-size")
    assert "batch_size=1,000,000,000" in line
    assert not rundir.holds_run(tmp_path / "a")
    one_line_error(cli("train", "mess3", "--d-model", "200000", "--n-layers", "40", "--steps", "1", "--out",
                       tmp_path / "b", "--quiet"), "model", "the cap")
    one_line_error(cli("train", "mess3", "--context", "12", "--max-beliefs", "50", "--steps", "1", "--out",
                       tmp_path / "c", *S[:-5]), "max_beliefs=50", "--max-beliefs")
    rc, out, err = cli("beliefs", "mess3", "--depth", "30", "--max-beliefs", "200", "--out", tmp_path / "d",
                       "--quiet")
    assert rc == 0 and "stopped at max-beliefs" in out, err


@pytest.mark.slow
def test_default_belief_caps_refuse_in_one_line(tmp_path):
    one_line_error(cli("beliefs", "mess3", "--keep-all", "--depth", "25", "--out", tmp_path / "a", "--quiet"),
                   "default cap", "--max-beliefs")
    one_line_error(cli("beliefs", "bloch_walk", "--depth", "30", "--out", tmp_path / "b", "--quiet"),
                   "default cap", "--max-beliefs")
    one_line_error(cli("train", "mess3", "--context", "40", "--steps", "1", "--out", tmp_path / "c", "--quiet"),
                   "myopic_entropy", "--max-beliefs")


def test_debug_shows_the_traceback(fresh_run):
    (fresh_run / CHECKPOINT).write_bytes(b"")
    (fresh_run / PREVIOUS).unlink()
    with pytest.raises(rundir.CheckpointError, match="damaged"):
        cli("probe", fresh_run, "--debug")


def test_broken_pipe_is_silent():
    p = subprocess.Popen([str(QBELIEF), "processes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    first = p.stdout.readline()
    p.stdout.close()  # like `qbelief processes | head -1`
    rc = p.wait(timeout=120)
    err = p.stderr.read().decode()
    assert first.startswith(b"name") and "Traceback" not in err and "BrokenPipe" not in err and err == ""
    assert rc in (0, 141)


def test_torchrun_failures_show_their_cause(fresh_run, tmp_path):
    from nets.distributed import LaunchError, failure_cause, launch
    from nets.train import TrainConfig

    assert failure_cause("W0101 noise\n[rank0]: Traceback (most recent call last):\n[rank0]:   File \"x\"\n"
                         "[rank0]: ValueError: batch too big\nE0101 torchrun: failed") == "ValueError: batch too big"
    assert failure_cause("x\nqbelief: error: run is in use\ny\nTraceback\nRuntimeError: z") == "run is in use"
    holder = subprocess.Popen([sys.executable, "-c", "import time; from nets.rundir import run_lock\n"
                               f"with run_lock({str(fresh_run)!r}):\n print('locked', flush=True); time.sleep(300)"],
                              stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "locked"
        cfg = TrainConfig.from_dict({**json.loads((fresh_run / "config.json").read_text()), "out_dir": str(fresh_run)})
        with pytest.raises(LaunchError) as e:
            launch(cfg, 2, resume=True, timeout=300)
        assert "is in use" in str(e.value), e.value.output
        assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
