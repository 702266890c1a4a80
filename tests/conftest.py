"""Shared test set-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults, whatever an earlier test configured."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
