"""The engine converges (issue 20): a gone event is gone, a conflict is decided afresh, no write loops.

Each test makes the change feed lag behind the calendar (a :class:`Lagging`
provider hides chosen ids from incremental reads, as when a sync token got past
a change), which is what turned one conflict into a request every cycle for ever.
The end-to-end reproductions against the fake services are in
``test_convergence_e2e.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from idealweek.errors import NotFound, TransientError
from idealweek.model import DesiredEvent, Event, Kind
from idealweek.providers.base import ChangeSet
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from tests.scenario import meeting
from tests.test_engine import World, at


class Lagging(MemoryProvider):
    """A memory provider whose incremental reads never report the ids in ``hidden``; hooks before writes."""

    def __init__(self, name: str, calendar: MemoryCalendar) -> None:
        super().__init__(name, calendar)
        self.hidden: set[str] = set()
        self.before_update: Callable[[Event], None] | None = None
        self.after_create: Callable[[Event], None] | None = None
        self.sent: list[tuple[str, str, str]] = []
        """(op, uid, etag) of every write request."""

    def read_changes(self, token: str | None) -> ChangeSet:
        cs = super().read_changes(token)
        if cs.full or not self.hidden:
            return cs
        return dataclasses.replace(
            cs,
            upserts=[e for e in cs.upserts if e.uid not in self.hidden],
            removed=[u for u in cs.removed if u not in self.hidden],
        )

    def create(self, desired: DesiredEvent) -> Event:
        self.sent.append(("create", desired.key, ""))
        ev = super().create(desired)
        if self.after_create is not None:
            hook, self.after_create = self.after_create, None
            hook(ev)
        return ev

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        self.sent.append(("update", existing.uid, existing.etag))
        if self.before_update is not None:
            hook, self.before_update = self.before_update, None
            hook(existing)
        return super().update(existing, desired)

    def delete(self, existing: Event) -> None:
        self.sent.append(("delete", existing.uid, existing.etag))
        if existing.uid not in self.cal.events:
            raise NotFound(f"{self.name}: event {existing.uid} is gone")  # as Graph's ErrorItemNotFound
        super().delete(existing)


class Lab(World):
    """The engine world of ``test_engine.py`` with lagging providers kept at hand."""

    def __init__(self, tmp: Path) -> None:
        self.lag: dict[str, Lagging] = {}
        super().__init__(tmp)

    def make_engine(self, wrap: Callable[[MemoryProvider], MemoryProvider] | None = None) -> object:  # type: ignore[override]
        engine = super().make_engine(lambda p: Lagging(p.name, p.cal))
        self.lag = {n: p for n, p in engine.providers.items() if isinstance(p, Lagging)}
        return engine

    def settles(self, cycles: int = 3) -> list[int]:
        """Operations planned per cycle until a cycle plans none (at most ``cycles``)."""
        planned: list[int] = []
        for _ in range(cycles):
            planned.append(len(self.engine.cycle().ops))
            if planned[-1] == 0:
                break
        return planned


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


def silently_delete(cal: MemoryCalendar, uid: str) -> None:
    """The event is deleted on the service; the change feed will never say so."""
    del cal.events[uid]
    cal.deleted_ids.add(uid)


def test_a_delete_answered_gone_leaves_memory_cache_and_map_in_the_same_cycle(lab: Lab) -> None:
    """A delete answered 404/410 removes the event from memory, the cache and the owned map at once; not sent again."""
    lab.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    lab.engine.cycle()
    [mu] = lab.owned(lab.home, Kind.MAKEUP)
    assert mu.tag is not None
    lab.lag["home"].hidden.add(mu.uid)
    silently_delete(lab.home, mu.uid)  # someone else deleted it; our feed lags
    lab.work.user_delete("late")  # so the make-up is no longer needed
    report = lab.engine.cycle()
    assert [(op.kind.value, op.key) for op in report.applied if op.calendar == "home"] == [
        ("delete", mu.tag.key.split("#")[0])
    ]
    assert mu.uid not in lab.engine._cache["home"]
    assert mu.uid not in {e.uid for e in lab.store.events(["home"])}
    assert ("home", mu.tag.key) not in lab.store.owned()
    assert lab.settles() == [0]
    assert [s for s in lab.lag["home"].sent if s[1] == mu.uid] == [("delete", mu.uid, mu.etag)]


def test_an_update_answered_gone_is_not_sent_again(lab: Lab) -> None:
    """An update answered 404/410 takes the event out of view; the next cycle counts it as the user's deletion."""
    lab.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    lab.engine.cycle()
    [mu] = lab.owned(lab.home, Kind.MAKEUP)
    [mirror] = [e for e in lab.owned(lab.work, Kind.MIRROR) if (e.start, e.end) == (mu.start, mu.end)]
    lab.lag["work"].hidden.add(mirror.uid)
    lab.lag["work"].before_update = lambda ev: silently_delete(lab.work, ev.uid)
    lab.home.user_put(dataclasses.replace(mu, start=at(5, 10), end=at(5, 11)))  # the mirror must follow
    report = lab.engine.cycle()
    assert [op.kind.value for op in report.ops] == ["update"] and not report.applied
    assert lab.settles() == [0]
    assert [s[0] for s in lab.lag["work"].sent if s[1] == mirror.uid] == ["update"]
    assert mirror.tag is not None and ("work", mirror.tag.key) in lab.store.tombstones()


