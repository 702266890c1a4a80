"""Ideal-week rules → concrete blocks over a horizon (pure, DST-aware).

A rule says "weekdays, local start, local end".  Each occurrence is built on
the local wall clock of the configured zone and then converted to UTC:

* a start or end that falls into a DST gap (it does not exist that day) is
  moved forward by the gap, as a wall clock would be set;
* a time that occurs twice (DST fold) is taken at its first occurrence;
* an ``overnight`` window (``end = "+07:00"``) ends on the next day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from idealweek.config import ProtectRule, Window
from idealweek.model import Block, Interval


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``zone`` (gap → shifted forward, fold → first)."""
    if at == time.max:
        naive = datetime.combine(day + timedelta(days=1), time(0))
    else:
        naive = datetime.combine(day, at)
    local = naive.replace(tzinfo=zone, fold=0)
    utc = local.astimezone(UTC)
    # In a gap, fold=0 resolves with the offset before the transition, which
    # lands *after* the gap on the wall clock: the forward shift we want.
    return utc


def window_occurrences(
    window: Window, start: datetime, end: datetime, zone: ZoneInfo
) -> Iterator[tuple[date, Interval]]:
    """Occurrences of a weekly window that overlap ``[start, end)`` (UTC), in order."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    day = first
    while day <= last:
        if day.weekday() in window.days:
            s = local_instant(day, window.start, zone)
            end_day = day + timedelta(days=1) if window.overnight else day
            e = local_instant(end_day, window.end, zone)
            if e > s and s < end and e > start:
                yield day, Interval(s, e)
        day += timedelta(days=1)


def expand_windows(windows: Iterable[Window], start: datetime, end: datetime, zone: ZoneInfo) -> list[Interval]:
    """All occurrences of several windows within ``[start, end)``, clipped, as a sorted list (may touch)."""
    out: list[Interval] = []
    for w in windows:
        for _day, iv in window_occurrences(w, start, end, zone):
            s, e = max(iv.start, start), min(iv.end, end)
            if e > s:
                out.append(Interval(s, e))
    out.sort(key=lambda iv: (iv.start, iv.end))
    return out


def expand_rules(rules: Iterable[ProtectRule], start: datetime, end: datetime, zone: ZoneInfo) -> list[Block]:
    """Protected blocks of the ideal week overlapping ``[start, end)`` (not clipped), sorted by start."""
    blocks: list[Block] = []
    for rule in rules:
        rid = rule.rule_id()
        for day, iv in window_occurrences(rule, start, end, zone):
            blocks.append(
                Block(
                    id=f"{rid}:{day.isoformat()}",
                    category=rule.category,
                    policy=rule.policy,
                    start=iv.start,
                    end=iv.end,
                    source="rule",
                    title=rule.title,
                )
            )
    blocks.sort(key=lambda b: (b.start, b.id))
    return blocks


def iso_week_bounds(t: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end (UTC) of the local ISO week (Monday 00:00 to next Monday 00:00) containing ``t``."""
    d = t.astimezone(zone).date()
    monday = d - timedelta(days=d.weekday())
    return local_instant(monday, time(0), zone), local_instant(monday + timedelta(days=7), time(0), zone)


def iso_week_label(t: datetime, zone: ZoneInfo) -> str:
    """``YYYY-Www`` of the local week containing ``t``."""
    y, w, _ = t.astimezone(zone).isocalendar()
    return f"{y}-W{w:02d}"


def week_monday(label: str) -> date:
    """The Monday of ISO week ``YYYY-Www``; raises ``ValueError`` saying what is wrong."""
    m = re.fullmatch(r"\s*(\d{4})-?W(\d{1,2})\s*", label.upper())
    if m is None:
        raise ValueError(f"invalid week {label!r}: write it like 2026-W48")
    year, week = int(m.group(1)), int(m.group(2))
    weeks = date(year, 12, 28).isocalendar()[1]  # 28 December is always in the year's last ISO week
    if not 1 <= week <= weeks:
        raise ValueError(f"week {week} does not exist in {year} (it has weeks 1 to {weeks})")
    return date.fromisocalendar(year, week, 1)


def week_start_from_label(label: str, zone: ZoneInfo) -> datetime:
    """UTC start of ISO week ``YYYY-Www``; raises ``ValueError`` when malformed."""
    return local_instant(week_monday(label), time(0), zone)


def week_ended_before(label: str, t: datetime, zone: ZoneInfo) -> bool:
    """Did ISO week ``YYYY-Www`` (local) end at or before ``t``?  A malformed label: no."""
    try:
        start = week_start_from_label(label, zone)
    except ValueError:
        return False
    return iso_week_bounds(start, zone)[1] <= t


def resolve_week(at: datetime, zone: ZoneInfo, label: str = "", offset_weeks: int = 0) -> datetime:
    """UTC start of the week a command asks for: ``--week YYYY-Www``, or this week ± ``offset_weeks``.

    Raises :class:`~idealweek.errors.UserError` for a malformed label.
    """
    if label:
        try:
            return week_start_from_label(label, zone)
        except ValueError as exc:
            from idealweek.errors import UserError

            raise UserError(str(exc)) from None
    start, _ = iso_week_bounds(at + timedelta(days=7 * offset_weeks), zone)
    return start
