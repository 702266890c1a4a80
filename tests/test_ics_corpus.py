"""Every third-party ICS file in tests/data/ics goes through the reader; spot checks of the results.

The files are copies of shared/corpus/ics (icalendar: BSD-2-Clause, khal: MIT,
ical.js: MPL-2.0; licence texts beside them).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from idealweek.errors import ProviderError
from idealweek.model import Event, utc
from idealweek.providers.ics import Window, parse_ics

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DATA = Path(__file__).parent / "data" / "ics"
FILES = sorted(DATA.rglob("*.ics"))
BERLIN = ZoneInfo("Europe/Berlin")
WIDE: Window = (utc(1995, 1, 1), utc(2027, 1, 1))


def read(rel: str, zone: ZoneInfo = BERLIN, window: Window = WIDE) -> list[Event]:
    return parse_ics((DATA / rel).read_bytes(), source=rel, calendar="corpus", zone=zone, window=window)


def test_corpus_is_present_with_licences() -> None:
    """The copied corpus stands alone in the repository, licence texts included."""
    assert len(FILES) >= 120
    for licence in ("icalendar/LICENSE.rst", "icaljs/LICENSE", "khal/COPYING"):
        assert (DATA / licence).is_file()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(DATA)) for p in FILES])
def test_every_corpus_file_reads_without_crashing(path: Path) -> None:
    """No corpus file crashes the reader; every event comes out in aware UTC, ends after it starts, uids unique."""
    with capture_logs():
        events = parse_ics(path.read_bytes(), source=str(path), calendar="corpus", zone=BERLIN, window=WIDE)
    uids = [e.uid for e in events]
    assert len(uids) == len(set(uids))
    for ev in events:
        assert ev.start.utcoffset() == timedelta(0) and ev.end.utcoffset() == timedelta(0)
        assert ev.end >= ev.start
        assert ev.uid


def _simple_series(path: Path) -> list[datetime] | None:
    """Starts of the one plain series in ``path`` inside WIDE, expanded by dateutil alone; None when not plain.

    Plain: one VEVENT with RRULE and no RDATE/EXDATE/RECURRENCE-ID, no X-WR-TIMEZONE, a DTSTART that is a
    DATE, floating, UTC or in an IANA zone, and a rule dateutil accepts as written.  DTSTART is always the
    first instance (RFC 5545 §3.8.5.3).
    """
    import warnings

    import icalendar
    from dateutil.rrule import rruleset, rrulestr

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = icalendar.Calendar.from_ical(path.read_bytes())
    except ValueError:
        return None
    events = list(cal.walk("VEVENT"))
    if len(events) != 1 or "X-WR-TIMEZONE" in cal:
        return None
    [ev] = events
    if "RRULE" not in ev or any(k in ev for k in ("RDATE", "EXDATE", "RECURRENCE-ID")):
        return None
    start = ev["DTSTART"].dt
    if not isinstance(start, datetime):
        start = datetime.combine(start, time(), BERLIN)  # all-day: local midnight in the configured zone
    elif start.tzinfo is None:
        start = start.replace(tzinfo=BERLIN)  # floating: the configured zone
    elif not isinstance(start.tzinfo, ZoneInfo) and start.utcoffset() != timedelta(0):
        return None  # a zone only its VTIMEZONE defines
    rules = ev["RRULE"] if isinstance(ev["RRULE"], list) else [ev["RRULE"]]
    expansion = rruleset()
    try:
        for rule in rules:
            expansion.rrule(rrulestr(rule.to_ical().decode(), dtstart=start))
    except ValueError:
        return None  # e.g. UNTIL not in UTC with an aware DTSTART: repaired by the reader, not by dateutil
    expansion.rdate(start)
    return sorted(d.astimezone(UTC) for d in expansion.between(WIDE[0], WIDE[1], inc=True) if d < WIDE[1])


PLAIN = [(p, exp) for p in FILES if (exp := _simple_series(p)) is not None]


def test_enough_plain_series_are_checked() -> None:
    """The instance-count check below covers at least ten corpus files, thousands of instances in all."""
    assert len(PLAIN) >= 10
    assert sum(len(exp) for _, exp in PLAIN) > 3000


@pytest.mark.parametrize(("path", "expected"), PLAIN, ids=[str(p.relative_to(DATA)) for p, _ in PLAIN])
def test_plain_series_match_an_independent_expansion(path: Path, expected: list[datetime]) -> None:
    """A plain series gives exactly the instances dateutil.rrule computes on its own (window 1995-2027)."""
    with capture_logs():
        events = parse_ics(path.read_bytes(), source=str(path), calendar="corpus", zone=BERLIN, window=WIDE)
    assert sorted(e.start for e in events if WIDE[0] <= e.start < WIDE[1]) == expected


def test_windows_zone_name_in_vtimezone_maps_to_iana() -> None:
    """A VTIMEZONE named 'New Zealand Standard Time' is read as Pacific/Auckland (13:00 NZDT = 00:00 UTC)."""
    [ev] = read("khal/tz_windows_format.ics")
    assert ev.start == utc(2019, 11, 20, 0, 0)


def test_windows_pacific_standard_time() -> None:
    """Exchange's 'Pacific Standard Time' zone gives the right UTC instant (PST, UTC-8)."""
    [ev] = read("icalendar/calendars/timezone_same_start.ics")
    assert ev.start == utc(2017, 2, 24, 20, 0)


