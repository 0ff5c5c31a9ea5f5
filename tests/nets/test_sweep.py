"""Sweeps (nets.sweep, nets.sweep_run, nets.sweep_backends, nets.sweep_report, nets.cli_sweep).

Known answers: the aggregate over seeds equals the mean and Student-t interval of the
per-run numbers read back independently (each run's probe file, each run's probes.jsonl);
a finished sweep run again retrains nothing and rewrites no checkpoint; a stopped run is
resumed, its probe records neither doubled nor lost; a changed config is refused for that
run only.  A tiny version of examples/sweep.toml runs here (in process, in a process pool,
and on a local Ray instance when Ray is installed).
"""

import copy
import importlib.util
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from generators.errors import ArgumentError
from nets.cli import main
from nets.probe.over_training import PROBES
from nets.probe.result import ProbeResult
from nets.rundir import read_jsonl
from nets.sweep import SweepPlan, load_sweep
from nets.sweep_backends import ray_available
from nets.sweep_run import PROBE_FILE, run_sweep

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sweep.toml"


def tiny_table(seeds=(0, 1, 2)):
    """examples/sweep.toml made tiny: the same tables, seconds of training."""
    table = tomllib.loads(EXAMPLE.read_text())
    table["sweep"]["seeds"] = list(seeds)
    table["base"].update(context=4, steps=6, batch_size=8, log_every=2, probe_every=2, checkpoint_every=2,
                         keep_checkpoints=[4], num_threads=1)
    table["models"]["transformer"].update(n_layers=1, d_model=8, n_heads=1, d_mlp=16)
    table["models"]["gru"].update(hidden=8)
    return table


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    plan = SweepPlan.from_dict(tiny_table(), out=tmp_path_factory.mktemp("sweep"))
    return plan, run_sweep(plan, workers=1)


# ---------------------------------------------------------------------- the plan
def test_example_plan_is_the_documented_grid():
    plan = load_sweep(EXAMPLE, out="/tmp/unused")
    assert len(plan.runs) == 6 and list(plan.groups()) == ["process=mess3__transformer", "process=mess3__gru"]
    r = plan.runs[4]
    assert (r.name, r.seed, r.config["model"]["kind"], r.config["steps"]) == ("process=mess3__gru__seed=1", 1,
                                                                              "gru", 300)
    assert r.config["out_dir"] == "/tmp/unused/runs/process=mess3__gru__seed=1"
    assert load_sweep(EXAMPLE).out == EXAMPLE.parent / "sweep"  # the file's stem beside it


def test_grid_is_the_product_and_names_are_stable():
    base = {"sweep": {"seeds": [3]}, "base": {"steps": 4, "context": 4}, "grid": {"lr": [0.01, 0.1]}}
    small = SweepPlan.from_dict(base, out="/s").runs
    grown = copy.deepcopy(base)
    grown["grid"]["lr"].append(0.001)
    grown["grid"]["batch_size"] = [8]
    big = SweepPlan.from_dict(grown, out="/s").runs
    assert [r.name for r in small] == ["lr=0.01__seed=3", "lr=0.1__seed=3"]
    assert len(big) == 3 and big[0].name == "lr=0.01__batch_size=8__seed=3"
    assert SweepPlan.from_dict({"base": {"steps": 4}}, out="/s").runs[0].name == "run__seed=0"
    widths = SweepPlan.from_dict({"base": {"steps": 4, "context": 4, "d_model": 8, "hidden": 4},
                                  "models": {"t": {"kind": "transformer", "n_layers": 1}, "g": {"kind": "gru"}},
                                  "grid": {"d_model": [16, 32]}}, out="/s").runs
    assert [(r.name, r.config["model"]["d_model"], r.config["model"]["hidden"]) for r in widths] == [
        ("d_model=16__t__seed=0", 16, 4), ("d_model=16__g__seed=0", 16, 4), ("d_model=32__t__seed=0", 32, 4),
        ("d_model=32__g__seed=0", 32, 4)]
    flat = SweepPlan.from_dict({"base": {"steps": 4, "context": 4, "kind": "gru"}, "grid": {"hidden": [3, 5]}},
                               out="/s").runs
    assert [(r.config["model"]["kind"], r.config["model"]["hidden"]) for r in flat] == [("gru", 3), ("gru", 5)]


