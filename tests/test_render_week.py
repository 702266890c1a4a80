"""The week picture: items, DST days, the SVG/HTML forms, the terminal grid and the `week` command."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek import cli
from idealweek.planner import Plan, PlanInput, plan
from idealweek.render import ItemKind, WeekView, week_days, week_view
from idealweek.render_grid import COL_W, NO_TIME, render_grid_text
from idealweek.render_svg import PX_PER_MIN, week_html, week_svg
from idealweek.week import iso_week_bounds, iso_week_label, week_start_from_label
from tests.scenario import BASE_TOML, meeting
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
DST_WEEK = "2026-W13"
"""Mon 23 – Sun 29 March 2026: Berlin springs forward on the Sunday (a 23-hour day)."""


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time on day ``day`` (0 = Monday) of the DST week."""
    return datetime(2026, 3, 23 + day, hour, minute, tzinfo=BERLIN)


def dst_plan() -> tuple[Plan, WeekView]:
    s = make_settings()
    events = [
        meeting(local(0, 17, 30), 60, title="Late sync"),  # family catch-up block: intrusion, debt 60
        meeting(local(1, 10), 60, title="Planning"),
        meeting(local(2, 15), 30, title="Pick-up clash"),  # hard block: violation
        meeting(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), 120, title="Night deploy"),  # 01:00-04:00 wall, 2 h
    ]
    p = plan(PlanInput(now=local(0, 8), settings=s, events=events))
    start = week_start_from_label(DST_WEEK, BERLIN)
    return p, week_view(p, [], start, BERLIN)


def count(kind: ItemKind, view: WeekView) -> int:
    return sum(1 for i in view.items if i.kind == kind)


def test_days_follow_real_elapsed_time_across_dst() -> None:
    """A spring-forward Sunday is 23 hours with 23 hour marks; a fall-back Sunday is 25 with 25."""
    spring = week_days(week_start_from_label("2026-W13", BERLIN), BERLIN)
    autumn = week_days(week_start_from_label("2026-W43", BERLIN), BERLIN)
    assert [d.minutes for d in spring] == [1440] * 6 + [1380]
    assert [d.minutes for d in autumn] == [1440] * 6 + [1500]
    assert len(spring[-1].hours(BERLIN)) == 23 and len(autumn[-1].hours(BERLIN)) == 25
    assert all(d.end == n.start for d, n in itertools.pairwise(spring))


def test_week_items_cover_every_kind_of_the_scenario() -> None:
    """The DST scenario yields meetings, protected blocks, an intrusion, a violation, make-ups, focus and mirrors."""
    _p, view = dst_plan()
    assert count(ItemKind.MEETING, view) == 4
    assert count(ItemKind.PROTECTED, view) == 8  # 5 family evenings, 2 runs, 1 school pick-up
    assert count(ItemKind.VIOLATION, view) == 1
    assert count(ItemKind.INTRUSION, view) == 1
    assert count(ItemKind.MAKEUP, view) >= 1
    assert count(ItemKind.FOCUS, view) >= 1
    assert count(ItemKind.MIRROR, view) >= 1
    makeup = next(i for i in view.items if i.kind == ItemKind.MAKEUP)
    assert makeup.link == "family@17:00-19:00:2026-03-23"


def test_svg_has_one_block_per_item_of_each_kind() -> None:
    """Every item is drawn exactly once as a <g data-kind=…> (none of them crosses midnight here)."""
    _p, view = dst_plan()
    svg = week_svg(view, standalone=True)
    assert svg.startswith("<?xml")
    for kind in ItemKind:
        assert svg.count(f'data-kind="{kind.value}"') == count(kind, view), kind
    for kind in ItemKind:
        assert f'data-legend="{kind.value}"' in svg


def test_svg_draws_the_dst_day_by_elapsed_time() -> None:
    """On the 23-hour Sunday a 01:00-04:00 wall-clock meeting is drawn 2 hours tall, and the day is marked."""
    _p, view = dst_plan()
    svg = week_svg(view)
    assert 'data-date="2026-03-29" data-minutes="1380"' in svg
    assert "23-hour day (DST)" in svg
    night = re.search(r"Night deploy.*?<rect [^>]*height=\"([\d.]+)\"", svg)
    assert night is not None
    assert float(night.group(1)) == pytest.approx(120 * PX_PER_MIN, abs=0.2)


def test_makeup_links_point_at_drawn_intrusions() -> None:
    """Each make-up links (#fragment) to the intrusion it repays, and that id exists in the picture."""
    _p, view = dst_plan()
    svg = week_svg(view)
    targets = re.findall(r'<a href="#([^"]+)" class="repays"', svg)
    assert targets
    for t in targets:
        assert f'id="{t}"' in svg


