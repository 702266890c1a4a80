"""End to end: Outlook (fake Graph) as the work calendar, a vdir folder as the personal side.

Engine-level cycles use a movable clock; the last tests run the real
``idealweek run --once`` command after a real MSAL device-code sign-in against
the TLS authority.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.config import Settings, loads
from idealweek.engine import CycleReport, Engine
from idealweek.model import Event, Kind, OwnedTag
from idealweek.providers.outlook import OutlookProvider, make_provider
from idealweek.providers.outlook.client import RetryPolicy
from idealweek.providers.outlook.mapping import TAG_ID
from idealweek.providers.vdir import VdirProvider
from idealweek.store import Store
from tests.fakes.graph_server import FakeGraph, Fault, StoredEvent
from tests.fakes.tls_authority import FakeAuthority
from tests.scenario import BASE_TOML

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


def config_text(graph_root: str, authority: str = "https://login.microsoftonline.com", extra: str = "") -> str:
    head = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus="4h")
    return (
        head
        + f"""
[accounts.office]
provider = "outlook"
client_id = "11111111-2222-3333-4444-555555555555"
tenant = "organizations"
authority = "{authority}"
graph_root = "{graph_root}"
page_size = 50
{extra}

[calendars.work]
source = "outlook"
account = "office"
id = "primary"
roles = ["meetings", "mirror", "focus"]

