"""Google provider writes: ids, tags, no mail, 409/412/410, user edits kept, focus time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed
from idealweek.model import TAG_PROPERTY, DesiredEvent, Kind, OwnedTag, utc
from idealweek.providers.google import EventExists, GoogleProvider, event_id
from idealweek.providers.google.mapping import is_valid_event_id, tag_from_properties, tag_properties
from tests.contract import desired
from tests.fakes.google_server import GoogleFake, google_provider

T0 = utc(2030, 3, 4, 9)
H = timedelta(hours=1)


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=5) as f:
        yield f
        assert f.mails == 0


@pytest.fixture
def provider(fake: GoogleFake) -> Iterator[GoogleProvider]:
    p = google_provider(fake)
    yield p
    p.close()


def test_created_event_has_stable_id_tag_and_no_mail(fake: GoogleFake, provider: GoogleProvider) -> None:
    """create uses the key's base32hex id, tags the event privately, sends no updates and no attendees."""
    d = desired("work", "makeup:family:20300304T1000", T0)
    ev = provider.create(d)
    assert ev.uid == event_id(d.key) and is_valid_event_id(ev.uid)
    (insert,) = fake.requests_to("POST", "/events")
    assert insert.param("sendUpdates") == "none"
    assert "attendees" not in insert.body
    assert insert.body["visibility"] == "private" and insert.body["transparency"] == "opaque"
    assert all(len(k) <= 44 for k in insert.body["extendedProperties"]["private"])
    raw = fake.event("primary", ev.uid)
    assert raw is not None and raw["summary"] == "Make-up: Family"
    assert raw["start"]["timeZone"] == "Europe/Berlin"
    assert ev.tag == d.tag and ev.etag == raw["etag"]


def test_event_id_is_deterministic_and_valid() -> None:
    """The same key always gives the same valid Google id; different keys give different ids."""
    ids = {event_id(f"focus:{i}") for i in range(200)}
    assert len(ids) == 200 and all(is_valid_event_id(i) for i in ids)
    assert event_id("focus:1") == event_id("focus:1")


