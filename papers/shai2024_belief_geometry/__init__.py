"""Reproduction of Shai et al. 2024 (arXiv 2405.15943): belief-state geometry in a
transformer's residual stream (Mess3 fractal, RRXOR). Run ``python -m papers.shai2024_belief_geometry``."""
