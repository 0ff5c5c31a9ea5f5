"""The prediction, made from the process: which attention heads a product of Mess-type
processes needs, how heads are matched to them, and what each sub-test is worth.

Predicted head types (:func:`predicted_types`)
----------------------------------------------
Each factor mode (an eigenvalue ``lambda`` of ``sum_x T[x]`` of one factor, from
:func:`bayes.attention_decay_rates`) needs attention decaying at its rate: a positive
``lambda`` one head type ``(r, "all")``; a negative one two, ``(|r|, "even")`` and
``(|r|, "odd")`` (attention weights are nonnegative, so the sign alternation is split
between heads).  Types of equal ``|r|`` share a head: two ``"all"`` types merge, and an
``"even"`` type merges into an ``"all"`` type of the same rate (both weight the even
distances positively).  The predicted head count is the number of merged types.  With
``r = lambda`` this gives the pre-registered prediction: (.7,.7) one head; (.7,.3) two;
(.7,-.3) three; (.7,-.7) two, one shared by the 0.7 factor and the even distances of the
-0.7 factor.  Each type carries both rates: ``lambda`` (the weak-emission limit, as
pre-registered) and the effective rate at the factor's emission strength.

What a sub-test is worth (:func:`type_signal`, :func:`count_signal`)
--------------------------------------------------------------------
A type serving a factor on all distances is worth that factor's loss from lags >= 2; an
even or odd type is worth the factor's loss from lags >= 3 (one head with a signed value
serves distance 1 alone; the split is needed once distances 1 and 2 both matter).  Dropping
one head from the predicted count costs at most the cheapest type (the net drops that one);
for a one-head prediction, the alternative -- one head per factor -- is worth the cheapest
served factor's share.  These are upper bounds on the loss each sub-test can move.

Matching heads to types (:func:`match_heads`)
---------------------------------------------
A decaying head (neither "self" nor "flat") belongs to the type of its parity whose *midpoint*
of ``lambda`` and the effective rate is nearest its rate (the midpoint favours neither reading
of the prediction); each type takes the nearest of the unmatched heads that belong to it.  A
type no head belongs to is *not found* (e.g. no head near 0.3 when every head decays at 0.6);
further heads of a found type are redundant copies, left unmatched.
"""

from __future__ import annotations

__all__ = ["predicted_types", "type_signal", "count_signal", "match_heads", "count_verdict"]

_TOL = 1e-6


def predicted_types(factors: list[dict]) -> list[dict]:
    """Merged head types from per-factor modes.

    ``factors``: one dict per factor with ``modes`` -- a list of ``{"lambda", "effective",
    "parity_split"}`` -- and ``signal_lag2``, ``signal_lag3`` (nats).  Returns a list of
    ``{"lambda": |lambda|, "effective": |r|, "parity": "all"|"even"|"odd", "serves":
    [(factor index, "all"|"even"|"odd"), ...], "signal": nats}``.

    >>> f = lambda lam, eff: {"modes": [{"lambda": lam, "effective": eff, "parity_split": lam < 0}],
    ...                       "signal_lag2": 1.0, "signal_lag3": 0.1}
    >>> [(t["parity"], t["serves"]) for t in predicted_types([f(0.7, 0.6), f(-0.7, -0.6)])]
    [('all', [(0, 'all'), (1, 'even')]), ('odd', [(1, 'odd')])]
    >>> len(predicted_types([f(0.7, 0.6), f(0.7, 0.6)])), len(predicted_types([f(0.7, 0.6), f(-0.3, -0.25)]))
    (1, 3)
    """
    raw = []
    for i, f in enumerate(factors):
        for m in f["modes"]:
            lam, eff = abs(float(m["lambda"])), abs(float(m["effective"]))
            for parity in (("even", "odd") if m["parity_split"] else ("all",)):
                raw.append({"lambda": lam, "effective": eff, "parity": parity, "serves": [(i, parity)]})
    types: list[dict] = []
    for t in sorted(raw, key=lambda t: t["parity"] != "all"):  # "all" types first: even ones merge into them
        same = [u for u in types if abs(u["effective"] - t["effective"]) <= _TOL and abs(u["lambda"] - t["lambda"])
                <= _TOL and (u["parity"] == t["parity"] or (u["parity"] == "all" and t["parity"] == "even"))]
        if same:
            same[0]["serves"] = same[0]["serves"] + t["serves"]
        else:
            types.append(dict(t))
    for t in types:
        t["signal"] = type_signal(t, factors)
    return types


