"""End-to-end: ``idealweek run`` as a subprocess on local calendars, talking to a test notify socket."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.model import Kind, OwnedTag
from idealweek.providers.ics import decode_tag
from idealweek.store import Store
from tests.test_daemon_support import Daemon, NotifyListener, demo_copy, wait_for

BERLIN = ZoneInfo("Europe/Berlin")
pytestmark = pytest.mark.timeout(120)


def tags(folder: Path) -> dict[str, OwnedTag]:
    """Owned tags of the events in a vdir folder, by file name."""
    out: dict[str, OwnedTag] = {}
    for f in sorted(folder.glob("*.ics")):
        for line in f.read_text().replace("\r\n ", "").replace("\n ", "").splitlines():
            if line.startswith("X-IDEALWEEK:"):
                tag = decode_tag(line.split(":", 1)[1])
                if tag is not None:
                    out[f.name] = tag
    return out


def free_family_evening(home: Path) -> str:
    """A weekday at least three days ahead whose 17:00-19:00 family block has no debt yet (ISO date)."""
    paid = {d for t in tags(home).values() for d in t.pays}
    day = datetime.now(BERLIN).date() + timedelta(days=3)
    while day.weekday() >= 5 or f"debt:family@17:00-19:00:{day.isoformat()}" in paid:
        day += timedelta(days=1)
    return day.isoformat()


def write_meeting(folder: Path, day: str, start: str = "170000", end: str = "180000") -> Path:
    """A plain user meeting (as a calendar app would write it) in a vdir folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    d = day.replace("-", "")
    path = folder / f"late-meeting-{d}.ics"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:late-meeting-{d}@example.com\r\nDTSTAMP:{stamp}\r\nSUMMARY:Late escalation call\r\n"
        f"DTSTART;TZID=Europe/Berlin:{d}T{start}\r\nDTEND;TZID=Europe/Berlin:{d}T{end}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    tmp.replace(path)
    return path


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifyListener]:
    listener = NotifyListener(tmp_path)
    yield listener
    listener.close()


def test_ready_watchdog_status_and_clean_stop(tmp_path: Path, notify: NotifyListener) -> None:
    """The daemon sends READY=1 after its first cycle, WATCHDOG=1 and a STATUS line, and exits 0 on SIGTERM."""
    d = Daemon(demo_copy(tmp_path), notify, watchdog_usec=2_000_000)
    try:
        wait_for(lambda: notify.count("READY=1") >= 1, what="READY=1")
        wait_for(lambda: notify.count("WATCHDOG=1") >= 2, what="two WATCHDOG=1")
        status = wait_for(lambda: [s for s in notify.statuses() if s.startswith("next cycle")], what="STATUS")[-1]
        assert "open debt" in status and "last error: none" in status
        assert d.events("cycle")[0]["calendars_read"] == 4  # the demo: work, home, family, partner
        assert d.events("daemon.ready")
        t0 = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - t0 < 15
        wait_for(lambda: "STOPPING=1" in notify.lines(), what="STOPPING=1")
        assert d.events("daemon.stopped")
    finally:
        d.kill()


def test_abstract_notify_socket(tmp_path: Path) -> None:
    """An abstract ``@name`` NOTIFY_SOCKET receives READY=1 just like a socket path."""
    listener = NotifyListener(tmp_path, abstract=True)
    d = Daemon(demo_copy(tmp_path), listener)
    try:
        assert listener.address.startswith("@")
        wait_for(lambda: listener.count("READY=1") >= 1, what="READY=1 on the abstract socket")
        assert listener.count("WATCHDOG=1") == 0  # no WATCHDOG_USEC, no watchdog pings
        assert d.stop() == 0
    finally:
        d.kill()
        listener.close()


