"""Value types of the configuration: durations ("1h30m"), times of day ("18:00"), weekdays ("mon-fri"), zones."""

from __future__ import annotations

import difflib
import re
from datetime import time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION_RE = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(value: object) -> timedelta:
    """Parse ``"30m"``, ``"2h"``, ``"1h30m"``, ``"7d"``, ``"45s"``."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "30m", "2h" or "7d", got {value!r}')
    m = _DURATION_RE.match(value)
    if not value.strip() or m is None or not any(m.groups()):
        raise ValueError(f'invalid duration {value!r}: write it like "30m", "2h", "1h30m" or "7d"')
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def format_duration(value: timedelta) -> str:
    """Inverse of :func:`parse_duration` (used for the schema's defaults and messages)."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0m"


def parse_clock(value: object) -> time:
    """Parse ``"18:00"``; ``"24:00"`` means the end of the day (stored as 23:59:59.999999)."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f'invalid time {value!r}: write it like "18:00"')
    hh, mm = (int(x) for x in value.strip().split(":"))
    if (hh, mm) == (24, 0):
        return time.max
    if hh > 23 or mm > 59:
        raise ValueError(f"invalid time {value!r}: hours 0-23 and minutes 0-59")
    return time(hh, mm)


def parse_days(value: object) -> frozenset[int]:
    """Parse ``"mon-fri"``, ``"sat,sun"``, ``["mon", "wed-thu"]`` → weekday numbers (mon=0)."""
    if isinstance(value, frozenset):
        return value
    items: list[str]
    if isinstance(value, str):
        items = [p for p in re.split(r"[,\s]+", value.strip().lower()) if p]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [str(v).strip().lower() for v in value]
    else:
        raise ValueError(f'expected weekdays like "mon-fri" or ["sat", "sun"], got {value!r}')
    days: set[int] = set()
    for item in items:
        if "-" in item:
            a, _, b = item.partition("-")
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f'invalid weekday range {item!r}: use mon..sun, e.g. "mon-fri"')
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            days.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif item in WEEKDAYS:
            days.add(WEEKDAYS.index(item))
        else:
            hint = difflib.get_close_matches(item, WEEKDAYS, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(f"invalid weekday {item!r}: use mon, tue, wed, thu, fri, sat, sun{extra}")
    if not days:
        raise ValueError("no weekdays given")
    return frozenset(days)


def parse_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f'expected an IANA time zone name like "Europe/Berlin", got {value!r}')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {value!r}: use an IANA name like "Europe/Berlin"') from None
    return value


def system_zone() -> str:
    """The system's IANA time zone name (UTC when it cannot be told)."""
    try:
        import tzlocal

        name = tzlocal.get_localzone_name()
        if name:
            ZoneInfo(name)
            return name
    except Exception:  # noqa: BLE001 - any failure means "unknown": fall back to UTC
        pass
    return "UTC"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$", "examples": ["30m", "2h", "7d"]}),
]
Clock = Annotated[
    time,
    BeforeValidator(parse_clock),
    PlainSerializer(lambda t: "24:00" if t == time.max else t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "examples": ["18:00"]}),
]
Days = Annotated[
    frozenset[int],
    BeforeValidator(parse_days),
    PlainSerializer(lambda d: [WEEKDAYS[i] for i in sorted(d)], return_type=list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "examples": ["mon-fri", "sat,sun"]},
                {"type": "array", "items": {"type": "string"}},
            ]
        }
    ),
]
Zone = Annotated[str, BeforeValidator(parse_zone)]
