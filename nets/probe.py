"""Linear probes from network activations to belief states, with honest baselines.

The question a probe answers: is the belief state of the data-generating process (in a
chosen representation) an *affine* function of the activations at some point of the
network?  Everything here works on plain float64 numpy arrays; building the arrays from a
generator and a model lives in :mod:`nets.probe_data`.

Math
----
Rows ``i = 1..N`` carry activations ``x_i`` (d,), targets ``y_i`` (k,) and weights
``w_i >= 0`` (prefix probabilities, or counts).  With normalized weights
``p_i = w_i / sum w`` and weighted means ``mu_x = sum p_i x_i``, ``mu_y = sum p_i y_i``,
the weighted, centered design and targets are ::

    Xc = diag(sqrt p) (X - mu_x)         (N, d)
    Yc = diag(sqrt p) (Y - mu_y)         (N, k)

With the SVD ``Xc = U S V^T`` (singular values descending) the rank-``r`` truncated
pseudoinverse solution is ::

    B_r = V_r S_r^-1 U_r^T Yc            (d, k)      intercept  c = mu_y - mu_x B_r

so that ``y_hat = x B_r + c``.  It minimizes ``sum_i p_i |y_i - x_i B - c|^2`` over ``B`` in
the span of the top ``r`` right singular vectors.  The rank is chosen by k-fold
cross-validation (rows assigned to folds by a seeded permutation; the minimum-CV-error
rank by default, the one-standard-error rule on request); the CV error of every
candidate rank is computed in one pass per fold from the fold's weighted Gram matrix (see
:func:`cross_validate_rank`).  Duplicated rows are exactly equivalent to a doubled weight.

Metrics (all weighted by the normalized held-out weights ``p``; ``ybar = sum p_i y_i``)
-------------------------------------------------------------------------------------
- ``mse  = sum_i p_i mean_j (y_ij - yhat_ij)^2``  (mean over the k coordinates, as in
  Shai et al. 2024, "MSE averaged over sequences x positions x coordinates")
- ``rmse = sqrt(mse)``  (units of belief coordinates; the Euclidean RMS error is
  ``sqrt(k) * rmse``)
- ``r2_per_coordinate[j] = 1 - sum_i p_i (y_ij - yhat_ij)^2 / sum_i p_i (y_ij - ybar_j)^2``
- ``r2 = 1 - sum_ij p_i (y_ij - yhat_ij)^2 / sum_ij p_i (y_ij - ybar_j)^2``  (pooled: the
  fraction of the total belief variance explained)
- ``cos_r2`` — our definition of Riechers et al. 2025's "cosine-similarity R^2": the
  squared cosine similarity between the centered prediction and the centered truth,
  flattened over rows and coordinates, with row weights ``p``::

      cos_r2 = <yhat - ybar, y - ybar>_p^2 / (|yhat - ybar|_p^2 |y - ybar|_p^2),
      <a, b>_p = sum_ij p_i a_ij b_ij

  It equals ``r2`` for an in-sample least-squares fit and ignores an overall rescaling
  of the prediction; held out it is the squared weighted correlation of prediction and
  truth.  The paper does not spell its formula out; this is our reading of it.

Verdict
-------
See :data:`DEFAULT_THRESHOLDS` and :func:`verdict`.  "represented": the headline point's
held-out ``r2 >= 0.90``, its ``rmse <= 0.5 x`` the smaller control rmse (shuffled beliefs,
untrained network) and ``<=`` the Markov-k baseline's rmse (beliefs predicted from the last
k symbols); "partly": ``r2 >= 0.50`` and ``rmse <= 0.8 x`` the smaller control rmse;
otherwise "not".
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from generators.fileio import to_jsonable, write_json

__all__ = [
    "AffineProbe",
    "fit_affine",
    "cross_validate_rank",
    "probe_metrics",
    "train_test_split",
    "PointFit",
    "ProbeResult",
    "DEFAULT_THRESHOLDS",
    "verdict",
    "probe",
    "CONCAT",
]

#: name of the probe point made of all per-layer activations concatenated
CONCAT = "concat"

#: verdict thresholds (see :func:`verdict`)
DEFAULT_THRESHOLDS: dict[str, float] = {
    "represented_r2": 0.90,             # held-out pooled R^2 of the headline point
    "represented_control_ratio": 0.50,  # rmse / smallest control rmse (shuffled, untrained)
    "represented_markov_ratio": 1.00,   # rmse / Markov-k baseline rmse
    "partly_r2": 0.50,
    "partly_control_ratio": 0.80,
}


# ====================================================================== core math
@dataclass
class AffineProbe:
    """A fitted affine map ``y_hat = x @ coef + intercept``.

    Attributes
    ----------
    coef : (d, k) float64
    intercept : (k,) float64
    rank : int
        Truncation rank of the SVD pseudoinverse (0: predict the weighted mean).
    singular_values : (min(N, d),) float64
        Of the weighted, centered training design ``diag(sqrt p)(X - mu_x)`` with
        normalized weights (so ``s_i^2`` are the weighted covariance eigenvalues).
    cv_ranks, cv_errors, cv_se : arrays or None
        Candidate ranks, their pooled held-out weighted MSE (mean over coordinates), and
        the standard error across folds, when the rank came from cross-validation.
    """

    coef: np.ndarray
    intercept: np.ndarray
    rank: int
    singular_values: np.ndarray
    cv_ranks: np.ndarray | None = None
    cv_errors: np.ndarray | None = None
    cv_se: np.ndarray | None = None

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``(N, k)`` for activations ``X`` of shape ``(N, d)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X must have shape (N, {self.coef.shape[0]}); got {X.shape}")
        return X @ self.coef + self.intercept


def fit_affine(X: Any, Y: Any, weights: Any = None, *, rank: int | str = "cv", folds: int = 10, seed: int = 0,
               rcond: float = 1e-6, select: str = "min", max_rank: int | None = None,
               solver: str = "auto") -> AffineProbe:
    """Probability-weighted affine least squares via a truncated-SVD pseudoinverse.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Activations (any float dtype; computed in float64).
    Y : array_like, shape (N, k) or (N,)
        Targets (beliefs).
    weights : array_like, shape (N,), optional
        Nonnegative row weights (default uniform); only their ratios matter.
    rank : "cv", "full" or int
        ``"cv"``: chosen by ``folds``-fold cross-validation; ``"full"``: every singular
        value above ``rcond * s_max``; an int: that rank (capped at the numerical rank).
    folds : int
        Number of CV folds (>= 2), rows assigned by a permutation seeded with ``seed``.
    rcond : float
        Singular values below ``rcond * s_max`` are never used (numerical rank).
    select : "min" or "1se"
        ``"min"`` (default): the rank with the smallest CV error -- the best expected
        held-out prediction, and the conservative choice for baselines (it never makes a
        baseline look worse than its best fit); ``"1se"``: the smallest rank whose CV error
        is within one standard error (across folds) of that minimum -- the
        one-standard-error rule, which finds the true rank of low-rank data where
        ``"min"`` may add a few noise directions.
    max_rank : int, optional
        Largest candidate rank.
    solver : "auto", "svd" or "gram"
        How the SVD of the weighted centered design ``Xc`` is obtained.  ``"svd"``: from
        a Householder QR of ``[Xc | Yc]`` and the SVD of its ``d x d`` triangle (backward
        stable; no ``N x d`` ``U`` formed).  ``"gram"``: from the eigendecomposition of
        ``Xc^T Xc = V S^2 V^T`` (the same ``V`` and ``S``; about 3x cheaper and reusing the
        cross-validation's statistics, with relative accuracy ``~eps / (s_i/s_max)^2``
        instead of ``~eps / (s_i/s_max)`` in the smallest kept directions -- immaterial
        for ``rcond >= 1e-6``).  ``"auto"``: ``"gram"`` when ``N d^2 > 5e7``.

    Returns
    -------
    AffineProbe
    """
    X, Y, p = _check_xyw(X, Y, weights)
    if select not in ("min", "1se"):
        raise ValueError(f"select must be 'min' or '1se'; got {select!r}")
    if solver not in ("auto", "svd", "gram"):
        raise ValueError(f"solver must be 'auto', 'svd' or 'gram'; got {solver!r}")
    N, d = X.shape
    if solver == "auto":
        solver = "gram" if N * d * d > 5e7 else "svd"
    if isinstance(rank, str):
        if rank not in ("cv", "full"):
            raise ValueError(f"rank must be 'cv', 'full' or a nonnegative int; got {rank!r}")
    elif isinstance(rank, bool) or int(rank) != rank or rank < 0:
        raise ValueError(f"rank must be 'cv', 'full' or a nonnegative int; got {rank!r}")
    mu_x, mu_y = p @ X, p @ Y
    Xg, Yg = X - mu_x, Y - mu_y
    cv = stats = None
    if rank == "cv":
        stats = _fold_stats(Xg, Yg, p, folds, seed)
        cv = _cv_errors(stats, Y.shape[1], rcond, max_rank)
    if solver == "svd":
        s, Vt, UtY = _weighted_svd(Xg, Yg, p)
    else:
        if stats is not None:
            tot = [a.sum(axis=0) for a in stats[:5]]
            sw, sx, sy, sxx, sxy = tot  # global centering: sx, sy ~ 0 up to round-off
            C = sxx / sw - np.outer(sx, sx) / sw ** 2
            Cxy = sxy / sw - np.outer(sx, sy) / sw ** 2
        else:
            C = (Xg * p[:, None]).T @ Xg
            Cxy = (Xg * p[:, None]).T @ Yg
        lam, V = np.linalg.eigh((C + C.T) / 2)
        lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]
        s = np.sqrt(lam)
        Vt = V.T
        with np.errstate(divide="ignore", invalid="ignore"):
            UtY = np.where(s[:, None] > 0, (Vt @ Cxy) / np.where(s > 0, s, 1.0)[:, None], 0.0)
    numerical = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    if max_rank is not None:
        numerical = min(numerical, int(max_rank))
    if cv is not None:
        r = _select_rank(*cv, select)
    elif rank == "full":
        r = numerical
    else:
        r = int(rank)
    r = min(r, numerical)
    coef = Vt[:r].T @ (UtY[:r] / s[:r, None])
    intercept = mu_y - mu_x @ coef
    return AffineProbe(coef=coef, intercept=intercept, rank=r, singular_values=s,
                       cv_ranks=None if cv is None else cv[0], cv_errors=None if cv is None else cv[1],
                       cv_se=None if cv is None else cv[2])


def cross_validate_rank(X: Any, Y: Any, weights: Any = None, *, folds: int = 10, seed: int = 0, rcond: float = 1e-6,
                        max_rank: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out weighted MSE of the truncated-SVD affine probe for every rank.

    Rows go to ``folds`` folds by a permutation seeded with ``seed``; for each fold the
    probe is fit on the others and scored on it.  Everything follows from per-fold
    weighted moment matrices (one pass over the data): with the training part's weighted
    covariance ``C = V diag(lam) V^T`` and cross-covariance ``Cxy``, the rank-``r``
    coefficients are ``B_r = sum_{i<r} v_i (v_i^T Cxy) / lam_i``.  Writing the held-out
    rows in that basis, ``A = (X_f - m_x) V``, ``E0 = Y_f - m_y`` (``m`` the training
    means) and ``G = diag(1/lam) V^T Cxy`` (R, k), the held-out weighted SSE of every rank
    is, in closed form::

        SSE_r = |E0|_p^2 - 2 sum_{i<r} sum_j (A^T P E0)_ij G_ij + sum_{i,l<r} (A^T P A)_il (G G^T)_il

    where ``A^T P A = V^T S_xx V`` and ``A^T P E0 = V^T S_xy`` come from the fold's
    moments about ``m``.  Cost: ``N d^2`` once, then ``O(d^3)`` per fold.

    Returns
    -------
    ranks : (R+1,) int -- ``0..R``, ``R`` the smallest numerical rank over the folds
    errors : (R+1,) float -- pooled held-out weighted MSE (mean over coordinates)
    se : (R+1,) float -- standard error of the per-fold MSE across folds
    """
    X, Y, p = _check_xyw(X, Y, weights)
    stats = _fold_stats(X - p @ X, Y - p @ Y, p, folds, seed)
    return _cv_errors(stats, Y.shape[1], rcond, max_rank)


