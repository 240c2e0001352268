"""Shared test configuration.

Hypothesis profiles: ``default`` (random examples, failures replayed from the local
example database) and ``ci`` (derandomized, no database: the same examples on every
run), the default when ``CI`` is set. Choose with ``HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("default"),
    derandomize=True,
    database=None,
)
# CI (which sets CI=true) replays the same examples every run, so a landing never
# depends on luck; local runs stay random so they keep finding new cases.
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)
