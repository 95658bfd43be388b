"""Shared fixtures: hypothesis profiles, settings factory, the app and the fake upstream."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# `fast` runs in CI on every commit; `deep` (HYPOTHESIS_PROFILE=deep) is the long run.
settings.register_profile("fast", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "deep", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
