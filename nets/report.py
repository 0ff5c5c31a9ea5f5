"""Reports of training runs: the loss curve against the Bayes-optimal loss, and Markdown.

- :func:`plot_loss_curve` draws a run's training (and exact validation) loss relative to
  the per-position Bayes-optimal cross-entropy (1.0 is optimal), from ``metrics.jsonl``
  records.
- :func:`markdown_table` formats rows as a GitHub Markdown table.
- :func:`save_figure` writes a :class:`matplotlib.figure.Figure` atomically.

Figures are drawn on :class:`matplotlib.figure.Figure` objects, never through pyplot:
no global state, no backend switch, nothing left open (matplotlib is imported lazily).
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np

from generators.fileio import atomic_path

__all__ = ["plot_loss_curve", "markdown_table", "smooth", "save_figure"]


def smooth(y: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average with a window of ``window`` points (shorter at the start)."""
    y = np.asarray(y, dtype=float)
    if window <= 1 or y.size == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_loss_curve(histories: dict[str, list[dict]], path: str | os.PathLike, *, title: str | None = None,
                    x: str = "tokens") -> str:
    """PNG of loss relative to the optimum vs ``x`` ("tokens", "step" or "time_s").

    ``histories`` maps a label (e.g. "exact targets") to its metric records (dicts with
    ``relative`` and optionally ``val_relative``).  The training curve is smoothed over
    ~2% of the points; exact validation points are drawn as markers.  A dashed line marks
    the optimum (1.0).  Returns the path.
    """
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=120)
    ax = fig.subplots()
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (label, hist) in enumerate(histories.items()):
        recs = [r for r in hist if r.get("relative") is not None]
        if not recs:
            continue
        xs = np.array([r.get(x, r["step"]) for r in recs], dtype=float)
        ys = np.array([r["relative"] for r in recs], dtype=float)
        c = colors[k % len(colors)]
        ax.plot(xs, smooth(ys, max(1, len(ys) // 50)), color=c, lw=1.6, label=f"{label}: training (smoothed)")
        val = [(r.get(x, r["step"]), r["val_relative"]) for r in hist if r.get("val_relative") is not None]
        if val:
            vx, vy = np.array(val, dtype=float).T
            ax.plot(vx, vy, "o-", color=c, ms=3.5, lw=0.8, alpha=0.9, label=f"{label}: exact validation")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="Bayes-optimal")
    ax.set_xscale("log")
    ax.set_xlabel({"tokens": "training tokens", "step": "step", "time_s": "seconds"}.get(x, x))
    ax.set_ylabel("loss / optimal loss")
    lo = min(1.0, *(ax.get_ylim()[0],))
    ax.set_ylim(max(lo, 0.98), None)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title or "training loss relative to the Bayes-optimal loss")
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> str:
    """Write ``fig`` (a :class:`matplotlib.figure.Figure`) as PNG to ``path`` atomically
    (:func:`generators.fileio.atomic_path`); returns the path as a string."""
    out = str(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", **savefig_kwargs)
    return out


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table; floats are shown with 4 significant digits."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "-" if not np.isfinite(v) else f"{v:.4g}"
        return "-" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
