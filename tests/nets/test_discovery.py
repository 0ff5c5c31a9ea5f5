"""Belief geometry discovered without the generator (nets.discovery).

Fast known answers use synthetic "perfect" activations: the true minimal beliefs of a
process embedded affinely in 16 dimensions plus small noise, with real sampled tokens.
Slow tests (``-m slow``) train small transformers with :func:`nets.train.train` on
Mess3 and the Bloch walk, and probe untrained twins.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators import GHMM, equivalent, hankel_rank, library
from generators.io import generator_from_dict
from generators.representations import representation
from nets import ActivationCache, discover_geometry
from nets.discovery import (FOUND, NOT_FOUND, DiscoveryResult, fit_operators, homogeneous, sequence_log_loss,
                            update_residual, word_distance)
from nets.discovery.refine import filtered_beliefs
from nets.discovery.scoring import filter_residual

D = 16  # width of the synthetic activations


def synthetic(g, N: int, L: int = 10, noise: float = 0.01, seed: int = 0, bos: int | None = None):
    """``(tokens (N, L), activations (N, L, D), true beliefs (N, L, n))``: the minimal
    beliefs at each position, embedded by a random affine map, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    rep = representation(g, "minimal").ghmm
    words, beliefs = rep.sample(N, L, seed=rng, return_beliefs=True)
    if bos is None:  # position p has seen p + 1 symbols
        tokens, eta = words, beliefs[:, 1:]
    else:  # BOS, then L - 1 symbols: position p has seen p symbols
        tokens, eta = np.concatenate([np.full((N, 1), bos), words[:, :-1]], axis=1), beliefs[:, :-1]
    A = rng.normal(size=(eta.shape[-1] - 1, D))
    acts = eta[..., 1:] @ A + rng.normal(size=D) + noise * rng.normal(size=(N, L, D))
    return tokens, acts, eta


def belief_r2(result: DiscoveryResult, acts: np.ndarray, eta: np.ndarray) -> float:
    """R^2 of the best affine map from the discovered coordinates to the true beliefs."""
    X = result.beliefs(acts).reshape(-1, result.dim)
    Y = eta[..., 1:].reshape(-1, eta.shape[-1] - 1)
    res = Y - X @ np.linalg.lstsq(X, Y, rcond=None)[0]
    return float(1 - (res**2).sum() / ((Y - Y.mean(axis=0)) ** 2).sum())


CASES = {"mess3": (library.mess3(), None), "bloch_walk_bos": (library.bloch_walk(), 4)}


@pytest.fixture(scope="module", params=sorted(CASES))
def synthetic_case(request):
    g, bos = CASES[request.param]
    tokens, acts, eta = synthetic(g, 20000, bos=bos)
    return g, acts, eta, discover_geometry(acts, tokens, bos=bos, max_dim=5, seed=0)


# ---------------------------------------------------------------------- known answers, synthetic
def test_synthetic_dimension_is_the_minimal_one(synthetic_case):
    g, _, _, r = synthetic_case
    assert r.dim == hankel_rank(g) == 3
    assert r.verdict == FOUND, r.summary()


def test_synthetic_word_probabilities_and_equivalence(synthetic_case):
    g, _, _, r = synthetic_case
    err, length = word_distance(r.ghmm, g, 5)
    assert length == 5 and err < 5e-3, err
    assert equivalent(r.ghmm, g, tol=1e-2)
    assert not equivalent(r.ghmm, g, tol=1e-6)  # a statistical estimate, not the process itself


def test_synthetic_coordinates_are_the_beliefs(synthetic_case):
    _, acts, eta, r = synthetic_case
    assert belief_r2(r, acts, eta) > 0.999
    assert r.update_residual < 0.01 and r.filter_residual < 0.01


def test_synthetic_matches_spectral_learning(synthetic_case):
    _, _, _, r = synthetic_case
    assert r.learned is not None and r.learned.dim == 3
    assert r.losses["discovered"] <= r.losses["learned"] + 3 * r.errors["discovered_minus_learned"]
    assert r.word_distance < 1e-2