def test_new_meeting_gets_its_makeup_within_one_interval(tmp_path: Path, notify: NotifyListener) -> None:
    """A meeting added over a protected block gets its make-up block on the calendar by the next cycle."""
    cfg = demo_copy(tmp_path)
    d = Daemon(cfg, notify)
    try:
        wait_for(lambda: notify.count("READY=1") >= 1, what="READY=1")
        home = tmp_path / "calendars" / "home"
        day = free_family_evening(home)
        debt = f"debt:family@17:00-19:00:{day}"
        before = len(d.records())
        write_meeting(tmp_path / "calendars" / "work", day)

        def makeup() -> list[OwnedTag]:
            return [t for t in tags(home).values() if t.kind == Kind.MAKEUP and debt in t.pays]

        found = wait_for(makeup, timeout=60, what=f"a make-up paying {debt}")
        assert sum(t.pays[debt] for t in found) == 60

        # Within one interval: at most one cycle (the one possibly running during the write) finished
        # between the write and the cycle that created the make-up.
        def first_makeup_write() -> tuple[list[dict[str, object]], int] | None:
            recs = d.records()[before:]
            for i, r in enumerate(recs):
                is_create = r.get("event") == "write" and r.get("op") == "create"
                if is_create and str(r.get("key", "")).startswith("makeup:"):
                    return recs, i
            return None

        recs, created = wait_for(first_makeup_write, what="the make-up's write in the log")
        assert sum(1 for r in recs[:created] if r.get("event") == "cycle") <= 1
        assert d.stop() == 0
    finally:
        d.kill()


def test_sighup_with_bad_config_keeps_the_old_one(tmp_path: Path, notify: NotifyListener) -> None:
    """SIGHUP with a broken config is rejected with a log line and cycles go on; a good one is applied."""
    cfg = demo_copy(tmp_path)
    good = cfg.read_text()
    d = Daemon(cfg, notify)
    try:
        wait_for(lambda: notify.count("READY=1") >= 1, what="READY=1")
        cfg.write_text(good + "\n[catch_up]\nwithin = 'soon'\n")
        d.signal(signal.SIGHUP)
        rejected = wait_for(lambda: d.events("reload.rejected"), what="reload.rejected")[0]
        assert rejected["level"] == "error" and str(cfg) == rejected["config"]
        wait_for(lambda: "RELOADING=1" in notify.lines(), what="RELOADING=1")
        wait_for(lambda: any("reload rejected" in s for s in notify.statuses()), what="STATUS naming the rejection")
        n = len(d.events("cycle"))
        wait_for(lambda: len(d.events("cycle")) >= n + 2, what="two more cycles on the old config")
        assert d.proc.poll() is None
        cfg.write_text(good.replace('sync_interval = "2s"', 'sync_interval = "3s"'))
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.events("reload.accepted"), what="reload.accepted")
        wait_for(lambda: d.events("config.applied"), what="config.applied")
        wait_for(lambda: notify.count("READY=1") >= 2, what="READY=1 again after the reload")
        assert d.stop() == 0
    finally:
        d.kill()


def test_sigterm_during_writes_exits_zero_with_consistent_state(tmp_path: Path) -> None:
    """SIGTERM while the first cycle writes: exit 0 promptly, no half-recorded write, later cycles converge."""
    cfg = demo_copy(tmp_path)
    d = Daemon(cfg)
    try:
        wait_for(lambda: d.events("write") or d.events("cycle"), what="the first writes")
        t0 = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - t0 < 15
    finally:
        d.kill()
    store = Store(tmp_path / "state" / "state.sqlite3")
    try:
        assert store.integrity() == "ok"
        assert {row.state for row in store.owned().values()} <= {"live"}
    finally:
        store.close()
    once = [sys.executable, "-m", "idealweek.cli", "run", "--once", "--quiet", "--config", str(cfg)]
    first = subprocess.run([*once, "--log-level", "warning"], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*once, "--log-level", "warning"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and " 0 writes" in second.stdout
    for folder in ("home", "work"):
        keys = [t.key for t in tags(tmp_path / "calendars" / folder).values()]
        assert len(keys) == len(set(keys)), f"duplicate owned events in {folder}"
