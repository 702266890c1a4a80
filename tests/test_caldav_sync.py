"""CalDAV reading beyond the contract, against real Radicale and Xandikos: tokens, recurrences, quirks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.errors import AuthError, ProviderError, TransientError
from idealweek.model import Response, utc
from idealweek.providers.caldav import CalDavProvider, ClientOptions, DavSession, RetryPolicy
from idealweek.providers.caldav.mapping import events_of_resource
from idealweek.providers.caldav.provider import decode_token, encode_token
from tests.contract import T0, desired
from tests.fakes.dav_proxy import DavProxy
from tests.fakes.dav_servers import KINDS, DavServer, DavUser, running, vevent

WINDOW = (utc(2030, 1, 1), utc(2031, 1, 1))
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with running(request.param, tmp_path_factory.mktemp(request.param)) as s:
        yield s


@pytest.fixture
def user(server: DavServer) -> Iterator[DavUser]:
    u = server.user()
    yield u
    u.close()


@pytest.fixture
def cal(server: DavServer) -> str:
    return server.new_calendar("sync")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make(
    server: DavServer,
    calendar_id: str,
    *,
    url: str = "",
    password: str | None = None,
    features: str = "",
    **kwargs: object,
) -> CalDavProvider:
    options = ClientOptions(
        url=url or server.url,
        username=server.username,
        password=server.password if password is None else password,
        features=features,
        retry=RetryPolicy(attempts=3, sleep=lambda s: None),
        account="home",
    )
    kwargs.setdefault("window", WINDOW)
    return CalDavProvider("dav", DavSession(options), calendar_id, zone=BERLIN, **kwargs)  # type: ignore[arg-type]


def test_invalid_sync_token_leads_to_a_full_read(server: DavServer, user: DavUser, cal: str) -> None:
    """A token the server refuses (Radicale 403, Xandikos 412 valid-sync-token) gives a full read, not a failure."""
    name = user.add(cal, "Dentist", T0, T0 + timedelta(hours=1))
    p = make(server, cal)
    first = p.read_changes(None)
    sync, full_at = decode_token(first.token) or ("", 0)
    assert sync and not sync.startswith("fake-")
    stale = encode_token("http://example.invalid/sync/never-issued", datetime.fromtimestamp(full_at, UTC))
    cs = p.read_changes(stale)
    assert cs.full and [e.uid for e in cs.upserts] == [name]
    assert decode_token(cs.token) is not None and decode_token(cs.token) != decode_token(stale)


def test_token_works_in_a_new_process_and_removals_name_resources(server: DavServer, user: DavUser, cal: str) -> None:
    """A token handed to a new provider reads incrementally; a deleted resource comes back by its name."""
    keep = user.add(cal, "A", T0, T0 + timedelta(hours=1))
    gone = user.add(cal, "B", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    token = make(server, cal).read_changes(None).token
    user.delete(cal, gone)
    user.retitle(cal, keep, "A renamed")
    fresh = make(server, cal)
    cs = fresh.read_changes(token)
    assert not cs.full
    assert [(e.uid, e.title) for e in cs.upserts] == [(keep, "A renamed")]
    assert gone in cs.removed and keep not in cs.removed
    assert fresh.requests.total == 2  # one sync-collection REPORT, one calendar-multiget


def test_steady_read_is_one_request(server: DavServer, user: DavUser, cal: str) -> None:
    """With nothing changed, an incremental read is one sync-collection REPORT and no write."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    p = make(server, cal)
    token = p.read_changes(None).token
    before = p.requests.total
    cs = p.read_changes(token)
    assert not cs.full and not cs.upserts and not cs.removed
    assert p.requests.total - before == 1 and p.requests.writes == 0
    assert p.requests.by_kind.get("REPORT", 0) >= 1


