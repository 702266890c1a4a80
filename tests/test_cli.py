"""The real ``idealweek`` command as a new user meets it (issue 14): run as ``python -m idealweek.cli``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"


def idealweek(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the command from this checkout's sources; never the user's real config."""
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), full.get("PYTHONPATH", "")])
    full.setdefault("IDEALWEEK_CONFIG", str((cwd or REPO) / "no-such-config.toml"))
    return subprocess.run(
        [sys.executable, "-m", "idealweek.cli", *args],
        env=full,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def demo_copy(where: Path) -> Path:
    """The demo config and calendars copied to ``where``; returns the config path."""
    shutil.copytree(DEMO / "calendars", where / "calendars")
    shutil.copy(DEMO / "config.toml", where / "config.toml")
    return where / "config.toml"


def owned_files(config: Path) -> list[str]:
    return sorted(p.name for p in (config.parent / "calendars").rglob("iw*.ics"))


def test_options_before_the_command_choose_the_config(tmp_path: Path) -> None:
    """`idealweek --config X run --once` acts on X, not on the default config (options work before the command)."""
    chosen = demo_copy(tmp_path / "chosen")
    default = demo_copy(tmp_path / "default")
    env = {"IDEALWEEK_CONFIG": str(default)}
    done = idealweek("--config", str(chosen), "--log-level", "error", "run", "--once", "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    assert owned_files(chosen), "the chosen config's calendars were not written"
    assert owned_files(default) == [], "the default config was acted on"


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_option_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    """`--config` names the file whether it comes before or after `config check`."""
    config = demo_copy(tmp_path)
    opts = ["--config", str(config)]
    args = [*opts, "config", "check"] if where == "before" else ["config", "check", *opts]
    done = idealweek(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{config}: ok")


@pytest.mark.parametrize("where", ["before", "after"])
def test_log_options_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    """`--log-format json` and `--log-level` are honoured before the command as after it."""
    config = demo_copy(tmp_path)
    for level, logged in (("info", True), ("error", False)):
        opts = ["--log-format", "json", "--log-level", level, "--config", str(config)]
        cmd = ["run", "--once", "--quiet"]
        done = idealweek(*(opts + cmd if where == "before" else cmd + opts))
        assert done.returncode == 0, done.stderr
        lines = (done.stdout + done.stderr).splitlines()
        assert any(line.startswith("{") and '"event": "cycle"' in line for line in lines) == logged, lines


def test_week_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`idealweek week | head`: the reader closes the pipe; the command exits 0 without a message."""
    config = demo_copy(tmp_path)
    full = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "idealweek.cli", "week", "--config", str(config), "--log-level", "error"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` after its lines: nothing more is read
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


def test_version() -> None:
    """`idealweek --version` prints the version and exits 0."""
    from idealweek import __version__

    done = idealweek("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"idealweek {__version__}"


def test_a_week_that_does_not_exist_is_a_usage_error() -> None:
    """`week --week 2026-W60` exits 2 saying week 60 does not exist in 2026; a malformed label likewise."""
    done = idealweek("week", "--week", "2026-W60")
    assert done.returncode == 2
    assert "week 60 does not exist in 2026" in done.stderr
    done = idealweek("week", "--week", "2026-13")
    assert done.returncode == 2
    assert "write it like 2026-W48" in done.stderr


@pytest.mark.parametrize("n", ["0", "-3", "x"])
def test_review_needs_at_least_one_week(n: str) -> None:
    """`review --weeks 0`, `-3` or a non-number is refused as a usage error (exit 2)."""
    done = idealweek("review", f"--weeks={n}")
    assert done.returncode == 2
    assert "--weeks" in done.stderr


def test_a_cycle_on_a_terminal_prints_a_summary_not_a_line_per_write(tmp_path: Path) -> None:
    """At info on a terminal (console logs) `run --once` prints one summary of its writes; each write is debug."""
    config = demo_copy(tmp_path / "a")
    done = idealweek("run", "--once", "--quiet", "--config", str(config), "--log-format", "console")
    assert done.returncode == 0, done.stderr
    assert " write " not in done.stderr and "write  " not in done.stderr, done.stderr
    summary = re.search(r"^Wrote (\d+) events: created (.*)$", done.stdout, re.MULTILINE)
    assert summary is not None, done.stdout
    parts = dict((name, int(n)) for n, name in re.findall(r"(\d+) ([a-z -]+?)(?:,|$)", summary.group(2)))
    assert set(parts) == {"protected blocks", "make-ups", "focus blocks", "mirrors"}
    assert sum(parts.values()) == int(summary.group(1)) == len(owned_files(config))
    debug = demo_copy(tmp_path / "b")
    done = idealweek(
        "run", "--once", "--quiet", "--config", str(debug), "--log-format", "console", "--log-level", "debug"
    )
    assert done.stderr.count("write ") >= len(owned_files(debug)) > 0


def test_the_secret_store_line_is_debug(tmp_path: Path) -> None:
    """Which secret store was chosen is logged at debug, not on every command at info."""
    from structlog.testing import capture_logs

    from idealweek.secrets import generate_key, open_store

    key = tmp_path / "key"
    key.write_text(generate_key())
    with capture_logs() as logs:
        open_store("file", tmp_path / "state", str(key))
    assert [e["log_level"] for e in logs if e["event"] == "secrets.store"] == ["debug"]


def test_the_license_is_an_spdx_string() -> None:
    """pyproject.toml names the license as an SPDX string (the table form is deprecated by setuptools)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"


def test_a_mistyped_vdir_folder_is_a_config_error(tmp_path: Path) -> None:
    """A vdir folder that does not exist fails `config check` and `run --once` (exit 2, key and path named,
    nothing created); with `create = true` it is created and written."""
    config = demo_copy(tmp_path)
    text = config.read_text()
    assert 'path = "calendars/home"' in text
    config.write_text(text.replace('path = "calendars/home"', 'path = "calendars/hmoe"'))
    for cmd in (["config", "check"], ["run", "--once", "--quiet"], ["doctor"]):
        done = idealweek(*cmd, "--config", str(config))
        assert done.returncode == 2, (cmd, done.stdout, done.stderr)
        assert "calendars.home.path" in done.stderr and str(tmp_path / "calendars" / "hmoe") in done.stderr
        assert "did you mean 'calendars/home'?" in done.stderr and "create = true" in done.stderr
    assert not (tmp_path / "calendars" / "hmoe").exists()
    config.write_text(text.replace('path = "calendars/home"', 'path = "calendars/hmoe"\ncreate = true'))
    done = idealweek("run", "--once", "--quiet", "--config", str(config), "--log-level", "error")
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "calendars" / "hmoe").glob("*.ics"))


def test_key_file_is_relative_to_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`secrets.key_file = "idealweek.key"` is found next to the config, whatever the current directory."""
    from idealweek.app import App
    from idealweek.secrets import generate_key

    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "idealweek.key").write_text(generate_key())
    (folder / "idealweek.key").chmod(0o600)
    config = folder / "config.toml"
    config.write_text('timezone = "UTC"\nstate_dir = "state"\n[secrets]\nstore = "file"\nkey_file = "idealweek.key"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    store = App.load(config).secrets(required=True)
    assert store is not None and str(folder / "idealweek.key") in store.description
    store.set("probe", "value")
    assert store.get("probe") == "value"


def test_an_empty_config_says_what_is_missing(tmp_path: Path) -> None:
    """`config check` on an empty file is valid but says it does nothing yet: no calendars, nothing to protect."""
    empty = tmp_path / "config.toml"
    empty.write_text("")
    done = idealweek("config", "check", "--config", str(empty))
    assert done.returncode == 0, done.stderr
    assert "does nothing yet" in done.stdout
    assert "no calendars: add a [calendars.NAME] table" in done.stdout
    assert "no [[protect]] rules and no focus.weekly_target" in done.stdout
    full = idealweek("config", "check", "--config", str(demo_copy(tmp_path / "demo")))
    assert "does nothing yet" not in full.stdout and "notes:" not in full.stdout


def test_config_schema_has_descriptions_and_defaults_in_the_config_format() -> None:
    """`config schema`: every key has a description; defaults are written as the config writes them."""
    import json

    from idealweek.config import loads

    done = idealweek("config", "schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["properties"]["horizon"]["default"] == "14d"
    assert schema["$defs"]["CatchUp"]["properties"]["freeze"]["default"] == "2h"
    assert schema["$defs"]["Focus"]["properties"]["hours"]["default"][0]["start"] == "09:00"
    assert not re.search(r'"P(\d+[DW]|T)', done.stdout), "an ISO 8601 duration in the schema"
    undocumented = [
        f"{name}.{key}"
        for name, model in [("Settings", schema), *schema["$defs"].items()]
        for key, prop in model.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undocumented == []
    top = schema["properties"]
    text = "\n".join(f"{k} = {json.dumps(top[k]['default'])}" for k in ("horizon", "sync_interval"))
    loads(text)  # the defaults are accepted by the config itself


def test_status_lists_make_ups_in_time_order(tmp_path: Path) -> None:
    """`status --json` lists this week's make-ups and intrusions in time order."""
    import json

    config = demo_copy(tmp_path)
    done = idealweek("status", "--json", "--config", str(config), "--log-level", "error")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    for what in ("makeups", "intrusions"):
        starts = [datetime.fromisoformat(x["start"]) for x in data[what]]
        assert starts == sorted(starts), what


def test_the_html_week_shows_its_totals_once(tmp_path: Path) -> None:
    """`week --html` shows the week's totals once (in the picture), not again below it."""
    config = demo_copy(tmp_path)
    page = tmp_path / "week.html"
    done = idealweek("week", "--html", str(page), "--config", str(config), "--log-level", "error")
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert html.count("lost to meetings") == 1, html.count("lost to meetings")


def test_run_once_shows_this_iso_week_in_the_calendars_words(tmp_path: Path) -> None:
    """After `run --once` the picture is this ISO week (as `week` and `status`), labelled with the titles the
    events carry in the calendars, in local time, with the time now marked and no internal keys."""
    import json

    config = demo_copy(tmp_path)
    done = idealweek("run", "--once", "--config", str(config), "--log-level", "error")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    status = json.loads(idealweek("status", "--json", "--config", str(config), "--log-level", "error").stdout)
    assert out.startswith(f"Week {status['week']} (Europe/Berlin)")
    assert re.search(r"^  > \d\d:\d\d now$", out, re.M), "the time now is not marked in the agenda"
    for internal in ("[catch-up]", "make-up family", "busy (mirror)", "@17:00-19:00", "debt:", "makeup:", " UTC"):
        assert internal not in out, internal
    titles = {"Family time", "Make-up: Family time", "Focus", "Busy"}
    assert all(t in out for t in titles), [t for t in titles if t not in out]
    repays = re.findall(r"\(repays (.*?)\)$", out, re.M)
    assert repays and all(re.fullmatch(r"\d+ min lost \w{3} \d\d \w{3} \d\d:\d\d(, .*)?", r) for r in repays), repays


def test_the_intrusions_shown_are_the_intrusions_counted(tmp_path: Path) -> None:
    """`week` shows as many intrusions in its agenda as `status` counts for the week; no line counts the whole
    planning horizon instead."""
    import json

    config = demo_copy(tmp_path)
    week = idealweek("week", "--config", str(config), "--log-level", "error").stdout
    status = json.loads(idealweek("status", "--json", "--config", str(config), "--log-level", "error").stdout)
    agenda = week.split("\n\n", 1)[1]
    shown = [line for line in agenda.splitlines() if line.startswith(("  ! ", "  X "))]
    assert len(shown) == len(status["intrusions"])
    plan = idealweek("plan", "--config", str(config), "--log-level", "error").stdout
    assert "intrusions" not in plan.splitlines()[-1]


def test_week_totals_are_listed_in_one_order() -> None:
    """The agenda's totals are listed in the legend's order, whatever order the items come in."""
    from idealweek.render import ItemKind, render_week_text
    from tests.test_render_week import BERLIN, dst_plan

    plan, view = dst_plan()
    text = render_week_text(plan, [], view.start, BERLIN)
    line = next(x for x in text.splitlines() if x.startswith("Totals: "))
    kinds = [part.split(" ")[0] for part in line.removeprefix("Totals: ").split(", ")]
    order = [k.value for k in ItemKind]
    assert kinds == sorted(kinds, key=order.index) and len(kinds) > 2, line


def test_the_time_now_is_marked_in_every_picture() -> None:
    """The grid marks today's column and the row of the time now, the SVG draws a line at it; a week that does
    not contain now marks nothing."""
    from dataclasses import replace

    from idealweek.render_grid import render_grid_text
    from idealweek.render_svg import week_svg
    from tests.test_render_week import dst_plan, local

    _plan, view = dst_plan()
    now = replace(view, now=local(2, 10, 20))  # Wednesday 10:20
    grid = render_grid_text(now)
    assert re.search(r"^10:00>", grid, re.M) and "Wed 25 >" in grid
    assert 'class="now"' in week_svg(now)
    elsewhere = replace(view, now=local(0, 10) + timedelta(days=9))  # the week after
    assert ">" not in render_grid_text(elsewhere).split("Legend")[0] and 'class="now"' not in week_svg(elsewhere)
