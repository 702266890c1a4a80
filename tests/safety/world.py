"""Calendars on the fake Google and Graph servers plus a vdir folder, for the safety suite.

:class:`Services` runs one fake Google, one fake Graph and one TLS authority
(with a real MSAL device-code sign-in kept in an encrypted file store) for a
whole test module.  Each :class:`World` is a fresh set of calendars on them —
a Google calendar (meetings + blocks), an Outlook calendar (meetings + mirror)
and a vdir folder (personal + focus) — with its own config and state
directory, so trials never see each other's events and can run the real
``idealweek`` command as a subprocess or the engine in-process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from idealweek.config import Settings, loads
from idealweek.engine import Engine
from idealweek.model import Event, OwnedTag
from idealweek.planner import base_key
from idealweek.providers.google import RetryPolicy as GoogleRetry
from idealweek.providers.google import make_provider as google_provider
from idealweek.providers.google.mapping import tag_from_properties
from idealweek.providers.outlook import make_provider as outlook_provider
from idealweek.providers.outlook.client import RetryPolicy as GraphRetry
from idealweek.providers.outlook.mapping import TAG_ID
from idealweek.providers.vdir import VdirProvider
from idealweek.store import Store
from tests.fakes.google_server import GoogleFake, signed_in
from tests.fakes.graph_server import FakeGraph
from tests.scenario import BASE_TOML

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)
"""The pinned clock of every trial: a Monday morning."""
REPO = Path(__file__).resolve().parents[2]
WRITES = ("POST", "PATCH", "PUT", "DELETE")
GRAPH_TOKEN = "safety-in-process-token"

Owned = tuple[str, str, str, datetime, datetime]
"""(calendar, base key, kind, start, end) of one owned event."""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time ``hour:minute`` on day ``day`` after the pinned Monday."""
    return NOW.replace(hour=hour, minute=minute) + timedelta(days=day)


def is_event_write(method: str, path: str) -> bool:
    return method in WRITES and "/events" in path


class Services:
    """The fake services, a secret-store key and a signed-in template state directory."""

    def __init__(self, root: Path) -> None:
        from tests.fakes.tls_authority import FakeAuthority

        self.root = root
        self._stack = contextlib.ExitStack()
        self.google = self._stack.enter_context(GoogleFake(page_size=40))
        self.graph = self._stack.enter_context(FakeGraph(tokens={GRAPH_TOKEN}))
        self.authority = self._stack.enter_context(FakeAuthority(root, on_token=self.graph.tokens.add))
        self.key = root / "secrets.key"
        from idealweek.secrets import generate_key

        self.key.write_text(generate_key())
        self.template = root / "template-state"
        self.template.mkdir(mode=0o700)
        # One mirror key for every world, so a trial and its clean twin name their mirrors alike.
        (self.template / "mirror.key").write_text("5a" * 32)
        self._n = itertools.count(1)
        self.google_secrets = signed_in(self.google, "g")
        self._sign_in()

    def close(self) -> None:
        self._stack.close()

    def _sign_in(self) -> None:
        from idealweek import config as cfgmod
        from idealweek.providers import outlook
        from idealweek.secrets import open_store

        probe = self.root / "signin"
        probe.mkdir()
        (probe / "home").mkdir()
        cfg = probe / "config.toml"
        cfg.write_text(config_text(self, self.template, probe / "home", "sign-in", "sign-in"))
        settings = cfgmod.load(cfg)
        store = open_store("file", self.template, str(self.key))
        store.set("token:g", self.google.issue_token())

        def prompt(message: str) -> None:
            m = re.search(r"enter the code (\S+)", message)
            if m:
                self.authority.approve(m.group(1))

        outlook.sign_in(settings, cfg, "office", store, prompt=prompt)

    def secret_values(self) -> set[str]:
        """Every token the fakes ever issued (for leak checks)."""
        google = set(self.google.access_tokens) | set(self.google.refresh_tokens)
        graph = set(self.graph.tokens) - {GRAPH_TOKEN}
        return {t for t in google | graph | set(self.authority_tokens()) if t}

    def authority_tokens(self) -> set[str]:
        out: set[str] = set()
        state = getattr(self.authority, "state", None)
        for name in ("refresh_tokens", "access_tokens"):
            value = getattr(state, name, None) or getattr(self.authority, name, None)
            if isinstance(value, dict | set):
                out |= {str(v) for v in value}
        return out

    def world(self, name: str = "") -> World:
        return World(self, name or f"w{next(self._n)}")


