"""The main job (``make demo`` = ``qbelief demo``): a quantum generator defined from its
Kraus operators, its belief manifold, a transformer trained on it, and probes of every
layer for the belief geometry.  Run ``qbelief demo`` or ``python -m papers.demo``."""