def test_html_and_svg_are_self_contained() -> None:
    """No scripts, fonts, images or URLs: only the SVG namespace and #fragment links."""
    _p, view = dst_plan()
    for text in (week_html(view), week_svg(view, standalone=True)):
        assert "<script" not in text and "@import" not in text and "src=" not in text
        assert re.findall(r"https?://[^\"' )]+", text) == ["http://www.w3.org/2000/svg"] * text.count("xmlns=")
        assert all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", text))
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', text))


def test_plain_grid_shows_symbols_and_the_dst_gap() -> None:
    """Plain text: 'Sun 29 23h' in the header, '~' for the skipped 02:00 hour, '!' where the meeting intrudes."""
    _p, view = dst_plan()
    text = render_grid_text(view)
    lines = text.splitlines()
    assert lines[0] == f"Week {DST_WEEK} (Europe/Berlin)"
    assert "Sun 29 23h" in lines[1]
    rows = {ln[:5]: ln for ln in lines[2:] if re.match(r"\d\d:\d\d ", ln)}
    width = COL_W

    def cell(row: str, day: int) -> str:
        at = 6 + day * (COL_W + 1)
        return rows[row][at : at + COL_W]

    assert cell("02:00", 6) == NO_TIME * width and cell("02:30", 6) == NO_TIME * width
    assert cell("01:00", 6).startswith("M")
    assert cell("17:30", 0).startswith("!")
    assert cell("15:00", 2).startswith("X")
    assert cell("03:00", 6).startswith("M")  # 03:00 exists on the Sunday and the meeting is still on
    assert "Legend: M meeting" in text and "Totals: protected 12.5 h" in text
    assert "\x1b[" not in text


# -- the command --------------------------------------------------------------------------


def ics(uid: str, start: datetime, minutes: int, title: str) -> str:
    s = start.astimezone(UTC)
    e = s + timedelta(minutes=minutes)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{s:%Y%m%dT%H%M%SZ}\r\nDTEND:{e:%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A vdir config whose work calendar has a late meeting every day of this (real) week."""
    from idealweek import log

    monkeypatch.setattr(log, "setup", lambda *a, **k: None)  # the process-wide logging set-up stays untouched
    (tmp_path / "work").mkdir()
    (tmp_path / "home").mkdir()
    start, _ = iso_week_bounds(datetime.now(UTC), BERLIN)
    monday: date = start.astimezone(BERLIN).date()
    for n in range(5):
        t = datetime(monday.year, monday.month, monday.day, 18, 0, tzinfo=BERLIN) + timedelta(days=n)
        (tmp_path / "work" / f"m{n}.ics").write_text(ics(f"m{n}", t, 30, f"Late call {n}"))
    path = tmp_path / "config.toml"
    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h").replace("[catch_up]", 'state_dir = "state"\n\n[catch_up]')
    path.write_text(text)
    return path


def test_week_command_prints_the_plain_grid_when_not_a_tty(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`idealweek week` in a pipe prints the grid, the agenda and the ledger as plain text."""
    assert cli.main(["week", "--config", str(config), "--log-level", "error"]) == 0
    out = capsys.readouterr().out
    label = iso_week_label(datetime.now(UTC), BERLIN)
    assert out.startswith(f"Week {label} (Europe/Berlin)\n")
    assert "Legend: M meeting" in out and "Debt ledger" in out
    assert "\x1b[" not in out


def test_week_command_writes_html_and_svg_files(config: Path, tmp_path: Path) -> None:
    """`--html` and `--svg` write one file each, with the week's five meetings drawn."""
    html, svg = tmp_path / "w.html", tmp_path / "w.svg"
    args = ["week", "--config", str(config), "--log-level", "error", "--html", str(html), "--svg", str(svg)]
    assert cli.main(args) == 0
    for f in (html, svg):
        assert f.read_text().count('data-kind="meeting"') == 5


def test_week_command_takes_next_prev_and_a_week_label(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--next`, `--prev` and `--week` pick the week; a malformed label is a clear error, not a traceback."""
    now = datetime.now(UTC)
    for flag, days in (("--next", 7), ("--prev", -7)):
        assert cli.main(["week", "--config", str(config), "--log-level", "error", flag]) == 0
        assert capsys.readouterr().out.startswith(f"Week {iso_week_label(now + timedelta(days=days), BERLIN)} ")
    assert cli.main(["week", "--config", str(config), "--log-level", "error", "--week", DST_WEEK]) == 0
    assert "Sun 29 23h" in capsys.readouterr().out
    assert cli.main(["week", "--config", str(config), "--log-level", "error", "--week", "2026-13"]) != 0
    err = capsys.readouterr().err
    assert "2026-W48" in err and "Traceback" not in err