# ---------------------------------------------------------------------- pieces against their definitions
def test_fit_operators_is_the_least_squares_of_its_definition():
    rng = np.random.default_rng(3)
    R, k, V = 400, 2, 3
    eta = homogeneous(rng.normal(size=(R, k)))
    nxt = homogeneous(rng.normal(size=(R, k)))
    x = rng.integers(0, V, size=R)
    pi = np.array([1.0, 0.1, -0.2])
    g = fit_operators(eta, x, nxt, V, stationary=pi)
    C = np.linalg.lstsq(eta, np.eye(V)[x], rcond=None)[0]  # step 1, directly
    C -= ((C.sum(axis=1) - [1, 0, 0]) / V)[:, None]
    np.testing.assert_allclose(g.symbol_vectors, C.T, atol=1e-12)
    total = g.operators.sum(axis=0)
    np.testing.assert_allclose(total @ g.tau, g.tau, atol=1e-12)
    np.testing.assert_allclose(g.initial @ total, g.initial, atol=1e-12)
    np.testing.assert_allclose(g.initial, pi)
    # step 2 up to the rank-one stationarity correction, which only touches the direction pi
    D = pi - pi @ np.concatenate([C.T[:, :, None], np.zeros((V, 3, k))], axis=2).sum(axis=0)
    for s in range(V):
        r = x == s
        B = np.linalg.lstsq(eta[r], (eta[r] @ C[:, s])[:, None] * nxt[r, 1:], rcond=None)[0]
        Q = np.eye(3) - np.outer(pi, pi) / (pi @ pi)
        np.testing.assert_allclose(Q @ g.operators[s, :, 1:], Q @ B, atol=1e-10)
    del D


def test_residuals_vanish_on_exact_beliefs():
    g = representation(library.mess3(), "minimal").ghmm
    words, beliefs = g.sample(300, 8, seed=1, return_beliefs=True)
    e0, e1 = beliefs[:, 1:-1].reshape(-1, 3), beliefs[:, 2:].reshape(-1, 3)
    assert update_residual(g, e0, words[:, 1:].ravel(), e1) < 1e-20
    assert filter_residual(g, words, beliefs[:, 1:, 1:], 1) < 1e-20
    np.testing.assert_allclose(filtered_beliefs(g, words, 8, 1), beliefs[:, 1:], atol=1e-12)
    np.testing.assert_allclose(filtered_beliefs(g, words, 8, 0), beliefs[:, :-1], atol=1e-12)


def test_sequence_log_loss_is_minus_log_probability():
    g = library.mess3().to_ghmm()
    words = g.sample(50, 12, seed=2)
    loss, floored = sequence_log_loss(g, words)
    np.testing.assert_allclose(loss, -g.log_word_probability(words), rtol=1e-12)
    assert floored == 0
    per, _ = sequence_log_loss(g, words, per_symbol=True)
    np.testing.assert_allclose(per.sum(axis=1), loss, rtol=1e-12)


# ---------------------------------------------------------------------- no belief geometry
def test_activations_unrelated_to_the_tokens_are_not_beliefs():
    g = library.mess3()
    tokens = g.sample(3000, 8, seed=4)
    acts = np.random.default_rng(5).normal(size=tokens.shape + (D,))
    r = discover_geometry(acts, tokens, max_dim=4)
    assert r.verdict == NOT_FOUND
    assert r.update_residual > 0.5 and r.filter_residual > 0.5
    assert any(line.startswith("closed: FAIL") for line in r.reasons)


def test_last_token_features_close_but_predict_like_markov_1():
    """A one-hot of the last token updates exactly like a (Markov-1) GHMM's beliefs, but
    that GHMM predicts Mess3 far worse than spectral learning: not the belief geometry."""
    g = library.mess3()
    tokens = g.sample(6000, 10, seed=6)
    rng = np.random.default_rng(7)
    acts = rng.normal(size=(3, D))[tokens] + 0.01 * rng.normal(size=tokens.shape + (D,))
    r = discover_geometry(acts, tokens, max_dim=4)
    assert r.update_residual < 0.01
    assert r.verdict == NOT_FOUND
    assert r.losses["discovered"] - r.losses["learned"] > 0.03  # h(2) - h_mu of Mess3 is 0.064 nats
    assert [line.split(":")[0] for line in r.reasons if "FAIL" in line] == ["as_good_as_learned"]


# ---------------------------------------------------------------------- invariances and inputs
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_invariant_under_invertible_affine_maps_of_the_activations(seed):
    g = library.mess3()
    tokens, acts, _ = synthetic(g, 1500, L=8, seed=11)
    rng = np.random.default_rng(seed)
    M = np.linalg.qr(rng.normal(size=(D, D)))[0] * rng.uniform(0.5, 2.0, size=D)
    kw = dict(dim=3, compare=False, seed=0)
    a = discover_geometry(acts, tokens, **kw)
    b = discover_geometry(acts @ M + rng.normal(size=D), tokens, **kw)
    assert equivalent(a.ghmm, b.ghmm, tol=1e-6)
    assert a.losses["discovered"] == pytest.approx(b.losses["discovered"], abs=1e-9)


