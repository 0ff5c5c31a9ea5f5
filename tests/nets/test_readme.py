"""The README's "Probe your own model" snippets run as written (the TransformerLens one
when TransformerLens is installed), and so does its command line."""

from __future__ import annotations

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
