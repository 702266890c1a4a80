"""The daemon's pieces in-process: backoff, notify messages, jobs, reload, stop, week finalisation."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from idealweek import config as cfg
from idealweek.app import App
from idealweek.daemon import Service, backoff, jitter_for
from idealweek.sdnotify import Notifier
from idealweek.store import Store
from idealweek.weekstats import finalise_weeks
from tests.test_daemon_support import demo_copy, wait_for


class Recorder(Notifier):
    """A notifier that records messages instead of sending them."""

    def __init__(self, watchdog: float | None = None) -> None:
        super().__init__({})
        self.watchdog_interval = watchdog
        self.sent: list[str] = []

    def send(self, *lines: str) -> bool:
        self.sent.extend(lines)
        return True


def context(config: Path) -> App:
    return App(config, cfg.load(config))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(context(demo_copy(tmp_path)), notifier=Recorder())
    yield svc
    if svc.scheduler.running:
        svc.scheduler.shutdown(wait=True)


def test_backoff_starts_below_the_interval_and_grows_to_a_cap() -> None:
    """Retries start at min(interval, 10 s), double, and stop growing at max(interval, 10 min)."""
    rng = random.Random(1)
    delays = [backoff(n, 60, rng) for n in range(1, 12)]
    assert 9 <= delays[0] <= 11
    assert 18 <= delays[1] <= 22
    assert all(d <= 660 for d in delays) and delays[-1] >= 540
    assert 1.8 <= backoff(1, 2, rng) <= 2.2
    assert jitter_for(60) == 5 and jitter_for(2) == pytest.approx(0.2)


def test_notifier_sends_datagrams_to_a_socket_path(tmp_path: Path) -> None:
    """READY=1 and STATUS= arrive as one datagram of KEY=value lines at the NOTIFY_SOCKET path."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "n"))
        n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n")})
        assert n.ready("all good")
        assert sock.recv(1024) == b"READY=1\nSTATUS=all good"
        assert not n.watchdog()  # no WATCHDOG_USEC: no pings


