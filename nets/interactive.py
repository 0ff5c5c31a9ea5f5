"""Interactive figure specs of nets results (drawn by :mod:`bayes.interactive`'s viewer).

- :func:`geometry_spec` -- the true belief geometry beside the probe's projection of the
  activations (held-out rows), in the same 3-D coordinates (the top weighted principal
  axes of the true beliefs, :func:`bayes.geometry.weighted_pca`) and the same colours as
  :func:`nets.probe.plots.plot_belief_geometry`; the two views rotate together, hovering a
  point shows its prefix, its probability, its true and its predicted belief.  With
  ``checkpoints`` the projection gets a slider over training steps and a panel of the
  probe metrics against the step.
- :func:`projections_spec` -- the same from saved arrays, with one projection panel per
  network (e.g. a transformer and an RNN probed on the same rows).
- :func:`fit_by_layer_spec` -- held-out RMSE and R^2 per probe point with the controls
  (shuffled beliefs, untrained network, the Markov-k beliefs) and the verdict.
- :func:`attention_spec` -- mean attention by distance per head (log scale) with the
  fitted decay and the predicted one (:func:`bayes.attention_decay_rates`).

Checkpoints over training (the data a training slider needs) are a list, sorted by step::

    [{"step": int,                    # training step of the checkpoint
      "points": (n_test, k) numbers,  # the probe's prediction of the held-out rows' beliefs
                                      # at that step: the same rows, order and k belief
                                      # coordinates as ProbeResult.arrays["beliefs"]
      "metrics": {name: number}},     # e.g. {"r2": .., "rmse": ..} of that step's probe
     ...]

:func:`checkpoint_from_result` makes one entry from the :class:`~nets.probe.ProbeResult`
of a checkpoint's model probed on the same dataset with the same seed (so the held-out
rows are the same); a JSON file holding such a list loads with ``json.load``.  Include the
final model as the last entry.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from bayes import interactive as ia
from generators.errors import ArgumentError
from generators.validation import check_int, check_real_array

__all__ = ["geometry_spec", "projections_spec", "fit_by_layer_spec", "attention_spec", "check_checkpoints", "checkpoint_from_result",
           "probe_figure_spec"]


def check_checkpoints(checkpoints: Any, n_rows: int, k: int) -> list[dict]:
    """Checkpoints in the structure of the module docstring, checked: ``points`` as float
    arrays ``(n_rows, k)``, ``metrics`` as floats, steps nondecreasing integers."""
    if not isinstance(checkpoints, Sequence) or isinstance(checkpoints, (str, bytes)) or not len(checkpoints):
        raise ArgumentError("checkpoints must be a nonempty list of {'step', 'points', 'metrics'} dicts")
    out = []
    for i, c in enumerate(checkpoints):
        if not isinstance(c, Mapping) or set(c) - {"step", "points", "metrics"} or not {"step", "points"} <= set(c):
            raise ArgumentError(f"checkpoints[{i}] must be a dict with keys step, points and optionally metrics; "
                                f"got {sorted(c) if isinstance(c, Mapping) else type(c).__name__}")
        pts = check_real_array(c["points"], f"checkpoints[{i}].points", shape=(n_rows, k))
        metrics = {str(m): float(check_real_array(v, f"checkpoints[{i}].metrics.{m}", ndim=0, finite=False))
                   for m, v in (c.get("metrics") or {}).items()}
        out.append({"step": check_int(c["step"], f"checkpoints[{i}].step", minimum=0), "points": pts,
                    "metrics": metrics})
    steps = [c["step"] for c in out]
    if steps != sorted(steps):
        raise ArgumentError(f"checkpoints must be sorted by step; got steps {steps}")
    return out


def checkpoint_from_result(result: Any, step: int) -> dict:
    """One checkpoint entry from a :class:`~nets.probe.ProbeResult` at ``step``: its
    held-out predictions and the headline point's held-out metrics (r2, cos_r2, rmse)."""
    arr = _arrays(result)
    h = result.points[result.headline]
    return {"step": check_int(step, "step", minimum=0), "points": arr[1],
            "metrics": {k: float(h.test[k]) for k in ("r2", "cos_r2", "rmse") if k in h.test}}


