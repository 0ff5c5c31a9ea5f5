"""Attention-by-distance, decay fits, spectrum comparison, and the probe figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generators import library
from nets.attention import (
    AttentionReport,
    attention_analysis,
    attention_by_distance,
    fit_decay,
    transition_eigenvalues,
)
from nets.models import build_model


def _decay_patterns(lams, T=8, parity=None):
    """Exact causal patterns (H, T, T) with weight ~ lam^(d-s) (optionally on one parity)."""
    H = len(lams)
    P = np.zeros((H, T, T))
    for h, lam in enumerate(lams):
        for d in range(T):
            D = d - np.arange(d + 1)
            w = np.abs(lam) ** D
            if parity is not None and parity[h] is not None:
                w = np.where(D % 2 == parity[h], w, 1e-9)
            P[h, d, : d + 1] = w / w.sum()
    return P


def test_mess3_eigenvalues():
    ev = transition_eigenvalues(library.get("mess3", x=0.15, a=0.6))
    np.testing.assert_allclose(np.real(ev), [0.55, 0.55], atol=1e-9)
    ev = transition_eigenvalues(library.get("mess3", x=0.5, a=0.6))
    np.testing.assert_allclose(np.real(ev), [-0.5, -0.5], atol=1e-9)


def test_fit_recovers_positive_decay_and_matches_eigenvalue():
    P = _decay_patterns([0.55, 0.3])
    prof = attention_by_distance(P, dest="last")
    heads = fit_decay(prof, eigenvalues=transition_eigenvalues(library.get("mess3", x=0.15, a=0.6)))
    assert heads[0].lam == pytest.approx(0.55, rel=1e-9) and heads[0].parity == "all"
    assert heads[0].fit_r2 == pytest.approx(1.0) and heads[0].rel_error == pytest.approx(0.0, abs=1e-9)
    assert heads[1].lam == pytest.approx(0.3, rel=1e-9)


def test_fit_detects_even_odd_split_for_negative_lambda():
    P = _decay_patterns([0.5, 0.5], parity=[0, 1])
    prof = attention_by_distance(np.stack([P, P]), dest="last")  # batch of 2 identical inputs
    heads = fit_decay(prof, eigenvalues=transition_eigenvalues(library.get("mess3", x=0.5, a=0.6)))
    assert [h.parity for h in heads] == ["even", "odd"]
    for h in heads:
        assert h.lam == pytest.approx(-0.5, rel=1e-6) and h.rel_error < 1e-6


def test_attention_by_distance_modes_and_errors():
    P = _decay_patterns([0.6], T=6)
    all_mean = attention_by_distance(P, dest="all")
    assert all_mean.shape == (1, 6) and np.all(np.isfinite(all_mean))
    assert attention_by_distance(P, skip_sources=1).shape == (1, 5)
    with pytest.raises(ValueError, match="dest must be"):
        attention_by_distance(P, dest="first")
    with pytest.raises(ValueError, match="patterns must have shape"):
        attention_by_distance(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="weights must be"):
        attention_by_distance(P[None], weights=[-1.0])


def test_attention_analysis_on_a_tiny_transformer(tmp_path):
    torch.manual_seed(0)
    m = build_model({"kind": "transformer", "vocab_size": 3, "n_ctx": 6, "n_layers": 2, "d_model": 16,
                     "n_heads": 2, "d_mlp": 32})
    rep = attention_analysis(m, library.get("mess3", x=0.15, a=0.6), n_samples=64, layers=[1])
    assert isinstance(rep, AttentionReport) and list(rep.profiles) == [1]
    assert rep.profiles[1].shape == (2, 6) and len(rep.heads) == 2
    assert rep.heads[0].eigenvalue is not None and "nearest eig" in rep.summary()
    rep.to_json(tmp_path / "attn.json")
    with pytest.raises(ValueError, match="unknown layers"):
        attention_analysis(m, library.get("mess3"), layers=[5], n_samples=4)
    rnn = build_model({"kind": "gru", "vocab_size": 3, "n_ctx": 6, "n_layers": 1, "hidden": 8})
    with pytest.raises(ValueError, match="no attention patterns"):
        attention_analysis(rnn, library.get("mess3"), n_samples=4)
    from nets.probe_plots import plot_attention_decay

    plot_attention_decay(rep, tmp_path / "attn.png")
    assert (tmp_path / "attn.png").stat().st_size > 1000


def test_probe_figures(tmp_path):
    from nets.probe import ProbeResult, probe
    from nets.probe_plots import plot_belief_geometry, plot_fit_by_layer

    rng = np.random.default_rng(0)
    beliefs = rng.dirichlet([0.5] * 3, size=400)
    acts = {"a": beliefs @ rng.normal(size=(3, 6)) + 0.01 * rng.normal(size=(400, 6)), "b": rng.normal(size=(400, 6))}
    r = probe(acts, beliefs, folds=3, untrained={k: rng.normal(size=(400, 6)) for k in acts},
              markov_beliefs=np.eye(3)[beliefs.argmax(1)], markov_order=1)
    plot_belief_geometry(r, tmp_path / "geom.png")
    plot_fit_by_layer(r, tmp_path / "layers.png")
    assert (tmp_path / "geom.png").stat().st_size > 1000 and (tmp_path / "layers.png").stat().st_size > 1000
    r.to_json(tmp_path / "r.json")
    with pytest.raises(ValueError, match="no held-out arrays"):
        plot_belief_geometry(ProbeResult.from_json(tmp_path / "r.json"))


def test_attention_analysis_of_a_transformer_lens_model_matches():
    pytest.importorskip("transformer_lens")
    from nets.export import to_transformer_lens

    torch.manual_seed(0)
    m = build_model({"kind": "transformer", "vocab_size": 3, "n_ctx": 6, "n_layers": 2, "d_model": 8, "n_heads": 2,
                     "d_mlp": 16}).eval()
    ours = attention_analysis(m, "mess3", n_samples=64, seed=1)
    theirs = attention_analysis(to_transformer_lens(m), "mess3", n_samples=64, seed=1)
    for i in ours.profiles:
        np.testing.assert_allclose(theirs.profiles[i], ours.profiles[i], atol=1e-6)
    assert [h.parity for h in theirs.heads] == [h.parity for h in ours.heads]