def test_long_tag_is_split_and_survives_google_limits(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A tag longer than 1024 characters is split over several properties and read back whole."""
    pays = {f"debt:family:2030030{i % 9}T{i:04d}": 15 for i in range(60)}
    tag = OwnedTag("makeup:family:long", Kind.MAKEUP, T0, T0 + H, "family", pays)
    assert len(tag.encode()) > 1024
    d = DesiredEvent("work", tag, T0, T0 + H, "Make-up")
    provider.create(d)
    (owned,) = provider.list_owned()
    assert owned.tag == tag
    raw = fake.event("primary", owned.uid)
    assert raw is not None
    assert all(len(v) <= 1024 for v in raw["extendedProperties"]["private"].values())


def test_oversized_tag_keeps_identity_and_drops_payment_detail() -> None:
    """A tag too big even when split keeps its key, kind and times; only the payment detail is dropped."""
    pays = {f"debt-{i:05d}-" + "x" * 60: 15 for i in range(200)}
    tag = OwnedTag("makeup:family:huge", Kind.MAKEUP, T0, T0 + H, "family", pays)
    props = tag_properties(tag)
    assert all(len(v) <= 1024 and len(k) <= 44 for k, v in props.items())
    back = tag_from_properties(props)
    assert back == dataclasses.replace(tag, pays={})


def test_shrinking_tag_ignores_stale_parts() -> None:
    """Parts left over from a longer earlier tag (patch keeps them) are ignored."""
    long_tag = OwnedTag("k", Kind.MAKEUP, T0, T0 + H, "family", {f"d{i:04d}" + "y" * 40: 5 for i in range(60)})
    short = OwnedTag("k", Kind.MAKEUP, T0, T0 + H, "family", {"d": 5})
    merged = {**tag_properties(long_tag), **tag_properties(short)}
    assert tag_from_properties(merged) == short


def test_create_twice_raises_exists_with_the_live_event(provider: GoogleProvider) -> None:
    """A 409 on a live id raises AlreadyExists (not deleted) carrying the existing owned event."""
    d = desired("work", "focus:1", T0, kind=Kind.FOCUS)
    first = provider.create(d)
    with pytest.raises(EventExists) as info:
        provider.create(d)
    assert not info.value.deleted and info.value.existing.uid == first.uid and info.value.existing.tag == d.tag
    assert len(provider.list_owned()) == 1


def test_create_after_user_deleted_does_not_resurrect(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A 409 on the id of an event the user deleted says deleted=True and nothing comes back."""
    d = desired("work", "makeup:family:3", T0)
    ev = provider.create(d)
    fake.user_delete("primary", ev.uid)
    with pytest.raises(AlreadyExists) as info:
        provider.create(d)
    assert info.value.deleted
    assert fake.owned_events() == []
    raw = fake.event("primary", ev.uid)
    assert raw is not None and raw["status"] == "cancelled"


def test_update_patches_times_and_keeps_user_edits(fake: GoogleFake, provider: GoogleProvider) -> None:
    """update patches times and tag with If-Match; the user's title, description, colour and location stay."""
    d = desired("work", "makeup:family:4", T0)
    ev = provider.create(d)
    fake.user_update("primary", ev.uid, summary="Zoo!", description="bring snacks", colorId="5", location="Zoo")
    fresh = provider.list_owned()[0]
    moved = desired("work", d.key, T0 + 3 * H)
    after = provider.update(fresh, moved)
    (patch,) = fake.requests_to("PATCH")
    assert patch.headers["if-match"] == fresh.etag and patch.param("sendUpdates") == "none"
    assert "summary" not in patch.body and "description" not in patch.body
    raw = fake.event("primary", ev.uid)
    assert raw is not None
    assert (raw["summary"], raw["description"], raw["colorId"], raw["location"]) == ("Zoo!", "bring snacks", "5", "Zoo")
    assert after.start == T0 + 3 * H and after.tag == moved.tag and after.etag == raw["etag"]


def test_update_with_stale_etag_is_refused(fake: GoogleFake, provider: GoogleProvider) -> None:
    """412 on a stale etag raises PreconditionFailed and leaves the user's change alone."""
    ev = provider.create(desired("work", "makeup:family:5", T0))
    fake.user_move("primary", ev.uid, T0 + 6 * H, T0 + 7 * H)
    with pytest.raises(PreconditionFailed):
        provider.update(ev, desired("work", "makeup:family:5", T0 + H))
    raw = fake.event("primary", ev.uid)
    assert raw is not None and raw["start"]["dateTime"].startswith("2030-03-04T16:00")


def test_update_of_event_deleted_by_user_is_not_found(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Updating an event the user deleted raises NotFound and does not bring it back."""
    ev = provider.create(desired("work", "makeup:family:6", T0))
    fake.user_delete("primary", ev.uid)
    with pytest.raises(NotFound):
        provider.update(ev, desired("work", "makeup:family:6", T0 + H))
    assert fake.owned_events() == []


def test_update_without_etag_reads_first(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Without a known etag, update reads the event, checks the tag and writes against its etag."""
    ev = provider.create(desired("work", "makeup:family:7", T0))
    blind = dataclasses.replace(ev, etag="")
    provider.update(blind, desired("work", "makeup:family:7", T0 + H))
    assert len(fake.requests_to("GET", f"/events/{ev.uid}")) == 1
    assert fake.requests_to("PATCH")[0].headers["if-match"] == ev.etag


def test_delete_with_stale_etag_is_refused(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A delete based on an out-of-date read fails and the event stays."""
    ev = provider.create(desired("work", "makeup:family:8", T0))
    fake.user_retitle("primary", ev.uid, "mine now")
    with pytest.raises(PreconditionFailed):
        provider.delete(ev)
    assert len(fake.owned_events()) == 1


def test_delete_of_deleted_event_is_fine(fake: GoogleFake, provider: GoogleProvider) -> None:
    """Deleting an event that is already gone (410) is not an error."""
    ev = provider.create(desired("work", "makeup:family:9", T0))
    fake.user_delete("primary", ev.uid)
    provider.delete(ev)
    provider.delete(dataclasses.replace(ev, etag=""))
    (delete,) = fake.requests_to("DELETE")
    assert delete.headers["if-match"] == ev.etag and delete.param("sendUpdates") == "none"


def test_foreign_events_are_refused_without_a_request(fake: GoogleFake, provider: GoogleProvider) -> None:
    """update and delete of an untagged event raise NotOwned and send nothing."""
    uid = fake.user_add("primary", "Board", T0, T0 + H)
    foreign = next(e for e in provider.read_changes(None).upserts if e.uid == uid)
    before = provider.requests.total
    with pytest.raises(NotOwned):
        provider.delete(foreign)
    with pytest.raises(NotOwned):
        provider.update(foreign, desired("work", "x", T0))
    assert provider.requests.total == before


def test_untagged_event_behind_a_tagged_read_is_not_modified(fake: GoogleFake, provider: GoogleProvider) -> None:
    """If the user removed the tag meanwhile, a blind delete reads the event and refuses it."""
    ev = provider.create(desired("work", "makeup:family:10", T0))
    fake.user_update("primary", ev.uid, extendedProperties={"private": {TAG_PROPERTY: None}})
    with pytest.raises(NotOwned):
        provider.delete(dataclasses.replace(ev, etag=""))
    assert fake.requests_to("DELETE") == []


def test_read_only_calendar_refuses_writes(fake: GoogleFake) -> None:
    """A calendar with only the meetings role is never written."""
    cals = {"work": {"source": "google", "account": "work", "id": "primary", "roles": ["meetings"]}}
    p = google_provider(fake, calendars=cals)
    try:
        with pytest.raises(NotOwned):
            p.create(desired("work", "x", T0))
        assert p.requests.total == 0
    finally:
        p.close()


def test_free_desired_event_is_transparent(fake: GoogleFake, provider: GoogleProvider) -> None:
    """A desired event that should not block time is written transparent."""
    d = dataclasses.replace(desired("work", "mirror:1", T0, kind=Kind.MIRROR), busy=False, private=False)
    ev = provider.create(d)
    raw = fake.event("primary", ev.uid)
    assert raw is not None and raw["transparency"] == "transparent" and raw["visibility"] == "default"
    assert not ev.busy


def test_focus_blocks_become_focus_time_on_primary_when_configured(fake: GoogleFake) -> None:
    """With focus.focus_time, focus blocks on the primary calendar are eventType focusTime that decline nobody."""
    cals = {"work": {"source": "google", "account": "work", "id": "primary", "roles": ["meetings", "focus"]}}
    p = google_provider(fake, calendars=cals, focus={"focus_time": True})
    try:
        ev = p.create(desired("work", "focus:1", T0, kind=Kind.FOCUS))
        raw = fake.event("primary", ev.uid)
        assert raw is not None and raw["eventType"] == "focusTime"
        assert raw["focusTimeProperties"]["autoDeclineMode"] == "declineNone"
    finally:
        p.close()


def test_focus_blocks_on_secondary_calendar_stay_default(fake: GoogleFake) -> None:
    """Focus time exists only on primary calendars: elsewhere focus blocks are ordinary events."""
    fake.add_calendar("focus@group.calendar.google.com")
    cals = {"f": {"source": "google", "account": "work", "id": "focus@group.calendar.google.com", "roles": ["focus"]}}
    p = google_provider(fake, "f", calendars=cals, focus={"focus_time": True})
    try:
        ev = p.create(desired("f", "focus:2", T0, kind=Kind.FOCUS))
        raw = fake.event("focus@group.calendar.google.com", ev.uid)
        assert raw is not None and raw["eventType"] == "default"
    finally:
        p.close()


@given(
    key=st.text(min_size=1, max_size=300),
    category=st.text(max_size=60),
    pays=st.dictionaries(st.text(min_size=1, max_size=120), st.integers(0, 10_000), max_size=120),
)
@settings(max_examples=60, deadline=None)
def test_any_tag_fits_google_limits_and_reads_back(key: str, category: str, pays: dict[str, int]) -> None:
    """Every tag is stored within Google's key/value limits and reads back whole (or without pays if huge)."""
    tag = OwnedTag(key, Kind.MAKEUP, T0, T0 + H, category, pays)
    props = tag_properties(tag)
    assert all(len(k) <= 44 and len(v) <= 1024 for k, v in props.items())
    back = tag_from_properties(props)
    assert back in (tag, dataclasses.replace(tag, pays={}))
    assert event_id(key) == event_id(key) and is_valid_event_id(event_id(key))
