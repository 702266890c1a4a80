"""End to end on real CalDAV servers: `idealweek run --once` with a CalDAV meetings and a CalDAV blocks calendar.

Radicale (with a password, stored by `idealweek auth caldav --password-stdin`)
and Xandikos (no authentication).  The command runs with the real clock;
meetings are placed on a weekday two or more days ahead.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import structlog

from idealweek.model import Kind, OwnedTag
from idealweek.providers.ics import decode_tag
from idealweek.store import Store
from tests.fakes.dav_proxy import DavProxy
from tests.fakes.dav_servers import KINDS, DavServer, running
from tests.scenario import BASE_TOML

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with running(request.param, tmp_path_factory.mktemp(request.param)) as s:
        yield s


class Home:
    """A config with two CalDAV calendars on ``server`` (optionally reached through a proxy)."""

    def __init__(self, tmp: Path, server: DavServer, url: str = "") -> None:
        from idealweek.secrets import generate_key

        self.server = server
        self.user = server.user()
        self.work = server.new_calendar("work")
        self.home = server.new_calendar("home")
        self.key = tmp / "secrets.key"
        self.key.write_text(generate_key())
        self.state = tmp / "state"
        self.config = tmp / "config.toml"
        head = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus="0h")
        self.config.write_text(
            f'state_dir = "{self.state}"\n'
            + head
            + f"""
[secrets]
store = "file"
key_file = "{self.key}"

[accounts.family]
provider = "caldav"
url = "{url or server.url}"
username = "{server.username}"

[calendars.work]
source = "caldav"
account = "family"
id = "{self.work}"
roles = ["meetings"]

[calendars.home]
source = "caldav"
account = "family"
id = "{self.home}"
roles = ["blocks"]
"""
        )

    def main(self, *args: str, stdin: str = "") -> int:
        from idealweek.cli import main

        saved = structlog.get_config()
        old_stdin = __import__("sys").stdin
        try:
            __import__("sys").stdin = io.StringIO(stdin)
            return main([*args, "--config", str(self.config)])
        finally:
            __import__("sys").stdin = old_stdin
            structlog.configure(**saved)

    def sign_in(self) -> None:
        if self.server.password:
            assert self.main("auth", "caldav", "family", "--password-stdin", stdin=self.server.password + "\n") == 0

    def run_once(self) -> None:
        assert self.main("run", "--once", "--quiet") == 0

    def owned(self, kind: Kind | None = None) -> dict[str, tuple[OwnedTag, icalendar.cal.Component]]:
        out = {}
        for name, text in self.user.objects(self.home).items():
            for comp in icalendar.Calendar.from_ical(text).walk("VEVENT"):
                tag = decode_tag(str(comp.get("X-IDEALWEEK", "")))
                if tag is not None and (kind is None or tag.kind == kind):
                    out[name] = (tag, comp)
        return out

    def ledger(self) -> list[dict[str, object]]:
        store = Store(self.state / "state.sqlite3")
        try:
            return store.ledger()
        finally:
            store.close()


@pytest.fixture
def home(tmp_path: Path, server: DavServer) -> Iterator[Home]:
    h = Home(tmp_path, server)
    h.sign_in()
    yield h
    h.user.close()


def weekday_ahead(days: int = 2) -> datetime:
    day = datetime.now(UTC).astimezone(BERLIN) + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def meeting(home: Home, hour: int = 17, minute: int = 30) -> str:
    start = weekday_ahead().replace(hour=hour, minute=minute, second=0, microsecond=0)
    return home.user.add(home.work, "Late sync", start, start + timedelta(hours=1))


def test_run_once_books_a_makeup_and_a_deleted_makeup_is_waived(home: Home) -> None:
    """A meeting over family time gets a make-up on the server; the user deletes it: waived, not recreated."""
    home.run_once()
    blocks = home.owned(Kind.BLOCK)
    assert blocks and all(str(c.get("CLASS")) == "PRIVATE" and c.get("ATTENDEE") is None for _, c in blocks.values())
    meeting(home)
    home.run_once()
    makeups = home.owned(Kind.MAKEUP)
    assert len(makeups) == 1
    ((name, (tag, _comp)),) = makeups.items()
    assert tag.category == "family" and tag.planned_end - tag.planned_start == timedelta(hours=1)
    home.run_once()  # reads the make-up back (a server may leave out what was created and deleted since a token)
    home.user.delete(home.home, name)
    home.run_once()
    home.run_once()
    assert home.owned(Kind.MAKEUP) == {}
    waived = [d for d in home.ledger() if int(d["waived"]) > 0]  # type: ignore[call-overload]
    assert waived and waived[0]["category"] == "family", [sorted(d.items()) for d in home.ledger()]


def test_makeup_deleted_before_it_was_read_back_is_waived_by_the_daemon(home: Home) -> None:
    """In one process (the daemon), a make-up the user deletes right after it was written is still seen as deleted."""
    from idealweek.app import App

    app = App.load(home.config)
    store = app.open_store()
    try:
        engine = app.engine(store)
        assert engine.cycle().ok
        meeting(home)
        assert engine.cycle().ok
        ((name, _),) = home.owned(Kind.MAKEUP).items()
        home.user.delete(home.home, name)  # before any read reported the make-up (Xandikos then omits it)
        report = engine.cycle()
        assert report.ok and report.user_deleted, report.notes
        assert engine.cycle().applied == []
    finally:
        store.close()
    assert home.owned(Kind.MAKEUP) == {}
    assert [d for d in home.ledger() if int(d["waived"]) > 0]  # type: ignore[call-overload]


def test_user_moved_and_retitled_block_stays_as_the_user_left_it(home: Home) -> None:
    """A block the user moved and renamed on the server keeps the user's time and title."""
    home.run_once()
    later = datetime.now(UTC) + timedelta(days=1)
    name, (tag, comp) = next(
        (n, v) for n, v in sorted(home.owned(Kind.BLOCK).items()) if v[1].decoded("DTSTART") > later
    )
    start = comp.decoded("DTSTART") + timedelta(minutes=30)
    end = comp.decoded("DTEND") + timedelta(minutes=30)
    home.user.set(home.home, name, DTSTART=start, DTEND=end, SUMMARY="Family dinner")
    home.run_once()
    home.run_once()
    after_tag, after = home.owned(Kind.BLOCK)[name]
    assert str(after.get("SUMMARY")) == "Family dinner" and after.decoded("DTSTART") == start
    assert after_tag.key == tag.key
    assert sum(1 for t, _ in home.owned().values() if t.key == tag.key) == 1


