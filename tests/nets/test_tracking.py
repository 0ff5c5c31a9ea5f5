"""Experiment trackers (nets.tracking), offline: what each tracker holds is read back from its
files and compared with ``metrics.jsonl`` (the source of truth), across a stop and a resume.

Each tracker's test runs when its package is installed (``qbelief[tensorboard]``,
``qbelief[wandb]``, ``qbelief[mlflow]``) and is skipped with the reason otherwise.
"""

import importlib.util
import json
import time
import warnings
from pathlib import Path

import pytest

from generators.errors import ArgumentError
from nets import tracking
from nets.callbacks import Callback
from nets.rundir import read_jsonl
from nets.tracking import STATE, Tracker, Tracking, TrackingWarning, check_trackers, flat_params
from nets.train import TrainConfig, train

TINY = dict(process="mess3", context=4, model=dict(kind="gru", hidden=8, n_layers=1), batch_size=8, steps=10,
            lr=1e-2, device="cpu", quiet=True, num_threads=1, log_every=2, checkpoint_every=2, probe_every=4)
INSTALLED = [t for t in tracking.TRACKERS if importlib.util.find_spec(tracking.EXTRAS[t][0]) is not None]


def needs(name):
    return pytest.mark.skipif(name not in INSTALLED, reason=f"{name} is not installed (pip install "
                                                            f"'{tracking.EXTRAS[name][1]}')")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A run logged to every installed tracker, stopped at step 6 and resumed to step 10."""
    if not INSTALLED:
        pytest.skip("no tracker installed (pip install 'qbelief[tensorboard]')")
    root = tmp_path_factory.mktemp("tracked")
    out = root / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"file:{root / 'mlruns'}")
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_DIR", str(root))

        class StopAt6(Callback):
            def on_log(self, state, record):
                return record["step"] == 6

        cfg = TrainConfig.from_dict({**TINY, "out_dir": str(out), "log": INSTALLED})
        with warnings.catch_warnings():
            warnings.simplefilter("error", TrackingWarning)  # every installed tracker works
            train(cfg, callback=StopAt6())
            first_state = json.loads((out / STATE).read_text()) if (out / STATE).exists() else {}
            # wandb names an offline part's folder by its start second: a resumed part that
            # starts within the same second as the first would share (and overwrite) it
            time.sleep(1.1)
            train(cfg, resume=True)
    return root, out, first_state, read_jsonl(out / "metrics.jsonl")


def series(metrics, key):
    return {r["step"]: r[key] for r in metrics if key in r}


@needs("tensorboard")
def test_tensorboard_holds_every_logged_scalar_once(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, out, _, metrics = tracked
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()
    for key in ("loss", "relative", "probe_r2"):
        got = [(e.step, e.value) for e in acc.Scalars(key)]
        want = series(metrics, key)
        assert [s for s, _ in got] == sorted(want)  # a resumed run purges, never doubles
        assert [v for _, v in got] == pytest.approx([want[s] for s in sorted(want)], rel=1e-6)  # float32
    assert series(metrics, "probe_r2").keys() == {4, 8, 10}
    assert "probe_over_training" in acc.Tags()["images"]


@needs("mlflow")
def test_mlflow_run_is_continued_and_holds_the_metrics(tracked):
    from mlflow.tracking import MlflowClient

    root, out, first, metrics = tracked
    state = json.loads((out / STATE).read_text())
    assert state["mlflow"]["run_id"] == first["mlflow"]["run_id"]  # the resume continued the run
    client = MlflowClient(tracking_uri=f"file:{root / 'mlruns'}")
    run_id = state["mlflow"]["run_id"]
    for key in ("loss", "probe_r2"):
        hist = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        want = series(metrics, key)
        assert hist == [(s, pytest.approx(want[s], rel=1e-12)) for s in sorted(want)]
    run = client.get_run(run_id)
    assert run.data.params["model.kind"] == "gru" and run.data.params["lr"] == "0.01"
    assert run.data.metrics["final_loss"] == pytest.approx(metrics[-1]["loss"], rel=1e-12)
    assert "probe_over_training.png" in [a.path for a in client.list_artifacts(run_id)]


def _wandb_records(path: Path):
    """The protobuf records of an offline ``run-*.wandb`` file (a 7-byte W&B header, then
    LevelDB log records: crc 4 bytes, length 2, type 1; 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, buf = path.read_bytes(), 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            rec = pb.Record()
            rec.ParseFromString(buf)
            buf = b""
            yield rec


@needs("wandb")
def test_wandb_offline_files_hold_the_metrics(tracked):
    _, out, first, metrics = tracked
    files = sorted((out / "wandb").glob(f"offline-run-*-{first['wandb']['id']}/run-*.wandb"))
    assert len(files) == 2  # the first part and the resumed part, one run id
    history = {}
    for f in files:
        for rec in _wandb_records(f):
            if rec.WhichOneof("record_type") == "history":
                item = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item}
                if "loss" in item:
                    assert item["_step"] not in history  # never doubled
                    history[item["_step"]] = item
    want = series(metrics, "loss")
    assert sorted(history) == sorted(want)
    assert [history[s]["loss"] for s in sorted(want)] == pytest.approx([want[s] for s in sorted(want)], rel=1e-12)
    assert {s: history[s]["probe_r2"] for s in (4, 8, 10)} == pytest.approx(series(metrics, "probe_r2"))


