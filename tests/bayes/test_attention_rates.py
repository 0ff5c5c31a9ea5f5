"""bayes.attention_decay_rates: eigenvalues attention must track, parity splits, and the
effective decay of the best attention-like linear filter (known answers, sampled check,
an independent regression on sampled beliefs)."""

import doctest

import numpy as np
import pytest

from bayes import AttentionRates, attention_decay_rates
from bayes import attention_rates as module
from generators import library, minimize, product


# reference values of an independent audit (abs 0.01), and this module's exact values
@pytest.mark.parametrize("g,lam,reference,exact", [
    (library.mess_n(2, 0.7, 0.85), 0.7, 0.41, 0.414184),
    (library.mess_n(2, -0.7, 0.85), -0.7, -0.41, -0.414184),
    (library.mess3(0.15, 0.2), 0.55, 0.53, 0.528355),
    (library.mess3(0.15, 0.6), 0.55, 0.47, 0.466606),
])
def test_known_answers(g, lam, reference, exact):
    r = attention_decay_rates(g)
    assert isinstance(r, AttentionRates) and r.method == "exact"
    assert len(r.eigenvalues) == 1 and r.eigenvalues[0] == pytest.approx(lam, abs=1e-12)
    assert r.weak_emission_rates == r.eigenvalues
    rate = r.effective_rates[0]
    assert rate.imag == 0 and rate.real == pytest.approx(reference, abs=0.01)
    assert rate.real == pytest.approx(exact, abs=1e-6)
    # the attention-like fit and the optimal (Kalman) predictor agree on Mess-type processes
    np.testing.assert_allclose(np.real(r.filter_eigenvalues), exact, atol=1e-6)
    assert r.parity_split == (lam < 0,) and r.signs == ((1,) if lam > 0 else (-1,))


def test_mess3_eigenvalues_repeated():
    for x in (0.05, 0.15, 0.3):
        r = attention_decay_rates(library.mess3(x, 0.85))
        assert r.eigenvalues == (pytest.approx(1 - 3 * x, abs=1e-12),) and r.multiplicities == (2,)
    r = attention_decay_rates(library.mess3(0.5, 0.6))  # lambda = -0.5: Piotrowski's parity split
    assert r.eigenvalues[0].real == pytest.approx(-0.5) and r.multiplicities == (2,) and r.parity_split == (True,)


def test_weak_emission_limit_and_monotone_in_emission_strength():
    rates = [attention_decay_rates(library.mess_n(2, 0.7, a)).effective_rates[0].real for a in
             (0.51, 0.6, 0.75, 0.85, 0.95)]
    assert rates[0] == pytest.approx(0.7, abs=1e-3)
    assert all(b < a for a, b in zip(rates, rates[1:]))
    # closed form for the binary symmetric case: steady Kalman gain of s' = lam s + w, y = c s + v
    lam, c = 0.7, 2 * 0.85 - 1
    P = 1.0
    for _ in range(200):
        P = lam**2 * (P - P**2 * c**2 / (c**2 * P + 1 - c**2)) + 1 - lam**2
    assert rates[3] == pytest.approx(lam * (1 - c**2 * P / (c**2 * P + 1 - c**2)), abs=1e-10)


@pytest.mark.parametrize("alpha,beta", [(1.0, 51**0.5), (1.0, 4.3), (2.0, 3.0)])
def test_bloch_walk_closed_form(alpha, beta):
    """Minimal form G0..G3: sum = diag(1, 1/2 + 2m, 1/2 + 2m) with m = (a^2 - b^2) g^2,
    g^2 = 1 / (4 (a^2 + b^2)): the repeated eigenvalue a^2 / (a^2 + b^2)."""
    r = attention_decay_rates(library.bloch_walk(alpha, beta))
    assert r.eigenvalues == (pytest.approx(alpha**2 / (alpha**2 + beta**2), abs=1e-12),)
    assert r.multiplicities == (2,) and r.parity_split == (False,)


