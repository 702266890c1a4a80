"""The daemon's jobs beside the sync cycle: finalising the weeks that ended, the weekly digest.

Each opens the state database for itself and closes it again (the daemon never shares a SQLite
connection between jobs), and a failure is logged and tried again at the job's next time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from idealweek import config as cfg
from idealweek.lock import default_wait, state_lock
from idealweek.store import Store

if TYPE_CHECKING:
    from idealweek.alerts.hook import AlertHook

log = structlog.get_logger("idealweek.daemon")


def finalise_ended_weeks(s: cfg.Settings, config_path: Path, now: datetime) -> list[str]:
    """Finalise the statistics of weeks that have ended (under the state lock: it writes); [] on failure."""
    from idealweek.weekstats import finalise_weeks

    try:
        folder = cfg.state_dir(s, config_path)
        with state_lock(folder, default_wait(s.safety.lock_wait.total_seconds())):
            store = Store(folder / "state.sqlite3")
            try:
                done = finalise_weeks(store, s.zone, now)
            finally:
                store.close()
    except Exception as exc:  # noqa: BLE001 - tried again tomorrow
        log.error("weeks.finalise_failed", error=str(exc))
        return []
    if done:
        log.info("weeks.finalised", weeks=done)
    return done


def send_digest(s: cfg.Settings, config_path: Path, now: datetime, alerts: AlertHook) -> str | None:
    """The weekly digest when it is due (the week it was sent for), else None; None on failure."""
    try:
        folder = cfg.state_dir(s, config_path)
        store = Store(folder / "state.sqlite3")
        try:
            return alerts.digest_job(s, store, now, folder)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - tried again at the next digest time
        log.error("digest.failed", error=f"{type(exc).__name__}: {exc}")
        return None
