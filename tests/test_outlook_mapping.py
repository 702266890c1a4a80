"""Graph event JSON → idealweek events: free/busy, cancellation, answers, all-day, series, zones, privacy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from idealweek.model import DesiredEvent, Kind, OwnedTag, Response, Status, utc
from idealweek.providers.outlook.mapping import (
    TAG_ID,
    BadEvent,
    create_body,
    parse_time,
    resolve_zone,
    to_event,
    transaction_id,
    update_body,
)
from tests.fakes.graph_server import FakeGraph, SchemaValidator, provider_for

NOW = utc(2030, 3, 4, 8)
H = timedelta(hours=1)


def doc(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "AAMk1=",
        "subject": "Sync",
        "start": {"dateTime": "2030-03-04T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-04T10:00:00.0000000", "timeZone": "UTC"},
        "showAs": "busy",
        "type": "singleInstance",
        "changeKey": "CK1",
        "@odata.etag": 'W/"CK1"',
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("show_as", "busy", "status"),
    [
        ("busy", True, Status.CONFIRMED),
        ("oof", True, Status.CONFIRMED),
        ("tentative", True, Status.TENTATIVE),
        ("free", False, Status.CONFIRMED),
        ("workingElsewhere", False, Status.CONFIRMED),
        ("unknown", True, Status.CONFIRMED),
    ],
)
def test_show_as_maps_to_busy(show_as: str, busy: bool, status: Status) -> None:
    """free and workingElsewhere are not busy; tentative is a tentative status; the rest are busy."""
    ev = to_event("work", doc(showAs=show_as), UTC)
    assert ev.busy is busy and ev.status == status


@pytest.mark.parametrize(
    ("graph", "ours"),
    [
        ("declined", Response.DECLINED),
        ("accepted", Response.ACCEPTED),
        ("tentativelyAccepted", Response.TENTATIVE),
        ("notResponded", Response.NEEDS_ACTION),
        ("organizer", Response.ORGANIZER),
        ("none", Response.NONE),
    ],
)
def test_response_status_is_mapped(graph: str, ours: Response) -> None:
    """responseStatus.response becomes the user's answer (declined is not a meeting for the planner)."""
    assert to_event("work", doc(responseStatus={"response": graph}), UTC).response == ours


def test_cancelled_event_is_cancelled() -> None:
    """isCancelled marks the event cancelled."""
    assert to_event("work", doc(isCancelled=True), UTC).status == Status.CANCELLED


def test_occurrence_and_exception_carry_series_and_recurrence_id() -> None:
    """Occurrences and exceptions name their series master and original start."""
    ev = to_event("work", doc(type="exception", seriesMasterId="MASTER=", originalStart="2030-03-04T08:00:00Z"), UTC)
    assert ev.series == "MASTER=" and ev.recurrence_id == "2030-03-04T08:00:00Z"
    assert ev.instance_key == "MASTER=@2030-03-04T08:00:00Z"
    single = to_event("work", doc(seriesMasterId="X"), UTC)
    assert single.series == "" and single.recurrence_id == ""


def test_private_and_confidential_are_private() -> None:
    """sensitivity private (or confidential) → private."""
    assert to_event("work", doc(sensitivity="private"), UTC).private
    assert to_event("work", doc(sensitivity="confidential"), UTC).private
    assert not to_event("work", doc(sensitivity="normal"), UTC).private


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        ("UTC", "2030-07-01T09:00:00.0000000", utc(2030, 7, 1, 9)),
        ("W. Europe Standard Time", "2030-07-01T09:00:00.0000000", utc(2030, 7, 1, 7)),
        ("Pacific Standard Time", "2030-01-15T09:00:00.0000000", utc(2030, 1, 15, 17)),
        ("Europe/Berlin", "2030-01-15T09:00:00.0000000", utc(2030, 1, 15, 8)),
        ("tzone://Microsoft/Utc", "2030-01-15T09:00:00", utc(2030, 1, 15, 9)),
    ],
)
def test_date_time_without_offset_plus_zone(zone: str, local: str, expected: datetime) -> None:
    """dateTime without offset is read in its timeZone: UTC, Windows names and IANA names."""
    assert parse_time({"dateTime": local, "timeZone": zone}) == expected


def test_unknown_zone_is_a_bad_event() -> None:
    """An unknown time zone makes the event unreadable (it is skipped with a warning, not guessed)."""
    with pytest.raises(BadEvent):
        resolve_zone("Middle Earth Standard Time")


