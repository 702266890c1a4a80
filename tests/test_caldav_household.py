"""CalDAV and the household (issue 18): the free-busy REPORT on real Radicale and Xandikos servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from idealweek.model import utc
from idealweek.providers.caldav import ClientOptions, DavSession, RetryPolicy
from idealweek.providers.caldav.freebusy import caldav_busy, parse_freebusy
from idealweek.providers.freebusy import FreeBusyProvider
from tests.fakes.dav_servers import KINDS, DavServer, running

NOW = utc(2030, 3, 4, 6)
T0 = utc(2030, 3, 4, 17)
H = timedelta(hours=1)


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with running(request.param, tmp_path_factory.mktemp(request.param)) as s:
        yield s


def partner(server: DavServer, path: str) -> FreeBusyProvider:
    options = ClientOptions(
        url=server.url,
        username=server.username,
        password=server.password,
        retry=RetryPolicy(sleep=lambda s: None),
        account="home",
    )
    session = DavSession(options)
    return FreeBusyProvider(
        "partner",
        caldav_busy(session, "partner", path),
        horizon=timedelta(days=14),
        counter=session.counter,
        clock=lambda: NOW,
        close=session.close,
    )


def test_free_busy_report_gives_the_partners_busy_time(server: DavServer) -> None:
    """One free-busy REPORT per read on a real server: busy events are busy intervals (no titles), a transparent
    one is not; a second read of the same answer changes nothing; a new event is one upsert."""
    path = server.new_calendar("partner")
    user = server.user()
    try:
        user.add(path, "Late shift", T0, T0 + 3 * H)
        user.add(path, "Lunch maybe", T0 + timedelta(days=1, hours=-5), T0 + timedelta(days=1, hours=-4))
        user.add(path, "FYI", T0 + timedelta(days=2), T0 + timedelta(days=2) + H, extra=("TRANSP:TRANSPARENT",))
        p = partner(server, path)
        try:
            first = p.read_changes(None)
            got = sorted((e.start, e.end) for e in first.upserts)
            assert (T0, T0 + 3 * H) in got
            assert (T0 + timedelta(days=1, hours=-5), T0 + timedelta(days=1, hours=-4)) in got
            assert all(not (s <= T0 + timedelta(days=2) < e) for s, e in got), got
            assert all(e.title == "" and e.busy for e in first.upserts)
            reports = p.requests.by_kind.get("REPORT", 0)
            assert reports == 1 and p.requests.writes == 0
            again = p.read_changes(first.token)
            assert again.upserts == [] and again.removed == []
            user.add(path, "Football", T0 + timedelta(days=5), T0 + timedelta(days=5) + H)
            third = p.read_changes(again.token)
            assert [(e.start, e.end) for e in third.upserts] == [(T0 + timedelta(days=5), T0 + timedelta(days=5) + H)]
        finally:
            p.close()
    finally:
        user.close()


def test_parse_freebusy_periods_types_and_durations() -> None:
    """FREEBUSY lines: start/end and start/duration, folded lines, FBTYPE FREE skipped, tentative counted."""
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\n"
        "FREEBUSY:20300304T170000Z/20300304T180000Z,20300305T090000Z/PT30M\r\n"
        "FREEBUSY;FBTYPE=FREE:20300306T090000Z/20300306T100000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20300307T0900\r\n 00Z/20300307T100000Z\r\n"
        "FREEBUSY:garbage/20300307T100000Z\r\n"
        "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
    got = [(iv.start, iv.end) for iv in parse_freebusy(text)]
    assert got == [
        (T0, T0 + H),
        (utc(2030, 3, 5, 9), utc(2030, 3, 5, 9, 30)),
        (utc(2030, 3, 7, 9), utc(2030, 3, 7, 10)),
    ]


def test_make_provider_builds_a_free_busy_caldav_calendar(server: DavServer, tmp_path: Path) -> None:
    """A caldav calendar with free_busy = true (role household) is read through the REPORT, never written."""
    from idealweek.config import Settings
    from idealweek.providers.caldav import make_provider
    from idealweek.secrets import MemoryStore

    path = server.new_calendar("kid")
    settings = Settings.model_validate(
        {
            "accounts": {"home": {"provider": "caldav", "url": server.url, "username": server.username}},
            "calendars": {
                "kid": {"source": "caldav", "account": "home", "id": path, "roles": ["household"], "free_busy": True}
            },
        }
    )
    secrets = MemoryStore()
    if server.password:
        secrets.set("token:home", server.password)
    p = make_provider(settings, tmp_path / "config.toml", "kid", secrets)
    try:
        assert isinstance(p, FreeBusyProvider) and not p.writable
        assert p.read_changes(None).full
    finally:
        p.close()
