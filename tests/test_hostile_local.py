"""Hostile input on the local side: broken configs and broken calendar files.

Each bad input gets a clear error (config: exit 2, message naming the file
and key) or is skipped with a warning (calendar data), never a crash or a
traceback — and the rest of the data keeps working.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from idealweek import cli

ROOT = Path(__file__).resolve().parent.parent
GOOD = """
state_dir = "state"
[categories.family]
windows = [{ days = "sat-sun", start = "09:00", end = "18:00" }, { days = "mon-fri", start = "19:30", end = "21:00" }]
[[protect]]
days = "mon-fri"
start = "17:00"
end = "19:00"
category = "family"
[calendars.work]
source = "vdir"
path = "calendars/work"
roles = ["meetings", "focus", "mirror"]
[calendars.home]
source = "vdir"
path = "calendars/home"
roles = ["blocks"]
[calendars.family]
source = "ics"
path = "calendars/family.ics"
roles = ["personal"]
category = "family"
policy = "hard"
"""

BAD_CONFIGS: list[tuple[str, str]] = [
    ("", "no calendars"),  # empty file is valid TOML: checked below separately
    ("timezone = ", "TOML syntax error"),
    ("[catch_up\nwithin = '1d'", "TOML syntax error"),
    ('timezone = "Europe/Berlin"\ntimezone = "UTC"', "TOML syntax error"),
    ("horizon = -5", "horizon"),
    ('horizon = "-5d"', "horizon: invalid duration"),
    ('horizon = "0d"', "horizon: must be between"),
    ('sync_interval = "0s"', "sync_interval"),
    ("horizon = true", "horizon"),
    ('timezone = "Europe/Atlantis"', "unknown time zone"),
    ("timezone = 5", "timezone"),
    ('[catch_up]\nmin_block = "0m"', "min_block must be positive"),
    ('[catch_up]\nwithin = "-1d"', "catch_up.within"),
    ('[catch_up]\nprefer = "whenever"', "catch_up.prefer"),
    ("[catch_up]\ncount_tentative = 'yes please'", "catch_up.count_tentative"),
    ('[focus]\nweekly_target = "lots"', "focus.weekly_target"),
    ("[focus]\nhours = 'nine to five'", "focus.hours"),
    ('[focus]\nhours = [{ days = "mon", start = "09:00", end = "09:00" }]', "start and end are equal"),
    ("[safety]\nmax_delete_share = -1", "safety.max_delete_share"),
    ('[log]\nlevel = "loud"', "log.level"),
    ('[secrets]\nstore = "pocket"', "secrets.store"),
    ("[categories.sport]\ntitle = 3", "categories.sport.title"),
    ('[[protect]]\ndays = "someday"\nstart = "18:00"\nend = "19:00"\ncategory = "family"', "invalid weekday"),
    ('[[protect]]\ndays = "mon"\nstart = "6pm"\nend = "19:00"\ncategory = "family"', "invalid time '6pm'"),
    ('[[protect]]\ndays = "mon"\nstart = "18:00"\nend = "19:99"\ncategory = "family"', "invalid time '19:99'"),
    ('[[protect]]\ndays = []\nstart = "18:00"\nend = "19:00"\ncategory = "family"', "no weekdays given"),
    ('[[protect]]\ndays = "mon"\nstart = "18:00"\nend = "19:00"\ncategory = "family"\ncolour = "red"', "unknown key"),
    ("mirror = 'everything'", "mirror"),
    ('[calendars.x]\nsource = "carrier-pigeon"\nroles = ["meetings"]', "calendars.x.source"),
    ('[calendars.x]\nsource = "vdir"\npath = "x"\nroles = []', "roles must name at least one"),
    (
        '[calendars.x]\nsource = "ics"\npath = "a"\nurl = "https://x"\nroles = ["personal"]',
        "exactly one of path or url",
    ),
    ('[calendars.x]\nsource = "outlook"\nroles = ["meetings"]', "needs account"),
    ('[accounts.a]\nprovider = "outlook"\nclient_id = "x"\npage_size = 5000', "accounts.a.page_size"),
    ('[accounts.a]\nprovider = "google"\nclient_secrets = ["a"]', "accounts.a.client_secrets"),
]


def _config(tmp: Path, extra: str) -> Path:
    shutil.copytree(ROOT / "demo" / "calendars", tmp / "calendars")
    path = tmp / "config.toml"
    # put top-level keys first so they are not swallowed by a table
    path.write_text(extra + "\n" + GOOD if not extra.startswith("[") else GOOD + "\n" + extra)
    return path


@pytest.mark.parametrize(("snippet", "expected"), BAD_CONFIGS[1:])
def test_bad_config_is_refused_with_exit_2_and_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snippet: str, expected: str
) -> None:
    """A broken or absurd config is refused with exit code 2, naming the file and the problem."""
    path = _config(tmp_path, snippet)
    assert cli.main(["run", "--once", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err and "Traceback" not in err, err


def test_config_that_is_not_utf8_or_not_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Binary junk and a folder given as config are clear errors too."""
    junk = tmp_path / "junk.toml"
    junk.write_bytes(b"\xff\xfe\x00garbage")
    assert cli.main(["config", "check", "--config", str(junk)]) == 2
    assert cli.main(["config", "check", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "cannot read" in err and "Traceback" not in err


BIG_TITLE = "A" * 1_000_000
BAD_ICS: dict[str, str] = {
    "empty.ics": "",
    "html.ics": "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "json.ics": '{"error": {"code": 500}}',
    "truncated.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:t1\nDTSTART:20261123T170000Z\n",
    "no-dtstart.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:n1\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR\n",
    "bad-dtstart.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:b1\nDTSTART:tomorrow-ish\nEND:VEVENT\nEND:VCALENDAR\n",
    "year-9999.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:y1\nDTSTART:99991231T230000Z\nDTEND:99991231T235900Z\n"
    "END:VEVENT\nEND:VCALENDAR\n",
    "year-0001.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:y0\nDTSTART:00010101T000000Z\nDTEND:00010101T010000Z\n"
    "END:VEVENT\nEND:VCALENDAR\n",
    "negative-duration.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:neg\nDTSTART:20261124T170000Z\nDURATION:-PT5H\n"
    "END:VEVENT\nEND:VCALENDAR\n",
    "end-before-start.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:ebs\nDTSTART:20261124T190000Z\n"
    "DTEND:20261124T170000Z\nEND:VEVENT\nEND:VCALENDAR\n",
    "unknown-tz.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:tz\nDTSTART;TZID=Mars/Olympus_Mons:20261124T170000\n"
    "DTEND;TZID=Mars/Olympus_Mons:20261124T180000\nEND:VEVENT\nEND:VCALENDAR\n",
    "rrule-garbage.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:rr\nDTSTART:20261124T170000Z\nDTEND:20261124T180000Z\n"
    "RRULE:FREQ=SOMETIMES;COUNT=banana\nEND:VEVENT\nEND:VCALENDAR\n",
    "rrule-forever-secondly.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:sec\nDTSTART:20261124T170000Z\n"
    "DTEND:20261124T170001Z\nRRULE:FREQ=SECONDLY\nEND:VEVENT\nEND:VCALENDAR\n",
    "huge-title.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:big\nDTSTART:20261125T100000Z\nDTEND:20261125T110000Z\n"
    f"SUMMARY:{BIG_TITLE}\nEND:VEVENT\nEND:VCALENDAR\n",
    "many-attendees.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:att\nDTSTART:20261125T120000Z\nDTEND:20261125T130000Z\n"
    + "".join(f"ATTENDEE:mailto:p{i}@example.com\n" for i in range(10_000))
    + "END:VEVENT\nEND:VCALENDAR\n",
    "nul-bytes.ics": "BEGIN:VCALENDAR\x00\x00\nBEGIN:VEVENT\x00\nEND:VCALENDAR\n",
    "nested-garbage.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nBEGIN:VEVENT\nBEGIN:VALARM\nEND:VCALENDAR\n",
    "fake-tag.ics": "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:ft\nDTSTART:20261125T140000Z\nDTEND:20261125T150000Z\n"
    "X-IDEALWEEK:{not json at all\nEND:VEVENT\nEND:VCALENDAR\n",
}


def test_bad_calendar_files_are_skipped_and_the_rest_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Broken, absurd and hostile .ics files in a vdir are skipped; the good meeting still creates its make-up."""
    path = _config(tmp_path, "")
    work = tmp_path / "calendars" / "work"
    for name, text in BAD_ICS.items():
        (work / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    (work / "binary.ics").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    code = cli.main(["run", "--once", "--quiet", "--config", str(path), "--log-level", "error"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    assert code == 0, out.err
    written = list((tmp_path / "calendars" / "home").glob("*.ics"))
    makeups = [p for p in written if "makeup" in p.read_text()]
    assert makeups, "the good meetings still produce make-up blocks"
    assert BIG_TITLE not in out.out + out.err


def test_bad_ics_feed_file_does_not_stop_other_calendars(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A personal .ics file that is not a calendar at all is reported; the other calendars are still synced."""
    path = _config(tmp_path, "")
    (tmp_path / "calendars" / "family.ics").write_text("<html>Service unavailable</html>")
    code = cli.main(["run", "--once", "--quiet", "--config", str(path), "--log-level", "error"])
    out = capsys.readouterr()
    assert code == 1  # one calendar failed: a runtime failure, reported
    assert "family" in out.out and "Traceback" not in out.err
    assert list((tmp_path / "calendars" / "home").glob("*.ics"))


def test_count_of_hostile_inputs() -> None:
    """The hostile corpus here has at least 50 inputs (configs and calendar files)."""
    assert len(BAD_CONFIGS) - 1 + 1 + len(BAD_ICS) + 1 >= 50
