"""Attention as a function of distance, and its decay rate per head.

Piotrowski et al. 2025 find that one-layer transformers trained on Mess3 attend from
destination ``d`` to source ``s`` with weight ``~ C lambda^(d-s)``, ``lambda = 1 - 3x`` the
repeated eigenvalue of ``sum_x T[x]``; for negative ``lambda`` the sign alternation is split
across two heads, one taking the even distances and one the odd.  This module measures the
mean attention weight per head and distance, fits the decay, detects parity-split heads,
and compares the rates to the eigenvalues of the process's transition matrix.

Fit (per head, profile ``a[D]`` for distances ``D = d - s``)::

    log a[D] = log C + D log|lambda| + s (-1)^D          (weighted least squares)

A head is *parity-split* when ``exp(2|s|) >= alternation_ratio`` (default 3: one parity
gets 3x the weight the smooth decay predicts relative to the other); its rate is then refit
on its dominant parity alone and reported with a negative sign (``lambda = -|lambda|``:
half of a sign-alternating decay).  Values below ``floor`` are clipped to it for the
parity test and excluded from the rate fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from generators.fileio import write_json

__all__ = ["HeadDecay", "AttentionReport", "attention_by_distance", "fit_decay", "transition_eigenvalues",
           "attention_analysis", "plot_attention_decay"]


@dataclass
class HeadDecay:
    """Decay fit of one head.

    Attributes
    ----------
    layer, head : int
    lam : float -- signed rate estimate (negative for a parity-split head)
    lam_abs : float -- ``|lambda|`` from the fitted slope
    amplitude : float -- ``C``
    parity : "all", "even" or "odd" -- which distances carry the head's weight
    alternation : float -- ``exp(2 s)``: >1 favours even distances, <1 odd ones
    fit_r2 : float -- R^2 of the rate fit in log space (NaN with < 3 points)
    n_points : int -- distances used in the rate fit
    eigenvalue : complex or None -- nearest non-stationary eigenvalue of ``sum_x T[x]``
    rel_error : float or None -- ``|lam - eigenvalue| / |eigenvalue|``
    """

    layer: int
    head: int
    lam: float
    lam_abs: float
    amplitude: float
    parity: str
    alternation: float
    fit_r2: float
    n_points: int
    eigenvalue: Any = None
    rel_error: float | None = None


@dataclass
class AttentionReport:
    """Per-layer mean attention by distance, per-head decay fits, and the spectrum."""

    profiles: dict  # layer (int) -> (heads, distances) mean attention weight
    heads: list  # HeadDecay
    eigenvalues: list  # non-stationary eigenvalues of sum_x T[x] (complex), by |.| descending
    meta: dict = field(default_factory=dict)

    def summary(self) -> str:
        ev = ", ".join(_c(e) for e in self.eigenvalues[:6])
        rows = [f"eigenvalues of sum_x T[x] (minimal form, stationary 1 removed): {ev or '-'}",
                f"{'layer':>5}{'head':>5}{'lambda':>9}{'|lambda|':>9}{'parity':>7}{'alt':>8}{'fitR2':>7}"
                f"{'nearest eig':>14}{'rel.err':>9}"]
        for h in self.heads:
            rows.append(f"{h.layer:>5}{h.head:>5}{h.lam:>9.3f}{h.lam_abs:>9.3f}{h.parity:>7}{h.alternation:>8.2f}"
                        f"{h.fit_r2:>7.3f}{_c(h.eigenvalue) if h.eigenvalue is not None else '-':>14}"
                        f"{h.rel_error if h.rel_error is not None else float('nan'):>9.3f}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict:
        def cplx(z):
            return None if z is None else [float(np.real(z)), float(np.imag(z))]

        heads = []
        for h in self.heads:
            d = asdict(h)
            d["eigenvalue"] = cplx(h.eigenvalue)
            heads.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()})
        return {"profiles": {str(k): np.asarray(v).tolist() for k, v in self.profiles.items()}, "heads": heads,
                "eigenvalues": [cplx(e) for e in self.eigenvalues], "meta": self.meta}

    def to_json(self, path) -> None:
        write_json(path, self.to_dict())


def attention_by_distance(patterns: Any, weights: Any = None, *, dest: str = "last", skip_sources: int = 0) -> np.ndarray:
    """Mean attention weight per head as a function of distance ``D = d - s``.

    Parameters
    ----------
    patterns : array_like (B, H, T, T) or (H, T, T)
        Attention patterns (dest, src), rows summing to 1 over ``s <= d``.
    weights : array_like (B,), optional
        Input weights for the mean over inputs (default uniform).
    dest : "last" or "all"
        ``"last"``: only the last destination ``d = T-1`` (every distance ``0..T-1-skip``
        is seen under the same softmax normalization); ``"all"``: the mean over every
        destination ``d >= D`` (more data; normalizations differ between rows).
    skip_sources : int
        Ignore the first ``skip_sources`` source positions (e.g. 1 for a BOS token, often an
        attention sink).

    Returns
    -------
    (H, T - skip_sources) float64; entry ``[h, D]`` NaN where no (d, s) pair has that distance.
    """
    P = np.asarray(patterns, dtype=np.float64)
    if P.ndim == 3:
        P = P[None]
    if P.ndim != 4 or P.shape[-1] != P.shape[-2]:
        raise ValueError(f"patterns must have shape (B, heads, dest, src) with dest == src; got {P.shape}")
    B, H, T, _ = P.shape
    if weights is None:
        w = np.full(B, 1.0 / B)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (B,) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(f"weights must be {B} nonnegative finite numbers, not all zero")
        w = w / w.sum()
    mean = np.einsum("b,bhds->hds", w, P)
    D = T - skip_sources
    if D < 1:
        raise ValueError(f"skip_sources={skip_sources} leaves no source positions (T={T})")
    out = np.full((H, D), np.nan)
    if dest == "last":
        d = T - 1
        for k in range(D):
            s = d - k
            if s >= skip_sources:
                out[:, k] = mean[:, d, s]
    elif dest == "all":
        for k in range(D):
            d = np.arange(k + skip_sources, T)
            if d.size:
                out[:, k] = mean[:, d, d - k].mean(axis=1)
    else:
        raise ValueError(f"dest must be 'last' or 'all'; got {dest!r}")
    return out


def fit_decay(profile: Any, *, layer: int = 0, floor: float = 1e-4, alternation_ratio: float = 3.0,
              min_distance: int = 0, max_distance: int | None = None, eigenvalues: Sequence[complex] | None = None
              ) -> list[HeadDecay]:
    """Fit ``|a[D]| ~ C |lambda|^D`` per head, detecting even/odd parity-split heads.

    Parameters
    ----------
    profile : array_like (H, D) or (D,)
        Mean attention by distance (:func:`attention_by_distance`).
    layer : int
        Recorded in the results.
    floor : float
        Weights below this are treated as zero (clipped for the parity test, excluded from
        the rate fit).
    alternation_ratio : float
        Parity-split threshold on ``exp(2|s|)`` (see the module doc).
    min_distance, max_distance : int
        Distance range used.
    eigenvalues : sequence of complex, optional
        Candidate rates (:func:`transition_eigenvalues`); each head is matched to the
        nearest one.

    Returns
    -------
    list of HeadDecay, one per head
    """
    A = np.asarray(profile, dtype=np.float64)
    if A.ndim == 1:
        A = A[None]
    if A.ndim != 2:
        raise ValueError(f"profile must have shape (heads, distances); got {A.shape}")
    hi = A.shape[1] if max_distance is None else min(A.shape[1], int(max_distance) + 1)
    Ds = np.arange(min_distance, hi)
    out = []
    for h in range(A.shape[0]):
        a = A[h, Ds]
        ok = np.isfinite(a)
        D, a = Ds[ok], a[ok]
        if D.size == 0:
            raise ValueError(f"head {h}: no finite attention values in the distance range")
        la = np.log(np.clip(np.abs(a), floor, None))
        wt = np.clip(np.abs(a), floor, None)
        sgn = np.where(D % 2 == 0, 1.0, -1.0)
        s = 0.0
        if D.size >= 4 and np.unique(D % 2).size == 2:
            coef = _wlstsq(np.stack([np.ones_like(la), D, sgn], axis=1), la, wt)
            s = float(coef[2])
        alternation = float(np.exp(2 * s))
        if alternation >= alternation_ratio:
            parity = "even"
        elif alternation <= 1.0 / alternation_ratio:
            parity = "odd"
        else:
            parity = "all"
        use = np.abs(a) > floor
        if parity != "all":
            use &= (D % 2 == 0) if parity == "even" else (D % 2 == 1)
        Du, lu, wu = D[use], np.log(np.abs(a[use])) if use.any() else np.zeros(0), np.abs(a[use])
        if Du.size >= 2:
            c0, c1 = _wlstsq(np.stack([np.ones_like(lu), Du], axis=1), lu, wu)
            resid = lu - (c0 + c1 * Du)
            mean = np.sum(wu * lu) / wu.sum()
            sst = float(np.sum(wu * (lu - mean) ** 2))
            fit_r2 = 1.0 - float(np.sum(wu * resid ** 2)) / sst if (Du.size >= 3 and sst > 0) else float("nan")
            lam_abs, amp = float(np.exp(c1)), float(np.exp(c0))
        else:  # all weight on one distance: no decay to speak of
            lam_abs, amp, fit_r2 = 0.0, float(np.abs(a).max()), float("nan")
        lam = -lam_abs if parity != "all" else lam_abs
        hd = HeadDecay(layer=int(layer), head=h, lam=lam, lam_abs=lam_abs, amplitude=amp, parity=parity,
                       alternation=alternation, fit_r2=fit_r2, n_points=int(Du.size))
        if eigenvalues is not None and len(eigenvalues):
            ev = np.asarray(eigenvalues, dtype=complex)
            j = int(np.argmin(np.abs(ev - lam)))
            hd.eigenvalue = complex(ev[j])
            hd.rel_error = float(abs(lam - ev[j]) / max(abs(ev[j]), 1e-12))
        out.append(hd)
    return out


def transition_eigenvalues(generator: Any, *, minimal: bool = True) -> list[complex]:
    """Eigenvalues of ``sum_x T[x]`` except the stationary one (the one closest to 1),
    sorted by modulus, largest first.  ``minimal=True`` uses the minimal form
    (:func:`generators.representations.minimal_form`: drops eigenvalues of unreachable or
    unobservable directions)."""
    from generators.representations import minimal_form

    h = minimal_form(generator) if minimal else generator.to_ghmm()
    ev = np.linalg.eigvals(h.operators.sum(axis=0))
    if ev.size:
        ev = np.delete(ev, int(np.argmin(np.abs(ev - 1.0))))
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    return [complex(np.real_if_close(e)) for e in ev]


def attention_analysis(model: Any, generator: Any, *, layers: Sequence[int] | None = None, n_samples: int = 2048,
                       context: int | None = None, bos: Any = "auto", dest: str = "last", skip_bos: bool = True,
                       batch_size: int = 1024, seed: int = 0, **fit_kwargs) -> AttentionReport:
    """Mean attention by distance and fitted decay per head of a transformer on sampled data.

    Parameters
    ----------
    model : a qbelief transformer or a TransformerLens model (anything
        :func:`nets.adapters.as_source` accepts that has ``blocks.{i}.attn.pattern``)
    generator : generators.Generator (or library spec)
    layers : block indices (default all)
    n_samples : number of sequences sampled from the stationary process (seeded)
    context : sequence length (default the model's n_ctx, minus 1 with BOS)
    bos : "auto", None or a token id (see :func:`nets.adapters.resolve_bos`)
    dest : passed to :func:`attention_by_distance`
    skip_bos : ignore the BOS source position when a BOS token is used
    **fit_kwargs : passed to :func:`fit_decay` (``floor``, ``alternation_ratio``, ...)

    Returns
    -------
    AttentionReport
    """
    from .activations import collect
    from .adapters import as_source, resolve_bos
    from .data import resolve_process

    g = resolve_process(generator)
    src = as_source(model)
    pats = {int(n.split(".")[1]): n for n in src.activation_names()
            if n.startswith("blocks.") and n.endswith(("attn.pattern", "attn.hook_pattern"))}
    if not pats:
        raise ValueError("this model has no attention patterns (blocks.{i}.attn.pattern); is it a transformer?")
    all_layers = sorted(pats)
    layers = all_layers if layers is None else [int(i) for i in layers]
    bad = [i for i in layers if i not in all_layers]
    if bad:
        raise ValueError(f"unknown layers {bad}; the model has blocks {all_layers}")
    bos_token = resolve_bos(src.vocab_size, g.alphabet_size, bos)
    L = int(src.n_ctx) - (bos_token is not None) if context is None else int(context)
    words = np.asarray(g.sample(int(n_samples), L, seed=seed), dtype=np.int64)
    if bos_token is not None:
        words = np.concatenate([np.full((words.shape[0], 1), bos_token, dtype=np.int64), words], axis=1)
    mean = collect(src, words, [pats[i] for i in layers], reduce="mean", batch_size=batch_size)
    ev = transition_eigenvalues(g)
    skip = 1 if (bos_token is not None and skip_bos) else 0
    profiles, heads = {}, []
    for i in layers:
        prof = attention_by_distance(mean[pats[i]], dest=dest, skip_sources=skip)
        profiles[i] = prof
        heads += fit_decay(prof, layer=i, eigenvalues=ev, **fit_kwargs)
    meta = {"process": g.name, "n_samples": int(n_samples), "context": L, "bos": bos_token, "dest": dest,
            "skip_sources": skip, "seed": seed}
    return AttentionReport(profiles=profiles, heads=heads, eigenvalues=ev, meta=meta)


def plot_attention_decay(report: AttentionReport, path: Any = None, *, title: str | None = None):
    """Mean attention vs distance per head (log scale) with the fitted ``C |lambda|^D``,
    one panel per layer; a :class:`matplotlib.figure.Figure`, saved as PNG to ``path``."""
    from .probe.plots import new_figure, save_figure

    layers = sorted(report.profiles)
    fig = new_figure((4.5 * len(layers), 4))
    axes = fig.subplots(1, len(layers), squeeze=False)
    for ax, i in zip(axes[0], layers):
        prof = np.asarray(report.profiles[i])
        D = np.arange(prof.shape[1])
        for h in range(prof.shape[0]):
            line = ax.semilogy(D, np.clip(prof[h], 1e-6, None), "o", ms=4, label=f"head {h}")[0]
            fit = [hd for hd in report.heads if hd.layer == i and hd.head == h]
            if fit and fit[0].lam_abs > 0:
                hd = fit[0]
                Df = D if hd.parity == "all" else D[D % 2 == (0 if hd.parity == "even" else 1)]
                ax.semilogy(Df, hd.amplitude * hd.lam_abs ** Df, "-", color=line.get_color(), lw=1,
                            label=f"fit $\\lambda$={hd.lam:.2f} ({hd.parity})")
        ax.set_xlabel("distance d - s")
        ax.set_ylabel("mean attention weight")
        ax.set_title(f"layer {i}")
        ax.legend(fontsize=7)
    ev = ", ".join(_c(e) for e in report.eigenvalues[:4])
    fig.suptitle(title or f"{report.meta.get('process', '')}: attention decay (eigenvalues of sum T: {ev})",
                 fontsize=10)
    save_figure(fig, path)
    return fig


# ---------------------------------------------------------------------- private helpers
def _wlstsq(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(A * sw, y * sw[:, 0], rcond=None)
    return coef


def _c(z: Any) -> str:
    z = complex(z)
    if abs(z.imag) < 1e-9:
        return f"{z.real:.3f}"
    return f"{z.real:.3f}{z.imag:+.3f}i"