[calendars.home]
source = "vdir"
path = "home"
roles = ["blocks"]
"""
    )


class World:
    """The fake Graph, a vdir folder, a state database and a movable clock."""

    def __init__(self, tmp: Path, graph: FakeGraph) -> None:
        self.tmp = tmp
        self.graph = graph
        self.now = START
        self.settings: Settings = loads(config_text(graph.root))
        self.config_path = tmp / "config.toml"
        self.store = Store(tmp / "state.sqlite3")
        self.sleeps: list[float] = []
        self.engine = self.make_engine()

    def clock(self) -> datetime:
        return self.now

    def make_engine(self) -> Engine:
        self.work: OutlookProvider = make_provider(
            self.settings,
            self.config_path,
            "work",
            None,
            clock=self.clock,
            sleep=self.sleeps.append,
            tokens=lambda force_refresh=False: "test-token",
            policy=RetryPolicy(attempts=3),
        )
        self.home = VdirProvider("home", self.tmp / "home", writable=True, zone=BERLIN, clock=self.clock)
        return Engine(self.settings, self.store, {"work": self.work, "home": self.home}, clock=self.clock)

    def cycle(self) -> CycleReport:
        return self.engine.cycle()

    def outlook_owned(self, kind: Kind | None = None) -> list[StoredEvent]:
        return [ev for ev in self.graph.owned(TAG_ID) if kind is None or tag_of(ev).kind == kind]

    def home_owned(self, kind: Kind | None = None) -> list[Event]:
        probe = VdirProvider("home", self.tmp / "home", writable=False, zone=BERLIN, clock=self.clock)
        return [e for e in probe.list_owned() if e.tag and (kind is None or e.tag.kind == kind)]

    def writes(self) -> int:
        return sum(self.graph.count(m) for m in ("POST", "PATCH", "DELETE"))

    def assert_no_duplicates(self) -> None:
        keys = [base_key(ev) for ev in self.outlook_owned()]
        assert len(keys) == len(set(keys)), "duplicate owned events on Outlook"
        home = [e.tag.key.split("#g")[0] for e in self.home_owned() if e.tag]
        assert len(home) == len(set(home)), "duplicate owned events in the vdir"


def tag_of(ev: StoredEvent) -> OwnedTag:
    return OwnedTag.decode(ev.ext_value(TAG_ID) or "")


def base_key(ev: StoredEvent) -> str:
    return tag_of(ev).key.split("#g")[0]


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as g:
        yield g


@pytest.fixture
def world(tmp_path: Path, graph: FakeGraph) -> Iterator[World]:
    w = World(tmp_path, graph)
    yield w
    w.store.close()


def test_first_cycle_mirrors_blocks_as_private_busy_and_second_is_quiet(world: World) -> None:
    """Blocks go to the vdir, private busy mirrors and focus to Outlook; a second cycle reads once, writes nothing."""
    first = world.cycle()
    assert first.ok and first.applied
    mirrors = world.outlook_owned(Kind.MIRROR)
    assert mirrors and world.home_owned(Kind.BLOCK) and world.outlook_owned(Kind.FOCUS)
    for ev in mirrors:
        # a hard block defends itself by default (issue 18): its mirror shows as away
        assert ev.props["showAs"] in ("busy", "oof") and ev.props["sensitivity"] == "private"
        assert ev.props["subject"] == "Busy" and not ev.props.get("attendees")
    before_writes, before_reads = world.writes(), world.work.requests.total
    second = world.cycle()
    assert second.ok and second.ops == [] and second.applied == []
    assert world.writes() == before_writes
    assert world.work.requests.total - before_reads == 1
    world.assert_no_duplicates()


def test_intrusion_gets_makeup_and_its_mirror_then_cancellation_removes_both(world: World) -> None:
    """A meeting over family time → a make-up in the vdir and its busy mirror on Outlook; cancelling undoes both."""
    world.cycle()
    uid = world.graph.user_add("Late sync", at(0, 17, 30), at(0, 18, 30), responseStatus={"response": "accepted"})
    report = world.cycle()
    assert report.ok and report.plan is not None and report.plan.intrusions
    makeups = world.home_owned(Kind.MAKEUP)
    assert len(makeups) == 1 and makeups[0].end - makeups[0].start == timedelta(hours=1)
    mirrored = [e for e in world.outlook_owned(Kind.MIRROR) if e.start == makeups[0].start]
    assert len(mirrored) == 1 and mirrored[0].props["subject"] == "Busy"
    world.graph.user_patch(uid, isCancelled=True)
    world.cycle()
    assert world.home_owned(Kind.MAKEUP) == []
    assert [e for e in world.outlook_owned(Kind.MIRROR) if e.start == makeups[0].start] == []
    world.assert_no_duplicates()


ATTENDEES = [{"emailAddress": {"address": "bob@example.test", "name": "Bob"}, "type": "required"}]


def test_mirror_that_became_a_meeting_is_never_touched_again(world: World) -> None:
    """The user invites people to a busy mirror; when its make-up goes away the mirror stays and no mail is sent."""
    world.cycle()
    uid = world.graph.user_add("Late sync", at(0, 17, 30), at(0, 18, 30), responseStatus={"response": "accepted"})
    world.cycle()
    makeup = world.home_owned(Kind.MAKEUP)[0]
    mirror = next(e for e in world.outlook_owned(Kind.MIRROR) if e.start == makeup.start)
    world.graph.user_patch(mirror.id, attendees=ATTENDEES, subject="Planning with Bob")
    world.graph.user_patch(uid, isCancelled=True)
    report = world.cycle()
    assert report.ok, report.failed
    assert world.home_owned(Kind.MAKEUP) == [], "the make-up itself (no attendees) still goes"
    assert mirror.id in world.graph.events and world.graph.events[mirror.id].start == mirror.start
    world.graph.assert_no_mail()
    world.now = at(1, 9)
    assert world.cycle().ok
    assert mirror.id in world.graph.events
    world.graph.assert_no_mail()


def test_declined_and_free_meetings_do_not_intrude(world: World) -> None:
    """A declined invitation and a free event over family time create no debt."""
    world.cycle()
    world.graph.user_add("Optional", at(0, 17, 0), at(0, 18, 0), responseStatus={"response": "declined"})
    world.graph.user_add("FYI", at(1, 17, 0), at(1, 18, 0), showAs="free")
    report = world.cycle()
    assert report.plan is not None and not report.plan.intrusions
    assert world.home_owned(Kind.MAKEUP) == []


def test_user_deleted_mirror_is_not_recreated(world: World) -> None:
    """The user deletes a mirror on Outlook: it stays deleted."""
    world.cycle()
    victim = world.outlook_owned(Kind.MIRROR)[0]
    world.graph.user_delete(victim.id)
    world.cycle()
    world.cycle()
    keys = {base_key(e) for e in world.outlook_owned(Kind.MIRROR)}
    assert base_key(victim) not in keys
    world.assert_no_duplicates()


def test_delta_token_expiry_resyncs_without_writes(world: World) -> None:
    """Expired delta state → full resync; nothing duplicated, nothing written."""
    world.cycle()
    writes = world.writes()
    world.graph.expire_delta_tokens(410, "SyncStateNotFound")
    report = world.cycle()
    assert report.ok and report.applied == []
    assert world.writes() == writes
    world.assert_no_duplicates()


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=429, retry_after=2, code="TooManyRequests", match="delta"),
        Fault(status=503, retry_after=1, code="ServiceUnavailable", match="delta"),
        Fault(status=500, code="InternalServerError", match="POST"),
        Fault(drop=True, match="delta"),
        Fault(drop_after=True, match="POST"),
    ],
    ids=["429", "503", "500-on-create", "drop-read", "lost-create-answer"],
)
def test_single_faults_are_absorbed(world: World, fault: Fault) -> None:
    """One throttle, server error or dropped connection is retried; the cycle converges with no duplicate."""
    world.cycle()
    world.graph.user_add("Late sync", at(0, 17, 30), at(0, 18, 30))
    fault = dataclasses.replace(fault)
    world.graph.inject(fault)
    report = world.cycle()
    assert report.ok, report.failed
    assert all(f is not fault for f in world.graph.faults), "the fault was not triggered"
    world.cycle()
    assert world.cycle().applied == []
    world.assert_no_duplicates()
    assert len(world.home_owned(Kind.MAKEUP)) == 1


def test_outlook_outage_does_not_stop_the_vdir(world: World) -> None:
    """Outlook down for a whole cycle: the failure is reported, the vdir side still syncs, and it recovers."""
    world.cycle()
    world.graph.inject(Fault(status=503, match="", times=50))
    world.now = at(0, 9)
    report = world.cycle()
    assert "work" in report.failed and "home" not in report.failed
    world.graph.faults.clear()
    world.now = at(0, 10)
    assert world.cycle().ok
    world.assert_no_duplicates()


def test_window_moves_with_time_without_duplicates(world: World) -> None:
    """Days later the window is re-anchored (full resync): new days get blocks, nothing is duplicated."""
    world.cycle()
    for day in (1, 2, 4):
        world.now = at(day, 8)
        assert world.cycle().ok
    world.assert_no_duplicates()
    assert world.cycle().applied == []


# -- the real command, signed in with the real MSAL against the TLS authority ---------------


def _now_local() -> datetime:
    return datetime.now(UTC).astimezone(BERLIN)


@pytest.fixture
def cli_world(tmp_path: Path) -> Iterator[tuple[FakeGraph, Path, Path]]:
    """Signed in for real; the command's global log set-up is undone afterwards (it binds pytest's stdout)."""
    import structlog

    try:
        for graph, cfg, tmp, _authority in _cli_world(tmp_path):
            yield graph, cfg, tmp
    finally:
        structlog.reset_defaults()


@pytest.fixture
def short_token_world(tmp_path: Path) -> Iterator[tuple[FakeGraph, Path, Path, FakeAuthority]]:
    """Like ``cli_world``, with access tokens that expire at once (every run refreshes at the authority)."""
    import structlog

    try:
        yield from _cli_world(tmp_path, expires_in=0)
    finally:
        structlog.reset_defaults()


def _cli_world(tmp_path: Path, expires_in: int = 3600) -> Iterator[tuple[FakeGraph, Path, Path, FakeAuthority]]:
    from idealweek.secrets import generate_key

    with FakeGraph(tokens=set()) as graph, FakeAuthority(tmp_path, on_token=graph.tokens.add) as authority:
        authority.expires_in = expires_in
        key = tmp_path / "secrets.key"
        key.write_text(generate_key())
        extra = f'ca_bundle = "{authority.ca_path.name}"'
        text = config_text(graph.root, authority.origin, extra)
        text = text.replace('path = "home"', f'path = "{tmp_path / "home"}"')
        (tmp_path / "home").mkdir(exist_ok=True)
        text = f'state_dir = "{tmp_path / "state"}"\n[secrets]\nstore = "file"\nkey_file = "{key}"\n' + text
        cfg = tmp_path / "config.toml"
        cfg.write_text(_hoist(text))
        from idealweek import config as cfgmod
        from idealweek.providers import outlook
        from idealweek.secrets import open_store

        settings = cfgmod.load(cfg)
        store = open_store("file", cfgmod.state_dir(settings, cfg), str(key))

        def prompt(message: str) -> None:
            m = re.search(r"enter the code (\S+)", message)
            if m:
                authority.approve(m.group(1))

        outlook.sign_in(settings, cfg, "office", store, prompt=prompt)
        yield graph, cfg, tmp_path, authority


def _hoist(text: str) -> str:
    """Put ``timezone``/``horizon`` (top-level keys) ahead of every table."""
    lines = text.splitlines()
    top = [ln for ln in lines if re.match(r"^(timezone|horizon|state_dir) = ", ln)]
    rest = [ln for ln in lines if ln not in top]
    return "\n".join(top + rest) + "\n"


def test_cli_run_once_against_outlook(
    cli_world: tuple[FakeGraph, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`idealweek run --once` after a device-code sign-in: mirrors on Outlook; quiet runs read once, write nothing."""
    from idealweek.cli import main

    graph, cfg, _tmp = cli_world
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    mirrors = [e for e in graph.owned(TAG_ID) if '"t":"mirror"' in (e.ext_value(TAG_ID) or "")]
    assert mirrors and all(
        e.props["sensitivity"] == "private" and e.props["showAs"] in ("busy", "oof") for e in mirrors
    )
    writes = sum(graph.count(m) for m in ("POST", "PATCH", "DELETE"))
    # the next run sees our own writes in the delta (a new process must look their tags up once) …
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert sum(graph.count(m) for m in ("POST", "PATCH", "DELETE")) == writes
    # … after that, a run with nothing changed is one Graph request and no write
    reads = graph.count("GET")
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert sum(graph.count(m) for m in ("POST", "PATCH", "DELETE")) == writes
    assert graph.count("GET") - reads == 1
    out = capsys.readouterr()
    assert "at-" not in out.out + out.err and "rt-" not in out.out + out.err


