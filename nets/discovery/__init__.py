"""Belief geometry found without a known generator.

:func:`discover_geometry` takes a network's activations and its input tokens -- nothing
about the process that produced them -- and looks for a low-dimensional affine subspace
of activation space, and operators ``T[x]``, under which the projected activations
update like the beliefs of a generalized HMM,

    eta_{t+1} = eta_t T[x] / (eta_t T[x] tau),   Pr(x | eta_t) = eta_t T[x] tau,

with ``eta_t = [1, z_t]``, ``z_t = (a_t - m) P`` the ``k = n - 1`` coordinates of the
activation at position ``t`` and ``tau = e_0``.  It returns that GHMM (a
:class:`generators.GHMM` that all of qbelief accepts), its dimension ``n``, its held-out
fit, the same numbers for :func:`generators.learn_ghmm` on the same tokens, and a verdict.

Method
------
1. **Subspace** (:mod:`~nets.discovery.subspace`).  Under the hypothesis every future-word
   probability ``Pr(w | eta_t)`` is linear in ``eta_t`` and so in the activation: the
   (ridge) regression of future-word indicators (all words up to length ``l``, default 3)
   on whitened activations has rank ``n - 1``, and its top left singular vectors span the
   belief subspace (reduced-rank regression).  The subspace is identified up to an
   affine map -- the similarity gauge ``T -> S^-1 T S`` with ``S e_0 = e_0``, under which
   the process is unchanged -- once the observability matrix ``[T[w] tau]_{|w| <= l}`` has
   full rank, which holds for a minimal model with ``l >= n - 1`` (Jaeger's observable
   operator models; Hsu, Kakade, Zhang, arXiv:0811.4413).
2. **Operators** (:mod:`~nets.discovery.operators`).  ``c_x = T[x] tau`` by least squares of
   the one-hot next token on ``eta_t`` (the linear conditional expectation, ``sum_x c_x
   = tau`` exactly); the rest of ``T[x]`` by least squares of the un-normalized update
   ``eta_t T[x] = (eta_t c_x) eta_{t+1}`` over the rows that read ``x``; the mean belief
   of the data made the stationary initial belief.
3. **Refinement** (:mod:`~nets.discovery.refine`).  The GHMM's own beliefs, filtered from
   the tokens alone, are probed linearly from the activations and the projection
   replaced by that probe -- kept while the coordinates update more like beliefs and the
   training log loss does not rise significantly.  It matters where the next token hardly
   depends on the belief (the Bloch walk) and step 1 alone is noisy.
4. **Dimension** (``dim="auto"``).  Candidates ``n = 1 .. max_dim`` (``n = 1`` is the
   i.i.d. model) are scored by 2-fold cross-validation on the training sequences: steps
   1-3 on one half, the GHMM's log loss -- from the tokens alone, filtered from its
   initial belief -- on the other.  The smallest ``n`` within 2 standard errors (paired
   over sequences) of the best, or within 10% of the best's gain over ``n = 1``, is kept.
5. **Fit and verdict** (:mod:`~nets.discovery.scoring`, :mod:`~nets.discovery.result`).
   On held-out sequences: the GHMM's log loss against the unigram model and
   :func:`generators.learn_ghmm` (spectral learning from the training tokens), the update
   residual (one-step Bayes update of ``z``), the filter residual (activations against the
   GHMM's own beliefs), the word-probability distance to the learned GHMM; "belief
   geometry" when the GHMM predicts, closes, is what the activations hold, and matches
   spectral learning (:data:`DEFAULT_THRESHOLDS`).

Activation points: a mapping of points is analysed as the concatenation of all of them
unless ``point`` names one (or several); see :func:`~nets.discovery.inputs.select_point`.

Costs: ``N`` sequences of ``L`` positions, width ``d``: the subspace ``O(N L d^2 + d^3)``
(three times: two folds and the final fit); per candidate dimension ``n`` and refinement
step ``O(N L (n^2 + d n))``; memory a float64 copy of the activations (``8 N L d`` bytes)
and their whitened form; :func:`generators.learn_ghmm` when comparing.  About 3 s for
20,000 sequences of 10 positions in 16 dimensions on one CPU core.

Examples
--------
Beliefs of Mess3 embedded in 16 dimensions, with the sampled tokens:

>>> import numpy as np
>>> from generators import library, equivalent
>>> from generators.representations import representation
>>> g = representation(library.mess3(), "minimal").ghmm
>>> tokens, beliefs = g.sample(3000, 8, seed=0, return_beliefs=True)
>>> rng = np.random.default_rng(0)
>>> acts = beliefs[:, 1:, 1:] @ rng.normal(size=(2, 16)) + 0.01 * rng.normal(size=(3000, 8, 16))
>>> r = discover_geometry(acts, tokens, max_dim=4, compare=False)
>>> r.dim, r.verdict, equivalent(r.ghmm, g, tol=0.05)
(3, 'belief geometry', True)
"""

from .core import DIM_RULE_GAIN, DIM_RULE_SE, WORD_LENGTH, discover_geometry
from .inputs import DiscoveryData, prepare, select_point
from .operators import fit_operators, homogeneous
from .result import DEFAULT_THRESHOLDS, FOUND, NOT_FOUND, DiscoveryResult
from .scoring import PROB_FLOOR, sequence_log_loss, update_residual, word_distance
from .subspace import PredictiveSubspace, fit_subspace

__all__ = ["discover_geometry", "DiscoveryResult", "DEFAULT_THRESHOLDS", "FOUND", "NOT_FOUND", "DIM_RULE_SE",
           "DIM_RULE_GAIN", "WORD_LENGTH", "fit_operators", "homogeneous", "fit_subspace", "PredictiveSubspace", "DiscoveryData",
           "prepare", "select_point", "PROB_FLOOR", "sequence_log_loss", "update_residual", "word_distance"]
