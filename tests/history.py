"""A six-week history made by real cycles (no tests here): the digest and compare tests read it.

Weeks 2026-W45 … W50 of the test scenario (family Mon–Fri 17:00–19:00 catch-up,
run Tue/Thu 07:00–08:00 catch-up, school pick-up Wed 15:00–15:30 hard: 750 min a
week; focus 4 h).  Meetings that cut into protected time:

| week | meeting                | what it takes                           |
|------|------------------------|-----------------------------------------|
| W45  | Mon 17:30–18:30        | family 60                               |
| W46  | Tue 18:00–19:00        | family (Tue) 60                         |
| W47  | Tue 17:00–17:30, Wed 15:00–15:30 | family (Tue) 30, pick-up 30 (violation) |
| W48  | Tue 18:30–19:00        | family (Tue) 30                         |
| W49  | Mon 10:00–11:00        | nothing protected                       |
| W50  | Tue 17:00–18:00, Thu 07:00–07:20 | family (Tue) 60, run 30 (rounded up)    |

Each day at 00:05 the ended weeks are finalised (the daemon's daily job), then a
writing cycle runs at noon and the alert hook records what writing cycles record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from idealweek.alerts.hook import AlertHook
from idealweek.config import Settings
from idealweek.engine import Engine
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.secrets import MemoryStore
from idealweek.store import Store
from idealweek.weekstats import finalise_weeks
from tests.scenario import meeting

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 2, 0, 0, tzinfo=BERLIN)
"""Monday of 2026-W45."""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return (MONDAY + timedelta(days=day)).replace(hour=hour, minute=minute)


MEETINGS = [
    (0, 17, 30, 60),
    (8, 18, 0, 60),
    (15, 17, 0, 30),
    (16, 15, 0, 30),
    (22, 18, 30, 30),
    (28, 10, 0, 60),
    (36, 17, 0, 60),
    (38, 7, 0, 20),
]


def run_history(
    tmp: Path, settings_for: Callable[[int], Settings], days: int, hook: AlertHook | None = None
) -> tuple[Store, datetime]:
    """Cycles at noon on days 0 … days-1 under ``settings_for(day)``; returns the open store and the last now."""
    work, home = MemoryCalendar(), MemoryCalendar()
    for n, (day, hour, minute, length) in enumerate(MEETINGS):
        work.user_put(meeting(at(day, hour, minute), length, uid=f"h{n}"))
    store = Store(tmp / "state.sqlite3")
    clock = [at(0, 12)]
    providers = {"work": MemoryProvider("work", work), "home": MemoryProvider("home", home)}
    engine = Engine(settings_for(0), store, providers, clock=lambda: clock[0])
    hook = hook or AlertHook(tmp / "config.toml", secrets=MemoryStore())
    for day in range(days):
        finalise_weeks(store, BERLIN, at(day, 0, 5))
        settings = settings_for(day)
        engine.settings = settings
        clock[0] = at(day, 12)
        report = engine.cycle()
        assert report.ok, report.failed
        hook.after_cycle(settings, store, report)
    return store, clock[0]
