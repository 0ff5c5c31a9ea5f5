"""The README's "Probe your own model" snippets run as written (the TransformerLens one
when TransformerLens is installed), and so does its command line; so do the snippets and
commands of "Beyond the papers" (the discover_geometry one once nets.discovery exists;
the `qbelief represented` one, which trains a run, is marked slow)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(lang: str) -> list[str]:
    text = README.read_text()
    section = text.split("## Probe your own model", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def test_the_section_has_three_routes_and_a_command():
    py = _blocks("python")
    assert len(py) == 3 and "transformer_lens" in py[0] and "ModuleSource" in py[1] and "from_sequences" in py[2]
    assert _blocks("sh")[0].startswith("qbelief probe --activations")


@pytest.mark.parametrize("i", [0, 1, 2])
def test_snippet_runs(i, tmp_path, monkeypatch, capsys):
    code = _blocks("python")[i]
    if "transformer_lens" in code:
        pytest.importorskip("transformer_lens")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md[probe snippet {i}]", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "verdict" in out if i < 2 else out.strip() == "not"
    if i == 2:  # the command line that follows it
        from nets.cli import main

        args = shlex.split(_blocks("sh")[0].split("#")[0])
        assert args[0] == "qbelief" and main(args[1:]) == 0
        assert (tmp_path / "probe-out" / "probe.json").is_file()


# ---------------------------------------------------------------------- "Beyond the papers" (issue 13)
BEYOND = {"represented": "### What is represented beyond the next token",
          "learn": "### Learning a generator from sequences",
          "discover": "### Discovering the geometry without the generator",
          "attention": "### The decay rates attention must track"}


def _beyond(name: str, lang: str) -> list[str]:
    section = README.read_text().split("## Beyond the papers", 1)[1].split("\n## ", 1)[0]
    sub = section.split(BEYOND[name], 1)[1].split("\n### ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", sub, flags=re.S)


def _run_python(name: str, capsys) -> list[str]:
    code = _beyond(name, "python")[0]
    exec(compile(code, f"README.md[{name} snippet]", "exec"), {"__name__": "__readme__"})
    return capsys.readouterr().out.splitlines()


def _run_sh(name: str, capsys) -> list[str]:
    from nets.cli import main

    outs = []
    for line in _beyond(name, "sh")[0].strip().splitlines():
        args = shlex.split(line.split("#")[0])
        assert args[0] == "qbelief" and main(args[1:]) == 0, line
        outs.append(capsys.readouterr().out)
    return outs


def test_beyond_the_papers_has_a_snippet_per_capability():
    wanted = {"represented": "what_is_represented", "learn": "learn_ghmm", "discover": "discover_geometry",
              "attention": "attention_decay_rates"}
    for name, function in wanted.items():
        py = _beyond(name, "python")
        assert len(py) == 1 and function in py[0], name
    assert _beyond("represented", "sh")[0].splitlines()[1].startswith("qbelief represented runs/rrxor")
    assert _beyond("learn", "sh")[0].startswith("qbelief learn mess3.npy --out learned.json")


def test_what_is_represented_snippet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _run_python("represented", capsys)
    assert out[:2] == ["4", "0.74"]
    assert out[2].startswith("represents the belief beyond the next token: 100% of the residual predicted")
    assert out[3].startswith("does not represent the belief beyond the next token")
    import json

    d = json.loads((tmp_path / "represented-out" / "represented.json").read_text())
    assert d["horizon"] == 4 and d["verdicts"]["layer_a"] == out[2]


@pytest.mark.slow
def test_represented_command_snippet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    outs = _run_sh("represented", capsys)
    assert "horizon 4" in outs[1] and (tmp_path / "runs" / "rrxor" / "represented.md").is_file()


def test_learn_snippet_and_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _run_python("learn", capsys)
    assert out[0] == "3" and out[1].startswith("learned GHMM of dimension 3")
    learn, info = _run_sh("learn", capsys)
    assert "learned GHMM of dimension 3" in learn
    assert any(ln.split()[:2] == ["minimal", "dimension"] and ln.split()[-1] == "3" for ln in info.splitlines())


def test_discover_geometry_snippet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _run_python("discover", capsys)
    assert out[0] == "3"


def test_attention_decay_rates_snippet(capsys):
    out = _run_python("attention", capsys)
    assert out[:2] == ["0.55", "0.4666"] and "effective rate" in out[3]


# ---------------------------------------------------------------------- sweeps (issue 12)
def test_sweep_section_snippet_runs(tmp_path, monkeypatch, capsys):
    section = README.read_text().split("## Sweeps and geometry over training", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md[sweep snippet]", "exec"), {"__name__": "__readme__"})
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["gru", "transformer"]
    assert [ln.split()[-1] for ln in lines] == ["3", "3"]  # steps 0, 10, 20 probed by both seeds
    assert (tmp_path / "sweep-out" / "RESULTS.md").is_file()
    sh = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[0].splitlines()
    assert sh[0].split("#")[0].split() == ["qbelief", "sweep", "examples/sweep.toml", "--workers", "2"]
    from nets.cli import main

    args = shlex.split(sh[1].split("#")[0])  # the train command, shortened to seconds
    args[args.index("--steps") + 1] = "4"
    args[args.index("--log-every") + 1] = args[args.index("--probe-every") + 1] = "2"
    assert main(args[1:] + ["--context", "4", "--batch-size", "8"]) == 0
    assert [json.loads(ln)["step"] for ln in (tmp_path / "runs/m/probes.jsonl").read_text().splitlines()] == [0, 2, 4]
