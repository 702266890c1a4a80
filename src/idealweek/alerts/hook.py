"""What writing cycles do for alerts, the digest and experiments, and the sent-log that keeps alerts single.

Only writing cycles (``run --once`` and the daemon) call in here: the looks
(``status``, ``plan``, ``week``, ``review``, ``doctor``) never send an alert or
record anything.  What is recorded here is written under the state directory's
lock, like the cycle itself (one writer at a time).

Delivery, per alert and channel (the sent-log ``alerts_sent``):

* an alert already ``sent`` (or ``sending``: a crash mid-send) on a channel is
  never sent there again: at most once per subject;
* the claim (``sending``) is committed before the send, so two processes never
  both send it;
* a failed send is retried by later cycles, 5 minutes apart, at most 5 times;
* in quiet hours an alert is held (not claimed): the first cycle after them
  sends it if its condition still holds; sign-in failures are not held.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from idealweek.errors import IdealweekError

# The channels and triggers are imported where an alert is due: a cycle with no [alerts] URLs does not load
# them (issue 15: start-up of `run --once`).
if TYPE_CHECKING:
    from idealweek.alerts.triggers import Alert
    from idealweek.config import Settings
    from idealweek.engine import CycleReport
    from idealweek.secrets import SecretStore
    from idealweek.store import Store

log = structlog.get_logger(__name__)

RETRY_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 5


class Delivery:
    """Sends alerts through the configured channels, each at most once per subject (see the module docstring)."""

    def __init__(self, settings: Settings, config_path: Path, secrets: SecretStore | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self._secrets = secrets
        self._opened = secrets is not None

    def secrets(self) -> SecretStore | None:
        from idealweek.alerts import channels as ch

        if not self._opened:
            self._opened = True
            if ch.needs_secrets(self.settings) or self.settings.alerts.google_testing:
                self._secrets = ch.open_secrets(self.settings, self.config_path)
        return self._secrets

    def deliver(self, store: Store, alerts: Sequence[Alert], now: datetime, *, ignore_quiet: bool = False) -> list[str]:
        """Send what is due; returns the subjects sent to at least one channel this time."""
        from idealweek.alerts import channels as ch
        from idealweek.alerts.triggers import AlertKind, in_quiet_hours

        chans = ch.channels(self.settings)
        if not chans or not alerts:
            return []
        quiet = not ignore_quiet and in_quiet_hours(self.settings.alerts.quiet_hours, now, self.settings.zone)
        sent: list[str] = []
        for alert in alerts:
            if quiet and not alert.urgent:
                log.info("alert.held", kind=alert.kind.value, subject=alert.subject, why="quiet hours")
                continue
            for chan in chans:
                if not self._claim(store, alert, chan.id, now):
                    continue
                try:
                    url = ch.resolve(chan, self.secrets())
                except IdealweekError as exc:
                    log.error("alert.secret_missing", channel=chan.describe(), error=str(exc))
                    ok = False
                else:
                    ok = ch.send(chan, url, alert.title, alert.body, warning=alert.kind != AlertKind.DIGEST)
                self._settle(store, alert, chan.id, ok, now)
                if ok:
                    log.info("alert.sent", kind=alert.kind.value, subject=alert.subject, channel=chan.describe())
                    if alert.subject not in sent:
                        sent.append(alert.subject)
        return sent

    @staticmethod
    def _due(prev: tuple[str, int, datetime] | None, now: datetime) -> bool:
        if prev is None:
            return True
        state, attempts, at = prev
        return state == "failed" and attempts < MAX_ATTEMPTS and now - at >= RETRY_AFTER

    def _claim(self, store: Store, alert: Alert, channel: str, now: datetime) -> bool:
        if not self._due(store.alert_state(alert.subject, channel), now):
            return False  # the common case (sent long ago) costs one read, no write transaction
        with store.transaction():
            prev = store.alert_state(alert.subject, channel)  # again, under the lock: another process may have sent it
            if not self._due(prev, now):
                return False
            store.set_alert_state(
                alert.subject, channel, alert.kind.value, "sending", (prev[1] if prev else 0) + 1, now
            )
        return True

    def _settle(self, store: Store, alert: Alert, channel: str, ok: bool, now: datetime) -> None:
        with store.transaction():
            prev = store.alert_state(alert.subject, channel)
            attempts = prev[1] if prev else 1
            store.set_alert_state(alert.subject, channel, alert.kind.value, "sent" if ok else "failed", attempts, now)


def _fingerprint(token_json: str) -> str | None:
    """A short hash of a stored Google sign-in's refresh token (the token itself is never stored here)."""
    try:
        refresh = json.loads(token_json).get("refresh_token")
    except (ValueError, AttributeError):
        return None
    if not refresh:
        return None
    return hashlib.sha256(str(refresh).encode("utf-8")).hexdigest()[:12]


