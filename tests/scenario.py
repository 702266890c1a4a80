"""A small ideal week used across tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from idealweek.config import Settings, loads
from idealweek.model import Event, Response, Status

if TYPE_CHECKING:
    from tests.fakes.google_server import GoogleFake

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


GOOGLE_FAMILY = "family@group.calendar.google.com"
"""The shared family calendar of :func:`google_toml` (``family=True``)."""


def google_toml(fake: GoogleFake, focus: str = "4h", family: bool = False) -> str:
    """BASE_TOML's rules on one Google account at ``fake``: its primary calendar for meetings, blocks and focus,
    and with ``family`` a shared calendar of hard family time."""
    text = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus=focus)
    text += f"""
[accounts.g]
provider = "google"
api_root = "{fake.api_root}"
token_uri = "{fake.token_uri}"

[calendars.work]
source = "google"
account = "g"
id = "primary"
roles = ["meetings", "blocks", "focus"]
"""
    if family:
        text += f"""
[calendars.family]
source = "google"
account = "g"
id = "{GOOGLE_FAMILY}"
roles = ["personal"]
category = "family"
policy = "hard"
"""
    return text


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
