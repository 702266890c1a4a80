"""One calendar of the fake: its events, deleted ones included, and the change sequence of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo


@dataclass
class FakeCalendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    access_role: str = "owner"
    primary: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    """All events ever created here, deleted ones included (``status: cancelled``)."""
    changed: dict[str, int] = field(default_factory=dict)
    """Event id → sequence number of its last change."""
    generation: int = 0
    """Bumped to expire every sync token of this calendar."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)
