"""CalDAV worlds for the safety suite: a real server behind a loopback proxy, the real command, a clean twin.

:class:`DavServices` runs one Radicale (with a password kept in an encrypted
file store) or Xandikos (no authentication) and a :class:`~tests.fakes.dav_proxy.DavProxy` in front of it for
a whole test module.  Each :class:`DavWorld` is a fresh pair of calendars on
it — ``work`` (meetings) and ``home`` (blocks) — with its own config and state
directory, so trials never see each other's events.  The command reaches the
server through the proxy, which holds, drops or fails chosen requests; the
user's side talks to the server directly.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar

from idealweek.app import App
from idealweek.engine import CycleReport, Engine
from idealweek.planner import base_key
from idealweek.providers.ics import decode_tag
from idealweek.store import Store
from tests.fakes.dav_proxy import DavProxy
from tests.fakes.dav_servers import DavServer, DavUser
from tests.safety.world import NOW, REPO, at, ledger_of, unaccounted_debts
from tests.scenario import BASE_TOML

Owned = tuple[str, str, str, datetime, datetime]
"""(calendar, base key, kind, start, end) of one owned event."""


class DavServices:
    """One Radicale, the proxy in front of it, a secret-store key and a signed-in template state directory."""

    def __init__(self, root: Path, kind: str = "radicale") -> None:
        from idealweek.secrets import generate_key, open_store

        self.root = root
        self.server = DavServer(kind, root).start()
        self.proxy = DavProxy(self.server.port)
        self.key = root / "secrets.key"
        self.key.write_text(generate_key())
        self.template = root / "template-state"
        self.template.mkdir()
        if self.server.password:
            open_store("file", self.template, str(self.key)).set("token:family", self.server.password)
        self.user = self.server.user()
        self._n = 0

    def close(self) -> None:
        self.user.close()
        self.proxy.close()
        self.server.stop()

    def world(self, name: str = "", horizon: str = "7d") -> DavWorld:
        self._n += 1
        return DavWorld(self, name or f"d{self._n}", horizon=horizon)


@contextlib.contextmanager
def dav_services(root: Path, kind: str = "radicale") -> Iterator[DavServices]:
    svc = DavServices(root, kind)
    try:
        yield svc
    finally:
        svc.close()


@dataclass
class DavWorld:
    svc: DavServices
    name: str
    horizon: str = "7d"
    meetings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dir = self.svc.root / self.name
        self.dir.mkdir()
        self.work = self.svc.server.new_calendar(f"{self.name}-work")
        self.home = self.svc.server.new_calendar(f"{self.name}-home")
        self.state = self.dir / "state"
        shutil.copytree(self.svc.template, self.state)
        self.config = self.dir / "config.toml"
        head = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus="0h")
        head = head.replace('horizon = "14d"', f'horizon = "{self.horizon}"')
        self.config.write_text(
            f'state_dir = "{self.state}"\n'
            + head
            + f"""
[secrets]
store = "file"
key_file = "{self.svc.key}"

