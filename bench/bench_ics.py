"""Reading local calendars over a 14-day window (budgets: < 0.5 s and < 50 ms).

* a 1,000-event ICS file (Google-export style: VTIMEZONE, X-WR-TIMEZONE, alarms)
  with 100 weekly series started up to two years ago, read cold by a new provider;
* a vdir folder with one file holding one floating, open-ended daily series
  (khal's layout), read cold by a new provider.

Also reported: the same 1,000-event file read again after the window moved by a
day (the parse is kept, only the expansion is redone).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from idealweek.providers.ics import IcsProvider
from idealweek.providers.vdir import VdirProvider

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WINDOW = (NOW, NOW + timedelta(days=14))
BUDGET_CALENDAR_S = 0.5
BUDGET_VDIR_S = 0.05

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

DAYS = ["MO", "TU", "WE", "TH", "FR"]


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%S")


def big_calendar(n_events: int = 1000, n_series: int = 100, seed: int = 7) -> bytes:
    """``n_events`` VEVENTs, ``n_series`` of them weekly series, the rest single events over two years."""
    rnd = random.Random(seed)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Work",
        "X-WR-TIMEZONE:Europe/Berlin",
        *VTIMEZONE.splitlines(),
    ]
    base = datetime(2025, 1, 6, 0, 0)
    for i in range(n_events):
        series = i < n_series
        start = base + timedelta(days=rnd.randrange(700 if not series else 600), minutes=30 * rnd.randrange(16, 38))
        end = start + timedelta(minutes=30 * rnd.randint(1, 4))
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;TZID=Europe/Berlin:{_stamp(start)}",
            f"DTEND;TZID=Europe/Berlin:{_stamp(end)}",
            "DTSTAMP:20261101T120000Z",
            f"UID:{i:05d}-{rnd.getrandbits(64):016x}@google.com",
            "CREATED:20250101T120000Z",
            f"DESCRIPTION:Agenda item {i}\\, see the shared document for details.",
            "LAST-MODIFIED:20261101T120000Z",
            f"LOCATION:Room {rnd.randint(1, 40)}",
            "SEQUENCE:0",
            "STATUS:CONFIRMED",
            f"SUMMARY:{'Weekly sync' if series else 'Meeting'} {i}",
            "TRANSP:OPAQUE",
        ]
        if series:
            rule = f"RRULE:FREQ=WEEKLY;BYDAY={DAYS[start.weekday() % 5]}"
            if i % 4 == 0:
                rule += f";UNTIL={_stamp(start + timedelta(days=rnd.randrange(200, 900)))}Z"
            lines.append(rule)
            if i % 3 == 0:
                lines.append(f"EXDATE;TZID=Europe/Berlin:{_stamp(start + timedelta(days=7 * rnd.randrange(1, 40)))}")
        if i % 2 == 0:
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT10M", "END:VALARM"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


FLOATING_DAILY = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//khal//EN\r\nBEGIN:VEVENT\r\nUID:standup\r\n"
    b"SUMMARY:Stand-up\r\nDTSTART:20260105T093000\r\nDTEND:20260105T100000\r\nRRULE:FREQ=DAILY\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """(best, median) seconds of ``repeat`` runs, and the event count of the last run."""
    times: list[float] = []
    count = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), count


def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big = folder / "work.ics"
        big.write_bytes(big_calendar())
        vdir = folder / "khal"
        vdir.mkdir()
        (vdir / "standup.ics").write_bytes(FLOATING_DAILY)

        def read_big() -> int:
            return len(IcsProvider("work", path=big, zone=BERLIN, window=WINDOW).read_changes(None).upserts)

        def read_vdir() -> int:
            provider = VdirProvider("khal", vdir, writable=False, zone=BERLIN, window=WINDOW)
            return len(provider.read_changes(None).upserts)

        warm = IcsProvider("work", path=big, zone=BERLIN, window=WINDOW)
        warm.read_changes(None)
        shift = [0]

        def reread_moved() -> int:
            shift[0] += 1
            warm.window = (WINDOW[0] + timedelta(days=shift[0]), WINDOW[1] + timedelta(days=shift[0]))
            return len(warm.read_changes(None).upserts)

        big_best, big_median, big_count = timed(read_big, 5)
        vdir_best, vdir_median, vdir_count = timed(read_vdir, 21)
        moved_best, moved_median, _ = timed(reread_moved, 5)
        size = big.stat().st_size
    result: dict[str, object] = {
        "calendar_1000_events_100_weekly_14d": {
            "seconds_best_of_5": round(big_best, 3),
            "seconds_median_of_5": round(big_median, 3),
            "instances": big_count,
            "file_kib": size // 1024,
            "budget_s": BUDGET_CALENDAR_S,
            "within_budget": big_best < BUDGET_CALENDAR_S,
        },
        "calendar_window_moved_reparse_free": {
            "seconds_best_of_5": round(moved_best, 3),
            "seconds_median_of_5": round(moved_median, 3),
        },
        "vdir_one_floating_daily_14d": {
            "ms_best_of_21": round(vdir_best * 1000, 2),
            "ms_median_of_21": round(vdir_median * 1000, 2),
            "instances": vdir_count,
            "budget_ms": BUDGET_VDIR_S * 1000,
            "within_budget": vdir_best < BUDGET_VDIR_S,
        },
    }
    print(json.dumps({"ics": result}))
    return result


if __name__ == "__main__":
    main()