def probe_metrics(Y: Any, Y_hat: Any, weights: Any = None) -> dict[str, Any]:
    """Weighted fit metrics of predictions ``Y_hat`` against targets ``Y`` (see module doc).

    Parameters
    ----------
    Y, Y_hat : array_like, shape (N, k)
    weights : array_like, shape (N,), optional

    Returns
    -------
    dict with ``mse``, ``rmse``, ``r2``, ``cos_r2`` (floats), ``r2_per_coordinate`` and
    ``rmse_per_coordinate`` (lists of k floats).  A coordinate with zero variance has
    ``r2_per_coordinate`` NaN (it is excluded from nothing else).
    """
    Y_hat, Y, p = _check_xyw(Y_hat, Y, weights, names=("Y_hat", "Y"))
    if Y.shape != Y_hat.shape:
        raise ValueError(f"Y and Y_hat must have the same shape; got {Y.shape} and {Y_hat.shape}")
    err = Y - Y_hat
    sse_j = p @ err ** 2
    ybar = p @ Y
    dev = Y - ybar
    sst_j = p @ dev ** 2
    mse = float(sse_j.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_j = np.where(sst_j > 0, 1.0 - sse_j / np.where(sst_j > 0, sst_j, 1.0), np.nan)
    sst = float(sst_j.sum())
    r2 = 1.0 - float(sse_j.sum()) / sst if sst > 0 else float("nan")
    hdev = Y_hat - ybar
    num = float(np.sum(p[:, None] * hdev * dev))
    den = float(np.sum(p[:, None] * hdev ** 2)) * sst
    cos_r2 = num * num / den if den > 0 else 0.0
    return {"mse": mse, "rmse": math.sqrt(mse), "r2": r2, "cos_r2": cos_r2,
            "r2_per_coordinate": [float(v) for v in r2_j], "rmse_per_coordinate": [float(v) for v in np.sqrt(sse_j)]}


def train_test_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of a seeded random split, each sorted."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction!r}")
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n - n_test < 2:
        raise ValueError(f"cannot split {n} rows with test_fraction={test_fraction}: too few rows")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


