"""Exact merging of beliefs: the fast projection index against slow O(N^2) definitions."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bayes import mixed_state_presentation
from bayes._merge import BeliefIndex, leaders, window_pairs
from generators import HMM, library


# ---------------------------------------------------------------------- slow definitions
def reference_msp(g, depth, tol, zero_tol=1e-13):
    """Breadth-first MSP with first-come merging by a linear scan over all known beliefs."""
    h = g.to_ghmm()
    T, tau = h.operators, h.tau
    sv = T @ tau
    V = T.shape[0]
    eta0 = h.initial / (h.initial @ tau)
    radius = tol * max(1.0, np.abs(eta0).max())
    beliefs, next_state, next_prob = [eta0], {}, {}
    frontier, closed = [0], False
    masses = [{0: 1.0}]
    for _ in range(depth):
        new_frontier = []
        for i in frontier:
            row_s, row_p = [-1] * V, [0.0] * V
            for x in range(V):
                p = beliefs[i] @ sv[x]
                if p <= zero_tol:
                    continue
                c = (beliefs[i] @ T[x]) / p
                hit = np.flatnonzero(np.abs(np.array(beliefs) - c).max(axis=1) <= radius)
                if hit.size:
                    j = int(hit[0])
                else:
                    j = len(beliefs)
                    beliefs.append(c)
                    new_frontier.append(j)
                row_s[x], row_p[x] = j, p
            next_state[i], next_prob[i] = row_s, row_p
        if frontier and not new_frontier:
            closed = True
        frontier = new_frontier
        mass = {}
        for i, w in masses[-1].items():
            for x in range(V):
                if next_state[i][x] >= 0:
                    mass[next_state[i][x]] = mass.get(next_state[i][x], 0.0) + w * next_prob[i][x]
        masses.append(mass)
    return np.array(beliefs), next_state, next_prob, masses, closed


def sequential_leaders(k, i, j):
    """First come: item j joins the smallest earlier representative it is close to."""
    close = set(zip(i.tolist(), j.tolist()))
    rep = list(range(k))
    reps = []
    for b in range(k):
        for a in reps:
            if (a, b) in close:
                rep[b] = a
                break
        else:
            reps.append(b)
    return np.array(rep)


def reference_merge(known, cand, radius):
    """Targets of the candidates merged one by one into ``known`` (first come)."""
    allb = list(known)
    targets = []
    for c in cand:
        d = np.abs(np.array(allb) - c).max(axis=1) if allb else np.zeros(0)
        hit = np.flatnonzero(d <= radius)
        if hit.size:
            targets.append(int(hit[0]))
        else:
            targets.append(len(allb))
            allb.append(c)
    return np.array(targets)


# ---------------------------------------------------------------------- manifolds
GENERATORS = st.one_of(
    st.builds(lambda n, v, s: library.random_hmm(n, v, seed=s), st.integers(2, 4), st.integers(2, 3),
              st.integers(0, 10_000)),
    st.builds(lambda n, v, s: library.random_hmm(n, v, seed=s, concentration=0.1), st.integers(2, 4),
              st.integers(2, 3), st.integers(0, 10_000)),
    st.builds(lambda v, s: library.random_quantum(2, v, seed=s), st.integers(2, 3), st.integers(0, 10_000)),
    st.builds(lambda n, s: library.random_ghmm(n, 2, seed=s), st.integers(2, 3), st.integers(0, 10_000)),
)


@settings(max_examples=60, deadline=None)
@given(GENERATORS, st.integers(1, 5), st.sampled_from([1e-9, 1e-3, 0.02, 0.1, 0.3]))
def test_merging_matches_the_quadratic_reference(g, depth, tol):
    m = mixed_state_presentation(g, depth, tol)
    beliefs, next_state, next_prob, masses, closed = reference_msp(g, depth, tol)
    assert m.n_beliefs == len(beliefs)
    np.testing.assert_allclose(m.beliefs, beliefs, atol=1e-9)
    for i in range(m.n_beliefs):
        if m.expanded[i]:
            assert m.next_state[i].tolist() == next_state[i]
            np.testing.assert_allclose(m.next_prob[i], next_prob[i], atol=1e-12)
    for t in range(depth + 1):
        ids, mass = m.level(t)
        ref_ids = sorted(masses[t])
        assert ids.tolist() == ref_ids
        np.testing.assert_allclose(mass, [masses[t][i] for i in ref_ids], rtol=1e-9, atol=1e-15)
    assert m.closed == closed
    # merged beliefs are farther apart than the radius (first come keeps representatives apart)
    d = np.abs(m.beliefs[:, None, :] - m.beliefs[None, :, :]).max(-1)
    d[np.diag_indices_from(d)] = np.inf
    assert d.min() > m.tol * max(1.0, np.abs(m.beliefs[0]).max())


def test_pair_straddling_both_grids_of_the_old_hash_is_merged():
    # children of the root are a and b (rank-one operators): 2e-4 apart, tol 1e-3, but a
    # and b fall in different cells of floor(eta / tol) (coordinate 0 crosses 10 tol) and of
    # floor(eta / tol + 1/2) (coordinate 1 crosses 20.5 tol) -- the old two-grid hash kept
    # them apart
    tol = 1e-3
    a = np.array([9.9e-3, 20.4e-3, 1 - 30.3e-3])
    b = np.array([10.1e-3, 20.6e-3, 1 - 30.7e-3])
    assert np.abs(a - b).max() <= tol
    assert np.any(np.floor(a / tol) != np.floor(b / tol))
    assert np.any(np.floor(a / tol + 0.5) != np.floor(b / tol + 0.5))
    g = HMM(np.array([0.5 * np.outer(np.ones(3), a), 0.5 * np.outer(np.ones(3), b)]))
    m = mixed_state_presentation(g, 6, tol, initial=np.full(3, 1 / 3))
    assert m.n_beliefs == 2 and m.closed
    np.testing.assert_allclose(m.beliefs[1], a, atol=1e-15)
    assert m.next_state.tolist() == [[1, 1], [1, 1]]
    np.testing.assert_allclose(m.mass_at(6), [0.0, 1.0])


def test_mess3_repeated_symbols_merge_with_their_fixed_point():
    # 0^9 and 0^10 lead to beliefs within 1e-9 of each other (the same for 1 and 2): exact
    # merging finds these three coincidences at depth 10, the old hash missed them
    m = mixed_state_presentation(library.mess3(x=0.05, a=0.85), 10)
    assert m.n_beliefs == (3**11 - 1) // 2 - 3
    for x in range(3):
        i9 = 0
        for _ in range(9):
            i9 = m.next_state[i9, x]
        assert m.next_state[i9, x] == i9 and m.depth[i9] == 9
    np.testing.assert_allclose(m.mass_per_depth(), 1.0, atol=1e-12)


# ---------------------------------------------------------------------- the index itself
@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(0, 40), st.integers(1, 60),
       st.sampled_from([1e-9, 0.05, 0.3]), st.booleans())
def test_index_merge_matches_sequential_merge(seed, n, n_known, k, radius, grow):
    rng = np.random.default_rng(seed)
    # clustered points (many within radius of each other), exact duplicates, and with
    # ``grow`` points far outside the initial key range (forces a re-encoding)
    centers = rng.normal(size=(4, n))
    pts = centers[rng.integers(0, 4, n_known + k)] + rng.normal(scale=radius, size=(n_known + k, n))
    pts[rng.random(n_known + k) < 0.2] = centers[0]
    if grow:
        pts[n_known:] *= 1e3
    idx = BeliefIndex(n, radius, id_limit=10 * (n_known + k) + 10)
    known_pts = pts[:n_known]
    kept = np.zeros((0, n))
    if n_known:
        t0, new0 = idx.merge(known_pts, 0, lambda ids: known_pts[ids])
        assert t0.tolist() == reference_merge([], known_pts, radius).tolist()
        kept = known_pts[new0]
    cand = pts[n_known:]
    targets, new_rows = idx.merge(cand, len(kept), lambda ids: kept[ids])
    expected = reference_merge(kept, cand, radius)
    assert targets.tolist() == expected.tolist()
    assert new_rows.tolist() == [r for r in range(k) if expected[r] >= len(kept) and
                                 expected[r] not in expected[:r]]
    assert len(idx) == len(kept) + new_rows.size


def test_index_sorts_both_ways_alike():
    # few candidates against many known ones take the sort-and-merge-runs branch
    rng = np.random.default_rng(5)
    known = rng.random((500, 3))
    idx = BeliefIndex(3, 1e-6, id_limit=10_000)
    idx.merge(known, 0, lambda ids: known[ids])
    cand = np.vstack([known[[7, 300]] + 1e-7, rng.random((20, 3))])
    targets, new_rows = idx.merge(cand, 500, lambda ids: known[ids])
    assert targets[:2].tolist() == [7, 300]
    assert new_rows.tolist() == list(range(2, 22))
    assert np.array_equal(idx.P, np.sort(idx.P)) and len(idx) == 520


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.data())
def test_leaders_match_the_sequential_rule(k, data):
    pairs = data.draw(st.sets(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), max_size=60))
    pairs = [(a, b) for a, b in pairs if a < b]
    i = np.array([a for a, _ in pairs], dtype=np.int64)
    j = np.array([b for _, b in pairs], dtype=np.int64)
    assert leaders(k, i, j).tolist() == sequential_leaders(k, i, j).tolist()


def test_window_pairs():
    rows, pos = window_pairs(np.array([0, 5, 2]), np.array([2, 5, 4]))
    assert rows.tolist() == [0, 0, 2, 2] and pos.tolist() == [0, 1, 2, 3]


def test_index_rejects_impossible_id_limits():
    with pytest.raises(ValueError, match="id_limit"):
        BeliefIndex(3, 1e-9, id_limit=2**60)


# ---------------------------------------------------------------------- mass sums
def _reference_sums(ids, w):
    uniq, inv = np.unique(ids, return_inverse=True)
    return uniq, np.bincount(inv.reshape(-1), weights=w, minlength=uniq.size)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.integers(0, 5000), st.integers(0, 300))
def test_sum_by_id_matches_unique_and_bincount(seed, k, first_new, span):
    from bayes._msp_build import _sum_by_id

    rng = np.random.default_rng(seed)
    ids = np.concatenate([rng.integers(0, first_new + 1, k // 3),  # old beliefs (wide range)
                          first_new + rng.integers(0, span + 1, k - k // 3)])
    ids = ids[rng.permutation(k)]
    w = rng.random(k)
    got, ref = _sum_by_id(ids, w, first_new), _reference_sums(ids, w)
    assert got[0].tolist() == ref[0].tolist()
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 200), st.integers(0, 50))
def test_merged_level_matches_unique_and_bincount(seed, k, first_new):
    from bayes._msp_build import _merged_level

    rng = np.random.default_rng(seed)
    gone = np.flatnonzero(rng.random(k) < 0.3)
    n_new = k - gone.size
    tgt = np.empty(k, dtype=np.int64)
    tgt[np.setdiff1d(np.arange(k), gone)] = first_new + np.arange(n_new)
    if first_new + n_new == 0:
        return
    tgt[gone] = rng.integers(0, first_new + n_new, gone.size)  # gone children join an old or a new belief
    w = rng.random(k)
    got, ref = _merged_level(tgt, w, gone, first_new), _reference_sums(tgt, w)
    assert got[0].tolist() == ref[0].tolist()
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12)
