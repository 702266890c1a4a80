"""Writing to Outlook: idempotent creates, tags, If-Match, 404 on delete, read-only calendars, no mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed
from idealweek.model import DesiredEvent, Kind, OwnedTag, utc
from idealweek.providers.outlook import OutlookProvider
from idealweek.providers.outlook.mapping import KEY_ID, OWNER_ID, TAG_ID
from tests.fakes.graph_server import FakeGraph, Fault, provider_for

NOW = utc(2030, 3, 4, 8)
H = timedelta(hours=1)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture
def p(fake: FakeGraph) -> OutlookProvider:
    prov: OutlookProvider = provider_for(fake, clock=lambda: NOW)
    return prov


def want(key: str, start: object = None, private: bool = True, title: str = "Busy") -> DesiredEvent:
    s = NOW + H if start is None else start
    assert isinstance(s, type(NOW))
    tag = OwnedTag(key=key, kind=Kind.MIRROR, planned_start=s, planned_end=s + H, category="family")
    return DesiredEvent(calendar="work", tag=tag, start=s, end=s + H, title=title, private=private)


def test_create_writes_private_busy_event_with_tag_and_no_attendees(fake: FakeGraph, p: OutlookProvider) -> None:
    """A created event is busy, private, without attendees or reminder, and carries the tag properties."""
    ev = p.create(want("mirror:a"))
    stored = fake.events[ev.uid]
    assert stored.props["showAs"] == "busy" and stored.props["sensitivity"] == "private"
    assert not stored.props.get("attendees") and stored.props["isReminderOn"] is False
    assert stored.ext_value(TAG_ID) == want("mirror:a").tag.encode()
    assert stored.ext_value(KEY_ID) and stored.ext_value(OWNER_ID) == "idealweek"
    assert stored.transaction_id.startswith("idealweek-")
    assert ev.start == NOW + H and ev.tag == want("mirror:a").tag
    assert p.requests.writes == 1


def test_second_create_with_same_key_raises_already_exists(fake: FakeGraph, p: OutlookProvider) -> None:
    """The key lookup before POST refuses a second create; nothing is duplicated."""
    p.create(want("mirror:a"))
    with pytest.raises(AlreadyExists):
        p.create(want("mirror:a", start=NOW + 5 * H))
    assert len(fake.events) == 1


def test_create_whose_response_was_lost_is_not_duplicated(fake: FakeGraph, p: OutlookProvider) -> None:
    """The POST lands but the connection drops; the retry with the same transactionId returns the same event."""
    fake.inject(Fault(drop_after=True, match="POST"))
    ev = p.create(want("mirror:a"))
    assert len(fake.events) == 1 and ev.uid in fake.events
    assert fake.count("POST") == 2


def test_create_after_user_deleted_it_is_possible(fake: FakeGraph, p: OutlookProvider) -> None:
    """Graph forgets deleted events: not remembering waived blocks is the engine's job (its state)."""
    ev = p.create(want("mirror:a"))
    fake.user_delete(ev.uid)
    again = p.create(want("mirror:a"))
    assert again.uid != ev.uid and len(fake.events) == 1


def test_update_sends_if_match_and_keeps_title(fake: FakeGraph, p: OutlookProvider) -> None:
    """Update PATCHes times and tag with If-Match, never the title or body."""
    ev = p.create(want("mirror:a"))
    fake.user_patch(ev.uid, subject="Mine now")
    fresh = next(e for e in p.list_owned() if e.uid == ev.uid)
    out = p.update(fresh, want("mirror:a", start=NOW + 4 * H))
    stored = fake.events[ev.uid]
    assert stored.start == NOW + 4 * H and stored.props["subject"] == "Mine now"
    assert out.tag is not None and out.tag.planned_start == NOW + 4 * H
    patch = next(entry for entry in fake.log if entry[0] == "PATCH")
    assert patch[3]["If-Match"] == fresh.etag
    method, _, body = fake.bodies[-1]
    assert method == "PATCH" and "subject" not in body and "attendees" not in body


def test_update_with_stale_etag_is_refused(fake: FakeGraph, p: OutlookProvider) -> None:
    """An update based on an old read fails with PreconditionFailed and writes nothing."""
    ev = p.create(want("mirror:a"))
    fake.user_patch(ev.uid, start=NOW + 2 * H, end=NOW + 3 * H)
    with pytest.raises(PreconditionFailed):
        p.update(ev, want("mirror:a", start=NOW + 6 * H))
    assert fake.events[ev.uid].start == NOW + 2 * H
    assert fake.count("PATCH") == 0


def test_412_from_the_service_is_precondition_failed(fake: FakeGraph, p: OutlookProvider) -> None:
    """If the event changes between our check and the PATCH, Graph's 412 becomes PreconditionFailed."""
    ev = p.create(want("mirror:a"))
    fake.inject(Fault(status=412, code="ErrorIrresolvableConflict", match="PATCH"))
    with pytest.raises(PreconditionFailed):
        p.update(ev, want("mirror:a", start=NOW + 6 * H))