def test_mapping_inputs_select_a_point_or_concatenate():
    g = library.mess3()
    tokens, acts, _ = synthetic(g, 1500, L=8, seed=12)
    noise = np.random.default_rng(0).normal(size=acts.shape)
    cache = ActivationCache({"blocks.0.resid_post": noise, "blocks.1.resid_post": acts})
    kw = dict(dim=3, compare=False)
    assert discover_geometry(cache, tokens, point=("resid_post", 1), **kw).point == "blocks.1.resid_post"
    one = discover_geometry(cache, tokens, point="blocks.1.hook_resid_post", **kw)
    both = discover_geometry(cache, tokens, **kw)
    assert both.point == "concat" and both.projection.shape == (2 * D, 2)
    assert one.projection.shape == (D, 2)
    assert discover_geometry({"a": acts}, tokens, **kw).point == "a"
    with pytest.raises(ValueError, match="no activation 'blocks.7.resid_post'"):
        discover_geometry(cache, tokens, point="blocks.7.resid_post", **kw)


def test_torch_inputs_accepted():
    torch = pytest.importorskip("torch")
    g = library.mess3()
    tokens, acts, _ = synthetic(g, 1500, L=8, seed=13)
    a = discover_geometry(acts.astype(np.float32), tokens, dim=3, compare=False)
    b = discover_geometry(torch.from_numpy(acts.astype(np.float32)), torch.from_numpy(tokens), dim=3, compare=False)
    assert a.losses == b.losses


@pytest.mark.parametrize("kwargs, match", [
    (dict(dim=0), "dim must be an integer >= 1"),
    (dict(dim="two"), "dim must be 'auto' or a positive integer"),
    (dict(dim=True), "dim must be an integer"),
    (dict(holdout=0.7), "holdout"),
    (dict(bos=3), "bos=3 but tokens"),
    (dict(alphabet_size=2), "symbol 2 is out of range for alphabet_size=2"),
    (dict(thresholds={"zz": 1}), "unknown threshold 'zz'"),
    (dict(compare="yes"), "compare must be True or False"),
    (dict(future_length=9), "future_length must be 'auto' or an integer in 1..7"),
    (dict(point="x"), "needs a mapping of named activations"),
    (dict(dim=40), "dim=40 needs 39 activation directions"),
])
def test_bad_arguments_raise_value_errors(kwargs, match):
    tokens, acts, _ = synthetic(library.mess3(), 200, L=8, seed=14)
    with pytest.raises(ValueError, match=match):
        discover_geometry(acts, tokens, compare=kwargs.pop("compare", False), **kwargs)


def test_bad_arrays_raise_value_errors():
    tokens, acts, _ = synthetic(library.mess3(), 200, L=8, seed=15)
    bad = acts.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        discover_geometry(bad, tokens)
    with pytest.raises(ValueError, match=r"\(N, L, d\) = \(200, 8, d\)"):
        discover_geometry(acts[:, :7], tokens)
    with pytest.raises(ValueError, match="integer array"):
        discover_geometry(acts, tokens.astype(float))
    with pytest.raises(ValueError, match="real numbers"):
        discover_geometry(acts.astype(complex), tokens)


def test_verdict_is_computed_from_the_thresholds_and_serializes():
    tokens, acts, _ = synthetic(library.mess3(), 3000, L=8, seed=16)
    r = discover_geometry(acts, tokens, dim=3)
    assert r.verdict == FOUND
    r.thresholds = {**r.thresholds, "update_residual": r.update_residual / 2}
    assert r.verdict == NOT_FOUND and any(line.startswith("closed: FAIL") for line in r.reasons)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["verdict"] == NOT_FOUND and d["dim"] == 3
    back = generator_from_dict(d["ghmm"])
    assert isinstance(back, GHMM) and equivalent(back, r.ghmm, tol=1e-12)
    assert "update residual" in r.summary()


# ---------------------------------------------------------------------- slow: real transformers
#: small transformers that learn a good belief representation in about a minute on one CPU thread
TRAIN = {
    "mess3": dict(context=8, lr=2e-3, steps=1000, model=dict(n_layers=2, d_model=32, n_heads=4, d_head=8, d_mlp=128)),
    "bloch_walk": dict(context=6, lr=3e-3, steps=1500, model=dict(n_layers=2, d_model=32, n_heads=4, d_head=8,
                                                                  d_mlp=128)),
}


def _train(name: str):
    from nets.train import train

    opts = TRAIN[name]
    cfg = dict(process=name, data_mode="exact", targets="exact", optimizer="adam", warmup_steps=100,
               scheduler="cosine", batch_size=256, num_threads=1, seed=0, quiet=True, eval_every=0,
               log_every=50, checkpoint_every=0, **{**opts, "model": dict(kind="transformer", **opts["model"])})
    return train(cfg).model