# ====================================================================== results
@dataclass
class PointFit:
    """The probe at one activation point (a layer, or all layers concatenated).

    ``test`` / ``train`` hold :func:`probe_metrics` dicts; ``shuffled`` the held-out
    metrics of the same probe fit to row-permuted beliefs; ``untrained`` those of the same
    probe on a randomly initialized network's activations (None when not given);
    ``markov_targets`` the held-out metrics of this point's activations probed onto the
    order-k Markov approximation's beliefs; ``pca95`` the weighted-PCA dimension
    explaining 95% of this point's activation variance.
    """

    name: str
    dim: int
    rank: int
    test: dict
    train: dict
    shuffled: dict
    untrained: dict | None = None
    untrained_rank: int | None = None
    markov_targets: dict | None = None
    pca95: int | None = None

    @property
    def r2(self) -> float:
        return float(self.test["r2"])

    @property
    def rmse(self) -> float:
        return float(self.test["rmse"])


@dataclass
class ProbeResult:
    """Everything one probe call found, with a verdict.

    Attributes
    ----------
    verdict : "represented", "partly" or "not"
    reasons : list of str — why (which thresholds passed or failed)
    headline : str — the point the verdict is about (``"concat"`` by default)
    points : dict name -> :class:`PointFit`, in layer order, ``"concat"`` last
    baselines : dict — ``best_rmse`` (smallest baseline rmse of the headline point),
        ``markov`` (order, n_states, held-out metrics of predicting the beliefs from the
        order-k Markov approximation's beliefs, i.e. from the last k symbols), ...
    geometry : dict — ``activation_pca95`` (headline), ``belief_affine_dim``,
        ``belief_pca95``, ``dist_r2_beliefs`` / ``dist_r2_next`` (pairwise distances of
        the probe's projection of held-out activations vs true-belief distances / vs
        next-symbol-distribution distances), ``dist_r2_beliefs_raw`` /
        ``dist_r2_next_raw`` (the same with raw activation distances).
    thresholds : dict — the verdict thresholds used
    meta : dict — representation, coordinates, sizes, seed, and anything the caller added
    arrays : dict of numpy arrays, not serialized by default — held-out ``beliefs``,
        ``predicted`` (headline point), ``weights``, and ``next_probs`` if given; used by
        the figures.
    """

    verdict: str
    reasons: list
    headline: str
    points: dict
    baselines: dict
    geometry: dict
    thresholds: dict
    meta: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict, repr=False, compare=False)

    # -------------------------------------------------------------- access
    @property
    def best(self) -> PointFit:
        """The point with the highest held-out R^2."""
        return max(self.points.values(), key=lambda pt: (np.nan_to_num(pt.r2, nan=-np.inf)))

    def __getitem__(self, name: str) -> PointFit:
        return self.points[name]

    # -------------------------------------------------------------- serialization
    def to_dict(self, include_arrays: bool = False) -> dict:
        d = {"verdict": self.verdict, "reasons": list(self.reasons), "headline": self.headline,
             "points": {k: asdict(v) for k, v in self.points.items()}, "baselines": self.baselines,
             "geometry": self.geometry, "thresholds": self.thresholds, "meta": self.meta}
        if include_arrays:
            d["arrays"] = {k: np.asarray(v).tolist() for k, v in self.arrays.items()}
        return to_jsonable(d)

    @classmethod
    def from_dict(cls, d: Mapping) -> "ProbeResult":
        try:
            points = {k: PointFit(**v) for k, v in d["points"].items()}
            return cls(verdict=d["verdict"], reasons=list(d["reasons"]), headline=d["headline"], points=points,
                       baselines=dict(d["baselines"]), geometry=dict(d["geometry"]),
                       thresholds=dict(d["thresholds"]), meta=dict(d.get("meta", {})),
                       arrays={k: np.asarray(v, dtype=float) for k, v in d.get("arrays", {}).items()})
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a ProbeResult dictionary: {e}") from e

    def to_json(self, path: str | os.PathLike, include_arrays: bool = False) -> None:
        """Write the result as JSON atomically (temporary file in the same folder, then
        rename).  NaN is written as ``null``."""
        write_json(path, self.to_dict(include_arrays=include_arrays))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "ProbeResult":
        with open(path, "r", encoding="utf-8") as fh:
            return cls.from_dict(_unjson(json.load(fh)))

    # -------------------------------------------------------------- text
    def summary(self) -> str:
        """A compact text table for terminals."""
        rows = [f"verdict: {self.verdict.upper()}  (headline: {self.headline})"]
        rows += [f"  - {r}" for r in self.reasons]
        meta = self.meta
        if meta:
            bits = [f"{k}={meta[k]}" for k in ("process", "representation", "n_rows", "positions") if k in meta]
            if bits:
                rows.append("  " + "  ".join(bits))
        head = f"{'point':<22}{'dim':>5}{'rank':>5}{'R2':>8}{'cosR2':>8}{'RMSE':>9}{'shufR2':>8}{'shufRMSE':>9}" \
               f"{'untrR2':>8}{'untrRMSE':>9}{'pca95':>6}"
        rows += [head, "-" * len(head)]
        for pt in self.points.values():
            u = pt.untrained or {}
            rows.append(f"{pt.name[:21]:<22}{pt.dim:>5}{pt.rank:>5}{_f(pt.test['r2'], 8, 4)}{_f(pt.test['cos_r2'], 8, 4)}"
                        f"{_f(pt.test['rmse'], 9, 5)}{_f(pt.shuffled['r2'], 8, 3)}{_f(pt.shuffled['rmse'], 9, 5)}"
                        f"{_f(u.get('r2'), 8, 3)}{_f(u.get('rmse'), 9, 5)}"
                        f"{pt.pca95 if pt.pca95 is not None else '-':>6}")
        mk = self.baselines.get("markov")
        if mk:
            rows.append(f"markov-{mk['order']} ({mk['n_states']} states) -> beliefs: R2 {mk['r2']:.4f}  RMSE "
                        f"{mk['rmse']:.5f}")
        g = self.geometry
        if g:
            rows.append("geometry: " + "  ".join(f"{k}={_g(v)}" for k, v in g.items()))
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.summary()


