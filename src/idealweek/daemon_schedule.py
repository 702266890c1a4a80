"""When the daemon runs its jobs: the scheduler and its triggers, the backoff after failed cycles, the jitter.

The sync job runs every ``sync_interval`` at the latest (a little jitter taken out of it), the daily
job just after midnight local time, the digest on its day and time; failed cycles are retried
sooner than the interval at first, then less often.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from idealweek import config as cfg

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

DAILY_AT = (0, 5)
"""Local time of the daily job (hour, minute): just after a week ends on Sunday night."""


def backoff(failures: int, interval: float, rng: random.Random | None = None) -> float:
    """Seconds until the next attempt after ``failures`` failed cycles in a row (≥ 1).

    Starts at ``min(interval, 10 s)`` and doubles up to ``max(interval, 10 min)``, with ±10 % jitter.
    """
    base = min(interval, 10.0)
    cap = max(interval, 600.0)
    delay: float = min(base * 2.0 ** min(failures - 1, 30), cap)
    factor: float = (rng or random).uniform(0.9, 1.1)
    return delay * factor


def jitter_for(interval: float) -> float:
    """Jitter of each regular run: a tenth of the interval, at most 5 s (taken out of the interval, not added)."""
    return min(interval / 10, 5.0)


def make_scheduler() -> BackgroundScheduler:
    """The scheduler: jobs that touch the state database one at a time, the watchdog on its own thread."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(1), "watchdog": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )


def sync_trigger(settings: cfg.Settings) -> IntervalTrigger:
    from apscheduler.triggers.interval import IntervalTrigger

    seconds = settings.sync_interval.total_seconds()
    jitter = jitter_for(seconds)
    # Runs fall at k·(interval − jitter) plus up to the jitter: two runs are never more than one
    # interval apart, so a change is acted on within the interval (SPEC §8), not interval + jitter.
    return IntervalTrigger(seconds=seconds - jitter, jitter=jitter, timezone="UTC")


def daily_trigger(settings: cfg.Settings) -> CronTrigger:
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(hour=DAILY_AT[0], minute=DAILY_AT[1], timezone=settings.zone)


def digest_trigger(settings: cfg.Settings) -> CronTrigger:
    from apscheduler.triggers.cron import CronTrigger

    a = settings.alerts
    return CronTrigger(
        day_of_week=a.digest_day, hour=a.digest_time.hour, minute=a.digest_time.minute, timezone=settings.zone
    )