@pytest.mark.parametrize("table, message", [
    ({"sweeps": {}}, "got 'sweeps'; did you mean 'sweep'"),
    ({"sweep": {"seed": [0]}}, "got 'seed'; did you mean 'seeds'"),
    ({"base": {"stpes": 3}}, "got 'stpes'; did you mean 'steps'"),
    ({"grid": {"lrr": [0.1]}}, "got 'lrr'; did you mean 'lr'"),
    ({"grid": {"model": ["gru"]}}, r"\[grid\] key must be one of"),  # architectures are [models] tables
    ({"grid": {"seed": [1, 2]}}, r"\[grid\] seed is set by the sweep: list the training seeds in \[sweep\] seeds"),
    ({"base": {"out_dir": "x"}}, r"\[base\] out_dir is set by the sweep"),
    ({"models": {"m": {"hiden": 3}}}, "did you mean 'hidden'"),
    ({"grid": {"lr": 0.1}}, r"\[grid\] lr must be a nonempty list"),
    ({"grid": {"lr": [0.1, 0.1]}}, "lists a value twice"),
    ({"sweep": {"seeds": [0, 0]}}, "seeds must be distinct"),
    ({"sweep": {"seeds": []}}, "nonempty list"),
    ({"sweep": {"controls": "yes"}}, "controls must be true or false"),
    ({"grid": {"process": ["mess3:x=0.1", "mess3 x=0.1"]}}, "get the folder name"),
    ({"grid": {"lr": [0.1, -1.0]}}, r"run lr=-1.0__seed=0: .*lr"),
])
def test_bad_sweep_tables_name_the_key(table, message):
    with pytest.raises(ArgumentError, match=message):  # SweepError is one
        SweepPlan.from_dict(table, out="/s")