def test_steady_run_reads_each_calendar_once_and_writes_nothing(home: Home, server: DavServer) -> None:
    """Once settled, a cycle is one request per calendar and no write (counted by a proxy in front)."""
    home.run_once()
    home.run_once()  # reads back its own writes
    with DavProxy(server.port) as proxy:
        text = home.config.read_text().replace(server.url, proxy.url)
        home.config.write_text(text)
        home.run_once()
        writes = sum(proxy.count(m) for m in ("PUT", "DELETE"))
        assert writes == 0
        assert [s.method for s in proxy.seen] == ["REPORT", "REPORT"], proxy.seen


def test_412_on_an_update_leads_to_a_fresh_decision(tmp_path: Path, server: DavServer) -> None:
    """The user edits a block between our read and our write: the 412 skips it; the next cycle decides again."""
    from idealweek.app import App

    with DavProxy(server.port) as proxy:
        home = Home(tmp_path, server, url=proxy.url)
        home.sign_in()
        home.run_once()
        home.run_once()
        later = datetime.now(UTC) + timedelta(days=1)
        name = next(n for n, v in sorted(home.owned(Kind.BLOCK).items()) if v[1].decoded("DTSTART") > later)
        home.user.set(home.home, name, TRANSP="TRANSPARENT")  # idealweek will set it right
        edited: list[str] = []

        def user_edits_first(method: str, path: str, phase: str) -> None:
            if method == "PUT" and phase == "before" and path.endswith(name) and not edited:
                edited.append(path)
                home.user.set(home.home, name, DESCRIPTION="the user's note")

        proxy.hook = user_edits_first
        app = App.load(home.config)
        store = app.open_store()
        try:
            report = app.engine(store).cycle()
            assert edited and any("changed meanwhile" in n for n in report.notes), report.notes
            assert proxy.count("PUT", 412) == 1
            proxy.hook = None
            again = app.engine(store).cycle()
            assert again.ok and [op.kind.value for op in again.applied] == ["update"]
        finally:
            store.close()
        _tag, comp = home.owned(Kind.BLOCK)[name]
        assert str(comp.get("TRANSP")) == "OPAQUE" and "the user's note" in str(comp.get("DESCRIPTION"))
        home.user.close()


def test_calendars_command_lists_the_collections(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    """`idealweek calendars ACCOUNT` lists the account's collections with their paths as ids."""
    assert home.main("calendars", "family") == 0
    out = capsys.readouterr().out
    assert home.work in out and home.home in out


def test_wrong_password_is_not_stored(tmp_path: Path, server: DavServer, capsys: pytest.CaptureFixture[str]) -> None:
    """`auth caldav` checks the password with a login first; a refused one is not stored."""
    if not server.password:
        pytest.skip("Xandikos has no authentication")
    home = Home(tmp_path, server)
    assert home.main("auth", "caldav", "family", "--password-stdin", stdin="wrong\n") != 0
    assert "idealweek auth caldav family" in capsys.readouterr().err
    assert home.main("run", "--once", "--quiet") != 0
    home.user.close()


def test_doctor_checks_the_caldav_account(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    """`idealweek doctor` reaches the CalDAV server and finds the password (or knows none is needed)."""
    home.main("doctor")
    out = capsys.readouterr().out
    assert "family CalDAV server" in out and "sign-in family (caldav)" in out
    line = next(x for x in out.splitlines() if "sign-in family (caldav)" in x)
    assert ("present" in line) if home.server.password else ("without a password" in line)
