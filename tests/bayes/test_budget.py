"""Memory guard of the mixed-state presentation and argument validation of its users."""

import math

import numpy as np
import pytest

import bayes._budget as budget
from bayes import (ManifoldTooLargeError, block_entropy, entropy_rate, excess_entropy, mixed_state_presentation,
                   myopic_entropy, statistical_complexity)
from generators import library


def test_documented_default_caps():
    assert budget.DEFAULT_MEMORY_BUDGET == 512 * 2**20
    assert budget.bytes_per_belief(3, 3) == 113 and budget.bytes_per_belief(3, 3, keep_all=True) == 105
    assert budget.default_cap(3, 3) == 4_751_070  # Mess3, merged
    assert budget.default_cap(4, 4) == 3_918_765  # Bloch walk
    assert budget.default_cap(3, 3, keep_all=True) == 5_113_056
    assert budget.format_bytes(1536) == "1.5 KiB" and budget.format_bytes(12) == "12 B"


@pytest.fixture
def small_budget(monkeypatch):
    monkeypatch.setattr(budget, "DEFAULT_MEMORY_BUDGET", 50_000)  # 442 Mess3 beliefs (476 keep_all)


def test_default_cap_refuses_the_level_before_building_it(small_budget):
    with pytest.raises(ManifoldTooLargeError) as err:
        mixed_state_presentation(library.mess3(), 10)
    msg = str(err.value)
    # depth 6 has 729 candidate children, over the 442-belief cap; depth 5 held 364 beliefs
    assert "depth 6 would need up to 1,093 beliefs" in msg and "(~120.6 KiB" in msg
    assert "default cap of 442 beliefs (48.8 KiB" in msg and "complete to depth 5 with 364 beliefs" in msg
    assert "max_beliefs=" in msg and "--max-beliefs" in msg and "\n" not in msg
    assert isinstance(err.value, ValueError)
    # raising the cap explicitly builds it
    assert mixed_state_presentation(library.mess3(), 6, max_beliefs=2000).n_beliefs == 1093


def test_default_cap_keep_all_counts_every_node(small_budget):
    assert mixed_state_presentation(library.mess3(), 5, keep_all=True).n_beliefs == 364
    with pytest.raises(ManifoldTooLargeError, match="depth 6 would need up to 1,093 beliefs.*cap of 476"):
        mixed_state_presentation(library.mess3(), 6, keep_all=True)


def test_explicit_cap_still_stops_at_the_last_complete_depth(small_budget):
    m = mixed_state_presentation(library.mess3(), 10, max_beliefs=1000)
    assert m.stopped == "max_beliefs" and m.max_depth == 5 and m.n_beliefs == 364


def test_closing_presentations_are_not_refused(small_budget):
    m = mixed_state_presentation(library.rrxor(), 40)
    assert m.closed and m.n_beliefs == 36


def test_myopic_entropy_refuses_and_names_the_cap(small_budget):
    with pytest.raises(ManifoldTooLargeError, match=r"^myopic_entropy\(L=30\): .*depth 6 .*max_beliefs="):
        myopic_entropy(library.mess3(), 30)
    with pytest.raises(ManifoldTooLargeError, match=r"block_entropy|myopic_entropy\(L=12\)"):
        block_entropy(library.mess3(), 12)
    with pytest.raises(ManifoldTooLargeError, match=r"passes max_beliefs=100 \(complete to depth 3 with 40 beliefs"):
        myopic_entropy(library.mess3(), 10, max_beliefs=100)
    h = myopic_entropy(library.mess3(), 8, max_beliefs=10_000)
    assert h.shape == (8,) and np.all(np.diff(h) <= 1e-12)


@pytest.mark.slow
def test_default_cap_stops_the_bloch_walk_at_depth_30():
    # the unpatched guard: refused at depth 14 (3.2 million beliefs held) instead of
    # exhausting memory
    with pytest.raises(ManifoldTooLargeError, match="depth 14 .*3,918,765 beliefs"):
        mixed_state_presentation(library.bloch_walk(), 30, progress=False)