@contextlib.contextmanager
def services(root: Path) -> Iterator[Services]:
    svc = Services(root)
    try:
        yield svc
    finally:
        svc.close()


def config_text(svc: Services, state: Path, home: Path, gcal: str, ocal: str, extra: str = "") -> str:
    head = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus="4h")
    head = head.replace('horizon = "14d"', 'horizon = "7d"')
    return f"""state_dir = "{state}"
{head}
{extra}
[secrets]
store = "file"
key_file = "{svc.key}"

[accounts.g]
provider = "google"
api_root = "{svc.google.api_root}"
token_uri = "{svc.google.token_uri}"

[accounts.office]
provider = "outlook"
client_id = "11111111-2222-3333-4444-555555555555"
tenant = "organizations"
authority = "{svc.authority.origin}"
graph_root = "{svc.graph.root}"
ca_bundle = "{svc.authority.ca_path}"
page_size = 50

[calendars.gwork]
source = "google"
account = "g"
id = "{gcal}"
roles = ["meetings", "blocks"]

[calendars.owork]
source = "outlook"
account = "office"
id = "{ocal}"
roles = ["meetings", "mirror"]

[calendars.home]
source = "vdir"
path = "{home}"
roles = ["personal", "focus"]
category = "family"
policy = "catch-up"
"""