def test_cli_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[base]\nstpes = 3\n")
    assert main(["sweep", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("qbelief: error:") and "did you mean 'steps'" in err[0]
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert main(["sweep", str(EXAMPLE), "--address", "auto"]) == 2
    assert "--address goes with --backend ray" in capsys.readouterr().err


# ---------------------------------------------------------------------- aggregate = independent mean
def _t_interval(values):
    v = np.asarray(values, float)
    h = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return v.mean(), v.mean() - h, v.mean() + h


def test_aggregate_equals_the_mean_over_seeds_of_the_runs(swept):
    plan, outcome = swept
    assert [s["status"] for s in outcome.summaries] == ["trained"] * 6
    saved = json.loads((plan.out / "summary.json").read_text())["groups"]
    for group, runs in plan.groups().items():
        agg = next(g for g in saved if g["group"] == group)
        results = [ProbeResult.from_dict(json.loads((plan.run_dir(r) / PROBE_FILE).read_text())["result"])
                   for r in runs]
        assert agg["n"] == 3 and list(agg["points"]) == list(results[0].points)
        for point in results[0].points:
            mean, lo, hi = _t_interval([res.points[point].r2 for res in results])
            got = agg["points"][point]["r2"]
            assert (got["mean"], got["lo"], got["hi"]) == pytest.approx((mean, lo, hi), rel=1e-12)
            twins = [res.points[point].untrained["r2"] for res in results]
            got = agg["points"][point]["untrained_r2"]
            assert (got["mean"], got["lo"], got["hi"]) == pytest.approx(_t_interval(twins), rel=1e-12)
            if point != "embed":  # the twin is initialized from each run's seed (an embedding alone may tie)
                assert len(set(twins)) == 3
        tails = [np.mean([m["relative"] for m in read_jsonl(plan.run_dir(r) / "metrics.jsonl")[-5:]]) for r in runs]
        got = agg["final_relative"]
        assert (got["mean"], got["lo"], got["hi"]) == pytest.approx(_t_interval(tails), rel=1e-12)
        records = [read_jsonl(plan.run_dir(r) / PROBES) for r in runs]
        assert [c["step"] for c in agg["over_training"]] == [0, 2, 4, 6]
        for k, c in enumerate(agg["over_training"]):
            mean, lo, hi = _t_interval([rec[k]["r2"] for rec in records])
            assert (c["r2"]["mean"], c["r2"]["lo"], c["r2"]["hi"]) == pytest.approx((mean, lo, hi), rel=1e-12)
    md = (plan.out / "RESULTS.md").read_text()
    assert "process=mess3__gru" in md and "Held-out R² by probe point" in md
    assert "](runs/process=mess3__gru__seed=0/probe_over_training.png)" in md
    assert (plan.out / "report.html").exists() and (plan.out / "sweep_over_training.png").exists()


def test_a_finished_sweep_is_not_retrained(swept):
    import torch

    plan, first = swept
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # the runs use 1 thread each
    ckpts = {r.name: (plan.run_dir(r) / "checkpoint.pt").stat().st_mtime_ns for r in plan.runs}
    again = run_sweep(plan, workers=1)
    assert [s["status"] for s in again.summaries] == ["finished"] * 6
    assert {r.name: (plan.run_dir(r) / "checkpoint.pt").stat().st_mtime_ns for r in plan.runs} == ckpts
    assert again.groups == first.groups
    assert torch.get_num_threads() == 3  # runs in this process leave the caller's threads alone
    torch.set_num_threads(threads)


def test_a_stopped_run_is_resumed_and_a_changed_config_refused(tmp_path):
    from nets.callbacks import Callback
    from nets.train import train

    plan = SweepPlan.from_dict(tiny_table(seeds=(0,)), out=tmp_path)
    gru = next(r for r in plan.runs if "gru" in r.name)

    class StopAt4(Callback):
        def on_log(self, state, record):
            return record["step"] == 4

    assert train(gru.train_config(), callback=StopAt4()).steps_done == 4
    out = run_sweep(plan, workers=1)
    assert {s["name"]: s["status"] for s in out.summaries} == {gru.name: "resumed",
                                                             "process=mess3__transformer__seed=0": "trained"}
    assert [r["step"] for r in read_jsonl(plan.run_dir(gru) / PROBES)] == [0, 2, 4, 6]
    changed = tiny_table(seeds=(0,))
    changed["models"]["gru"]["hidden"] = 9
    out = run_sweep(SweepPlan.from_dict(changed, out=tmp_path), workers=1)
    failed = {s["name"]: s for s in out.failed}
    assert list(failed) == [gru.name] and "cannot resume" in failed[gru.name]["error"]
    assert "Runs that did not finish" in out.report.read_text()


# ---------------------------------------------------------------------- backends
def test_cli_process_pool_runs_a_tiny_sweep(tmp_path, capsys):
    sweep = tmp_path / "tiny.toml"
    sweep.write_text('[sweep]\nseeds = [0, 1]\nout = "out"\ncontrols = false\n'
                     '[base]\nprocess = "mess3"\ncontext = 4\nsteps = 4\nbatch_size = 8\nlog_every = 2\n'
                     '[models.gru]\nkind = "gru"\nhidden = 8\n[grid]\nlr = [0.01]\n')
    assert main(["sweep", str(sweep), "--workers", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"sweep: 2 runs in 1 groups into {tmp_path / 'out'} (local, 2 workers x 1 threads)"
    assert sorted(ln.split(":")[0].split(" ")[1] for ln in lines[1:3]) == ["lr=0.01__gru__seed=0",
                                                                          "lr=0.01__gru__seed=1"]
    runs = json.loads((tmp_path / "out" / "runs.json").read_text())
    assert [r["status"] for r in runs] == ["trained", "trained"]
    assert runs[0]["points"]["layers.0.hidden"]["untrained_r2"] is None  # controls = false


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                    reason="tensorboard is not installed (pip install 'qbelief[tensorboard]')")
def test_sweep_probe_numbers_reach_the_trackers(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    table = tiny_table(seeds=(0,))
    table["models"].pop("transformer")
    plan = SweepPlan.from_dict(table, out=tmp_path, log=("tensorboard",))
    assert plan.runs[0].config["log"] == ["tensorboard"]
    run_sweep(plan, workers=1)
    run = plan.run_dir(plan.runs[0])
    probe = ProbeResult.from_dict(json.loads((run / PROBE_FILE).read_text())["result"])
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    got = acc.Scalars("summary/probe/layers.0.hidden/r2")
    assert [(e.step, e.value) for e in got] == [(6, pytest.approx(probe.points["layers.0.hidden"].r2, rel=1e-6))]
    losses = {r["step"]: r["loss"] for r in read_jsonl(run / "metrics.jsonl")}
    assert {e.step: e.value for e in acc.Scalars("loss")} == pytest.approx(losses, rel=1e-6)
    assert "sweep_probe_geometry" in acc.Tags()["images"]


@pytest.mark.skipif(not ray_available(), reason="ray is not installed (pip install 'qbelief[ray]')")
def test_ray_backend_runs_a_tiny_sweep(tmp_path):
    table = tiny_table(seeds=(0, 1))
    table["models"].pop("transformer")
    plan = SweepPlan.from_dict(table, out=tmp_path)
    out = run_sweep(plan, workers=2, backend="ray")
    assert [s["status"] for s in out.summaries] == ["trained"] * 2
    assert out.groups[0]["n"] == 2 and out.groups[0]["over_training"][-1]["step"] == 6


def test_prepared_runs_train_alone_with_qbelief_train_then_the_sweep_probes_them(tmp_path, capsys):
    table = tiny_table(seeds=(0, 1))
    table["models"].pop("transformer")
    plan = SweepPlan.from_dict(table, out=tmp_path)
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nseeds = [0]\n[base]\nsteps = 2\ncontext = 4\n')
    assert plan.prepare() == [plan.run_dir(r) for r in plan.runs]
    first = plan.run_dir(plan.runs[0])
    assert json.loads((first / "config.json").read_text()) == plan.runs[0].config
    assert main(["train", "--resume", "--out", str(first), "--quiet"]) == 0  # alone (torchrun: --nproc N)
    assert plan.prepare() == []  # folders that hold a run (prepared or trained) are left alone
    out = run_sweep(plan, workers=1)
    assert [s["status"] for s in out.summaries] == ["finished", "trained"]
    assert [r["step"] for r in read_jsonl(first / PROBES)] == [0, 2, 4, 6]
    assert main(["sweep", str(sweep), "--prepare"]) == 0
    assert (tmp_path / "s" / "runs" / "run__seed=0" / "config.json").is_file()


def test_a_missing_tracker_is_named_once_by_the_sweep(tmp_path, monkeypatch):
    from nets import tracking

    monkeypatch.setattr(tracking, "available", lambda name: name != "wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")  # where wandb is installed after all, the runs stay offline
    monkeypatch.setenv("WANDB_SILENT", "true")
    table = tiny_table(seeds=(0, 1))
    table["models"].pop("transformer")
    table["base"]["steps"] = 2
    plan = SweepPlan.from_dict(table, out=tmp_path, log=("wandb",))
    with pytest.warns(tracking.TrackingWarning, match=r"tracker wandb is not installed") as rec:
        out = run_sweep(plan, workers=1)
    assert len([w for w in rec if issubclass(w.category, tracking.TrackingWarning)]) == 1
    assert [s["status"] for s in out.summaries] == ["trained", "trained"]
