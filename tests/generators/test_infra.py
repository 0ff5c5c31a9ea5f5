"""The shared infrastructure: atomic files, JSON conversion, word enumeration, argument checks."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generators import library
from generators.errors import ArgumentError, TooManyWordsError
from generators.fileio import atomic_path, remove_stale_temporaries, to_jsonable, write_json, write_text
from generators.validation import (
    check_choice,
    check_int,
    check_real,
    check_real_array,
    check_seed,
    check_weights,
)
from generators.words import all_words, allowed_words, word_codes, words_upto


# ---------------------------------------------------------------------- files
def test_write_text_replaces_atomically_with_umask_permissions(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    write_text(p, "one")
    write_text(p, "two")
    assert p.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    assert [q.name for q in p.parent.iterdir()] == ["a.txt"]


def test_atomic_path_keeps_old_file_on_error_and_removes_temporary(tmp_path):
    p = tmp_path / "f.npz"
    write_text(p, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            assert tmp.endswith(".npz") and os.path.dirname(tmp) == str(tmp_path)
            open(tmp, "w").write("half")
            raise RuntimeError("killed")
    assert p.read_text() == "old"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["f.npz"]


def test_atomic_path_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError):
        with atomic_path(tmp_path):
            pass


def test_remove_stale_temporaries(tmp_path):
    p = tmp_path / "checkpoint.pt"
    (tmp_path / ".checkpoint.pt.abc123.tmp.pt").write_text("x")
    (tmp_path / ".other.pt.abc.tmp.pt").write_text("x")
    removed = remove_stale_temporaries(p)
    assert [r.name for r in removed] == [".checkpoint.pt.abc123.tmp.pt"]
    assert (tmp_path / ".other.pt.abc.tmp.pt").exists()


def test_to_jsonable_converts_numpy_complex_nonfinite():
    d = {1: np.float32(0.5), "a": np.arange(3), "c": 1 + 2j, "n": float("nan"), "t": (np.int8(1), np.bool_(True)),
         "i": np.inf}
    assert to_jsonable(d) == {"1": 0.5, "a": [0, 1, 2], "c": [1.0, 2.0], "n": None, "t": [1, True], "i": None}
    with pytest.raises(TypeError, match="object"):
        to_jsonable(object())
    assert to_jsonable(object(), default=lambda o: "obj") == "obj"


def test_write_json_round_trip(tmp_path):
    p = write_json(tmp_path / "r.json", {"x": np.array([[1.5, np.nan]])})
    assert json.loads(p.read_text()) == {"x": [[1.5, None]]}


# ---------------------------------------------------------------------- words
@given(V=st.integers(1, 4), L=st.integers(0, 4))
def test_all_words_is_lexicographic_mixed_radix(V, L):
    w = all_words(V, L)
    assert w.shape == (V**L, L)
    assert np.array_equal(word_codes(w, V), np.arange(V**L))


def test_words_upto_lists_every_length():
    w, lengths = words_upto(2, 2)
    assert lengths.tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert w.tolist() == [[-1, -1], [0, -1], [1, -1], [0, 0], [0, 1], [1, 0], [1, 1]]


def test_word_enumeration_budget():
    with pytest.raises(TooManyWordsError, match="max_words"):
        all_words(3, 10, max_words=1000)
    with pytest.raises(ArgumentError, match="L must be an integer"):
        all_words(3, 2.0)


def test_allowed_words_match_exact_probabilities():
    g = library.rrxor()
    w, p = allowed_words(g, 6)
    full = all_words(2, 6)
    pf = g.word_probability(full)
    assert np.array_equal(w, full[pf > 1e-12])
    np.testing.assert_allclose(p, pf[pf > 1e-12] / pf[pf > 1e-12].sum(), atol=1e-15)
    assert w.shape[0] < 64  # RRXOR forbids words: the enumeration pruned them


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", [True, 3.0, 1.5, "3", None, np.float64(2)])
def test_check_int_rejects_non_integers(bad):
    with pytest.raises(ArgumentError, match="n must be an integer"):
        check_int(bad, "n")


def test_check_int_range():
    assert check_int(np.int64(4), "n", minimum=0, maximum=4) == 4
    with pytest.raises(ArgumentError, match=">= 1; got 0"):
        check_int(0, "n", minimum=1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1j, True, "0.5", None])
def test_check_real_rejects(bad):
    with pytest.raises(ArgumentError, match="x must be"):
        check_real(bad, "x")


def test_check_real_bounds():
    assert check_real(0.5, "x", minimum=0, maximum=1) == 0.5
    with pytest.raises(ArgumentError, match="x must be a finite real number > 0; got 0"):
        check_real(0.0, "x", minimum=0, min_open=True)


def test_check_choice_suggests():
    with pytest.raises(ArgumentError, match="did you mean 'exact'"):
        check_choice("exakt", "targets", ("sampled", "exact"))


def test_check_real_array():
    assert check_real_array([1, 2], "a").dtype == np.float64
    assert check_real_array(np.array([1 + 0j]), "a").tolist() == [1.0]
    with pytest.raises(ArgumentError, match=r"entry \(1,\) is \(1\+1j\)"):
        check_real_array([1, 1 + 1j], "a")
    with pytest.raises(ArgumentError, match=r"a must be finite; entry \(0, 1\) is nan"):
        check_real_array([[0, np.nan]], "a")
    with pytest.raises(ArgumentError, match="shape"):
        check_real_array([[1, 2]], "a", shape=(None, 3))
    with pytest.raises(ArgumentError, match="dtype bool"):
        check_real_array([True], "a")
    with pytest.raises(ArgumentError, match="ragged"):
        check_real_array([[1], [1, 2]], "a")


def test_check_weights_and_seed():
    np.testing.assert_allclose(check_weights(None, 4), 0.25)
    with pytest.raises(ArgumentError, match="nonnegative"):
        check_weights([1, -1], 2)
    with pytest.raises(ArgumentError, match="positive sum"):
        check_weights([0, 0], 2)
    with pytest.raises(ArgumentError, match="seed must be an integer >= 0"):
        check_seed(-1)
    rng = np.random.default_rng(0)
    assert check_seed(rng) is rng
