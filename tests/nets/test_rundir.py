"""Run directories (nets.rundir, nets.checkpoint): lock, checksums, rotation, fallback, metrics log.

Fault injection: every crash point of a checkpoint write (an exception at each rename),
damaged files of every kind, corrupt metrics lines.  After each fault the run must open
(the newest intact checkpoint, with a warning when it is not the latest) and a resumed
run must reproduce the uninterrupted one exactly.
"""

import json
import os
import warnings

import pytest
import torch

from nets import rundir
from nets.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, load_model, open_run
from nets.rundir import (CHECKPOINT, PREVIOUS, CheckpointError, RunBusyError, RunExistsError, RunMismatchError,
                         RunWarning)
from nets.train import TrainConfig, train

TINY = dict(process="mess3", context=4, model=dict(kind="transformer", n_layers=1, d_model=8, d_mlp=16),
            batch_size=8, steps=6, lr=3e-3, device="cpu", quiet=True, num_threads=1, checkpoint_every=2)


def tiny(out, **kw) -> TrainConfig:
    return TrainConfig.from_dict({**TINY, "out_dir": str(out), **kw})


def losses(res):
    return [r["loss"] for r in res.history]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 6-step run (checkpoints at 2, 4, 6) and its losses."""
    out = tmp_path_factory.mktemp("ref") / "run"
    res = train(tiny(out))
    return out, losses(res), {k: v.clone() for k, v in res.model.state_dict().items()}


# ---------------------------------------------------------------------- layout and checksums
def test_layout_checksums_and_rotation(reference):
    out, _, _ = reference
    latest, prev = load_checkpoint(out / CHECKPOINT), load_checkpoint(out / PREVIOUS)
    assert (latest["step"], prev["step"]) == (6, 4)
    for p in (out / CHECKPOINT, out / PREVIOUS):
        digest, name = rundir.checksum_path(p).read_text().split()
        assert name == p.name and digest == __import__("hashlib").sha256(p.read_bytes()).hexdigest()
    assert not list(out.glob(".*tmp*")) and sorted(os.listdir(out)) == sorted(
        [".qbelief.lock", "config.json", "metrics.jsonl", CHECKPOINT, CHECKPOINT + ".sha256", PREVIOUS,
         PREVIOUS + ".sha256", "weights"])
    assert sorted(os.listdir(out / "weights")) == ["config.json", "model.safetensors"]


def test_keep_checkpoints_saves_the_chosen_steps(tmp_path):
    res = train(tiny(tmp_path / "r", steps=7, checkpoint_every=0, keep_checkpoints=[5, 3, 3, 20]))
    kept = sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir())
    assert kept == ["step_3.pt", "step_3.pt.sha256", "step_5.pt", "step_5.pt.sha256"]
    ck = load_checkpoint(tmp_path / "r" / "checkpoints" / "step_5.pt")
    assert ck["step"] == 5 and ck["config"]["keep_checkpoints"] == [3, 5, 20]
    assert load_checkpoint(tmp_path / "r")["step"] == 7  # the latest: the end of the run
    model, cfg = load_model(tmp_path / "r" / "checkpoints" / "step_3.pt")  # checked against ../config.json
    assert cfg.keep_checkpoints == (3, 5, 20)
    resumed = train(tiny(tmp_path / "r2", steps=3, checkpoint_every=0, keep_checkpoints=[3, 5]))
    assert (tmp_path / "r2" / "checkpoints" / "step_3.pt").exists()
    longer = train(tiny(tmp_path / "r2", steps=7, checkpoint_every=0, keep_checkpoints=[3, 5]), resume=True)
    assert losses(longer) == losses(res)  # keeping checkpoints changes nothing in the run
    assert (tmp_path / "r2" / "checkpoints" / "step_5.pt").exists()
    assert resumed.steps_done == 3
    with pytest.raises(ValueError, match="keep_checkpoints step must be an integer >= 1"):
        tiny(tmp_path, keep_checkpoints=[0])


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "random", "text", "pickle", "zip_of_junk",
                                    "missing_key", "string_step", "bad_rng", "wrong_shapes", "bad_checksum_file"])
def test_damaged_latest_falls_back_to_previous_with_one_warning(reference, tmp_path, damage):
    src, ref_losses, ref_state = reference
    out = tmp_path / "run"
    __import__("shutil").copytree(src, out)
    _damage(out / CHECKPOINT, damage)
    with pytest.warns(RunWarning) as w:
        ckpt, path, _ = open_run(out)
    assert path.name == PREVIOUS and ckpt["step"] == 4
    assert len(w) == 1 and "checkpoint.pt" in str(w[0].message) and "using checkpoint.prev.pt (step 4)" in \
        str(w[0].message) and "\n" not in str(w[0].message)
    with pytest.raises(CheckpointError, match="damaged") as e:
        load_model(out / CHECKPOINT)  # the file itself: one line naming it
    assert str(out / CHECKPOINT) in str(e.value) and "\n" not in str(e.value)
    with pytest.warns(RunWarning):
        res = train(tiny(out), resume=True)  # continues from step 4 and reproduces the run
    assert losses(res) == ref_losses
    assert all(torch.equal(v, ref_state[k]) for k, v in res.model.state_dict().items())
    assert (out / (CHECKPOINT + ".damaged")).exists()  # kept for inspection, out of the rotation
    assert open_run(out)[0]["step"] == 6


def test_no_intact_checkpoint_is_one_clear_error(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    _damage(out / CHECKPOINT, "flip")
    _damage(out / PREVIOUS, "truncate")
    with pytest.raises(CheckpointError, match="no intact checkpoint is left") as e:
        open_run(out)
    assert "checkpoint.pt is damaged" in str(e.value) and "checkpoint.prev.pt is damaged" in str(e.value)
    assert "--overwrite" in str(e.value)
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        train(tiny(out), resume=True)


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
        return
    if how == "bad_checksum_file":
        rundir.checksum_path(path).write_text("not a digest\n")
        return
    if how == "truncate":
        new = bytes(data[: len(data) // 2])
    elif how == "empty":
        new = b""
    elif how == "random":
        new = bytes(__import__("numpy").random.default_rng(0).integers(0, 256, 20000, dtype="uint8"))
    elif how == "text":
        new = b"hello\n"
    elif how == "pickle":
        new = __import__("pickle").dumps({"format": CHECKPOINT_FORMAT, "step": 1})
    else:
        ck = torch.load(path, weights_only=True)
        if how == "zip_of_junk":
            ck = [1, 2, 3]
        elif how == "missing_key":
            del ck["model_config"]
        elif how == "string_step":
            ck["step"] = "4"
        elif how == "bad_rng":
            ck["rng"] = {"torch": 1}
        elif how == "wrong_shapes":
            ck["model"]["W_E.weight"] = torch.zeros(2, 2)
        buf = __import__("io").BytesIO()
        torch.save(ck, buf)
        new = buf.getvalue()
    path.write_bytes(new)
    if how in ("zip_of_junk", "missing_key", "string_step", "bad_rng", "wrong_shapes"):  # a well-formed file:
        rundir.checksum_path(path).write_text(  # its checksum matches, the content is what is wrong
            f"{__import__('hashlib').sha256(new).hexdigest()}  {path.name}\n")


# ---------------------------------------------------------------------- crash points
def test_a_crash_at_any_rename_of_a_checkpoint_write_loses_nothing(reference, tmp_path, monkeypatch):
    """Raise at the k-th os.replace of the save at step 4 (each crash point in turn): the
    run opens, and resuming it reproduces the uninterrupted run bit for bit."""
    _, ref_losses, ref_state = reference

    class Crash(BaseException):
        pass

    real_replace = os.replace
    for k in range(1, 8):
        out = tmp_path / f"crash{k}"
        calls = []

        def replace(a, b, _calls=calls, _k=k):
            if str(out) in str(b) and train_state["step"] == 4:
                _calls.append(b)
                if len(_calls) == _k:
                    raise Crash
            return real_replace(a, b)

        train_state = {"step": 0}
        monkeypatch.setattr(os, "replace", replace)
        try:
            with pytest.raises(Crash):
                train(tiny(out), callback=lambda s, r: train_state.__setitem__("step", s))
        except pytest.fail.Exception:  # k beyond the renames of one save: the run finished
            monkeypatch.setattr(os, "replace", real_replace)
            break
        monkeypatch.setattr(os, "replace", real_replace)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunWarning)
            ckpt, _, _ = open_run(out)
            assert ckpt["step"] in (2, 4)
            res = train(tiny(out), resume=True)
        assert losses(res) == ref_losses, k
        assert all(torch.equal(v, ref_state[k2]) for k2, v in res.model.state_dict().items())
    assert k >= 5  # staged, checksum -> prev, latest -> prev, new checksum, staged -> latest


# ---------------------------------------------------------------------- the lock
def test_lock_refuses_a_second_writer_and_is_released(tmp_path):
    out = tmp_path / "r"
    with rundir.run_lock(out):
        with pytest.raises(RunBusyError, match=rf"in use: another qbelief process \(pid {os.getpid()}\)"):
            with rundir.run_lock(out):
                pass
        with pytest.raises(RunBusyError, match="choose another --out"):
            train(tiny(out))
        assert not rundir.holds_run(out)  # the refused run wrote nothing
    with rundir.run_lock(out):  # released
        pass
    train(tiny(out, steps=2))


def test_a_training_holds_the_lock_for_its_whole_run(tmp_path):
    out = tmp_path / "r"
    seen = []

    def probe_lock(step, rec):
        try:
            with rundir.run_lock(out):
                seen.append("free")
        except RunBusyError:
            seen.append("held")

    train(tiny(out, steps=3), callback=probe_lock)
    assert seen == ["held"] * 3


def test_stale_temporaries_are_removed_under_the_lock(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    stale = [out / ".checkpoint.pt.abc123.tmp.pt", out / ".checkpoint.pt.staged.tmp.pt",
             out / ".metrics.jsonl.x1.tmp.jsonl", out / ".checkpoint.pt.sha256.q.tmp.sha256",
             out / "..checkpoint.pt.staged.tmp.pt.9tu05tbx.tmp.pt", out / ".config.json.k2.tmp.json"]
    (out / "checkpoints").mkdir()
    stale.append(out / "checkpoints" / ".step_3.pt.zz.tmp.pt")
    for p in stale:
        p.write_bytes(b"partial")
    keep = out / "notes.txt"
    keep.write_text("mine")
    train(tiny(out, steps=8), resume=True)
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"


# ---------------------------------------------------------------------- fresh, overwrite, resume
def test_a_directory_holding_a_run_is_never_replaced_silently(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(RunExistsError, match="already holds a run.*--resume.*--overwrite"):
        train(tiny(out, process="rrxor", steps=2))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    (out / "probe.json").write_text("{}")
    (out / "mine.txt").write_text("x")
    res = train(tiny(out, process="rrxor", steps=2, checkpoint_every=0), overwrite=True)
    assert res.steps_done == 2 and not (out / PREVIOUS).exists() and not (out / "probe.json").exists()
    assert (out / "mine.txt").exists()
    assert json.loads((out / "config.json").read_text())["process"] == "rrxor"
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    with pytest.raises(ValueError, match="give one"):
        train(tiny(out), resume=True, overwrite=True)


def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    with pytest.raises(ValueError, match="max_beliefs=5"):
        train(tiny(out, context=9, max_beliefs=5), overwrite=True)
    assert open_run(out)[0]["step"] == 6


def test_resume_edge_cases(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    config = (out / "config.json").read_text()
    with pytest.raises(rundir.RunDirError, match="already at step 6; ask for steps >= 6"):
        train(tiny(out, steps=3), resume=True)
    assert (out / "config.json").read_text() == config  # nothing rewritten
    res = train(tiny(out, steps=6), resume=True)  # the same length: nothing to do, nothing lost
    assert res.steps_done == 6 and len(res.history) == 6
    with pytest.raises(ValueError, match="cannot resume.*lr"):
        train(tiny(out, lr=0.1, steps=8), resume=True)
    fresh = tmp_path / "fresh"  # resume=True with nothing to resume starts afresh
    assert train(tiny(fresh, steps=2), resume=True).steps_done == 2


def test_config_json_of_another_run_is_refused_on_every_load(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "process": "rrxor", "seed": 3}))
    for load in (open_run, load_model, lambda p: load_model(p / CHECKPOINT),
                 lambda p: train(tiny(p, steps=8), resume=True)):
        with pytest.raises(RunMismatchError, match="mixes two runs: config.json has process='rrxor'") as e:
            load(out)
        assert "checkpoint.pt (step 6)" in str(e.value) and "differing: process, model.vocab_size, seed" in str(e.value)
    (out / "config.json").write_text(json.dumps({**cfg, "steps": 100, "quiet": False}))  # resumable fields
    assert open_run(out)[0]["step"] == 6
    (out / "config.json").write_text("{not json")
    with pytest.warns(RunWarning, match="cannot be read.*using the config stored in checkpoint.pt"):
        open_run(out)
    (out / "config.json").unlink()
    assert open_run(out)[0]["step"] == 6  # the checkpoint holds its config


def test_model_config_disagreeing_with_the_training_config_is_refused(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    p = out / CHECKPOINT
    ck = torch.load(p, weights_only=True)
    ck["config"]["context"] = 7  # the checkpoint's own config says another model than its model_config
    torch.save(ck, p)
    rundir.checksum_path(p).write_text(f"{__import__('hashlib').sha256(p.read_bytes()).hexdigest()}  {p.name}\n")
    with pytest.raises(CheckpointError, match="model_config has n_ctx=4 but its training config implies n_ctx=7"):
        load_checkpoint(p) and load_model(p)


# ---------------------------------------------------------------------- metrics log
def test_metrics_log_keeps_every_valid_line(tmp_path):
    p = tmp_path / "metrics.jsonl"
    rows = [json.dumps({"step": s, "loss": 1.0 / s}) for s in range(1, 9)]
    rows[1] = rows[1][:10]  # a corrupt line in the middle
    rows[4] = '{"loss": 3}'  # no step
    p.write_text("\n".join(rows) + "\n" + '{"step": 9, "lo')  # and a torn last line
    with pytest.warns(RunWarning) as w:
        recs = rundir.read_jsonl(p)
    assert [r["step"] for r in recs] == [1, 3, 4, 6, 7, 8]
    assert len(w) == 1 and "skipped 2 damaged lines (lines 2, 5)" in str(w[0].message)
    with pytest.warns(RunWarning):
        assert [r["step"] for r in rundir.read_jsonl(p, upto_step=4)] == [1, 3, 4]
    p.write_text("\n".join(json.dumps({"step": s}) for s in (1, 2)) + '\n{"step": 3, "lo')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn last line alone is expected after a kill: no warning
        assert [r["step"] for r in rundir.read_jsonl(p)] == [1, 2]


def test_resume_over_a_corrupt_metrics_line_loses_no_record(reference, tmp_path):
    out = tmp_path / "run"
    __import__("shutil").copytree(reference[0], out)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:10]
    (out / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.warns(RunWarning, match="skipped 1 damaged line \\(line 2\\)"):
        train(tiny(out, steps=8), resume=True)
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 3, 4, 5, 6, 7, 8]
