"""Generator files: the shipped examples equal their library twins; bad files fail clearly."""

from pathlib import Path

import numpy as np
import pytest

from generators import equivalent, library, noisy, product
from generators.io import GeneratorFileError, load_generator, resolve, save_generator
from generators.testing import all_words

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def words(V, L=4):
    return all_words(V, L)


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


# ---------------------------------------------------------------------- bad files (reliability audit)
@pytest.mark.parametrize("text, match", [
    ('{"kind": "hmm", "T": [[[0.5, 0.5], [0.5, 0.5]]], "inital": [1, 0]}',
     r"unknown key 'inital' in a 'hmm' generator; did you mean 'initial'\? \(valid keys: kind, name, T, initial\)"),
    ('{"kind": "ghmm", "T": [[[1.0]]], "tua": [1.0]}', r"unknown key 'tua'.*did you mean 'tau'"),
    ('{"kind": "hmm", "name": ["a", "b"], "T": [[[1.0]]]}', r"`name` must be a string; got \['a', 'b'\] \(list\)"),
    ('{"kind": "hmm", "T": [[[true, 0], [0, 1]], [[0, 0], [0, 0]]]}', r"`T`\[0\]\[0\]\[0\] is true \(a boolean\)"),
    ('{"kind": "hmm", "T": [[[NaN, 1], [0, 1]]]}', r"`T` must be finite; entry \(0, 0, 0\) is nan"),
    ('{"kind": "hmm", "T": [[[1.0]]], "initial": [NaN]}', r"`initial` must be finite; entry \(0,\) is nan"),
    ('{"kind": "ghmm", "T": [[[1.0]]], "tau": [Infinity]}', r"`tau` must be finite; entry \(0,\) is inf"),
    ('{"kind": "hmm", "T": [[["0.5", "0.5"], ["1", "0"]]]}', r"`T` must be an array of real numbers; got dtype <U3"),
    ('{"kind": "hmm", "T": [[[1.0]]], "T": [[[1.0]]]}', r"key 'T' appears twice"),
    ('{"kind": 3, "T": [[[1.0]]]}', r"`kind` must be one of 'hmm', 'quantum', 'ghmm', 'product'; got 3"),
    ('{"kind": "quantum", "kraus": [[[[1, 0], [0, 1]]]], "initial": [[true, 0], [0, 0]]}',
     r"initial\[0\]\[0\] is true \(a boolean\)"),
    ('{"kind": "quantum", "kraus": [[[[1, 0], [0, 1]]]], "initial": [[0, 0], [0, 0]]}', "initial must have trace 1"),
    ('[1, 2]', "must hold a table with a `kind` field; got list"),
])
def test_bad_json_files_name_the_file_and_the_field(tmp_path, text, match):
    p = tmp_path / "g.json"
    p.write_text(text)
    with pytest.raises(GeneratorFileError, match=match) as e:
        load_generator(p)
    assert str(e.value).startswith(str(p)) and "\n" not in str(e.value)


@pytest.mark.parametrize("data", [b"\xed\xa0\x80\x00\xff", "kind = 'hmm'\n".encode("utf-16")])
def test_binary_and_utf16_files(tmp_path, data):
    p = tmp_path / "g.toml"
    p.write_bytes(data)
    with pytest.raises(GeneratorFileError, match=r"g.toml: not UTF-8 text \(byte 0 is 0x(ed|ff)\); a generator file "
                                                 r"must be UTF-8 TOML"):
        load_generator(p)


def test_python_generator_files_cannot_exit_the_program(tmp_path):
    for code, shown in (("0", "0"), ("3", "3"), ("'bye'", "'bye'")):
        p = tmp_path / "gen_exit.py"
        p.write_text(f"import sys\nsys.exit({code})\n")
        with pytest.raises(GeneratorFileError, match=rf"gen_exit.py: running the file called sys.exit\({shown}\)"):
            load_generator(p)
    p = tmp_path / "gen_raise.py"
    p.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(GeneratorFileError, match="gen_raise.py: running the file failed: RuntimeError: boom"):
        resolve(str(p))
    p = tmp_path / "gen_interrupt.py"
    p.write_text("raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C still interrupts
        load_generator(p)


def test_folders_and_non_paths(tmp_path):
    d = tmp_path / "dir.json"
    d.mkdir()
    with pytest.raises(GeneratorFileError, match="dir.json: is a folder"):
        load_generator(d)
    with pytest.raises(ValueError, match="path must be a str or pathlib.Path; got int"):
        load_generator(3)


def test_save_generator_is_atomic_and_json_only(tmp_path):
    g = library.bloch_walk()
    p = tmp_path / "g.json"
    p.write_text("old")
    save_generator(g, p)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["g.json"]  # no temporary left
    assert equivalent(load_generator(p), g, tol=1e-13)
    with pytest.raises(ValueError, match=r"the path must end in .json; got .*g.toml"):
        save_generator(g, tmp_path / "g.toml")
    with pytest.raises(ValueError, match="g must be a generators.Generator"):
        save_generator("mess3", p)
    assert equivalent(load_generator(p), g, tol=1e-13)  # untouched by the refused writes
