"""Geometry over training (nets.callbacks, nets.probe.over_training, nets.probe.training_figure).

Known answers: ``probe_every`` probes exactly the steps 0, every N and the last; probing
leaves the training's losses unchanged (RNG states kept); a stopped and resumed run has the
same probe records as an uninterrupted one, none doubled; the records made during training
equal a probe of the checkpoints kept at the same steps.
"""

import json

import numpy as np
import pytest

from generators.errors import ArgumentError
from nets.callbacks import Callback, CallbackList
from nets.checkpoint import load_model
from nets.probe.over_training import (FIGURE, PROBES, ProbeRecords, TrainingProbe, probe_over_training,
                                      write_over_training)
from nets.probe.training_figure import plot_geometry_over_training, spread
from nets.rundir import read_jsonl
from nets.train import TrainConfig, train

TINY = dict(process="mess3", context=4, model=dict(kind="gru", hidden=12, n_layers=1), batch_size=16, steps=8,
            lr=1e-2, device="cpu", quiet=True, num_threads=1, log_every=2, checkpoint_every=2)


def tiny(out, **kw) -> TrainConfig:
    return TrainConfig.from_dict({**TINY, "out_dir": None if out is None else str(out), **kw})


def probe_lines(out):
    return read_jsonl(out / PROBES)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    res = train(tiny(out, steps=10, probe_every=4, keep_checkpoints=[4, 8]))
    return out, res


def test_probe_every_probes_exactly_the_expected_steps(uninterrupted):
    out, res = uninterrupted
    lines = probe_lines(out)
    assert [r["step"] for r in lines] == [0, 4, 8, 10]
    assert sorted(ProbeRecords(out).steps_on_disk()) == [0, 4, 8, 10]
    by_step = {r["step"]: r for r in lines}
    probed = [r for r in res.history if "probe_r2" in r]
    assert [r["step"] for r in probed] == [4, 8, 10]  # step 0 is not a logged step
    for r in probed:  # the metrics record carries the probe's numbers
        assert r["probe_r2"] == by_step[r["step"]]["r2"] and r["probe_rmse"] == by_step[r["step"]]["rmse"]
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("probe_r2") for r in logged] == [r.get("probe_r2") for r in res.history]
    assert (out / FIGURE).stat().st_size > 0


def test_probing_does_not_change_the_training(uninterrupted, tmp_path):
    _, res = uninterrupted
    plain = train(tiny(tmp_path / "plain", steps=10, keep_checkpoints=[4, 8]))
    assert [r["loss"] for r in plain.history] == [r["loss"] for r in res.history]


def test_resume_neither_doubles_nor_loses_probe_records(uninterrupted, tmp_path):
    ref, _ = uninterrupted
    out = tmp_path / "run"

    class StopAt6(Callback):
        def on_log(self, state, record):
            return record["step"] == 6

    first = train(tiny(out, steps=10, probe_every=4), callback=StopAt6())
    assert first.steps_done == 6 and [r["step"] for r in probe_lines(out)] == [0, 4]
    train(tiny(out, steps=10, probe_every=4), resume=True)
    got, want = probe_lines(out), probe_lines(ref)
    assert [r["step"] for r in got] == [0, 4, 8, 10]
    np.testing.assert_allclose([r["r2"] for r in got], [r["r2"] for r in want], rtol=1e-10)
    again = train(tiny(out, steps=10, probe_every=4), resume=True)  # nothing left to train
    assert again.steps_done == 10 and [r["step"] for r in probe_lines(out)] == [0, 4, 8, 10]


def test_fresh_start_with_overwrite_clears_old_records(uninterrupted, tmp_path):
    out = tmp_path / "run"
    train(tiny(out, steps=4, probe_every=2))
    train(tiny(out, steps=4, probe_every=4), overwrite=True)
    assert [r["step"] for r in probe_lines(out)] == [0, 4]
    assert sorted(ProbeRecords(out).steps_on_disk()) == [0, 4]


def test_overwrite_without_probing_removes_the_old_probes(tmp_path):
    out = tmp_path / "run"
    train(tiny(out, steps=4, probe_every=2))
    (out / "tracking.json").write_text("{}")
    train(tiny(out, steps=4), overwrite=True)
    assert not (out / PROBES).exists() and not list(out.glob("probes/*")) and not (out / FIGURE).exists()
    assert not (out / "tracking.json").exists()  # a new run starts new tracker runs


