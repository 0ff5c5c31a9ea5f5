"""The defaults of nets.device for training: CPU threads (default_threads), where batches are made (data_device)."""

import pytest
import torch

from nets import device
from nets.budget import parameter_count
from nets.device import WORK_PER_THREAD, available_cores, default_threads
from nets.train import TrainConfig, train

MESS3 = dict(process="mess3:x=0.05,a=0.85", context=10, model="transformer", n_layers=4, n_heads=1, d_model=64,
             d_head=8, d_mlp=256, batch_size=64)


def test_known_answers():
    # the Shai et al. 2024 Mess3 transformer at the paper's batch: 1 thread on any machine
    cfg = TrainConfig.from_dict(MESS3)
    n = parameter_count(cfg.model_config(3))
    assert 100_000 < n < 200_000
    assert default_threads(n, 64 * 10, cores=64) == 1
    # the boundary: exactly WORK_PER_THREAD per thread
    assert default_threads(1 << 20, 1 << 10, cores=8) == 1
    assert default_threads(1 << 20, 3 << 10, cores=8) == 3
    assert default_threads(1 << 20, (3 << 10) - 1, cores=8) == 2
    # large models take every core, never more
    assert default_threads(50_000_000, 8192, cores=12) == 12
    assert default_threads(WORK_PER_THREAD, 1) == min(1, available_cores())
    assert default_threads(WORK_PER_THREAD, 10_000) == available_cores()


@pytest.mark.parametrize("kwargs", [dict(n_params=0, batch_tokens=5), dict(n_params=5, batch_tokens=2.0),
                                    dict(n_params=True, batch_tokens=5), dict(n_params=5, batch_tokens=5, cores=0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        default_threads(**kwargs)


TINY = dict(process="mess3", context=4, model="transformer", n_layers=1, d_model=16, d_mlp=32, batch_size=16,
            steps=2, device="cpu", quiet=True)


def test_training_uses_the_rule_and_an_explicit_count_wins(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        res = train(TrainConfig.from_dict(TINY))
        assert res.timing["threads"] == 1  # a tiny model: the rule says 1, torch's setting does not matter
        assert torch.get_num_threads() == 2  # restored after the run
        res = train(TrainConfig.from_dict({**TINY, "num_threads": 2}))
        assert res.timing["threads"] == 2
        # the rule as wired: with every parameter-token worth a thread, training takes every core
        monkeypatch.setattr(device, "WORK_PER_THREAD", 1)
        torch.set_num_threads(1)
        assert train(TrainConfig.from_dict(TINY)).timing["threads"] == available_cores()
    finally:
        torch.set_num_threads(before)


def test_data_device_rule():
    from nets.device import DEVICE_DATA_MIN_BATCH, data_device

    assert data_device("cpu", 10**6) is None
    assert data_device(torch.device("cuda"), DEVICE_DATA_MIN_BATCH - 1) is None
    assert data_device("cuda", DEVICE_DATA_MIN_BATCH) == torch.device("cuda")
    assert data_device("cuda:2", 25_000) == torch.device("cuda:2")