def test_missing_tracker_warns_once_and_training_goes_on(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    cfg = TrainConfig.from_dict({**TINY, "probe_every": 0, "steps": 4, "out_dir": str(tmp_path / "r"),
                                 "log": ["wandb"]})
    with pytest.warns(TrackingWarning, match=r"wandb is not installed \(pip install 'qbelief\[wandb\]'\)"):
        res = train(cfg)
    assert res.steps_done == 4 and len(read_jsonl(tmp_path / "r" / "metrics.jsonl")) == 2


class _Failing(Tracker):
    name = "failing"

    def __init__(self):
        self.seen, self.closed = [], False

    def log_params(self, params):
        pass

    def log_metrics(self, metrics, step):
        self.seen.append(step)
        if step >= 4:
            raise OSError("disk full")

    def log_summary(self, values, step):
        pass

    def log_figure(self, path, step):
        pass

    def close(self):
        self.closed = True


def test_a_failing_tracker_is_dropped_with_one_warning():
    bad = _Failing()
    tr = Tracking([bad])
    with pytest.warns(TrackingWarning, match=r"failing failed in log_metrics \(OSError: disk full\)") as rec:
        for s in (2, 4, 6):
            tr.log_metrics({"loss": 1.0}, s)
    assert len(rec) == 1 and bad.seen == [2, 4] and bad.closed and tr.trackers == []


def test_check_trackers_and_flat_params():
    assert check_trackers("mlflow, tensorboard,mlflow") == ("mlflow", "tensorboard")
    assert check_trackers(("wandb,mlflow", "tensorboard")) == ("wandb", "mlflow", "tensorboard")  # --log a,b c
    with pytest.raises(ArgumentError, match="did you mean 'mlflow'"):
        check_trackers(["mlflo"])
    with pytest.raises(ArgumentError, match="log must be a list"):
        check_trackers(3)
    assert flat_params({"model": {"kind": "gru", "hidden": 8}, "betas": [0.9, 0.99], "x": None,
                        "process": {"name": "p"}}) == {
        "model.kind": "gru", "model.hidden": 8, "betas": "[0.9, 0.99]", "x": "None", "process": '{"name": "p"}'}


@needs("mlflow")
def test_a_sweep_group_reaches_mlflow(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file:{tmp_path / 'mlruns'}")
    tracking.set_group(tmp_path / "run", "my-sweep")
    with Tracking.open(["mlflow"], tmp_path / "run", name="r") as tr:
        tr.log_metrics({"loss": 0.5, "note": "text is left out"}, 3)
    state = json.loads((tmp_path / "run" / STATE).read_text())
    assert state["group"] == "my-sweep"
    client = MlflowClient(tracking_uri=f"file:{tmp_path / 'mlruns'}")
    run = client.get_run(state["mlflow"]["run_id"])
    assert run.data.tags["qbelief.group"] == "my-sweep" and run.info.run_name == "r"
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == [(3, 0.5)]
    assert "note" not in run.data.metrics
