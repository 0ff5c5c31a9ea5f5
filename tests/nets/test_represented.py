"""nets.represented: the compressed k-step-future fit against the direct one, the horizon
against the rank of the materialized future map, and the known answers -- Mess3 and the
Bloch walk (the next token determines the belief: horizon 1, nothing beyond it), RRXOR
(much lies beyond the next token) -- with synthetic "perfect" activations (an affine
embedding of the true beliefs plus small noise) and with briefly trained networks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators import library
from generators.representations import minimal_form
from generators.words import all_words
from nets.probe import build_probe_dataset, probe
from nets.represented import RepresentedResult, belief_horizon, unexplained, what_is_represented
from nets.represented.future import beliefs_with_constant, compressed_future, future_factor

WIDTH = 12


def direct_future(h, k: int) -> np.ndarray:
    """The slow definition: ``M_k = [T[w] tau]_{|w| = k}`` (n x V^k), every word materialized."""
    W = all_words(h.alphabet_size, k)
    v = np.broadcast_to(h.tau, (W.shape[0], h.dim)).copy()
    for t in reversed(range(k)):
        v = np.einsum("wij,wj->wi", h.operators[W[:, t]], v)
    return v.T


def synthetic(g, context: int, features: str = "belief", noise: float = 1e-3, seed: int = 0):
    """A probe dataset of ``g`` with one point ``"layer"`` holding an affine image of the
    beliefs (or of the next-token distribution) plus noise, and an "untrained" twin that
    holds a random embedding of the last symbol."""
    ds = build_probe_dataset(g, context=context, markov_order=None)
    rng = np.random.default_rng(seed)
    F = ds.beliefs["minimal"] if features == "belief" else ds.next_probs
    N = F.shape[0]
    ds.activations = {"layer": F @ rng.normal(size=(F.shape[1], WIDTH)) + 1.0 + noise * rng.normal(size=(N, WIDTH))}
    last = ds.prefixes[np.arange(N), ds.lengths - 1]
    E = rng.normal(size=(g.alphabet_size, WIDTH))
    ds.untrained = {"layer": E[last] + noise * rng.normal(size=(N, WIDTH))}
    return ds


# ---------------------------------------------------------------------- fast path vs definition
def test_compressed_future_fit_equals_the_direct_fit():
    """Same held-out R^2, cos R^2, rank and controls as fitting all V^k columns."""
    g = library.random_hmm(4, 3, seed=1)
    h = minimal_form(g)
    ds = build_probe_dataset(g, context=5, markov_order=None)
    rng = np.random.default_rng(3)
    B = ds.beliefs["minimal"]
    N = B.shape[0]
    ds.activations = {"a": np.tanh(B @ rng.normal(size=(B.shape[1], 6)) * 3) + 0.05 * rng.normal(size=(N, 6)),
                      "b": B[:, :1] @ rng.normal(size=(1, 4)) + 0.05 * rng.normal(size=(N, 4))}
    ds.untrained = {k: rng.normal(size=v.shape) for k, v in ds.activations.items()}
    r = what_is_represented(ds, g, horizons=(3,), n_boot=0)
    eta = beliefs_with_constant(g, ds.prefixes, ds.lengths)
    Y = eta @ direct_future(h, 3)  # (N, 27): the distribution of the next 3 symbols
    direct = probe(ds.activations, Y, ds.weights, untrained=ds.untrained, shuffle_groups=ds.lengths)
    assert r.points == list(direct.points) == ["a", "b", "concat"]
    for p in r.points:
        row, pt = r.row(p, "next_3"), direct.points[p]
        assert row["rank"] == pt.rank
        np.testing.assert_allclose([row["r2"], row["cos_r2"], row["shuffled_r2"], row["untrained_r2"]],
                                   [pt.r2, pt.test["cos_r2"], pt.shuffled["r2"], pt.untrained["r2"]], atol=1e-8)
    assert 0.3 < r.r2("concat", "next_3") < 0.999  # an imperfect fit: the comparison is not trivial


@pytest.mark.parametrize("name", ["rrxor", "mess3", "bloch_walk"])
def test_future_factor_reproduces_the_materialized_future_map(name):
    h = minimal_form(library.get(name))
    F = future_factor(h.operators, h.tau, 4)
    for k in range(1, 5):
        M = direct_future(h, k)
        np.testing.assert_allclose(F[k] @ F[k].T, M @ M.T, atol=1e-12)
        C, s = compressed_future(F[k])
        np.testing.assert_allclose((C * s[0]) @ (C * s[0]).T, M[1:] @ M[1:].T, atol=1e-12)


@given(st.integers(2, 5), st.integers(2, 3), st.integers(0, 10_000))
def test_horizon_is_the_rank_of_the_future_map_and_at_most_n_minus_1(n_states, n_symbols, seed):
    g = library.random_hmm(n_states, n_symbols, seed=seed)
    h = minimal_form(g)
    hz = belief_horizon(g, max_k=4)
    for k in range(1, 5):  # the slow definition: rank of M'_k with every word materialized
        M = direct_future(h, k)[1:]
        s = np.linalg.svd(M, compute_uv=False)
        assert hz.ranks[k - 1] == int(np.sum(s > 1e-9 * np.linalg.norm(direct_future(h, k), 2)))
    assert list(hz.ranks) == sorted(hz.ranks)  # observability spaces only grow
    if h.dim > 1:
        assert hz.horizon is not None and hz.horizon <= h.dim - 1
        assert hz.ranks[hz.horizon - 1] == h.dim - 1


def test_unexplained_is_the_weighted_projection_off_the_next_token_directions():
    g = library.rrxor()
    h = minimal_form(g)
    ds = build_probe_dataset(g, context=8, markov_order=None)
    b, p = ds.beliefs["minimal"], ds.weights
    P = ds.next_probs
    R = unexplained(b, P, p)
    bc = b - p @ b
    Mp = direct_future(h, 1)[1:]  # the next-token map on belief coordinates
    S = bc.T @ (p[:, None] * bc)
    expect = bc - bc @ Mp @ np.linalg.pinv(Mp.T @ S @ Mp) @ Mp.T @ S
    np.testing.assert_allclose(R - p @ R, expect, atol=1e-10)


# ---------------------------------------------------------------------- known answers
def test_belief_horizon_known_answers():
    assert belief_horizon(library.mess3()).horizon == 1
    assert belief_horizon(library.bloch_walk()).horizon == 1
    r = belief_horizon(library.rrxor(), max_k=6)
    assert (r.horizon, r.ranks, r.belief_dim) == (4, (1, 2, 3, 4, 4, 4), 4)
    assert belief_horizon(library.zero_one_random()).horizon == 2
    iid = library.mess3(x=0.05, a=1 / 3)  # uniform emissions: i.i.d., the belief never moves
    assert belief_horizon(iid).horizon == 0


def test_mess3_nothing_lies_beyond_the_next_token():
    g = library.mess3()
    r = what_is_represented(synthetic(g, 6), g, n_boot=50)
    assert r.horizon == 1 and r.future_ranks[:4] == [2, 2, 2, 2]
    assert max(r.beyond.values()) < 1e-9  # residual ~0 for every k
    assert r.probed == ["belief", "next", "next_2", "next_4", "next_8"]  # beyond_next: nothing to probe
    for t in r.probed:
        assert r.r2("layer", t) > 0.999
        assert r.row("layer", t)["untrained_r2"] < r.r2("layer", t) - 0.1
    assert r.verdicts["layer"].startswith("the next token determines the belief here")
    iv = r.intervals["belief"]
    assert iv["lo"] <= r.r2("concat" if "concat" in r.points else "layer", "belief") <= iv["hi"]


def test_rrxor_much_lies_beyond_the_next_token_and_perfect_activations_predict_it():
    g = library.rrxor()
    r = what_is_represented(synthetic(g, 10), g, horizons=(1, 2, 3, 4), n_boot=0)
    assert r.horizon == 4 and r.future_ranks[:4] == [1, 2, 3, 4]
    assert r.beyond[1] > 0.6 and r.beyond[1] > r.beyond[2] > r.beyond[3] > 0.01 and r.beyond[4] < 1e-9
    assert r.r2("layer", "beyond_next") > 0.99
    assert r.row("layer", "beyond_next")["untrained_r2"] < 0.5
    assert r.verdicts["layer"].startswith("represents the belief beyond the next token")


def test_rrxor_activations_that_hold_only_the_next_token_predict_nothing_beyond_it():
    g = library.rrxor()
    r = what_is_represented(synthetic(g, 10, features="next"), g, horizons=(2,), n_boot=0)
    assert r.r2("layer", "next") > 0.99
    assert r.r2("layer", "beyond_next") < 0.05
    assert r.r2("layer", "belief") < 1 - r.beyond[1] + 0.05  # only the next-token part of the belief
    assert r.verdicts["layer"].startswith("does not represent the belief beyond the next token")


def test_bloch_walk_the_next_token_determines_the_belief():
    """Bloch vector (x, z): Pr(0) = c + o z, Pr(1) = c - o z, Pr(2) = c + o x, Pr(3) = c - o x
    with c = 1/4, o = alpha beta / (2 (alpha^2 + beta^2)) -- two independent affine
    functions of the 2-dim belief, so the next token determines it (horizon 1)."""
    a, b = 1.0, 51 ** 0.5
    g = library.bloch_walk(a, b)
    rng = np.random.default_rng(0)
    K = np.array([ops[0] for ops in g.kraus])
    o = a * b / (2 * (a * a + b * b))
    for w in all_words(4, 3)[rng.permutation(64)[:10]]:
        rho = np.eye(2) / 2
        for x in w:
            rho = K[x] @ rho @ K[x].conj().T
            rho /= np.trace(rho).real
        x_, z_ = 2 * rho[0, 1].real, (rho[0, 0] - rho[1, 1]).real
        pr = [np.trace(K[s] @ rho @ K[s].conj().T).real for s in range(4)]
        np.testing.assert_allclose(pr, [0.25 + o * z_, 0.25 - o * z_, 0.25 + o * x_, 0.25 - o * x_], atol=1e-12)
    r = what_is_represented(synthetic(g, 5), g, horizons=(2, 4), n_boot=0)
    assert r.horizon == 1 and r.future_ranks == [2, 2, 2, 2]
    assert max(r.beyond.values()) < 1e-9 and "beyond_next" not in r.probed
    assert min(r.r2("layer", t) for t in r.probed) > 0.999


def test_briefly_trained_mess3_model(trained, mess3):
    """The conftest's transformer (150 steps on Mess3's exact next-symbol distributions):
    its layers hold the belief well above the untrained twin; nothing lies beyond the
    next token, so every future target is fitted alike."""
    r = what_is_represented(trained, mess3, context=5, n_boot=0)
    assert r.horizon == 1 and "beyond_next" not in r.probed
    for p in ("blocks.1.resid_post", "concat"):
        assert r.r2(p, "belief") > 0.95 > r.row(p, "belief")["untrained_r2"] + 0.1
        assert abs(r.r2(p, "next_8") - r.r2(p, "belief")) < 0.02


@pytest.mark.slow
def test_briefly_trained_rrxor_run_learns_the_next_token_before_what_lies_beyond(tmp_path):
    """A run directory trained briefly on RRXOR's exact next-symbol distributions fits the
    next token's distribution but not the part of the belief beyond it (the network has
    not yet learned the XOR structure)."""
    from nets.train import TrainConfig, train

    cfg = TrainConfig(process="rrxor", context=6, data_mode="exact", targets="exact", steps=200, lr=3e-3,
                      batch_size=64, model={"kind": "transformer", "n_layers": 1, "d_model": 16, "n_heads": 2,
                                            "d_mlp": 32}, out_dir=str(tmp_path / "run"), quiet=True, device="cpu")
    train(cfg)
    r = what_is_represented(tmp_path / "run", horizons=(2,), n_boot=0)
    assert r.horizon == 4 and r.beyond[1] > 0.6
    best_next = max(r.r2(p, "next") for p in r.points)
    assert best_next > 0.5 and r.r2("concat", "beyond_next") < 0.25
    assert "does not represent the belief beyond the next token" in r.verdicts["concat"]


# ---------------------------------------------------------------------- result object and errors
def test_result_round_trips_and_renders(tmp_path):
    g = library.rrxor()
    r = what_is_represented(synthetic(g, 8, noise=0.3), g, horizons=(2,), n_boot=50)
    back = RepresentedResult.from_json(r.to_json(tmp_path / "r.json"))
    assert back.to_dict() == r.to_dict() and back.beyond == r.beyond
    text = r.summary()
    assert "horizon 4" in text and "belief beyond next token" in text and r.verdicts["layer"] in text
    fig = r.figure()
    solid = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "-" and ln.get_label() in
             ("belief", "next token", "next 2 tokens", "belief beyond next token")]
    assert len(solid) == len(r.probed) == 4
    np.testing.assert_allclose(solid[-1].get_ydata(), [r.r2(p, "beyond_next") for p in r.points])
    paths = r.write(tmp_path / "out")
    md = paths["markdown"].read_text()
    row = r.row("layer", "beyond_next")
    iv = r.intervals["beyond_next"]  # the headline ("layer", the only point) carries its interval
    assert f"| layer | belief beyond next token | {row['r2']:.3f} [{iv['lo']:.3f}, {iv['hi']:.3f}] |" in md
    assert "![held-out R^2 by point" in md and "represented.png" in md
    assert json.loads(paths["json"].read_text())["horizon"] == 4
    assert iv["method"] == "bootstrap" and iv["lo"] < row["r2"] < iv["hi"]


@pytest.mark.parametrize("kwargs, needle", [
    ({"horizons": (0, 2)}, "horizons must be an integer >= 1"),
    ({"horizons": "12"}, "horizons must be a sequence"),
    ({"horizons": ()}, "at least one"),
    ({"horizons": (True,)}, "horizons must be an integer"),
    ({"representation": "native"}, "drop the representation option"),
    ({"n_boot": -1}, "n_boot must be an integer >= 0"),
    ({"folds": 1}, "folds must be an integer >= 2"),
])
def test_bad_options_raise(kwargs, needle):
    g = library.mess3()
    ds = synthetic(g, 3)
    with pytest.raises(ValueError, match=needle):
        what_is_represented(ds, g, **kwargs)


def test_bad_sources_raise(tmp_path):
    g = library.mess3()
    ds = synthetic(g, 3)
    with pytest.raises(ValueError, match="does not carry its process"):
        what_is_represented(ds)
    with pytest.raises(ValueError, match="3 symbols but generator has 2"):
        what_is_represented(ds, library.rrxor())
    with pytest.raises(ValueError, match="not those of generator"):
        what_is_represented(ds, library.mess3(x=0.1))
    with pytest.raises(ValueError, match="does not exist"):
        what_is_represented(tmp_path / "nope")
    with pytest.raises(ValueError, match="no checkpoint.pt"):
        what_is_represented(tmp_path)
    iid = library.mess3(x=0.05, a=1 / 3)
    with pytest.raises(ValueError, match="never changes"):
        what_is_represented(synthetic(iid, 3), iid)
    with pytest.raises(ValueError, match="generator= is required"):
        what_is_represented(object())
