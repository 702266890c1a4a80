"""The provider contract: one suite every provider must pass.

A provider's test module subclasses :class:`ProviderContract` and defines a
``harness`` fixture returning a :class:`Harness` (the provider under test plus
a back door that acts as the user on the same calendar).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pytest

from idealweek.errors import AlreadyExists, NotOwned, PreconditionFailed
from idealweek.model import DesiredEvent, Kind, OwnedTag, utc
from idealweek.providers.base import ChangeSet, Provider

T0 = utc(2030, 3, 4, 9)


class Harness(Protocol):
    provider: Provider
    remembers_deleted_ids: bool
    """True when the service refuses to reuse the id of a deleted event (Google)."""
    checks_etags: bool

    def user_add(self, title: str, start: datetime, end: datetime) -> str:
        """Add a plain (not owned) event as the user; return its uid."""

    def user_delete(self, uid: str) -> None:
        """Delete an event as the user."""

    def user_retitle(self, uid: str, title: str) -> None:
        """Change an event's title as the user."""


@dataclass
class _Desired:
    key: str
    start: datetime
    end: datetime


def desired(calendar: str, key: str, start: datetime, minutes: int = 60, kind: Kind = Kind.MAKEUP) -> DesiredEvent:
    end = start + timedelta(minutes=minutes)
    tag = OwnedTag(key=key, kind=kind, planned_start=start, planned_end=end, category="family", pays={"d1": 30})
    return DesiredEvent(calendar=calendar, tag=tag, start=start, end=end, title="Make-up: Family", private=True)


def drain(provider: Provider, token: str | None) -> ChangeSet:
    return provider.read_changes(token)


class ProviderContract:
    """Behaviour every provider shares (SPEC §5, base.py)."""

    def test_full_read_returns_user_events_in_utc(self, harness: Harness) -> None:
        """A full read lists the user's events with aware UTC times."""
        uid = harness.user_add("Dentist", T0, T0 + timedelta(hours=1))
        cs = harness.provider.read_changes(None)
        assert cs.full
        found = [e for e in cs.upserts if e.uid == uid]
        assert len(found) == 1
        assert found[0].start == T0 and found[0].end == T0 + timedelta(hours=1)
        assert found[0].start.utcoffset() == timedelta(0)
        assert found[0].tag is None
        assert cs.token

    def test_incremental_read_with_no_change_is_empty(self, harness: Harness) -> None:
        """Reading with the latest token when nothing changed returns no changes."""
        harness.user_add("A", T0, T0 + timedelta(hours=1))
        cs = harness.provider.read_changes(None)
        cs2 = harness.provider.read_changes(cs.token)
        assert not cs2.full
        assert list(cs2.upserts) == [] and list(cs2.removed) == []

    def test_incremental_read_sees_additions_and_deletions(self, harness: Harness) -> None:
        """Events the user adds or deletes come back in the next incremental read."""
        keep = harness.user_add("A", T0, T0 + timedelta(hours=1))
        cs = harness.provider.read_changes(None)
        new = harness.user_add("B", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
        harness.user_delete(keep)
        cs2 = harness.provider.read_changes(cs.token)
        assert new in {e.uid for e in cs2.upserts}
        assert keep in set(cs2.removed)

    def test_created_event_is_owned_and_listed(self, harness: Harness) -> None:
        """A created event carries the tag and shows up in list_owned and in reads."""
        p = harness.provider
        d = desired(p.name, "makeup:family:20300304T1000", T0 + timedelta(hours=1))
        ev = p.create(d)
        assert ev.tag == d.tag
        owned = p.list_owned()
        assert [o.tag.key for o in owned if o.tag] == [d.key]
        assert owned[0].start == d.start and owned[0].end == d.end
        cs = p.read_changes(None)
        tagged = [e for e in cs.upserts if e.tag is not None]
        assert len(tagged) == 1 and tagged[0].tag == d.tag

    def test_second_create_with_same_key_is_refused(self, harness: Harness) -> None:
        """Creating the same key twice never makes a duplicate."""
        p = harness.provider
        d = desired(p.name, "focus:20300304T0900", T0, kind=Kind.FOCUS)
        p.create(d)
        with pytest.raises(AlreadyExists):
            p.create(d)
        assert len(p.list_owned()) == 1

    def test_create_after_delete_is_refused_when_service_remembers(self, harness: Harness) -> None:
        """Where the service remembers deleted ids, a deleted key cannot be created again."""
        if not harness.remembers_deleted_ids:
            pytest.skip("this service forgets deleted ids")
        p = harness.provider
        d = desired(p.name, "makeup:family:20300305T1000", T0)
        ev = p.create(d)
        harness.user_delete(ev.uid)
        with pytest.raises(AlreadyExists) as info:
            p.create(d)
        assert info.value.deleted
        assert p.list_owned() == []

    def test_update_moves_event_and_keeps_user_title(self, harness: Harness) -> None:
        """An update changes the time and tag but keeps a title the user edited."""
        p = harness.provider
        d = desired(p.name, "mirror:family:x", T0, kind=Kind.MIRROR)
        ev = p.create(d)
        harness.user_retitle(ev.uid, "My own title")
        fresh = next(e for e in p.list_owned() if e.uid == ev.uid)
        moved = desired(p.name, d.key, T0 + timedelta(hours=3), kind=Kind.MIRROR)
        p.update(fresh, moved)
        after = next(e for e in p.list_owned() if e.uid == ev.uid)
        assert after.start == moved.start and after.end == moved.end
        assert after.title == "My own title"
        assert after.tag is not None and after.tag.planned_start == moved.start

    def test_delete_is_idempotent(self, harness: Harness) -> None:
        """Deleting an owned event removes it; deleting it again is not an error."""
        p = harness.provider
        ev = p.create(desired(p.name, "makeup:family:20300306T1000", T0))
        p.delete(ev)
        assert p.list_owned() == []
        p.delete(ev)

    def test_foreign_events_are_never_modified(self, harness: Harness) -> None:
        """Update and delete refuse events without idealweek's tag."""
        p = harness.provider
        uid = harness.user_add("Board meeting", T0, T0 + timedelta(hours=1))
        foreign = next(e for e in p.read_changes(None).upserts if e.uid == uid)
        with pytest.raises(NotOwned):
            p.delete(foreign)
        with pytest.raises(NotOwned):
            p.update(foreign, desired(p.name, "x", T0))
        assert uid in {e.uid for e in p.read_changes(None).upserts}

    def test_stale_etag_is_refused(self, harness: Harness) -> None:
        """An update based on an out-of-date read fails with PreconditionFailed."""
        if not harness.checks_etags:
            pytest.skip("this provider has no etags")
        p = harness.provider
        ev = p.create(desired(p.name, "makeup:family:20300307T1000", T0))
        harness.user_retitle(ev.uid, "changed behind our back")
        with pytest.raises(PreconditionFailed):
            p.update(ev, desired(p.name, ev.tag.key if ev.tag else "", T0 + timedelta(hours=1)))

    def test_requests_are_counted(self, harness: Harness) -> None:
        """Every read and write is counted for the cycle summary."""
        p = harness.provider
        before = p.requests.total
        p.read_changes(None)
        assert p.requests.total > before
