"""Google provider reads: full and incremental sync, pagination, expired tokens, and the event mapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from idealweek.errors import ProviderError
from idealweek.model import Response, Status, utc
from idealweek.providers.google import GoogleProvider
from tests.contract import desired
from tests.fakes.google_server import GoogleFake, google_provider

T0 = utc(2030, 3, 4, 9)
H = timedelta(hours=1)
ALLOWED_WITH_SYNC = {"syncToken", "pageToken", "singleEvents", "maxResults", "alt", "showDeleted"}


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=3, empty_pages=True) as f:
        yield f


@pytest.fixture
def provider(fake: GoogleFake) -> Iterator[GoogleProvider]:
    p = google_provider(fake)
    yield p
    p.close()


def test_full_sync_follows_every_page_including_empty_ones(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A full sync reads every page (empty ones too) and takes the token from the last page."""
    ids = {fake.user_add("primary", f"e{i}", T0 + i * H, T0 + (i + 1) * H) for i in range(10)}
    cs = provider.read_changes(None)
    assert cs.full and {e.uid for e in cs.upserts} == ids
    lists = fake.requests_to("GET", "/events")
    assert len(lists) > 4  # 10 events in pages of 3, with empty pages in between
    assert all(r.param("singleEvents") == "true" and r.param("maxResults") == "2500" for r in lists)
    assert cs.token and cs.token.startswith("CP")
    assert provider.requests.reads == len(lists) and provider.requests.writes == 0


