"""Memory estimates of training (nets.budget): the parameter formula against built models,
and the refusals on the host and on a GPU (its memory size faked)."""

import types

import pytest
import torch

from nets import budget
from nets.config import TrainConfig
from nets.models import ModelConfig, build_model


@pytest.mark.parametrize("kw", [
    dict(kind="transformer", vocab_size=5, n_ctx=7, n_layers=3, d_model=12, n_heads=3, d_mlp=20),
    dict(kind="transformer", vocab_size=4, n_ctx=9, n_layers=2, d_model=12, n_heads=2, d_head=5, d_mlp=7, act="gelu"),
    dict(kind="rnn", vocab_size=4, n_ctx=5, n_layers=1, hidden=7),
    dict(kind="gru", vocab_size=4, n_ctx=5, n_layers=3, hidden=7),
    dict(kind="lstm", vocab_size=6, n_ctx=5, n_layers=2, hidden=9, rnn_input="embed", d_embed=3),
    dict(kind="lstm", vocab_size=6, n_ctx=5, n_layers=2, hidden=9, rnn_input="embed"),
])
def test_parameter_formula_equals_the_built_model(kw):
    cfg = ModelConfig(**kw)
    assert budget.parameter_count(cfg) == sum(p.numel() for p in build_model(cfg).parameters())


def test_step_estimate_and_refusals(monkeypatch):
    cfg = TrainConfig.from_dict(dict(process="mess3", context=4, batch_size=8, device="cpu",
                                     model=dict(n_layers=1, d_model=8, d_mlp=16)))
    est = budget.check_training_memory(cfg, 3, 3, torch.device("cpu"))
    P = budget.parameter_count(cfg.model)
    assert est["model"] == 16 * P + budget.LAYER_OVERHEAD and est["batch"] == 8 * 6 * (16 * 3 + 28 * 3 + 48)
    monkeypatch.setattr(budget, "physical_memory", lambda: sum(est.values()) - 1)
    with pytest.raises(budget.TrainingTooLargeError, match=r"more than this machine's physical memory .*the cap"):
        budget.check_training_memory(cfg, 3, 3, torch.device("cpu"))
    monkeypatch.setattr(budget, "physical_memory", lambda: est["batch"])  # a GPU run keeps only the batch on the host
    fake = types.SimpleNamespace(total_memory=est["model"] + est["activations"])
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: fake)
    assert budget.check_training_memory(cfg, 3, 3, torch.device("cuda:0")) == est
    fake.total_memory -= 1
    with pytest.raises(budget.TrainingTooLargeError, match=r"more than the memory of GPU cuda:0"):
        budget.check_training_memory(cfg, 3, 3, torch.device("cuda:0"))
    monkeypatch.setattr(budget, "physical_memory", lambda: None)  # unknown memory: no host refusal
    fake.total_memory += 1
    assert budget.check_training_memory(cfg, 3, 3, torch.device("cuda:0")) == est


def test_absurd_models_are_refused_without_being_built():
    huge = ModelConfig(kind="transformer", vocab_size=3, n_ctx=4, n_layers=10 ** 9, d_model=8, n_heads=1, d_mlp=8)
    with pytest.raises(budget.TrainingTooLargeError, match="1,000,000,000 layers"):
        budget.check_model_memory(huge, "this config")
