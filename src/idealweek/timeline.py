"""Interval algebra and free-slot search (pure).

Interval lists are sorted, disjoint lists of :class:`~idealweek.model.Interval`
(the result of :func:`union`).  Everything is O(n log n) or better so the
planner stays fast on large calendars.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from idealweek.model import Interval


def union(intervals: Iterable[tuple[datetime, datetime]]) -> list[Interval]:
    """Merge overlapping or touching intervals (or plain ``(start, end)`` pairs) into a sorted, disjoint list."""
    items = sorted(intervals)
    out: list[Interval] = []
    cur_s: datetime | None = None
    cur_e: datetime | None = None
    for s, e in items:
        if e <= s:
            continue
        if cur_e is not None and s <= cur_e:
            if e > cur_e:
                cur_e = e
        else:
            if cur_s is not None and cur_e is not None:
                out.append(Interval(cur_s, cur_e))
            cur_s, cur_e = s, e
    if cur_s is not None and cur_e is not None:
        out.append(Interval(cur_s, cur_e))
    return out


def total(intervals: Iterable[Interval]) -> timedelta:
    """Summed length of a disjoint list."""
    return sum((iv.duration for iv in intervals), timedelta(0))


def clip(intervals: Sequence[Interval], window: Interval) -> list[Interval]:
    """The parts of a sorted disjoint list inside ``window``."""
    starts = [iv.start for iv in intervals]
    i = max(bisect.bisect_right(starts, window.start) - 1, 0)
    out: list[Interval] = []
    while i < len(intervals) and intervals[i].start < window.end:
        iv = intervals[i]
        s, e = max(iv.start, window.start), min(iv.end, window.end)
        if e > s:
            out.append(Interval(s, e))
        i += 1
    return out


def subtract(base: Sequence[Interval], remove: Sequence[Interval]) -> list[Interval]:
    """``base`` minus ``remove`` (both sorted and disjoint)."""
    out: list[Interval] = []
    j = 0
    for iv in base:
        cur = iv.start
        while j < len(remove) and remove[j].end <= cur:
            j += 1
        k = j
        while k < len(remove) and remove[k].start < iv.end:
            r = remove[k]
            if r.start > cur:
                out.append(Interval(cur, r.start))
            cur = max(cur, r.end)
            if cur >= iv.end:
                break
            k += 1
        if cur < iv.end:
            out.append(Interval(cur, iv.end))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sorted disjoint lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i].start, b[j].start), min(a[i].end, b[j].end)
        if e > s:
            out.append(Interval(s, e))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return out


def overlaps_any(intervals: Sequence[Interval], starts: Sequence[datetime], iv: Interval) -> bool:
    """Does ``iv`` overlap any interval of a sorted disjoint list (``starts`` = its start times)?"""
    i = bisect.bisect_left(starts, iv.end)
    return i > 0 and intervals[i - 1].end > iv.start


def align_up(t: datetime, step: timedelta, zone: ZoneInfo) -> datetime:
    """Round ``t`` up to a multiple of ``step`` on the local wall clock (e.g. :00, :15, :30, :45)."""
    s = int(step.total_seconds())
    off = int((t.astimezone(zone).utcoffset() or timedelta(0)).total_seconds())
    local = t.timestamp() + off
    return datetime.fromtimestamp(math.ceil(local / s) * s - off, UTC)


def align_down(t: datetime, step: timedelta, zone: ZoneInfo) -> datetime:
    """Round ``t`` down to a multiple of ``step`` on the local wall clock."""
    s = int(step.total_seconds())
    off = t.astimezone(zone).utcoffset() or timedelta(0)
    local = int(t.timestamp()) + int(off.total_seconds())
    return datetime.fromtimestamp((local // s) * s - int(off.total_seconds()), UTC)


def round_up_minutes(minutes: float, step: timedelta) -> int:
    """Round a number of minutes up to a multiple of ``step``."""
    g = int(step.total_seconds() // 60)
    return int(math.ceil(round(minutes, 6) / g) * g) if minutes > 0 else 0


def find_slot(
    free: Sequence[Interval],
    length: timedelta,
    lo: datetime,
    hi: datetime,
    step: timedelta,
    zone: ZoneInfo,
    latest: bool = False,
    skip: frozenset[datetime] = frozenset(),
) -> Interval | None:
    """The earliest (or latest) aligned slot of ``length`` inside ``free``, within ``[lo, hi]``.

    ``skip`` lists start times that must not be used (e.g. keys the user deleted).
    """
    order = reversed(free) if latest else iter(free)
    for iv in order:
        s0, e0 = max(iv.start, lo), min(iv.end, hi)
        if e0 - s0 < length:
            continue
        if latest:
            start = align_down(e0 - length, step, zone)
            while start >= s0:
                if start not in skip:
                    return Interval(start, start + length)
                start -= step
        else:
            start = align_up(s0, step, zone)
            while start + length <= e0:
                if start not in skip:
                    return Interval(start, start + length)
                start += step
    return None


def largest_piece(
    free: Sequence[Interval],
    lo: datetime,
    hi: datetime,
    minimum: timedelta,
    step: timedelta,
    zone: ZoneInfo,
    latest: bool = False,
) -> Interval | None:
    """The first (or last) aligned free piece at least ``minimum`` long, as long as it can be."""
    order = reversed(free) if latest else iter(free)
    for iv in order:
        s = align_up(max(iv.start, lo), step, zone)
        e = align_down(min(iv.end, hi), step, zone)
        if e - s >= minimum:
            return Interval(s, e)
    return None


def remove(free: list[Interval], taken: Interval) -> None:
    """Remove ``taken`` from a sorted disjoint list in place."""
    starts = [iv.start for iv in free]
    i = max(bisect.bisect_right(starts, taken.start) - 1, 0)
    new: list[Interval] = []
    j = i
    while j < len(free) and free[j].start < taken.end:
        iv = free[j]
        if iv.end <= taken.start:
            new.append(iv)
        else:
            if iv.start < taken.start:
                new.append(Interval(iv.start, taken.start))
            if iv.end > taken.end:
                new.append(Interval(taken.end, iv.end))
        j += 1
    free[i:j] = new
