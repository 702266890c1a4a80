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

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    import icalendar

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


WINDOWS_TO_IANA: dict[str, str] = _windows_table()


def lookup_zone(name: str) -> ZoneInfo | None:
    """An IANA zone for a TZID: IANA names, Windows names, ``/vendor/Area/City``; None when unknown."""
    cleaned = name.strip().strip('"').strip()
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


__all__ = ["WINDOWS_TO_IANA", "fix_zone", "floating_zone", "lookup_zone"]
