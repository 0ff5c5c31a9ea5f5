"""Shared pytest configuration: hypothesis profile (no deadlines; CI machine is slow)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "qbelief", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
# HYPOTHESIS_PROFILE=thorough for a longer search (400 examples per test)
settings.register_profile("thorough", parent=settings.get_profile("qbelief"), max_examples=400)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "qbelief"))
