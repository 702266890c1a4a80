"""Graph ``calendar/getSchedule`` for a free/busy-only household calendar (issue 18).

``POST /me/calendar/getSchedule`` with the person's address: work or school accounts only (a personal
Microsoft account cannot ask), ``Calendars.ReadBasic`` or more (idealweek's ``Calendars.ReadWrite`` is
enough), a window under 62 days, at most 20 schedules per call.  The answer's ``scheduleItems`` give
exact busy times; ``availabilityView`` (one digit per interval: 0 free, 1 tentative, 2 busy, 3 away,
4 working elsewhere) is used when a server leaves the items out.  Tentative and away count as busy;
free and working elsewhere do not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from idealweek.errors import AuthError, ProviderError
from idealweek.model import Interval
from idealweek.providers.freebusy import windows
from idealweek.providers.outlook.client import GraphClient
from idealweek.providers.outlook.resources import DateTimeTimeZone, ScheduleAnswer, ScheduleRequest

LONGEST = timedelta(days=61)
"""Graph refuses a getSchedule window of 62 days or more."""
INTERVAL_MIN = 15
BUSY_STATUSES = frozenset({"tentative", "busy", "oof"})
BUSY_CODES = frozenset("123")


def _when(doc: object) -> datetime:
    if not isinstance(doc, dict) or not isinstance(doc.get("dateTime"), str):
        raise ValueError("no dateTime")
    value = datetime.fromisoformat(doc["dateTime"][:26])
    if value.tzinfo is None:
        if str(doc.get("timeZone", "UTC")).upper() not in ("UTC", "ETC/UTC"):
            raise ValueError("asked for UTC")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _stamp(t: datetime) -> DateTimeTimeZone:
    return {"dateTime": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def from_view(view: str, lo: datetime, interval: int = INTERVAL_MIN) -> list[Interval]:
    """``availabilityView`` digits from ``lo`` on → busy intervals (tentative, busy, away)."""
    out: list[Interval] = []
    step = timedelta(minutes=interval)
    for i, code in enumerate(view):
        if code in BUSY_CODES:
            s = lo + i * step
            if out and out[-1].end == s:
                out[-1] = Interval(out[-1].start, s + step)
            else:
                out.append(Interval(s, s + step))
    return out


def graph_busy(client: GraphClient, name: str, address: str) -> Callable[[datetime, datetime], list[Interval]]:
    """``busy(lo, hi)`` for :class:`~idealweek.providers.freebusy.FreeBusyProvider`: one call per < 62 days."""

    def busy(lo: datetime, hi: datetime) -> list[Interval]:
        out: list[Interval] = []
        for a, b in windows(lo, hi, LONGEST):
            body: ScheduleRequest = {
                "schedules": [address],
                "startTime": _stamp(a),
                "endTime": _stamp(b),
                "availabilityViewInterval": INTERVAL_MIN,
            }
            resp = client.request(
                "POST",
                "/me/calendar/getSchedule",
                kind="getSchedule",
                body=body,
                headers={"Prefer": client.prefer(page=False)},
            )
            if resp.status_code >= 400:
                err = client.error(resp, "free/busy (getSchedule)")
                text = f"{err} (free/busy of other people works only for work or school accounts)"
                raise (AuthError(text) if isinstance(err, AuthError) else ProviderError(text)) from None
            doc = cast("ScheduleAnswer", client.json_or_raise(resp, "free/busy (getSchedule)"))
            info = next(
                (v for v in doc.get("value") or [] if isinstance(v, dict) and _same(v.get("scheduleId"), address)),
                None,
            )
            if info is None:
                raise ProviderError(f"{name}: Graph's free/busy answer has no schedule for {address!r}")
            error = info.get("error")
            if isinstance(error, dict) and (error.get("responseCode") or error.get("message")):
                raise ProviderError(
                    f"{name}: Graph shows no free/busy of {address!r} ({error.get('responseCode') or 'error'}: "
                    f"{error.get('message') or ''})".rstrip(": ")
                )
            items = info.get("scheduleItems")
            if isinstance(items, list):
                for item in items:
                    if not isinstance(item, dict) or str(item.get("status", "")).lower() not in BUSY_STATUSES:
                        continue
                    try:
                        s, e = _when(item.get("start")), _when(item.get("end"))
                    except ValueError:
                        continue
                    s, e = max(s, a), min(e, b)
                    if e > s:
                        out.append(Interval(s, e))
            elif isinstance(info.get("availabilityView"), str):
                out += [iv for iv in from_view(info["availabilityView"], a) if iv.start < b]
        return sorted(out)

    return busy


def _same(a: object, b: str) -> bool:
    return isinstance(a, str) and a.strip().lower() == b.strip().lower()