def test_windows_tzid_without_vtimezone() -> None:
    """A TZID="Central Standard Time" with no VTIMEZONE resolves through the Windows table."""
    [ev] = read("icalendar/calendars/issue_156_RDATE_with_PERIOD_TZID_khal.ics")
    assert ev.start == utc(2018, 3, 27, 13, 0)  # 08:00 CDT


def test_missing_vtimezone_falls_back_to_iana() -> None:
    """TZID=Europe/London without a VTIMEZONE is looked up in the IANA database."""
    [ev] = read("khal/event_dt_london.ics")
    assert ev.start == utc(2014, 4, 9, 13, 0)  # 14:00 BST


def test_floating_time_uses_configured_zone() -> None:
    """A floating DTSTART is read in the configured zone."""
    [ev] = read("khal/event_dt_floating.ics", zone=ZoneInfo("America/New_York"))
    assert ev.start == utc(2014, 4, 9, 13, 30)  # 09:30 EDT


def test_unknown_tzid_is_treated_as_floating() -> None:
    """A TZID nobody knows (no VTIMEZONE, not IANA) is read like a floating time."""
    [ev] = read("khal/event_dt_local_missing_tz.ics")
    assert ev.start == utc(2014, 4, 9, 7, 30)


def test_x_wr_timezone_applies_to_floating_times() -> None:
    """X-WR-TIMEZONE, not the configured zone, places floating times of that calendar."""
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-TIMEZONE:America/New_York\r\n"
        b"BEGIN:VEVENT\r\nUID:f1\r\nDTSTART:20300304T090000\r\nDTEND:20300304T100000\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n"
    )
    [ev] = parse_ics(data, source="x.ics", calendar="c", zone=BERLIN, window=(utc(2030, 1, 1), utc(2031, 1, 1)))
    assert ev.start == utc(2030, 3, 4, 14, 0)  # 09:00 EST


def test_x_wr_timezone_keeps_utc_instants() -> None:
    """Google-style X-WR-TIMEZONE with UTC times leaves the instants alone."""
    [ev] = read("icalendar/calendars/issue_350.ics")
    assert ev.start == utc(2022, 2, 22, 18, 30) and ev.end == utc(2022, 2, 22, 19, 30)


def test_all_day_event_spans_local_midnights() -> None:
    """A DATE event runs from midnight to midnight in the configured zone and is marked all-day."""
    [ev] = read("khal/event_d.ics")
    assert ev.all_day
    assert ev.start == utc(2014, 4, 8, 22) and ev.end == utc(2014, 4, 9, 22)


def test_all_day_with_equal_start_and_end_lasts_one_day() -> None:
    """An all-day event with DTEND == DTSTART is read as one day long."""
    [ev] = read("khal/event_d_same_start_end.ics")
    assert ev.end - ev.start == timedelta(days=1)


def test_duration_instead_of_dtend() -> None:
    """DURATION gives the end when DTEND is missing."""
    [ev] = read("khal/event_dt_duration.ics")
    assert ev.end - ev.start == timedelta(hours=1)


def test_missing_dtend_gives_zero_length_event() -> None:
    """A date-time event without DTEND or DURATION has zero length."""
    [ev] = read("khal/event_dt_no_end.ics")
    assert ev.start == ev.end == utc(2016, 1, 16, 7)


def test_rrule_with_exdate_counts_occurrences() -> None:
    """A weekly RRULE with UNTIL and an EXDATE in UTC yields the right occurrences, each with its own uid."""
    events = read("khal/event_dtr_exdatez.ics")
    assert [e.start for e in events] == [utc(2014, 6, 30, 5, 30), utc(2014, 7, 7, 5, 30), utc(2014, 7, 14, 5, 30)]
    assert {e.series for e in events} == {"event_dtr_exdatez"}
    assert len({e.uid for e in events}) == 3
    assert events[0].recurrence_id == "20140630T053000Z"
    assert events[0].end - events[0].start == timedelta(hours=4, minutes=31)


