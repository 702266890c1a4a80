"""Shared test set-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, settings

# CI shares a loaded 2-core machine: a property's first run may be slow for reasons of its own
# (imports, page faults, the other worker), so no example has a time limit; speed is measured in bench/.
settings.register_profile("idealweek", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("idealweek")


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults, whatever an earlier test configured."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
