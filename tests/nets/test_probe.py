"""Probe math on synthetic data: exact recovery, weights, CV rank, metrics, results, errors."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nets.geometry_checks import affine_dimension, distance_r2, weighted_pca_dimension
from nets.probe import (
    CONCAT,
    DEFAULT_THRESHOLDS,
    ProbeResult,
    cross_validate_rank,
    fit_affine,
    probe,
    probe_metrics,
    train_test_split,
    verdict,
)


def _affine_data(seed=0, N=400, d=8, k=3, noise=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, d))
    B = rng.normal(size=(d, k))
    c = rng.normal(size=k)
    Y = X @ B + c + noise * rng.normal(size=(N, k))
    return X, Y, B, c, rng.random(N) + 0.1


# ---------------------------------------------------------------------- exact recovery
@pytest.mark.parametrize("solver", ["svd", "gram"])
def test_exact_recovery_of_affine_map(solver):
    X, Y, B, c, w = _affine_data()
    f = fit_affine(X, Y, w, solver=solver)
    assert f.rank == X.shape[1]
    np.testing.assert_allclose(f.coef, B, atol=1e-9)
    np.testing.assert_allclose(f.intercept, c, atol=1e-9)
    np.testing.assert_allclose(f.predict(X), Y, atol=1e-9)
    m = probe_metrics(Y, f.predict(X), w)
    assert m["r2"] == pytest.approx(1.0, abs=1e-12) and m["mse"] < 1e-18 and m["cos_r2"] == pytest.approx(1.0)


def test_recovery_through_low_rank_design():
    # activations live in a 3-dim affine subspace of R^10; the map is identifiable there
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(300, 3))
    X = Z @ rng.normal(size=(3, 10)) + 5.0
    Y = Z @ rng.normal(size=(3, 2)) - 1.0
    f = fit_affine(X, Y, rank="cv")
    assert f.rank == 3
    np.testing.assert_allclose(f.predict(X), Y, atol=1e-9)


def test_one_dimensional_targets_and_uniform_weights():
    X, Y, B, c, _ = _affine_data(k=1)
    f = fit_affine(X, Y[:, 0])
    assert f.coef.shape == (8, 1)
    np.testing.assert_allclose(f.coef[:, 0], B[:, 0], atol=1e-9)


# ---------------------------------------------------------------------- weights
@pytest.mark.parametrize("rank", ["full", 5])
def test_duplicated_rows_equal_doubled_weight(rank):
    X, Y, _, _, w = _affine_data(seed=2, noise=0.3)
    dup = np.arange(0, 400, 3)
    Xd = np.concatenate([X, X[dup]])
    Yd = np.concatenate([Y, Y[dup]])
    wd = np.concatenate([w, w[dup]])
    w2 = w.copy()
    w2[dup] *= 2
    a = fit_affine(Xd, Yd, wd, rank=rank)
    b = fit_affine(X, Y, w2, rank=rank)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-10)
    np.testing.assert_allclose(a.intercept, b.intercept, atol=1e-10)
    ma = probe_metrics(Yd, a.predict(Xd), wd)
    mb = probe_metrics(Y, b.predict(X), w2)
    for key in ("mse", "rmse", "r2", "cos_r2"):
        assert ma[key] == pytest.approx(mb[key], rel=1e-10)


def test_weights_scale_invariant_and_zero_weight_rows_ignored():
    X, Y, _, _, w = _affine_data(seed=3, noise=0.3)
    a = fit_affine(X, Y, w, rank="full")
    b = fit_affine(X, Y, 1000.0 * w, rank="full")
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-10)
    # appending garbage rows with zero weight changes nothing
    rng = np.random.default_rng(0)
    Xg = np.concatenate([X, 100 * rng.normal(size=(50, 8))])
    Yg = np.concatenate([Y, 100 * rng.normal(size=(50, 3))])
    c = fit_affine(Xg, Yg, np.concatenate([w, np.zeros(50)]), rank="full")
    np.testing.assert_allclose(a.coef, c.coef, atol=1e-9)


def test_weighted_fit_matches_closed_form_normal_equations():
    X, Y, _, _, w = _affine_data(seed=4, noise=0.5)
    A = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
    sol = np.linalg.solve(A.T @ (A * w[:, None]), A.T @ (Y * w[:, None]))
    f = fit_affine(X, Y, w, rank="full")
    np.testing.assert_allclose(f.coef, sol[:-1], atol=1e-10)
    np.testing.assert_allclose(f.intercept, sol[-1], atol=1e-10)


# ---------------------------------------------------------------------- cross-validation
def test_cv_errors_match_brute_force():
    X, Y, _, _, w = _affine_data(seed=5, N=300, d=6, noise=0.7)
    ranks, err, se = cross_validate_rank(X, Y, w, folds=4, seed=9)
    fold_of = np.random.default_rng(9).permutation(300) % 4
    p = w / w.sum()
    for r in ranks:
        sse = 0.0
        for f in range(4):
            tr, te = fold_of != f, fold_of == f
            fit = fit_affine(X[tr], Y[tr], w[tr], rank=int(r))
            sse += np.sum(p[te, None] * (Y[te] - fit.predict(X[te])) ** 2)
        assert err[r] == pytest.approx(sse / 3, rel=1e-9)
    assert np.all(se >= 0) and ranks[0] == 0 and ranks[-1] == 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_picks_the_true_rank_on_low_rank_data(seed):
    rng = np.random.default_rng(seed)
    N, d, r = 400, 30, 4
    Z = rng.normal(size=(N, r))
    X = Z @ rng.normal(size=(r, d)) + 1e-3 * rng.normal(size=(N, d))  # rank-4 signal + tiny noise directions
    Y = Z @ rng.normal(size=(r, 3)) + 0.05 * rng.normal(size=(N, 3))
    w = rng.random(N)
    assert fit_affine(X, Y, w, seed=seed, select="1se").rank == r  # one-standard-error rule
    assert r <= fit_affine(X, Y, w, seed=seed).rank <= r + 4  # "min" (default) may add a few noise directions


def test_cv_is_deterministic_for_a_seed():
    X, Y, _, _, w = _affine_data(seed=6, noise=1.0)
    a = cross_validate_rank(X, Y, w, seed=3)
    b = cross_validate_rank(X, Y, w, seed=3)
    np.testing.assert_array_equal(a[1], b[1])


# ---------------------------------------------------------------------- metrics
def test_metrics_against_hand_computation():
    Y = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    Yh = np.array([[0.0, 2.0], [1.0, 0.0], [1.0, 2.0]])
    w = np.array([1.0, 1.0, 2.0])  # p = 1/4, 1/4, 1/2
    m = probe_metrics(Y, Yh, w)
    # errors: row0 (0, -1), row2 (1, 0): per-coordinate weighted SSE = (1/2, 1/4)
    assert m["mse"] == pytest.approx((0.5 + 0.25) / 2)
    assert m["rmse"] == pytest.approx(math.sqrt(0.375))
    assert m["rmse_per_coordinate"] == pytest.approx([math.sqrt(0.5), math.sqrt(0.25)])
    # weighted means: coord0 = 0/4 + 1/4 + 2/2 = 1.25; coord1 = 1/4 + 0 + 1 = 1.25
    sst0 = 0.25 * 1.25 ** 2 + 0.25 * 0.25 ** 2 + 0.5 * 0.75 ** 2
    sst1 = 0.25 * 0.25 ** 2 + 0.25 * 1.25 ** 2 + 0.5 * 0.75 ** 2
    assert m["r2_per_coordinate"] == pytest.approx([1 - 0.5 / sst0, 1 - 0.25 / sst1])
    assert m["r2"] == pytest.approx(1 - 0.75 / (sst0 + sst1))
    dev, hdev = Y - 1.25, Yh - 1.25
    num = np.sum(w[:, None] / 4 * dev * hdev)
    cos = num ** 2 / (np.sum(w[:, None] / 4 * dev ** 2) * np.sum(w[:, None] / 4 * hdev ** 2))
    assert m["cos_r2"] == pytest.approx(cos)


def test_cos_r2_ignores_rescaling_and_equals_r2_in_sample():
    X, Y, _, _, w = _affine_data(seed=7, noise=1.0)
    f = fit_affine(X, Y, w, rank="full")
    m = probe_metrics(Y, f.predict(X), w)
    assert m["cos_r2"] == pytest.approx(m["r2"], rel=1e-9)
    ybar = (w / w.sum()) @ Y
    m2 = probe_metrics(Y, ybar + 3.0 * (f.predict(X) - ybar), w)
    assert m2["cos_r2"] == pytest.approx(m["cos_r2"], rel=1e-9) and m2["r2"] < m["r2"]


def test_constant_coordinate_has_nan_r2_not_an_error():
    Y = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    m = probe_metrics(Y, Y + 0.1, None)
    assert math.isnan(m["r2_per_coordinate"][0]) and np.isfinite(m["r2"])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_r2_of_least_squares_fit_in_unit_interval(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 5))
    Y = rng.normal(size=(60, k))
    f = fit_affine(X, Y, rng.random(60) + 0.01, rank="full")
    m = probe_metrics(Y, f.predict(X), None if seed % 2 else np.ones(60))
    assert -1e-9 <= m["cos_r2"] <= 1 + 1e-9 and m["mse"] >= 0


# ---------------------------------------------------------------------- geometry checks
def test_weighted_pca_and_affine_dimension():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(500, 2)) * [3.0, 1.0]
    X = np.concatenate([Z, 1e-4 * rng.normal(size=(500, 3))], axis=1) @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
    dim, cum = weighted_pca_dimension(X, None, 0.95)
    assert dim == 2 and cum[-1] == pytest.approx(1.0)
    assert weighted_pca_dimension(X, None, 0.5)[0] == 1
    simplex = rng.dirichlet([1, 1, 1], size=200)
    assert affine_dimension(simplex, rng.random(200)) == 2
    assert affine_dimension(np.ones((10, 3))) == 0


def test_distance_r2():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(300, 3))
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    assert distance_r2(A, 2.5 * A @ Q + 1.0, rng.random(300), n_pairs=3000) == pytest.approx(1.0)
    assert distance_r2(A, rng.normal(size=(300, 3)), n_pairs=3000) < 0.05


# ---------------------------------------------------------------------- the probe
def _synthetic_network(seed=0, N=1500):
    """Activations that contain the beliefs linearly (plus nuisance dims), an untrained
    'network' with unrelated activations, and weights."""
    rng = np.random.default_rng(seed)
    beliefs = rng.dirichlet([0.5, 0.5, 0.5], size=N)
    mix = rng.normal(size=(3, 12))
    layer0 = np.tanh(rng.normal(size=(N, 12)))  # knows nothing
    layer1 = beliefs @ mix + 0.01 * rng.normal(size=(N, 12))  # linear in the beliefs
    untrained = {"l0": rng.normal(size=(N, 12)), "l1": rng.normal(size=(N, 12))}
    return {"l0": layer0, "l1": layer1}, beliefs, untrained, rng.random(N) + 0.05


def test_probe_finds_represented_beliefs_and_baselines_fail():
    acts, beliefs, untrained, w = _synthetic_network()
    r = probe(acts, beliefs, w, untrained=untrained, folds=5)
    assert list(r.points) == ["l0", "l1", CONCAT] and r.headline == CONCAT
    assert r.points["l1"].r2 > 0.99 and r.points[CONCAT].r2 > 0.99
    assert r.points["l0"].r2 < 0.1
    for pt in r.points.values():
        assert pt.shuffled["r2"] <= 0.05  # the shuffled-belief control collapses
        assert pt.untrained["r2"] <= 0.05
    assert r.verdict == "represented"
    assert r.geometry["belief_affine_dim"] == 2
    assert r.geometry["dist_r2_beliefs"] > 0.95
    assert r.meta["n_test"] + r.meta["n_train"] == beliefs.shape[0]
    assert r.arrays["predicted"].shape == r.arrays["beliefs"].shape


def test_probe_verdict_not_when_nothing_is_represented():
    acts, beliefs, untrained, w = _synthetic_network(seed=1)
    r = probe({"l0": acts["l0"]}, beliefs, w, untrained={"l0": untrained["l0"]}, folds=5)
    assert r.headline == "l0" and CONCAT not in r.points
    assert r.verdict == "not"


def test_probe_markov_baseline_and_constant_coordinates():
    acts, beliefs, _, w = _synthetic_network(seed=2)
    # a "Markov" baseline that knows the beliefs only coarsely
    coarse = np.eye(3)[np.argmax(beliefs, axis=1)]
    padded = np.concatenate([np.ones((beliefs.shape[0], 1)), beliefs], axis=1)  # constant first coordinate
    r = probe(acts, padded, w, markov_beliefs=coarse, markov_order=1, next_probs=beliefs, folds=5)
    assert r.meta["dropped_coordinates"] == [0] and r.meta["belief_coordinates"] == 3
    mk = r.baselines["markov"]
    assert mk["order"] == 1 and mk["n_states"] == 3 and 0.2 < mk["r2"] < 0.95
    assert r.points[CONCAT].markov_targets["r2"] > 0.3
    assert r.verdict == "represented"
    assert r.geometry["dist_r2_next"] == pytest.approx(r.geometry["dist_r2_beliefs"])


def test_verdict_thresholds():
    assert verdict(0.99, 0.01, {"shuffled": 0.3, "untrained": 0.1, "markov": 0.05})[0] == "represented"
    assert verdict(0.99, 0.06, {"shuffled": 0.3, "untrained": 0.1, "markov": 0.05})[0] == "partly"  # loses to Markov
    assert verdict(0.99, 0.06, {"shuffled": 0.3, "untrained": 0.1})[0] == "partly"  # control ratio 0.6
    assert verdict(0.7, 0.05, {"shuffled": 0.3})[0] == "partly"
    assert verdict(0.4, 0.05, {"shuffled": 0.3})[0] == "not"
    assert verdict(0.95, 0.29, {"shuffled": 0.3})[0] == "not"
    assert verdict(float("nan"), 0.1, {})[0] == "not"
    v, reasons = verdict(0.95, 0.01, {"shuffled": 0.3}, {"represented_r2": 0.99})
    assert v == "partly" and any("0.99" in s for s in reasons)
    assert set(DEFAULT_THRESHOLDS) >= {"represented_r2", "partly_r2"}


def test_result_json_round_trip(tmp_path):
    acts, beliefs, untrained, w = _synthetic_network(seed=3, N=600)
    r = probe(acts, beliefs, w, untrained=untrained, folds=4, meta={"process": "synthetic"})
    path = tmp_path / "sub" / "probe.json"
    r.to_json(path)
    assert sorted(os.listdir(path.parent)) == ["probe.json"]  # no temporary file left behind
    back = ProbeResult.from_json(path)
    assert back.to_dict() == r.to_dict()
    assert back.verdict == r.verdict and back.points[CONCAT].r2 == r.points[CONCAT].r2
    assert back.points["l0"].test["r2_per_coordinate"] == pytest.approx(r.points["l0"].test["r2_per_coordinate"])
    json.loads(path.read_text())  # strict JSON (NaN written as null)
    r.to_json(tmp_path / "with_arrays.json", include_arrays=True)
    back2 = ProbeResult.from_json(tmp_path / "with_arrays.json")
    np.testing.assert_allclose(back2.arrays["predicted"], r.arrays["predicted"])
    text = r.summary()
    assert "verdict: REPRESENTED" in text and "concat" in text and "l1" in text


def test_result_from_bad_dict():
    with pytest.raises(ValueError, match="not a ProbeResult"):
        ProbeResult.from_dict({"verdict": "not"})


# ---------------------------------------------------------------------- bad input
def test_bad_input_errors():
    X, Y, _, _, w = _affine_data()
    with pytest.raises(ValueError, match="same number of rows"):
        fit_affine(X, Y[:-1])
    with pytest.raises(ValueError, match="weights must have shape"):
        fit_affine(X, Y, w[:-1])
    bad = w.copy()
    bad[3] = -0.5
    with pytest.raises(ValueError, match=r"nonnegative; weight\[3\]"):
        fit_affine(X, Y, bad)
    with pytest.raises(ValueError, match="sum to zero"):
        fit_affine(X, Y, np.zeros_like(w))
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        fit_affine(Xn, Y)
    with pytest.raises(ValueError, match="rank must be"):
        fit_affine(X, Y, rank="best")
    with pytest.raises(ValueError, match="rank must be"):
        fit_affine(X, Y, rank=-1)
    with pytest.raises(ValueError, match="folds must be"):
        fit_affine(X, Y, folds=1)
    with pytest.raises(ValueError, match="select must be"):
        fit_affine(X, Y, select="max")
    with pytest.raises(ValueError, match=r"shape \(N, k\)"):
        fit_affine(X[None], Y)
    with pytest.raises(ValueError, match="X must have shape"):
        fit_affine(X, Y).predict(X[:, :3])
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(10, 1.5)
    with pytest.raises(ValueError, match="same shape"):
        probe_metrics(Y, Y[:, :2])


def test_probe_bad_input_errors():
    acts, beliefs, untrained, w = _synthetic_network(N=200)
    with pytest.raises(ValueError, match="beliefs have 199 rows"):
        probe(acts, beliefs[:-1], w)
    with pytest.raises(ValueError, match=r"activations\['l1'\] has 199 rows"):
        probe({"l0": acts["l0"], "l1": acts["l1"][:-1]}, beliefs, w)
    with pytest.raises(ValueError, match="unknown activation names for concat"):
        probe(acts, beliefs, w, concat=["l0", "l7"])
    with pytest.raises(ValueError, match="unknown headline"):
        probe(acts, beliefs, w, headline="l9")
    with pytest.raises(ValueError, match="untrained activations lack points"):
        probe(acts, beliefs, w, untrained={"l0": untrained["l0"]})
    with pytest.raises(ValueError, match="weights must be nonnegative"):
        probe(acts, beliefs, -w)
    with pytest.raises(ValueError, match="every belief coordinate is constant"):
        probe(acts, np.ones((200, 2)), w)
    with pytest.raises(ValueError, match="unknown verdict thresholds"):
        probe(acts, beliefs, w, thresholds={"represented": 0.5}, folds=3)
    with pytest.raises(ValueError, match="reserved"):
        probe({"concat": acts["l0"]}, beliefs, w)


def test_shuffle_groups_permute_within_groups_and_keep_weights():
    from nets.probe.controls import permute_within as _permute_within

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, size=200)
    perm = _permute_within(groups, 200, np.random.default_rng(1))
    assert sorted(perm.tolist()) == list(range(200))
    np.testing.assert_array_equal(groups[perm], groups)
    assert (perm != np.arange(200)).mean() > 0.5
    with pytest.raises(ValueError, match="shuffle_groups"):
        _permute_within(groups[:10], 200, rng)


def test_grouped_shuffled_control_is_a_failure_with_unequal_weights():
    from nets.probe import probe

    rng = np.random.default_rng(3)
    N = 600
    lengths = np.repeat([1, 2, 3], N // 3)
    w = np.where(lengths == 1, 50.0, 1.0) * rng.random(N)  # a few heavy rows
    Y = rng.normal(size=(N, 2))
    X = Y @ rng.normal(size=(2, 8)) + 0.01 * rng.normal(size=(N, 8))
    r = probe({"x": X}, Y, w, shuffle_groups=lengths, folds=3)
    pt = r.points["x"]
    assert pt.test["r2"] > 0.99 and pt.shuffled["r2"] < 0.2


# ---------------------------------------------------------------------- the closed-form CV, more cases
@pytest.mark.parametrize("max_rank,low_rank", [(None, True), (3, False), (None, False)])
def test_cv_closed_form_equals_explicit_refits(max_rank, low_rank):
    """The closed form (nets.probe.cv) against its definition: a refit per fold and rank."""
    rng = np.random.default_rng(11)
    N, d = 240, 7
    X = rng.normal(size=(N, d))
    if low_rank:  # a rank-4 design: the candidate ranks stop at the numerical rank
        X = X[:, :4] @ rng.normal(size=(4, d)) + 3.0
    Y = X @ rng.normal(size=(d, 2)) + 0.5 * rng.normal(size=(N, 2))
    w = rng.random(N) ** 3  # very unequal weights
    ranks, err, se = cross_validate_rank(X, Y, w, folds=5, seed=4, max_rank=max_rank)
    assert ranks[-1] == (4 if low_rank else (max_rank or d))
    fold_of = np.random.default_rng(4).permutation(N) % 5
    p = w / w.sum()
    per_fold = np.zeros((5, ranks.size))
    for f in range(5):
        tr, te = fold_of != f, fold_of == f
        for r in ranks:
            fit = fit_affine(X[tr], Y[tr], w[tr], rank=int(r), solver="svd")
            per_fold[f, r] = np.sum(p[te, None] * (Y[te] - fit.predict(X[te])) ** 2)
    np.testing.assert_allclose(err, per_fold.sum(0) / 2, rtol=1e-8)
    mass = np.array([p[fold_of == f].sum() for f in range(5)])[:, None]
    np.testing.assert_allclose(se, (per_fold / (mass * 2)).std(0, ddof=1) / np.sqrt(5), rtol=1e-6)


# ---------------------------------------------------------------------- ProbeSpec, probe(dataset, spec), rows
def test_probe_spec_validates_and_is_frozen():
    from dataclasses import FrozenInstanceError

    from nets.probe import ProbeSpec

    s = ProbeSpec(folds=4, thresholds={"partly_r2": 0.6}, names=["a"], positions=[2, 1])
    assert s.names == ("a",) and s.positions == (2, 1) and s.threshold_dict()["partly_r2"] == 0.6
    assert hash(s) == hash(ProbeSpec(folds=4, thresholds={"partly_r2": 0.6}, names=("a",), positions=(2, 1)))
    with pytest.raises(FrozenInstanceError):
        s.folds = 3
    for kw, msg in [({"folds": 1}, "folds must be an integer >= 2"), ({"rank": "best"}, "rank must be one of"),
                    ({"rank": -1}, "rank must be an integer >= 0"), ({"test_fraction": 1.0}, "test_fraction must be a finite real number > 0 and < 1"),
                    ({"seed": True}, "seed must be an integer"), ({"thresholds": {"x": 1}}, "unknown verdict thresholds"),
                    ({"select": "max"}, "select must be one of"), ({"positions": "first"}, "positions must be one of"),
                    ({"positions": [0, 2]}, "positions must be an integer >= 1"), ({"names": [3]}, "names must be")]:
        with pytest.raises(ValueError, match=msg):
            ProbeSpec(**kw)
    acts, beliefs, _, w = _synthetic_network(N=200)
    with pytest.raises(ValueError, match=r"unknown probe option\(s\) \['fold'\]"):
        probe(acts, beliefs, w, fold=3)
    with pytest.raises(ValueError, match="the beliefs \\(N, k\\) are required"):
        probe(acts)


def test_probe_task_and_dataset_call_forms_agree():
    from nets.probe import ProbeSpec, ProbeTask

    acts, beliefs, untrained, w = _synthetic_network(seed=4, N=500)
    spec = ProbeSpec(folds=4, seed=2)
    a = probe(acts, beliefs, w, untrained=untrained, folds=4, seed=2)
    b = probe(ProbeTask(acts, beliefs, w, untrained=untrained), spec)
    c = probe(ProbeTask(acts, beliefs, w, untrained=untrained), spec, meta={"tag": 1})
    assert a.to_dict() == b.to_dict()
    assert c.meta["tag"] == 1 and c.points["concat"].r2 == a.points["concat"].r2
    with pytest.raises(ValueError, match="pass only ProbeSpec options"):
        probe(ProbeTask(acts, beliefs, w), spec, untrained=untrained)


def test_concat_and_headline_accept_either_spelling():
    acts, beliefs, _, w = _synthetic_network(seed=6, N=300)
    named = {"blocks.0.resid_post": acts["l0"], "blocks.1.resid_post": acts["l1"]}
    a = probe(named, beliefs, w, folds=3, concat=["blocks.1.hook_resid_post"], headline="blocks.0.hook_resid_post")
    assert a.headline == "blocks.0.resid_post" and a.points["concat"].dim == 12
    assert a.points["concat"].r2 == pytest.approx(a.points["blocks.1.resid_post"].r2)


def test_to_row_and_summary_keep_full_point_names():
    long = "blocks.10.attn.hook_something_long_name"
    acts, beliefs, untrained, w = _synthetic_network(seed=5, N=400)
    r = probe({long: acts["l1"], "l0": acts["l0"]}, beliefs, w, untrained={long: untrained["l1"], "l0": untrained["l0"]},
              folds=3, meta={"process": "synthetic"})
    assert long in r.summary()
    row = r.to_row()
    assert row["verdict"] == r.verdict and row["headline"] == "concat" and row["process"] == "synthetic"
    assert row["r2"] == r.points["concat"].r2 and row[f"r2:{long}"] == r.points[long].r2
    assert row["shuffled_rmse"] == r.baselines["rmse"]["shuffled"]
    assert row["untrained_rmse"] == r.points["concat"].untrained["rmse"]
