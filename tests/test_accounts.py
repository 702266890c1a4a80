"""Failures stay per account (SPEC §6.11): one account's trouble fails its calendars only.

Whatever one calendar's read raises (a sign-in that is missing, an MSAL service error, a bug in a
client library), the others are read, planned and written as usual; the failed calendar keeps its
last known events, so it is never planned as empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.engine import Engine
from idealweek.model import Kind
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.store import Store
from tests.scenario import meeting
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
S = make_settings()


class ServiceTrouble(Exception):
    """Not one of idealweek's errors: what a client library might raise (say ``MsalServiceError``)."""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


class World:
    def __init__(self, tmp: Path) -> None:
        self.work, self.home = MemoryCalendar(), MemoryCalendar()
        self.now = START
        self.store = Store(tmp / "state.sqlite3")
        self.engine = self.make_engine()

    def make_engine(self) -> Engine:
        providers = {"work": MemoryProvider("work", self.work), "home": MemoryProvider("home", self.home)}
        return Engine(S, self.store, providers, clock=lambda: self.now)

    def makeups(self) -> list[str]:
        return sorted(e.uid for e in self.home.events.values() if e.tag and e.tag.kind == Kind.MAKEUP)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


def test_any_exception_from_one_calendar_fails_only_that_calendar(world: World) -> None:
    """A foreign exception with a multi-line message: one line in the report, the other calendar is written."""
    world.work.fail_next.append(ServiceTrouble("HTTP Error: 503\n<html>upstream trouble</html>"))
    report = world.engine.cycle()
    assert report.failed == {"work": "read failed: ServiceTrouble: HTTP Error: 503"}
    assert any(e.tag and e.tag.kind == Kind.BLOCK for e in world.home.events.values())
    assert report.applied and all(op.calendar == "home" for op in report.applied)


def test_failed_meetings_calendar_keeps_its_last_known_events(world: World) -> None:
    """While the meetings calendar cannot be read its intrusion still counts: the make-up stays, the debt stays."""
    world.engine.cycle()
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    booked = world.makeups()
    assert len(booked) == 1
    for engine in (world.engine, world.make_engine()):  # the running daemon, and a fresh process
        world.now += timedelta(minutes=5)
        world.work.fail_next.append(ServiceTrouble("token refresh failed"))
        report = engine.cycle()
        assert "work" in report.failed
        assert report.plan is not None and report.plan.intrusions
        assert [op for op in report.ops if op.kind.value == "delete"] == []
        assert world.makeups() == booked
        assert {d["status"] for d in world.store.ledger()} == {"scheduled"}


def test_failed_blocks_calendar_is_not_written_or_planned_as_empty(world: World) -> None:
    """A blocks calendar whose read failed gets no create, update or delete; it is not taken as emptied."""
    world.engine.cycle()
    before = dict(world.home.events)
    world.now += timedelta(minutes=5)
    world.home.fail_next.append(ServiceTrouble("not signed in"))
    report = world.engine.cycle()
    assert "home" in report.failed and report.user_deleted == []
    assert all(op.calendar != "home" for op in report.ops)
    assert world.home.events == before
    assert world.engine.cycle().ops == []


def test_unavailable_calendar_recovers_once_signed_in(tmp_path: Path) -> None:
    """A provider that could not be built fails its calendar each cycle until it can be built (no restart)."""
    from idealweek.errors import AuthError
    from idealweek.providers.base import UnavailableProvider

    cal = MemoryCalendar()
    signed_in = False

    def build() -> MemoryProvider:
        if not signed_in:
            raise AuthError("account 'g' is not signed in")
        return MemoryProvider("work", cal)

    work = UnavailableProvider("work", "account 'g' is not signed in", writable=True, rebuild=build)
    home = MemoryCalendar()
    store = Store(tmp_path / "state.sqlite3")
    engine = Engine(S, store, {"work": work, "home": MemoryProvider("home", home)}, clock=lambda: START)
    try:
        assert engine.cycle().failed == {"work": "read failed: account 'g' is not signed in"}
        signed_in = True
        report = engine.cycle()
        assert report.ok and any(op.calendar == "work" for op in report.applied)
    finally:
        store.close()
