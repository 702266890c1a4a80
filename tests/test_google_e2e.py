"""End to end: Google (the fake, over real HTTP) as the meetings and blocks calendar, through the engine.

Engine-level cycles use a movable clock; the last tests run the real
``idealweek run --once`` command with the sign-in in the encrypted file store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog

from idealweek.config import Settings, loads
from idealweek.engine import CycleReport, Engine
from idealweek.model import Kind, OwnedTag
from idealweek.providers.google import GoogleProvider, RetryPolicy, make_provider
from idealweek.providers.google.mapping import tag_from_properties
from idealweek.store import Store
from tests.fakes.google_server import GoogleFake, signed_in
from tests.scenario import google_toml

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)  # a Monday
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


def config_text(fake: GoogleFake, head: str = "", focus: str = "4h") -> str:
    return head + google_toml(fake, focus=focus)


def invite(fake: GoogleFake, title: str, start: datetime, end: datetime, response: str = "accepted") -> str:
    """A meeting someone else organised, with the user's own answer."""
    me = {"email": fake.primary_id, "self": True, "responseStatus": response}
    boss = {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"}
    return fake.user_add("primary", title, start, end, attendees=[boss, me], organizer={"email": "boss@example.com"})


class World:
    """The fake Google, a state database, a movable clock and the engine."""

    def __init__(self, tmp: Path, fake: GoogleFake) -> None:
        self.tmp = tmp
        self.fake = fake
        self.now = START
        self.settings: Settings = loads(config_text(fake))
        self.secrets = signed_in(fake, "g")
        self.sleeps: list[float] = []
        self.store = Store(tmp / "state.sqlite3")
        self.engine = self.make_engine()

    def clock(self) -> datetime:
        return self.now

    def make_engine(self) -> Engine:
        retry = RetryPolicy(sleep=self.sleeps.append, jitter=lambda: 0.5)
        self.work: GoogleProvider = make_provider(self.settings, self.tmp / "c.toml", "work", self.secrets, retry=retry)
        return Engine(self.settings, self.store, {"work": self.work}, clock=self.clock)

    def cycle(self) -> CycleReport:
        return self.engine.cycle()

    def owned(self, kind: Kind | None = None) -> list[tuple[OwnedTag, dict[str, Any]]]:
        out = []
        for raw in self.fake.live_events("primary"):
            tag = tag_from_properties(raw.get("extendedProperties", {}).get("private", {}))
            if tag is not None and (kind is None or tag.kind == kind):
                out.append((tag, raw))
        return out

    def writes(self) -> int:
        return sum(len(self.fake.requests_to(m, "/calendar/")) for m in WRITE_METHODS)

    def assert_no_duplicates(self) -> None:
        keys = [tag.key.split("#g")[0] for tag, _ in self.owned()]
        assert len(keys) == len(set(keys)), f"duplicate owned events: {sorted(keys)}"

    def assert_no_mail(self) -> None:
        assert self.fake.mails == 0
        for method in WRITE_METHODS:
            for r in self.fake.requests_to(method, "/calendar/"):
                if method != "DELETE" or r.query:
                    assert r.param("sendUpdates") == "none", r
                assert not (isinstance(r.body, dict) and r.body.get("attendees"))

    def start_of(self, raw: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(raw["start"]["dateTime"]).astimezone(UTC)


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=7, empty_pages=True) as f:
        yield f


@pytest.fixture
def world(tmp_path: Path, fake: GoogleFake) -> Iterator[World]:
    w = World(tmp_path, fake)
    yield w
    w.work.close()
    w.store.close()
    w.assert_no_mail()


def test_first_cycle_writes_blocks_and_the_second_is_one_request(world: World) -> None:
    """Blocks and focus go to Google as private tagged events; once settled, a cycle is one read and no write."""
    first = world.cycle()
    assert first.ok and first.applied
    blocks = world.owned(Kind.BLOCK)
    assert blocks and world.owned(Kind.FOCUS)
    assert all(raw["visibility"] == "private" and "attendees" not in raw for _, raw in blocks)
    writes = world.writes()
    second = world.cycle()  # reads back its own writes (Google reports them like any change)
    assert second.ok and second.ops == [] and second.applied == []
    reads = world.work.requests.total
    third = world.cycle()
    assert third.ok and third.ops == [] and world.work.requests.total - reads == 1
    assert world.writes() == writes
    world.assert_no_duplicates()


def test_meeting_over_family_time_gets_a_makeup_and_cancelling_removes_it(world: World) -> None:
    """A meeting booked over a protected block → a make-up appears; cancelled → the make-up goes."""
    world.cycle()
    uid = invite(world.fake, "Late sync", at(0, 17, 30), at(0, 18, 30))
    report = world.cycle()
    assert report.ok and report.plan is not None and report.plan.intrusions
    (makeup,) = world.owned(Kind.MAKEUP)
    tag, raw = makeup
    assert tag.category == "family" and tag.planned_end - tag.planned_start == timedelta(hours=1)
    assert world.start_of(raw) > at(0, 18, 30).astimezone(UTC)
    world.fake.user_delete("primary", uid)
    world.cycle()
    assert world.owned(Kind.MAKEUP) == []
    assert world.cycle().applied == []
    world.assert_no_duplicates()


def test_declined_and_free_meetings_do_not_intrude(world: World) -> None:
    """A declined invitation, a transparent event and a working-location entry make no debt."""
    world.cycle()
    invite(world.fake, "Optional", at(0, 17), at(0, 18), response="declined")
    world.fake.user_add("primary", "FYI", at(1, 17), at(1, 18), transparency="transparent")
    world.fake.user_add("primary", "Office", at(2, 17), at(2, 19), eventType="workingLocation")
    report = world.cycle()
    assert report.plan is not None and not report.plan.intrusions
    assert world.owned(Kind.MAKEUP) == []


def test_declining_later_removes_the_makeup(world: World) -> None:
    """Declining an accepted meeting afterwards removes its make-up."""
    world.cycle()
    uid = invite(world.fake, "Late sync", at(0, 17, 30), at(0, 18, 30))
    world.cycle()
    assert len(world.owned(Kind.MAKEUP)) == 1
    world.fake.user_respond("primary", uid, "declined")
    world.cycle()
    assert world.owned(Kind.MAKEUP) == []


def test_user_deleted_makeup_is_not_recreated(world: World) -> None:
    """The user deletes a make-up on Google: it is waived and stays deleted."""
    world.cycle()
    invite(world.fake, "Late sync", at(0, 17, 30), at(0, 18, 30))
    world.cycle()
    ((_tag, raw),) = world.owned(Kind.MAKEUP)
    world.fake.user_delete("primary", raw["id"])
    first = world.cycle()
    assert first.ok and first.user_deleted
    world.cycle()
    assert world.owned(Kind.MAKEUP) == []
    assert world.cycle().applied == []
    world.assert_no_duplicates()


def test_user_moved_and_retitled_block_stays_as_the_user_left_it(world: World) -> None:
    """A block the user moved and renamed keeps the user's time and title."""
    world.cycle()
    tag, raw = next((t, r) for t, r in world.owned(Kind.BLOCK) if world.start_of(r) > at(1, 0).astimezone(UTC))
    new_start = world.start_of(raw) + timedelta(minutes=30)
    world.fake.user_move("primary", raw["id"], new_start, new_start + (tag.planned_end - tag.planned_start))
    world.fake.user_retitle("primary", raw["id"], "Family dinner")
    world.cycle()
    world.cycle()
    after = world.fake.event("primary", raw["id"])
    assert after is not None and after["summary"] == "Family dinner" and world.start_of(after) == new_start
    world.assert_no_duplicates()


def test_expired_sync_token_mid_way_resyncs_without_duplicates(world: World) -> None:
    """A meeting arrives while the sync token expires: the full resync still finds it; nothing is duplicated."""
    world.cycle()
    writes = world.writes()
    invite(world.fake, "Late sync", at(1, 17, 30), at(1, 18, 30))
    world.fake.expire_sync_tokens()
    report = world.cycle()
    assert report.ok and len(world.owned(Kind.MAKEUP)) == 1
    assert world.writes() == writes + 1
    assert world.cycle().applied == []
    world.assert_no_duplicates()


def test_lost_state_database_rebuilds_from_tags_without_writes(world: World, tmp_path: Path) -> None:
    """With a new, empty state database the owned events are recognised by their tags: no duplicate, no write."""
    world.cycle()
    invite(world.fake, "Late sync", at(0, 17, 30), at(0, 18, 30))
    world.cycle()
    owned_before = sorted(tag.key for tag, _ in world.owned())
    writes = world.writes()
    world.work.close()
    world.store.close()
    world.store = Store(tmp_path / "fresh.sqlite3")
    world.engine = world.make_engine()
    report = world.cycle()
    assert report.ok and report.applied == []
    assert world.writes() == writes
    assert sorted(tag.key for tag, _ in world.owned()) == owned_before


FAULTS: list[tuple[str, Callable[[GoogleFake], None]]] = [
    ("429-retry-after", lambda f: f.fail(429, retry_after="2", method="GET")),
    ("429-no-retry-after", lambda f: f.fail(429, method="GET", times=2)),
    ("403-rate-limit", lambda f: f.fail(403, reason="rateLimitExceeded", method="GET")),
    ("403-user-rate-limit", lambda f: f.fail(403, reason="userRateLimitExceeded", method="POST")),
    ("500-on-create", lambda f: f.fail(500, method="POST")),
    ("503-on-read", lambda f: f.fail(503, method="GET", times=2)),
    ("drop-read", lambda f: f.drop_connection(method="GET", times=3)),
    ("lost-create-answer", lambda f: f.drop_connection(after=True, method="POST", times=2)),
    ("expired-access-token", lambda f: f.expire_access_tokens()),
]


@pytest.mark.parametrize("inject", [f for _, f in FAULTS], ids=[n for n, _ in FAULTS])
def test_single_faults_are_absorbed(world: World, inject: Callable[[GoogleFake], None]) -> None:
    """Each injected fault is retried or recovered; the cycle converges with no duplicate and then goes quiet."""
    world.cycle()
    invite(world.fake, "Late sync", at(0, 17, 30), at(0, 18, 30))
    inject(world.fake)
    report = world.cycle()
    assert report.ok, report.failed
    assert len(world.owned(Kind.MAKEUP)) == 1
    world.cycle()
    quiet = world.cycle()
    assert quiet.applied == [] and quiet.ops == []
    world.assert_no_duplicates()
    assert world.fake.faults == []


@pytest.mark.parametrize("fault", ["lost-patch-answer", "503-on-patch"])
def test_faults_on_updates_are_absorbed(world: World, fault: str) -> None:
    """An owned block that must be set right again is patched; a lost answer or a 503 on the patch converges."""
    world.cycle()
    _tag, raw = next((t, r) for t, r in world.owned(Kind.BLOCK) if world.start_of(r) > at(1, 0).astimezone(UTC))
    world.fake.user_update("primary", raw["id"], transparency="transparent")
    if fault == "lost-patch-answer":
        world.fake.drop_connection(after=True, method="PATCH", times=2)
    else:
        world.fake.fail(503, method="PATCH")
    report = world.cycle()
    assert report.ok, report.failed
    assert world.fake.requests_to("PATCH") and world.fake.faults == []
    world.cycle()
    assert world.cycle().applied == []
    after = world.fake.event("primary", raw["id"])
    assert after is not None and after["transparency"] == "opaque"
    world.assert_no_duplicates()


def test_retry_after_is_honoured_by_the_cycle(world: World) -> None:
    """A 429 with Retry-After during a cycle waits exactly as long as Google asked."""
    world.cycle()
    world.fake.fail(429, retry_after="3", method="GET")
    assert world.cycle().ok
    assert world.sleeps == [3.0]


def test_google_outage_is_reported_and_recovers(world: World) -> None:
    """Google down for a whole cycle: the failure is reported, nothing is lost, the next cycle recovers."""
    world.cycle()
    invite(world.fake, "Late sync", at(0, 17, 30), at(0, 18, 30))
    world.fake.fail(503, times=1000)
    world.now = at(0, 9)
    report = world.cycle()
    assert "work" in report.failed and report.applied == []
    world.fake.faults.clear()
    world.now = at(0, 10)
    assert world.cycle().ok
    assert len(world.owned(Kind.MAKEUP)) == 1
    world.assert_no_duplicates()


def test_revoked_sign_in_fails_the_calendar_clearly(world: World) -> None:
    """A revoked refresh token fails the calendar with the renew instructions; nothing is written."""
    world.cycle()
    writes = world.writes()
    world.fake.revoke_refresh_tokens()
    report = world.cycle()
    assert "idealweek auth google g" in report.failed["work"]
    assert world.writes() == writes


# -- the real command ---------------------------------------------------------------------


@pytest.fixture
def cli_config(tmp_path: Path, fake: GoogleFake) -> Iterator[Path]:
    from idealweek import config as cfgmod
    from idealweek.secrets import generate_key, open_store

    key = tmp_path / "secrets.key"
    key.write_text(generate_key())
    head = f'state_dir = "{tmp_path / "state"}"\n'
    secrets = f'\n[secrets]\nstore = "file"\nkey_file = "{key}"\n'
    cfg = tmp_path / "config.toml"
    cfg.write_text(config_text(fake, head=head) + secrets)
    settings = cfgmod.load(cfg)
    store = open_store("file", cfgmod.state_dir(settings, cfg), str(key))
    signed_in(fake, "g", store)
    saved = structlog.get_config()
    yield cfg
    # The CLI points structlog at this test's captured stream; do not leave that to later tests.
    structlog.configure(**saved)


def _local_now() -> datetime:
    return datetime.now(UTC).astimezone(BERLIN)


def test_cli_run_once_twice(fake: GoogleFake, cli_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`idealweek run --once` writes the week to Google; once settled, a run reads once and writes nothing."""
    from idealweek.cli import main

    assert main(["run", "--once", "--quiet", "--config", str(cli_config)]) == 0
    assert any("idealweek" in e.get("extendedProperties", {}).get("private", {}) for e in fake.live_events())
    writes = sum(len(fake.requests_to(m, "/calendar/")) for m in WRITE_METHODS)
    assert main(["run", "--once", "--quiet", "--config", str(cli_config)]) == 0  # reads back its own writes
    reads = len(fake.requests_to("GET", "/calendar/"))
    assert main(["run", "--once", "--quiet", "--config", str(cli_config)]) == 0
    assert sum(len(fake.requests_to(m, "/calendar/")) for m in WRITE_METHODS) == writes
    assert len(fake.requests_to("GET", "/calendar/")) - reads == 1
    out = capsys.readouterr()
    tokens = set(fake.access_tokens) | set(fake.refresh_tokens)
    assert not any(t in out.out + out.err for t in tokens)


def test_cli_meeting_leads_to_makeup(fake: GoogleFake, cli_config: Path) -> None:
    """A meeting over an upcoming family block gets a make-up on Google after one `run --once`."""
    from idealweek.cli import main

    assert main(["run", "--once", "--quiet", "--config", str(cli_config)]) == 0
    day = _local_now() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = day.replace(hour=17, minute=30, second=0, microsecond=0)
    invite(fake, "Late sync", start, start + timedelta(hours=1))
    assert main(["run", "--once", "--quiet", "--config", str(cli_config)]) == 0
    makeups = []
    for e in fake.live_events():
        tag = tag_from_properties(e.get("extendedProperties", {}).get("private", {}))
        if tag is not None and tag.kind == Kind.MAKEUP:
            makeups.append(tag)
    assert len(makeups) == 1 and makeups[0].category == "family"


def test_cli_plan_writes_nothing(fake: GoogleFake, cli_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`idealweek plan` reads Google and prints the operations without writing any."""
    from idealweek.cli import main

    assert main(["plan", "--config", str(cli_config)]) == 0
    assert sum(len(fake.requests_to(m, "/calendar/")) for m in WRITE_METHODS) == 0
    assert "create" in capsys.readouterr().out


def test_cli_account_not_signed_in_stops_only_its_calendars(
    fake: GoogleFake, cli_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run --once` with a second Google account never signed in: its calendar fails in one line, the signed-in
    account and the vdir are read, planned and written, and the run exits 1 after finishing them."""
    from idealweek.cli import main
    from idealweek.providers.vdir import VdirProvider

    text = cli_config.read_text()
    text = text.replace(
        "\n[secrets]",
        f"""
[accounts.h]
provider = "google"
api_root = "{fake.api_root}"
token_uri = "{fake.token_uri}"

[calendars.partner]
source = "google"
account = "h"
id = "primary"
roles = ["meetings"]

[calendars.home]
source = "vdir"
path = "{tmp_path / "home"}"
roles = ["mirror"]

[secrets]""",
    )
    cli_config.write_text(text)
    (tmp_path / "home").mkdir()
    capsys.readouterr()
    assert main(["run", "--once", "--config", str(cli_config)]) == 1
    out = capsys.readouterr().out
    failed = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("! ")]
    assert len(failed) == 1 and failed[0].startswith("! partner:") and "not signed in" in failed[0], out
    assert any("idealweek" in e.get("extendedProperties", {}).get("private", {}) for e in fake.live_events())
    mirrors = VdirProvider("home", tmp_path / "home", writable=False, zone=BERLIN).list_owned()
    assert mirrors, "the vdir mirror calendar was written too"
