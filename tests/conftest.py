"""Shared pytest configuration: hypothesis profile (no deadlines; CI machine is slow)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "qbelief", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("qbelief")
