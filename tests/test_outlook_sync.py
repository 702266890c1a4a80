"""Reading Outlook calendars: delta rounds, pages, @removed, the window, re-anchoring, expiry, fallback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from idealweek.model import DesiredEvent, Kind, OwnedTag, utc
from idealweek.providers.outlook import OutlookProvider, SyncState
from tests.fakes.graph_server import FakeGraph, provider_for

NOW = utc(2030, 3, 4, 8)
H = timedelta(hours=1)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(fake: FakeGraph, clock: Clock, calendar_id: str = "", page_size: int = 100) -> OutlookProvider:
    p: OutlookProvider = provider_for(fake, calendar_id, clock=clock, page_size=page_size)
    return p


def owned(key: str, start: datetime) -> DesiredEvent:
    tag = OwnedTag(key=key, kind=Kind.MIRROR, planned_start=start, planned_end=start + H)
    return DesiredEvent(calendar="work", tag=tag, start=start, end=start + H, title="Busy")


def test_full_round_follows_next_links_to_the_delta_link(fake: FakeGraph, clock: Clock) -> None:
    """A full read follows @odata.nextLink through small pages and keeps the deltaLink in the token."""
    fake.max_page = 3
    ids = {fake.user_add(f"m{i}", NOW + i * H, NOW + (i + 1) * H) for i in range(10)}
    p = make(fake, clock)
    cs = p.read_changes(None)
    assert cs.full and {e.uid for e in cs.upserts} == ids
    assert fake.count("GET", "calendarView/delta") == 4
    state = SyncState.decode(cs.token or "")
    assert state is not None and "$deltatoken=" in state.link
    assert p.requests.by_kind["delta"] == 4


def test_delta_requests_carry_prefer_headers_and_no_select_or_filter(fake: FakeGraph, clock: Clock) -> None:
    """Delta asks for UTC and a page size via Prefer, and never sends $select, $filter or $expand."""
    fake.user_add("m", NOW + H, NOW + 2 * H)
    p = make(fake, clock, page_size=7)
    p.read_changes(None)
    _method, path, query, headers = next(entry for entry in fake.log if "delta" in entry[1])
    assert path == "/v1.0/me/calendarView/delta"
    assert 'outlook.timezone="UTC"' in headers["Prefer"] and "odata.maxpagesize=7" in headers["Prefer"]
    assert not {"$select", "$filter", "$expand"} & set(query)
    assert {"startDateTime", "endDateTime"} <= set(query)


def test_steady_cycle_costs_one_request(fake: FakeGraph, clock: Clock) -> None:
    """With nothing changed, an incremental read is exactly one request and returns nothing."""
    fake.user_add("m", NOW + H, NOW + 2 * H)
    p = make(fake, clock)
    token = p.read_changes(None).token
    before = p.requests.total
    cs = p.read_changes(token)
    assert not cs.full and not cs.upserts and not cs.removed
    assert p.requests.total - before == 1


def test_incremental_round_reports_changes_and_removed(fake: FakeGraph, clock: Clock) -> None:
    """Moves and additions come back as upserts, deletions as @removed → removed, across pages."""
    fake.max_page = 2
    a = fake.user_add("a", NOW + H, NOW + 2 * H)
    b = fake.user_add("b", NOW + 3 * H, NOW + 4 * H)
    p = make(fake, clock)
    token = p.read_changes(None).token
    fake.user_patch(a, start=NOW + 5 * H, end=NOW + 6 * H)
    fake.user_delete(b)
    c = fake.user_add("c", NOW + 7 * H, NOW + 8 * H)
    d = fake.user_add("d", NOW + 9 * H, NOW + 10 * H)
    cs = p.read_changes(token)
    assert not cs.full
    assert {e.uid for e in cs.upserts} == {a, c, d}
    assert next(e for e in cs.upserts if e.uid == a).start == NOW + 5 * H
    assert list(cs.removed) == [b]


def test_cancelled_event_is_removed(fake: FakeGraph, clock: Clock) -> None:
    """An event the organiser cancelled (isCancelled) comes back as removed."""
    a = fake.user_add("a", NOW + H, NOW + 2 * H)
    p = make(fake, clock)
    token = p.read_changes(None).token
    fake.user_patch(a, isCancelled=True)
    cs = p.read_changes(token)
    assert list(cs.removed) == [a] and not cs.upserts


def test_events_outside_the_window_are_filtered(fake: FakeGraph, clock: Clock) -> None:
    """Events the service sends from outside the window are dropped from a full read."""
    fake.leak_outside_window = True
    inside = fake.user_add("in", NOW + H, NOW + 2 * H)
    fake.user_add("far future", NOW + timedelta(days=60), NOW + timedelta(days=60) + H)
    fake.user_add("far past", NOW - timedelta(days=60), NOW - timedelta(days=60) + H)
    cs = make(fake, clock).read_changes(None)
    assert [e.uid for e in cs.upserts] == [inside]


def test_event_moved_out_of_the_window_is_removed(fake: FakeGraph, clock: Clock) -> None:
    """An event the user moves beyond the window comes back as removed, so no stale copy stays."""
    a = fake.user_add("a", NOW + H, NOW + 2 * H)
    p = make(fake, clock)
    token = p.read_changes(None).token
    fake.user_patch(a, start=NOW + timedelta(days=90), end=NOW + timedelta(days=90) + H)
    cs = p.read_changes(token)
    assert list(cs.removed) == [a] and not cs.upserts


def test_window_covers_lookback_and_horizon(fake: FakeGraph, clock: Clock) -> None:
    """The window runs from now − lookback to beyond now + horizon."""
    p = make(fake, clock)
    state = SyncState.decode(p.read_changes(None).token or "")
    assert state is not None
    assert state.start <= NOW - timedelta(days=8)
    assert state.end >= NOW + timedelta(days=14)


def test_window_is_reanchored_when_time_moves_on(fake: FakeGraph, clock: Clock) -> None:
    """After a day the window moves: a new full round (full=True) with every event exactly once."""
    ids = [fake.user_add(f"m{i}", NOW + i * timedelta(days=1), NOW + i * timedelta(days=1) + H) for i in range(16)]
    p = make(fake, clock)
    first = p.read_changes(None)
    assert {e.uid for e in first.upserts} == set(ids[:15])
    clock.now = NOW + timedelta(hours=20)
    same = p.read_changes(first.token)
    assert not same.full
    clock.now = NOW + timedelta(days=1, hours=1)
    moved = p.read_changes(same.token)
    assert moved.full
    uids = [e.uid for e in moved.upserts]
    assert len(uids) == len(set(uids)) and set(uids) == set(ids)
    s1, s2 = SyncState.decode(first.token or ""), SyncState.decode(moved.token or "")
    assert s1 is not None and s2 is not None and s2.start > s1.start and s2.end > s1.end


@pytest.mark.parametrize(
    ("status", "code"), [(410, "SyncStateNotFound"), (400, "syncStateNotFound"), (400, "resyncRequired")]
)
def test_expired_delta_token_means_full_resync(fake: FakeGraph, clock: Clock, status: int, code: str) -> None:
    """410 / syncStateNotFound / resyncRequired → a new full round, reported as full=True."""
    a = fake.user_add("a", NOW + H, NOW + 2 * H)
    p = make(fake, clock)
    token = p.read_changes(None).token
    b = fake.user_add("b", NOW + 3 * H, NOW + 4 * H)
    fake.expire_delta_tokens(status, code)
    cs = p.read_changes(token)
    assert cs.full and {e.uid for e in cs.upserts} == {a, b}
    again = p.read_changes(cs.token)
    assert not again.full and not again.upserts


def test_garbage_token_means_full_read(fake: FakeGraph, clock: Clock) -> None:
    """A token that is not ours (another provider's, a corrupt row) leads to a full read."""
    fake.user_add("a", NOW + H, NOW + 2 * H)
    cs = make(fake, clock).read_changes("12345")
    assert cs.full and len(cs.upserts) == 1


def test_owned_events_carry_their_tag_in_reads(fake: FakeGraph, clock: Clock) -> None:
    """Delta cannot expand the tag; reads attach it from one filtered listing of owned events."""
    p = make(fake, clock)
    mine = p.create(owned("mirror:a", NOW + H))
    user = fake.user_add("user", NOW + 2 * H, NOW + 3 * H)
    cs = p.read_changes(None)
    tags = {e.uid: e.tag for e in cs.upserts}
    mine_tag = tags[mine.uid]
    assert tags[user] is None and mine_tag is not None and mine_tag.key == "mirror:a"
    assert any(q.get("$filter") for m, path, q, h in fake.log if path.endswith("/events") and m == "GET")


def test_owned_listing_uses_the_extended_property_filter(fake: FakeGraph, clock: Clock) -> None:
    """list_owned filters on idealweek's extended property and expands only the tag."""
    p = make(fake, clock)
    p.create(owned("mirror:a", NOW + H))
    fake.user_add("user", NOW + 2 * H, NOW + 3 * H)
    fake.log.clear()
    assert [e.tag.key for e in p.list_owned() if e.tag] == ["mirror:a"]
    _, path, query, _ = fake.log[-1]
    assert path == "/v1.0/me/calendar/events"
    assert query["$filter"][0].startswith("singleValueExtendedProperties/Any(ep: ep/id eq 'String {")
    assert query["$expand"][0].startswith("singleValueExtendedProperties($filter=id eq 'String {")


def test_secondary_calendar_uses_its_own_delta(fake: FakeGraph, clock: Clock) -> None:
    """A non-default calendar is read with /me/calendars/{id}/calendarView/delta."""
    cid = fake.add_calendar("Side")
    a = fake.user_add("a", NOW + H, NOW + 2 * H, calendar=cid)
    fake.user_add("on primary", NOW + H, NOW + 2 * H)
    cs = make(fake, clock, cid).read_changes(None)
    assert [e.uid for e in cs.upserts] == [a]
    assert fake.count("GET", "/me/calendars/") >= 1


def test_fallback_listing_detects_changes_by_change_key(fake: FakeGraph, clock: Clock) -> None:
    """Where delta is refused, a windowed calendarView listing finds changes and deletions by changeKey."""
    cid = fake.add_calendar("No delta")
    fake.delta_unsupported.add(cid)
    a = fake.user_add("a", NOW + H, NOW + 2 * H, calendar=cid)
    b = fake.user_add("b", NOW + 3 * H, NOW + 4 * H, calendar=cid)
    p = make(fake, clock, cid)
    first = p.read_changes(None)
    assert first.full and {e.uid for e in first.upserts} == {a, b}
    steady = p.read_changes(first.token)
    assert not steady.full and not steady.upserts and not steady.removed
    fake.user_patch(a, subject="renamed")
    fake.user_delete(b)
    cs = p.read_changes(steady.token)
    assert [e.uid for e in cs.upserts] == [a] and list(cs.removed) == [b]
    assert fake.count("GET", "calendarView/delta") == 1
