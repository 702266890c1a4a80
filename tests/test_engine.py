"""The engine: whole cycles over in-memory calendars, with faults, crashes and lost state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.config import Settings
from idealweek.engine import Engine
from idealweek.errors import GuardError, TransientError, UserError
from idealweek.model import DesiredEvent, Event, Kind
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.store import Store
from tests.scenario import meeting
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


class World:
    """Two in-memory calendars, a state database and a movable clock."""

    def __init__(self, tmp: Path, settings: Settings | None = None) -> None:
        self.tmp = tmp
        self.settings = settings or make_settings()
        self.work = MemoryCalendar()
        self.home = MemoryCalendar()
        self.now = START
        self.store = Store(tmp / "state.sqlite3")
        self.engine = self.make_engine()

    def make_engine(self, wrap: Callable[[MemoryProvider], MemoryProvider] | None = None) -> Engine:
        w = wrap or (lambda p: p)
        providers = {"work": w(MemoryProvider("work", self.work)), "home": w(MemoryProvider("home", self.home))}
        return Engine(self.settings, self.store, providers, clock=lambda: self.now)

    def owned(self, cal: MemoryCalendar, kind: Kind | None = None) -> list[Event]:
        return [e for e in cal.events.values() if e.tag and (kind is None or e.tag.kind == kind)]

    def assert_no_duplicates(self) -> None:
        for cal in (self.work, self.home):
            keys = [e.tag.key.split("#g")[0] for e in self.owned(cal) if e.tag]
            assert len(keys) == len(set(keys)), "duplicate owned events"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_second_cycle_writes_nothing_and_reads_once_per_calendar(world: World) -> None:
    """After the first cycle, a cycle with nothing changed makes one request per calendar and no write."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    first = world.engine.cycle()
    assert first.applied and not first.failed
    second = world.engine.cycle()
    assert second.ops == [] and second.applied == []
    assert second.requests == 2
    world.assert_no_duplicates()


def test_meeting_booked_then_cancelled(world: World) -> None:
    """A meeting over a protected block gets a make-up; cancelling the meeting removes it and cancels the debt."""
    world.engine.cycle()
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    assert len(world.owned(world.home, Kind.MAKEUP)) == 1
    world.work.user_delete("late")
    world.engine.cycle()
    assert world.owned(world.home, Kind.MAKEUP) == []
    statuses = {d["id"]: d["status"] for d in world.store.ledger()}
    assert list(statuses.values()) == ["cancelled"]


def test_user_deleted_makeup_is_waived_not_recreated(world: World) -> None:
    """Deleting a make-up block waives its debt; it is never booked again."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    [mu] = world.owned(world.home, Kind.MAKEUP)
    world.home.user_delete(mu.uid)
    report = world.engine.cycle()
    assert report.user_deleted and world.owned(world.home, Kind.MAKEUP) == []
    for _ in range(2):
        world.engine.cycle()
    assert world.owned(world.home, Kind.MAKEUP) == []
    [debt] = world.store.ledger()
    assert debt["status"] == "waived" and debt["waived"] == 60


def test_user_deleted_mirror_and_block_are_not_resurrected(world: World) -> None:
    """Any owned event the user deletes stays deleted."""
    world.engine.cycle()
    mirror = world.owned(world.work, Kind.MIRROR)[0]
    block = world.owned(world.home, Kind.BLOCK)[0]
    world.work.user_delete(mirror.uid)
    world.home.user_delete(block.uid)
    world.engine.cycle()
    world.engine.cycle()
    keys = {e.tag.key for e in world.owned(world.work) + world.owned(world.home) if e.tag}
    assert mirror.tag and mirror.tag.key not in keys
    assert block.tag and block.tag.key not in keys


def test_user_edits_title_and_moves_event(world: World) -> None:
    """A retitled block keeps its title; a moved make-up stays where the user put it and its mirror follows."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    [mu] = world.owned(world.home, Kind.MAKEUP)
    block = world.owned(world.home, Kind.BLOCK)[0]
    world.home.user_put(dataclasses.replace(block, title="Dinner with grandma"))
    world.home.user_put(dataclasses.replace(mu, start=at(5, 10), end=at(5, 11)))
    report = world.engine.cycle()
    assert [(op.kind.value, op.calendar) for op in report.ops] == [("update", "work")]
    assert world.home.events[block.uid].title == "Dinner with grandma"
    assert world.home.events[mu.uid].start == at(5, 10)
    [mirror] = [e for e in world.owned(world.work, Kind.MIRROR) if e.tag and e.tag.planned_start == at(5, 10)]
    assert mirror.start == at(5, 10) and mirror.end == at(5, 11)
    assert world.engine.cycle().ops == []


def test_mass_deletion_guard_and_force(world: World, tmp_path: Path) -> None:
    """A cycle that would delete most owned events stops with a clear message; --force lets it through."""
    world.engine.cycle()
    before = len(world.owned(world.home))
    world.settings = world.settings.model_copy(update={"protect": ()})
    world.engine = world.make_engine()
    with pytest.raises(GuardError, match="would delete"):
        world.engine.cycle()
    assert len(world.owned(world.home)) == before
    world.engine.cycle(force=True)
    assert world.owned(world.home, Kind.BLOCK) == []


def test_empty_source_guard(world: World) -> None:
    """A calendar that suddenly returns nothing stops the cycle instead of deleting everything."""
    world.work.user_put(meeting(at(0, 10), 60, uid="m1"))
    world.engine.cycle()
    world.store.db.execute("DELETE FROM sync_state WHERE calendar='work'")
    world.store.db.execute("INSERT INTO sync_state VALUES ('work', NULL, 99, NULL)")
    world.work.events.clear()
    with pytest.raises(GuardError, match="suddenly returned no events"):
        world.engine.cycle()