@dataclass
class World:
    """One trial's calendars, config and state directory on the shared fakes."""

    svc: Services
    name: str
    meetings: list[tuple[str, str]] = field(default_factory=list)
    """(calendar, id) of each meeting the user added, in order."""

    def __post_init__(self) -> None:
        self.dir = self.svc.root / self.name
        self.dir.mkdir()
        self.gcal = f"{self.name}-cal@group.calendar.google.com"
        self.svc.google.add_calendar(self.gcal, self.name)
        self.ocal = self.svc.graph.add_calendar(self.name)
        self.home = self.dir / "home"
        self.home.mkdir()
        self.state = self.dir / "state"
        shutil.copytree(self.svc.template, self.state)
        self.config = self.dir / "config.toml"
        self.write_config()

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(config_text(self.svc, self.state, self.home, self.gcal, self.ocal, extra))

    @property
    def db(self) -> Path:
        return self.state / "state.sqlite3"

    def settings(self) -> Settings:
        return loads(self.config.read_text())

    # -- in-process --------------------------------------------------------------------
    def engine(
        self,
        store: Store,
        clock: Callable[[], datetime] = lambda: NOW,
        *,
        sleeps: list[float] | None = None,
        wrap: Callable[[Any], Any] | None = None,
        real_outlook_sign_in: bool = False,
    ) -> Engine:
        """The engine with real providers over HTTP (backoff sleeps recorded, not slept).

        Outlook uses a fixed bearer token unless ``real_outlook_sign_in`` (MSAL with the stored sign-in).
        """
        settings = self.settings()
        record = sleeps if sleeps is not None else []
        tokens: Any = lambda force_refresh=False: GRAPH_TOKEN  # noqa: E731
        outlook_secrets = None
        if real_outlook_sign_in:
            from idealweek.secrets import open_store

            tokens, outlook_secrets = None, open_store("file", self.state, str(self.svc.key))
        g = google_provider(
            settings,
            self.config,
            "gwork",
            self.svc.google_secrets,
            retry=GoogleRetry(attempts=4, sleep=record.append, jitter=lambda: 0.5),
        )
        o = outlook_provider(
            settings,
            self.config,
            "owork",
            outlook_secrets,
            clock=clock,
            sleep=record.append,
            tokens=tokens,
            policy=GraphRetry(attempts=4),
        )
        h = VdirProvider("home", self.home, writable=True, zone=BERLIN, clock=clock)
        providers: dict[str, Any] = {"gwork": g, "owork": o, "home": h}
        if wrap is not None:
            providers = {k: wrap(v) for k, v in providers.items()}
        return Engine(settings, store, providers, clock=clock)

    def settle(self, clock: Callable[[], datetime] = lambda: NOW, cycles: int = 4) -> None:
        """Run clean cycles until one has nothing to do (a clean run's result)."""
        store = Store(self.db)
        try:
            for _ in range(cycles):
                report = self.engine(store, clock).cycle()
                assert report.ok, report.failed
                if not report.ops:
                    return
            raise AssertionError(f"{self.name}: no quiet cycle after {cycles} cycles")
        finally:
            store.close()

    # -- the command as a subprocess ------------------------------------------------------
    def command(self, *args: str, now: datetime = NOW) -> list[str]:
        return [sys.executable, "-m", "tests.safety.frozen_cli", now.isoformat(), *args, "--config", str(self.config)]

    def run(self, *args: str, now: datetime = NOW, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        return subprocess.run(
            self.command(*args, now=now), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str, now: datetime = NOW) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        return subprocess.Popen(
            self.command(*args, now=now),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    # -- the user ------------------------------------------------------------------------
    def add_google_meeting(self, start: datetime, end: datetime, title: str = "Late sync") -> str:
        me = {"email": self.svc.google.primary_id, "self": True, "responseStatus": "accepted"}
        boss = {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"}
        uid = self.svc.google.user_add(
            self.gcal, title, start, end, attendees=[boss, me], organizer={"email": "boss@example.com"}
        )
        self.meetings.append(("gwork", uid))
        return uid

    def add_outlook_meeting(self, start: datetime, end: datetime, title: str = "Steering") -> str:
        uid = self.svc.graph.user_add(title, start, end, calendar=self.ocal, zone="Europe/Berlin")
        self.meetings.append(("owork", uid))
        return uid

    def add_personal(self, uid: str, start: datetime, end: datetime, title: str, **extra: str) -> Path:
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//idealweek safety//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20261101T000000Z",
            f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"DTEND:{end.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{title}",
            *(f"{k.upper()}:{v}" for k, v in extra.items()),
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
        path = self.home / f"{uid}.ics"
        path.write_text("\r\n".join(lines))
        return path

    def cancel_meeting(self, index: int) -> None:
        cal, uid = self.meetings.pop(index)
        if cal == "gwork":
            self.svc.google.user_delete(self.gcal, uid)
        else:
            self.svc.graph.user_delete(uid)

    def move_meeting(self, index: int, delta: timedelta) -> None:
        cal, uid = self.meetings[index]
        if cal == "gwork":
            ev = self.svc.google.event(self.gcal, uid)
            assert ev is not None
            start = datetime.fromisoformat(ev["start"]["dateTime"]) + delta
            end = datetime.fromisoformat(ev["end"]["dateTime"]) + delta
            self.svc.google.user_move(self.gcal, uid, start, end)
        else:
            ev2 = self.svc.graph.events[uid]
            self.svc.graph.user_patch(uid, start=ev2.start + delta, end=ev2.end + delta)

    # -- what is on the calendars ---------------------------------------------------------
    def google_owned(self) -> list[tuple[OwnedTag, dict[str, Any]]]:
        out = []
        for raw in self.svc.google.live_events(self.gcal):
            tag = tag_from_properties(raw.get("extendedProperties", {}).get("private", {}))
            if tag is not None:
                out.append((tag, raw))
        return out

    def graph_owned(self) -> list[tuple[OwnedTag, Any]]:
        return [
            (OwnedTag.decode(ev.ext_value(TAG_ID) or ""), ev)
            for ev in self.svc.graph.owned(TAG_ID)
            if ev.calendar == self.ocal
        ]

    def vdir_events(self) -> list[Event]:
        probe = VdirProvider("home", self.home, writable=False, zone=BERLIN, clock=lambda: NOW)
        return list(probe.read_changes(None).upserts)

    def owned(self) -> list[Owned]:
        """Every owned event on the three calendars, duplicates included, sorted."""
        out: list[Owned] = []
        for tag, raw in self.google_owned():
            s = datetime.fromisoformat(raw["start"]["dateTime"]).astimezone(UTC)
            e = datetime.fromisoformat(raw["end"]["dateTime"]).astimezone(UTC)
            out.append(("gwork", base_key(tag.key), tag.kind.value, s, e))
        for tag, ev in self.graph_owned():
            out.append(("owork", base_key(tag.key), tag.kind.value, ev.start, ev.end))
        for ev in self.vdir_events():
            if ev.tag is not None:
                out.append(("home", base_key(ev.tag.key), ev.tag.kind.value, ev.start, ev.end))
        return sorted(out)

    def duplicates(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], int] = {}
        for cal, key, *_ in self.owned():
            seen[(cal, key)] = seen.get((cal, key), 0) + 1
        return sorted(k for k, n in seen.items() if n > 1)

    def user_fingerprint(self) -> str:
        """Everything about the user's own events (not ours), byte for byte."""
        google = sorted(
            (e["id"], json.dumps(e, sort_keys=True))
            for e in self.svc.google.calendar(self.gcal).events.values()
            if "idealweek" not in e.get("extendedProperties", {}).get("private", {})
        )
        with self.svc.graph.lock:
            graph = sorted(
                (ev.id, repr((ev.start, ev.end, sorted(ev.props.items()), ev.change_key)))
                for ev in self.svc.graph.events.values()
                if ev.calendar == self.ocal and not ev.ext
            )
        home = sorted(
            (p.name, p.read_text(errors="replace"))
            for p in self.home.glob("*.ics")
            if "X-IDEALWEEK" not in p.read_text(errors="replace").upper()
        )
        return json.dumps([google, graph, home])

    def ledger(self) -> dict[str, tuple[object, ...]]:
        return ledger_of(self.db)

    def ledger_conserved(self) -> list[str]:
        """Debts whose minutes are not all accounted for (paid + scheduled + waived + unplaced)."""
        return unaccounted_debts(self.db)


def kinds(owned: list[Owned]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _cal, _key, kind, *_ in owned:
        out[kind] = out.get(kind, 0) + 1
    return out


class Holder:
    """A fake hook that stops the ``n``-th event write (before or after the fake acted on it) until released."""

    def __init__(self, n: int, phase: str) -> None:
        self.n = n
        self.phase = phase
        self.count = 0
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.release = threading.Event()
        self.what = ""

    def __call__(self, method: str, path: str, phase: str) -> None:
        if phase != self.phase or not is_event_write(method, path):
            return
        with self.lock:
            self.count += 1
            hit = self.count == self.n
        if hit:
            self.what = f"{method} {path}"
            self.held.set()
            self.release.wait(30)


def kill_when_held(proc: subprocess.Popen[str], holder: Holder, timeout: float = 60) -> bool:
    """SIGKILL ``proc`` once ``holder`` holds a write; False when the process finished first."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if holder.held.wait(0.01):
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                return True
            if proc.poll() is not None:
                return False
        proc.kill()
        raise AssertionError("the command neither finished nor reached the held write")
    finally:
        holder.release.set()
        if proc.stderr is not None:
            proc.stderr.close()


def kill_after(proc: subprocess.Popen[str], seconds: float) -> bool:
    """SIGKILL ``proc`` after ``seconds``; False when it finished first."""
    try:
        proc.wait(seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        return True
    finally:
        if proc.stderr is not None:
            proc.stderr.close()


def ledger_of(db: Path) -> dict[str, tuple[object, ...]]:
    """Debt id -> (minutes, status, paid, scheduled, waived, unplaced) in the state database at ``db``."""
    store = Store(db)
    try:
        return {
            str(d["id"]): (d["minutes"], d["status"], d["paid"], d["scheduled"], d["waived"], d["unplaced"])
            for d in store.ledger()
        }
    finally:
        store.close()


def unaccounted_debts(db: Path) -> list[str]:
    """Debts at ``db`` whose minutes are not all accounted for (paid + scheduled + waived + unplaced)."""
    if not db.exists():
        return []
    bad = []
    for did, (minutes, status, paid, scheduled, waived, unplaced) in ledger_of(db).items():
        if status == "cancelled":
            continue
        total = int(paid) + int(scheduled) + int(waived) + int(unplaced)  # type: ignore[call-overload]
        if total < int(minutes):  # type: ignore[call-overload]
            bad.append(f"{did}: {minutes} min, accounted {total}")
    return bad
