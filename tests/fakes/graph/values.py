"""Graph's value forms and the fake's stored event: time zones (IANA or Windows), stamps, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_of(name: str) -> tzinfo:
    """A Graph time-zone name (IANA or Windows) → tzinfo."""
    if name.upper() in ("UTC", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

        return ZoneInfo(WINDOWS_TO_OLSON[name])


def _graph_time(value: Mapping[str, Any]) -> datetime:
    naive = datetime.fromisoformat(str(value["dateTime"]))
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=zone_of(str(value.get("timeZone") or "UTC"))).astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StoredEvent:
    id: str
    calendar: str
    start: datetime
    end: datetime
    zone: str = "UTC"
    props: dict[str, Any] = field(default_factory=dict)
    ext: dict[str, tuple[str, str]] = field(default_factory=dict)
    change_key: str = ""
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def all_day(self) -> bool:
        return bool(self.props.get("isAllDay"))

    @property
    def transaction_id(self) -> str:
        return str(self.props.get("transactionId") or "")

    def ext_value(self, prop_id: str) -> str | None:
        hit = self.ext.get(prop_id.lower())
        return hit[1] if hit else None


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
