"""Known answers for every way into the probe: a qbelief model, a TransformerLens model, a
plain torch module, saved activations (API and ``qbelief probe --activations``) give the
same verdict table; from_sequences aligns beliefs with positions and merges prefixes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generators import library
from generators.representations import representation
from generators.words import allowed_words
from nets.activations import collect
from nets.adapters import ModuleSource
from nets.cli import main
from nets.probe import ProbeDataset, ProbeResult, ProbeSpec, build_probe_dataset, probe
from nets.tensorfile import save_activation_file

CTX = 5
PROCESS = "mess3:x=0.05,a=0.85"
NAMES = ["blocks.0.resid_post", "blocks.1.resid_post", "ln_final"]
# rank "full": the TransformerLens forward pass rounds differently (activations agree to ~1e-7),
# and a CV-chosen rank may flip between two near-equivalent ranks under such differences
SPEC = ProbeSpec(folds=5, rank="full")


@pytest.fixture(scope="module")
def g(mess3):
    return mess3


@pytest.fixture(scope="module")
def models(trained, tiny):
    """The trained transformer (conftest) and an untrained twin."""
    return trained.eval(), tiny(seed=7).eval()


def _table(r: ProbeResult) -> list:
    """What the verdict table shows (summary's rounding)."""
    rows = [(r.verdict, r.headline)]
    for pt in r.points.values():
        u = pt.untrained or {}
        rows.append((pt.name, pt.dim, pt.rank, round(pt.r2, 4), round(pt.test["cos_r2"], 4), round(pt.rmse, 5),
                     round(pt.shuffled["r2"], 3), round(u.get("r2", np.nan), 3), pt.pca95))
    mk = r.baselines.get("markov")
    return rows + [(mk["order"], round(mk["r2"], 4))]


@pytest.fixture(scope="module")
def reference(g, models):
    m, u = models
    return probe(build_probe_dataset(g, m, names=NAMES, untrained=u), SPEC)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, g, models):
    """All allowed words with their probabilities, and both models' activations, in an .npz."""
    m, u = models
    W, P = allowed_words(g, CTX)
    path = tmp_path_factory.mktemp("acts") / "acts.npz"
    save_activation_file(path, W, collect(m, W, NAMES), untrained=collect(u, W, NAMES), weights=P)
    return path, W, P


def test_reference_is_a_real_finding(reference):
    h = reference.points["concat"]
    assert reference.verdict == "represented" and h.r2 > 0.9 and h.shuffled["r2"] < 0.05
    assert list(reference.points) == NAMES + ["concat"]


def test_torch_module_route_matches(g, models, reference):
    m, u = models
    points = {"blocks.0.resid_post": "blocks.0", "blocks.1.resid_post": "blocks.1", "ln_final": "ln_final"}
    src, twin = ModuleSource(m, points, vocab_size=3, n_ctx=CTX), ModuleSource(u, points, vocab_size=3, n_ctx=CTX)
    r = probe(build_probe_dataset(g, src, untrained=twin), SPEC)
    assert r.summary() == reference.summary()


def test_saved_activations_route_matches(g, saved, reference):
    from nets.tensorfile import load_activation_file

    f = load_activation_file(saved[0])
    ds = ProbeDataset.from_sequences(g, f.tokens, f.activations, weights=f.weights, untrained=f.untrained)
    r = probe(ds, SPEC)
    assert r.summary() == reference.summary()


def test_cli_activations_route_matches(g, models, saved, tmp_path, capsys):
    m, u = models
    ref = probe(build_probe_dataset(g, m, names=NAMES, untrained=u))  # the CLI's defaults
    assert main(["probe", "--activations", str(saved[0]), "--process", PROCESS, "--out", str(tmp_path)]) == 0
    assert ref.summary() in capsys.readouterr().out
    back = ProbeResult.from_json(tmp_path / "probe.json")
    assert _table(back) == _table(ref)
    assert (tmp_path / "probe_geometry.png").stat().st_size > 0


def test_transformer_lens_route_matches(g, models, reference):
    pytest.importorskip("transformer_lens")
    from nets.export import to_transformer_lens

    m, u = models
    r = probe(build_probe_dataset(g, to_transformer_lens(m, "bridge"), names=NAMES,
                                  untrained=to_transformer_lens(u, "bridge")), SPEC)
    assert _table(r) == _table(reference)
    assert r.points["concat"].r2 == pytest.approx(reference.points["concat"].r2, abs=1e-5)


def test_hooked_transformer_route_matches(g, models, reference):
    tl = pytest.importorskip("transformer_lens")
    try:
        tl.HookedTransformer
    except (ImportError, AttributeError):
        pytest.skip("this TransformerLens has no HookedTransformer (4.x)")
    from nets.export import to_transformer_lens

    m, u = models
    r = probe(build_probe_dataset(g, to_transformer_lens(m, "hooked"), names=NAMES,
                                  untrained=to_transformer_lens(u, "hooked")), SPEC)
    assert _table(r) == _table(reference)


def test_transformer_lens_defaults_and_untrained_twin(g, models):
    pytest.importorskip("transformer_lens")
    from nets.adapters import as_source
    from nets.export import to_transformer_lens

    tl = to_transformer_lens(models[0], "bridge")
    src = as_source(tl)
    assert (src.vocab_size, src.n_ctx) == (3, CTX)
    assert src.default_points() == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    ds = build_probe_dataset(g, tl, markov_order=None)  # untrained twin built from cfg
    assert list(ds.activations) == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    assert ds.untrained is not None
    assert not np.allclose(ds.untrained["blocks.1.hook_resid_post"], ds.activations["blocks.1.hook_resid_post"])
    again = build_probe_dataset(g, tl, markov_order=None)
    np.testing.assert_array_equal(again.untrained["blocks.1.hook_resid_post"], ds.untrained["blocks.1.hook_resid_post"])


