"""Google and the household (issue 18): freeBusy.query for free/busy-only partners, blocks that defend themselves."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idealweek.errors import ProviderError
from idealweek.model import Defend, Kind, utc
from idealweek.providers.freebusy import FreeBusyProvider
from idealweek.providers.google.auth import SCOPE_FREEBUSY, scopes_for
from idealweek.providers.google.mapping import OOO_DECLINE_MODE
from tests.contract import desired
from tests.fakes.google_server import DEFAULT_SCOPES, GoogleFake, google_provider, google_settings

T0 = utc(2030, 3, 4, 9)
NOW = utc(2030, 3, 4, 6)
PARTNER = "partner@example.org"


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake() as f:
        yield f
        assert f.mails == 0


def signed_in_with_freebusy(fake: GoogleFake) -> Any:
    from idealweek.secrets import MemoryStore

    store = MemoryStore()
    store.set("token:work", fake.issue_token(scopes=(*DEFAULT_SCOPES, SCOPE_FREEBUSY)))
    return store


def partner_provider(fake: GoogleFake, cal_id: str = PARTNER, store: Any = None) -> FreeBusyProvider:
    cals = {
        "work": {"source": "google", "account": "work", "id": "primary", "roles": ["meetings", "blocks"]},
        "partner": {"source": "google", "account": "work", "id": cal_id, "roles": ["household"], "free_busy": True},
    }
    p = google_provider(fake, "partner", calendars=cals, store=store or signed_in_with_freebusy(fake))
    assert isinstance(p, FreeBusyProvider)
    p.clock = lambda: NOW
    return p


def test_freebusy_reads_busy_intervals_once_per_cycle_and_reports_only_changes(fake: GoogleFake) -> None:
    """One freeBusy.query per read (validated against the discovery document); the busy periods become title-less
    busy events; a second read of the same answer changes nothing; a new appointment is one upsert."""
    fake.add_calendar(PARTNER, access_role="freeBusyReader")
    fake.user_add(PARTNER, "Dentist", T0, T0 + timedelta(hours=1))
    fake.user_add(PARTNER, "Private", T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2))
    p = partner_provider(fake)
    first = p.read_changes(None)
    assert first.full and len(first.upserts) == 2
    assert all(e.busy and e.title == "" and e.description == "" for e in first.upserts)
    assert sorted(e.start for e in first.upserts) == [T0, T0 + timedelta(days=1)]
    (query,) = fake.requests_to("POST", "/freeBusy")
    assert query.body["items"] == [{"id": PARTNER}]
    span = datetime.fromisoformat(query.body["timeMax"]) - datetime.fromisoformat(query.body["timeMin"])
    assert span <= timedelta(days=90)
    assert p.requests.by_kind == {"freebusy.query": 1} and p.requests.writes == 0
    again = p.read_changes(first.token)
    assert not again.full and again.upserts == [] and again.removed == []
    fake.user_add(PARTNER, "Late shift", T0 + timedelta(days=2), T0 + timedelta(days=2, hours=3))
    third = p.read_changes(again.token)
    assert [e.start for e in third.upserts] == [T0 + timedelta(days=2)] and third.removed == []
    assert p.requests.by_kind == {"freebusy.query": 3}


def test_freebusy_emptied_week_is_a_change_not_an_empty_calendar(fake: GoogleFake) -> None:
    """When the partner's busy time all goes away the read says which intervals were removed (no full empty read)."""
    fake.add_calendar(PARTNER, access_role="freeBusyReader")
    eid = fake.user_add(PARTNER, "Dentist", T0, T0 + timedelta(hours=1))
    p = partner_provider(fake)
    first = p.read_changes(None)
    fake.user_delete(PARTNER, eid)
    second = p.read_changes(first.token)
    assert not second.full and second.upserts == [] and second.removed == [first.upserts[0].uid]


def test_freebusy_long_horizon_is_split_into_90_day_queries(fake: GoogleFake) -> None:
    """A horizon longer than Google's ~90-day limit is read in several queries, none longer than the limit."""
    fake.add_calendar(PARTNER, access_role="freeBusyReader")
    p = partner_provider(fake)
    p.horizon = timedelta(days=200)
    p.read_changes(None)
    queries = fake.requests_to("POST", "/freeBusy")
    assert len(queries) == 3
    for q in queries:
        span = datetime.fromisoformat(q.body["timeMax"]) - datetime.fromisoformat(q.body["timeMin"])
        assert span <= timedelta(days=90)