def test_patch_whose_response_was_lost_is_recognised(fake: FakeGraph, p: OutlookProvider) -> None:
    """A PATCH that landed before the connection dropped is not mistaken for someone else's change."""
    ev = p.create(want("mirror:a"))
    fake.inject(Fault(drop_after=True, match="PATCH"))
    out = p.update(ev, want("mirror:a", start=NOW + 6 * H))
    assert out.start == NOW + 6 * H and fake.events[ev.uid].start == NOW + 6 * H


def test_foreign_event_is_never_touched(fake: FakeGraph, p: OutlookProvider) -> None:
    """Update and delete of an untagged event raise NotOwned and send no write."""
    uid = fake.user_add("Board", NOW + H, NOW + 2 * H)
    foreign = next(e for e in p.read_changes(None).upserts if e.uid == uid)
    with pytest.raises(NotOwned):
        p.update(foreign, want("x"))
    with pytest.raises(NotOwned):
        p.delete(foreign)
    assert fake.count("PATCH") == fake.count("DELETE") == 0


def test_delete_of_a_gone_event_is_fine(fake: FakeGraph, p: OutlookProvider) -> None:
    """Deleting an event the user already deleted is not an error (404 is fine)."""
    ev = p.create(want("mirror:a"))
    fake.user_delete(ev.uid)
    p.delete(ev)
    fake.inject(Fault(status=404, code="ErrorItemNotFound", match="DELETE"))
    ev2 = p.create(want("mirror:b"))
    p.delete(ev2)


def test_delete_sends_if_match(fake: FakeGraph, p: OutlookProvider) -> None:
    """Delete carries the etag; an event changed since it was read is not deleted."""
    ev = p.create(want("mirror:a"))
    fake.user_patch(ev.uid, subject="edited")
    with pytest.raises(PreconditionFailed):
        p.delete(ev)
    assert ev.uid in fake.events
    fresh = p.list_owned()[0]
    p.delete(fresh)
    assert ev.uid not in fake.events
    delete = next(entry for entry in fake.log if entry[0] == "DELETE")
    assert delete[3]["If-Match"] == fresh.etag


def test_update_of_a_gone_event_is_not_found(fake: FakeGraph, p: OutlookProvider) -> None:
    """Updating an event the user deleted raises NotFound (the engine treats it as the user's deletion)."""
    ev = p.create(want("mirror:a"))
    fake.user_delete(ev.uid)
    with pytest.raises(NotFound):
        p.update(ev, want("mirror:a", start=NOW + 3 * H))


def test_read_only_calendar_refuses_writes(fake: FakeGraph) -> None:
    """A calendar without a writing role never writes."""
    ro: OutlookProvider = provider_for(fake, clock=lambda: NOW, writable=False)
    with pytest.raises(NotOwned):
        ro.create(want("mirror:a"))
    assert fake.count("POST") == 0


def test_writes_go_to_the_configured_secondary_calendar(fake: FakeGraph) -> None:
    """Creates on a secondary calendar POST to /me/calendars/{id}/events and land there."""
    cid = fake.add_calendar("Blocks")
    side: OutlookProvider = provider_for(fake, cid, clock=lambda: NOW)
    ev = side.create(want("block:a"))
    assert fake.events[ev.uid].calendar == cid
    assert [e.uid for e in side.list_owned()] == [ev.uid]
    assert provider_for(fake, clock=lambda: NOW).list_owned() == []


ATTENDEES = [{"emailAddress": {"address": "bob@example.test", "name": "Bob"}, "type": "required"}]


def test_event_that_gained_attendees_is_refused_and_never_mailed(fake: FakeGraph, p: OutlookProvider) -> None:
    """An owned event the user turned into a meeting: update and delete are refused (and logged), nothing is sent."""
    import structlog

    ev = p.create(want("mirror:a"))
    fake.user_patch(ev.uid, attendees=ATTENDEES)
    fresh = next(e for e in p.list_owned() if e.uid == ev.uid)
    assert fresh.attendees == 1 and fresh.has_guests
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(NotOwned, match="attendees"):
            p.update(fresh, want("mirror:a", start=NOW + 3 * H))
        with pytest.raises(NotOwned, match="attendees"):
            p.delete(fresh)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["outlook.refused_meeting"] * 2
    assert fake.count("PATCH") == 0 and fake.count("DELETE") == 0 and fake.mailed == []
    assert ev.uid in fake.events


def test_event_organised_by_someone_else_is_refused(fake: FakeGraph, p: OutlookProvider) -> None:
    """A tagged event whose organizer is not the mailbox is not ours to change either."""
    ev = p.create(want("mirror:b"))
    fake.user_patch(ev.uid, isOrganizer=False)
    fresh = next(e for e in p.list_owned() if e.uid == ev.uid)
    assert fresh.organizer_other
    with pytest.raises(NotOwned):
        p.delete(fresh)
    assert fake.count("DELETE") == 0


def test_fake_flags_a_write_that_would_mail(fake: FakeGraph) -> None:
    """The fake's standard check catches a DELETE of a meeting: the guard the e2e tests rely on works."""
    import requests

    uid = fake.user_add("Team sync", NOW + H, NOW + 2 * H, attendees=ATTENDEES)
    resp = requests.delete(f"{fake.root}/me/events/{uid}", headers={"Authorization": "Bearer test-token"}, timeout=10)
    assert resp.status_code == 204
    with pytest.raises(AssertionError, match="mail attendees"):
        fake.assert_no_mail()
    fake.mailed.clear()
