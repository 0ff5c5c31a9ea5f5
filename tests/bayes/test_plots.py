"""Pictures: each style writes a PNG of the expected pixel size; import hygiene."""

import os
import struct
import subprocess
import sys

import pytest

from bayes import mixed_state_presentation, plot_beliefs
from bayes.plots import choose_style
from generators import library
from generators.errors import ArgumentError, NotAGeneratorError
from generators.io import generator_from_dict


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("name, depth, style", [
    ("mess3", 6, "simplex"), ("bloch_walk", 5, "bloch"), ("moon", 20, "projection"), ("frdn", 60, "projection"),
    ("rrxor", 8, "projection"),
])
def test_plot_writes_png_of_expected_size(tmp_path, name, depth, style):
    m = mixed_state_presentation(library.get(name), depth)
    assert choose_style(m) == style
    out = tmp_path / "sub" / f"{name}.png"
    assert plot_beliefs(m, out, figsize=(3, 2.5), dpi=50) == str(out)
    assert out.stat().st_size > 2000
    assert _png_size(out) == (150, 125)
    assert [p.name for p in out.parent.iterdir()] == [f"{name}.png"]  # no temporary left behind


def test_bloch_sphere_with_qutip(tmp_path):
    m = mixed_state_presentation(library.bloch_walk(), 3)
    out = plot_beliefs(m, tmp_path / "sphere.png", style="bloch-sphere", figsize=(3, 3), dpi=40)
    assert _png_size(out) == (120, 120)


def test_plot_from_generator_and_errors(tmp_path):
    out = plot_beliefs(library.even_process(), tmp_path / "even.png", depth=4, figsize=(2, 2), dpi=40)
    assert os.path.getsize(out) > 0
    with pytest.raises(ValueError, match="must end in .png"):
        plot_beliefs(library.even_process(), tmp_path / "even.jpg")
    with pytest.raises(ValueError, match="unknown style"):
        plot_beliefs(library.even_process(), tmp_path / "even.png", style="fancy")
    with pytest.raises(TypeError, match="BeliefManifold or a Generator"):
        plot_beliefs([[1, 0]], tmp_path / "x.png")


def test_import_bayes_is_light():
    code = ("import sys, bayes; heavy = [m for m in ('matplotlib', 'qutip', 'torch', 'sympy') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("g", [
    generator_from_dict({"kind": "hmm", "T": [[[1.0]]]}),
    library.random_hmm(n_states=1),
    library.random_quantum(d=1),
    library.random_hmm(n_states=2),
    library.golden_mean(),
], ids=lambda g: g.name or "one-state")
def test_one_and_two_dimensional_belief_spaces_plot(tmp_path, g):
    # reported: IndexError for the one-state HMM, random_hmm:n_states=1, random_quantum:d=1
    out = plot_beliefs(g, tmp_path / "p.png", depth=3, figsize=(2, 2), dpi=40)
    assert _png_size(out) == (80, 80)
    assert choose_style(mixed_state_presentation(g, 2)) == "projection"


def test_plot_argument_errors(tmp_path):
    g = library.even_process()
    with pytest.raises(NotAGeneratorError, match=r"BeliefManifold or a Generator; got str; build a generator"):
        plot_beliefs("mess3", tmp_path / "x.png")
    with pytest.raises(ArgumentError, match=r"figsize\[0\] must be a finite real number > 0 and <= 100; got -1"):
        plot_beliefs(g, tmp_path / "x.png", figsize=(-1, 2))
    with pytest.raises(ArgumentError, match="figsize must be \\(width, height\\)"):
        plot_beliefs(g, tmp_path / "x.png", figsize=3)
    with pytest.raises(ArgumentError, match=r"dpi must be an integer[^;]*; got 50.0"):
        plot_beliefs(g, tmp_path / "x.png", dpi=50.0)
    with pytest.raises(ArgumentError, match=r"depth must be an integer[^;]*; got 2.5"):
        plot_beliefs(g, tmp_path / "x.png", depth=2.5)
    with pytest.raises(ArgumentError, match="did you mean 'simplex'"):
        plot_beliefs(g, tmp_path / "x.png", style="simplx")
    with pytest.raises(ArgumentError, match="title must be a string or None; got 3"):
        plot_beliefs(g, tmp_path / "x.png", title=3)
    assert not list(tmp_path.iterdir())


def test_plots_never_switch_the_global_backend(tmp_path):
    code = ("import matplotlib; b = matplotlib.get_backend(); import bayes, generators, sys; "
            "bayes.plot_beliefs(generators.library.mess3(), sys.argv[1], depth=2, figsize=(1, 1), dpi=20); "
            "print(b == matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.png")], capture_output=True, text=True,
                         check=True, env={**os.environ, "MPLBACKEND": "svg"})
    assert out.stdout.split() == ["True", "False"]
