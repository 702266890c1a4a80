"""Interval algebra and slot search, checked against minute sets."""

from __future__ import annotations

import itertools
from datetime import timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from idealweek import timeline
from idealweek.model import Interval, utc

T0 = utc(2030, 1, 7)
UTCZ = ZoneInfo("UTC")

intervals = st.lists(
    st.tuples(st.integers(0, 300), st.integers(1, 60)).map(
        lambda p: Interval(T0 + timedelta(minutes=p[0]), T0 + timedelta(minutes=p[0] + p[1]))
    ),
    max_size=12,
)


def minutes(ivs: list[Interval]) -> set[int]:
    out: set[int] = set()
    for iv in ivs:
        a = int((iv.start - T0).total_seconds() // 60)
        b = int((iv.end - T0).total_seconds() // 60)
        out.update(range(a, b))
    return out


@given(intervals)
def test_union_is_sorted_disjoint_and_covers_the_same_minutes(ivs: list[Interval]) -> None:
    """union() returns sorted, non-touching intervals covering exactly the input minutes."""
    u = timeline.union(ivs)
    assert minutes(u) == minutes(ivs)
    for a, b in itertools.pairwise(u):
        assert a.end < b.start


@given(intervals, intervals)
def test_subtract_and_intersect_match_set_algebra(a: list[Interval], b: list[Interval]) -> None:
    """subtract() and intersect() agree with set difference and intersection of minutes."""
    ua, ub = timeline.union(a), timeline.union(b)
    assert minutes(timeline.subtract(ua, ub)) == minutes(ua) - minutes(ub)
    assert minutes(timeline.intersect(ua, ub)) == minutes(ua) & minutes(ub)


@given(intervals, st.integers(0, 300), st.integers(1, 60))
def test_remove_in_place_matches_subtract(a: list[Interval], s: int, length: int) -> None:
    """remove() takes one interval out of a free list exactly like subtract()."""
    free = timeline.union(a)
    taken = Interval(T0 + timedelta(minutes=s), T0 + timedelta(minutes=s + length))
    expected = timeline.subtract(free, [taken])
    timeline.remove(free, taken)
    assert free == expected


@settings(max_examples=50)
@given(intervals, st.integers(15, 90))
def test_find_slot_returns_aligned_free_slot(a: list[Interval], length: int) -> None:
    """find_slot() returns a grid-aligned slot of the asked length that lies inside free time."""
    free = timeline.union(a)
    step = timedelta(minutes=15)
    iv = timeline.find_slot(free, timedelta(minutes=length), T0, T0 + timedelta(hours=8), step, UTCZ)
    if iv is None:
        return
    assert iv.duration == timedelta(minutes=length)
    assert iv.start.minute % 15 == 0
    assert minutes([iv]) <= minutes(free)


def test_find_slot_prefers_earliest_or_latest() -> None:
    """The earliest fitting slot is chosen, or the latest when asked."""
    free = [Interval(T0, T0 + timedelta(hours=1)), Interval(T0 + timedelta(hours=3), T0 + timedelta(hours=5))]
    step = timedelta(minutes=15)
    hour = timedelta(hours=1)
    first = timeline.find_slot(free, hour, T0, T0 + timedelta(hours=6), step, UTCZ)
    last = timeline.find_slot(free, hour, T0, T0 + timedelta(hours=6), step, UTCZ, latest=True)
    assert first == Interval(T0, T0 + hour)
    assert last == Interval(T0 + timedelta(hours=4), T0 + timedelta(hours=5))


def test_alignment_follows_local_wall_clock_in_offset_zones() -> None:
    """In a +05:45 zone the 15-minute grid is on local :00/:15/:30/:45, not UTC's."""
    kathmandu = ZoneInfo("Asia/Kathmandu")
    t = utc(2030, 1, 7, 3, 1)
    aligned = timeline.align_up(t, timedelta(minutes=15), kathmandu)
    assert aligned.astimezone(kathmandu).minute % 15 == 0
    assert aligned >= t and aligned - t < timedelta(minutes=15)


def test_round_up_minutes_to_granularity() -> None:
    """Lost minutes round up to the granularity; zero stays zero."""
    g = timedelta(minutes=15)
    assert timeline.round_up_minutes(40, g) == 45
    assert timeline.round_up_minutes(45, g) == 45
    assert timeline.round_up_minutes(0.5, g) == 15
    assert timeline.round_up_minutes(0, g) == 0
