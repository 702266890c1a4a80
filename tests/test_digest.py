"""The weekly digest from a six-week history of real cycles, against a table worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from idealweek import digest as dg
from idealweek.alerts.hook import AlertHook
from idealweek.config import loads
from idealweek.secrets import MemoryStore
from idealweek.store import Store
from tests.browser import Chromium, find_chromium, read_png
from tests.fakes.alert_sink import AlertSink
from tests.history import BERLIN, at, run_history
from tests.scenario import BASE_TOML
from tests.scenario import settings as scenario_settings

SETTINGS = scenario_settings()

# Worked out by hand from the table in tests/history.py: 750 min planned a week; lost = the minutes cut
# (hard 30 in W47 is a violation, not debt); made up = the catch-up debt, booked the same week
# (Tue/Mon 19:30 for family, Fri 06:00 for the run in W50); focus 4 h planned and kept each week.
HAND = {
    #         kept  lost  made up  violations  meetings
    "2026-W46": (690, 60, 60, 0, 60),
    "2026-W47": (690, 60, 30, 1, 60),
    "2026-W48": (720, 30, 30, 0, 30),
    "2026-W49": (750, 0, 0, 0, 60),
    "2026-W50": (660, 90, 90, 0, 80),
}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store, _now = run_history(tmp_path_factory.mktemp("digest"), lambda _d: SETTINGS, 41)
    yield store
    store.close()


@pytest.fixture(scope="module")
def digest(history: Store) -> dg.Digest:
    return dg.build_digest(history, SETTINGS, at(41, 18))  # Sunday of W50, 18:00


def test_digest_covers_the_week_ending_on_its_sunday_and_four_before(digest: dg.Digest) -> None:
    """Sunday 18:00 of W50: the digest is about W50, compared with W46-W49."""
    assert digest.week == "2026-W50"
    assert [r.week for r in digest.rows] == list(HAND)
    assert dg.digest_week(at(42, 8), BERLIN) == "2026-W50"  # Monday morning: still last week
    assert dg.digest_week(at(40, 8), BERLIN) == "2026-W49"  # Saturday: the week that ended last Sunday


def test_digest_figures_match_the_hand_worked_table(digest: dg.Digest) -> None:
    """Kept, lost, made up, violations and meetings of each week are the hand-worked ones."""
    got = {r.week: (r.kept_min, r.lost_min, r.made_up_min, r.violations, r.meeting_min) for r in digest.rows}
    assert got == HAND
    assert all(r.protected_min == 750 and r.focus_target_min == r.focus_kept_min == 240 for r in digest.rows)
    assert (digest.debt_open_min, digest.debt_overdue_min) == (0, 0)


def test_digest_trends_and_suggestion(digest: dg.Digest) -> None:
    """Sparklines and arrows against the 4 weeks before; the Tuesday family slot lost time 4 of 5 weeks."""
    by_key = {x.key: x for x in dg.lines(digest)}
    # kept % 92, 92, 96, 100, 88: scaled to 100 → ▇▇██▇; 88 < the average 95 → ↓
    assert dg.sparkline(by_key["kept"].series) == "▇▇██▇" and by_key["kept"].arrow == "↓"
    assert by_key["kept"].value == "11.0 h of 12.5 h (88%)"
    # lost 60, 60, 30, 0, 90 → ▆▆▃▁█, 90 above the average 37.5 → ↑
    assert dg.sparkline(by_key["lost"].series) == "▆▆▃▁█" and by_key["lost"].arrow == "↑"
    assert dg.sparkline(by_key["made_up"].series) == "▆▃▃▁█" and by_key["made_up"].arrow == "↑"
    assert dg.sparkline(by_key["violations"].series) == "▁█▁▁▁" and by_key["violations"].arrow == "→"
    assert by_key["focus"].value == "4.0 h of 4.0 h target" and by_key["focus"].arrow == "→"
    assert digest.suggestion == (
        "Tuesday family time (17:00–19:00) lost time 4 of the last 5 weeks: move it, or make it `hard`."
    )
    text = dg.render_text(digest)
    assert text.startswith("Week 2026-W50 (Mon 07 Dec – Sun 13 Dec), against the previous 4 weeks:")
    assert "Suggestion: Tuesday family time" in text


def test_suggestion_rules_in_order() -> None:
    """Overdue debt comes next, then low focus, then a drop in kept %, else keep the week."""
    from idealweek.review import ReviewRow

    rows = [ReviewRow(f"2026-W{40 + i}", 750, kept_min=750, focus_target_min=240, focus_kept_min=240) for i in range(4)]
    assert dg.suggest(SETTINGS, rows, {}, {}).startswith("All protected time was kept")
    assert dg.suggest(SETTINGS, rows, {}, {"health": 45}).startswith("0.8 h of debt is overdue (most of it exercise)")
    low_focus = [*rows[:3], ReviewRow("2026-W43", 750, kept_min=750, focus_target_min=240, focus_kept_min=120)]
    assert dg.suggest(SETTINGS, low_focus, {}, {}).startswith("Focus: 2.0 h kept of the 4.0 h target")
    drop = [*rows[:3], ReviewRow("2026-W43", 750, kept_min=600, lost_min=150, focus_target_min=0)]
    assert dg.suggest(SETTINGS, drop, {}, {}).startswith("Kept 80% of the protected time, down from 100%")
    hard = {w.week: [{"category": "family", "weekday": 2, "start": "15:00", "end": "15:30", "policy": "hard",
                      "minutes": 30}] for w in rows[1:]}  # fmt: skip
    assert dg.suggest(SETTINGS, rows, hard, {}) == (
        "Wednesday family time (15:00–15:30) was booked over 3 of the last 3 weeks although it is `hard`: move it."
    )


def test_digest_is_sent_once_and_written_as_a_page(history: Store, tmp_path: Path) -> None:
    """The digest job sends the due digest once through the channel and writes digest.html (mode 600)."""
    sink = AlertSink()
    try:
        s = loads(BASE_TOML.format(zone="Europe/Berlin", focus="4h") + f'\n[alerts]\nurls = ["{sink.json_url}"]\n')
        hook = AlertHook(tmp_path / "config.toml", secrets=MemoryStore())
        assert hook.digest_job(s, history, at(41, 17, 59), tmp_path) is None  # last week's is a week late
        assert hook.digest_job(s, history, at(41, 18, 0), tmp_path) == "2026-W50"
        assert hook.digest_job(s, history, at(41, 18, 1), tmp_path) == "2026-W50"
        assert hook.digest_job(s, history, at(43, 18, 1), tmp_path) is None  # more than a day late: skipped
    finally:
        sink.close()
    assert sink.titles() == ["idealweek: your week 2026-W50"]
    assert "Suggestion: Tuesday family time" in sink.received[0].message
    page = tmp_path / "digest.html"
    assert page.stat().st_mode & 0o777 == 0o600
    assert "Tuesday family time" in page.read_text()


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; `make test` does it as root)")
    return Chromium(binary, tmp_path)


def test_digest_html_renders_in_chromium(digest: dg.Digest, chromium: Chromium, tmp_path: Path) -> None:
    """The digest page: no console messages, one row per figure with a sparkline, the charts, a real picture."""
    page = tmp_path / "digest.html"
    page.write_text(dg.render_html(digest), encoding="utf-8")
    dom = chromium.dump_dom(page)
    assert dom.console == []
    assert dom.dom.count('class="figure"') == 7
    assert dom.dom.count('class="spark"') == 7 * 5
    assert dom.dom.count('class="bar" data-series="kept"') == 5
    assert "Tuesday family time" in dom.dom
    img = read_png(chromium.screenshot(page, tmp_path / "digest.png", 900, 900))
    assert len(img.colours()) > 20 and img.share_of(b"\xff\xff\xff") < 0.95
