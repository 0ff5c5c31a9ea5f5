"""papers/riechers2025_quantum: the analysis on cases with known answers (a net whose
activations *are* the minimal beliefs; representations that are / are not affine images of
them), the training trajectory, and the --tiny configuration end to end (pooling over 2 seeds)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from generators import equivalent, library, markov_approximation
from generators.representations import representation
from nets.adapters import ModuleSource
from nets.probe import build_probe_dataset
from papers.riechers2025_quantum.analysis import analyze_net, compare_representations, in_sample
from papers.riechers2025_quantum.experiment import Riechers2025, run_epochs
from papers.riechers2025_quantum.processes import PROCESSES, mess3_hidden_bit, probe_points
from papers.riechers2025_quantum.report import range_verdict, separation
from papers.riechers2025_quantum.trajectory import epochs_to_drop, initial_model

MESS3 = library.get("mess3", x=0.05, a=0.85)


class BeliefNet(torch.nn.Module):
    """A 'network' whose only layer outputs the exact minimal belief after each prefix."""

    def __init__(self, g, context: int):
        super().__init__()
        self.rep, self.vocab_size, self.n_ctx = representation(g, "minimal"), g.alphabet_size, context
        self.layers = torch.nn.ModuleList([torch.nn.Module()])
        self.layers[0].hidden = torch.nn.Identity()

    def forward(self, tokens):
        b = self.rep.trajectories(tokens.cpu().numpy())[:, 1:]  # belief after tokens 0..t at position t
        return self.layers[0].hidden(torch.as_tensor(b, dtype=torch.float32))


def test_a_net_that_holds_the_minimal_belief_is_fitted_exactly():
    arch = {"kind": "rnn", "n_layers": 1}
    net = ModuleSource(BeliefNet(MESS3, 4), probe_points(arch), vocab_size=3, n_ctx=4)
    m, pr, ds = analyze_net(MESS3, net, arch, folds=3, seed=0)
    assert m["n_prefixes"] == 3 + 9 + 27 + 81 and m["minimal_dim"] == 3
    c = m["concat"]
    # an exact affine image: held-out and in-sample cos R^2 and R^2 are 1 (float32 activations)
    for v in (c["cos_r2"], c["r2"], c["paper"]["cos_r2"], c["paper"]["r2"]):
        assert v == pytest.approx(1.0, abs=1e-6)
    assert c["rmse"] < 1e-6 and c["shuffled"]["r2"] < 0.1  # shuffled beliefs carry nothing
    # the Markov-3 beliefs are not an affine image of the minimal ones (the paper's 0.36-0.88)
    assert c["markov3_targets"]["cos_r2"] < 0.9
    assert m["geometry"]["belief_affine_dim"] == 2


def test_representations_known_answers():
    """Activations = an affine image of the minimal beliefs: the minimal and native beliefs
    (affine images of each other) fit exactly, the hidden-bit HMM's and Markov-3's do not."""
    arch = {"kind": "transformer", "n_layers": 1}
    extra = ["native", mess3_hidden_bit(), markov_approximation(MESS3, 3)]
    ds = build_probe_dataset(MESS3, None, context=4, representations=["minimal", *extra], markov_order=None)
    rng = np.random.default_rng(0)
    Y = ds.beliefs["minimal"]
    ds.activations = {n: (Y @ rng.normal(size=(2, 5)) + rng.normal(size=5)).astype(np.float32)
                      for n in probe_points(arch)}
    out = compare_representations(ds, arch, folds=3)
    assert out["minimal"]["r2"] == pytest.approx(1.0, abs=1e-6)
    assert out["native"]["r2"] == pytest.approx(1.0, abs=1e-6)
    assert out["hidden_bit"]["r2"] < 0.99 and out["markov3"]["r2"] < 0.9
    assert (out["minimal"]["coordinates"], out["native"]["coordinates"], out["hidden_bit"]["coordinates"],
            out["markov3"]["coordinates"]) == (2, 3, 6, 27)
    assert out["hidden_bit"]["belief_affine_dim"] == 5 and out["activation_pca95"] <= 2


def test_in_sample_fit():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(200, 2))
    X = np.c_[Y @ [[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]], rng.normal(size=(200, 2))]
    m = in_sample(X, Y, np.ones(200), folds=4, seed=0)
    assert m["r2"] == pytest.approx(1.0) and m["cos_r2"] == pytest.approx(1.0) and m["rank"] >= 2
    assert in_sample(rng.normal(size=(200, 3)), Y, np.ones(200), folds=4, seed=0)["r2"] < 0.1


def test_hidden_bit_hmm_is_mess3_with_a_larger_belief_space():
    from bayes import mixed_state_presentation
    from bayes.geometry import affine_dimension

    h = mess3_hidden_bit()
    assert h.dim == 6 and equivalent(h, MESS3)
    assert affine_dimension(mixed_state_presentation(h, 4, progress=False).beliefs) > 2


def test_epochs_to_drop():
    assert epochs_to_drop([0, 200, 400, 800], [1.0, 0.5, 0.3, 0.1]) == pytest.approx(3.0)
    assert epochs_to_drop([0, 100], [1.0, 0.2], steps_per_epoch=100) == pytest.approx(1.0)
    assert epochs_to_drop([0, 200, 400], [1.0, 0.9, 0.5]) is None
    assert epochs_to_drop([0, 200], [0.5, 0.6], fraction=0.0) == 0.0
    with pytest.raises(ValueError):
        epochs_to_drop([0, 200], [1.0, float("nan")])


def test_initial_model_is_the_training_start():
    from nets.config import TrainConfig
    from nets.train import train

    f = dict(process="mess3", model=dict(kind="rnn", n_layers=2, hidden=8), context=4, lr=1e-3, steps=1, seed=7,
             quiet=True, optimizer="sgd")
    m0 = initial_model(TrainConfig.from_dict(dict(f, lr=1e-30)))
    r = train(dict(f, lr=1e-30))
    for a, b in zip(m0.state_dict().values(), r.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-20)


def test_range_verdict_and_runs():
    from nets.stats import Interval

    assert range_verdict(Interval(0.995, 0.99, 1.0, 3), 0.99, 1.0) == "in"
    assert range_verdict(Interval(0.95, 0.9, 0.98, 3), 0.99, 1.0) == "below"
    assert range_verdict(Interval(0.95, 0.9, 0.98, 3), 0.36, 0.88) == "above"
    assert range_verdict(Interval(0.95, 0.8, 1.1, 3), 0.99, 1.0) == "unresolved"  # spans the range, mean outside
    assert separation(Interval(-0.2, -0.3, -0.1, 3)) == "below" and separation(Interval(0, -1, 1, 3)) == "not separated"
    exp = Riechers2025()
    quick = exp.modes["quick"]
    runs = exp.runs(quick)
    groups = {r.group for r in runs}
    assert {f"{p}-{a}-ours" for p in PROCESSES for a in ("transformer", "rnn")} | {"mess3-rnn-paper"} == groups
    assert all(len([r for r in runs if r.group == g]) == 3 for g in groups)
    paper = next(r for r in runs if r.group == "mess3-rnn-paper")
    assert paper.train["lr"] == 1e-4 and paper.train["targets"] == "sampled" and paper.train["steps"] == 40 * 200
    assert paper.params["checkpoints"][-1] == 8000 and paper.params["stop_drop"] == 0.8
    bloch = next(r for r in runs if r.group == "bloch_walk-transformer-ours")
    assert bloch.train["steps"] == run_epochs(quick.analysis["ours"], "bloch_walk", "transformer") * 200
    assert {r.group for r in exp.runs(dataclasses.replace(quick, protocol="paper"))} == {"mess3-rnn-paper"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("riechers2025_tiny")
    assert Riechers2025().main(["--tiny", "--quiet", "--out", str(out)]) == 0
    return out


def test_tiny_end_to_end(tiny):
    r = json.loads((tiny / "results.json").read_text())
    groups = {"mess3-transformer-ours", "mess3-rnn-ours", "bloch_walk-transformer-ours", "bloch_walk-rnn-ours",
              "mess3-rnn-paper"}
    assert set(r["pooled"]) == groups
    for key, m in r["metrics"].items():
        # every prefix of length 1..3 is allowed: 3 + 9 + 27 (Mess3) and 4 + 16 + 64 (Bloch walk)
        assert m["n_prefixes"] == {"mess3": 39, "bloch_walk": 84}[key.split("-")[0]]
        t = m["trajectory"]
        assert t["epochs"][0] == 0 and t["rmse"][0] == pytest.approx(t["rmse_init"])
        if key.startswith("mess3-rnn-paper"):  # stopped early only once the RMSE fell by 80%
            assert t["epochs"] == [0, 0.1, 0.2] or (t["epochs"] == [0, 0.1] and t["reached_80"] == 1.0)
        else:
            assert t["epochs"] == [0, 0.05, 0.1]
        assert m["training"]["epochs"] == t["epochs"][-1]
    for g in groups:
        pooled = r["pooled"][g]["concat.cos_r2"]
        assert pooled["n"] == 2 and pooled["lo"] <= pooled["mean"] <= pooled["hi"]
    rep = r["metrics"]["mess3-transformer-ours-s0"]["representations"]
    assert rep["minimal"]["coordinates"] == 2 and rep["hidden_bit"]["belief_affine_dim"] == 5
    md = (tiny / "RESULTS.md").read_text()
    assert "0.99-1.00" in md and "0.36-0.88" in md and "Larger representations" in md
    for f in ("cos_r2.png", "fit_by_layer.png", "rmse_trajectory.png", "belief_geometry.png"):
        assert (tiny / f).stat().st_size > 0
    # report.html: per process, the minimal beliefs beside both nets' projections (same rows: one view)
    html = (tiny / "report.html").read_text()
    assert html.count("data-qb-figure=") == 2 and "mess3: minimal beliefs" in html and "bloch_walk: minimal" in html


def test_doctests():
    import doctest

    from papers.riechers2025_quantum import analysis, processes, report, trajectory

    for mod in (analysis, processes, report, trajectory):
        assert doctest.testmod(mod, optionflags=doctest.ELLIPSIS).failed == 0, mod.__name__
