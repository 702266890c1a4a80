"""Schedule experiments: the version of the ideal week per week, and `review --compare` averages checked by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idealweek import experiments as ex
from idealweek.config import Settings, loads
from idealweek.records import version_of
from idealweek.review import ReviewRow
from idealweek.store import Store
from tests.browser import Chromium, find_chromium, read_png
from tests.history import run_history
from tests.scenario import BASE_TOML

A = loads(BASE_TOML.format(zone="Europe/Berlin", focus="4h"))
B = loads('experiment = "more-focus"\n' + BASE_TOML.format(zone="Europe/Berlin", focus="6h"))
SWITCH = 21
"""Monday of W48: W45-W47 run version A, W48-W50 version B."""


def settings_for(day: int) -> Settings:
    return A if day < SWITCH else B


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, datetime]]:
    store, now = run_history(tmp_path_factory.mktemp("experiments"), settings_for, 43)  # to Monday of W51
    yield store, now
    store.close()


def test_version_is_a_hash_of_rules_categories_and_focus() -> None:
    """Names, calendars and alerts do not change the version; focus settings do."""
    assert version_of(A) != version_of(B)
    renamed = loads('experiment = "x"\n' + BASE_TOML.format(zone="Europe/Berlin", focus="4h") + "\n[alerts]\n")
    assert version_of(renamed) == version_of(A)
    assert len(version_of(A)) == 8


def test_each_week_records_the_version_in_force(history: tuple[Store, datetime]) -> None:
    """One writing cycle a day: 7 cycles of A in W45-W47, of B in W48-W50, one of B in W51 so far."""
    store, _now = history
    va, vb = version_of(A), version_of(B)
    wv = store.week_versions()
    assert {w: dict(c) for w, c in wv.items()} == {
        "2026-W45": {va: 7},
        "2026-W46": {va: 7},
        "2026-W47": {va: 7},
        "2026-W48": {vb: 7},
        "2026-W49": {vb: 7},
        "2026-W50": {vb: 7},
        "2026-W51": {vb: 1},
    }
    assert store.versions()[vb][0] == "more-focus" and store.versions()[va][0] == ""


def test_compare_averages_match_the_hand_count(history: tuple[Store, datetime]) -> None:
    """A: kept 690+690+690 of 3x750 = 92.0%, lost 1.0 h, made up (60+60+30)/3 = 0.83 h, 1/3 violation, focus 4 h;
    B: kept 720+750+660 of 3x750 = 94.7%, lost (30+0+90)/3 = 0.67 h, made up 0.67 h, no violation, focus 6 h."""
    store, now = history
    c = ex.compare_from_store(store, B, now)
    assert set(c.unrecorded) <= {"2026-W44"}  # at most the week before the first run: seen, never run
    a, b = c.versions
    assert (a.label, a.weeks) == (f"{version_of(A)} (unnamed)", ("2026-W45", "2026-W46", "2026-W47"))
    assert (b.label, b.weeks) == ("more-focus", ("2026-W48", "2026-W49", "2026-W50"))
    assert (a.kept_pct, a.lost_h, a.made_up_h, a.violations) == (92.0, 1.0, 0.83, 0.33)
    assert (a.planned_h, a.kept_h, a.focus_kept_h, a.focus_target_h, a.overdue_h) == (12.5, 11.5, 4.0, 4.0, 0.0)
    assert (b.kept_pct, b.lost_h, b.made_up_h, b.violations) == (94.7, 0.67, 0.67, 0.0)
    assert (b.planned_h, b.kept_h, b.focus_kept_h, b.focus_target_h) == (12.5, 11.83, 6.0, 6.0)
    assert a.totals["kept_min"] == 2070 and b.totals["kept_min"] == 2130


def test_compare_views(history: tuple[Store, datetime]) -> None:
    """The terminal shows the versions side by side with their week counts; JSON carries the same figures."""
    store, now = history
    c = ex.compare_from_store(store, B, now)
    text = ex.render_text(c)
    head = text.splitlines()[0].split()
    assert head == [version_of(A), "(unnamed)", "more-focus"]
    assert any(line.split() == ["weeks", "3", "3"] for line in text.splitlines())
    assert any(line.split() == ["kept", "%", "92%", "95%"] for line in text.splitlines())
    data = json.loads(ex.render_json(c))
    assert [v["n_weeks"] for v in data["versions"]] == [3, 3]
    assert data["versions"][1]["name"] == "more-focus" and data["unrecorded"] == list(c.unrecorded)


def test_mixed_week_counts_for_the_version_that_ran_most_and_names_can_repeat() -> None:
    """A week with 5 cycles of x and 2 of y belongs to x and is marked mixed; a reused name gets the hash."""
    rows = [ReviewRow("2026-W01", 600, kept_min=600), ReviewRow("2026-W02", 600, kept_min=300, lost_min=300)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    c = ex.compare(rows, {"2026-W01": {"x": 5, "y": 2}, "2026-W02": {"y": 7}}, {"x": ("trial", t0), "y": ("trial", t0)})
    x, y = c.versions
    assert (x.label, x.mixed, x.kept_pct) == ("trial (x)", ("2026-W01",), 100.0)
    assert (y.label, y.kept_pct, y.lost_h) == ("trial (y)", 50.0, 5.0)


def test_review_compare_command_on_the_seeded_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's seeded history has two versions; `idealweek review --compare --json` shows both, 3 weeks each."""
    from demo.seed_history import EXPERIMENT, seed

    from idealweek.cli import main

    seed(tmp_path / "run", 6, datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    capsys.readouterr()
    assert main(["review", "--compare", "--json", "--config", str(tmp_path / "run" / "config.toml")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [v["n_weeks"] for v in data["versions"]] == [3, 3]
    assert data["versions"][1]["label"] == EXPERIMENT
    assert data["versions"][1]["violations"] > data["versions"][0]["violations"]  # the evenings became hard
    assert all(v["lost_h"] > 0 and v["focus_kept_h"] > 0 for v in data["versions"])  # every seeded week was lived


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; `make test` does it as root)")
    return Chromium(binary, tmp_path)


def test_compare_html_renders_in_chromium(history: tuple[Store, datetime], chromium: Chromium, tmp_path: Path) -> None:
    """The compare page: no console messages, one bar per version in each of the 7 charts, the version colours."""
    store, now = history
    page = tmp_path / "compare.html"
    page.write_text(ex.render_html(ex.compare_from_store(store, B, now)), encoding="utf-8")
    dom = chromium.dump_dom(page)
    assert dom.console == []
    assert dom.dom.count('class="chart"') == 7
    assert dom.dom.count(f'data-version="{version_of(B)}"') == 7
    img = read_png(chromium.screenshot(page, tmp_path / "compare.png", 1200, 900))
    colours = img.colours()
    assert bytes.fromhex(ex.PALETTE[0][1:]) in colours and bytes.fromhex(ex.PALETTE[1][1:]) in colours