def test_freebusy_not_shared_is_a_clear_error_for_this_calendar(fake: GoogleFake) -> None:
    """A calendar Google will not show (errors: notFound in its entry) fails with a message naming the calendar."""
    p = partner_provider(fake, cal_id="stranger@example.org")
    with pytest.raises(ProviderError, match=r"partner: .*notFound"):
        p.read_changes(None)


def test_freebusy_without_the_scope_asks_to_sign_in_again(fake: GoogleFake) -> None:
    """A sign-in made before free/busy was configured lacks calendar.freebusy: the error names the fix."""
    from tests.fakes.google_server import signed_in

    fake.add_calendar(PARTNER, access_role="freeBusyReader")
    p = partner_provider(fake, store=signed_in(fake))
    with pytest.raises(ProviderError, match="sign in again with `idealweek auth google work`"):
        p.read_changes(None)


def test_sign_in_asks_for_freebusy_only_when_a_household_needs_it(fake: GoogleFake) -> None:
    """The free/busy scope is requested only for an account with a free_busy calendar."""
    plain = google_settings(fake)
    assert SCOPE_FREEBUSY not in scopes_for(plain, "work")
    cals = {"p": {"source": "google", "account": "work", "id": PARTNER, "roles": ["household"], "free_busy": True}}
    assert SCOPE_FREEBUSY in scopes_for(google_settings(fake, cals), "work")


def test_freebusy_calendar_is_never_written(fake: GoogleFake) -> None:
    """A free/busy household calendar refuses every write."""
    from idealweek.errors import NotOwned

    p = partner_provider(fake)
    with pytest.raises(NotOwned):
        p.create(desired("partner", "block:x", T0))
    assert not p.writable and p.list_owned() == []