def _discover(model, g, context: int):
    """Activations of 20,000 sampled sequences at the final layer norm, then discovery."""
    from nets import collect

    rep = representation(g, "minimal").ghmm
    tokens, beliefs = rep.sample(20000, context, seed=3, return_beliefs=True)
    cache = collect(model, tokens, ["ln_final"])
    r = discover_geometry(cache, tokens, point="ln_final", seed=0)
    return r, np.asarray(cache["ln_final"], dtype=float), beliefs[:, 1:]


@pytest.mark.slow
@pytest.mark.parametrize("name, eq_tol", [("mess3", 2e-2), ("bloch_walk", 1e-2)])
def test_trained_transformer_known_answers(name, eq_tol):
    """Measured (seed 0): Mess3 dim 3, max word error 0.0036, equivalent at 1e-2, update /
    filter residual 0.0008 / 0.003; Bloch walk dim 3, max word error 0.0015, equivalent at
    5e-3, residuals 0.039 / 0.040 (the net's supervised probe R^2 is 0.94)."""
    import torch

    torch.manual_seed(0)
    g = library.get(name)
    r, acts, eta = _discover(_train(name), g, TRAIN[name]["context"])
    print(f"\n{name}: {r.summary()}\nword error vs the true process: {word_distance(r.ghmm, g)[0]:.4g}; "
          f"belief R^2 {belief_r2(r, acts, eta):.4f}")
    assert r.dim == hankel_rank(g) == 3
    assert r.verdict == FOUND, r.summary()
    assert word_distance(r.ghmm, g, 5)[0] < 1e-2
    assert equivalent(r.ghmm, g, tol=eq_tol)
    assert belief_r2(r, acts, eta) > 0.85


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mess3", "bloch_walk"])
def test_untrained_transformer_has_no_belief_geometry(name):
    """Measured (seed 5): Mess3 filter residual 0.25 and 0.76 of learn_ghmm's gain; Bloch
    walk update and filter residuals 0.40."""
    import torch

    from nets import build_model

    torch.manual_seed(5)
    ctx = TRAIN[name]["context"]
    g = library.get(name)
    model = build_model(dict(kind="transformer", vocab_size=g.alphabet_size, n_ctx=ctx, **TRAIN[name]["model"]))
    r, _, _ = _discover(model, g, ctx)
    print(f"\nuntrained, {name}: {r.summary()}")
    assert r.verdict == NOT_FOUND


# ---------------------------------------------------------------------- command line
def test_cli_discover_on_an_activation_file(tmp_path, capsys):
    from generators.io import load_generator
    from nets.cli import main
    from nets.tensorfile import save_activation_file

    g = library.mess3()
    tokens, acts, _ = synthetic(g, 3000, L=8, seed=21, bos=3)
    path = save_activation_file(tmp_path / "acts.npz", tokens, {"blocks.0.resid_post": acts})
    assert main(["discover", str(path), "--dim", "3", "--out", str(tmp_path / "out"), "--no-compare"]) == 0
    printed = capsys.readouterr().out
    assert "discovered GHMM of dimension 3" in printed and "belief geometry" in printed
    d = json.loads((tmp_path / "out" / "discovery.json").read_text())
    assert d["dim"] == 3 and d["meta"]["bos"] == 3 and d["verdict"] == FOUND
    assert equivalent(load_generator(tmp_path / "out" / "discovered_ghmm.json"), g, tol=5e-2)


def test_cli_discover_errors_are_one_line(tmp_path, capsys):
    from nets.cli import main

    assert main(["discover", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["discover", str(tmp_path)]) == 2  # a folder without checkpoint.pt
    assert "no checkpoint.pt" in capsys.readouterr().err


def test_detect_bos():
    from nets.discovery.cli import detect_bos

    assert detect_bos(np.array([[3, 0, 1], [3, 2, 2]])) == 3
    assert detect_bos(np.array([[3, 0, 3], [3, 2, 2]])) is None
    assert detect_bos(np.array([[0, 0, 1], [1, 2, 2]])) is None


def test_cli_discover_on_a_run_directory(tmp_path, capsys):
    """A run samples its inputs from its process (BOS prepended when the run has one)."""
    from nets.cli import main
    from nets.train import train

    run = tmp_path / "run"
    train(dict(process="mess3", context=6, bos=True, data_mode="exact", targets="exact", steps=20, batch_size=64,
               model=dict(kind="transformer", n_layers=1, d_model=16, n_heads=2, d_mlp=32), num_threads=1,
               quiet=True, out_dir=str(run), checkpoint_every=0))
    assert main(["discover", str(run), "--samples", "400", "--dim", "2", "--no-compare"]) == 0
    d = json.loads((run / "discovery.json").read_text())
    assert d["dim"] == 2 and d["point"] == "concat" and d["meta"]["bos"] == 3
    assert d["meta"]["n_sequences"] == 400 and d["meta"]["positions"] == 6
    assert f"wrote {run / 'discovery.json'}" in capsys.readouterr().out
