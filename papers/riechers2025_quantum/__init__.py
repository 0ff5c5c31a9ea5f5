"""Reproduction of Riechers, Elliott, Shai 2025 (arXiv 2507.07432): neural nets represent the
minimal (quantum / post-quantum) belief geometry. Run ``python -m papers.riechers2025_quantum``."""