def test_training_records_equal_a_probe_of_the_kept_checkpoints(uninterrupted):
    out, _ = uninterrupted
    recorded, ref = ProbeRecords(out).load(TrainingProbe())
    assert [c["step"] for c in recorded] == [0, 4, 8, 10]
    for c in recorded:
        if c["step"] not in (4, 8):
            continue
        model, cfg = load_model(out / "checkpoints" / f"step_{c['step']}.pt")
        result, _ = TrainingProbe().probe(model.eval(), cfg.generator())
        np.testing.assert_allclose(c["points"], result.arrays["predicted"], atol=1e-5)  # stored as float32
        assert c["metrics"]["r2"] == pytest.approx(result.points[result.headline].test["r2"], abs=1e-12)
        np.testing.assert_array_equal(ref["beliefs"], result.arrays["beliefs"])


def test_probe_over_training_after_the_fact(uninterrupted, tmp_path):
    out, _ = uninterrupted
    found = probe_over_training(out, untrained=None, markov_order=None)
    assert [c["step"] for c in found.checkpoints] == [0, 4, 8, 10]
    assert found.sources[10] == "newest checkpoint" and found.sources[0] == "training record"
    # another representation: no matching records, the kept checkpoints are probed
    other = probe_over_training(out, TrainingProbe(representation="native"), untrained=None, markov_order=None)
    assert other.sources == {4: "kept checkpoint", 8: "kept checkpoint", 10: "newest checkpoint"}
    md = write_over_training(out, tmp_path / "ot", untrained=None, markov_order=None)
    html = md.with_suffix(".html").read_text()
    assert '"steps":[0,4,8,10]' in html  # the training slider's steps
    saved = json.loads((tmp_path / "ot" / "probe_over_training.json").read_text())
    assert [c["step"] for c in saved] == [0, 4, 8, 10]


def test_probe_every_must_be_a_multiple_of_log_every():
    with pytest.raises(ArgumentError, match="probe_every=3 must be a multiple of log_every=2"):
        tiny(None, probe_every=3)
    with pytest.raises(ArgumentError, match="probe_every"):
        tiny(None, probe_every=-2)


def test_probe_callback_without_run_directory_keeps_checkpoints_in_memory():
    from nets.probe.over_training import ProbeCallback

    cb = ProbeCallback(4)
    train(tiny(None, steps=8), callback=cb)
    assert [c["step"] for c in cb.checkpoints] == [0, 4, 8]


def test_callback_list_closes_every_callback_and_raises_the_first_error():
    closed = []

    class C(Callback):
        def __init__(self, name, fail):
            self.name, self.fail = name, fail

        def close(self):
            closed.append(self.name)
            if self.fail:
                raise RuntimeError(self.name)

    with pytest.raises(RuntimeError, match="a"):
        CallbackList([C("a", True), C("b", True), C("c", False)]).close()
    assert closed == ["a", "b", "c"]


def test_small_multiples_panels():
    rng = np.random.default_rng(0)
    beliefs = rng.dirichlet(np.ones(3), size=30)
    cps = [{"step": s, "points": beliefs + 0.01 * s * rng.normal(size=beliefs.shape), "metrics": {"r2": 0.5}}
           for s in range(12)]
    fig = plot_geometry_over_training(cps, beliefs, np.ones(30), max_panels=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles[:5] == ["step 0\nR² 0.500", "step 4\nR² 0.500", "step 7\nR² 0.500", "step 11\nR² 0.500",
                          "true beliefs"]
    assert spread(12, 4) == [0, 4, 7, 11]


def test_cli_probe_report_has_the_training_slider(uninterrupted, tmp_path, capsys):
    from nets.cli import main

    out, _ = uninterrupted
    assert main(["probe", str(out), "--out", str(tmp_path / "p"), "--no-untrained"]) == 0
    assert '"steps":[0,4,8,10]' in (tmp_path / "p" / "report.html").read_text()
    assert main(["probe", str(out), "--out", str(tmp_path / "p2"), "--no-untrained", "--seed", "1"]) == 0
    assert '"steps":' not in (tmp_path / "p2" / "report.html").read_text()  # other held-out rows: no slider
    assert main(["probe", str(out), "--over-training", "--out", str(tmp_path / "ot"), "--no-untrained",
                 "--representation", "native"]) == 0
    html = (tmp_path / "ot" / "report.html").read_text()
    assert '"steps":[4,8,10]' in html and (tmp_path / "ot" / FIGURE).exists()  # kept checkpoints 4, 8
    assert main(["probe", str(out), "--over-training", "--representation", "both"]) == 2
    assert "--over-training probes one representation" in capsys.readouterr().err
