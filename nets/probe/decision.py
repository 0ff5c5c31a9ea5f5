"""The probe's decision rule: is the belief state represented at the headline point?

Two kinds of baseline enter it: *controls* (``"shuffled"`` beliefs, the ``"untrained"``
network: no belief information should survive them) and the *finite-memory* baseline
``"markov"`` (the beliefs predicted from an order-k Markov approximation's beliefs, i.e.
from the last k symbols).  See :func:`verdict` and :data:`DEFAULT_THRESHOLDS`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["DEFAULT_THRESHOLDS", "verdict", "check_thresholds"]

#: verdict thresholds (see :func:`verdict`)
DEFAULT_THRESHOLDS: dict[str, float] = {
    "represented_r2": 0.90,             # held-out pooled R^2 of the headline point
    "represented_control_ratio": 0.50,  # rmse / smallest control rmse (shuffled, untrained)
    "represented_markov_ratio": 1.00,   # rmse / Markov-k baseline rmse
    "partly_r2": 0.50,
    "partly_control_ratio": 0.80,
}


def check_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """:data:`DEFAULT_THRESHOLDS` updated by ``thresholds`` (unknown keys raise ``ValueError``)."""
    t = dict(DEFAULT_THRESHOLDS)
    if thresholds:
        unknown = set(thresholds) - set(t)
        if unknown:
            raise ValueError(f"unknown verdict thresholds {sorted(unknown)}; valid: {sorted(t)}")
        t.update({k: float(v) for k, v in thresholds.items()})
    return t


def verdict(r2: float, rmse: float, baseline_rmse: Mapping[str, float],
            thresholds: Mapping[str, float] | None = None) -> tuple[str, list[str]]:
    """The verdict for a held-out fit against its baselines.

    With ``ctrl = min(control rmse)`` (every baseline except ``"markov"``):

    - ``"represented"``: ``r2 >= represented_r2`` (0.90), ``rmse <= represented_control_ratio
      (0.5) * ctrl`` and ``rmse <= represented_markov_ratio (1.0) * markov rmse`` -- a
      high-R^2 fit that halves the controls' error and beats a last-k-symbols lookup;
    - ``"partly"``: ``r2 >= partly_r2`` (0.50) and ``rmse <= partly_control_ratio (0.8) *
      ctrl`` -- clearly better than the controls, but below the bar on R^2 or not beating
      the finite-memory baseline;
    - ``"not"``: otherwise.

    Baselines that are missing or NaN are skipped (with a reason saying so).

    Returns
    -------
    (verdict, reasons)

    Examples
    --------
    >>> verdict(0.99, 0.01, {"shuffled": 0.3, "markov": 0.05})[0]
    'represented'
    >>> verdict(0.99, 0.06, {"shuffled": 0.3, "markov": 0.05})[0]   # loses to the Markov-k baseline
    'partly'
    """
    t = check_thresholds(thresholds)
    base = {k: float(v) for k, v in baseline_rmse.items() if v is not None and np.isfinite(v)}
    if r2 is None or not np.isfinite(r2):
        return "not", ["held-out R^2 is undefined (the beliefs have no variance)"]
    reasons = [f"held-out R^2 {r2:.4f} (represented >= {t['represented_r2']:g}, partly >= {t['partly_r2']:g})"]
    controls = {k: v for k, v in base.items() if k != "markov"}
    if controls:
        cname = min(controls, key=controls.get)
        cratio = rmse / controls[cname] if controls[cname] > 0 else float("inf")
        reasons.append(f"RMSE {rmse:.4g} = {cratio:.3f} x best control ({cname}, RMSE {controls[cname]:.4g}); "
                       f"represented <= {t['represented_control_ratio']:g}, partly <= {t['partly_control_ratio']:g}")
    else:
        cratio = 0.0
        reasons.append("no control baseline given: the control criterion is skipped")
    if "markov" in base:
        mratio = rmse / base["markov"] if base["markov"] > 0 else float("inf")
        reasons.append(f"RMSE = {mratio:.3f} x the Markov-k baseline (RMSE {base['markov']:.4g}); "
                       f"represented <= {t['represented_markov_ratio']:g}")
    else:
        mratio = 0.0
        reasons.append("no Markov-k baseline given: the finite-memory criterion is skipped")
    if r2 >= t["represented_r2"] and cratio <= t["represented_control_ratio"] and mratio <= t["represented_markov_ratio"]:
        return "represented", reasons
    if r2 >= t["partly_r2"] and cratio <= t["partly_control_ratio"]:
        return "partly", reasons
    return "not", reasons
