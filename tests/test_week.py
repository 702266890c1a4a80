"""Ideal-week expansion across DST gaps and folds in several zones."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idealweek.config import ProtectRule, Window
from idealweek.model import Policy
from idealweek.week import expand_rules, expand_windows, iso_week_bounds, local_instant, week_start_from_label

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"]


def rule(start: str, end: str, days: str = "mon-sun") -> ProtectRule:
    return ProtectRule.model_validate({"days": days, "start": start, "end": end, "category": "family"})


def utc_range(zone: ZoneInfo, d0: date, days: int) -> tuple[datetime, datetime]:
    return local_instant(d0, time(0), zone), local_instant(d0 + timedelta(days=days), time(0), zone)


@pytest.mark.parametrize("name", ZONES)
def test_whole_days_sum_to_the_year_and_transition_days_differ(name: str) -> None:
    """A 00:00–24:00 rule gives one block per local day whose lengths add up to the real year, DST days differing."""
    zone = ZoneInfo(name)
    start, end = utc_range(zone, date(2026, 1, 1), 365)
    blocks = [b for b in expand_rules([rule("00:00", "24:00")], start, end, zone) if start <= b.start < end]
    assert len(blocks) == 365
    assert sum(((b.end - b.start) for b in blocks), timedelta(0)) == end - start
    odd = [b for b in blocks if b.end - b.start != timedelta(hours=24)]
    assert len(odd) == 2  # spring forward and fall back
    for a, b in itertools.pairwise(blocks):
        assert a.end == b.start


def test_berlin_spring_forward_gap_shifts_start_forward() -> None:
    """On 29 Mar 2026 in Berlin, 02:30 does not exist: the block starts at 03:30 (shifted by the gap), ends 04:00."""
    zone = ZoneInfo("Europe/Berlin")
    start, end = utc_range(zone, date(2026, 3, 29), 1)
    [b] = expand_rules([rule("02:30", "04:00")], start, end, zone)
    assert b.start.astimezone(zone).time() == time(3, 30)
    assert b.end.astimezone(zone).time() == time(4, 0)
    assert b.end - b.start == timedelta(minutes=30)


def test_berlin_fall_back_fold_counts_the_extra_hour() -> None:
    """On 25 Oct 2026 in Berlin, a 01:00–04:00 block really lasts 4 hours (02:00–03:00 happens twice)."""
    zone = ZoneInfo("Europe/Berlin")
    start, end = utc_range(zone, date(2026, 10, 25), 1)
    [b] = expand_rules([rule("01:00", "04:00")], start, end, zone)
    assert b.end - b.start == timedelta(hours=4)


def test_new_york_evening_block_keeps_local_time_across_transitions() -> None:
    """A 17:00–19:00 block stays at 17:00 local before and after the US switches, while UTC moves."""
    zone = ZoneInfo("America/New_York")
    start, end = utc_range(zone, date(2026, 3, 6), 4)
    blocks = expand_rules([rule("17:00", "19:00")], start, end, zone)
    assert [b.start.astimezone(zone).time() for b in blocks] == [time(17)] * len(blocks)
    assert len({b.start.hour for b in blocks}) == 2


def test_lord_howe_half_hour_shift() -> None:
    """Lord Howe's 30-minute DST change: a 01:00–03:00 block on 5 Apr 2026 lasts 2.5 h."""
    zone = ZoneInfo("Australia/Lord_Howe")
    start, end = utc_range(zone, date(2026, 4, 5), 1)
    [b] = expand_rules([rule("01:00", "03:00")], start, end, zone)
    assert b.end - b.start == timedelta(hours=2, minutes=30)


def test_chatham_quarter_hour_offset_and_gap() -> None:
    """Chatham (+12:45/+13:45): a 02:00–04:00 block on 27 Sep 2026 loses the 02:45–03:45 gap hour."""
    zone = ZoneInfo("Pacific/Chatham")
    start, end = utc_range(zone, date(2026, 9, 27), 1)
    [b] = expand_rules([rule("02:00", "04:00")], start, end, zone)
    assert b.end - b.start == timedelta(hours=1)
    assert b.start.astimezone(zone).time() == time(2, 0)


def test_overnight_window_runs_into_next_day() -> None:
    """An end written "+06:00" means the block runs past midnight into the next day."""
    zone = ZoneInfo("Europe/Berlin")
    start, end = utc_range(zone, date(2026, 6, 1), 1)
    blocks = expand_rules([rule("22:00", "+06:00", days="mon")], start, end, zone)
    assert blocks and blocks[0].end - blocks[0].start == timedelta(hours=8)
    flagged = ProtectRule.model_validate(
        {"days": "mon", "start": "22:00", "end": "06:00", "overnight": True, "category": "family"}
    )
    assert expand_rules([flagged], start, end, zone) == blocks


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(0, 23 * 4 - 1),
    st.integers(1, 16),
)
def test_blocks_start_on_the_rule_time_or_just_after_a_gap(name: str, day: date, q: int, length_q: int) -> None:
    """Every block starts at the rule's wall time (or later, inside a DST gap) and has a sane length."""
    zone = ZoneInfo(name)
    s = time(q // 4, (q % 4) * 15)
    e_minutes = min(q * 15 + length_q * 15, 24 * 60 - 15)
    if e_minutes <= q * 15:
        return
    e = time(e_minutes // 60, e_minutes % 60)
    r = rule(s.strftime("%H:%M"), e.strftime("%H:%M"))
    start, end = utc_range(zone, day, 1)
    blocks = [b for b in expand_rules([r], start, end, zone) if b.start.astimezone(zone).date() == day]
    wall = timedelta(minutes=e_minutes - q * 15)
    for b in blocks:
        local = b.start.astimezone(zone)
        assert local.time() >= s
        assert timedelta(0) < b.end - b.start <= wall + timedelta(hours=1)
        assert b.policy == Policy.CATCH_UP


def test_windows_clip_to_range_and_week_labels() -> None:
    """Windows are clipped to the range; ISO week labels round-trip."""
    zone = ZoneInfo("Europe/Berlin")
    w = Window.model_validate({"days": "mon-fri", "start": "09:00", "end": "17:00"})
    start = local_instant(date(2026, 11, 23), time(12), zone)
    ivs = expand_windows([w], start, start + timedelta(hours=3), zone)
    assert ivs[0].start == start and ivs[0].end == start + timedelta(hours=3)
    ws = week_start_from_label("2026-W48", zone)
    assert iso_week_bounds(ws + timedelta(days=3), zone)[0] == ws
    with pytest.raises(ValueError):
        week_start_from_label("2026-48", zone)