class AlertHook:
    """Kept by the daemon (or made for one ``run --once``): the failing streak, the channels' secrets."""

    def __init__(self, config_path: Path, secrets: SecretStore | None = None) -> None:
        self.config_path = config_path
        self.failing_since: datetime | None = None
        self._given_secrets = secrets
        self._delivery: Delivery | None = None

    def delivery(self, settings: Settings) -> Delivery:
        if self._delivery is None or self._delivery.settings is not settings:
            self._delivery = Delivery(settings, self.config_path, self._given_secrets)
        return self._delivery

    # -- after each writing cycle --------------------------------------------------
    def after_cycle(self, settings: Settings, store: Store, report: CycleReport) -> list[str]:
        """Record the version and losses of the week, then send the alerts the cycle calls for.

        Never raises: a problem here is logged and the cycle's outcome stands.
        """
        from idealweek.lock import state_lock

        now = report.at
        if report.dry_run:
            return []
        try:
            with state_lock(store.path.parent):
                return self._after_cycle(settings, store, report, now)
        except Exception as exc:  # noqa: BLE001 - alerts and records must never break a cycle
            log.error("alerts.after_cycle_failed", error=f"{type(exc).__name__}: {exc}")
            return []

    def _after_cycle(self, settings: Settings, store: Store, report: CycleReport, now: datetime) -> list[str]:
        from idealweek.records import record_losses, record_version

        if report.ok:
            self.failing_since = None
        record_version(store, settings, now)
        if report.plan is not None:
            record_losses(store, settings, report.plan, now)
        a = settings.alerts
        if not a.urls:
            return []
        from idealweek.alerts.triggers import debt_alerts, plan_facts, violation_alerts

        alerts: list[Alert] = []
        if report.plan is not None:
            hits, late = plan_facts(report.plan, now)
            if a.violations:
                alerts += violation_alerts(settings, hits)
            if a.debt:
                alerts += debt_alerts(settings, late)
        if a.signin:
            alerts += self._signin_alerts(settings, store, report, now)
        return self.delivery(settings).deliver(store, alerts, now)

    def _signin_alerts(self, settings: Settings, store: Store, report: CycleReport, now: datetime) -> list[Alert]:
        from idealweek.alerts.triggers import accounts_of, signin_expiring_alert, signin_failed_alert

        out: list[Alert] = []
        failed = accounts_of(settings, report.auth_failed)
        for account, cals in failed.items():
            out.append(signin_failed_alert(settings, account, report.auth_failed[cals[0]]))
        with store.transaction():
            for account, cals in accounts_of(settings, settings.calendars).items():
                if not any(c in report.failed for c in cals):
                    store.forget_alerts(f"signin-failed:{account}")
        testing = [acct for acct in settings.alerts.google_testing if acct not in failed]
        if testing:
            from idealweek.secrets import secret_name

            secrets = self.delivery(settings).secrets()
            for account in testing:
                text = secrets.get(secret_name(account)) if secrets is not None else None
                fp = _fingerprint(text) if text else None
                if fp is None:
                    continue
                with store.transaction():
                    first = store.signin_first_seen(account, fp, now)
                alert = signin_expiring_alert(settings, account, fp, first, now)
                if alert is not None:
                    out.append(alert)
        return out

    # -- the daemon's failing streak -------------------------------------------------
    def cycle_failed(self, settings: Settings, error: str, now: datetime, open_store: Callable[[], Store]) -> list[str]:
        """A cycle failed: alert once the streak has lasted ``daemon_failing_after``.  Never raises."""
        if self.failing_since is None:
            self.failing_since = now
        a = settings.alerts
        if not (a.urls and a.daemon_failing):
            return []
        from idealweek.alerts.triggers import daemon_failing_alert

        alert = daemon_failing_alert(settings, self.failing_since, now, error)
        if alert is None:
            return []
        from idealweek.lock import state_lock

        try:
            store = open_store()
            try:
                with state_lock(store.path.parent):
                    return self.delivery(settings).deliver(store, [alert], now)
            finally:
                store.close()
        except Exception as exc:  # noqa: BLE001 - the state may be what fails: say so in the log
            log.error("alerts.daemon_failing_not_sent", error=f"{type(exc).__name__}: {exc}")
            return []

    # -- the weekly digest ---------------------------------------------------------
    def digest_job(self, settings: Settings, store: Store, now: datetime, state_dir: Path) -> str | None:
        """Send the latest digest that is due (within a day of its time) once; returns its week, or None."""
        from idealweek.digest import last_digest_time

        if not settings.alerts.digest:
            return None
        due = last_digest_time(settings, now)
        if now - due > timedelta(days=1):
            return None
        from idealweek.lock import state_lock

        with state_lock(store.path.parent):
            return self.send_digest(settings, store, due, now, state_dir)

    def send_digest(self, settings: Settings, store: Store, due: datetime, now: datetime, state_dir: Path) -> str:
        """Write ``digest.html`` to the state directory and send the digest that was due at ``due``.

        The digest's time is the user's choice: quiet hours do not hold it.
        """
        from idealweek import digest as dg
        from idealweek.alerts.triggers import Alert, AlertKind

        d = dg.build_digest(store, settings, due)
        write_private(state_dir / "digest.html", dg.render_html(d))
        alert = Alert(f"digest:{d.week}", AlertKind.DIGEST, dg.title(d), dg.render_text(d))
        self.delivery(settings).deliver(store, [alert], now, ignore_quiet=True)
        log.info("digest.done", week=d.week, page=str(state_dir / "digest.html"))
        return d.week


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically with mode 600 (the page holds the user's figures)."""
    from idealweek.fsutil import atomic_write

    atomic_write(path, text)