def test_a_conflict_412_is_decided_against_a_fresh_read(lab: Lab) -> None:
    """An update answered 412 makes the next read a full one; the same stale request is never sent again."""
    lab.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    lab.engine.cycle()
    [mu] = lab.owned(lab.home, Kind.MAKEUP)
    [mirror] = [e for e in lab.owned(lab.work, Kind.MIRROR) if (e.start, e.end) == (mu.start, mu.end)]
    lab.lag["work"].hidden.add(mirror.uid)

    def user_retitles(ev: Event) -> None:  # just before our PATCH, unseen by the feed
        lab.work.user_put(dataclasses.replace(lab.work.events[ev.uid], title="Mine"))

    lab.lag["work"].before_update = user_retitles
    lab.home.user_put(dataclasses.replace(mu, start=at(5, 10), end=at(5, 11)))
    report = lab.engine.cycle()
    assert report.ops and not report.applied and any("changed meanwhile" in n for n in report.notes)
    assert lab.store.token("work") is None  # the next read of that calendar is a full one
    assert lab.settles() == [1, 0]
    updates = [s for s in lab.lag["work"].sent if s[1] == mirror.uid]
    assert len(updates) == 2 and updates[0][2] != updates[1][2]  # the retry went against the fresh etag
    assert lab.work.events[mirror.uid].title == "Mine" and lab.work.events[mirror.uid].start == at(5, 10)


def test_a_create_answered_exists_for_our_own_id_is_adopted(lab: Lab) -> None:
    """A create answered 409 for an id we own (an earlier answer was lost) is adopted; the create is not repeated."""
    lab.engine.cycle()
    lab.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))

    def lost_answer(ev: Event) -> None:
        lab.lag["home"].hidden.add(ev.uid)
        raise TransientError("connection reset after the request was sent")

    lab.lag["home"].after_create = lost_answer
    first = lab.engine.cycle()
    assert first.failed
    assert lab.settles() == [1, 0] or lab.settles() == [0]
    creates = [s for s in lab.lag["home"].sent if s[0] == "create" and s[1].startswith("makeup:")]
    assert len(creates) == 2, creates  # the lost one and the one answered "exists"; then nothing
    assert len(lab.owned(lab.home, Kind.MAKEUP)) == 1
    lab.assert_no_duplicates()


class Liar(MemoryProvider):
    """A service that answers every delete with success and deletes nothing; every read is a full listing."""

    def __init__(self, name: str, calendar: MemoryCalendar) -> None:
        super().__init__(name, calendar)
        self.deletes = 0

    def read_changes(self, token: str | None) -> ChangeSet:
        return super().read_changes(None)

    def delete(self, existing: Event) -> None:
        self.requests.count("delete", write=True)
        self.deletes += 1


def test_an_identical_write_is_not_repeated_every_cycle(tmp_path: Path) -> None:
    """The same write with unchanged inputs, wanted again after it was answered, is logged once and backed off."""
    w = World(tmp_path)
    w.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    w.engine.cycle()
    w.work.user_delete("late")
    engine = w.make_engine(lambda p: Liar(p.name, p.cal))
    liar = engine.providers["home"]
    assert isinstance(liar, Liar)
    with capture_logs() as logs:
        for _ in range(20):
            engine.cycle()
    repeated = [e for e in logs if e["event"] == "write.repeated"]
    assert liar.deletes <= 6, liar.deletes  # 20 cycles: the first, then after 1, 2, 4, 8 cycles of backing off
    assert {e["key"] for e in repeated} and all(e["log_level"] == "error" for e in repeated)
    assert len(repeated) == len({(e["calendar"], e["key"]) for e in repeated})  # once per key
    assert all(e["answers"] == ["ok"] for e in repeated)
