"""Calendar files as they are in the wild (issue 12): floating series, odd zone names, exact durations, refusals.

Expected instances are computed here independently of the reader: with
``dateutil.rrule`` and ``zoneinfo``, or by hand in the comments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import DAILY, WEEKLY, rrule
from structlog.testing import capture_logs

from idealweek.model import Event, utc
from idealweek.providers.ics import MAX_OCCURRENCES, IcsProvider, Window, parse_ics
from idealweek.providers.vdir import VdirProvider

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
YEAR_2026: Window = (utc(2026, 1, 1), utc(2027, 1, 1))


def calendar(*events: str, header: str = "") -> bytes:
    """A VCALENDAR around the given VEVENT bodies (lines joined by CRLF)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    lines += [ln for ln in header.splitlines() if ln]
    for body in events:
        lines += ["BEGIN:VEVENT", *[ln for ln in body.splitlines() if ln.strip()], "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def read(data: bytes, window: Window = YEAR_2026, zone: ZoneInfo = BERLIN, source: str = "wild.ics") -> list[Event]:
    return sorted(parse_ics(data, source=source, calendar="c", zone=zone, window=window), key=lambda e: e.start)


def in_window(starts: list[datetime], window: Window, length: timedelta) -> list[datetime]:
    """Occurrence starts (aware) whose event touches the window, in UTC."""
    lo, hi = window
    return sorted(s.astimezone(UTC) for s in starts if s < hi and s + length > lo)


# --------------------------------------------------------------------------- 1. floating open-ended series

FLOATING_DAILY = """
UID:float-daily
SUMMARY:Stand-up
DTSTART:20260105T093000
DTEND:20260105T100000
RRULE:FREQ=DAILY
"""


def expected_floating_daily(window: Window, zone: ZoneInfo) -> list[datetime]:
    naive = rrule(DAILY, dtstart=datetime(2026, 1, 5, 9, 30), until=datetime(2027, 1, 3))
    return in_window([d.replace(tzinfo=zone) for d in naive], window, timedelta(minutes=30))


def test_floating_open_ended_daily_series_is_expanded_over_the_window() -> None:
    """A floating DAILY series without end and without X-WR-TIMEZONE gives every 2026 instance (issue 12.1)."""
    with capture_logs() as logs:
        events = read(calendar(FLOATING_DAILY))
    expected = expected_floating_daily(YEAR_2026, BERLIN)
    assert len(expected) == 361  # 5 January to 31 December
    assert [e.start for e in events] == expected
    assert all(e.end - e.start == timedelta(minutes=30) for e in events)
    assert not [entry for entry in logs if entry["log_level"] == "warning"]


def test_floating_series_in_a_one_event_vdir_file_over_a_planning_window(tmp_path: Path) -> None:
    """khal's layout (one floating daily series per file) gives its 14 instances over a 14-day window."""
    (tmp_path / "float-daily.ics").write_bytes(calendar(FLOATING_DAILY))
    window: Window = (utc(2026, 3, 20), utc(2026, 4, 3))  # across the switch to summer time
    provider = VdirProvider("v", tmp_path, writable=False, zone=BERLIN, window=window)
    events = sorted(provider.read_changes(None).upserts, key=lambda e: e.start)
    assert [e.start for e in events] == expected_floating_daily(window, BERLIN)
    assert len(events) == 14
    assert events[0].start == utc(2026, 3, 20, 8, 30) and events[-1].start == utc(2026, 4, 2, 7, 30)


# --------------------------------------------------------------------------- 2. X-WR-TIMEZONE in the wild

WR_EVENTS = (
    "UID:wr-float\nDTSTART:20260304T090000\nDTEND:20260304T100000\n",
    "UID:wr-utc\nDTSTART:20260305T120000Z\nDTEND:20260305T130000Z\n",
    "UID:wr-weekly\nDTSTART:20260302T080000\nDTEND:20260302T083000\nRRULE:FREQ=WEEKLY;COUNT=3\n",
)


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("W. Europe Standard Time", BERLIN),
        ('"Europe/Berlin"', BERLIN),
        ("Europe/Berlin ", BERLIN),
        ("Eastern Standard Time", NEW_YORK),
        ("", NEW_YORK),  # empty: the configured zone
        ("Mars/Olympus_Mons", NEW_YORK),  # unknown: the configured zone
    ],
)
def test_bad_x_wr_timezone_does_not_drop_the_calendar(value: str, zone: ZoneInfo) -> None:
    """A Windows, quoted, padded, empty or unknown X-WR-TIMEZONE is normalised or dropped; no event is lost (12.2)."""
    data = calendar(*WR_EVENTS, header=f"X-WR-TIMEZONE:{value}")
    with capture_logs():
        events = read(data, zone=NEW_YORK)
    by = {e.uid: e for e in events}
    assert by["wr-float"].start == datetime(2026, 3, 4, 9, tzinfo=zone).astimezone(UTC)
    assert by["wr-utc"].start == utc(2026, 3, 5, 12)
    weekly = sorted(e.start for e in events if e.series == "wr-weekly")
    assert weekly == [
        d.replace(tzinfo=zone).astimezone(UTC) for d in rrule(WEEKLY, dtstart=datetime(2026, 3, 2, 8), count=3)
    ]