def geometry_spec(result: Any, *, labels: Sequence[str] | None = None, probs: Any = None,
                  checkpoints: Sequence[Mapping] | None = None, max_points: int = 4000, seed: int = 0,
                  title: str | None = None) -> dict:
    """The true geometry beside the probe's projection (see the module docstring).

    Parameters
    ----------
    result : ProbeResult with ``arrays`` (``beliefs``, ``predicted``, ``weights``: n_test rows)
    labels : (n_test,) str, optional -- each held-out row's prefix (hover text)
    probs : (n_test,), optional -- each row's probability (hover); default the probe weight
    checkpoints : see the module docstring; adds the training slider and a metrics panel
    max_points : draw at most this many rows (a weighted sample without replacement, the
        same rows as the PNG figure for the same ``seed``)
    """
    panels, hover, steps, cap = _geometry_parts(result, labels, probs, checkpoints, max_points, seed)
    meta, h = result.meta, result.points[result.headline]
    return ia.figure_spec(panels, steps=steps, hover=hover, caption=cap, title=title or (
        f"{meta.get('process', '')} [{meta.get('representation', '')}] at {result.headline}: held-out R² "
        f"{h.r2:.4f}, RMSE {h.rmse:.4g} -- verdict: {result.verdict}"))


def _geometry_parts(result, labels, probs, checkpoints, max_points, seed):
    Y, P, w = _arrays(result)
    idx, d, proj, axes, colors, sizes = _frame(Y, w, max_points, seed)
    true = ia.scatter_panel(proj(Y), title="true beliefs", axes=axes, colors=colors, sizes=sizes)
    steps, cps = None, None
    cap = ("Both panels: the top weighted principal axes of the true beliefs; colour = true belief"
           + ("; drag either panel to rotate both. " if d == 3 else ". "))
    if checkpoints is not None:
        cps = check_checkpoints(checkpoints, Y.shape[0], Y.shape[1])
        steps = [c["step"] for c in cps]
        learned = ia.scatter_panel(frames=np.stack([proj(c["points"]) for c in cps]), axes=axes, colors=colors,
                                   sizes=sizes, title="probe projection of activations (slider: training step)")
        cap += "The slider moves the projection through the training checkpoints."
    else:
        learned = ia.scatter_panel(proj(P), title="probe projection of activations", axes=axes, colors=colors,
                                   sizes=sizes)
    weight = np.asarray(probs, dtype=float)[idx] if probs is not None else w[idx]
    fields = {("Pr" if probs is not None else "weight"): weight, "belief": Y[idx], "predicted": P[idx]}
    lab = None if labels is None else np.asarray(list(labels), dtype=object)
    if lab is not None and lab.shape != (Y.shape[0],):
        raise ArgumentError(f"labels must give one prefix per held-out row ({Y.shape[0]}); got {lab.shape[0]}")
    hover = ia.hover_table(None if lab is None else lab[idx].tolist(), **fields)
    panels = [true, learned]
    if cps is not None:
        names = sorted({m for c in cps for m in c["metrics"]})
        ser = [ia.series(m, steps, [c["metrics"].get(m, np.nan) for c in cps]) for m in names]
        if ser:
            panels.append(ia.lines_panel(ser, title="probe metrics over training", x_label="step",
                                         y_label="value", step_marker=True))
    return panels, hover, steps, cap