def test_daily_full_read(server: DavServer, user: DavUser, cal: str) -> None:
    """A token older than a day gives a full read (occurrences of series move into the window)."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    clock = Clock(datetime(2030, 1, 10, 8, tzinfo=UTC))
    p = make(server, cal, clock=clock)
    token = p.read_changes(None).token
    clock.now += timedelta(hours=23)
    assert not p.read_changes(token).full
    clock.now += timedelta(hours=2)
    again = p.read_changes(token)
    assert again.full and len(again.upserts) == 1
    assert not p.read_changes(again.token).full


def test_fragile_tokens_are_refreshed_hourly(server: DavServer, user: DavUser, cal: str) -> None:
    """With a profile that calls the server's sync tokens fragile (DAViCal), a token older than an hour is not used."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    clock = Clock(datetime(2030, 1, 10, 8, tzinfo=UTC))
    p = make(server, cal, clock=clock, features="davical")
    token = p.read_changes(None).token
    clock.now += timedelta(minutes=50)
    assert not p.read_changes(token).full
    clock.now += timedelta(minutes=20)
    assert p.read_changes(token).full


def test_profile_without_sync_collection_uses_the_fallback(server: DavServer, user: DavUser, cal: str) -> None:
    """A profile saying the server has no sync tokens (Yahoo) reads by full listings without trying the REPORT."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    p = make(server, cal, features="yahoo")
    first = p.read_changes(None)
    assert first.full and len(first.upserts) == 1
    assert (decode_token(first.token) or ("", 0))[0].startswith("fake-")
    assert not p.read_changes(first.token).upserts


def test_recurring_series_is_expanded_and_removed_whole(server: DavServer, user: DavUser, cal: str) -> None:
    """A weekly series comes back as occurrences named after the resource; an EXDATE or deletion drops them."""
    start = utc(2030, 3, 4, 17)
    name = user.add(cal, "Swim", start, start + timedelta(hours=1), extra=("RRULE:FREQ=WEEKLY;COUNT=4",))
    p = make(server, cal)
    first = p.read_changes(None)
    occ = sorted(e.uid for e in first.upserts)
    assert occ == [f"{name}@{(start + timedelta(weeks=i)):%Y%m%dT%H%M%SZ}" for i in range(4)]
    assert {e.series for e in first.upserts} == {name}
    user.edit(cal, name, "RRULE:FREQ=WEEKLY;COUNT=4", "RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20300311T170000Z")
    second = p.read_changes(first.token)
    assert name in second.removed and len(second.upserts) == 3
    user.delete(cal, name)
    third = p.read_changes(second.token)
    assert list(third.removed) == [name] and not third.upserts


def test_calendar_by_display_name_and_path_without_slash(server: DavServer, user: DavUser, cal: str) -> None:
    """The calendar id may be its display name or its path without the trailing slash (Fastmail's quirk)."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    by_path = make(server, cal.rstrip("/"))
    assert len(by_path.read_changes(None).upserts) == 1
    assert str(by_path.calendar.url).endswith("/")
    display = f"Sync {cal.rstrip('/')[-6:]}"
    by_name = make(server, display.upper())
    assert len(by_name.read_changes(None).upserts) == 1
    with pytest.raises(ProviderError, match="no calendar named"):
        make(server, "No such calendar").read_changes(None)


def test_copy_of_an_owned_event_is_the_users(server: DavServer, user: DavUser, cal: str) -> None:
    """An event copied by a calendar app (same X-IDEALWEEK, new UID) is not taken for ours."""
    p = make(server, cal)
    ev = p.create(desired("dav", "makeup:family:copy", T0))
    data = user.get(cal, ev.uid)
    assert data is not None
    uid = ev.uid.removesuffix(".ics")
    user.put(cal, "copy.ics", data[0].replace(uid, "a-copy-from-the-phone"))
    events = {e.uid: e for e in p.read_changes(None).upserts}
    assert events[ev.uid].tag is not None and events["copy.ics"].tag is None


def test_wrong_password_says_how_to_fix_it(server: DavServer, cal: str) -> None:
    """A refused password fails the read with the command that stores a new one."""
    if not server.username:
        pytest.skip("Xandikos has no authentication")
    p = make(server, cal, password="wrong")
    with pytest.raises(AuthError, match="idealweek auth caldav home"):
        p.read_changes(None)


# -- quirks played by a proxy in front of the real server --------------------------------------


@pytest.fixture
def proxy(server: DavServer) -> Iterator[DavProxy]:
    with DavProxy(server.port) as px:
        yield px


def test_nextcloud_teapot_on_stale_token_leads_to_a_full_read(
    server: DavServer, user: DavUser, cal: str, proxy: DavProxy
) -> None:
    """Old Nextcloud answered a stale sync token with 418: the provider reads fully instead of failing."""
    name = user.add(cal, "A", T0, T0 + timedelta(hours=1))
    p = make(server, cal, url=proxy.url)
    token = p.read_changes(None).token
    user.delete(cal, name)
    proxy.fail(status=418, method="REPORT", body=(decode_token(token) or ("?", 0))[0])
    cs = p.read_changes(token)
    assert cs.full and cs.upserts == []
    assert not proxy.pending()


def test_icloud_listing_the_collection_among_changes_is_ignored(
    server: DavServer, user: DavUser, cal: str, proxy: DavProxy
) -> None:
    """iCloud lists the collection itself among sync changes; it is not taken for an event or a removal."""
    name = user.add(cal, "A", T0, T0 + timedelta(hours=1))

    injected: list[str] = []

    def add_collection(
        method: str, path: str, body: bytes, status: int, headers: dict[str, str], answer: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "REPORT" and b"sync-collection" in body:
            ns = "ns0:" if b"<ns0:multistatus" in answer else ""
            extra = (
                f"<{ns}response><{ns}href>{cal}</{ns}href><{ns}propstat><{ns}prop>"
                f'<{ns}getetag>"c{len(injected)}"</{ns}getetag></{ns}prop>'
                f"<{ns}status>HTTP/1.1 200 OK</{ns}status></{ns}propstat></{ns}response>"
            )
            closing = f"</{ns}multistatus>".encode()
            assert closing in answer
            answer = answer.replace(closing, extra.encode() + closing)
            injected.append(path)
        return status, headers, answer

    proxy.rewrite = add_collection
    p = make(server, cal, url=proxy.url)
    first = p.read_changes(None)
    assert [e.uid for e in first.upserts] == [name]
    user.retitle(cal, name, "B")
    second = p.read_changes(first.token)
    assert [e.title for e in second.upserts] == ["B"] and list(second.removed) == []
    assert len(injected) == 2


def test_without_sync_collection_the_library_fallback_is_used(
    server: DavServer, user: DavUser, cal: str, proxy: DavProxy
) -> None:
    """A server refusing sync-collection (Zimbra) is read by full listings with an ETag digest token (tried daily)."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    forbidden = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>'
    refusal = proxy.fail(status=403, method="REPORT", body="sync-collection", payload=forbidden, times=1000)
    clock = Clock(datetime(2030, 1, 10, 8, tzinfo=UTC))
    p = make(server, cal, url=proxy.url, clock=clock)
    first = p.read_changes(None)
    assert first.full and len(first.upserts) == 1
    assert (decode_token(first.token) or ("", 0))[0].startswith("fake-")
    same = p.read_changes(first.token)
    assert not same.full and not same.upserts
    user.add(cal, "B", T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    changed = p.read_changes(same.token)
    assert changed.full and len(changed.upserts) == 2
    refusal.times = 0  # the server learnt sync-collection: the daily full read tries it again
    clock.now += timedelta(days=1, minutes=1)
    daily = p.read_changes(changed.token)
    assert daily.full and len(daily.upserts) == 2
    assert not (decode_token(daily.token) or ("fake-", 0))[0].startswith("fake-")


def test_dropped_connections_and_5xx_are_retried(server: DavServer, user: DavUser, cal: str, proxy: DavProxy) -> None:
    """A dropped connection and a 503 on the sync REPORT are retried within the read."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    p = make(server, cal, url=proxy.url)
    proxy.fail(drop=True, method="REPORT")
    proxy.fail(status=503, method="REPORT", retry_after="0")
    assert len(p.read_changes(None).upserts) == 1
    assert not proxy.pending()


def test_a_long_retry_after_goes_up_to_the_next_cycle(
    server: DavServer, user: DavUser, cal: str, proxy: DavProxy
) -> None:
    """A Retry-After longer than the shared policy waits (60 s) is not slept through: the read fails as transient."""
    user.add(cal, "A", T0, T0 + timedelta(hours=1))
    slept: list[float] = []
    options = ClientOptions(
        url=proxy.url,
        username=server.username,
        password=server.password,
        retry=RetryPolicy(attempts=3, sleep=slept.append),
        account="home",
    )
    p = CalDavProvider("dav", DavSession(options), cal, zone=BERLIN, window=WINDOW)
    proxy.fail(status=503, method="REPORT", retry_after="3600")
    with pytest.raises(TransientError) as caught:
        p.read_changes(None)
    assert caught.value.retry_after == 3600 and slept == []


# -- pure mapping ------------------------------------------------------------------------------


def test_own_answer_comes_from_the_users_attendee_line() -> None:
    """The user's PARTSTAT (matched by address) is their answer; the organizer address marks their own meeting."""
    start = utc(2030, 3, 4, 9)
    invited = vevent(
        "m1@corp",
        "Sync",
        start,
        start + timedelta(hours=1),
        (
            "ORGANIZER:mailto:boss@corp.example",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:boss@corp.example",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:Jane@Example.org",
        ),
    )
    (ev,) = events_of_resource(
        "m1.ics",
        invited,
        '"e1"',
        calendar="dav",
        zone=BERLIN,
        window=WINDOW,
        source="t",
        addresses=frozenset({"jane@example.org"}),
    )
    assert ev.response == Response.DECLINED and ev.attendees == 2 and ev.uid == "m1.ics" and ev.etag == '"e1"'
    assert ev.organizer_other and ev.has_guests
    (mine,) = events_of_resource(
        "m1.ics",
        invited,
        "",
        calendar="dav",
        zone=BERLIN,
        window=WINDOW,
        source="t",
        addresses=frozenset({"boss@corp.example"}),
    )
    assert mine.response == Response.ORGANIZER and not mine.organizer_other


def test_plain_http_is_refused_off_loopback(tmp_path: Path) -> None:
    """The client refuses http:// to any host but loopback, and an unknown compatibility profile is named."""
    with pytest.raises(ProviderError, match="https"):
        DavSession(ClientOptions(url="http://caldav.example.org/", username="u", password="p", account="a"))
    with pytest.raises(ProviderError, match="no profile 'nosuch'"):
        DavSession(ClientOptions(url="https://caldav.example.org/", username="u", password="p", features="nosuch"))
    ok = DavSession(ClientOptions(url="https://caldav.icloud.com/", username="u", password="p", features="icloud"))
    assert ok.client.ssl_verify_cert is True
    ok.close()


def test_tls_is_verified_against_the_ca_bundle(tmp_path: Path) -> None:
    """Over https the server's certificate is verified: refused without its CA, accepted with ca_bundle."""
    with running("radicale", tmp_path, tls=True) as tls:
        assert tls.url.startswith("https://") and tls.ca_path is not None
        plain = make(tls, f"/{tls.username}/")
        with pytest.raises(ProviderError, match="ca_bundle") as info:
            plain.read_changes(None)
        assert not isinstance(info.value, TransientError)  # a certificate problem is not retried
        options = ClientOptions(
            url=tls.url,
            username=tls.username,
            password=tls.password,
            ca_bundle=str(tls.ca_path),
            retry=RetryPolicy(attempts=1),
            account="home",
        )
        session = DavSession(options)
        from idealweek.providers.caldav.provider import list_collections

        assert list_collections(session) == []  # connected and authenticated: Jane has no calendar yet
        session.close()