def test_unknown_x_wr_timezone_is_named_in_a_warning() -> None:
    """An X-WR-TIMEZONE nobody knows is reported once, naming the file."""
    with capture_logs() as logs:
        read(calendar(WR_EVENTS[0], header="X-WR-TIMEZONE:Mars/Olympus_Mons"), source="mars.ics")
    [entry] = [e for e in logs if e["event"] == "ics.zone_unknown"]
    assert entry["source"] == "mars.ics" and entry["x_wr_timezone"] == "Mars/Olympus_Mons"


# --------------------------------------------------------------------------- 3. Exchange zone names


def test_exchange_tzone_utc_is_utc() -> None:
    """TZID="tzone://Microsoft/Utc" (Outlook/Exchange exports) is UTC, not the configured zone (12.3)."""
    data = calendar(
        'UID:ex-1\nDTSTART;TZID="tzone://Microsoft/Utc":20260105T093000\nDTEND;TZID="tzone://Microsoft/Utc":20260105T100000',
        "UID:ex-2\nDTSTART;TZID=tzone://Microsoft/Utc:20260106T093000\nDURATION:PT1H",
        'UID:ex-3\nDTSTART;TZID="tzone://Microsoft/Utc":20260302T093000\nDTEND;TZID="tzone://Microsoft/Utc":20260302T100000\n'
        "RRULE:FREQ=WEEKLY;COUNT=6",
        'UID:ex-4\nDTSTART;TZID="tzone://Microsoft/W. Europe Standard Time":20260107T093000\nDURATION:PT1H',
    )
    events = read(data)
    by = {e.uid: e for e in events}
    assert (by["ex-1"].start, by["ex-1"].end) == (utc(2026, 1, 5, 9, 30), utc(2026, 1, 5, 10))
    assert by["ex-2"].start == utc(2026, 1, 6, 9, 30)
    weekly = sorted(e.start for e in events if e.series == "ex-3")
    assert weekly == list(rrule(WEEKLY, dtstart=utc(2026, 3, 2, 9, 30), count=6))  # 09:30 UTC across the DST change
    assert by["ex-4"].start == datetime(2026, 1, 7, 9, 30, tzinfo=BERLIN).astimezone(UTC)


# --------------------------------------------------------------------------- 4. exact durations


def test_exact_duration_across_the_dst_change() -> None:
    """DURATION:PT2H from 01:30 on the night clocks go forward lasts two real hours (RFC 5545 §3.3.6; 12.4)."""
    [ev] = read(calendar("UID:dur-1\nDTSTART;TZID=Europe/Berlin:20260329T013000\nDURATION:PT2H"))
    assert ev.start == utc(2026, 3, 29, 0, 30)  # 01:30 CET
    assert ev.end == utc(2026, 3, 29, 2, 30)  # two hours later: 04:30 CEST, not 03:30


def test_exact_duration_in_a_series_and_a_moved_occurrence() -> None:
    """Every occurrence of a series ends exactly DURATION after its start; a day-long DURATION stays nominal."""
    data = calendar(
        "UID:dur-s\nDTSTART;TZID=Europe/Berlin:20260327T013000\nDURATION:PT2H\nRRULE:FREQ=DAILY;COUNT=4",
        "UID:dur-s\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T013000\nDTSTART;TZID=Europe/Berlin:20260330T020000\n"
        "DURATION:PT90M",
        "UID:dur-d\nDTSTART;TZID=Europe/Berlin:20260328T120000\nDURATION:P1D",
        "UID:dur-e\nDTSTART;TZID=Europe/Berlin:20261024T233000\nDURATION:PT3H",
    )
    events = read(data)
    series = sorted((e for e in events if e.series == "dur-s"), key=lambda e: e.start)
    starts = [d.replace(tzinfo=BERLIN) for d in rrule(DAILY, dtstart=datetime(2026, 3, 27, 1, 30), count=4)]
    starts[3] = datetime(2026, 3, 30, 2, 0, tzinfo=BERLIN)  # the moved occurrence
    assert [e.start for e in series] == [s.astimezone(UTC) for s in starts]
    assert [e.end - e.start for e in series] == [timedelta(hours=2)] * 3 + [timedelta(minutes=90)]
    [day] = [e for e in events if e.uid == "dur-d"]
    assert day.end == datetime(2026, 3, 29, 12, tzinfo=BERLIN).astimezone(UTC)  # P1D is nominal: 23 real hours
    [autumn] = [e for e in events if e.uid == "dur-e"]
    assert autumn.end - autumn.start == timedelta(hours=3)  # across the switch back to winter time


