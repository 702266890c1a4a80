"""Local and feed calendars in iCalendar format.

* :mod:`.repair` — bytes → icalendar calendars, repairing what real files get wrong;
* :mod:`.zones` — IANA / Windows / vendor zone names, ``X-WR-TIMEZONE``;
* :mod:`.expand` — recurrence expansion over a window, :func:`expand_events` (shared with
  every provider that reads iCalendar data) and :func:`parse_ics`;
* :mod:`.convert` — one VEVENT occurrence → :class:`~idealweek.model.Event`;
* :mod:`.write` — iCalendar data for the events idealweek owns;
* :mod:`.feed` — the read-only :class:`IcsProvider` (an ICS file or an ICS URL).
"""

from __future__ import annotations

from idealweek.providers.ics.convert import TAG_ICS_PROPERTY, decode_tag
from idealweek.providers.ics.expand import (
    DEFAULT_AHEAD,
    DEFAULT_LOOKBACK,
    MAX_OCCURRENCES,
    Clock,
    Window,
    default_window,
    expand_events,
    parse_ics,
    system_clock,
)
from idealweek.providers.ics.feed import IcsProvider, redact_url
from idealweek.providers.ics.repair import fingerprint, is_calendar, read_calendars
from idealweek.providers.ics.zones import WINDOWS_TO_IANA, lookup_zone

__all__ = [
    "DEFAULT_AHEAD",
    "DEFAULT_LOOKBACK",
    "MAX_OCCURRENCES",
    "TAG_ICS_PROPERTY",
    "WINDOWS_TO_IANA",
    "Clock",
    "IcsProvider",
    "Window",
    "decode_tag",
    "default_window",
    "expand_events",
    "fingerprint",
    "is_calendar",
    "lookup_zone",
    "parse_ics",
    "read_calendars",
    "redact_url",
    "system_clock",
]