class Crash(BaseException):
    """Stands for the process being killed."""


def test_crash_between_write_and_record_leaves_no_duplicate(world: World) -> None:
    """A crash right after a create, before its record, is recovered without a duplicate."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    calls = {"n": 0}

    class Crashy(MemoryProvider):
        def create(self, desired: DesiredEvent) -> Event:
            ev = super().create(desired)
            calls["n"] += 1
            if calls["n"] == 5:
                raise Crash
            return ev

    crashy = world.make_engine(lambda p: Crashy(p.name, p.cal))
    with pytest.raises(Crash):
        crashy.cycle()
    world.engine = world.make_engine()
    world.engine.cycle()
    world.assert_no_duplicates()
    assert world.engine.cycle().ops == []


def test_crash_after_delete_is_not_taken_for_a_user_deletion(world: World) -> None:
    """A crash after idealweek deleted an event does not turn into a waiver or tombstone."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    world.work.user_delete("late")

    class Crashy(MemoryProvider):
        def delete(self, existing: Event) -> None:
            super().delete(existing)
            raise Crash

    with pytest.raises(Crash):
        world.make_engine(lambda p: Crashy(p.name, p.cal)).cycle()
    world.engine = world.make_engine()
    report = world.engine.cycle()
    assert report.user_deleted == []
    assert world.store.tombstones() == {}


def test_lost_state_database_rebuilds_from_tags(world: World, tmp_path: Path) -> None:
    """With the state database deleted, the next cycle adopts the tagged events and creates nothing twice."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    count = len(world.owned(world.home)) + len(world.owned(world.work))
    world.store.close()
    for p in tmp_path.glob("state.sqlite3*"):
        p.unlink()
    world.store = Store(tmp_path / "state.sqlite3")
    world.engine = world.make_engine()
    report = world.engine.cycle()
    assert [op for op in report.ops if op.kind.value == "create"] == []
    assert len(world.owned(world.home)) + len(world.owned(world.work)) == count
    world.assert_no_duplicates()


def test_recreating_a_key_idealweek_deleted_uses_a_new_id(world: World) -> None:
    """A key whose id idealweek burnt by deleting it is created again under a new generation."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    world.work.user_delete("late")
    world.engine.cycle()
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late2"))
    world.engine.cycle()
    [mu] = world.owned(world.home, Kind.MAKEUP)
    assert mu.tag and mu.tag.key.endswith("#g1")
    assert world.engine.cycle().ops == []


def test_one_failing_calendar_does_not_stop_the_others(world: World) -> None:
    """A read failure on one calendar is reported; the other calendar is still written."""
    world.work.fail_next.append(TransientError("503 from work"))
    report = world.engine.cycle()
    assert "work" in report.failed and "home" not in report.failed
    assert world.owned(world.home, Kind.BLOCK)
    assert world.owned(world.work) == []
    world.engine.cycle()
    assert world.owned(world.work, Kind.MIRROR)


def test_held_makeup_pays_debt_for_good(world: World) -> None:
    """Once a make-up block has passed, its minutes are recorded as paid."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    [mu] = world.owned(world.home, Kind.MAKEUP)
    world.now = mu.end + timedelta(minutes=5)
    world.engine.cycle()
    [debt] = world.store.ledger()
    assert debt["status"] == "paid" and debt["paid"] == 60


def test_dry_run_writes_nothing(world: World) -> None:
    """A dry run reports the operations but writes no event."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    report = world.engine.cycle(dry_run=True)
    assert report.ops and report.applied == []
    assert world.owned(world.home) == [] and world.owned(world.work) == []


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    """An unreadable state database is moved aside, never overwritten, and a fresh one started."""
    db = tmp_path / "state.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    store = Store(db)
    assert store.moved_aside is not None and store.moved_aside.read_bytes().startswith(b"this is not")
    assert store.integrity() == "ok"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer idealweek is refused with a clear message."""
    db = tmp_path / "state.sqlite3"
    s = Store(db)
    s.db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    s.close()
    with pytest.raises(UserError, match="newer than this idealweek"):
        Store(db)


def test_series_removed_by_id_removes_its_occurrences(world: World) -> None:
    """A recurring series reported deleted by its id alone takes its occurrences with it."""
    occurrences = [
        dataclasses.replace(meeting(at(d, 17, 30), 60, uid=f"weekly_{d}"), series="weekly", recurrence_id=f"r{d}")
        for d in (0, 1, 2)
    ]
    for ev in occurrences:
        world.work.user_put(ev)
    world.engine.cycle()
    assert len(world.owned(world.home, Kind.MAKEUP)) >= 1
    for ev in occurrences:
        del world.work.events[ev.uid]
    world.work.log.append("weekly")  # the service reports only the series id as removed
    report = world.engine.cycle()
    assert world.owned(world.home, Kind.MAKEUP) == []
    assert report.plan is not None and report.plan.intrusions == ()
    # a new process (no in-memory cache) sees the same
    world.engine = world.make_engine()
    assert world.engine.cycle().ops == []


def test_steady_cycles_do_not_reread_the_database(world: World) -> None:
    """After the first cycle the engine keeps events in memory; a cycle with no change plans from them."""
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    world.store.db.execute("DELETE FROM events")  # if the engine re-read SQLite it would now see nothing
    report = world.engine.cycle()
    assert report.ops == [] and report.events_seen > 0
