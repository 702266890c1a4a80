"""Configuration: validation, clear messages, the config commands."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path

import pytest

from idealweek import cli
from idealweek.config import Settings, load, loads, parse_days, parse_duration
from idealweek.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = """
[categories.family]
windows = [{ days = "sat-sun", start = "09:00", end = "18:00" }]
[[protect]]
days = "mon-fri"
start = "18:00"
end = "20:00"
category = "family"
"""

BAD_CASES = [
    ('horizn = "3d"', "horizn: unknown key (did you mean 'horizon'?)"),
    ('[catch_up]\nwithn = "3d"', "catch_up.withn: unknown key (did you mean 'within'?)"),
    ('horizon = "soon"', "horizon: invalid duration 'soon'"),
    ("horizon = 14", "horizon: expected a duration"),
    ('horizon = "400d"', "horizon: must be between 1d and 366d"),
    ('timezone = "Mars/Olympus"', "timezone: unknown time zone 'Mars/Olympus'"),
    ('[[protect]]\ndays = "mon-fry"\nstart = "18:00"\nend = "19:00"\ncategory = "family"', "protect[0].days"),
    (
        '[[protect]]\ndays = "mon"\nstart = "25:00"\nend = "19:00"\ncategory = "family"',
        "protect[0].start: invalid time '25:00'",
    ),
    ('[[protect]]\ndays = "mon"\nstart = "18:00"\nend = "19:00"\ncategory = "famly"', "(did you mean 'family'?)"),
    ('[[protect]]\ndays = "mon"\nstart = "18:00"\nend = "19:00"', "protect[0].category: required key is missing"),
    (
        '[[protect]]\ndays = "mon"\nstart = "18:00"\nend = "19:00"\ncategory = "family"\npolicy = "strict"',
        "protect[0].policy",
    ),
    ('[catch_up]\ngranularity = "30s"', "granularity must be whole minutes"),
    (
        '[[protect]]\ndays = "mon"\nstart = "19:00"\nend = "17:00"\ncategory = "family"',
        "protect[0]: end 17:00 is before start 19:00: a window that runs past midnight must say so",
    ),
    (
        '[[protect]]\ndays = "mon"\nstart = "19:00"\nend = "21:00"\novernight = true\ncategory = "family"',
        "protect[0]: overnight: end 21:00 is not before start 19:00",
    ),
    (
        '[categories.walk]\nwindows = [{ days = "mon", start = "22:00", end = "01:00" }]',
        "categories.walk.windows[0]: end 01:00 is before start 22:00",
    ),
    ('[categories.walk]\nmin_block = "0m"', "categories.walk: min_block must be positive"),
    ('[categories.walk]\nprefer = "soonest"', "categories.walk.prefer"),
    ('[categories.walk]\nmax_per_day = "20m"', "categories.walk.max_per_day: 20m is shorter than min_block 30m"),
    ('[focus]\nchunk = "1h"\nmin_chunk = "2h"', "min_chunk must not be longer than chunk"),
    ('[calendars.x]\nsource = "ics"\npath = "a.ics"\nroles = ["blocks"]', "read-only and cannot have roles"),
    ('[calendars.x]\nsource = "vdir"\nroles = ["blocks"]', "a vdir calendar needs path"),
    (
        '[calendars.x]\nsource = "google"\nroles = ["meetings"]\naccount = "nope"',
        "calendars.x.account: unknown account 'nope'",
    ),
    ('[calendars.x]\nsource = "vdir"\npath = "p"\nroles = ["meetigns"]', "calendars.x.roles[0]"),
    ('[accounts.a]\nprovider = "yahoo"', 'accounts.a: provider must be "google", "outlook" or "caldav"'),
    ('[accounts.a]\nprovider = "outlook"', "accounts.a.client_id: required key is missing"),
    ("[safety]\nmax_delete_share = 1.5", "safety.max_delete_share"),
]


@pytest.mark.parametrize(("snippet", "expected"), BAD_CASES)
def test_bad_config_message_names_key_and_problem(snippet: str, expected: str) -> None:
    """Each broken config raises a ConfigError naming the file, the key path and the problem."""
    with pytest.raises(ConfigError) as info:
        loads(snippet + "\n" + MINIMAL, "my.toml")
    text = info.value.render()
    assert text.startswith("my.toml: invalid configuration")
    assert expected in text, text


def test_toml_syntax_error_gives_line_and_column() -> None:
    """A TOML syntax error reports the line and column."""
    with pytest.raises(ConfigError) as info:
        loads('timezone = "UTC"\nhorizon = \n', "x.toml")
    assert "line 2" in info.value.render() and "column" in info.value.render()


def test_example_config_is_valid_and_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config.example.toml validates (its vdir folder existing) and mentions every key of the schema."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".local" / "share" / "calendars" / "notes").mkdir(parents=True)
    settings = load(ROOT / "config.example.toml")
    assert settings.timezone == "Europe/Berlin"
    text = (ROOT / "config.example.toml").read_text()
    for name, model in _models(Settings):
        for key in model.model_fields:
            assert f"{key} =" in text or f"{key}=" in text or f"[{key}]" in text or f"[{name}" in text, key


def _models(model: type, prefix: str = "") -> list[tuple[str, type]]:
    from idealweek import config as c

    return [
        (prefix, model),
        ("catch_up", c.CatchUp),
        ("focus", c.Focus),
        ("mirror", c.Mirror),
        ("safety", c.Safety),
        ("secrets", c.Secrets),
        ("alerts", c.Alerts),
        ("log", c.Log),
        ("categories", c.Category),
        ("protect", c.ProtectRule),
        ("accounts", c.GoogleAccount),
        ("accounts", c.OutlookAccount),
        ("accounts", c.CalDavAccount),
        ("calendars", c.CalendarConfig),
    ]


def test_defaults_match_spec() -> None:
    """Defaults: 14-day horizon, 60 s interval, 7-day deadline, 30-minute blocks, 15-minute grid, 2 h freeze."""
    s = loads(MINIMAL)
    assert s.horizon == timedelta(days=14)
    assert s.sync_interval == timedelta(seconds=60)
    cu = s.catch_up
    assert (cu.within, cu.min_block, cu.granularity, cu.freeze) == (
        timedelta(days=7),
        timedelta(minutes=30),
        timedelta(minutes=15),
        timedelta(hours=2),
    )
    assert cu.count_tentative is True
    assert s.protect[0].end == time(20)


def test_settings_are_frozen() -> None:
    """Validated settings cannot be changed by accident."""
    s = loads(MINIMAL)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own frozen error type
        s.horizon = timedelta(days=1)  # type: ignore[misc]


def test_duration_and_weekday_parsing() -> None:
    """Durations like 1h30m and weekday ranges that wrap around the week are understood."""
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert parse_days(["sat", "sun"]) == frozenset({5, 6})


def test_config_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`config check` exits 0 for a valid file and 2 with the message for a broken one."""
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    assert cli.main(["config", "check", "--config", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('horizn = "1d"\n' + MINIMAL)
    assert cli.main(["config", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "did you mean 'horizon'" in err and "Traceback" not in err


def test_config_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`config schema` prints a JSON Schema that forbids unknown keys."""
    assert cli.main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "catch_up" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_bad_config_exits_2_for_any_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every command refuses a broken config with exit code 2 and no traceback."""
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    for cmd in (["run", "--once"], ["plan"], ["status"], ["week"]):
        assert cli.main([*cmd, "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(bad) in err