def test_notifier_abstract_socket_and_watchdog() -> None:
    """An @name socket is the abstract namespace; WATCHDOG_USEC turns on WATCHDOG=1 pings."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0idealweek-unit-" + str(id(sock)))
        n = Notifier({"NOTIFY_SOCKET": "@idealweek-unit-" + str(id(sock)), "WATCHDOG_USEC": "1500000"})
        assert n.watchdog_interval == 1.5
        assert n.watchdog()
        assert sock.recv(1024) == b"WATCHDOG=1"


def test_notifier_without_socket_is_silent() -> None:
    """Without NOTIFY_SOCKET nothing is sent; a watchdog meant for another pid is ignored; a dead socket is no crash."""
    assert not Notifier({}).ready()
    assert Notifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert not Notifier({"NOTIFY_SOCKET": "/nonexistent/notify"}).status("x")
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_first_good_cycle_sends_ready_with_a_status(service: Service) -> None:
    """A cycle that read the calendars sends READY=1 once, with STATUS naming open debt and no error."""
    rec = service.notifier
    assert isinstance(rec, Recorder)
    report = service.sync_job()
    assert report is not None and report.ok and report.calendars_read == 4  # work, home, family, partner
    service.sync_job()
    assert rec.sent.count("READY=1") == 1
    status = [s for s in rec.sent if s.startswith("STATUS=")][-1]
    assert "open debt" in status and "last error: none" in status


def test_failing_calendar_is_reported_and_others_still_sync(tmp_path: Path) -> None:
    """One unreadable calendar fails the cycle (retry with backoff) while the others are read and written."""
    config = demo_copy(tmp_path)
    (tmp_path / "calendars" / "family.ics").unlink()
    svc = Service(context(config), notifier=Recorder())
    report = svc.sync_job()
    assert report is not None and "family" in report.failed and report.calendars_read == 3
    assert report.applied  # the others were written
    assert "last error: family: read failed" in svc.status_text()
    assert svc._failures == 1
    assert "READY=1" in svc.notifier.sent  # type: ignore[attr-defined]


def test_cycle_exception_does_not_kill_the_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error in a cycle is logged and counted; the next cycle runs normally."""
    svc = Service(context(demo_copy(tmp_path)), notifier=Recorder())
    calls = {"n": 0}
    real = Store.__init__

    def flaky(self: Store, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk on fire")
        real(self, path)

    monkeypatch.setattr(Store, "__init__", flaky)
    assert svc.sync_job() is None
    assert svc._failures == 1 and "disk on fire" in svc.status_text()
    assert "READY=1" not in svc.notifier.sent  # type: ignore[attr-defined]
    report = svc.sync_job()
    assert report is not None and report.ok and svc._failures == 0


def test_stop_request_lets_the_write_in_progress_finish(service: Service) -> None:
    """A stop requested during a write lets that write finish and be recorded, and applies nothing after it."""
    home = service.current.providers["home"]
    real_create = home.create
    made: list[Any] = []

    def create(desired: Any) -> Any:
        service.request_stop()  # SIGTERM arrives while this write is in flight
        ev = real_create(desired)
        made.append(ev)
        return ev

    home.create = create  # type: ignore[method-assign]
    service._stopping = False
    report = service._cycle(service.current)
    assert len(made) == 1 and len(report.applied) == 1
    assert any("shutdown requested" in n for n in report.notes)
    store = Store(cfg.state_dir(service.current.settings, service.app.config_path) / "state.sqlite3")
    try:
        assert {r.state for r in store.owned().values()} == {"live"}
    finally:
        store.close()
    assert service.sync_job() is None  # no new cycle once stopping


def test_reload_rejects_a_bad_config_and_keeps_the_old_one(service: Service) -> None:
    """A bad config on reload is rejected; the running settings stay and nothing is pending."""
    path = service.app.config_path
    good = path.read_text()
    before = service.current
    path.write_text(good + "\n[[protect]]\ndays = 'someday'\nstart = '10:00'\nend = '11:00'\ncategory = 'family'\n")
    assert service.reload() is False
    assert service.current is before and service._pending is None
    assert "reload rejected" in service.status_text()
    path.write_text(good.replace('sync_interval = "2s"', 'sync_interval = "5s"'))
    assert service.reload() is True
    service.sync_job()
    assert service.current.settings.sync_interval == timedelta(seconds=5)
    assert "last error: none" in service.status_text()


def test_scheduler_runs_a_cycle_at_start_and_keepalive_pings(tmp_path: Path) -> None:
    """start() schedules a cycle at once and watchdog pings; stop() waits for the running job and stops cleanly."""
    svc = Service(context(demo_copy(tmp_path, interval="1h")), notifier=Recorder(watchdog=1.0))
    svc.start()
    try:
        wait_for(lambda: svc.cycles >= 1, what="the start-up cycle")
        assert {j.id for j in svc.scheduler.get_jobs()} == {"sync", "daily", "digest", "watchdog"}
        sync = svc.scheduler.get_job("sync")
        assert sync.max_instances == 1 and sync.coalesce
    finally:
        svc.stop()
    assert "STOPPING=1" in svc.notifier.sent  # type: ignore[attr-defined]
    assert "WATCHDOG=1" in svc.notifier.sent  # type: ignore[attr-defined]


def test_daily_job_finalises_ended_weeks_and_cycles_leave_them_alone(service: Service) -> None:
    """Weeks that have ended are marked final by the daily job and later cycles do not overwrite them."""
    service.sync_job()
    path = cfg.state_dir(service.current.settings, service.app.config_path) / "state.sqlite3"
    store = Store(path)
    try:
        weeks = store.weeks()
        current = max(weeks)
        with store.transaction():
            store.save_week("2020-W10", {"week": "2020-W10", "protected_min": 600}, datetime.now(UTC))
    finally:
        store.close()
    assert "2020-W10" in service.daily_job()
    assert service.daily_job() == []  # nothing left to finalise
    store = Store(path)
    try:
        weeks = store.weeks()
        assert weeks["2020-W10"]["final"] is True
        assert not weeks[current].get("final")  # the running week is not final
        with store.transaction():
            store.save_week(current, {**weeks[current], "sentinel": 1}, datetime.now(UTC))
        zone = service.current.settings.zone
        later = datetime.now(UTC) + timedelta(days=8)
        assert current in finalise_weeks(store, zone, later)
    finally:
        store.close()
    service.sync_job()  # a cycle must not overwrite the finalised week
    store = Store(path)
    try:
        assert store.weeks()[current].get("sentinel") == 1
    finally:
        store.close()
