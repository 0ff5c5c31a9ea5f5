"""Fixtures of the probe tests: Mess3 and a tiny transformer trained on its exact
next-symbol distributions (a few seconds, once per session)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generators import library
from generators.words import allowed_words
from nets.models import build_model

CTX = 5


def tiny_model(kind: str = "transformer", vocab: int = 3, n_ctx: int = CTX, seed: int = 0, **kw):
    """A 2-layer model of width 16, seeded."""
    torch.manual_seed(seed)
    cfg = {"kind": kind, "vocab_size": vocab, "n_ctx": n_ctx, "n_layers": 2}
    cfg.update({"d_model": 16, "n_heads": 2, "d_mlp": 32} if kind == "transformer" else {"hidden": 16})
    cfg.update(kw)
    return build_model(cfg)


def train_exact(model, g, steps: int = 150, seed: int = 0):
    """A few Adam steps on the exact next-symbol distributions of all length-CTX words."""
    torch.manual_seed(seed)
    W, P = allowed_words(g, CTX)
    h = g.to_ghmm()
    beta, _ = h.forward(W)
    nxt = np.clip(beta[:, 1:] @ h.symbol_vectors.T, 0, None)
    nxt /= nxt.sum(-1, keepdims=True)
    tok, tgt, Pt = torch.from_numpy(W), torch.from_numpy(nxt).float(), torch.from_numpy(P)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention on a shared CPU
    try:
        for _ in range(steps):
            idx = torch.multinomial(Pt, 128, replacement=True)
            loss = -(tgt[idx] * torch.log_softmax(model(tok[idx]), -1)).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model


@pytest.fixture(scope="session")
def mess3():
    return library.get("mess3", x=0.05, a=0.85)


@pytest.fixture(scope="session")
def trained(mess3):
    return train_exact(tiny_model(), mess3)


@pytest.fixture(scope="session")
def tiny():
    """:func:`tiny_model`, for tests that build their own models."""
    return tiny_model