def projections_spec(beliefs: Any, predictions: Mapping[str, Any], weights: Any, *, title: str = "",
                     max_points: int = 4000, seed: int = 0) -> dict:
    """True beliefs beside several probe projections of the same held-out rows (e.g. one
    per network), from saved arrays: the panels of :func:`geometry_spec` without a
    :class:`~nets.probe.ProbeResult`.

    Parameters
    ----------
    beliefs : (n, k) true belief coordinates;  weights : (n,) row weights (>= 0)
    predictions : name -> (n, k) a probe's prediction of the same rows (one panel each)
    """
    Y = check_real_array(beliefs, "beliefs", ndim=2)
    w = check_real_array(weights, "weights", ndim=1)
    if w.shape[0] != Y.shape[0] or np.any(w < 0) or not w.sum() > 0:
        raise ArgumentError(f"weights must be {Y.shape[0]} numbers >= 0 with a positive sum; got shape {w.shape}")
    idx, d, proj, axes, colors, sizes = _frame(Y, w / w.sum(), max_points, seed)
    panels = [ia.scatter_panel(proj(Y), title="true beliefs", axes=axes, colors=colors, sizes=sizes)]
    for name, P in predictions.items():
        P = check_real_array(P, f"predictions[{name!r}]", ndim=2)
        if P.shape != Y.shape:
            raise ArgumentError(f"predictions[{name!r}] must have the beliefs' shape {Y.shape}; got {P.shape}")
        panels.append(ia.scatter_panel(proj(P), title=str(name), axes=axes, colors=colors, sizes=sizes))
    return ia.figure_spec(panels, title=title, caption="All panels: the top weighted principal axes of the true "
                          "beliefs; colour = true belief" + ("; drag any panel to rotate all." if d == 3 else "."))


def fit_by_layer_spec(result: Any, *, title: str | None = None) -> dict:
    """Held-out RMSE and R^2 per probe point: trained, shuffled beliefs, untrained network
    (bars) and the Markov-k beliefs (dashed), as :func:`nets.probe.plots.plot_fit_by_layer`."""
    names = list(result.points)
    pts = [result.points[n] for n in names]
    x = np.arange(len(names))
    mk = result.baselines.get("markov")
    panels = []
    for key, label in (("rmse", "held-out RMSE"), ("r2", "held-out R²")):
        ser = [ia.series("trained", x, [p.test[key] for p in pts], mode="bars", color=ia.PALETTE[0]),
               ia.series("shuffled beliefs", x, [p.shuffled[key] for p in pts], mode="bars", color=ia.PALETTE[7])]
        if any(p.untrained is not None for p in pts):
            ser.append(ia.series("untrained net", x, [np.nan if p.untrained is None else p.untrained[key] for p in pts],
                                 mode="bars", color=ia.PALETTE[1]))
        if mk and np.isfinite(mk.get(key, np.nan)):
            ser.append(ia.series(f"Markov-{mk['order']} beliefs", [-0.45, len(names) - 0.55], [mk[key]] * 2,
                                 mode="dashed", color=ia.PALETTE[3]))
        lo = min(0.0, min(p.shuffled["r2"] for p in pts) - 0.02) if key == "r2" else None
        panels.append(ia.lines_panel(ser, title=label, x_label="probe point", y_label=label, categories=names,
                                     y_range=None if lo is None else (lo, 1.02)))
    meta = result.meta
    return ia.figure_spec(panels, title=title or f"{meta.get('process', '')} [{meta.get('representation', '')}]: "
                          f"probe fit by layer -- verdict: {result.verdict}",
                          caption="Verdict: " + result.verdict + (" -- " + "; ".join(result.reasons)
                                                                  if result.reasons else ""))


def probe_figure_spec(result: Any, **geometry_options: Any) -> dict:
    """One figure with the geometry panels (:func:`geometry_spec`) and the fit by layer
    (:func:`fit_by_layer_spec`): what :meth:`ProbeResult.plot_interactive` shows."""
    geo = geometry_spec(result, **geometry_options)
    fit = fit_by_layer_spec(result)
    geo["panels"] += fit["panels"]
    geo["caption"] += " " + fit["caption"]
    return ia.check_figure_spec(geo)


