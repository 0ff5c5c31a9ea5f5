"""papers/shai2024_belief_geometry: the paper's analysis on cases with known answers, the
TransformerLens initialization and staged training against their definitions, and the
--tiny configuration end to end (two seeds, so the pooling is exercised)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nets.config import TrainConfig
from nets.probe import build_probe_dataset
from nets.train import train
from papers.shai2024_belief_geometry import protocol
from papers.shai2024_belief_geometry.experiment import MESS3_TRAIN, Shai2024
from papers.shai2024_belief_geometry.protocol import (PAPER_COND, collapse, ols_in_sample, pairwise_distance_r2,
                                                      paper_hooks, shuffle_rows, shuffled_copies)
from papers.shai2024_belief_geometry.training import (initial_model, initializer_range, train_in_stages,
                                                      transformer_lens_init)


# ---------------------------------------------------------------------- the paper's analysis
def test_ols_in_sample_exact_weighted_and_interpolating():
    rng = np.random.default_rng(0)
    Y = rng.dirichlet(np.ones(3), size=200)
    X = Y @ rng.normal(size=(3, 8)) + rng.normal(size=8)
    np.testing.assert_allclose(ols_in_sample(X, Y), Y, atol=1e-10)  # an affine image is fitted exactly
    Z, T = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    c = rng.integers(1, 4, size=30)
    rep = np.repeat(np.arange(30), c)
    np.testing.assert_allclose(ols_in_sample(Z, T, c), ols_in_sample(Z[rep], T[rep])[np.cumsum(c) - 1], atol=1e-10)
    wide = rng.normal(size=(20, 50))  # more columns than rows: the in-sample fit interpolates any targets
    np.testing.assert_allclose(ols_in_sample(wide, T[:20]), T[:20], atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=3, max_size=9), st.integers(0, 1000))
def test_pairwise_distance_r2_counts_equal_repeated_rows(counts, seed):
    rng = np.random.default_rng(seed)
    c = np.array(counts)
    if (c > 0).sum() < 3:
        c[:3] = 1
    A, B = rng.normal(size=(c.size, 2)), rng.normal(size=(c.size, 3))
    rep = np.repeat(np.arange(c.size), c)
    assert pairwise_distance_r2(A, B, c) == pytest.approx(pairwise_distance_r2(A[rep], B[rep]), abs=1e-12)


def test_pairwise_distance_r2_known_values():
    A = np.array([[0.0], [1.0], [3.0]])
    # distances (1, 3, 2) vs (1, 9, 8): centred (-1, 1, 0), (-5, 3, 2): r^2 = 8^2 / (2 * 38) = 16/19
    assert pairwise_distance_r2(A, A ** 2) == pytest.approx(16 / 19)
    assert pairwise_distance_r2(A, -2 * A + 7) == pytest.approx(1.0)
    assert pairwise_distance_r2(A, np.zeros((3, 2))) == 0.0  # a collapsed embedding explains nothing
    with pytest.raises(ValueError, match="nonnegative integers"):
        pairwise_distance_r2(A, A, [1.5, 1, 1])


def test_rrxor_rows_and_ceiling_match_the_authors_notebook():
    """The authors' Figure 7 rows: 436 inputs x 10 positions (1046 distinct prefixes); their
    true beliefs against true next-token distributions give R^2 0.285 (the ceiling of the
    paper's 0.31), and over the distinct prefixes alone 0.313."""
    ds = build_probe_dataset("rrxor", None, context=10, representations=["native"], weighting="uniform",
                             markov_order=None)
    counts = np.round(ds.weights * 4360)
    assert len(ds) == 1046 and ds.meta["n_words"] == 436 and counts.sum() == 4360
    assert pairwise_distance_r2(ds.beliefs["native"], ds.next_probs, counts) == pytest.approx(0.28456, abs=5e-5)
    assert pairwise_distance_r2(ds.beliefs["native"], ds.next_probs) == pytest.approx(0.31314, abs=5e-5)


def test_paper_metric_scores_an_untrained_network_near_one():
    """1536 columns for 1046 distinct rows: with a float64 cutoff the paper's in-sample fit
    interpolates the beliefs of an untrained network; the authors' float32 cutoff does not."""
    cfg = TrainConfig.from_dict(dict(MESS3_TRAIN, process="rrxor", d_model=128, n_heads=4, d_head=16, d_mlp=512))
    ds = build_probe_dataset("rrxor", initial_model(cfg), representations=["native"], weighting="uniform",
                             names=paper_hooks(4), untrained=None, markov_order=None)
    X = np.concatenate([ds.activations[h] for h in paper_hooks(4)], axis=1)
    assert X.shape == (1046, 1536)
    Y, c = ds.beliefs["native"], np.round(ds.weights * 4360)
    assert pairwise_distance_r2(ols_in_sample(X, Y, c), Y, c) > 0.99
    assert pairwise_distance_r2(ols_in_sample(X, Y, c, cond=PAPER_COND), Y, c) < 0.99


def test_shuffled_copies_is_the_fit_to_permuted_pairs():
    """The paper's control permutes the beliefs of all expanded (input, position) pairs; the
    count-weighted fit to each row's mean of what its pairs received is the same fit."""
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(12, 3)), rng.dirichlet(np.ones(3), size=12)
    c = rng.integers(1, 5, size=12)
    S = shuffled_copies(Y, c, seed=4)
    pairs = np.repeat(np.arange(12), c)
    received = Y[pairs[np.random.default_rng(4).permutation(pairs.size)]]  # the same permutation
    expanded = ols_in_sample(X[pairs], received)
    np.testing.assert_allclose(ols_in_sample(X, S, c)[pairs], expanded, atol=1e-10)
    np.testing.assert_allclose(c @ S, c @ Y)
    with pytest.raises(ValueError, match="positive integers"):
        shuffled_copies(Y, np.zeros(12), 0)


