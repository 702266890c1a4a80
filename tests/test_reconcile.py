"""Reconcile: the minimal operations, and the things it must never touch."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from idealweek.model import DesiredEvent, Event, Interval, Kind, OpKind, OwnedTag, utc
from idealweek.reconcile import reconcile

NOW = utc(2030, 1, 7, 8)
FREEZE = NOW + timedelta(hours=2)
HORIZON = NOW + timedelta(days=14)


def want(key: str, hours_from_now: float, minutes: int = 60, cal: str = "home") -> DesiredEvent:
    s = NOW + timedelta(hours=hours_from_now)
    e = s + timedelta(minutes=minutes)
    tag = OwnedTag(key=key, kind=Kind.MAKEUP, planned_start=s, planned_end=e, category="family", pays={"d": minutes})
    return DesiredEvent(calendar=cal, tag=tag, start=s, end=e, title="Make-up")


def have(d: DesiredEvent, uid: str | None = None, **changes: object) -> Event:
    ev = Event(
        calendar=d.calendar,
        uid=uid or f"u-{d.key}",
        start=d.start,
        end=d.end,
        title=d.title,
        tag=d.tag,
        private=d.private,
        busy=d.busy,
    )
    return dataclasses.replace(ev, **changes)  # type: ignore[arg-type]


def test_nothing_changed_means_no_operation() -> None:
    """When the calendars already hold the plan, no operation is produced."""
    ds = [want("a", 5), want("b", 30)]
    assert reconcile(ds, [have(d) for d in ds], NOW, FREEZE, HORIZON) == []


def test_create_update_delete() -> None:
    """Missing keys are created, changed ones updated, unwanted ones deleted."""
    a, b, c = want("a", 5), want("b", 30), want("c", 50)
    b2 = dataclasses.replace(
        b, end=b.end + timedelta(minutes=30), tag=dataclasses.replace(b.tag, planned_end=b.end + timedelta(minutes=30))
    )
    ops = reconcile([a, b2], [have(b), have(c)], NOW, FREEZE, HORIZON)
    assert [(o.kind, o.key) for o in ops] == [(OpKind.CREATE, "a"), (OpKind.UPDATE, "b"), (OpKind.DELETE, "c")]


def test_foreign_events_are_invisible_to_reconcile() -> None:
    """Events without idealweek's tag are never updated or deleted."""
    foreign = Event(calendar="home", uid="x", start=NOW + timedelta(hours=5), end=NOW + timedelta(hours=6))
    assert reconcile([], [foreign], NOW, FREEZE, HORIZON) == []


def test_frozen_past_and_beyond_horizon_are_left_alone() -> None:
    """Owned events that started, start within the freeze window, or lie beyond the horizon are kept."""
    past, frozen, far = want("p", -3), want("f", 1), want("z", 24 * 20)
    assert reconcile([], [have(past), have(frozen), have(far)], NOW, FREEZE, HORIZON) == []


def test_tombstoned_key_is_not_recreated() -> None:
    """A key the user deleted is never created again."""
    d = want("a", 5)
    assert reconcile([d], [], NOW, FREEZE, HORIZON, tombstones={("home", "a"): Interval(d.start, d.end)}) == []


def test_duplicate_is_deleted_keeping_one() -> None:
    """Two owned events for one key: the extra one is deleted."""
    d = want("a", 5)
    ops = reconcile([d], [have(d, uid="one"), have(d, uid="two")], NOW, FREEZE, HORIZON)
    assert [(o.kind, o.existing.uid if o.existing else "") for o in ops] == [(OpKind.DELETE, "two")]


def test_user_moved_event_is_not_moved_back_or_deleted() -> None:
    """An event whose times differ from its tag (the user moved it) is neither updated nor deleted."""
    d = want("a", 5)
    moved = have(d, start=d.start + timedelta(days=1), end=d.end + timedelta(days=1))
    assert reconcile([d], [moved], NOW, FREEZE, HORIZON) == []
    assert reconcile([], [moved], NOW, FREEZE, HORIZON) == []


def test_user_title_edit_is_not_an_update() -> None:
    """A title or description the user edited does not trigger an update."""
    d = want("a", 5)
    assert reconcile([d], [have(d, title="Family walk!", description="mine")], NOW, FREEZE, HORIZON) == []


def test_generation_suffix_matches_base_key() -> None:
    """An event created under a new generation (key#g1) matches its planner key."""
    d = want("a", 5)
    ev = have(d, tag=dataclasses.replace(d.tag, key="a#g1"))
    assert reconcile([d], [ev], NOW, FREEZE, HORIZON) == []


def test_only_writable_calendars_get_operations() -> None:
    """Calendars that could not be read this cycle get no operations."""
    d = want("a", 5, cal="work")
    assert reconcile([d], [], NOW, FREEZE, HORIZON, writable={"home"}) == []


def test_event_that_gained_attendees_is_never_updated_or_deleted() -> None:
    """An owned event the user made a meeting (attendees or another organizer) is theirs: no update, no delete."""
    a, b, c = want("a", 5), want("b", 30), want("c", 50)
    moved_b = dataclasses.replace(b, busy=False)  # the plan wants a change to b
    existing = [have(a, attendees=2), have(b, attendees=1), have(c, organizer_other=True)]
    assert reconcile([want("a", 7), moved_b], existing, NOW, FREEZE, HORIZON) == []


def test_duplicate_with_attendees_is_not_deleted() -> None:
    """Of two events for one key, the one that became a meeting is never deleted as the duplicate."""
    a = want("a", 5)
    ops = reconcile([a], [have(a, uid="u1"), have(a, uid="u2", attendees=3)], NOW, FREEZE, HORIZON)
    assert all(op.existing is None or not op.existing.has_guests for op in ops)
