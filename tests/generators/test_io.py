"""Generator files: the shipped examples equal their library twins; bad files fail clearly."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from generators import equivalent, library, noisy, product
from generators.io import GeneratorFileError, load_generator, save_generator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def words(V, L=4):
    return np.array(list(itertools.product(range(V), repeat=L)))


@pytest.mark.parametrize("file,twin", [
    ("mess3.toml", lambda: library.mess3(0.15, 0.6)),
    ("bloch_walk.toml", lambda: library.bloch_walk(1.0, 3.0)),
    ("moon.json", lambda: library.moon()),
    ("custom_generator.py", lambda: product(library.mess3(0.15, 0.6), noisy(library.bloch_walk(1.0, 3.0), 0.1))),
])
def test_examples_match_library(file, twin):
    g, t = load_generator(EXAMPLES / file), twin()
    w = words(g.alphabet_size, 4 if g.alphabet_size <= 4 else 2)
    np.testing.assert_allclose(g.word_probability(w), t.word_probability(w), atol=1e-12)
    assert equivalent(g, t)
    assert g.kind == t.kind


@pytest.mark.parametrize("name", ["mess3", "bloch_walk", "frdn", "random_quantum"])
def test_save_load_round_trip(tmp_path, name):
    g = library.get(name)
    save_generator(g, tmp_path / "g.json")
    h = load_generator(tmp_path / "g.json")
    assert type(h) is type(g) and equivalent(g, h, tol=1e-12)


@pytest.mark.parametrize("text,match", [
    ('kind = "hmm"\nT = [[[0.5, 0.4], [0.5, 0.5]]]\n', "rows of sum_x T"),
    ('kind = "hmm"\n', "missing field `T`"),
    ('kind = "bogus"\n', "kind"),
    ('kind = "quantum"\nkraus = [[[[1, 0], [0, 0.5]]]]\n', "complete instrument"),
    ('kind = "quantum"\nkraus = [[[["x", 0], [0, 1]]]]\n', r"kraus\[0\]\[0\]"),
    ('kind = "ghmm"\nT = [[1, 2]]\n', "3-dimensional"),
    ('kind = "hmm"\nT = [[[1.0, 0', "not valid TOML"),
])
def test_bad_files(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(GeneratorFileError, match=match):
        load_generator(p)


def test_bad_paths(tmp_path):
    with pytest.raises(GeneratorFileError, match="no such file"):
        load_generator(tmp_path / "nope.toml")
    (tmp_path / "g.yaml").write_text("x")
    with pytest.raises(GeneratorFileError, match="unknown file type"):
        load_generator(tmp_path / "g.yaml")
    (tmp_path / "g.py").write_text("generator = 3\n")
    with pytest.raises(GeneratorFileError, match="must define `generator`"):
        load_generator(tmp_path / "g.py")


def test_resolve_specs_files_and_generators():
    from generators.io import resolve

    g = library.mess3()
    assert resolve(g) is g
    assert resolve("mess3:x=0.15,a=0.6").name == "mess3(x=0.15, a=0.6)"
    assert resolve(str(EXAMPLES / "moon.json")).name == "moon from a file"
    assert resolve("mess3*even_process").alphabet_size == 6
    with pytest.raises(GeneratorFileError, match="no such file"):
        resolve("missing.toml")
    with pytest.raises(ValueError, match="spec"):
        resolve(3)