# --------------------------------------------------------------------------- 5. the window bounds the work


def test_old_open_ended_series_costs_only_the_window() -> None:
    """A daily series started in 1990 is expanded over the window only (14 instances in 14 days)."""
    data = calendar(
        "UID:old\nDTSTART;TZID=Europe/Berlin:19900101T070000\nDTEND;TZID=Europe/Berlin:19900101T073000\nRRULE:FREQ=DAILY"
    )
    window: Window = (utc(2026, 6, 1), utc(2026, 6, 15))
    events = read(data, window=window)
    assert [e.start for e in events] == [datetime(2026, 6, d, 7, tzinfo=BERLIN).astimezone(UTC) for d in range(1, 15)]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_vdir_file_is_parsed_only_when_it_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A moving window expands again without parsing again; a changed file is parsed once more (12.5)."""
    import idealweek.providers.vdir as vdir

    parsed: list[str] = []
    real = vdir.read_calendars

    def counting(data: bytes, source: str) -> list[object]:
        parsed.append(Path(source).name)
        return list(real(data, source))

    monkeypatch.setattr(vdir, "read_calendars", counting)
    path = tmp_path / "float-daily.ics"
    path.write_bytes(calendar(FLOATING_DAILY))
    (tmp_path / "single.ics").write_bytes(calendar("UID:single\nDTSTART:20260320T120000Z\nDTEND:20260320T130000Z"))
    clock = Clock(utc(2026, 3, 10, 12))
    provider = VdirProvider("v", tmp_path, writable=False, zone=BERLIN, clock=clock)
    first = provider.read_changes(None)
    assert sorted(parsed) == ["float-daily.ics", "single.ics"]
    clock.now += timedelta(days=1)  # the window moves by a day
    second = provider.read_changes(first.token)
    assert sorted(parsed) == ["float-daily.ics", "single.ics"]  # nothing parsed again
    last = max(e.start for e in second.upserts if e.series == "float-daily")
    assert last == max(e.start for e in first.upserts if e.series == "float-daily") + timedelta(days=1)
    path.write_bytes(calendar(FLOATING_DAILY.replace("Stand-up", "Daily")))
    provider.read_changes(second.token)
    assert sorted(parsed) == ["float-daily.ics", "float-daily.ics", "single.ics"]


def test_ics_file_moving_window_reuses_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ICS provider parses again only when the text near the window changed: a moving window alone does not."""
    import idealweek.providers.ics.feed as feed

    calls: list[int] = []
    real = feed.parse_calendars

    def counting(text: str, source: str) -> list[object]:
        calls.append(text.count("BEGIN:VEVENT"))
        return list(real(text, source))

    monkeypatch.setattr(feed, "parse_calendars", counting)
    path = tmp_path / "f.ics"
    later = "UID:later\nDTSTART:20260501T120000Z\nDTEND:20260501T130000Z"
    path.write_bytes(calendar(FLOATING_DAILY, later))
    clock = Clock(utc(2026, 3, 10, 12))
    provider = IcsProvider("f", path=path, zone=BERLIN, clock=clock)
    provider.read_changes(None)
    clock.now += timedelta(days=2)
    assert len(provider.read_changes(None).upserts) == 15 + 16 + 1  # days back, days ahead, today
    assert calls == [1]  # parsed once, and without the far single event
    clock.now = utc(2026, 4, 20, 12)  # the single event comes near the window
    assert "later" in {e.uid for e in provider.read_changes(None).upserts}
    assert calls == [1, 2]


