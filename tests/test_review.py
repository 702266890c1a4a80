"""Week statistics over three weeks of real cycles, against figures worked out by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.engine import Engine
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.review import ReviewRow, render_html, render_json, render_table, review_rows
from idealweek.store import Store
from idealweek.weekstats import finalise_weeks
from tests.scenario import meeting
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 2, 12, 0, tzinfo=BERLIN)
"""2026-W45; the scenario runs through W45, W46 and W47."""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return (MONDAY + timedelta(days=day)).replace(hour=hour, minute=minute)


def run_three_weeks(tmp: Path) -> tuple[Store, datetime]:
    """Cycles at noon every day for three weeks, weeks finalised as the daemon's daily job does."""
    s = make_settings()
    work, home = MemoryCalendar(), MemoryCalendar()
    # W45: Monday 17:30-18:30 cuts 60 min from family (17:00-19:00, catch-up)
    work.user_put(meeting(at(0, 17, 30), 60, uid="w45-late"))
    # W46: Tuesday 07:00-07:20 cuts the run (rounded up to 30); Wednesday 15:00-15:30 hits the hard pick-up
    work.user_put(meeting(at(8, 7), 20, uid="w46-early"))
    work.user_put(meeting(at(9, 15), 30, uid="w46-pickup"))
    # W47: a meeting outside every block
    work.user_put(meeting(at(14, 10), 90, uid="w47-plain"))
    store = Store(tmp / "state.sqlite3")
    clock = [at(0, 12)]
    providers = {"work": MemoryProvider("work", work), "home": MemoryProvider("home", home)}
    engine = Engine(s, store, providers, clock=lambda: clock[0])
    for day in range(21):
        clock[0] = at(day, 12)
        report = engine.cycle()
        assert report.ok, report.failed
        finalise_weeks(store, BERLIN, clock[0])
    return store, clock[0]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[ReviewRow]:
    store, now = run_three_weeks(tmp_path_factory.mktemp("review"))
    try:
        return review_rows(store, now, make_settings(), 3)
    finally:
        store.close()


def test_review_covers_the_last_weeks_oldest_first(rows: list[ReviewRow]) -> None:
    """Three weeks asked, three weeks given, the running one marked as current."""
    assert [r.week for r in rows] == ["2026-W45", "2026-W46", "2026-W47"]
    assert [r.current for r in rows] == [False, False, True]


def test_protected_kept_and_lost_match_the_hand_count(rows: list[ReviewRow]) -> None:
    """12.5 h planned a week (5x2 h family, 2x1 h run, 0.5 h pick-up); lost 60, 60 (30 run + 30 hard), 0."""
    assert [r.protected_min for r in rows] == [750, 750, 750]
    assert [r.lost_min for r in rows] == [60, 60, 0]
    assert [r.kept_min for r in rows] == [690, 690, 750]
    assert [r.violations for r in rows] == [0, 1, 0]
    assert [r.violation_min for r in rows] == [0, 30, 0]


def test_made_up_and_debt_match_the_hand_count(rows: list[ReviewRow]) -> None:
    """The 60 family minutes are made up Monday 19:30-20:30; the 30 run minutes Wednesday 06:00-06:30; none open."""
    assert [r.made_up_min for r in rows] == [60, 30, 0]
    assert [r.debt_min for r in rows] == [60, 30, 0]  # the hard block's 30 min are a violation, not debt
    assert [r.debt_open_min + r.debt_overdue_min + r.debt_waived_min for r in rows] == [0, 0, 0]


def test_meeting_and_focus_hours(rows: list[ReviewRow]) -> None:
    """Meetings: 60, 50 and 90 minutes; focus target 4 h each week, planned and kept in full (no meeting on it)."""
    assert [r.meeting_min for r in rows] == [60, 50, 90]
    assert [r.focus_target_min for r in rows] == [240, 240, 240]
    assert [r.focus_planned_min for r in rows[:2]] == [240, 240]
    assert [r.focus_kept_min for r in rows[:2]] == [240, 240]


def test_table_json_and_html_forms(rows: list[ReviewRow]) -> None:
    """The table sums the weeks (2130 of 2250 min kept: 95%); JSON carries minutes; one bar per week and series."""
    table = render_table(rows)
    assert table.splitlines()[0].split()[:4] == ["week", "planned", "h", "kept"]
    assert "2026-W47*" in table and "total" in table and "Kept 95% of the planned protected time" in table
    data = json.loads(render_json(rows))
    assert data[1]["lost_min"] == 60 and data[1]["violations"] == 1
    html = render_html(rows)
    assert html.count('class="bar" data-series="kept"') == 3
    assert html.count('data-series="focus_kept"') == 3 and html.count('class="target"') == 3
    assert "<script" not in html and "src=" not in html


def test_review_without_history_says_so() -> None:
    """With no recorded weeks the table explains where the figures come from."""
    assert "No week statistics yet" in render_table([])
    assert "No week statistics yet" in render_html([])


def test_weeks_before_the_first_run_are_not_counted(tmp_path: Path) -> None:
    """The week before idealweek first ran is neither saved nor shown (no 'focus 0 of 4 h', no 'made up' for it)."""
    store, now = run_three_weeks(tmp_path)
    try:
        assert store.first_run() == at(0, 12)
        assert "2026-W44" not in store.weeks()
        assert [r.week for r in review_rows(store, now, make_settings(), 5)] == ["2026-W45", "2026-W46", "2026-W47"]
    finally:
        store.close()


def test_old_database_counts_from_its_oldest_record(tmp_path: Path) -> None:
    """A database from before the first run was kept takes its oldest record as the first run: a week saved
    then that had already ended is left out of review."""
    s = make_settings()
    store = Store(tmp_path / "state.sqlite3")
    with store.transaction():
        store.save_week("2026-W44", {"protected_min": 750, "focus_target_min": 240, "focus_kept_min": 0}, at(0, 12))
        store.save_week("2026-W45", {"protected_min": 750}, at(0, 12))
    providers = {"work": MemoryProvider("work", MemoryCalendar()), "home": MemoryProvider("home", MemoryCalendar())}
    engine = Engine(s, store, providers, clock=lambda: at(2, 12))
    assert engine.cycle(dry_run=True).ok
    try:
        assert store.first_run() == at(0, 12)
        assert [r.week for r in review_rows(store, at(2, 12), s, 3)] == ["2026-W45"]
    finally:
        store.close()