def verdict(r2: float, rmse: float, baseline_rmse: Mapping[str, float],
            thresholds: Mapping[str, float] | None = None) -> tuple[str, list[str]]:
    """The verdict for a held-out fit against its baselines.

    Two kinds of baseline: *controls* (``"shuffled"``, ``"untrained"``: no belief
    information should survive them) and the *finite-memory* baseline ``"markov"`` (the
    beliefs predicted from an order-k Markov approximation's beliefs, i.e. from the last k
    symbols).  With ``ctrl = min(control rmse)``:

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
    """
    t = _thresholds(thresholds)
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


# ====================================================================== the probe
def probe(activations: Mapping[str, Any] | Any, beliefs: Any, weights: Any = None, *,
          concat: bool | Sequence[str] = True, untrained: Mapping[str, Any] | None = None,
          markov_beliefs: Any = None, markov_order: int | None = None, next_probs: Any = None,
          headline: str | None = None, rank: int | str = "cv", folds: int = 10, select: str = "min",
          test_fraction: float = 0.2, seed: int = 0, rcond: float = 1e-6, n_pairs: int = 20000,
          thresholds: Mapping[str, float] | None = None, drop_constant: bool = True,
          meta: Mapping[str, Any] | None = None, shuffle_groups: Any = None) -> ProbeResult:
    """Probe activations for beliefs, with baselines, geometry checks and a verdict.

    Parameters
    ----------
    activations : mapping name -> array (N, d_name), or one array (N, d)
        Activations at each probe point (layer), one row per input (prefix).  An array is
        treated as ``{"activations": array}``.
    beliefs : array_like, shape (N, k)
        True beliefs in the chosen representation (row ``i`` belongs to input ``i``).
    weights : array_like, shape (N,), optional
        Nonnegative row weights (prefix probabilities, counts); default uniform.
    concat : bool or sequence of names
        Also probe the concatenation of all points (True) or of the named points, as the
        point ``"concat"``.  Ignored when there is a single point.
    untrained : mapping name -> array (N, d_name), optional
        The same points' activations in a randomly initialized network of the same
        architecture, for the same inputs (baseline).  Must have the same names.
    markov_beliefs : array_like (N, m), optional
        Beliefs of an order-k Markov approximation of the process for the same inputs.
        Used twice: as features predicting the true beliefs (the "last k symbols"
        baseline, in the same units as the probe) and as probe targets
        (``PointFit.markov_targets``).
    markov_order : int, optional
        The ``k`` of ``markov_beliefs``, for the record.
    next_probs : array_like (N, V), optional
        Next-symbol distributions, for the distance-geometry check.
    headline : str, optional
        The point the verdict is about; default ``"concat"`` if probed, else the last one.
    rank, folds, select, rcond
        Passed to :func:`fit_affine`.
    shuffle_groups : array_like (N,), optional
        Labels (e.g. prefix lengths): the shuffled control then permutes beliefs only
        among rows with the same label, each row keeping its weight.
    test_fraction, seed
        Held-out split (seeded); every reported metric is on the held-out rows unless it
        says ``train``.  Shuffling uses ``seed + 1``.
    n_pairs : int
        Number of (weight-sampled) pairs for the distance-geometry R^2.
    thresholds : mapping, optional
        Overrides of :data:`DEFAULT_THRESHOLDS`.
    drop_constant : bool
        Drop belief coordinates with zero weighted variance (e.g. the first coordinate of
        a canonical minimal GHMM, or ``tr(rho)/sqrt(d)`` of a density matrix) before fitting;
        their indices are recorded in ``meta["dropped_coordinates"]``.
    meta : mapping, optional
        Extra fields recorded in ``result.meta``.

    Returns
    -------
    ProbeResult
    """
    from .geometry_checks import affine_dimension, distance_r2, weighted_pca_dimension

    thr = _thresholds(thresholds)  # validate before any fitting
    acts = _check_activations(activations, "activations")
    names = list(acts)
    N = next(iter(acts.values())).shape[0]
    Y = _as_2d(beliefs, "beliefs")
    if Y.shape[0] != N:
        raise ValueError(f"beliefs have {Y.shape[0]} rows but activations have {N}; one row per input is required")
    p = _check_weights(weights, N)
    if not np.all(np.isfinite(Y)):
        raise ValueError("beliefs contain NaN or infinite values")
    mean = p @ Y
    var = p @ (Y - mean) ** 2
    scale = max(float(np.max(np.abs(Y))), 1.0)
    const = np.nonzero(var <= (1e-12 * scale) ** 2)[0] if drop_constant else np.array([], dtype=int)
    keep = np.setdiff1d(np.arange(Y.shape[1]), const)
    if keep.size == 0:
        raise ValueError("every belief coordinate is constant over the weighted rows: nothing to probe")
    Y = Y[:, keep]
    unt = None
    if untrained is not None:
        unt = _check_activations(untrained, "untrained")
        missing = [n for n in names if n not in unt]
        if missing:
            raise ValueError(f"untrained activations lack points {missing}; they must have the same names {names}")
        for n in names:
            if unt[n].shape[0] != N:
                raise ValueError(f"untrained[{n!r}] has {unt[n].shape[0]} rows; expected {N}")
    if len(names) > 1 and concat:
        cat_names = names if concat is True else list(concat)
        bad = [n for n in cat_names if n not in acts]
        if bad:
            raise ValueError(f"unknown activation names for concat: {bad}; known: {names}")
        acts[CONCAT] = np.concatenate([acts[n] for n in cat_names], axis=1)
        if unt is not None:
            unt[CONCAT] = np.concatenate([unt[n] for n in cat_names], axis=1)
        names.append(CONCAT)
    if headline is None:
        headline = names[-1]
    elif headline not in acts:
        raise ValueError(f"unknown headline point {headline!r}; known: {names}")

    train, test = train_test_split(N, test_fraction, seed)
    p_tr, p_te = p[train], p[test]
    if p_tr.sum() <= 0 or p_te.sum() <= 0:
        raise ValueError("all weight fell on one side of the train/test split; use more rows or another seed")
    # shuffled control: without groups, beliefs move to other rows together with their
    # weights (the target distribution is unchanged, only its link to the activations is
    # broken); with groups, beliefs are permuted within each group and every row keeps its
    # weight (heavy rows, e.g. short prefixes, stay where they are)
    rng_s = np.random.default_rng(seed + 1)
    if shuffle_groups is None:
        perm = rng_s.permutation(N)
        Y_shuf, p_shuf = Y[perm], p[perm]
    else:
        Y_shuf, p_shuf = Y[_permute_within(np.asarray(shuffle_groups).reshape(-1), N, rng_s)], p
    fit_kw = dict(rank=rank, folds=folds, seed=seed, rcond=rcond, select=select)
    M = None
    if markov_beliefs is not None:
        M = _as_2d(markov_beliefs, "markov_beliefs")
        if M.shape[0] != N:
            raise ValueError(f"markov_beliefs have {M.shape[0]} rows; expected {N}")

    points: dict[str, PointFit] = {}
    predicted = None
    for n in names:
        X = acts[n]
        fit = fit_affine(X[train], Y[train], p_tr, **fit_kw)
        pred = fit.predict(X[test])
        sfit = fit_affine(X[train], Y_shuf[train], p_shuf[train], **fit_kw)
        pt = PointFit(name=n, dim=int(X.shape[1]), rank=fit.rank, test=probe_metrics(Y[test], pred, p_te),
                      train=probe_metrics(Y[train], fit.predict(X[train]), p_tr),
                      shuffled=probe_metrics(Y_shuf[test], sfit.predict(X[test]), p_shuf[test]),
                      pca95=weighted_pca_dimension(X, p, 0.95)[0])
        if unt is not None:
            ufit = fit_affine(unt[n][train], Y[train], p_tr, **fit_kw)
            pt.untrained = probe_metrics(Y[test], ufit.predict(unt[n][test]), p_te)
            pt.untrained_rank = ufit.rank
        if M is not None and n == headline:
            mfit = fit_affine(X[train], M[train], p_tr, **fit_kw)
            pt.markov_targets = probe_metrics(M[test], mfit.predict(X[test]), p_te)
        points[n] = pt
        if n == headline:
            predicted = pred

    baselines: dict[str, Any] = {}
    h = points[headline]
    base_rmse = {"shuffled": h.shuffled["rmse"]}
    if h.untrained is not None:
        base_rmse["untrained"] = h.untrained["rmse"]
    if M is not None:
        mfit = fit_affine(M[train], Y[train], p_tr, **fit_kw)
        mk = probe_metrics(Y[test], mfit.predict(M[test]), p_te)
        baselines["markov"] = {"order": markov_order, "n_states": int(M.shape[1]), "rank": mfit.rank, **mk}
        base_rmse["markov"] = mk["rmse"]
    baselines["rmse"] = base_rmse
    baselines["best_rmse"] = min(base_rmse.values())
    v, reasons = verdict(h.r2, h.rmse, base_rmse, thr)

    geometry: dict[str, Any] = {
        "activation_pca95": h.pca95,
        "belief_affine_dim": affine_dimension(Y, p),
        "belief_pca95": weighted_pca_dimension(Y, p, 0.95)[0],
    }
    Xh = acts[headline][test]
    geometry["dist_r2_beliefs"] = distance_r2(predicted, Y[test], p_te, n_pairs=n_pairs, seed=seed)
    geometry["dist_r2_beliefs_raw"] = distance_r2(Xh, Y[test], p_te, n_pairs=n_pairs, seed=seed)
    P = None
    if next_probs is not None:
        P = _as_2d(next_probs, "next_probs")
        if P.shape[0] != N:
            raise ValueError(f"next_probs have {P.shape[0]} rows; expected {N}")
        geometry["dist_r2_next"] = distance_r2(predicted, P[test], p_te, n_pairs=n_pairs, seed=seed)
        geometry["dist_r2_next_raw"] = distance_r2(Xh, P[test], p_te, n_pairs=n_pairs, seed=seed)

    info = {"n_rows": int(N), "n_train": int(train.size), "n_test": int(test.size), "belief_coordinates": int(Y.shape[1]),
            "dropped_coordinates": [int(c) for c in const], "rank_selection": f"{rank}/{folds}-fold/{select}"
            if rank == "cv" else str(rank), "test_fraction": test_fraction, "seed": seed,
            # 1 / sum p_i^2 of the normalized held-out weights: how many equally weighted rows the
            # held-out metrics are worth (prefix-probability weights concentrate on short prefixes)
            "effective_n_test": float(1.0 / np.sum((p_te / p_te.sum()) ** 2))}
    info.update(dict(meta or {}))
    arrays = {"beliefs": Y[test], "predicted": predicted, "weights": p_te}
    if P is not None:
        arrays["next_probs"] = P[test]
    return ProbeResult(verdict=v, reasons=reasons, headline=headline, points=points, baselines=baselines,
                       geometry=geometry, thresholds=thr, meta=info, arrays=arrays)