def type_signal(t: dict, factors: list[dict]) -> float:
    """The loss a type's head is worth at most: the sum over what it serves of the factor's
    lags >= 2 loss (all distances) or lags >= 3 loss (one parity)."""
    return float(sum(factors[i]["signal_lag2" if role == "all" else "signal_lag3"] for i, role in t["serves"]))


def count_signal(types: list[dict], factors: list[dict]) -> float:
    """The most the head-count sub-test can move the loss (module docstring): the cheapest
    type for a prediction of two or more heads; for one head, the cheapest share one
    served factor has in it."""
    if len(types) >= 2:
        return min(t["signal"] for t in types)
    (t,) = types
    return min(float(factors[i]["signal_lag2" if role == "all" else "signal_lag3"]) for i, role in t["serves"])


def match_heads(heads: list[dict], types: list[dict]) -> list[int | None]:
    """For each type, the index of the head matched to it (None when no decaying head belongs
    to it; module docstring).  ``heads``: dicts with ``rate``, ``parity`` and ``kind``
    (:func:`papers.piotrowski2025_attention.measure.head_rates`).

    >>> heads = [{"rate": 0.62, "parity": "all", "kind": "decay"}, {"rate": 0.27, "parity": "all", "kind": "decay"},
    ...          {"rate": 0.97, "parity": "all", "kind": "flat"}]
    >>> types = [{"lambda": 0.7, "effective": 0.6, "parity": "all"},
    ...          {"lambda": 0.3, "effective": 0.25, "parity": "all"},
    ...          {"lambda": 0.3, "effective": 0.25, "parity": "odd"}]
    >>> match_heads(heads, types)
    [0, 1, None]
    >>> match_heads(heads[:1] * 2, types)  # both heads belong to the 0.7 type: the 0.3 type is not found
    [0, None, None]
    """
    mid = [(t["lambda"] + t["effective"]) / 2 for t in types]
    owner: dict[int, list[int]] = {k: [] for k in range(len(types))}
    for i, h in enumerate(heads):
        same = [k for k, t in enumerate(types) if t["parity"] == h["parity"]]
        if h["kind"] == "decay" and same:
            owner[min(same, key=lambda k: (abs(h["rate"] - mid[k]), k))].append(i)
    return [min(owner[k], key=lambda i: (abs(heads[i]["rate"] - mid[k]), i)) if owner[k] else None
            for k in range(len(types))]


def count_verdict(intervals: dict, predicted: int) -> dict:
    """Is ``predicted`` the number of heads the loss needs?  ``intervals`` maps a head count
    to the :class:`nets.stats.Interval` of the excess loss over seeds.  ``enough``: no
    larger count has a loss interval entirely below the predicted count's; ``needed``
    (``predicted >= 2``, when ``predicted - 1`` was trained): the interval one head short
    lies entirely above.  ``held`` is their conjunction (``enough`` alone for one head);
    None where a needed count was not trained."""
    if predicted not in intervals:
        return {"enough": None, "needed": None, "held": None}
    p = intervals[predicted]
    more = [intervals[h] for h in intervals if h > predicted]
    enough = (not any(p.lo > m.hi for m in more)) if more else None
    needed = (intervals[predicted - 1].lo > p.hi) if (predicted - 1) in intervals else None
    parts = [enough] + ([needed] if predicted >= 2 else [])
    held = None if any(x is None for x in parts) else all(parts)
    return {"enough": enough, "needed": needed, "held": held}