[accounts.family]
provider = "caldav"
url = "{self.svc.proxy.url}"
username = "{self.svc.server.username}"

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

    @property
    def user(self) -> DavUser:
        return self.svc.user

    @property
    def db(self) -> Path:
        return self.state / "state.sqlite3"

    # -- in-process --------------------------------------------------------------------
    def engine(self, store: Store, clock: Callable[[], datetime] = lambda: NOW, timeout: float | None = None) -> Engine:
        from idealweek.providers.caldav.client import RetryPolicy

        app = App.load(self.config, log_level="critical")
        engine = app.engine(store)
        engine.clock = clock
        for prov in engine.providers.values():
            p: Any = prov
            p.clock = clock
            p.session.retry = RetryPolicy(attempts=3, base=0.01, cap=0.05)
            if timeout is not None:
                p.session.client.timeout = timeout
        return engine

    def cycle(self, **kwargs: Any) -> CycleReport:
        store = Store(self.db)
        try:
            return self.engine(store, **kwargs).cycle()
        finally:
            store.close()

    def settle(self, cycles: int = 4) -> None:
        for _ in range(cycles):
            report = self.cycle()
            assert report.ok, report.failed
            if not report.ops:
                return
        raise AssertionError(f"{self.name}: no quiet cycle after {cycles} cycles")

    def pending_writes(self) -> int:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "state.sqlite3"
            if self.db.exists():
                shutil.copy(self.db, copy)
            store = Store(copy)
            try:
                return len(self.engine(store).cycle(dry_run=True, force=True).ops)
            finally:
                store.close()

    # -- the command -----------------------------------------------------------------------
    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tests.safety.frozen_cli", NOW.isoformat(), *args, "--config", str(self.config)]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.run(self.command(*args), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.Popen(
            self.command(*args), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    # -- the user ----------------------------------------------------------------------------
    def add_meeting(self, start: datetime, end: datetime, title: str = "Late sync") -> str:
        name = self.user.add(self.work, title, start, end)
        self.meetings.append(name)
        return name

    def cancel_meeting(self, index: int) -> None:
        self.user.delete(self.work, self.meetings.pop(index))

    def move_meeting(self, index: int, delta: timedelta) -> None:
        name = self.meetings[index]
        got = self.user.get(self.work, name)
        assert got is not None
        comp = next(iter(icalendar.Calendar.from_ical(got[0]).walk("VEVENT")))
        self.user.set(self.work, name, DTSTART=comp.decoded("DTSTART") + delta, DTEND=comp.decoded("DTEND") + delta)

    # -- what is on the calendars -----------------------------------------------------------
    def _events(self, path: str) -> list[tuple[str, str, Any]]:
        out = []
        for name, text in self.user.objects(path).items():
            for comp in icalendar.Calendar.from_ical(text).walk("VEVENT"):
                out.append((name, text, comp))
        return out

    def owned(self) -> list[Owned]:
        out: list[Owned] = []
        for cal, path in (("work", self.work), ("home", self.home)):
            for _name, _text, comp in self._events(path):
                tag = decode_tag(str(comp.get("X-IDEALWEEK", "")))
                if tag is not None:
                    out.append((cal, base_key(tag.key), tag.kind.value, comp.decoded("DTSTART"), comp.decoded("DTEND")))
        return sorted(out)

    def duplicates(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], int] = {}
        for cal, key, *_ in self.owned():
            seen[(cal, key)] = seen.get((cal, key), 0) + 1
        return sorted(k for k, n in seen.items() if n > 1)

    def user_fingerprint(self) -> str:
        """The user's own events (not ours), byte for byte."""
        parts = []
        for path in (self.work, self.home):
            for name, text, comp in self._events(path):
                if comp.get("X-IDEALWEEK") is None:
                    parts.append(f"{path}{name}\n{text}")
        return "\n".join(sorted(parts))

    def ledger(self) -> dict[str, tuple[object, ...]]:
        return ledger_of(self.db)

    def ledger_conserved(self) -> list[str]:
        return unaccounted_debts(self.db)


def is_write(method: str, path: str) -> bool:
    return method in ("PUT", "DELETE")


# -- the user's random script, played on a world and its twin -------------------------------------------


def setup_script(rng: random.Random) -> list[tuple[int, int, int, int]]:
    return [
        (rng.randint(0, 5), rng.choice([7, 16, 17, 18]), rng.choice([0, 30]), rng.choice([30, 60]))
        for _ in range(rng.randint(1, 3))
    ]


def play(world: DavWorld, script: list[tuple[int, int, int, int]]) -> None:
    for day, hour, minute, minutes in script:
        start = at(day, hour, minute)
        world.add_meeting(start, start + timedelta(minutes=minutes))


def change_both(rng: random.Random, world: DavWorld, twin: DavWorld) -> None:
    kind = rng.choice(["cancel", "move", "add"]) if world.meetings else "add"
    if kind == "add":
        day, hour = rng.randint(0, 5), rng.choice([7, 16, 17, 18])
        for w in (world, twin):
            w.add_meeting(at(day, hour, 15), at(day, hour, 15) + timedelta(minutes=45))
        return
    index = rng.randrange(len(world.meetings))
    if kind == "cancel":
        world.cancel_meeting(index)
        twin.cancel_meeting(index)
    else:
        delta = timedelta(minutes=rng.choice([-90, -30, 60, 24 * 60]))
        world.move_meeting(index, delta)
        twin.move_meeting(index, delta)


def check_after_restart(world: DavWorld, user: str, label: str) -> None:
    dups = world.duplicates()
    assert not dups, f"{label}: duplicate owned events {dups}"
    assert world.user_fingerprint() == user, f"{label}: a user event was changed"
    bad = world.ledger_conserved()
    assert not bad, f"{label}: debt not accounted for: {bad}"


def check_converged(world: DavWorld, twin: DavWorld, label: str) -> None:
    mine, theirs = world.owned(), twin.owned()
    mine_ = [(c, k, kind, s, e) for c, k, kind, s, e in mine]
    missing = sorted(set(theirs) - set(mine_))
    extra = sorted(set(mine_) - set(theirs))
    assert not missing and not extra, f"{label}: differs from a clean run: missing {missing[:5]}, extra {extra[:5]}"
    assert world.ledger() == twin.ledger(), f"{label}: ledger differs from a clean run"