# ====================================================================== private helpers
def sampled_belief_r2(model: Any, data: Any, n_words: int = 4096, seed: int = 123, holdout: float = 0.2) -> float:
    """A fast check: held-out R^2 of a plain affine least-squares map from all layers'
    activations (``blocks.*.resid_post`` or ``layers.*.hidden``, concatenated, all
    positions) to the beliefs' coordinates ``1:`` (the minimal representation's constant
    first coordinate dropped).

    ``n_words`` words are sampled from ``data`` (a :class:`nets.data.BeliefData`), so the
    unweighted fit is the probability-weighted one; ``holdout`` of the words (not rows) are
    held out.  R^2 pools all coordinates.  For the full analysis with baselines use
    :func:`probe` / :func:`nets.probe_data.probe_model`.
    """
    import torch

    b = data.sample(n_words, np.random.default_rng(seed))
    names = "blocks.*.resid_post" if model.kind == "transformer" else "layers.*.hidden"
    with torch.no_grad():
        _, cache = model.run_with_cache(b.tokens.to(next(model.parameters()).device), names)
    X = torch.cat([v.float() for v in cache.values()], -1).cpu().double().numpy()
    Y = b.beliefs.numpy()[..., 1:]
    perm = np.random.default_rng(seed + 1).permutation(n_words)
    te, tr = perm[: int(n_words * holdout)], perm[int(n_words * holdout):]
    Xtr, Xte = X[tr].reshape(-1, X.shape[-1]), X[te].reshape(-1, X.shape[-1])
    Ytr, Yte = Y[tr].reshape(-1, Y.shape[-1]), Y[te].reshape(-1, Y.shape[-1])
    W, *_ = np.linalg.lstsq(np.c_[Xtr, np.ones(len(Xtr))], Ytr, rcond=None)
    P = np.c_[Xte, np.ones(len(Xte))] @ W
    return float(1 - ((P - Yte) ** 2).sum() / ((Yte - Ytr.mean(0)) ** 2).sum())


