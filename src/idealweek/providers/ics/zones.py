"""Time zones as real-world ICS files name them: IANA, Windows, ``/vendor/Area/City``.

Rules, in order:

* a TZID icalendar could resolve (VTIMEZONE, IANA name, Windows name, globally
  unique ``/vendor/Area/City``) is used — except that a VTIMEZONE whose TZID is
  a Windows zone name is replaced by the IANA zone it maps to;
* a date-time without a zone (floating, or a TZID nobody knows) is read in the
  calendar's ``X-WR-TIMEZONE`` when that is a known zone, else in the
  configured zone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

if TYPE_CHECKING:
    import icalendar

log = structlog.get_logger(__name__)

_FALLBACK_WINDOWS = {
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "GMT Standard Time": "Europe/London",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "Tokyo Standard Time": "Asia/Tokyo",
    "New Zealand Standard Time": "Pacific/Auckland",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "UTC": "UTC",
}


def _windows_table() -> dict[str, str]:
    try:
        from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
    except ImportError:  # pragma: no cover - icalendar always ships it today
        return dict(_FALLBACK_WINDOWS)
    return {str(k): str(v) for k, v in WINDOWS_TO_OLSON.items()}


class _WindowsZones(Mapping[str, str]):
    """Windows zone name → IANA name; icalendar's table is read on first use, not at import (issue 15)."""

    @cached_property
    def _table(self) -> dict[str, str]:
        return _windows_table()

    def __getitem__(self, key: str) -> str:
        return self._table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


WINDOWS_TO_IANA: Mapping[str, str] = _WindowsZones()


_EXCHANGE = "tzone://microsoft/"
"""Outlook and Exchange exports name zones ``tzone://Microsoft/Utc`` (or ``.../<Windows name>``)."""


def lookup_zone(name: str) -> ZoneInfo | None:
    """An IANA zone for a TZID: IANA, Windows, ``/vendor/Area/City`` and ``tzone://Microsoft/...`` names.

    None when unknown (``tzone://Microsoft/Custom`` too: it names a zone only its VTIMEZONE describes).
    """
    cleaned = name.strip().strip('"').strip()
    if cleaned.lower().startswith(_EXCHANGE):
        cleaned = cleaned[len(_EXCHANGE) :]
        if cleaned.lower() == "utc":
            cleaned = "UTC"
    candidates = [cleaned, WINDOWS_TO_IANA.get(cleaned, "")]
    if cleaned.startswith("/"):
        parts = cleaned.strip("/").split("/")
        candidates += ["/".join(parts[i:]) for i in range(len(parts))]
    for cand in candidates:
        if not cand or cand.startswith("/") or ".." in cand:
            continue
        try:
            return ZoneInfo(cand)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return None


def normalise_x_wr_timezone(cal: icalendar.Calendar, source: str) -> None:
    """Rewrite the calendar's ``X-WR-TIMEZONE`` to the IANA name it means, or drop it when unknown.

    The expansion library reads the value as an IANA key: a Windows name, an
    empty, quoted or padded value would make it fail for every event.
    """
    raw = cal.get("X-WR-TIMEZONE")
    if raw is None:
        return
    text = str(raw[0] if isinstance(raw, list) and raw else raw)
    found = lookup_zone(text) if text.strip() else None
    if found is None:
        del cal["X-WR-TIMEZONE"]
        if text.strip():
            log.warning("ics.zone_unknown", source=source, x_wr_timezone=text[:80], used="the configured zone")
    elif text != found.key:
        cal["X-WR-TIMEZONE"] = found.key


def floating_zone(cal: icalendar.Calendar, zone: ZoneInfo) -> tzinfo:
    """The zone for floating times of ``cal``: its known ``X-WR-TIMEZONE``, else ``zone``."""
    raw = cal.get("X-WR-TIMEZONE")
    if raw is None:
        return zone
    found = lookup_zone(str(raw[0] if isinstance(raw, list) else raw))
    return found if found is not None else zone


def _tz_name(tz: tzinfo) -> str:
    for attr in ("key", "_tzid", "zone"):
        value = getattr(tz, attr, None)
        if isinstance(value, str):
            return value
    return ""


def fix_zone(value: datetime, fallback: tzinfo) -> datetime:
    """Make ``value`` aware: floating → ``fallback``; VTIMEZONE named like a Windows zone → IANA."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=fallback)
    if not isinstance(value.tzinfo, ZoneInfo):
        name = _tz_name(value.tzinfo)
        iana = WINDOWS_TO_IANA.get(name.strip())
        if iana:
            found = lookup_zone(iana)
            if found is not None:
                return value.replace(tzinfo=found)
    return value


__all__ = ["WINDOWS_TO_IANA", "fix_zone", "floating_zone", "lookup_zone", "normalise_x_wr_timezone"]