def test_single_events_far_from_the_window_are_not_parsed() -> None:
    """Single events outside the window are skipped before parsing; series, overrides and long events are kept."""
    from idealweek.providers.ics.repair import decode, prefilter

    data = calendar(
        "UID:far\nDTSTART:20200101T120000Z\nDTEND:20200101T130000Z",
        "UID:broken-far\nDTSTART:2020XXXX\nSUMMARY:unreadable, so kept",
        "UID:long\nDTSTART;VALUE=DATE:20260301\nDTEND;VALUE=DATE:20260401",
        "UID:dur\nDTSTART:20260225T120000Z\nDURATION:P3W",
        "UID:near\nDTSTART;TZID=Europe/Berlin:20260316T120000\nDTEND;TZID=Europe/Berlin:20260316T130000",
        "UID:series\nDTSTART:20200106T090000Z\nDTEND:20200106T093000Z\nRRULE:FREQ=WEEKLY",
        "UID:series\nRECURRENCE-ID:20200113T090000Z\nDTSTART:20200113T100000Z\nDTEND:20200113T103000Z",
        "UID:alarm\nDTSTART:20200101T120000Z\nBEGIN:VALARM\nTRIGGER:-PT5M\nDURATION:PT5M\nREPEAT:1\n"
        "ACTION:DISPLAY\nEND:VALARM",
    )
    window: Window = (utc(2026, 3, 15), utc(2026, 3, 29))
    kept = prefilter(decode(data), window)
    uids = [ln.removeprefix("UID:") for ln in kept.split("\r\n") if ln.startswith("UID:")]
    assert uids == ["broken-far", "long", "dur", "near", "series", "series"]
    events = read(data, window=window)
    assert {e.uid for e in events} >= {"long", "dur", "near"}
    assert len([e for e in events if e.series == "series"]) == 2


# --------------------------------------------------------------------------- 6. what is refused, said clearly


def test_sub_hourly_rule_is_refused_with_a_warning_naming_file_and_uid() -> None:
    """A MINUTELY series is refused with a warning that names the file and the UID; the rest of the file is read."""
    data = calendar(
        "UID:every-minute\nDTSTART:20260105T093000Z\nRRULE:FREQ=MINUTELY",
        "UID:fine\nDTSTART:20260105T093000Z\nDTEND:20260105T100000Z",
    )
    with capture_logs() as logs:
        events = read(data, source="/home/u/cal/school.ics")
    assert [e.uid for e in events] == ["fine"]
    [entry] = [e for e in logs if e["event"] == "ics.event_skipped"]
    assert entry["source"] == "/home/u/cal/school.ics" and entry["uid"] == "every-minute"
    assert "MINUTELY" in entry["reason"] and "refused" in entry["reason"]


def test_runaway_expansion_is_capped_with_a_warning_naming_file_and_uid() -> None:
    """More than 20,000 occurrences in the window are refused for that series only, with a named warning."""
    minutes = ",".join(str(m) for m in range(0, 60, 5))  # 12 an hour: 288 a day
    data = calendar(
        f"UID:runaway\nDTSTART:20260101T000000Z\nRRULE:FREQ=HOURLY;BYMINUTE={minutes}",
        "UID:fine\nDTSTART:20260105T093000Z\nDTEND:20260105T100000Z",
    )
    assert 288 * 100 > MAX_OCCURRENCES == 20_000
    with capture_logs() as logs:
        events = read(data, window=(utc(2026, 1, 1), utc(2026, 4, 11)), source="feed.ics")
    assert [e.uid for e in events] == ["fine"]
    [entry] = [e for e in logs if e["event"] == "ics.event_skipped"]
    assert entry["source"] == "feed.ics" and entry["uid"] == "runaway"
    assert "20000" in entry["reason"] and "refused" in entry["reason"]


def test_readme_says_what_is_refused() -> None:
    """The README's local-calendar section names the refused rules and the 20,000 cap."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "MINUTELY" in readme and "SECONDLY" in readme and "20,000" in readme


@pytest.mark.parametrize("within", ["3d", "7d", "20d", "40d"])
def test_local_window_covers_what_the_state_keeps(within: str) -> None:
    """A full listing of a local calendar reaches back past keep_since, so the empty-source guard never misfires."""
    from idealweek.config import loads
    from idealweek.providers.factory import local_reach
    from idealweek.providers.ics import default_window
    from idealweek.retention import keep_since

    settings = loads(
        f'timezone = "Europe/Berlin"\n[catch_up]\nwithin = "{within}"\n'
        '[calendars.a]\nsource = "ics"\npath = "a.ics"\nroles = ["personal"]\ncategory = "family"\n'
        '[categories.family]\nwindows = [{ days = "sat-sun", start = "09:00", end = "18:00" }]\n'
    )
    for hour in (0, 11, 23):
        now = utc(2026, 5, 10, hour, 59)
        lo, hi = default_window(now, *local_reach(settings))
        assert lo <= keep_since(now, settings.longest_within)
        assert hi >= now + settings.horizon