def test_cli_intrusion_makes_up_time(cli_world: tuple[FakeGraph, Path, Path]) -> None:
    """A meeting on Outlook over an upcoming family block leads to a make-up in the vdir after one run."""
    from idealweek.cli import main

    graph, cfg, tmp = cli_world
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    day = _now_local() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = day.replace(hour=17, minute=30, second=0, microsecond=0)
    graph.user_add("Late sync", start, start + timedelta(hours=1))
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    probe = VdirProvider("home", tmp / "home", writable=False, zone=BERLIN)
    makeups = [e for e in probe.list_owned() if e.tag and e.tag.kind == Kind.MAKEUP]
    assert len(makeups) == 1
    assert any(e.start == makeups[0].start for e in graph.owned(TAG_ID))


def test_cli_sign_in_moves_to_a_server_with_export_and_import(cli_world: tuple[FakeGraph, Path, Path]) -> None:
    """`auth export` on the laptop, `auth import` on the server: the server then syncs with that sign-in."""
    from idealweek.cli import main
    from idealweek.secrets import generate_key

    graph, cfg, tmp = cli_world
    blob = tmp / "signin.txt"
    assert main(["auth", "export", "office", "--file", str(blob), "--config", str(cfg)]) == 0
    server_key = tmp / "server.key"
    server_key.write_text(generate_key())
    text = cfg.read_text().replace(str(tmp / "state"), str(tmp / "server-state"))
    server_cfg = tmp / "server.toml"
    server_cfg.write_text(text.replace(str(tmp / "secrets.key"), str(server_key)))
    assert main(["auth", "import", "office", "--file", str(blob), "--config", str(server_cfg)]) == 0
    assert main(["run", "--once", "--quiet", "--config", str(server_cfg)]) == 0
    assert graph.owned(TAG_ID)


