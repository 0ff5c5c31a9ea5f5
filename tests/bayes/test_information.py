"""Information quantities against exhaustive enumeration, REFERENCE.md and closed forms."""

import math

import numpy as np
import pytest

from bayes import (block_entropy, entropy_rate, excess_entropy, mixed_state_presentation, myopic_entropy,
                   statistical_complexity)
from generators import library
from generators.testing import all_words

MESS3_NATS = [1.0986123, 1.0910678, 1.0893915, 1.0890038, 1.0889148, 1.0888943, 1.0888896]


def _block_entropies_by_enumeration(g, L, base=2):
    """H(1..L) from the probabilities of all V^k words (the slow, independent reference)."""
    out = []
    for k in range(1, L + 1):
        words = all_words(g.alphabet_size, k)
        p = np.clip(g.word_probability(words), 0, None)
        assert abs(p.sum() - 1) < 1e-9
        p = p[p > 0]
        out.append(-(p * np.log(p)).sum() / math.log(base))
    return np.array(out)


def test_mess3_myopic_entropy_reference_values_in_nats():
    h = myopic_entropy(library.mess3(x=0.15, a=0.6), 7, base=math.e)
    np.testing.assert_allclose(h, MESS3_NATS, atol=1e-7)


@pytest.mark.parametrize("name", library.names())
def test_myopic_entropy_equals_block_entropy_differences(name):
    g = library.get(name)
    L = 5 if g.alphabet_size <= 3 else 4
    H = _block_entropies_by_enumeration(g, L)
    h = myopic_entropy(g, L)
    np.testing.assert_allclose(h, np.diff(np.concatenate([[0.0], H])), atol=1e-10)
    np.testing.assert_allclose(block_entropy(g, L), H, atol=1e-10)
    assert np.all(np.diff(h) <= 1e-12)  # nonincreasing from the stationary start


def test_units_and_manifold_input():
    g = library.mess3(x=0.15, a=0.6)
    bits = myopic_entropy(g, 4)
    np.testing.assert_allclose(myopic_entropy(g, 4, base=math.e), bits * math.log(2), rtol=1e-14)
    np.testing.assert_allclose(bits[0], math.log2(3), rtol=1e-14)
    m = mixed_state_presentation(g, 5)
    np.testing.assert_allclose(myopic_entropy(m, 6), myopic_entropy(g, 6), rtol=1e-14)
    with pytest.raises(ValueError, match="complete mass to depth 5"):
        myopic_entropy(m, 7)


@pytest.mark.parametrize("name", ["even_process", "golden_mean", "rrxor"])
def test_entropy_rate_two_thirds_bit(name):
    h = entropy_rate(library.get(name))
    assert h.exact and h.stderr == 0
    assert h == pytest.approx(2 / 3, abs=1e-12)
    assert entropy_rate(library.get(name), base=math.e) == pytest.approx(2 / 3 * math.log(2), abs=1e-12)


def test_entropy_rate_zero_one_random():
    assert entropy_rate(library.zero_one_random(0.5)) == pytest.approx(1 / 3, abs=1e-12)


def test_entropy_rate_estimate_for_an_infinite_presentation():
    g = library.mess3(x=0.15, a=0.6)
    h = entropy_rate(g, base=math.e, n_sequences=200, length=400, seed=1)
    assert not h.exact and h.stderr > 0 and "sampled" in h.method
    # myopic entropies decrease geometrically to the rate: h(7) is within ~2e-6 above it
    assert abs(h - (MESS3_NATS[-1] - 1e-6)) < 5 * h.stderr + 3e-6
    again = entropy_rate(g, base=math.e, n_sequences=200, length=400, seed=1)
    assert float(again) == float(h)  # reproducible with a seed


@pytest.mark.parametrize("name, expected", [
    ("golden_mean", math.log2(3) - 4 / 3),   # order-1 Markov: E = H(1) - h
    ("even_process", math.log2(3) - 2 / 3),  # E = C_mu for the even process
    ("zero_one_random", math.log2(3)),       # the phase of the period-3 pattern
])
def test_excess_entropy_closed_forms(name, expected):
    E = excess_entropy(library.get(name))
    assert E.exact and E.bound == 0
    assert E == pytest.approx(expected, abs=1e-10)


def test_excess_entropy_agrees_with_block_entropy_growth():
    g = library.rrxor()
    E = excess_entropy(g)
    H = block_entropy(g, 120)
    assert E.exact
    assert E == pytest.approx(H[-1] - 120 * 2 / 3, abs=1e-9)


def test_excess_entropy_estimate_with_truncation_bound():
    g = library.mess3(x=0.15, a=0.6)
    E = excess_entropy(g, base=math.e, max_beliefs=20_000)
    assert not E.exact and 0 < E.bound < 1e-4
    h = np.array(MESS3_NATS)
    lower = float(np.sum(h[:-1] - h[-1]))  # a rigorous lower bound from h(1..7)
    assert E >= lower
    assert E == pytest.approx(lower, abs=1e-4)


def test_statistical_complexity():
    assert statistical_complexity(library.rrxor()) == pytest.approx(
        (1 / 3) * math.log2(3) + (2 / 3) * math.log2(6), abs=1e-12)
    h23 = -(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3)
    assert statistical_complexity(library.even_process()) == pytest.approx(h23, abs=1e-12)
    assert statistical_complexity(library.zero_one_random()) == pytest.approx(math.log2(3), abs=1e-12)
    with pytest.raises(ValueError, match="not closed"):
        statistical_complexity(library.mess3(), max_beliefs=500)


@pytest.mark.parametrize("base", [1, 0, -2, "bits", float("nan")])
def test_bad_base(base):
    with pytest.raises(ValueError, match="base must be a positive number"):
        myopic_entropy(library.mess3(), 3, base=base)


def test_bad_lengths():
    with pytest.raises(ValueError, match="L must be an integer >= 1"):
        myopic_entropy(library.mess3(), 0)
    with pytest.raises(ValueError, match="burn_in must be smaller"):
        entropy_rate(library.mess3(), max_beliefs=100, length=10, burn_in=10)


def test_products_add_factor_information_and_match_the_joint():
    from generators import library, product

    from bayes import block_entropy, entropy_rate, excess_entropy, myopic_entropy, statistical_complexity

    a, b = library.mess3(0.15, 0.6), library.even_process()
    p = product(a, b)
    joint = product(a, b).to_ghmm()  # the materialized joint process, computed the slow way
    np.testing.assert_allclose(myopic_entropy(p, 5), myopic_entropy(joint, 5), atol=1e-12)
    np.testing.assert_allclose(block_entropy(p, 4), block_entropy(a, 4) + block_entropy(b, 4), atol=1e-12)
    e, c = library.even_process(), library.golden_mean()
    q = product(e, c)
    assert entropy_rate(q).exact and float(entropy_rate(q)) == pytest.approx(4 / 3, abs=1e-12)
    assert float(excess_entropy(q)) == pytest.approx(float(excess_entropy(e)) + float(excess_entropy(c)))
    assert statistical_complexity(q) == pytest.approx(statistical_complexity(e) + statistical_complexity(c))
    hr = entropy_rate(p)
    assert not hr.exact and hr.stderr > 0
