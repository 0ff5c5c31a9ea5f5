"""qbelief.generators: classical, quantum and post-quantum process generators.

Every generator (:class:`HMM`, :class:`QuantumGenerator`, :class:`GHMM`,
:class:`ProductGenerator`) implements the :class:`Generator` interface and has an exact
linear form, ``to_ghmm()``: operators ``T`` (V, n, n), ``tau`` (n,), ``initial`` (n,) with
``Pr(w) = initial T[w1] ... T[wL] tau``.

Beyond the generator classes: :func:`check_nonnegative` (a bounded search for words of
negative probability: beam over prefixes and repeated cycles beyond exhaustive
enumeration) and :func:`learn_ghmm` (spectral learning of a GHMM from sampled sequences,
:mod:`generators.sequences` for loading and counting them).
"""

from . import errors, library, limits
from .base import Generator
from .basis import coords_to_density, density_to_coords, gell_mann_basis
from .compose import (
    ProductGenerator,
    factor_symbols,
    joint_symbol,
    markov_approximation,
    noisy,
    product,
)
from .errors import (
    ArgumentError,
    GeneratorError,
    IncompleteInstrumentError,
    MemoryLimitError,
    NegativeProbabilityError,
    NotAGeneratorError,
    NotStochasticError,
    ShapeError,
    StateError,
    UnknownProcessError,
    ZeroProbabilityError,
)
from .ghmm import GHMM
from .hmm import HMM
from .learning import LearnedModelWarning, LearningReport, learn_ghmm, load_sequences
from .nonnegativity import NonnegativityResult, check_nonnegative
from .quantum import QuantumGenerator
from .reduction import equivalent, hankel_rank, minimize

__all__ = [
    "Generator", "HMM", "QuantumGenerator", "GHMM", "ProductGenerator",
    "library", "errors", "limits", "minimize", "hankel_rank", "equivalent", "product",
    "joint_symbol", "factor_symbols", "markov_approximation", "noisy",
    "gell_mann_basis", "density_to_coords", "coords_to_density",
    "check_nonnegative", "NonnegativityResult",
    "learn_ghmm", "LearningReport", "LearnedModelWarning", "load_sequences",
    "GeneratorError", "NotStochasticError", "IncompleteInstrumentError",
    "NegativeProbabilityError", "ShapeError", "UnknownProcessError", "ZeroProbabilityError",
    "ArgumentError", "StateError", "NotAGeneratorError", "MemoryLimitError",
]