def test_cli_meeting_made_from_a_mirror_is_left_alone(cli_world: tuple[FakeGraph, Path, Path]) -> None:
    """`run --once`: a mirror the user turned into a meeting is neither updated nor deleted (Graph would mail)."""
    from idealweek.cli import main

    graph, cfg, tmp = cli_world
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    day = _now_local() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = day.replace(hour=17, minute=30, second=0, microsecond=0)
    uid = graph.user_add("Late sync", start, start + timedelta(hours=1))
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    probe = VdirProvider("home", tmp / "home", writable=False, zone=BERLIN)
    makeup = next(e for e in probe.list_owned() if e.tag and e.tag.kind == Kind.MAKEUP)
    mirror = next(e for e in graph.owned(TAG_ID) if e.start == makeup.start)
    graph.user_patch(mirror.id, attendees=ATTENDEES)
    graph.user_patch(uid, isCancelled=True)
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert mirror.id in graph.events
    graph.assert_no_mail()


@pytest.mark.parametrize("where", ["token refresh", "discovery"])
def test_cli_authority_outage_fails_outlook_only(
    short_token_world: tuple[FakeGraph, Path, Path, FakeAuthority], capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """`run --once` while the Microsoft authority answers 503: Outlook fails in one line, the vdir is still
    written, the run exits 1 after finishing; once the authority is back, Outlook syncs."""
    from idealweek.cli import main
    from idealweek.providers.outlook import auth

    graph, cfg, tmp, authority = short_token_world
    if where == "discovery":
        auth._http_cache.clear()  # a new process: MSAL discovers the tenant again
    authority.fail_status = 503
    capsys.readouterr()
    assert main(["run", "--once", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    failed = [ln for ln in out.splitlines() if ln.strip().startswith("! work:")]
    assert len(failed) == 1 and "503" in failed[0] and "<html" not in out, out
    probe = VdirProvider("home", tmp / "home", writable=False, zone=BERLIN)
    assert any(e.tag and e.tag.kind == Kind.BLOCK for e in probe.list_owned()), "the vdir was planned and written"
    assert graph.owned(TAG_ID) == []
    authority.fail_status = None
    auth._http_cache.clear()  # a new process (MSAL throttles a failed request for a while within one)
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert graph.owned(TAG_ID)


def _lose_database(state: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state / 'state.sqlite3'}{suffix}").unlink(missing_ok=True)


def test_cli_deleted_stays_deleted_after_the_database_is_lost(cli_world: tuple[FakeGraph, Path, Path]) -> None:
    """`run --once`: a mirror deleted on Outlook and a block deleted in the vdir stay deleted after the state
    database is removed (the journal beside it); with the whole state directory gone the vdir still refuses."""
    from idealweek.cli import main

    graph, cfg, tmp = cli_world
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    mirrors = [e for e in graph.owned(TAG_ID) if '"t":"mirror"' in (e.ext_value(TAG_ID) or "")]
    mirror = max(mirrors, key=lambda e: e.start)  # far from the freeze window
    graph.user_delete(mirror.id)
    probe = VdirProvider("home", tmp / "home", writable=False, zone=BERLIN)
    block = tmp / "home" / f"{max(probe.list_owned(), key=lambda e: e.start).uid}.ics"
    block.unlink()
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    keys = {base_key(e) for e in graph.owned(TAG_ID)}
    assert base_key(mirror) not in keys and not block.exists()

    _lose_database(tmp / "state")
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert base_key(mirror) not in {base_key(e) for e in graph.owned(TAG_ID)}, "the Outlook mirror came back"
    assert not block.exists(), "the vdir block came back"

    from idealweek.journal import JOURNAL_NAME
    from idealweek.providers.vdir import MARKS

    (tmp / "state" / JOURNAL_NAME).unlink()
    _lose_database(tmp / "state")
    assert (tmp / "home" / MARKS / block.stem).exists()
    main(["run", "--once", "--quiet", "--config", str(cfg)])
    assert not block.exists(), "the vdir remembers on its own which ids were deleted"


def test_cli_hostile_tag_on_outlook_is_skipped(cli_world: tuple[FakeGraph, Path, Path]) -> None:
    """`run --once` with an event whose idealweek tag has an infinite timestamp: it is left alone, the run works."""
    from idealweek.cli import main

    graph, cfg, _tmp = cli_world
    start = _now_local().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=2)
    uid = graph.user_add("Planning", start, start + timedelta(hours=1))
    hostile = '{"v":1,"k":"mirror:x","t":"mirror","s":1e400,"e":1}'
    from idealweek.providers.outlook.mapping import OWNER_ID, OWNER_VALUE

    with graph.lock:
        graph.events[uid].ext[TAG_ID.lower()] = (TAG_ID, hostile)
        graph.events[uid].ext[OWNER_ID.lower()] = (OWNER_ID, OWNER_VALUE)
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert main(["run", "--once", "--quiet", "--config", str(cfg)]) == 0
    assert uid in graph.events and graph.events[uid].ext_value(TAG_ID) == hostile
    assert graph.owned(TAG_ID), "the rest was written"