def test_incremental_sync_sends_only_the_sync_token(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Incremental requests carry syncToken and no forbidden parameter, the same token on every page."""
    for i in range(4):
        fake.user_add("primary", f"e{i}", T0 + i * H, T0 + (i + 1) * H)
    token = provider.read_changes(None).token
    for i in range(7):
        fake.user_add("primary", f"n{i}", T0 + i * H, T0 + (i + 1) * H)
    fake.clear_log()
    cs = provider.read_changes(token)
    assert not cs.full and len(cs.upserts) == 7
    pages = fake.requests_to("GET", "/events")
    assert len(pages) > 3
    for r in pages:
        assert set(r.query) <= ALLOWED_WITH_SYNC, r.query
        assert r.param("syncToken") == token
    assert cs.token != token


def test_steady_cycle_costs_one_request(fake: GoogleFake, provider: GoogleProvider) -> None:
    """With nothing changed, an incremental read is one request and no write."""
    fake.user_add("primary", "A", T0, T0 + H)
    token = provider.read_changes(None).token
    before = provider.requests.total
    cs = provider.read_changes(token)
    assert provider.requests.total - before == 1 and provider.requests.writes == 0
    assert list(cs.upserts) == [] and list(cs.removed) == [] and cs.token


def test_expired_sync_token_falls_back_to_full_sync(fake: GoogleFake, provider: GoogleProvider) -> None:
    """410 fullSyncRequired drops the token and does a full sync: every live event once, none lost."""
    keep = fake.user_add("primary", "keep", T0, T0 + H)
    gone = fake.user_add("primary", "gone", T0 + H, T0 + 2 * H)
    token = provider.read_changes(None).token
    new = fake.user_add("primary", "new", T0 + 2 * H, T0 + 3 * H)
    fake.user_delete("primary", gone)
    fake.expire_sync_tokens()
    cs = provider.read_changes(token)
    assert cs.full
    assert sorted(e.uid for e in cs.upserts) == sorted([keep, new])
    assert list(cs.removed) == []
    assert provider.read_changes(cs.token).upserts == []


def test_deleted_events_arrive_as_removed(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Deleted events (Google sends only their id) and cancelled instances come back in removed."""
    single = fake.user_add("primary", "single", T0, T0 + H)
    series, instances = fake.user_add_series("primary", "weekly", [T0 + timedelta(days=7 * i) for i in range(3)], H)
    token = provider.read_changes(None).token
    fake.user_delete("primary", single)
    fake.user_delete("primary", instances[1])
    raw = fake.event("primary", instances[1])
    assert raw is not None and raw["recurringEventId"] == series
    cs = provider.read_changes(token)
    assert set(cs.removed) == {single, instances[1]}
    assert list(cs.upserts) == []


def test_event_added_then_deleted_between_reads_is_only_removed(fake: GoogleFake, provider: GoogleProvider) -> None:
    """An event created and deleted between two reads is reported removed, never as live."""
    token = provider.read_changes(None).token
    uid = fake.user_add("primary", "brief", T0, T0 + H)
    fake.user_delete("primary", uid)
    cs = provider.read_changes(token)
    assert list(cs.upserts) == [] and list(cs.removed) == [uid]


def test_moved_event_comes_back_with_new_times(fake: GoogleFake, provider: GoogleProvider) -> None:
    """An event the user moves is an upsert with its new times in UTC."""
    uid = fake.user_add("primary", "A", T0, T0 + H)
    token = provider.read_changes(None).token
    fake.user_move("primary", uid, T0 + 5 * H, T0 + 6 * H)
    (ev,) = provider.read_changes(token).upserts
    assert ev.uid == uid and ev.start == T0 + 5 * H and ev.end == T0 + 6 * H


def test_all_day_event_starts_at_local_midnight(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A date-only event is all-day, from midnight to midnight in the calendar's zone."""
    fake.user_add("primary", "Holiday", date(2030, 7, 1), date(2030, 7, 2))
    (ev,) = provider.read_changes(None).upserts
    assert ev.all_day
    assert ev.start == datetime(2030, 6, 30, 22, tzinfo=UTC) and ev.end == datetime(2030, 7, 1, 22, tzinfo=UTC)


def test_date_time_without_offset_uses_its_time_zone(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A dateTime without offset is read in the event's timeZone."""
    uid = fake.user_add("primary", "NY", T0, T0 + H)
    fake.user_update(
        "primary",
        uid,
        start={"dateTime": "2030-03-04T09:00:00", "timeZone": "America/New_York"},
        end={"dateTime": "2030-03-04T10:00:00", "timeZone": "America/New_York"},
    )
    (ev,) = provider.read_changes(None).upserts
    assert ev.start == utc(2030, 3, 4, 14) and ev.end == utc(2030, 3, 4, 15) and not ev.all_day


def test_transparent_event_is_free(fake: GoogleFake, provider: GoogleProvider) -> None:
    """transparency=transparent means the event does not block time."""
    fake.user_add("primary", "FYI", T0, T0 + H, transparency="transparent")
    fake.user_add("primary", "Busy", T0, T0 + H)
    events = {e.title: e for e in provider.read_changes(None).upserts}
    assert not events["FYI"].busy and events["Busy"].busy


@pytest.mark.parametrize(
    ("event_type", "busy"),
    [("outOfOffice", True), ("workingLocation", False), ("birthday", False), ("focusTime", True), ("default", True)],
)
def test_event_types_map_to_busy(fake: GoogleFake, provider: GoogleProvider, event_type: str, busy: bool) -> None:
    """Out-of-office always blocks time; working location and birthdays never do."""
    fields: dict[str, Any] = {"eventType": event_type}
    if event_type in ("workingLocation", "birthday"):
        fields["transparency"] = "opaque"
    fake.user_add("primary", event_type, T0, T0 + H, **fields)
    (ev,) = provider.read_changes(None).upserts
    assert ev.busy is busy


def test_own_response_status_is_read(fake: GoogleFake, provider: GoogleProvider) -> None:
    """The attendee marked self gives the user's answer; the organizer of a meeting is 'organizer'."""
    me = {"email": "user@example.com", "self": True, "responseStatus": "declined"}
    other = {"email": "boss@example.com", "responseStatus": "accepted"}
    fake.user_add("primary", "declined", T0, T0 + H, attendees=[me, other], organizer={"email": "boss@example.com"})
    fake.user_add("primary", "mine", T0, T0 + H, attendees=[other])
    fake.user_add("primary", "alone", T0, T0 + H)
    events = {e.title: e for e in provider.read_changes(None).upserts}
    assert events["declined"].response == Response.DECLINED and events["declined"].attendees == 2
    assert events["mine"].response == Response.ORGANIZER
    assert events["alone"].response == Response.NONE


def test_response_change_is_an_upsert(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Declining an invitation later shows up in the next incremental read."""
    me = {"email": "user@example.com", "self": True, "responseStatus": "needsAction"}
    uid = fake.user_add("primary", "invite", T0, T0 + H, attendees=[me], organizer={"email": "b@example.com"})
    cs = provider.read_changes(None)
    assert cs.upserts[0].response == Response.NEEDS_ACTION
    fake.user_respond("primary", uid, "declined")
    (ev,) = provider.read_changes(cs.token).upserts
    assert ev.response == Response.DECLINED


def test_recurring_instances_carry_series_and_recurrence_id(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Instances of a recurring event name their series and original start."""
    series, ids = fake.user_add_series("primary", "standup", [T0, T0 + timedelta(days=1)], H)
    events = sorted(provider.read_changes(None).upserts, key=lambda e: e.start)
    assert [e.uid for e in events] == ids
    assert {e.series for e in events} == {series}
    assert [e.recurrence_id for e in events] == ["20300304T090000Z", "20300305T090000Z"]
    assert events[0].instance_key == f"{series}@20300304T090000Z"


def test_private_visibility_and_tentative_status(fake: GoogleFake, provider: GoogleProvider) -> None:
    """visibility private/confidential and status tentative are read."""
    fake.user_add("primary", "p", T0, T0 + H, visibility="confidential", status="tentative")
    (ev,) = provider.read_changes(None).upserts
    assert ev.private and ev.status == Status.TENTATIVE


def test_unreadable_event_is_skipped_and_the_rest_used(fake: GoogleFake, provider: GoogleProvider) -> None:
    """An event without times is skipped with a warning; the other events are still read."""
    bad = fake.user_add("primary", "bad", T0, T0 + H)
    fake.user_update("primary", bad, start=None)
    good = fake.user_add("primary", "good", T0, T0 + H)
    assert [e.uid for e in provider.read_changes(None).upserts] == [good]


def test_copied_owned_event_is_not_owned(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A copy of an owned event under another id (the user duplicated it) is the user's, not idealweek's."""
    ev = provider.create(desired("work", "makeup:family:1", T0))
    raw = fake.event("primary", ev.uid)
    assert raw is not None
    fake.user_add("primary", "copy", T0, T0 + H, extendedProperties=raw["extendedProperties"])
    events = provider.read_changes(None).upserts
    owned = [e for e in events if e.tag is not None]
    assert [e.uid for e in owned] == [ev.uid]
    assert [e.uid for e in provider.list_owned()] == [ev.uid]


def test_list_owned_filters_by_private_property(fake: GoogleFake, provider: GoogleProvider) -> None:
    """list_owned is a full listing filtered with privateExtendedProperty, without a sync token."""
    fake.user_add("primary", "meeting", T0, T0 + H)
    ev = provider.create(desired("work", "makeup:family:2", T0 + 2 * H))
    fake.clear_log()
    owned = provider.list_owned()
    assert [e.uid for e in owned] == [ev.uid] and owned[0].tag == ev.tag
    for r in fake.requests_to("GET", "/events"):
        assert r.param("privateExtendedProperty") == "idealweekOwned=1"
        assert r.param("syncToken") is None


def test_secondary_calendar_is_read_by_its_id(fake: GoogleFake) -> None:
    """A calendar configured by id (not primary) is read from that calendar, quoted in the URL."""
    fake.add_calendar("family#x@group.calendar.google.com", "Family", time_zone="UTC")
    fake.user_add("family#x@group.calendar.google.com", "School", T0, T0 + H)
    cals = {
        "fam": {
            "source": "google",
            "account": "work",
            "id": "family#x@group.calendar.google.com",
            "roles": ["personal"],
        }
    }
    p = google_provider(fake, "fam", calendars=cals)
    try:
        cs = p.read_changes(None)
        assert [e.title for e in cs.upserts] == ["School"] and cs.upserts[0].calendar == "fam"
        assert not p.writable
    finally:
        p.close()


def test_unknown_calendar_id_is_explained(fake: GoogleFake) -> None:
    """A calendar id Google does not know fails with a message pointing to `idealweek calendars`."""
    cals = {
        "gone": {"source": "google", "account": "work", "id": "nope@group.calendar.google.com", "roles": ["meetings"]}
    }
    p = google_provider(fake, "gone", calendars=cals)
    try:
        with pytest.raises(ProviderError, match="idealweek calendars"):
            p.read_changes(None)
    finally:
        p.close()
