"""A stateful property test over the whole engine with in-memory calendars.

Random meetings are added, moved and cancelled, the user deletes, moves and
retitles owned events, the clock advances across a DST change, cycles crash
half-way, the state database is lost, a second process (``run --once``) runs a
cycle beside the daemon's long-lived engine and looks read a snapshot.  After
every step the safety invariants hold, and liveness: once the user stops
changing things, at most 2 cycles later a cycle plans 0 operations (checked by a
rule at random points and at the end of every sequence).
``IDEALWEEK_STATEFUL_EXAMPLES`` sets how many random sequences run (default 50).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from idealweek.engine import CycleReport, Engine
from idealweek.errors import GuardError
from idealweek.model import DesiredEvent, Event, Kind
from idealweek.planner import base_key, is_moved_by_user
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.store import Store
from tests.scenario import meeting
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 10, 21, 8, 0, tzinfo=BERLIN)  # the clock crosses the 25 Oct fall-back


class Crash(BaseException):
    """The process dies."""


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="iw-sm-"))
        # A fixed mirror key: mirror ids (and so the order rules draw events in) must not vary
        # between Hypothesis's replays of one example.
        (self.tmp / "mirror.key").write_text("5a" * 32)
        self.settings = make_settings()
        self.work = MemoryCalendar()
        self.home = MemoryCalendar()
        self.now = START
        self.store = Store(self.tmp / "state.sqlite3")
        self.foreign: dict[str, Event] = {}
        self.deleted_keys: set[tuple[str, str]] = set()
        self.n = 0
        self.crash_after: int | None = None
        self.daemon: Engine | None = None
        """The daemon's engine: kept across cycles (its events in memory) until a crash kills it."""

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:  # (teardown also runs after a failed step: then nothing more)
                self.check_settles()  # liveness at the end of every sequence
                SEQUENCES.append(1)
        finally:
            self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers --------------------------------------------------------------------
    def engine(self) -> Engine:
        """The daemon's long-lived engine (a new one after a crash), over the current state file."""
        if self.daemon is None:
            self.daemon = self.fresh_engine()
        self.daemon.store = self.store
        return self.daemon

    def fresh_engine(self, store: Store | None = None) -> Engine:
        """A new engine, as a new process would make it."""
        machine = self

        class Fragile(MemoryProvider):
            def _maybe_crash(self) -> None:
                if machine.crash_after is not None:
                    machine.crash_after -= 1
                    if machine.crash_after < 0:
                        machine.crash_after = None
                        raise Crash

            def create(self, desired: DesiredEvent) -> Event:
                ev = super().create(desired)
                self._maybe_crash()
                return ev

            def delete(self, existing: Event) -> None:
                super().delete(existing)
                self._maybe_crash()

        providers = {"work": Fragile("work", self.work), "home": Fragile("home", self.home)}
        return Engine(self.settings, store or self.store, providers, clock=lambda: self.now)

    def owned(self) -> list[Event]:
        return [e for cal in (self.work, self.home) for e in cal.events.values() if e.tag is not None]

    def cycle(self) -> CycleReport:
        try:
            return self.engine().cycle(force=False)
        except GuardError:
            return self.engine().cycle(force=True)

    # -- the world changes ------------------------------------------------------------
    @rule(day=st.integers(0, 12), quarter=st.integers(6 * 4, 21 * 4), length=st.sampled_from([15, 30, 60, 90]))
    def add_meeting(self, day: int, quarter: int, length: int) -> None:
        self.n += 1
        start = (self.now + timedelta(days=day)).replace(hour=quarter // 4, minute=(quarter % 4) * 15)
        ev = self.work.user_put(meeting(start, length, uid=f"meet{self.n}"))
        self.foreign[ev.uid] = ev

    @precondition(lambda self: bool(self.foreign))
    @rule(data=st.data())
    def cancel_meeting(self, data: st.DataObject) -> None:
        uid = data.draw(st.sampled_from(sorted(self.foreign)))
        self.work.user_delete(uid)
        del self.foreign[uid]

    @precondition(lambda self: bool(self.foreign))
    @rule(data=st.data(), hours=st.integers(-5, 30))
    def move_meeting(self, data: st.DataObject, hours: int) -> None:
        uid = data.draw(st.sampled_from(sorted(self.foreign)))
        ev = self.foreign[uid]
        moved = dataclasses.replace(ev, start=ev.start + timedelta(hours=hours), end=ev.end + timedelta(hours=hours))
        self.foreign[uid] = self.work.user_put(moved)

    @precondition(lambda self: bool(self.owned()))
    @rule(data=st.data())
    def user_deletes_owned(self, data: st.DataObject) -> None:
        ev = data.draw(st.sampled_from(sorted(self.owned(), key=lambda e: (e.calendar, e.uid))))
        cal = self.work if ev.calendar == "work" else self.home
        cal.user_delete(ev.uid)
        if ev.tag and ev.end > self.now:
            self.deleted_keys.add((ev.calendar, base_key(ev.tag.key)))

    @precondition(lambda self: bool(self.owned()))
    @rule(data=st.data(), hours=st.integers(1, 48))
    def user_moves_owned(self, data: st.DataObject, hours: int) -> None:
        ev = data.draw(st.sampled_from(sorted(self.owned(), key=lambda e: (e.calendar, e.uid))))
        cal = self.work if ev.calendar == "work" else self.home
        delta = timedelta(hours=hours)
        cal.user_put(dataclasses.replace(ev, start=ev.start + delta, end=ev.end + delta))

    @precondition(lambda self: bool(self.owned()))
    @rule(data=st.data())
    def user_retitles_owned(self, data: st.DataObject) -> None:
        ev = data.draw(st.sampled_from(sorted(self.owned(), key=lambda e: (e.calendar, e.uid))))
        cal = self.work if ev.calendar == "work" else self.home
        cal.user_put(dataclasses.replace(ev, title="mine now"))

    @rule(minutes=st.sampled_from([30, 90, 240, 24 * 60, 3 * 24 * 60]))
    def advance_clock(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # -- idealweek runs ------------------------------------------------------------------
    @rule()
    def run_cycle(self) -> None:
        self.cycle()
        self.check_movable_blocks_avoid_meetings()

    def check_movable_blocks_avoid_meetings(self) -> None:
        """After a clean cycle no movable make-up or focus block overlaps a meeting."""
        freeze_until = self.now + self.settings.catch_up.freeze
        meetings = [e for e in self.work.events.values() if e.tag is None]
        for ev in self.owned():
            tag = ev.tag
            assert tag is not None
            if tag.kind not in (Kind.MAKEUP, Kind.FOCUS) or ev.start < freeze_until or is_moved_by_user(ev):
                continue
            assert not any(m.start < ev.end and ev.start < m.end for m in meetings), (ev, tag.key)

    @rule(after=st.integers(0, 6))
    def crash_mid_cycle(self, after: int) -> None:
        self.crash_after = after
        with contextlib.suppress(Crash):
            self.engine().cycle(force=True)
        if self.crash_after is None:
            self.daemon = None  # the process died: its memory is gone
        self.crash_after = None

    @rule()
    def another_process_runs_a_cycle(self) -> None:
        """`run --once` beside the daemon: it advances the tokens the daemon's memory belongs to."""
        other = self.fresh_engine()
        try:
            other.cycle(force=False)
        except GuardError:
            other.cycle(force=True)

    @rule()
    def a_look(self) -> None:
        """`status`: a dry cycle on a snapshot changes nothing in the state database."""
        before = list(self.store.db.iterdump())
        snap = Store.open_snapshot(self.tmp / "state.sqlite3")
        try:
            with contextlib.suppress(GuardError):
                self.fresh_engine(snap).cycle(dry_run=True)
        finally:
            snap.close()
        assert list(self.store.db.iterdump()) == before, "a look changed the state"

    @rule()
    def user_stops(self) -> None:
        """Liveness at a random point of the sequence."""
        self.check_settles()

    def check_settles(self) -> None:
        """With nothing changing, at most 2 cycles after the first one a cycle plans 0 operations."""
        planned: list[int] = []
        last: list[str] = []
        for _ in range(3):
            report = self.cycle()
            planned.append(len(report.ops))
            last = [op.describe() for op in report.ops] + report.notes
            if not report.ops:
                break
        SETTLED.append(len(planned))
        assert planned[-1] == 0, f"not settled: operations planned per cycle {planned}; last cycle: {last}"

    @rule()
    def lose_database(self) -> None:
        self.store.close()
        for p in self.tmp.glob("state.sqlite3*"):
            p.unlink()
        self.store = Store(self.tmp / "state.sqlite3")

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def no_duplicates(self) -> None:
        for cal in (self.work, self.home):
            keys = [base_key(e.tag.key) for e in cal.events.values() if e.tag]
            assert len(keys) == len(set(keys)), "two owned events for one block"

    @invariant()
    def user_events_untouched(self) -> None:
        for uid, ev in self.foreign.items():
            assert self.work.events.get(uid) == ev, "a user event was changed"

    @invariant()
    def deleted_events_not_resurrected(self) -> None:
        live = {(e.calendar, base_key(e.tag.key)) for e in self.owned() if e.tag}
        assert not (live & self.deleted_keys), "an event the user deleted came back"

    @invariant()
    def ledger_conserves_debt(self) -> None:
        for d in self.store.ledger():
            if d["status"] == "cancelled":
                continue
            total = int(d["paid"]) + int(d["scheduled"]) + int(d["waived"]) + int(d["unplaced"])  # type: ignore[call-overload]
            assert total >= int(d["minutes"]), d  # type: ignore[call-overload]


SETTLED: list[int] = []
"""Cycles each liveness check needed (1 = the first cycle already planned nothing)."""
SEQUENCES: list[int] = []
"""One entry per random sequence whose end was checked for liveness."""

EngineMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("IDEALWEEK_STATEFUL_EXAMPLES", "50")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineStateMachine = EngineMachine.TestCase
TestEngineStateMachine.__doc__ = (
    "Random calendars, user edits, crashes and lost state: the invariants hold after every step."
)


def test_after_a_clean_cycle_movable_blocks_never_overlap_meetings() -> None:
    """After a clean cycle, no movable make-up or focus block overlaps a meeting."""
    m = EngineMachine()
    try:
        for day, hour in [(0, 17), (1, 7), (2, 10), (3, 18), (6, 11)]:
            m.add_meeting(day, hour * 4, 60)
        m.cycle()
        m.add_meeting(0, 19 * 4 + 2, 90)
        m.run_cycle()
        assert any(e.tag and e.tag.kind == Kind.MAKEUP for e in m.owned())
    finally:
        m.teardown()


def test_liveness_was_checked_at_the_end_of_each_sequence() -> None:
    """Every random sequence of the state machine ended with a liveness check (run after the machine)."""
    if not SEQUENCES:
        import pytest

        pytest.skip("the state machine did not run in this session")
    assert len(SETTLED) >= len(SEQUENCES)
    assert max(SETTLED) <= 3
