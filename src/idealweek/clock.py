"""The one clock type: everything that needs "now" takes a :data:`Clock` (tests pass a fake one)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


__all__ = ["Clock", "system_clock"]
