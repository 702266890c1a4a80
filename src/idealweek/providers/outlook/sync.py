"""The Outlook sync token (the window, the mode and the delta link or changeKeys, compressed) and the
ways a delta round ends early (its state expired, or no delta on this calendar)."""

from __future__ import annotations

import base64
import enum
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idealweek.model import Event

TOKEN_PREFIX = "o1."


class SyncMode(enum.StrEnum):
    """How a calendar is read incrementally."""

    DELTA = "delta"
    """``calendarView/delta`` with a delta link."""
    VIEW = "view"
    """A windowed ``calendarView`` listing compared by changeKeys (calendars without delta)."""


class SyncExpired(Exception):
    """The delta state is gone: start a new full round."""


class DeltaUnsupported(Exception):
    """The service refuses calendarView/delta on this calendar."""


@dataclass(slots=True)
class SyncState:
    """What the sync token carries: the window, the mode and the delta link (or changeKeys)."""

    start: datetime
    end: datetime
    mode: SyncMode = SyncMode.DELTA
    link: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    def holds(self, ev: Event) -> bool:
        """``ev`` belongs to this window (it overlaps it, or is a zero-length event at its start)."""
        return ev.start < self.end and (ev.end > self.start or ev.start >= self.start)

    def encode(self) -> str:
        doc: dict[str, int | str | dict[str, str]] = {
            "s": int(self.start.timestamp()),
            "e": int(self.end.timestamp()),
            "m": self.mode,
        }
        if self.link:
            doc["l"] = self.link
        if self.keys:
            doc["k"] = self.keys
        raw = zlib.compress(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode(), 6)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def decode(cls, token: str) -> SyncState | None:
        """Parse a token from :meth:`encode`; ``None`` (→ full sync) when it is not one."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        try:
            doc = json.loads(zlib.decompress(base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :])))
            return cls(
                start=datetime.fromtimestamp(int(doc["s"]), UTC),
                end=datetime.fromtimestamp(int(doc["e"]), UTC),
                mode=SyncMode(doc.get("m", "delta")),
                link=str(doc.get("l", "")),
                keys={str(k): str(v) for k, v in dict(doc.get("k", {})).items()},
            )
        except (ValueError, KeyError, TypeError, zlib.error):
            return None


__all__ = ["TOKEN_PREFIX", "DeltaUnsupported", "SyncExpired", "SyncMode", "SyncState"]
