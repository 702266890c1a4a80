"""The long-running service: sync cycles on a schedule.

A plain loop for now: a cycle at start-up and then every ``sync_interval``;
a failing cycle is logged and retried on the next tick.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import structlog

from idealweek.errors import IdealweekError

if TYPE_CHECKING:
    from idealweek.cli import Context

log = structlog.get_logger(__name__)


def run_forever(ctx: Context) -> int:
    store = ctx.open_store()
    engine = ctx.engine(store)
    stop = threading.Event()

    def on_term(_signo: int, _frame: Any) -> None:
        engine.stop_requested = True
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    interval = ctx.settings.sync_interval.total_seconds()
    try:
        while not stop.is_set():
            try:
                report = engine.cycle()
                log.info("cycle", **report.summary())
            except IdealweekError as exc:
                log.error("cycle.failed", error=str(exc))
            stop.wait(interval)
    finally:
        store.close()
    return 0
