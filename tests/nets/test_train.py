"""Training: learning, determinism, checkpoints, exact resume, DDP, config errors, old runs.

Fast tests use tiny models and a few dozen steps.  The slow-marked tests demonstrate the
issue's goals (belief geometry learned within minutes on 2 CPU cores); they stop by step
count and assert on the science (R^2, loss / optimum), never on wall-clock time.
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nets.data import BeliefData
from nets.models import build_model
from nets.probe import sampled_belief_r2
from nets.train import TrainConfig, load_checkpoint, load_model, loss_fn, train

TINY = dict(process="mess3", context=6, model=dict(kind="transformer", n_layers=1, d_model=16, d_mlp=32),
            batch_size=32, steps=12, lr=3e-3, device="cpu", quiet=True, num_threads=1)
OLD_RUN = Path(__file__).parent / "data" / "old_run_v1"  # written by qbelief 9d8e2cf (flat config, GHMM dict)


def tiny(**overrides) -> TrainConfig:
    """TINY with overrides (model fields may be given flat)."""
    return TrainConfig.from_dict({**TINY, **overrides})


def losses(history):
    return [r["loss"] for r in history]


def test_loss_decreases_and_is_reported_relative_to_optimum():
    res = train(tiny(**{"steps": 60, "data_mode": "exact", "targets": "exact"}))
    h = res.history
    assert len(h) == 60 and h[-1]["step"] == 60 and h[-1]["tokens"] == 60 * 32 * 6
    assert np.mean(losses(h)[-10:]) < np.mean(losses(h)[:5])
    opt = res.data.optimum
    assert opt.shape == (6,)
    for r in h:
        assert math.isclose(r["relative"], r["loss"] / float(np.mean(opt)))
    assert res.val_loss is not None and res.val_relative >= 1.0 - 1e-9
    assert res.final_relative >= 0.99 and res.steps_done == 60
    assert set(res.timing) >= {"data_s", "total_s", "tokens_per_s", "data_share"}


def test_deterministic_for_fixed_seed():
    a = train(tiny())
    b = train(tiny())
    c = train(tiny(**{"seed": 1}))
    assert losses(a.history) == losses(b.history)
    assert losses(a.history) != losses(c.history)


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_exact_targets_same_expectation_lower_variance(one_thread):
    d = BeliefData("bloch_walk", 6, mode="exact")
    torch.manual_seed(0)
    m = build_model(dict(kind="transformer", vocab_size=4, n_ctx=6, n_layers=1, d_model=16, d_mlp=32))
    ls, le = [], []
    with torch.no_grad():
        for step in range(40):
            b = d.batch(step, 64)
            logits = m(b.tokens)
            ls.append(loss_fn(logits, b, "sampled").item())
            le.append(loss_fn(logits, b, "exact").item())
    val, _ = d.validation_loss(m)
    assert abs(np.mean(le) - val) < 3 * np.std(le) / np.sqrt(40) + 1e-6
    assert abs(np.mean(ls) - val) < 4 * np.std(ls) / np.sqrt(40) + 1e-6
    assert np.var(le) < 0.2 * np.var(ls)


def test_checkpoint_contents_and_weights_only_load(tmp_path):
    cfg = tiny(**{"out_dir": str(tmp_path), "checkpoint_every": 5, "optimizer": "adamw",
                         "scheduler": "plateau", "plateau_patience": 2})
    res = train(cfg)
    path = tmp_path / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["step"] == 12 and ckpt["config"]["optimizer"] == "adamw"
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "config", "model_config"}
    assert isinstance(ckpt["rng"]["torch"], torch.Tensor) and "numpy" in ckpt["rng"]
    json.dumps(ckpt["config"])  # plain JSON-able
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
    model, cfg2 = load_model(path)
    assert cfg2.optimizer == "adamw"
    toks = torch.tensor([[0, 1, 2, 0, 1, 2]])
    torch.testing.assert_close(model(toks), res.model(toks))
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert json.loads((tmp_path / "config.json").read_text())["steps"] == 12
    from nets.export import load_weights  # the same weights as safetensors + config.json beside it
    exported = load_weights(tmp_path / "weights")
    assert all(torch.equal(a, b) for a, b in zip(exported.state_dict().values(), model.state_dict().values()))
    torch.testing.assert_close(exported.eval()(toks), model.eval()(toks), rtol=0, atol=0)
    train(cfg, overwrite=True)  # a replaced run takes its exported weights along, then writes its own
    assert (tmp_path / "weights" / "model.safetensors").is_file()
    with pytest.raises(ValueError, match="not a qbelief"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("scheduler", ["plateau", "cosine"])
def test_resume_after_kill_reproduces_the_curve(tmp_path, scheduler):
    base = {**TINY, "steps": 20, "checkpoint_every": 5, "scheduler": scheduler, "plateau_patience": 2,
            "data_mode": "stream", "warmup_steps": 3 if scheduler == "cosine" else 0}
    full = train(TrainConfig(**{**base, "out_dir": str(tmp_path / "full")}))

    class Killed(Exception):
        pass

    def kill_at_13(step, rec):
        if step == 13:
            raise Killed

    run = TrainConfig(**{**base, "out_dir": str(tmp_path / "run")})
    with pytest.raises(Killed):
        train(run, callback=kill_at_13)
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 10
    resumed = train(run, resume=True)
    assert losses(resumed.history) == losses(full.history)
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in full.history]
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == losses(full.history)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_resume_can_extend_steps_but_not_change_the_run(tmp_path):
    cfg = tiny(**{"out_dir": str(tmp_path), "steps": 6})
    train(cfg)
    longer = train(tiny(**{"out_dir": str(tmp_path), "steps": 9}), resume=True)
    straight = train(tiny(**{"steps": 9}))
    assert losses(longer.history) == losses(straight.history)
    with pytest.raises(ValueError, match="cannot resume.*lr"):
        train(tiny(**{"out_dir": str(tmp_path), "lr": 0.1}), resume=True)
    with pytest.raises(ValueError, match="out_dir"):
        train(tiny(), resume=True)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_recurrent_models_train(kind):
    res = train(tiny(**{"model": kind, "hidden": 16, "n_layers": 2, "steps": 5, "bos": True,
                               "optimizer": "sgd", "momentum": 0.9}))
    assert res.model.kind == kind and res.model.vocab_size == 4 and len(res.history) == 5


def test_warmup_and_cosine_schedule():
    res = train(tiny(**{"steps": 10, "lr": 1e-2, "scheduler": "cosine", "warmup_steps": 4}))
    lrs = [r["lr"] for r in res.history]  # lr after each step
    expect = [1e-2 * min(1, (s + 1) / 4) * 0.5 * (1 + math.cos(math.pi * s / 10)) for s in range(1, 11)]
    np.testing.assert_allclose(lrs, expect, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="warmup_steps"):
        tiny(**{"scheduler": "plateau", "warmup_steps": 5})


def test_bf16_autocast_runs():
    res = train(tiny(**{"steps": 4, "bf16": True}))
    assert all(math.isfinite(r["loss"]) for r in res.history)


def test_command_line_entry(tmp_path):
    from nets.train import main

    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({**TINY, "steps": 3, "out_dir": str(tmp_path / "run")}))
    assert main([str(path)]) == 0
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 3
    assert main([str(path), "--resume"]) == 0


def test_generator_object_and_config_roundtrip(tmp_path):
    from generators import library

    g = library.get("mess3", x=0.15, a=0.6)
    cfg = tiny(**{"process": g, "out_dir": str(tmp_path), "steps": 3})
    d = cfg.to_dict()
    json.dumps(d)
    assert TrainConfig.from_dict(d).to_dict() == d
    a = train(cfg)
    b = train(TrainConfig.from_dict(d), resume=False, overwrite=True)  # the same directory: replaced
    assert losses(a.history) == losses(b.history)


@pytest.mark.parametrize("field, value, match", [
    ("optimizer", "rmsprop", "optimizer must be one of"),
    ("scheduler", "linear", "scheduler must be one of"),
    ("kind", "mamba", "model kind must be one of"),
    ("targets", "soft", "targets must be one of"),
    ("data_mode", "file", "data_mode must be one of"),
    ("lr", -1.0, "lr"),
    ("batch_size", 0, "batch_size"),
    ("steps", 1.5, "steps"),
    ("device", "tpu", "device must be"),
    ("n_heads", 3, "not divisible"),
    ("plateau_factor", 1.5, "plateau_factor"),
])
def test_bad_config(field, value, match):
    with pytest.raises(ValueError, match=match):
        train(tiny(**{field: value}))


def test_unknown_config_field():
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"proces": "mess3"})


def test_ddp_two_cpu_processes_match_single_process(tmp_path):
    from nets.distributed import launch

    base = {**TINY, "steps": 6, "batch_size": 32, "checkpoint_every": 3, "optimizer": "adam"}
    single = train(TrainConfig(**base))
    launch(TrainConfig(**{**base, "out_dir": str(tmp_path)}), nprocs=2, timeout=240)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    np.testing.assert_allclose([r["loss"] for r in rows], losses(single.history), atol=1e-5, rtol=0)
    model, _ = load_model(tmp_path / "checkpoint.pt")
    # Adam turns rounding-level gradient differences of near-zero gradients into steps of ~lr,
    # so parameters agree to O(lr), the loss curve to rounding
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, atol=2e-2, rtol=0)
    with pytest.raises(ValueError, match="divisible"):
        from nets.distributed import DistInfo, shard_bounds

        shard_bounds(33, DistInfo(rank=0, world_size=2))


def test_resolve_device_is_the_one_device_lookup():
    from nets.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "cuda:x", "", 0, None):
        with pytest.raises(ValueError, match="device must be"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")
    else:
        assert resolve_device("cuda", local_rank=0) == torch.device("cuda:0")


# ---------------------------------------------------------------------- configs: nesting, stored forms, old runs
def test_config_nests_the_model_and_sizes_it_from_the_data():
    cfg = tiny(bos=True, model="lstm", hidden=12)
    assert cfg.model.kind == "lstm" and cfg.model.hidden == 12
    assert (cfg.model.vocab_size, cfg.model.n_ctx) == (4, 6)  # 3 symbols + BOS, the context
    d = cfg.to_dict()
    assert d["model"]["kind"] == "lstm" and "hidden" not in d  # nested, not repeated flat
    assert TrainConfig.from_dict(d).to_dict() == d
    nested = TrainConfig.from_dict({**d, "model": {**d["model"], "vocab_size": 99}})
    assert nested.model.vocab_size == 4  # derived from the process, never taken from the dict
    with pytest.raises(ValueError, match="model must be a nets.models.ModelConfig"):
        TrainConfig(process="mess3", model="lstm")
    with pytest.raises(ValueError, match="disagree"):
        TrainConfig.from_dict({"model": "lstm", "kind": "gru"})


def test_old_flat_run_loads_and_resumes_exactly(tmp_path):
    """A run written before the model was nested (flat fields, the process as a GHMM dict)."""
    old = json.loads((OLD_RUN / "config.json").read_text())
    assert old["model"] == "gru" and old["hidden"] == 8 and "operators" in old["process"]
    model, cfg = load_model(OLD_RUN / "checkpoint.pt")
    assert cfg.model.kind == "gru" and cfg.model.hidden == 8 and model.kind == "gru"
    assert cfg.process["kind"] == "ghmm" and cfg.weight_decay == 0.0 and cfg.optimizer == "adamw"
    # the data stream of a seed is fixed within a version of qbelief, not across versions (the
    # sampling kernels changed since this run was written), so a resumed old run is compared
    # with another resume of the same run, and its old records are kept as they were
    old_losses = [json.loads(line)["loss"] for line in (OLD_RUN / "metrics.jsonl").read_text().splitlines()]
    runs = []
    for k in range(2):
        run = tmp_path / f"run{k}"
        shutil.copytree(OLD_RUN, run)
        runs.append(train(TrainConfig.from_dict({**old, "out_dir": str(run), "steps": 6, "quiet": True}),
                          resume=True))
    a, b = losses(runs[0].history), losses(runs[1].history)
    assert len(a) == 6 and a == b  # same words, same model, same optimizer: bit-identical continuations
    assert a[:len(old_losses)] == old_losses  # the old run's records kept
    assert json.loads((tmp_path / "run0" / "config.json").read_text())["model"]["kind"] == "gru"  # rewritten nested


def test_process_is_stored_as_a_generator_table_never_as_code(tmp_path):
    from generators import library, product
    from generators.io import generator_from_dict

    g = product(library.mess3(x=0.15, a=0.6), library.bloch_walk(alpha=1.0, beta=3.0))
    d = tiny(process=g).to_dict()
    assert d["process"]["kind"] == "product" and [f["kind"] for f in d["process"]["factors"]] == ["hmm", "quantum"]
    h = generator_from_dict(d["process"])
    w = np.array([[0, 5, 11, 3]])
    np.testing.assert_allclose(h.word_probability(w), g.word_probability(w), rtol=1e-12)
    script = tmp_path / "proc.py"
    marker = tmp_path / "ran.txt"
    script.write_text("from pathlib import Path\nfrom generators import library\n"
                      f"Path({str(marker)!r}).write_text(Path({str(marker)!r}).read_text() + 'x' "
                      f"if Path({str(marker)!r}).exists() else 'x')\ngenerator = library.mess3()\n")
    cfg = tiny(process=str(script))
    assert marker.read_text() == "x" and cfg.process["kind"] == "hmm"  # run once, stored as its table
    TrainConfig.from_dict(cfg.to_dict(), stored=True)
    assert marker.read_text() == "x"
    with pytest.raises(ValueError, match="never executes code"):
        TrainConfig.from_dict({**cfg.to_dict(), "process": str(script)}, stored=True)
    assert marker.read_text() == "x"


def test_weight_decay_reaches_the_optimizer():
    from nets.train import _make_optimizer

    model = build_model(dict(kind="gru", vocab_size=3, n_ctx=4, hidden=4))
    assert _make_optimizer(tiny(optimizer="adamw"), model).defaults["weight_decay"] == 0.01  # AdamW's default
    assert _make_optimizer(tiny(optimizer="adamw", weight_decay=0.1), model).defaults["weight_decay"] == 0.1
    assert _make_optimizer(tiny(optimizer="adam"), model).defaults["weight_decay"] == 0


def test_product_trains_factor_by_factor():
    """3 Mess3 x 2 Bloch walks (432 symbols): trains through the one loop without the joint GHMM."""
    from generators import library, product

    factors = [library.mess3(x=0.15, a=0.6)] * 3 + [library.bloch_walk(alpha=1.0, beta=3.0)] * 2
    g = product(factors)
    res = train(tiny(process=g, context=4, steps=3, targets="sampled", model="transformer", n_layers=1,
                     d_model=16, d_mlp=16))
    assert res.model.vocab_size == 432 and res.steps_done == 3
    assert g._ghmm_cache is None  # the joint (432 x 243 x 243) GHMM was never built
    np.testing.assert_allclose(res.optimum, 3 * BeliefData(factors[0], 4).optimum
                               + 2 * BeliefData(factors[3], 4).optimum, rtol=1e-12)


# ---------------------------------------------------------------------- slow demonstrations
@pytest.mark.slow
def test_bloch_walk_exact_targets_learns_belief_geometry():
    """Issue 4 goal: Bloch walk (1, sqrt 51), transformer, exact targets, 3000 steps (a few
    CPU minutes): held-out R^2 >= 0.95 from the concatenated residual streams to the Bloch
    coordinates of the minimal GHMM.  (Sampled targets for the same time: benchmarks/bench_nets.py.)"""
    res = train(TrainConfig.from_dict(dict(
        process="bloch_walk", context=8, data_mode="exact", targets="exact", n_layers=4, d_model=64, d_mlp=256,
        batch_size=256, optimizer="adam", lr=2e-3, warmup_steps=200, scheduler="cosine", steps=3000, num_threads=1,
        device="cpu", quiet=True)))
    r2 = sampled_belief_r2(res.model, res.data)
    print(f"bloch walk exact targets: {res.steps_done} steps, val/opt {res.val_relative:.5f}, R^2 {r2:.4f}")
    assert res.steps_done == 3000
    assert res.val_relative < 1.001
    assert r2 >= 0.95


@pytest.mark.slow
def test_lstm_mess3_learns_belief_geometry():
    """Issue 4 goal: an LSTM on Mess3(0.05, 0.85), sampled targets, reaches the same kind of fit."""
    res = train(TrainConfig.from_dict(dict(
        process="mess3:x=0.05,a=0.85", context=10, data_mode="stream", targets="sampled", model="lstm",
        n_layers=2, hidden=64, batch_size=256, lr=1e-3, steps=3000, num_threads=1, device="cpu", quiet=True)))
    r2 = sampled_belief_r2(res.model, res.data)
    print(f"lstm mess3: {res.steps_done} steps, loss/opt {res.final_relative:.4f}, R^2 {r2:.4f}")
    assert res.final_relative <= 1.01
    assert r2 >= 0.97