# ---------------------------------------------------------------------- from_sequences
def test_from_sequences_alignment_without_and_with_bos(g, models, tiny):
    m = models[0]
    rng = np.random.default_rng(0)
    S = np.asarray(g.sample(40, CTX, seed=1))
    acts = collect(m, S, ["ln_final"])
    ds = ProbeDataset.from_sequences(g, S, acts, markov_order=None)
    rep = representation(g, "minimal")
    for i in rng.choice(len(ds), 6, replace=False):
        t = ds.lengths[i]
        u = ds.prefixes[i, :t]
        np.testing.assert_allclose(ds.beliefs["minimal"][i], rep.coordinates(rep.final_beliefs(u)), atol=1e-12)
        # position t-1 of any sequence that starts with u: here, the prefix alone
        _, c = m.run_with_cache(torch.from_numpy(u[None]), ["ln_final"])
        np.testing.assert_allclose(ds.activations["ln_final"][i], c["ln_final"][0, -1].numpy(), atol=1e-6)
    mb = tiny(vocab=4, n_ctx=CTX + 1)
    T = np.concatenate([np.full((40, 1), 3), S], axis=1)
    dsb = ProbeDataset.from_sequences(g, T, collect(mb, T, ["ln_final"]), bos=3, markov_order=None)
    np.testing.assert_array_equal(dsb.prefixes, ds.prefixes)
    i = int(np.nonzero(dsb.lengths == 2)[0][0])
    _, c = mb.run_with_cache(torch.tensor([[3, *dsb.prefixes[i, :2]]]), ["ln_final"])
    np.testing.assert_allclose(dsb.activations["ln_final"][i], c["ln_final"][0, -1].numpy(), atol=1e-6)


def test_from_sequences_merges_repeated_prefixes(g):
    S = np.array([[0, 1, 2], [0, 1, 0], [0, 1, 2], [2, 2, 2]])
    acts = {"x": np.random.default_rng(0).normal(size=(4, 3, 2))}
    ds = ProbeDataset.from_sequences(g, S, acts, markov_order=None)
    # distinct prefixes: length 1: 0, 2; length 2: 01, 22; length 3: 010, 012, 222
    assert ds.lengths.tolist() == [1, 1, 2, 2, 3, 3, 3]
    np.testing.assert_allclose(ds.weights * 12, [3, 1, 3, 1, 1, 2, 1])
    assert len(ds) == ds.meta["n_rows"] and ds.meta["weighting"] == "empirical"
    # the merged row takes the first occurrence's activation
    np.testing.assert_allclose(ds.activations["x"][5], acts["x"][0, 2], rtol=1e-6)  # stored as float32
    with pytest.raises(ValueError, match="every sequence must start with it"):
        ProbeDataset.from_sequences(g, S, acts, bos=3)
    with pytest.raises(ValueError, match=r"symbol ids must lie in 0..2"):
        ProbeDataset.from_sequences(g, S + 1, acts)
    with pytest.raises(ValueError, match="like the tokens"):
        ProbeDataset.from_sequences(g, S, {"x": acts["x"][:, :2]})


def test_exact_affine_activations_are_represented_and_noise_is_not(g):
    """Known answers: activations that are an affine image of the beliefs give held-out
    R^2 = 1 and "represented"; activations independent of the beliefs give R^2 ~ 0, "not"."""
    W, P = allowed_words(g, 4)
    rep = representation(g, "minimal")
    B = rep.coordinates(rep.trajectories(W)[:, 1:])  # (N, L, 2): the belief after each prefix
    rng = np.random.default_rng(0)
    A = B @ rng.normal(size=(2, 6)) + rng.normal(size=6)
    exact = ProbeDataset.from_sequences(g, W, {"x": A}, weights=P, markov_order=2).probe(folds=5)
    assert exact.verdict == "represented"
    assert exact.points["x"].r2 == pytest.approx(1.0, abs=1e-9) and exact.points["x"].rank == 2
    # 729 equally weighted words, last position: held-out R^2 of noise is ~ -1/146
    W6 = allowed_words(g, 6)[0]
    noise = ProbeDataset.from_sequences(g, W6, {"x": rng.normal(size=W6.shape + (6,))}, positions="last",
                                        markov_order=2).probe(folds=5)
    assert noise.verdict == "not" and abs(noise.points["x"].r2) < 0.05


def test_cli_activation_errors(tmp_path, capsys, saved):
    run_file = tmp_path / "run.npz"
    run_file.write_bytes(saved[0].read_bytes())
    assert main(["probe", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a run directory" in err and "--activations" in err and "does not exist" not in err
    assert main(["probe", "--activations", str(run_file)]) == 2
    assert "--process" in capsys.readouterr().err
    assert main(["probe", "--activations", str(tmp_path / "nope.npz"), "--process", PROCESS]) == 2
    assert "does not exist" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 3, 4)))
    assert main(["probe", "--activations", str(tmp_path / "bad.npz"), "--process", PROCESS]) == 2
    assert "no 'tokens' array" in capsys.readouterr().err
    np.save(tmp_path / "tok.npy", np.zeros((2, 3), dtype=np.int64))
    assert main(["probe", "--activations", str(tmp_path / "bad.npz"), "--tokens", str(tmp_path / "tok.npy"),
                 "--process", PROCESS, "--markov-order", "1", "--out", str(tmp_path / "o")]) == 2
    assert "needs at least 10 rows" in capsys.readouterr().err  # 3 prefixes cannot be cross-validated
