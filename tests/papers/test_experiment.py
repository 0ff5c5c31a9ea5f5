"""The experiment framework: runs, staged resume, pooling over seeds, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papers.experiment import Experiment, Mode, Run, flatten_metrics

TRAIN = dict(process="mess3", model="transformer", n_layers=1, d_model=8, d_mlp=16, n_heads=1, context=4,
             batch_size=8, steps=3, num_threads=1)


class Toy(Experiment):
    name = "toy"
    title = "A toy experiment"
    modes = {"tiny": Mode("tiny", seeds=(0, 1, 2), train=TRAIN)}

    def __init__(self):
        self.analyzed = []

    def runs(self, mode):
        out = [Run(f"a-s{s}", "a", s, dict(mode.train), {"offset": 1.0}) for s in mode.seeds]
        out += [Run(f"b-s{s}", "b", s, None, {"offset": 2.0}) for s in mode.seeds]
        return out

    def analyze(self, run, ctx):
        self.analyzed.append(run.key)
        m = {"value": run.params["offset"] + run.seed, "nested": {"x": 10.0 * run.seed}, "flag": True}
        if ctx.trained is not None:
            m["steps"] = ctx.trained.steps_done
        return m

    def report(self, results, rep):
        rep.section("Values")
        rep.comparison([("value", 2.0, results.interval("a", "value"), {"b": results.interval("b", "value")},
                         "ok")])


def test_pooling_resume_and_report(tmp_path):
    exp = Toy()
    res = exp.execute("tiny", tmp_path, quiet=True)
    iv = res.interval("a", "value")
    assert iv.mean == pytest.approx(2.0) and iv.n == 3 and iv.lo < 2.0 < iv.hi
    assert res.interval("b", "nested.x").mean == pytest.approx(10.0)
    assert res.values("a", "steps").tolist() == [3.0, 3.0, 3.0]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["pooled"]["a"]["value"]["mean"] == pytest.approx(2.0)
    assert "flag" not in data["pooled"]["a"]  # booleans are not pooled
    md = (tmp_path / "RESULTS.md").read_text()
    assert "| value | 2.000 | 2.000 [" in md and "qbelief paper toy --tiny" in md
    assert sorted(exp.analyzed) == ["a-s0", "a-s1", "a-s2", "b-s0", "b-s1", "b-s2"]
    exp.analyzed.clear()
    again = exp.execute("tiny", tmp_path, quiet=True)  # every stage is done: nothing is redone
    assert exp.analyzed == []
    # ... and the time reported is what the stages cost when they ran, not the reading
    stage_s = {k: json.loads((tmp_path / "stages" / f"{k}.json").read_text())["seconds"] for k in
               ("a-s0", "a-s1", "a-s2", "b-s0", "b-s1", "b-s2")}
    assert again.seconds["a"] == pytest.approx(sum(v for k, v in stage_s.items() if k.startswith("a")))
    assert again.seconds["total"] >= sum(stage_s.values()) > 0
    assert again.seconds["a"] == pytest.approx(res.seconds["a"], rel=1e-9)
    (tmp_path / "stages" / "a-s1.json").write_text("{broken")  # a damaged stage is redone
    exp.execute("tiny", tmp_path, quiet=True)
    assert exp.analyzed == ["a-s1"]
    exp.analyzed.clear()
    exp.execute("tiny", tmp_path, quiet=True, fresh=True, seeds=2)
    assert sorted(exp.analyzed) == ["a-s0", "a-s1", "b-s0", "b-s1"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="no mode 'huge'"):
        Toy().execute("huge", tmp_path)
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        Toy().execute("tiny", tmp_path, seeds=0)

    class Dup(Toy):
        def runs(self, mode):
            return [Run("same", "g", 0), Run("same", "g", 1)]

    with pytest.raises(ValueError, match="share the key 'same'"):
        Dup().execute("tiny", tmp_path)


def test_flatten_metrics():
    assert flatten_metrics({"a": {"b": 1, "c": [1, 2], "d": "x", "e": False}, "f": np.float32(2)}) == \
        {"a.b": 1.0, "f": 2.0}