@pytest.mark.parametrize("kw, match", [
    (dict(depth=True), "depth must be an integer"),
    (dict(depth=2.5), "depth must be an integer"),
    (dict(depth=np.nan), "depth must be an integer"),
    (dict(depth="3"), "depth must be an integer"),
    (dict(depth=3, tol=np.nan), "tol must be a finite real number > 0"),
    (dict(depth=3, tol=np.inf), "tol must be a finite real number > 0"),
    (dict(depth=3, tol=-1e-9), "tol must be a finite real number > 0"),
    (dict(depth=3, tol=True), "tol must be a finite real number > 0"),
    (dict(depth=3, tol=1e-9 + 0j), "tol must be a finite real number > 0"),
    (dict(depth=3, tol="1e-9"), "tol must be a finite real number > 0"),
    (dict(depth=3, zero_tol=-1e-3), "zero_tol must be a finite real number >= 0"),
    (dict(depth=3, zero_tol=np.nan), "zero_tol must be a finite real number >= 0"),
    (dict(depth=3, max_beliefs=True), "max_beliefs must be an integer >= 1"),
    (dict(depth=3, max_beliefs=10.0), "max_beliefs must be an integer >= 1"),
    (dict(depth=3, max_beliefs=-5), "max_beliefs must be an integer >= 1"),
    (dict(depth=3, initial=[np.nan, 0.5, 0.5]), "initial must be finite"),
    (dict(depth=3, initial=[np.inf, 0.0, 0.0]), "initial must be finite"),
    (dict(depth=3, initial=[0.5j, 0.5, 0.5]), "initial must be real"),
])
def test_bad_arguments_of_the_presentation(kw, match):
    with pytest.raises(ValueError, match=match):
        mixed_state_presentation(library.mess3(), **kw)


def test_complex_density_matrix_is_a_valid_initial_state():
    rho = np.array([[0.5, 0.25j], [-0.25j, 0.5]])
    m = mixed_state_presentation(library.bloch_walk(), 2, initial=rho)
    np.testing.assert_allclose(m.native([0])[0], rho, atol=1e-12)


@pytest.mark.parametrize("fn, kw, match", [
    (myopic_entropy, dict(L=True), "L must be an integer"),
    (myopic_entropy, dict(L=2.5), "L must be an integer"),
    (myopic_entropy, dict(L=0), "L must be an integer >= 1"),
    (myopic_entropy, dict(L=3, base=np.nan), "base must be"),
    (myopic_entropy, dict(L=3, base=-2), "base must be"),
    (myopic_entropy, dict(L=3, tol=np.nan), "tol must be a finite real number > 0"),
    (myopic_entropy, dict(L=3, max_beliefs=0), "max_beliefs must be an integer >= 1"),
    (block_entropy, dict(L=3, max_beliefs=True), "max_beliefs must be an integer >= 1"),
    (entropy_rate, dict(depth=True), "depth must be an integer"),
    (entropy_rate, dict(max_beliefs=1.5), "max_beliefs must be an integer"),
    (entropy_rate, dict(tol=-1.0), "tol must be a finite real number > 0"),
    (entropy_rate, dict(n_sequences=1), "n_sequences must be an integer >= 2"),
    (entropy_rate, dict(length=0), "length must be an integer >= 1"),
    (entropy_rate, dict(burn_in=-1), "burn_in must be an integer >= 0"),
    (entropy_rate, dict(burn_in=2.0), "burn_in must be an integer >= 0"),
    (excess_entropy, dict(max_length=0), "max_length must be an integer >= 1"),
    (excess_entropy, dict(max_beliefs=True), "max_beliefs must be an integer >= 1"),
    (excess_entropy, dict(tol=np.inf), "tol must be a finite real number > 0"),
    (statistical_complexity, dict(depth=2.0), "depth must be an integer"),
    (statistical_complexity, dict(tol=0.0), "tol must be a finite real number > 0"),
])
def test_bad_arguments_of_the_information_quantities(fn, kw, match):
    g = library.mess3()
    args = {"L": kw.pop("L")} if "L" in kw else {}
    with pytest.raises(ValueError, match=match):
        fn(g, **args, **kw)


def test_information_quantities_accept_the_default_guard():
    assert entropy_rate(library.even_process(), max_beliefs=None) == pytest.approx(2 / 3)
    assert statistical_complexity(library.even_process(), max_beliefs=None) == pytest.approx(
        -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3))