def test_shuffle_rows_and_collapse():
    lengths = np.repeat([1, 2, 3], [3, 9, 27])
    perm = shuffle_rows(lengths, 0)
    assert sorted(perm.tolist()) == list(range(39)) and (lengths[perm] == lengths).all()
    assert not (perm == np.arange(39)).all()
    Y = np.eye(3)
    assert collapse(Y, Y) == {"spread": 1.0, "centre_distance": pytest.approx(0.0)}
    out = collapse(np.tile([0.5, 0.25, 0.25], (3, 1)), Y)
    assert out["spread"] == 0.0 and out["centre_distance"] == pytest.approx(np.sqrt(1 / 36 + 2 / 144))
    assert protocol.paper_hooks(2)[-1] == "blocks.1.resid_post" and len(protocol.paper_hooks(4)) == 12


# ---------------------------------------------------------------------- initialization and training
def test_transformer_lens_init_matches_its_definition():
    cfg = TrainConfig.from_dict(dict(MESS3_TRAIN, process="mess3"))
    before = torch.random.get_rng_state()
    m = initial_model(cfg, "transformer_lens")
    assert torch.equal(before, torch.random.get_rng_state())  # the global RNG is untouched
    assert initializer_range(64) == pytest.approx(0.1)
    weights = torch.cat([p.detach().flatten() for n, p in m.named_parameters()
                         if n.endswith("weight") and "ln" not in n])
    assert weights.numel() > 140_000 and float(weights.std()) == pytest.approx(0.1, rel=0.01)
    assert abs(float(weights.mean())) < 1e-3
    for n, p in m.named_parameters():
        if n.endswith("bias"):
            assert torch.all(p == 0), n
        elif "ln" in n:
            assert torch.all(p == 1), n
    again = initial_model(cfg, "transformer_lens")
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="does not know"):
        transformer_lens_init(_with_config(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1)), cfg.model), 0)


def _with_config(module, config):
    module.config = config
    return module


def test_staged_training_equals_plain_training(tmp_path):
    """Resuming from the stored initial network reproduces train() bit for bit, at every stage."""
    base = dict(process="mess3", model="transformer", n_layers=1, d_model=16, n_heads=2, d_mlp=32, context=5,
                batch_size=16, optimizer="sgd", lr=0.01, num_threads=1, quiet=True, seed=3)
    plain = {s: train(dict(base, steps=s)).model.state_dict() for s in (7, 20)}
    staged = train_in_stages(TrainConfig.from_dict(dict(base, steps=1)), "torch", [0, 7, 20], tmp_path)
    assert sorted(staged.models) == [0, 7, 20] and staged.result.steps_done == 20
    for s in (7, 20):
        got = staged.models[s].state_dict()
        assert all(torch.equal(got[k], v) for k, v in plain[s].items()), s
    start = initial_model(TrainConfig.from_dict(dict(base, steps=1)))
    assert all(torch.equal(a, b) for a, b in zip(start.state_dict().values(), staged.models[0].state_dict().values()))
    again = train_in_stages(TrainConfig.from_dict(dict(base, steps=1)), "torch", [0, 7, 20], tmp_path)  # resumes
    assert all(torch.equal(again.models[20].state_dict()[k], v) for k, v in plain[20].items())


