"""Recurrence expansion over a window, shared by every ICS reader: iCalendar data → Events.

:func:`parse_ics` turns the bytes of one iCalendar file into provider-neutral
:class:`~idealweek.model.Event` values, one per occurrence inside a window.  It
is lenient the way real-world files need: a bad event is skipped with a
``ics.event_skipped`` warning naming the source and the UID, and the rest of
the file is used.  Only a file that is not a calendar at all raises
:class:`~idealweek.errors.ProviderError`.

Time zones follow :mod:`idealweek.providers.ics.zones`; an all-day event (DATE
values) runs from local midnight to midnight in the configured zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.model import Event
from idealweek.providers.ics.convert import NO_UID, Ctx, mark_exact_durations, to_event, warn
from idealweek.providers.ics.repair import fingerprint, read_calendars
from idealweek.providers.ics.zones import floating_zone, normalise_x_wr_timezone

if TYPE_CHECKING:
    import icalendar
    from icalendar import Component

log = structlog.get_logger(__name__)

DEFAULT_LOOKBACK = timedelta(days=15)
"""History read by default: last ISO week (the planner's focus count) and the catch-up look-back."""
DEFAULT_AHEAD = timedelta(days=16)
"""Future read by default: the 14-day planning horizon plus a margin."""

Window = tuple[datetime, datetime]

_SINGLE_VALUED = ("UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "SUMMARY", "STATUS", "TRANSP", "CLASS")


def default_window(now: datetime, lookback: timedelta = DEFAULT_LOOKBACK, ahead: timedelta = DEFAULT_AHEAD) -> Window:
    """The read window: the planning window plus the history the planner and ``review`` need, on whole UTC days.

    Occurrences are expanded over this window only.  Rounding to the day keeps
    the change token stable within a day.
    """
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - lookback, day + ahead + timedelta(days=1)


# --------------------------------------------------------------------------- parsing


def _normalise(comp: icalendar.cal.Component) -> None:
    for key in _SINGLE_VALUED:
        value = comp.get(key)
        if isinstance(value, list) and value:
            comp[key] = value[0]


def _uid_of(comp: icalendar.cal.Component) -> str:
    value = comp.get("UID")
    return str(value).strip() if value is not None else ""


def _prepare(cal: icalendar.Calendar, ctx: Ctx, default_uid: str) -> tuple[dict[str, list[Component]], set[str]]:
    """Group VEVENTs by UID (giving UID-less ones one), normalise, note recurring series.

    Events without DTSTART are removed from the calendar with a warning.
    """
    groups: dict[str, list[Component]] = {}
    recurring: set[str] = set()
    for comp in list(cal.subcomponents):
        if comp.name == "VEVENT" and comp.get("DTSTART") is None:
            warn(ctx, _uid_of(comp), "no DTSTART")
            cal.subcomponents.remove(comp)
    for n, comp in enumerate(cal.walk("VEVENT")):
        _normalise(comp)
        uid = _uid_of(comp)
        if not uid:
            if default_uid:
                uid = default_uid if n == 0 else f"{default_uid}-{n}"
            else:
                uid = NO_UID + hashlib.sha256(comp.to_ical()).hexdigest()[:16]
            comp["UID"] = uid
        groups.setdefault(uid, []).append(comp)
        if any(k in comp for k in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(uid)
    return groups, recurring


MAX_OCCURRENCES = 20_000
"""Occurrences one calendar may expand to inside the window; more is refused as hostile input."""
_SUB_HOURLY = ("SECONDLY", "MINUTELY")


_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")


def _check_rules(cal: icalendar.Calendar) -> None:
    """Refuse sub-hourly rules; drop BYHOUR/BYMINUTE/BYSECOND from rules of all-day events.

    RFC 5545 §3.3.10: those parts MUST NOT be used with a DATE start; dateutil would
    repeat the day once per minute listed.
    """
    for comp in cal.walk("VEVENT"):
        rules = comp.get("RRULE")
        all_day = not isinstance(getattr(comp.get("DTSTART"), "dt", None), datetime)
        for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
            freq = [str(f).upper() for f in (rule.get("FREQ") or [])]
            if any(f in _SUB_HOURLY for f in freq):
                raise ValueError(f"recurrence FREQ={freq[0]} is refused (rules more often than hourly are not read)")
            if all_day:
                for part in _TIME_PARTS:
                    rule.pop(part, None)


def _expand(cal: icalendar.Calendar, lo: datetime, hi: datetime) -> list[Component]:
    """Occurrences in ``[lo, hi)``; refuses sub-hourly rules and more than :data:`MAX_OCCURRENCES`.

    Each series is expanded with its ``between`` generator over the window only
    (what ``CalendarQuery.between`` does, but counted as it goes, so a runaway
    rule stops at the cap instead of being computed in full).
    """
    import recurring_ical_events

    _check_rules(cal)
    mark_exact_durations(cal)
    out: list[Component] = []
    for series in recurring_ical_events.of(cal).series:
        for occ in series.between(lo, hi):
            out.append(occ.as_component(False))
            if len(out) > MAX_OCCURRENCES:
                raise ValueError(f"more than {MAX_OCCURRENCES} occurrences in the window: refused")
    return out


def _subcalendar(cal: icalendar.Calendar, comps: Sequence[Component]) -> icalendar.Calendar:
    import icalendar

    sub = icalendar.Calendar()
    for key, value in cal.items():
        sub[key] = value
    for tz in cal.walk("VTIMEZONE"):
        sub.add_component(tz)
    for comp in comps:
        sub.add_component(comp)
    return sub


def _in_window(ev: Event, lo: datetime, hi: datetime) -> bool:
    if ev.start == ev.end:
        return lo <= ev.start < hi
    return ev.start < hi and ev.end > lo


def _events_of_group(
    cal: icalendar.Calendar, uid: str, comps: Sequence[Component], ctx: Ctx, recurring: bool, lo: datetime, hi: datetime
) -> list[Event]:
    try:
        occurrences = _expand(_subcalendar(cal, comps), lo, hi)
    except Exception as exc:  # noqa: BLE001 - one bad series must not hide the others
        warn(ctx, uid, f"cannot expand: {type(exc).__name__}: {exc}"[:300])
        return []
    return _convert(occurrences, ctx, {uid} if recurring else set())


def _convert(occurrences: Iterable[Component], ctx: Ctx, recurring: set[str]) -> list[Event]:
    out: list[Event] = []
    failed: set[str] = set()
    for occ in occurrences:
        series = _uid_of(occ)
        try:
            ev = to_event(occ, ctx, series, series in recurring)
        except Exception as exc:  # noqa: BLE001
            if series not in failed:
                failed.add(series)
                warn(ctx, series, f"{type(exc).__name__}: {exc}"[:300])
            continue
        if ev is not None:
            out.append(ev)
    return out


def expand_events(
    ical: str | bytes | icalendar.Calendar | Sequence[icalendar.Calendar],
    *,
    calendar: str,
    zone: ZoneInfo,
    window: Window,
    source: str = "",
    etag: str | None = None,
    default_uid: str = "",
) -> list[Event]:
    """All event occurrences of iCalendar data that touch ``window``, in UTC: the one entry point for every reader.

    ``ical`` is iCalendar text (repaired and parsed as :func:`parse_ics` does)
    or calendars already parsed by icalendar (their VEVENTs are normalised in
    place: UIDs given, duplicate single-valued properties dropped).  Floating
    times are read in the calendar's ``X-WR-TIMEZONE`` or ``zone``; all-day
    events span local midnights in ``zone``.  Cancelled occurrences are left
    out; a bad event is skipped with an ``ics.event_skipped`` warning naming
    ``source`` and its UID.  ``etag`` goes onto every event (default: a hash
    of the text, or empty for parsed calendars); ``default_uid`` names an
    event without UID (vdir: the file name).
    """
    import icalendar

    lo, hi = window
    # Floating and all-day times are only placed in a zone after expansion: query two days wider.
    margin = timedelta(days=2)
    qlo = lo - margin if lo > datetime.min.replace(tzinfo=UTC) + margin else lo
    qhi = hi + margin if hi < datetime.max.replace(tzinfo=UTC) - margin else hi
    if isinstance(ical, (str, bytes)):
        data = ical.encode() if isinstance(ical, str) else ical
        cals = read_calendars(data, source, (qlo, qhi))
        tag = etag if etag is not None else fingerprint(data)
    else:
        cals = [ical] if isinstance(ical, icalendar.Calendar) else list(ical)
        tag = etag or ""
    events: list[Event] = []
    for cal in cals:
        normalise_x_wr_timezone(cal, source)
        ctx = Ctx(source, calendar, zone, floating_zone(cal, zone), tag)
        groups, recurring = _prepare(cal, ctx, default_uid)
        if not groups:
            continue
        try:
            occurrences = _expand(cal, qlo, qhi)
        except Exception:  # noqa: BLE001 - retry series by series to find the bad one
            for uid, comps in groups.items():
                events += _events_of_group(cal, uid, comps, ctx, uid in recurring, qlo, qhi)
        else:
            events += _convert(occurrences, ctx, recurring)
    return _unique([e for e in events if _in_window(e, lo, hi)])


def parse_ics(
    data: bytes,
    *,
    source: str,
    calendar: str,
    zone: ZoneInfo,
    window: Window,
    etag: str | None = None,
    default_uid: str = "",
) -> list[Event]:
    """All event occurrences of one iCalendar file that touch ``window``, in UTC.

    Cancelled occurrences are left out.  Bad events are skipped with a
    warning; :class:`ProviderError` only when ``data`` is not a calendar.
    ``default_uid`` names an event that has no UID (vdir: the file name).
    """
    return expand_events(
        data, calendar=calendar, zone=zone, window=window, source=source, etag=etag, default_uid=default_uid
    )


def _unique(events: list[Event]) -> list[Event]:
    """Give each event a unique uid (several VEVENTs with one UID and no RECURRENCE-ID exist)."""
    seen: set[str] = set()
    out: list[Event] = []
    for ev in sorted(events, key=lambda e: (e.uid, e.start, e.end, e.title)):
        uid = ev.uid
        if uid in seen:
            uid = f"{ev.series or ev.uid}@{ev.start:%Y%m%dT%H%M%SZ}"
            if uid in seen:
                continue
            from dataclasses import replace

            ev = replace(ev, uid=uid)
        seen.add(uid)
        out.append(ev)
    return out


__all__ = [
    "DEFAULT_AHEAD",
    "DEFAULT_LOOKBACK",
    "MAX_OCCURRENCES",
    "Clock",
    "Window",
    "default_window",
    "expand_events",
    "parse_ics",
    "system_clock",
]