def test_products_report_factors_and_their_products():
    f1, f2 = library.mess_n(2, 0.7, 0.85), library.mess_n(2, 0.3, 0.85)
    r = attention_decay_rates(product(f1, f2))
    np.testing.assert_allclose(np.real(r.eigenvalues), [0.7, 0.3, 0.21], atol=1e-12)
    own = [attention_decay_rates(f).effective_rates[0] for f in (f1, f2)]
    np.testing.assert_allclose(np.real(r.effective_rates[:2]), np.real(own), atol=1e-8)
    r = attention_decay_rates(product(f1, library.mess_n(2, -0.7, 0.85)))
    by_eig = dict(zip(np.round(np.real(r.eigenvalues), 6), r.parity_split))
    assert by_eig == {0.7: False, -0.7: True, -0.49: True}


def test_complex_pairs_and_zero_eigenvalues():
    r = attention_decay_rates(library.moon())
    assert len(r.eigenvalues) == 1 and r.eigenvalues[0].imag > 0 and r.signs == (0,)
    assert r.parity_split == (False,) and r.multiplicities == (1,)
    ev = np.linalg.eigvals(minimize(library.moon()).operators.sum(axis=0))
    assert min(abs(ev - r.eigenvalues[0])) < 1e-10
    r = attention_decay_rates(library.rrxor())  # period 3 (cube roots of unity) and a nilpotent part
    assert r.eigenvalues[0] == pytest.approx(np.exp(2j * np.pi / 3), abs=1e-9)
    assert r.eigenvalues[1] == 0 and r.multiplicities[1] == 2 and r.signs == (0, 0)
    r = attention_decay_rates(library.random_hmm(1, 3))  # i.i.d.: nothing to track
    assert r.eigenvalues == () and "i.i.d." in r.summary()


@pytest.mark.parametrize("g", [library.mess_n(2, 0.7, 0.85), library.mess3(0.15, 0.6),
                               product(library.mess_n(2, -0.7, 0.85), library.mess_n(2, 0.3, 0.85))])
def test_sampled_estimate_agrees_with_exact(g):
    exact = attention_decay_rates(g)
    sampled = attention_decay_rates(g, method="sampled", n_sequences=1000, length=400, seed=2)
    assert sampled.method.startswith("sampled") and sampled.eigenvalues == exact.eigenvalues
    np.testing.assert_allclose(np.real(sampled.effective_rates), np.real(exact.effective_rates), atol=0.01)


def test_unconstrained_regression_on_sampled_beliefs_decays_at_the_effective_rate():
    """Slow definition: regress the belief's mode coordinate on lagged one-hot tokens
    (least squares over sampled positions); the lag weights decay at the effective rate."""
    g = library.mess_n(2, 0.7, 0.85)
    h = minimize(g)
    words, beliefs = h.sample(400, 300, seed=5, return_beliefs=True)
    Y = module._modes(h.operators.sum(axis=0), 1e-6)[0][0][2]
    D = 10
    y = (beliefs[:, D:] @ Y)[:, :, 0].ravel()  # belief after position d, for d >= D - 1
    X = np.stack([words[:, D - 1 - k: words.shape[1] - k] == 0 for k in range(D)], axis=-1).reshape(-1, D)
    coef = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0][:D]
    ratio = coef[1:5] @ coef[:4] / (coef[:4] @ coef[:4])
    assert ratio == pytest.approx(attention_decay_rates(g).effective_rates[0].real, abs=0.02)


def test_window_and_bad_arguments():
    r = attention_decay_rates(library.mess_n(2, 0.7, 0.85), window=30)
    assert r.window == 30 and r.effective_rates[0].real == pytest.approx(0.414184, abs=1e-6)
    assert attention_decay_rates(library.mess3()).window == 100  # 0.85^D <= 1e-8 needs 114: capped
    for kw in (dict(window=2), dict(window=True), dict(tol=0), dict(tol=True), dict(method="fast")):
        with pytest.raises(ValueError):
            attention_decay_rates(library.mess3(), **kw)
    with pytest.raises(TypeError):
        attention_decay_rates("mess3")


def test_summary_and_doctest():
    text = attention_decay_rates(library.mess_n(2, -0.7, 0.85)).summary()
    assert "-0.7" in text and "-0.41418" in text and "yes" in text
    assert doctest.testmod(module, raise_on_error=False).failed == 0