def test_all_day_events_are_local_midnights() -> None:
    """All-day events span the user's local days, whatever zone Graph labels them with."""
    berlin = ZoneInfo("Europe/Berlin")
    ev = to_event(
        "work",
        doc(
            isAllDay=True,
            start={"dateTime": "2030-03-04T00:00:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2030-03-05T00:00:00.0000000", "timeZone": "UTC"},
        ),
        berlin,
    )
    assert ev.all_day
    assert ev.start == datetime(2030, 3, 4, tzinfo=berlin) and ev.end == datetime(2030, 3, 5, tzinfo=berlin)


def test_tag_is_read_from_the_extended_property() -> None:
    """The ownership tag is decoded from idealweek's single-value extended property."""
    tag = OwnedTag(key="k", kind=Kind.FOCUS, planned_start=NOW, planned_end=NOW + H)
    ev = to_event("work", doc(singleValueExtendedProperties=[{"id": TAG_ID.upper(), "value": tag.encode()}]), UTC)
    assert ev.tag == tag and ev.owned
    junk = to_event("work", doc(singleValueExtendedProperties=[{"id": TAG_ID, "value": "not a tag"}]), UTC)
    assert junk.tag is None


def test_write_bodies_are_valid_graph_and_private_busy_without_attendees() -> None:
    """Create/patch bodies validate against the Graph schema: busy, private, no attendees, the tag."""
    tag = OwnedTag(key="mirror:x", kind=Kind.MIRROR, planned_start=NOW, planned_end=NOW + H)
    d = DesiredEvent(calendar="work", tag=tag, start=NOW, end=NOW + H, title="Busy", private=True)
    body = create_body(d, "primary")
    schema = SchemaValidator()
    assert schema.validate(body, "microsoft.graph.event") == []
    assert schema.validate(update_body(d), "microsoft.graph.event") == []
    assert body["showAs"] == "busy" and body["sensitivity"] == "private" and "attendees" not in body
    assert body["transactionId"] == transaction_id("primary", "mirror:x") != transaction_id("other", "mirror:x")
    assert "subject" not in update_body(d) and "body" not in update_body(d)


def test_schema_validator_refuses_unknown_and_ill_typed_properties() -> None:
    """The fake's validator refuses what Graph refuses: unknown properties, bad enums, wrong types."""
    schema = SchemaValidator()
    assert schema.validate({"subject": "x", "colour": "red"}, "microsoft.graph.event")
    assert schema.validate({"showAs": "maybe"}, "microsoft.graph.event")
    assert schema.validate({"isAllDay": "yes"}, "microsoft.graph.event")
    assert schema.validate({"start": {"dateTime": 5}}, "microsoft.graph.event")


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


def test_fake_responses_follow_the_schema(fake: FakeGraph) -> None:
    """What the fake Graph answers is itself valid against the schema subset."""
    fake.user_add("m", NOW + H, NOW + 2 * H, responseStatus={"response": "accepted", "time": "2030-03-01T00:00:00Z"})
    schema = SchemaValidator()
    for ev in fake.events.values():
        rendered = fake.render(ev, "UTC", {TAG_ID.lower()})
        assert schema.validate(rendered, "microsoft.graph.event") == []


def test_events_answered_in_a_windows_zone_are_read_correctly(fake: FakeGraph) -> None:
    """If Graph ignores the UTC preference and answers in a Windows zone, times are still right."""
    fake.render_zone = "W. Europe Standard Time"
    a = fake.user_add("m", utc(2030, 3, 4, 9), utc(2030, 3, 4, 10))
    cs = provider_for(fake, clock=lambda: NOW).read_changes(None)
    ev = next(e for e in cs.upserts if e.uid == a)
    assert ev.start == utc(2030, 3, 4, 9) and ev.end == utc(2030, 3, 4, 10)


def test_declined_free_and_series_read_through_the_fake(fake: FakeGraph) -> None:
    """End to end through HTTP: a declined occurrence, a free event, a private one."""
    occ = fake.user_add(
        "weekly",
        NOW + H,
        NOW + 2 * H,
        type="occurrence",
        seriesMasterId="SERIES=",
        originalStart="2030-03-04T09:00:00Z",
        responseStatus={"response": "declined", "time": "2030-03-01T00:00:00Z"},
    )
    free = fake.user_add("lunch", NOW + 3 * H, NOW + 4 * H, showAs="free")
    priv = fake.user_add("doctor", NOW + 5 * H, NOW + 6 * H, sensitivity="private")
    fake.user_add("master", NOW, NOW + H, type="seriesMaster")
    events = {e.uid: e for e in provider_for(fake, clock=lambda: NOW).read_changes(None).upserts}
    assert set(events) == {occ, free, priv}
    assert events[occ].response == Response.DECLINED and events[occ].series == "SERIES="
    assert not events[free].busy
    assert events[priv].private
