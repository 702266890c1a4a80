"""CalDAV free-busy REPORT for a free/busy-only household calendar (issue 18).

RFC 4791 §7.10: a ``free-busy-query`` REPORT on the calendar collection answers a ``VFREEBUSY`` whose
``FREEBUSY`` lines list busy periods (``start/end`` or ``start/duration``, in UTC).  ``FBTYPE`` BUSY
(the default), BUSY-TENTATIVE and BUSY-UNAVAILABLE count; FREE does not.  The ``caldav`` library sends
it (``Calendar.freebusy_request``); iCloud has no free-busy REPORT (use a busy-only ICS link there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from idealweek.errors import ProviderError
from idealweek.model import Interval
from idealweek.providers.caldav.client import DavFailure, DavSession, sync_result
from idealweek.providers.caldav.provider import CalDavProvider
from idealweek.providers.freebusy import BusyQuery

BUSY_TYPES = frozenset({"BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE"})
_FBTYPE = re.compile(r";FBTYPE=([A-Za-z-]+)", re.IGNORECASE)


def _unfold(text: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", text).splitlines()


def _time(text: str) -> datetime:
    text = text.strip()
    if not text.endswith("Z"):
        raise ValueError("free/busy periods are in UTC")
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _duration(text: str) -> timedelta:
    """An RFC 5545 duration such as ``PT1H30M`` (icalendar's parser, which is untyped)."""
    from icalendar.prop import vDuration

    parse: Callable[[str], object] = vDuration.from_ical
    value = parse(text)
    if not isinstance(value, timedelta):
        raise ValueError(f"not a duration: {text!r}")
    return value


def parse_freebusy(text: str) -> list[Interval]:
    """The busy periods of a ``VFREEBUSY`` (unreadable periods are skipped)."""
    out: list[Interval] = []
    for line in _unfold(text):
        head, sep, values = line.partition(":")
        if not sep or not head.upper().startswith("FREEBUSY"):
            continue
        m = _FBTYPE.search(head)
        if m is not None and m.group(1).upper() not in BUSY_TYPES:
            continue
        for period in values.split(","):
            start_text, slash, rest = period.partition("/")
            if not slash:
                continue
            try:
                start = _time(start_text)
                if rest.strip().startswith(("P", "+P")):
                    length = _duration(rest.strip())
                    end = start + length
                else:
                    end = _time(rest)
            except (ValueError, TypeError):
                continue
            if end > start:
                out.append(Interval(start, end))
    return sorted(out)


def caldav_busy(session: DavSession, name: str, calendar_id: str) -> BusyQuery:
    """``busy(lo, hi)`` for :class:`~idealweek.providers.freebusy.FreeBusyProvider`: one REPORT per read."""
    finder = CalDavProvider(name, session, calendar_id, writable=False)

    def busy(lo: datetime, hi: datetime) -> list[Interval]:
        calendar = finder.calendar
        try:
            answer = session.call("free-busy REPORT", lambda: sync_result(calendar.freebusy_request(lo, hi)))
        except DavFailure as exc:
            raise ProviderError(
                f"{name}: the server did not answer the free-busy REPORT ({exc}); "
                "some servers (iCloud) have none: use their busy-only ICS link instead"
            ) from None
        data = answer.data if hasattr(answer, "data") else answer
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        if not isinstance(data, str) or "VFREEBUSY" not in data.upper():
            raise ProviderError(f"{name}: the free-busy REPORT answered no VFREEBUSY")
        return [iv for iv in parse_freebusy(data) if iv.end > lo and iv.start < hi]

    return busy
