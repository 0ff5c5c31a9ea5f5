"""Hypothesis strategies producing random generators of each kind (seeded)."""

from hypothesis import strategies as st

from generators import library

seeds = st.integers(0, 2**31 - 1)


@st.composite
def random_hmms(draw, max_states=5, max_symbols=4):
    return library.random_hmm(draw(st.integers(1, max_states)), draw(st.integers(1, max_symbols)),
                              seed=draw(seeds), concentration=draw(st.sampled_from([0.3, 1.0, 3.0])))


@st.composite
def random_quantums(draw, max_d=4, max_symbols=4, max_rank=3):
    return library.random_quantum(d=draw(st.integers(1, max_d)), n_symbols=draw(st.integers(1, max_symbols)),
                                  rank=draw(st.integers(1, max_rank)), seed=draw(seeds))


@st.composite
def random_ghmms(draw, max_states=5, max_symbols=3):
    return library.random_ghmm(draw(st.integers(2, max_states)), draw(st.integers(2, max_symbols)), seed=draw(seeds))


any_generator = st.one_of(random_hmms(), random_quantums(), random_ghmms())


@st.composite
def near_sparse_hmms(draw, max_states=6, max_symbols=3):
    """Random HMMs with small Dirichlet concentrations (0.02-0.2): near-deterministic rows,
    transition probabilities spanning many orders of magnitude (1e-3 .. 1e-50)."""
    return library.random_hmm(draw(st.integers(2, max_states)), draw(st.integers(2, max_symbols)),
                              seed=draw(seeds), concentration=draw(st.floats(0.02, 0.2)))
