"""Give a scratch copy of the demo a few weeks of history, for `idealweek review` and the README pictures.

    python demo/seed_history.py DIR [--weeks 6]

Copies the demo calendars and config into DIR, adds a few one-off late
meetings to the past weeks (so the weeks differ), then runs real sync cycles
with an injected clock: one every evening from WEEKS weeks ago until now,
finalising ended weeks as the daemon's daily job does.
Along the way the "user" deletes one make-up block (waived debt).  The
repository's demo files are never touched.

Two versions of the ideal week, for ``idealweek review --compare``: the
first half of the weeks run the demo config as it is; from the middle week on
the weekday family evenings are ``hard`` and the config names the experiment
``evenings-hard``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent

EXTRA = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//idealweek demo//seed//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:{start}
DTEND;TZID=Europe/Berlin:{end}
SUMMARY:{title}
END:VEVENT
END:VCALENDAR
"""

# (weeks before this week, weekday, start, end, title): late meetings that cut into family time
LATE = [
    (5, 2, "17:00", "18:30", "Customer escalation"),
    (5, 3, "18:00", "19:30", "Release go/no-go"),
    (4, 0, "07:00", "08:00", "Early vendor call"),
    (3, 1, "17:30", "19:00", "Quarterly planning"),
    (3, 3, "07:00", "08:00", "Incident review"),
    (3, 4, "16:30", "18:30", "Offsite prep"),
    (2, 4, "17:00", "18:00", "Hiring debrief"),
    (1, 2, "18:00", "19:00", "Partner call (US)"),
]


def add_late_meetings(run: Path, monday: date) -> None:
    work = run / "calendars" / "work"
    for n, (back, weekday, start, end, title) in enumerate(LATE):
        day = monday - timedelta(days=7 * back - weekday)
        s = datetime.combine(day, time.fromisoformat(start))
        e = datetime.combine(day, time.fromisoformat(end))
        text = EXTRA.format(uid=f"seed-{n}@demo", start=f"{s:%Y%m%dT%H%M%S}", end=f"{e:%Y%m%dT%H%M%S}", title=title)
        (work / f"seed-{n}.ics").write_text(text.replace("\n", "\r\n"), encoding="utf-8")


EXPERIMENT = "evenings-hard"


def second_version(text: str) -> str:
    """The demo config with the weekday family evenings ``hard``, named ``evenings-hard``."""
    rule = 'days = "mon-fri"\nstart = "17:00"\nend = "19:00"\ncategory = "family"\npolicy = "catch-up"'
    assert rule in text, "demo/config.toml changed: update second_version()"
    text = text.replace(rule, rule.replace('"catch-up"', '"hard"'), 1)
    return text.replace("\n[catch_up]", f'experiment = "{EXPERIMENT}"\n\n[catch_up]', 1)


def seed(run: Path, weeks: int = 6, now: datetime | None = None) -> int:
    """Prepare ``run`` and record ``weeks`` weeks of history; returns the number of cycles run."""
    from idealweek import config as cfg
    from idealweek import log
    from idealweek.alerts.hook import AlertHook
    from idealweek.engine import Engine, system_clock
    from idealweek.providers.factory import make_provider
    from idealweek.store import Store
    from idealweek.week import iso_week_bounds, local_instant
    from idealweek.weekstats import finalise_weeks

    log.setup("warning", "console")

    now = now or system_clock()
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(HERE / "calendars", run / "calendars")
    shutil.copy(HERE / "config.toml", run / "config.toml")
    path = run / "config.toml"
    settings = cfg.load(path)
    zone = settings.zone
    start, _ = iso_week_bounds(now, zone)
    monday = start.astimezone(zone).date()
    add_late_meetings(run, monday)
    store = Store(cfg.state_dir(settings, path) / "state.sqlite3")
    clock_at = [now]
    providers = {name: make_provider(settings, path, name, None) for name in settings.calendars}
    for prov in providers.values():
        if hasattr(prov, "clock"):  # local calendars read a window around their clock's now
            prov.clock = lambda: clock_at[0]
    engine = Engine(settings, store, providers, clock=lambda: clock_at[0], config_path=path)
    cycles = 0
    deleted = False
    day = monday - timedelta(days=7 * weeks)
    switch = monday - timedelta(days=7 * (weeks // 2))
    hook = AlertHook(path)  # records the version of the ideal week, as writing cycles do
    try:
        while True:
            t = local_instant(day, time(21, 30), zone)
            if t > now:
                break
            if day == switch:
                path.write_text(second_version(path.read_text(encoding="utf-8")), encoding="utf-8")
                settings = cfg.load(path)
                engine.settings = settings
            clock_at[0] = t
            finalise_weeks(store, zone, t - timedelta(hours=21))  # what the daemon's daily job does at 00:05
            hook.after_cycle(settings, store, engine.cycle())
            cycles += 1
            if not deleted and day >= monday - timedelta(days=7 * 3):
                deleted = _delete_one_makeup(run, t)
            day += timedelta(days=1)
        clock_at[0] = now
        hook.after_cycle(settings, store, engine.cycle())
        cycles += 1
    finally:
        store.close()
    return cycles


def _delete_one_makeup(run: Path, after: datetime) -> bool:
    """Play the user who deletes an upcoming make-up block (the debt becomes waived)."""
    import icalendar

    for f in sorted((run / "calendars" / "home").glob("*.ics")):
        cal = icalendar.Calendar.from_ical(f.read_bytes())
        for ev in cal.walk("VEVENT"):
            start = ev.decoded("DTSTART")
            if str(ev.get("SUMMARY", "")).startswith("Make-up") and start > after + timedelta(days=1):
                f.unlink()
                return True
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--weeks", type=int, default=6)
    ap.add_argument("--now", help="ISO timestamp to use as now (default: the real clock)")
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC) if args.now else None
    n = seed(args.dir.resolve(), args.weeks, now)
    print(f"seeded {args.weeks} weeks of history in {args.dir} ({n} cycles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