def test_fake_refuses_freebusy_over_limits(fake: GoogleFake) -> None:
    """The fake answers like Google: span over ~90 days → timeRangeTooLong, over 50 calendars → an error."""
    import json
    import urllib.request

    token = json.loads(fake.issue_token(scopes=(SCOPE_FREEBUSY,)))["token"]

    def post(body: dict[str, Any]) -> int:
        req = urllib.request.Request(
            fake.api_root + "freeBusy",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    lo = datetime(2030, 1, 1, tzinfo=UTC)
    ok = {"timeMin": lo.isoformat(), "timeMax": (lo + timedelta(days=30)).isoformat(), "items": [{"id": "primary"}]}
    assert post(ok) == 200
    assert post({**ok, "timeMax": (lo + timedelta(days=120)).isoformat()}) == 400
    assert post({**ok, "items": [{"id": f"c{i}@x"} for i in range(51)]}) == 400
    assert post({**ok, "unknownField": 1}) == 400  # validated against the discovery document


# -- blocks that defend themselves ---------------------------------------------------------------------------------


def decline_block(cal: str = "work", key: str = "block:school@15:00-15:30:2030-03-04") -> Any:
    d = desired(cal, key, T0, kind=Kind.BLOCK)
    return dataclasses.replace(d, defend=Defend.DECLINE, decline_message="School pick-up; please pick another time.")


def test_decline_block_on_primary_is_out_of_office_declining_only_new_invitations(fake: GoogleFake) -> None:
    """defend = decline on the primary calendar: eventType outOfOffice with autoDeclineMode
    declineOnlyNewConflictingInvitations and the message; opaque, private, no attendees, sendUpdates=none."""
    p = google_provider(fake)
    try:
        ev = p.create(decline_block())
        raw = fake.event("primary", ev.uid)
        assert raw is not None and raw["eventType"] == "outOfOffice"
        assert raw["outOfOfficeProperties"] == {
            "autoDeclineMode": OOO_DECLINE_MODE,
            "declineMessage": "School pick-up; please pick another time.",
        }
        assert raw["transparency"] == "opaque" and "attendees" not in raw
        (insert,) = fake.requests_to("POST", "/events")
        assert insert.param("sendUpdates") == "none"
        assert ev.busy and ev.tag is not None
        # moving it later is a patch that keeps the event type
        moved = dataclasses.replace(decline_block(), start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
        after = p.update(ev, moved)
        assert after.start == T0 + timedelta(hours=1)
        assert fake.event("primary", ev.uid)["eventType"] == "outOfOffice"  # type: ignore[index]
        assert p.notices == []
    finally:
        p.close()


def test_decline_block_on_secondary_calendar_falls_back_to_busy_with_one_notice(fake: GoogleFake) -> None:
    """Google allows out-of-office only on primary calendars: elsewhere the block is busy, said once."""
    fake.add_calendar("blocks@group.calendar.google.com")
    cals = {"b": {"source": "google", "account": "work", "id": "blocks@group.calendar.google.com", "roles": ["blocks"]}}
    p = google_provider(fake, "b", calendars=cals)
    try:
        ev = p.create(decline_block("b"))
        p.create(decline_block("b", key="block:school@15:00-15:30:2030-03-11"))
        raw = fake.event("blocks@group.calendar.google.com", ev.uid)
        assert raw is not None and raw.get("eventType", "default") == "default" and raw["transparency"] == "opaque"
        assert len(p.notices) == 1 and "primary calendar" in p.notices[0]
    finally:
        p.close()


def test_consumer_account_refusing_out_of_office_falls_back_to_busy(fake: GoogleFake) -> None:
    """When Google refuses an out-of-office event (a consumer account) the block is written busy, with one notice,
    and later blocks go straight to busy."""
    fake.workspace = False
    p = google_provider(fake)
    try:
        ev = p.create(decline_block())
        raw = fake.event("primary", ev.uid)
        assert raw is not None and raw.get("eventType", "default") == "default" and raw["transparency"] == "opaque"
        assert len(p.notices) == 1 and "refused an out-of-office" in p.notices[0]
        inserts = len(fake.requests_to("POST", "/events"))
        p.create(decline_block(key="block:school@15:00-15:30:2030-03-11"))
        assert len(fake.requests_to("POST", "/events")) == inserts + 1  # no second refused try
    finally:
        p.close()


def test_fake_refuses_out_of_office_where_google_does(fake: GoogleFake) -> None:
    """The fake validates outOfOffice like Google: only on primary calendars, not all-day, a known autoDeclineMode,
    its properties only on out-of-office events."""
    from tests.fakes.google_server import ApiFailure, FakeCalendar

    fake.add_calendar("other@group.calendar.google.com")
    primary: FakeCalendar = fake.calendar("primary")
    other = fake.calendar("other@group.calendar.google.com")
    start = {"dateTime": "2030-03-04T10:00:00+01:00"}
    end = {"dateTime": "2030-03-04T11:00:00+01:00"}
    ooo = {"eventType": "outOfOffice", "start": start, "end": end, "outOfOfficeProperties": {}}
    fake._check_out_of_office(primary, dict(ooo))
    for cal, event in [
        (other, dict(ooo)),
        (primary, {**ooo, "start": {"date": "2030-03-04"}, "end": {"date": "2030-03-05"}}),
        (primary, {**ooo, "outOfOfficeProperties": {"autoDeclineMode": "declineEverything"}}),
        (primary, {"start": start, "end": end, "outOfOfficeProperties": {"autoDeclineMode": OOO_DECLINE_MODE}}),
        (primary, {**ooo, "transparency": "transparent"}),
    ]:
        with pytest.raises(ApiFailure):
            fake._check_out_of_office(cal, event)


def test_free_block_is_written_transparent(fake: GoogleFake) -> None:
    """defend = free: the block is transparent (visible to you, invisible to schedulers)."""
    p = google_provider(fake)
    try:
        d = dataclasses.replace(desired("work", "block:x", T0, kind=Kind.BLOCK), busy=False, defend=Defend.FREE)
        ev = p.create(d)
        raw = fake.event("primary", ev.uid)
        assert raw is not None and raw["transparency"] == "transparent" and raw.get("eventType", "default") == "default"
    finally:
        p.close()
