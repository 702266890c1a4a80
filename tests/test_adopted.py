"""Events with attendees are the user's (SPEC §6.10): how providers report them and how they are kept."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from zoneinfo import ZoneInfo

from idealweek.model import Event, Kind, OwnedTag, utc
from idealweek.planner.keys import is_moved_by_user
from idealweek.providers.google.mapping import event_from_json as google_event
from idealweek.providers.outlook.mapping import to_event
from idealweek.store import event_from_json, event_to_json

T0 = utc(2030, 3, 4, 9)
TAG = OwnedTag("mirror:family:x", Kind.MIRROR, T0, T0 + timedelta(hours=1), "family")


def _google(**extra: object) -> Event:
    item = {
        "id": "abc",
        "start": {"dateTime": "2030-03-04T09:00:00Z"},
        "end": {"dateTime": "2030-03-04T10:00:00Z"},
    } | extra
    return google_event("work", item, ZoneInfo("UTC"))


def test_google_reports_attendees_and_a_foreign_organizer() -> None:
    """Google: attendees are counted; an organizer that is not this calendar (``self`` absent) is someone else."""
    assert not _google().has_guests
    assert not _google(organizer={"email": "me@example.test", "self": True}).has_guests
    assert _google(organizer={"email": "boss@example.test"}).organizer_other
    assert _google(attendees=[{"email": "bob@example.test"}]).attendees == 1


def test_outlook_reports_attendees_and_a_foreign_organizer() -> None:
    """Graph: ``attendees`` are counted; ``isOrganizer: false`` means someone else organises it."""
    base = {
        "id": "e1",
        "start": {"dateTime": "2030-03-04T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-04T10:00:00.0000000", "timeZone": "UTC"},
        "isOrganizer": True,
    }
    assert not to_event("work", base, ZoneInfo("UTC")).has_guests
    assert to_event("work", base | {"isOrganizer": False}, ZoneInfo("UTC")).organizer_other
    assert to_event("work", base | {"attendees": [{"type": "required"}]}, ZoneInfo("UTC")).has_guests


def test_an_owned_meeting_counts_as_moved_by_the_user() -> None:
    """An owned event with attendees is adopted like a user move, even at the planned times."""
    ev = Event("work", "u", T0, T0 + timedelta(hours=1), tag=TAG)
    assert not is_moved_by_user(ev)
    assert is_moved_by_user(dataclasses.replace(ev, attendees=2))
    assert is_moved_by_user(dataclasses.replace(ev, organizer_other=True))


def test_the_event_cache_keeps_the_organizer_flag() -> None:
    """The state database keeps ``organizer_other``; rows written before it existed read as False."""
    ev = Event("work", "u", T0, T0 + timedelta(hours=1), tag=TAG, organizer_other=True, attendees=1)
    assert event_from_json(event_to_json(ev)) == ev
    old_row = event_to_json(dataclasses.replace(ev, organizer_other=False)).replace(",false]", "]")
    assert event_from_json(old_row).organizer_other is False