def attention_spec(report: Any, rates: Any = None, *, title: str | None = None) -> dict:
    """Mean attention by distance per head (one log-scale panel per layer): measured
    (markers), fitted ``C |lambda|^D`` (line) and predicted ``C |r|^D`` (dashed) with the
    head's fitted amplitude ``C``, on the head's parity for parity-split heads.

    ``rates``: a :class:`bayes.AttentionRates` -- each head is compared with the
    effective rate nearest its signed fitted rate; default the nearest eigenvalue of
    ``sum_x T[x]`` that :func:`nets.attention.fit_decay` matched.
    """
    cands = None if rates is None else np.asarray(rates.effective_rates, dtype=complex)
    panels = []
    for layer in sorted(report.profiles):
        prof = np.asarray(report.profiles[layer], dtype=float)
        D = np.arange(prof.shape[1])
        ser = []
        for h in range(prof.shape[0]):
            col = ia.PALETTE[h % len(ia.PALETTE)]
            ser.append(ia.series(f"head {h}", D, np.where(prof[h] > 0, prof[h], np.nan), mode="markers", color=col))
            fit = [hd for hd in report.heads if hd.layer == layer and hd.head == h]
            if not fit or fit[0].lam_abs <= 0:
                continue
            hd = fit[0]
            Df = D if hd.parity == "all" else D[D % 2 == (0 if hd.parity == "even" else 1)]
            ser.append(ia.series(f"head {h} fit λ={hd.lam:.3f} ({hd.parity})", Df, hd.amplitude * hd.lam_abs ** Df,
                                 mode="lines", color=col))
            r = hd.eigenvalue if cands is None or not cands.size else cands[np.argmin(np.abs(cands - hd.lam))]
            if r is not None and abs(r) > 0:
                ser.append(ia.series(f"head {h} predicted |r|={abs(r):.3f}", Df, hd.amplitude * abs(r) ** Df,
                                     mode="dashed", color=col))
        panels.append(ia.lines_panel(ser, title=f"layer {layer}", x_label="distance d - s",
                                     y_label="mean attention weight", log_y=True))
    src = "effective rates of bayes.attention_decay_rates" if cands is not None else "nearest eigenvalues of sum_x T[x]"
    return ia.figure_spec(panels, title=title or f"{report.meta.get('process', '')}: attention by distance per head",
                          caption=f"Markers: measured; lines: fitted decay; dashed: predicted ({src}).")


# ---------------------------------------------------------------------- helpers
def _arrays(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arr = getattr(result, "arrays", None) or {}
    if not {"beliefs", "predicted", "weights"} <= set(arr):
        raise ArgumentError("the result has no held-out arrays (results loaded from JSON without "
                            "include_arrays=True cannot be drawn); rerun the probe or save with include_arrays=True")
    Y, P, w = (np.asarray(arr[k], dtype=float) for k in ("beliefs", "predicted", "weights"))
    return Y, P, w / w.sum()


def _frame(Y: np.ndarray, w: np.ndarray, max_points: int, seed: int):
    """What every geometry panel shares: the drawn rows ``idx``, the dimension ``d`` (2 or
    3) of the top weighted principal axes of the true beliefs ``Y`` (weights ``w``), the
    projection onto them, axis names, colours (by true belief) and sizes (by weight)."""
    from bayes.geometry import weighted_pca

    from .probe.plots import _belief_colors

    idx = _rows(w, check_int(max_points, "max_points", minimum=1), seed)
    pca = weighted_pca(Y, w)
    d = int(np.clip(np.sum(pca.variances > 1e-12 * max(pca.variances[0], 1e-300)), 2, 3))  # 2-D or 3-D panels
    proj = (lambda A: _pad(pca.project(A[idx], d), d))
    axes = [f"belief PC {j + 1}" for j in range(d)]
    sizes = 1.0 + 3.5 * np.sqrt(w[idx] / w[idx].max())
    return idx, d, proj, axes, _belief_colors(pca, Y)[idx], sizes


def _rows(w: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """The rows drawn (as :func:`nets.probe.plots.plot_belief_geometry`: a weighted sample
    without replacement when there are more than ``max_points``), lightest first."""
    idx = np.arange(w.size)
    if idx.size > max_points:
        nz = np.flatnonzero(w > 0)
        idx = np.random.default_rng(seed).choice(nz, size=min(max_points, nz.size), replace=False,
                                                 p=w[nz] / w[nz].sum())
    return idx[np.argsort(w[idx], kind="stable")]


def _pad(a: np.ndarray, d: int) -> np.ndarray:
    return a if a.shape[1] >= d else np.column_stack([a, np.zeros((a.shape[0], d - a.shape[1]))])
