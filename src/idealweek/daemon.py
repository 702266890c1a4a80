"""The long-running service: sync cycles on a schedule, signals, systemd notify.

* APScheduler 3 (``BackgroundScheduler``) runs the jobs; the main thread only
  waits for signals.  Jobs that touch the state database run one at a time on a
  single worker thread: the sync job (every ``sync_interval`` at the latest, a
  little jitter taken out of it, ``max_instances=1``, missed runs coalesced, one at start-up) and the
  daily job that finalises the statistics of weeks that have ended.
* The providers (HTTP clients, sign-ins) and the engine (with its event
  cache) live as long as the configuration; the state database is opened for
  each job, so a job never shares a SQLite connection with another thread and
  a deleted database is simply started afresh.
* A failing cycle is retried with exponential backoff: first sooner than the
  regular interval (a blip heals quickly), then less often (a broken service
  is not hammered), back to the interval after the next good cycle.  The
  engine already isolates calendars: one account's failure leaves the others
  running.
* SIGTERM/SIGINT: the engine finishes the write in progress, records it and
  applies nothing more; the process exits 0.  SIGHUP: the config is read
  again; a bad one is rejected with a log line and the old one keeps running,
  a good one rebuilds the providers before the next cycle (run at once).
* systemd: ``READY=1`` after the first cycle that read calendars,
  ``WATCHDOG=1`` after each cycle and from a keep-alive job that stays silent
  while a cycle hangs, ``STATUS=`` next cycle, open debt, last error.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from idealweek import config as cfg
from idealweek.clock import Clock, system_clock
from idealweek.daemon_jobs import finalise_ended_weeks, send_digest
from idealweek.daemon_schedule import (
    DAILY_AT as DAILY_AT,
)
from idealweek.daemon_schedule import (
    backoff,
    daily_trigger,
    digest_trigger,
    make_scheduler,
    sync_trigger,
)
from idealweek.daemon_schedule import jitter_for as jitter_for
from idealweek.engine import CycleReport, Engine
from idealweek.errors import ConfigError, IdealweekError
from idealweek.memory import one_arena, release_memory
from idealweek.providers.packed import PacksFullReads
from idealweek.sdnotify import Notifier
from idealweek.settling import settle_text
from idealweek.store import Store

if TYPE_CHECKING:
    from types import FrameType

    from idealweek.app import App
    from idealweek.providers.base import Provider

log = structlog.get_logger("idealweek.daemon")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def run_forever(app: App, force: bool = False) -> int:
    """``idealweek run``: cycles until SIGTERM; 0 after a clean stop.  ``force``: the first cycle skips the guards."""
    one_arena()
    return Service(app, force=force).run()


def packing_full_reads(providers: dict[str, Provider]) -> dict[str, Provider]:
    """``providers``, those that can be asked to keep full reads packed (the daemon lives on: a full read of a
    big calendar must not spread over its heap for good; :mod:`idealweek.providers.packed`)."""
    for prov in providers.values():
        if isinstance(prov, PacksFullReads):
            prov.pack_full_reads = True
    return providers


@dataclass
class Loaded:
    """One configuration with the providers built for it."""

    settings: cfg.Settings
    providers: dict[str, Provider]
    engine: Engine | None = None
    """Made on the first cycle and kept (it caches events between cycles); the store is swapped in each cycle."""


class Service:
    """The daemon: owns the scheduler, the current configuration and the systemd conversation."""

    def __init__(
        self, app: App, notifier: Notifier | None = None, clock: Clock = system_clock, force: bool = False
    ) -> None:
        self.app = app
        self.clock = clock
        self.notifier = notifier or Notifier()
        self.current = self.build(app.settings)
        self._pending: Loaded | None = None
        self._work = threading.Lock()
        self._signals: deque[int] = deque()
        self._stopping = False
        self._engine: Engine | None = None
        self._cycle_started: float | None = None
        self._failures = 0
        self._ready = False
        self._force_once = force
        self._last_error = ""
        self._config_problem = ""
        """Set while a rejected reload leaves the previous config running; cleared by a good reload."""
        self._last: dict[str, object] = {}
        self._pending_cycles = 0
        """Cycles in a row that planned at least one operation (0 once a cycle planned none)."""
        self.cycles = 0
        from idealweek.alerts.hook import AlertHook

        self.alerts = AlertHook(app.config_path)
        """Alerts, the digest and experiment records after each writing cycle (issue 19)."""
        self.scheduler = make_scheduler()

    # -- configuration ------------------------------------------------------------
    def build(self, settings: cfg.Settings) -> Loaded:
        """Providers for ``settings``; raises a UserError when e.g. no secret store can be opened."""
        app = self.app.with_settings(settings)
        return Loaded(settings, packing_full_reads(app.providers(app.secrets())))

    def reload(self) -> bool:
        """SIGHUP: read the config again; keep the running one when the new one is bad."""
        path = self.app.config_path
        if self._ready:  # RELOADING=1 is answered by READY=1 below; before the first READY there is nothing to reload
            self.notifier.reloading()
        try:
            settings = cfg.load(path)
            loaded = self.build(settings)
        except ConfigError as exc:
            log.error("reload.rejected", config=str(path), problems=exc.problems, kept="the previous configuration")
            self._config_problem = f"config reload rejected ({len(exc.problems)} problems), previous config kept"
            self._notify_ready()
            return False
        except IdealweekError as exc:
            log.error("reload.rejected", config=str(path), error=str(exc), kept="the previous configuration")
            self._config_problem = f"config reload rejected ({exc}), previous config kept"
            self._notify_ready()
            return False
        old = self.current.settings
        self._pending = loaded
        self.app.with_settings(settings).setup_logging()
        if settings.sync_interval != old.sync_interval:
            self._modify_job("sync", trigger=sync_trigger(settings))
        if settings.timezone != old.timezone:
            self._modify_job("daily", trigger=daily_trigger(settings))
        if (settings.timezone, settings.alerts.digest_day, settings.alerts.digest_time) != (
            old.timezone,
            old.alerts.digest_day,
            old.alerts.digest_time,
        ):
            self._modify_job("digest", trigger=digest_trigger(settings))
        self._config_problem = ""
        self._modify_job("sync", next_run_time=self.clock())
        log.info("reload.accepted", config=str(path), calendars=len(settings.calendars))
        self._notify_ready()
        return True

    # -- scheduling ---------------------------------------------------------------
    def _modify_job(self, job_id: str, **changes: object) -> None:
        """Change a job if it is scheduled (it is not before :meth:`start` or after :meth:`stop`)."""
        from apscheduler.jobstores.base import JobLookupError

        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(job_id, **changes)

    def start(self) -> None:
        """Start the scheduler: a cycle now, then every interval; the daily job now and each night."""
        now = self.clock()
        s = self.current.settings
        self.scheduler.add_job(self.sync_job, sync_trigger(s), id="sync", next_run_time=now)
        self.scheduler.add_job(self.daily_job, daily_trigger(s), id="daily", next_run_time=now + timedelta(seconds=1))
        self.scheduler.add_job(
            self.digest_job, digest_trigger(s), id="digest", next_run_time=now + timedelta(seconds=2)
        )
        wd = self.notifier.watchdog_interval
        if wd is not None:
            self.scheduler.add_job(
                self.keepalive_job, "interval", seconds=max(wd / 2, 0.5), id="watchdog", executor="watchdog"
            )
        self.scheduler.start()
        self.notifier.status("starting: first sync cycle")

    def run(self) -> int:
        """Run until a stop signal; returns the exit code."""
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        old_handlers = {s: signal.signal(s, self._on_signal) for s in HANDLED}
        log.info(
            "daemon.start",
            config=str(self.app.config_path),
            interval_s=self.current.settings.sync_interval.total_seconds(),
            calendars=len(self.current.settings.calendars),
            notify=self.notifier.enabled,
            watchdog_s=self.notifier.watchdog_interval,
        )
        try:
            self.start()
            while True:
                got = signal.sigtimedwait(HANDLED, 1.0)
                if got is not None:
                    self._signals.append(got.si_signo)
                if self._handle_signals():
                    break
            self.stop()
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return 0

    def _on_signal(self, signo: int, _frame: FrameType | None) -> None:
        """Fallback for a signal delivered while it was not blocked: queue it for the main loop."""
        if signo in STOP_SIGNALS:
            self.request_stop()
        self._signals.append(signo)

    def _handle_signals(self) -> bool:
        """Process queued signals; ``True`` when the daemon should stop."""
        while self._signals:
            signo = self._signals.popleft()
            if signo in STOP_SIGNALS:
                log.info("daemon.stopping", signal=signal.Signals(signo).name)
                self.request_stop()
                return True
            if signo == signal.SIGHUP:
                self.reload()
        return False

    def request_stop(self) -> None:
        """Ask the cycle in progress to stop after the write it is doing; run no new cycles."""
        self._stopping = True
        engine = self._engine
        if engine is not None:
            engine.stop_requested = True

    def stop(self) -> None:
        self.request_stop()
        self.notifier.stopping()
        self.scheduler.shutdown(wait=True)
        log.info("daemon.stopped", cycles=self.cycles)

    # -- jobs ---------------------------------------------------------------------
    def sync_job(self) -> CycleReport | None:
        """One sync cycle; schedules a retry with backoff when it fails."""
        if self._stopping:
            return None
        report: CycleReport | None = None
        with self._work:
            if self._stopping:
                return None
            if self._pending is not None:
                self.current, self._pending = self._pending, None
                log.info("config.applied", calendars=len(self.current.settings.calendars))
            loaded = self.current
            self._cycle_started = time.monotonic()
            try:
                report = self._cycle(loaded)
            except Exception as exc:  # noqa: BLE001 - the daemon outlives any single cycle
                self._failed(str(exc), unexpected=not isinstance(exc, IdealweekError))
            else:
                self._finished(report, loaded)
            finally:
                self._cycle_started = None
                self.cycles += 1
        release_memory()
        self.notifier.watchdog()
        self.notifier.status(self.status_text())
        return report

    def _cycle(self, loaded: Loaded) -> CycleReport:
        s = loaded.settings
        store = Store(cfg.state_dir(s, self.app.config_path) / "state.sqlite3")
        try:
            engine = loaded.engine
            if engine is None:
                engine = Engine(s, store, loaded.providers, clock=self.clock, config_path=self.app.config_path)
                loaded.engine = engine
            engine.store = store
            engine.stop_requested = self._stopping
            self._engine = engine
            if self._stopping:  # a stop requested between the two lines above
                engine.stop_requested = True
            force, self._force_once = self._force_once, False
            report = engine.cycle(force=force)
            self.alerts.after_cycle(s, store, report)
            return report
        finally:
            self._engine = None
            store.close()

    def _finished(self, report: CycleReport, loaded: Loaded) -> None:
        summary = report.summary()
        self._last = summary
        self._pending_cycles = self._pending_cycles + 1 if report.ops else 0
        log.info("cycle", **summary, failed=sorted(report.failed) or None, notes=report.notes or None)
        if report.failed:
            name, err = sorted(report.failed.items())[0]
            more = f" (+{len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
            self._failed(f"{name}: {err}{more}", logged=True)
        else:
            if self._failures:
                log.info("cycle.recovered", after_failures=self._failures)
            self._failures = 0
            self._last_error = ""
        if not self._ready and not self._stopping and (report.calendars_read > 0 or not loaded.settings.calendars):
            self._ready = True
            log.info("daemon.ready")
            self._notify_ready()

    def _failed(self, error: str, *, unexpected: bool = False, logged: bool = False) -> None:
        self._failures += 1
        self._last_error = error
        interval = self.current.settings.sync_interval.total_seconds()
        delay = backoff(self._failures, interval)
        if not logged:
            log.error("cycle.failed", error=error, failures=self._failures, exc_info=unexpected)
        log.warning("cycle.retry", in_s=round(delay, 1), failures=self._failures)
        if not self._stopping:
            self._modify_job("sync", next_run_time=self.clock() + timedelta(seconds=delay))
        s = self.current.settings
        self.alerts.cycle_failed(
            s, error, self.clock(), lambda: Store(cfg.state_dir(s, self.app.config_path) / "state.sqlite3")
        )

    def daily_job(self) -> list[str]:
        """Finalise the statistics of weeks that have ended."""
        if self._stopping:
            return []
        with self._work:
            return finalise_ended_weeks(self.current.settings, self.app.config_path, self.clock())

    def digest_job(self) -> str | None:
        """The weekly digest at its time (and at start-up when one was due within a day): sent once per week."""
        if self._stopping:
            return None
        with self._work:
            return send_digest(self.current.settings, self.app.config_path, self.clock(), self.alerts)

    def keepalive_job(self) -> None:
        """``WATCHDOG=1`` between cycles; withheld while a cycle has been running longer than the watchdog."""
        wd = self.notifier.watchdog_interval
        started = self._cycle_started
        if wd is not None and started is not None and time.monotonic() - started > wd:
            log.error("watchdog.withheld", cycle_running_s=round(time.monotonic() - started, 1))
            return
        self.notifier.watchdog()

    # -- systemd status -------------------------------------------------------------
    def _notify_ready(self) -> None:
        if self._ready:
            self.notifier.ready(self.status_text())
        else:
            self.notifier.status(self.status_text())

    def status_text(self) -> str:
        """One line for ``systemctl status``: next cycle, open debt, last error."""
        zone = self.current.settings.zone
        parts: list[str] = []
        job = self.scheduler.get_job("sync") if self.scheduler.running else None
        nxt: datetime | None = getattr(job, "next_run_time", None)
        parts.append(f"next cycle {nxt.astimezone(zone):%H:%M:%S %Z}" if nxt else "no cycle scheduled")
        if self._last:
            last = self._last
            parts.append(f"open debt {last.get('debt_open_min', 0)} min, overdue {last.get('debt_overdue_min', 0)} min")
            parts.append(settle_text(int(str(last.get("operations", 0))), self._pending_cycles))
        parts.append(f"last error: {self._last_error or 'none'}")
        if self._config_problem:
            parts.append(self._config_problem)
        from idealweek.log import redact_text

        text = redact_text("; ".join(parts))  # every local user can read it in `systemctl status`
        return text if len(text) <= 240 else text[:237] + "..."
