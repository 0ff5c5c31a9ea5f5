"""qbelief.bayes: generalized Bayesian updating over classical, quantum and post-quantum
generators.

- :func:`belief_trajectories` -- beliefs and log prefix probabilities of a batch of words;
- :func:`mixed_state_presentation` -- the belief manifold (:class:`BeliefManifold`); a
  presentation too large for its belief cap raises :class:`ManifoldTooLargeError`;
- geometry: :func:`barycentric_coordinates`, :func:`bloch_vectors`,
  :func:`affine_projection`, :func:`affine_dimension`, :func:`linear_map`,
  :func:`representation_map`;
- :func:`plot_beliefs` -- PNG pictures (matplotlib/qutip imported only when called);
- information: :func:`block_entropy`, :func:`myopic_entropy`, :func:`entropy_rate`,
  :func:`excess_entropy`, :func:`statistical_complexity` (``base=2``: bits);
- :func:`attention_decay_rates` -- the eigenvalues attention must track and the effective
  decay of the best attention-like linear filter of the past (:class:`AttentionRates`);
- exact (sympy) beliefs: :func:`exact_generator`, :func:`exact_belief`, :class:`ExactGHMM`
  (loaded on first use, so ``import bayes`` does not import sympy).

Beliefs are row vectors in the generator's GHMM coordinates (``eta @ tau == 1``).
"""

from .geometry import (
    AffineProjection,
    LinearMap,
    affine_dimension,
    affine_projection,
    barycentric_coordinates,
    bloch_vectors,
    linear_map,
    representation_map,
    WeightedPCA,
    weighted_pca,
)
from ._util import Estimate
from .attention_rates import AttentionRates, attention_decay_rates
from .information import block_entropy, entropy_rate, excess_entropy, myopic_entropy, statistical_complexity
from .manifold import BeliefManifold, ManifoldTooLargeError, mixed_state_presentation
from .plots import plot_beliefs
from .trajectories import BeliefTrajectories, belief_trajectories

_LAZY = {"ExactGHMM", "exact_generator", "exact_belief", "exact_names"}

__all__ = [
    "belief_trajectories", "BeliefTrajectories",
    "mixed_state_presentation", "BeliefManifold", "ManifoldTooLargeError",
    "barycentric_coordinates", "bloch_vectors", "affine_projection", "AffineProjection",
    "affine_dimension", "linear_map", "LinearMap", "representation_map", "weighted_pca", "WeightedPCA",
    "plot_beliefs", "attention_decay_rates", "AttentionRates",
    "block_entropy", "myopic_entropy", "entropy_rate", "excess_entropy", "statistical_complexity", "Estimate",
    "ExactGHMM", "exact_generator", "exact_belief", "exact_names",
]


def __getattr__(name: str):
    if name in _LAZY:
        from . import exact

        return getattr(exact, name)
    raise AttributeError(f"module 'bayes' has no attribute {name!r}")