def _permute_within(groups: np.ndarray, N: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``0..N-1`` that maps every row to a row with the same group label."""
    if groups.shape != (N,):
        raise ValueError(f"shuffle_groups must have shape ({N},); got {groups.shape}")
    order = np.argsort(groups, kind="stable")
    key = rng.random(N)
    # within each group (contiguous in `order`), sort the rows by a random key
    shuffled = order[np.lexsort((key, groups[order]))]
    perm = np.empty(N, dtype=np.int64)
    perm[order] = shuffled
    return perm


def _weighted_svd(Xg: np.ndarray, Yg: np.ndarray, p: np.ndarray):
    """``s``, ``V^T`` and ``U^T Yc`` of the weighted centered design ``Xc = U S V^T``
    (``Xg``, ``Yg`` already centered by the weighted means).

    For tall designs the SVD goes through a Householder QR of ``[Xc | Yc]`` (LAPACK
    ``geqrf``, no ``Q`` formed): with ``R = [[R11, R12], [0, R22]]``, ``Xc = Q1 R11`` and
    ``Q1^T Yc = R12``, so the SVD ``R11 = U' S V^T`` gives ``U^T Yc = U'^T R12`` -- the same
    numbers as a direct SVD at a fraction of the cost (no ``N x d`` ``U``).
    """
    N, d = Xg.shape
    k = Yg.shape[1]
    sp = np.sqrt(p)[:, None]
    if N >= 2 * (d + k):
        import scipy.linalg as sla

        Z = np.empty((N, d + k), order="F")
        Z[:, :d] = sp * Xg
        Z[:, d:] = sp * Yg
        (geqrf,) = sla.get_lapack_funcs(("geqrf",), (Z,))
        qr, _tau, _work, info = geqrf(Z, overwrite_a=True)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK geqrf failed with info={info}")
        R = np.triu(qr[: d + k])
        U1, s, Vt = np.linalg.svd(R[:d, :d])
        return s, Vt, U1.T @ R[:d, d:]
    U, s, Vt = np.linalg.svd(sp * Xg, full_matrices=False)
    return s, Vt, U.T @ (sp * Yg)


def _fold_stats(Xg: np.ndarray, Yg: np.ndarray, p: np.ndarray, folds: int, seed: int):
    """Per-fold weighted moments ``(sw, sx, sy, sxx, sxy, syy)``, stacked over folds."""
    N = Xg.shape[0]
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be an integer >= 2; got {folds!r}")
    folds = int(folds)
    if N < folds:
        raise ValueError(f"cross-validation with {folds} folds needs at least {folds} rows; got {N}")
    fold_of = np.random.default_rng(seed).permutation(N) % folds
    out = [[] for _ in range(6)]
    for f in range(folds):
        idx = np.nonzero(fold_of == f)[0]
        pf = p[idx]
        xf, yf = Xg[idx], Yg[idx]
        xw = xf * pf[:, None]
        for lst, v in zip(out, (pf.sum(), pf @ xf, pf @ yf, xw.T @ xf, xw.T @ yf, pf @ yf ** 2)):
            lst.append(v)
    return tuple(np.stack(v) for v in out)


def _cv_errors(stats, k: int, rcond: float, max_rank: int | None):
    """CV errors of every rank from per-fold moments (see :func:`cross_validate_rank`)."""
    sw_all, sx_all, sy_all, sxx_all, sxy_all, syy_all = stats
    tot = [a.sum(axis=0) for a in stats]
    per_fold, masses, R = [], [], None
    for f in range(sw_all.shape[0]):
        sw_f, sx_f, sy_f, sxx_f, sxy_f, syy_f = (a[f] for a in stats)
        sw = tot[0] - sw_f
        if sw <= 1e-14 * tot[0] or sw_f <= 1e-14 * tot[0]:
            continue  # a fold (or its complement) carrying no weight says nothing
        mx, my = (tot[1] - sx_f) / sw, (tot[2] - sy_f) / sw
        C = (tot[3] - sxx_f) / sw - np.outer(mx, mx)
        Cxy = (tot[4] - sxy_f) / sw - np.outer(mx, my)
        lam, V = np.linalg.eigh((C + C.T) / 2)
        lam, V = lam[::-1], V[:, ::-1]
        r_f = int(np.sum(lam > (rcond ** 2) * lam[0])) if lam[0] > 0 else 0
        if max_rank is not None:
            r_f = min(r_f, int(max_rank))
        R = r_f if R is None else min(R, r_f)
        V, lam = V[:, :r_f], lam[:r_f]
        G = (V.T @ Cxy) / lam[:, None]  # (r_f, k)
        # held-out moments about the training means
        Sxx = sxx_f - np.outer(sx_f, mx) - np.outer(mx, sx_f) + sw_f * np.outer(mx, mx)
        Sxy = sxy_f - np.outer(sx_f, my) - np.outer(mx, sy_f) + sw_f * np.outer(mx, my)
        s0 = float(syy_f.sum() - 2.0 * sy_f @ my + sw_f * my @ my)
        g = np.sum((V.T @ Sxy) * G, axis=1)
        M = (V.T @ Sxx @ V) * (G @ G.T)
        lead = np.cumsum(np.cumsum(M, axis=0), axis=1).diagonal()
        sse = np.concatenate([[0.0], -2.0 * np.cumsum(g) + lead]) + s0
        per_fold.append(np.maximum(sse, 0.0))
        masses.append(sw_f)
    if not per_fold:
        raise ValueError("cross-validation failed: all weight lies in a single fold; use more rows or fewer folds")
    sse = np.stack([s[:R + 1] for s in per_fold])  # (F, R+1)
    m = np.asarray(masses)[:, None]
    errors = sse.sum(axis=0) / (m.sum() * k)
    fold_mse = sse / (m * k)
    se = fold_mse.std(axis=0, ddof=1) / np.sqrt(len(per_fold)) if len(per_fold) > 1 else np.zeros(R + 1)
    return np.arange(R + 1), errors, se


def _thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    t = dict(DEFAULT_THRESHOLDS)
    if thresholds:
        unknown = set(thresholds) - set(t)
        if unknown:
            raise ValueError(f"unknown verdict thresholds {sorted(unknown)}; valid: {sorted(t)}")
        t.update({k: float(v) for k, v in thresholds.items()})
    return t


def _select_rank(ranks: np.ndarray, err: np.ndarray, se: np.ndarray, select: str) -> int:
    i = int(np.argmin(err))
    if select == "1se":
        ok = np.nonzero(err <= err[i] + se[i])[0]
        return int(ranks[ok[0]])
    # smallest rank within round-off of the minimum (ties go to the simpler probe)
    ok = np.nonzero(err <= err[i] * (1 + 1e-9) + 1e-300)[0]
    return int(ranks[ok[0]])


def _as_2d(a: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array: {e}") from e
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (N, k); got {a.shape}")
    return a


def _check_weights(weights: Any, N: int) -> np.ndarray:
    if weights is None:
        if N == 0:
            raise ValueError("no rows to fit")
        return np.full(N, 1.0 / N)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (N,):
        raise ValueError(f"weights must have shape ({N},) (one per row); got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or infinite values")
    if np.any(w < 0):
        i = int(np.argmin(w))
        raise ValueError(f"weights must be nonnegative; weight[{i}] = {w[i]:.3g}")
    s = w.sum()
    if s <= 0:
        raise ValueError("weights sum to zero; at least one row needs positive weight")
    return w / s


def _check_xyw(X: Any, Y: Any, weights: Any, names: tuple[str, str] = ("X", "Y")):
    X = _as_2d(X, names[0])
    Y = _as_2d(Y, names[1])
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError(f"{names[0]} or {names[1]} contains NaN or infinite values")
    return X, Y, _check_weights(weights, X.shape[0])


def _check_activations(acts: Any, what: str) -> dict[str, np.ndarray]:
    if not isinstance(acts, Mapping):
        acts = {"activations": acts}
    if not acts:
        raise ValueError(f"{what}: no activation points given")
    out, N = {}, None
    for n, a in acts.items():
        a = _as_2d(a, f"{what}[{n!r}]")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{what}[{n!r}] contains NaN or infinite values")
        if N is None:
            N = a.shape[0]
        elif a.shape[0] != N:
            raise ValueError(f"{what}[{n!r}] has {a.shape[0]} rows but the first point has {N}; all need one row per input")
        if n == CONCAT:
            raise ValueError(f"{CONCAT!r} is reserved for the concatenated point; rename that activation")
        out[str(n)] = a
    return out


def _unjson(x: Any) -> Any:
    """Inverse of :func:`generators.fileio.to_jsonable` for metric dicts: ``None`` inside numeric lists -> NaN."""
    if isinstance(x, dict):
        return {k: (float("nan") if v is None and k in _NULLABLE_FLOATS else _unjson(v)) for k, v in x.items()}
    if isinstance(x, list):
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
            return [float("nan") if v is None else v for v in x]
        return [_unjson(v) for v in x]
    return x


_NULLABLE_FLOATS = {"r2", "cos_r2", "mse", "rmse", "dist_r2_beliefs", "dist_r2_next", "dist_r2_beliefs_raw",
                    "dist_r2_next_raw"}


def _f(v: Any, width: int, digits: int) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return f"{'-':>{width}}"
    return f"{v:>{width}.{digits}f}"


def _g(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)
