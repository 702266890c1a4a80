"""One VEVENT occurrence → one :class:`~idealweek.model.Event` (times, status, tag, recurrence id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from idealweek.model import TAG_PROPERTY, Event, OwnedTag, Response, Status
from idealweek.providers.ics.zones import fix_zone

if TYPE_CHECKING:
    from icalendar import Calendar, Component

log = structlog.get_logger(__name__)

NO_UID = "nouid-"
"""Prefix of the uid given to an event that has none."""

TAG_ICS_PROPERTY = "X-" + TAG_PROPERTY.upper()
"""The X- property that carries idealweek's ownership tag in ICS data."""


@dataclass(frozen=True, slots=True)
class Ctx:
    """Where occurrences come from and how to place them."""

    source: str
    calendar: str
    zone: ZoneInfo
    floating: tzinfo
    etag: str


def warn(ctx: Ctx, uid: str, reason: str) -> None:
    """Log that the event ``uid`` of ``ctx.source`` was skipped, and why."""
    shown = "(no UID)" if not uid or uid.startswith(NO_UID) else uid
    log.warning("ics.event_skipped", source=ctx.source, uid=shown, reason=reason)


def _dt(comp: Component, key: str) -> date | datetime | None:
    prop = comp.get(key)
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, date):
        return value
    return None


def _text(comp: Component, key: str) -> str:
    value = comp.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def _rid_text(value: date | datetime, floating: tzinfo) -> str:
    if isinstance(value, datetime):
        return fix_zone(value, floating).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


EXACT_DURATION = "X-IDEALWEEK-EXACT-DURATION"
"""Where :func:`mark_exact_durations` keeps a VEVENT's DURATION through the expansion library."""


def mark_exact_durations(cal: Calendar) -> None:
    """Copy the DURATION of each VEVENT without DTEND to :data:`EXACT_DURATION`.

    recurring-ical-events replaces DURATION by a DTEND computed in wall-clock
    time, which is wrong across a DST change (RFC 5545 §3.3.6: hours, minutes
    and seconds are exact).  The copy travels with every occurrence, so
    :func:`to_event` can compute the end again from the original duration.
    """
    for comp in cal.walk("VEVENT"):
        comp.pop(EXACT_DURATION, None)
        prop = comp.get("DURATION")
        if comp.get("DTEND") is None and prop is not None and isinstance(getattr(prop, "dt", None), timedelta):
            comp[EXACT_DURATION] = str(int(prop.dt.total_seconds()))


def _exact_duration(occ: Component) -> timedelta | None:
    raw = occ.get(EXACT_DURATION)
    try:
        return timedelta(seconds=max(0, int(str(raw)))) if raw is not None else None
    except ValueError:
        return None


def _end_after(start: datetime, duration: timedelta) -> datetime:
    """RFC 5545 §3.3.6: whole days of a duration are nominal (same wall-clock time), the rest is exact."""
    nominal = start + timedelta(days=duration.days)
    return nominal.astimezone(UTC) + (duration - timedelta(days=duration.days))


def to_event(occ: Component, ctx: Ctx, series: str, recurring: bool) -> Event | None:
    """One occurrence → Event; None when cancelled.  Raises on malformed data."""
    status_text = _text(occ, "STATUS").upper()
    if status_text == "CANCELLED":
        return None
    start_raw = _dt(occ, "DTSTART")
    if start_raw is None:
        raise ValueError("no DTSTART")
    end_raw = _dt(occ, "DTEND")
    duration: timedelta | None = None
    duration_prop = occ.get("DURATION")
    if end_raw is None and duration_prop is not None:
        dur = duration_prop.dt
        if isinstance(dur, timedelta):
            duration = dur
    all_day = not isinstance(start_raw, datetime)
    if all_day:
        start = datetime.combine(start_raw, time(), ctx.zone)
        if isinstance(end_raw, datetime):
            end_day = fix_zone(end_raw, ctx.zone).astimezone(ctx.zone).date()
        elif isinstance(end_raw, date):
            end_day = end_raw
        elif duration is not None:
            end_day = start_raw + timedelta(days=max(1, duration.days))
        else:
            end_day = start_raw + timedelta(days=1)
        if end_day <= start_raw:
            end_day = start_raw + timedelta(days=1)
        end = datetime.combine(end_day, time(), ctx.zone)
    else:
        assert isinstance(start_raw, datetime)
        start = fix_zone(start_raw, ctx.floating)
        exact = _exact_duration(occ)
        if exact is not None:
            end = _end_after(start, exact)
        elif isinstance(end_raw, datetime):
            end = fix_zone(end_raw, start.tzinfo or ctx.floating)
        elif isinstance(end_raw, date):
            end = datetime.combine(end_raw, time(), start.tzinfo)
        elif duration is not None:
            end = _end_after(start, duration)
        else:
            end = start
    rid = ""
    if recurring:
        rid_raw = _dt(occ, "RECURRENCE-ID") or start_raw
        rid = _rid_text(rid_raw, ctx.floating)
    uid = f"{series}@{rid}" if rid else series
    tag = decode_tag(_text(occ, TAG_ICS_PROPERTY))
    attendees = occ.get("ATTENDEE")
    n_att = len(attendees) if isinstance(attendees, list) else (1 if attendees is not None else 0)
    return Event(
        calendar=ctx.calendar,
        uid=uid,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        title=_text(occ, "SUMMARY"),
        description=_text(occ, "DESCRIPTION"),
        location=_text(occ, "LOCATION"),
        all_day=all_day,
        status=Status.TENTATIVE if status_text == "TENTATIVE" else Status.CONFIRMED,
        busy=_text(occ, "TRANSP").upper() != "TRANSPARENT",
        response=Response.NONE,
        private=_text(occ, "CLASS").upper() in ("PRIVATE", "CONFIDENTIAL"),
        tag=tag,
        etag=ctx.etag,
        series=series,
        recurrence_id=rid,
        attendees=n_att,
    )


def decode_tag(text: str) -> OwnedTag | None:
    """The owned tag in an ``X-IDEALWEEK`` value; None when absent or invalid.

    Tolerates TEXT escaping (``\\,`` ``\\;``) added by other clients that rewrote the file.
    """
    if not text:
        return None
    problem = ""
    for candidate in (text, text.replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")):
        try:
            return OwnedTag.decode(candidate)
        except ValueError as exc:
            problem = problem or str(exc)
    log.warning("ics.bad_tag", problem=problem[:200], action="event left alone")
    return None


__all__ = ["NO_UID", "TAG_ICS_PROPERTY", "Ctx", "decode_tag", "mark_exact_durations", "to_event", "warn"]
