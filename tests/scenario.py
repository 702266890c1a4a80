"""A small ideal week used across tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from idealweek.config import Settings, loads
from idealweek.model import Event, Response, Status

BASE_TOML = """
timezone = "{zone}"
horizon = "14d"

[catch_up]
within = "7d"
min_block = "30m"
granularity = "15m"
freeze = "2h"

[focus]
weekly_target = "{focus}"
chunk = "2h"
min_chunk = "1h"
hours = [{{ days = "mon-fri", start = "09:00", end = "17:00" }}]

[categories.family]
title = "Family time"
windows = [
  {{ days = "sat-sun", start = "09:00", end = "18:00" }},
  {{ days = "mon-fri", start = "19:30", end = "21:00" }},
]

[categories.health]
title = "Exercise"
windows = [{{ days = "mon-sun", start = "06:00", end = "08:00" }}]

[[protect]]
days = "mon-fri"
start = "17:00"
end = "19:00"
category = "family"
policy = "catch-up"

[[protect]]
days = "tue,thu"
start = "07:00"
end = "08:00"
category = "health"
policy = "catch-up"

[[protect]]
days = "wed"
start = "15:00"
end = "15:30"
category = "family"
policy = "hard"
title = "School pick-up"

[calendars.work]
source = "vdir"
path = "work"
roles = ["meetings", "focus", "mirror"]

[calendars.home]
source = "vdir"
path = "home"
roles = ["blocks"]
"""


def settings(zone: str = "Europe/Berlin", focus: str = "4h", extra: str = "") -> Settings:
    return loads(BASE_TOML.format(zone=zone, focus=focus) + extra)


_n = 0


def meeting(
    start: datetime,
    minutes: int = 60,
    calendar: str = "work",
    uid: str | None = None,
    status: Status = Status.CONFIRMED,
    response: Response = Response.ACCEPTED,
    busy: bool = True,
    title: str = "Meeting",
) -> Event:
    global _n
    _n += 1
    return Event(
        calendar=calendar,
        uid=uid or f"m{_n}",
        start=start,
        end=start + timedelta(minutes=minutes),
        title=title,
        status=status,
        response=response,
        busy=busy,
    )