# ---------------------------------------------------------------------- the tiny run
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("shai2024_tiny")
    Shai2024().execute("tiny", out, quiet=True)
    return out


def test_tiny_results(tiny):
    r = json.loads((tiny / "results.json").read_text())
    assert {run["group"] for run in r["runs"]} == {"manifolds", "mess3-torch", "mess3-transformer_lens", "rrxor"}
    assert r["metrics"]["manifolds"]["rrxor"]["n_beliefs"] == 36
    assert r["pooled"]["rrxor"]["distances.trained.paper.beliefs"]["n"] == 2
    for key in ("mess3-torch-s0", "mess3-transformer_lens-s1"):
        st_ = r["metrics"][key]["stages"]
        assert sorted(int(s) for s in st_) == [0, 10, 50] and st_["50"]["tokens"] == 50 * 64 * 5
        assert st_["50"]["paper"]["mse_pre_ln"] < st_["50"]["paper"]["shuffled"]["mse"]
    x = r["metrics"]["rrxor-s0"]
    assert x["rows"] == {"distinct": 110, "pairs": 312, "inputs": 52}
    assert set(x["layers"]["points"]) == {"embed", "blocks.0.resid_post", "blocks.1.resid_post", "ln_final", "concat"}
    assert x["distances"]["shuffled"]["ours"]["beliefs"] <= 1


def test_tiny_untrained_control_is_the_runs_own_start(tiny):
    """Stage 0 of a run is the network it started from: recomputing the paper's MSE from
    initial_model gives the stored number."""
    r = json.loads((tiny / "results.json").read_text())
    run = next(x for x in r["runs"] if x["key"] == "mess3-transformer_lens-s1")
    cfg = TrainConfig.from_dict(dict(run["train"], seed=1))
    ds = build_probe_dataset(cfg.process, initial_model(cfg, "transformer_lens"), representations=["native"],
                             weighting="uniform", names=["blocks.0.resid_post"], untrained=None, markov_order=None)
    Y, w = ds.beliefs["native"], ds.weights
    pred = ols_in_sample(ds.activations["blocks.0.resid_post"], Y, w, cond=PAPER_COND)
    mse = float(w @ ((Y - pred) ** 2).mean(axis=1))
    assert r["metrics"][run["key"]]["stages"]["0"]["paper"]["mse_pre_ln"] == pytest.approx(mse, rel=1e-9)


def test_tiny_report(tiny):
    md = (tiny / "RESULTS.md").read_text()
    for s in ("What holds", "| paper | true beliefs | 0.950 |", "ceiling", "TransformerLens init",
              "not reached in this mode"):
        assert s in md, s
    for f in ("mess3_mse_trajectory.png", "rrxor_fit_by_layer.png", "rrxor_geometry.png", "loss_curves.png",
              "mess3_simplex_torch.png", "mess3_belief_fractal.png"):
        assert f"]({f})" in md and (tiny / f).stat().st_size > 1000, f
    # report.html: RRXOR's beliefs beside the trained and untrained in-sample fits, in 3-D
    view = json.loads((tiny / "rrxor_view.json").read_text())
    assert [p["title"] for p in view["panels"]] == ["true beliefs", "trained network (paper's in-sample fit)",
                                                    "untrained network (paper's in-sample fit)"]
    assert {p["dims"] for p in view["panels"]} == {3}
    n_states = int(__import__("re").search(r"the (\d+) belief states", view["title"]).group(1))
    assert 30 <= n_states <= 36  # RRXOR has 36; the tiny mode's short contexts reach almost all
    assert (tiny / "report.html").read_text().count("data-qb-figure=") == 1