def test_cancelled_override_is_left_out_and_moved_override_is_used() -> None:
    """An override with STATUS:CANCELLED removes its occurrence; a moved one keeps its recurrence id."""
    events = read("khal/event_rrule_recuid_cancelled.ics")
    assert len(events) == 5
    moved = next(e for e in events if e.recurrence_id == "20140707T050000Z")
    assert moved.start == utc(2014, 7, 7, 7)
    assert moved.uid == "event_rrule_recurrence_id@20140707T050000Z"
    assert not any(e.recurrence_id == "20140714T050000Z" for e in events)


def test_window_limits_expansion() -> None:
    """Only occurrences touching the window are returned."""
    events = read("khal/event_dtr_exdatez.ics", window=(utc(2014, 7, 6), utc(2014, 7, 8)))
    assert [e.start for e in events] == [utc(2014, 7, 7, 5, 30)]


def test_bad_event_is_skipped_with_warning_naming_file_and_uid() -> None:
    """An event with an unparseable DTSTART is skipped with a warning that names the file and its UID."""
    with capture_logs() as logs:
        events = read("icalendar/calendars/broken_dtstart.ics")
    assert events == []
    skipped = [entry for entry in logs if entry["event"] == "ics.event_skipped"]
    assert skipped and skipped[0]["log_level"] == "warning"
    assert skipped[0]["source"] == "icalendar/calendars/broken_dtstart.ics"
    assert skipped[0]["uid"] == "test-123"


def test_bad_event_does_not_hide_the_others() -> None:
    """A calendar with one broken series still yields its good events."""
    with capture_logs() as logs:
        events = read("icaljs/google_birthday.ics")
    assert events
    assert any(e["event"] == "ics.event_skipped" and "2014_BIRTHDAY" in e["uid"] for e in logs)


def test_file_icalendar_refuses_is_recovered_per_event() -> None:
    """A file whose VTIMEZONE breaks the whole parse is recovered event by event."""
    [ev] = read("khal/invalid_tzoffset.ics")
    assert ev.uid.startswith("1234567890")
    events = read("khal/non_dst_error.ics")  # a VALARM with a negative duration broke the whole file
    assert len(events) == 2


def test_bom_and_bare_vevent_are_accepted() -> None:
    """A UTF-8 BOM and a bare VEVENT without VCALENDAR do not stop the reader."""
    assert read("icalendar/calendars/bom_calendar.ics") == []
    [ev] = read("khal/event_dt_simple.ics")
    assert ev.start == utc(2014, 4, 9, 7, 30)


def test_event_without_uid_gets_a_stable_one() -> None:
    """An event without UID gets a uid derived from its content, the same on every read."""
    [a] = read("khal/without_uid.ics")
    [b] = read("khal/without_uid.ics")
    assert a.uid == b.uid and a.uid


def test_not_a_calendar_raises_provider_error_naming_the_source() -> None:
    """Data that is not iCalendar at all is a ProviderError naming the source."""
    with pytest.raises(ProviderError, match=r"notes\.txt"):
        parse_ics(b"hello world\n", source="notes.txt", calendar="c", zone=BERLIN, window=WIDE)


def test_properties_map_to_event_fields() -> None:
    """TRANSP, CLASS, STATUS, ATTENDEE and the X-IDEALWEEK tag map onto the Event."""
    from idealweek.model import Kind, OwnedTag, Response, Status

    tag = OwnedTag(key="k1", kind=Kind.FOCUS, planned_start=utc(2030, 3, 4, 9), planned_end=utc(2030, 3, 4, 10))
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:p1\r\nDTSTART:20300304T090000Z\r\n"
        "DTEND:20300304T100000Z\r\nTRANSP:TRANSPARENT\r\nCLASS:CONFIDENTIAL\r\nSTATUS:TENTATIVE\r\n"
        "ATTENDEE:mailto:a@example.org\r\nATTENDEE:mailto:b@example.org\r\n"
        f"X-IDEALWEEK:{tag.encode()}\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:p2\r\nDTSTART:20300304T090000Z\r\nX-IDEALWEEK:not json\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:p3\r\nDTSTART:20300304T090000Z\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    events = parse_ics(data, source="p.ics", calendar="c", zone=BERLIN, window=(utc(2030, 1, 1), utc(2031, 1, 1)))
    by = {e.uid: e for e in events}
    assert set(by) == {"p1", "p2"}
    p1 = by["p1"]
    assert not p1.busy and p1.private and p1.status == Status.TENTATIVE
    assert p1.attendees == 2 and p1.response == Response.NONE
    assert p1.tag == tag
    assert by["p2"].tag is None and by["p2"].busy and not by["p2"].private
