"""The ledger tells the truth: per debt and per category, booked is what the calendars hold (issue 13 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from idealweek.model import Kind
from idealweek.render import render_ledger_text
from idealweek.render_status import render_status_json, render_status_text, status_data
from tests.scenario import meeting
from tests.test_engine import BERLIN, World, at


def live_makeup_minutes(world: World) -> int:
    return sum(
        int((e.end - e.start).total_seconds() // 60) for e in world.owned(world.home, Kind.MAKEUP) if e.end > world.now
    )


def test_status_json_gives_the_ledger_per_category_matching_the_calendar(tmp_path: Path) -> None:
    """After a debt grows from 60 to 75, status --json says owed 75 and booked 75 for family, and booked
    equals the make-up minutes on the calendar."""
    world = World(tmp_path)
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="a"))
    world.engine.cycle()
    world.work.user_put(meeting(at(0, 18, 30), 15, uid="b"))
    world.engine.cycle()
    report = world.engine.cycle(dry_run=True)
    data = json.loads(render_status_json(status_data(report, world.settings)))
    fam = data["ledger"]["family"]
    assert (fam["owed"], fam["booked"], fam["paid"], fam["waived"], fam["open"], fam["overdue"]) == (75, 75, 0, 0, 0, 0)
    [debt] = fam["debts"]
    assert (debt["owed"], debt["booked"], debt["surplus"], debt["status"]) == (75, 75, 0, "scheduled")
    assert sum(c["booked"] + c["unattached"] for c in data["ledger"].values()) == live_makeup_minutes(world)
    assert "family: owed 75 min, booked 75 min" in render_status_text(status_data(report, world.settings))


def test_ledger_text_names_the_min_block_rounding(tmp_path: Path) -> None:
    """A 15-minute debt booked as a 30-minute block reads "booked 30 for 15: min_block" in the ledger."""
    world = World(tmp_path)
    world.work.user_put(meeting(at(0, 18, 45), 15, uid="a"))
    report = world.engine.cycle()
    assert report.plan is not None
    text = render_ledger_text(report.plan, BERLIN)
    assert "booked 30 for 15: min_block" in text, text
    assert live_makeup_minutes(world) == 30
    data = status_data(world.engine.cycle(dry_run=True), world.settings)
    assert data["ledger"]["family"]["surplus"] == 15
    assert data["ledger"]["family"]["debts"][0]["surplus_reason"] == "min_block"


def test_frozen_make_up_whose_debt_went_away_is_unattached(tmp_path: Path) -> None:
    """A frozen make-up whose meeting was cancelled stays, and its minutes show as unattached, not lost."""
    world = World(tmp_path)
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="a"))
    world.engine.cycle()
    [mu] = world.owned(world.home, Kind.MAKEUP)
    world.now = mu.start - world.settings.catch_up.freeze / 2  # inside the freeze window
    world.work.user_delete("a")
    report = world.engine.cycle()
    data = status_data(report, world.settings)
    assert world.owned(world.home, Kind.MAKEUP)  # frozen: it stays
    assert data["ledger"]["family"]["unattached"] == live_makeup_minutes(world) == 60


def test_status_text_totals_are_the_sum_of_the_category_lines(tmp_path: Path) -> None:
    """The status "debt:" line uses the category lines' words and figures: its owed and booked are their sums."""
    world = World(tmp_path)
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="a"))
    world.work.user_put(meeting(at(1, 7, 0), 30, uid="b"))
    world.engine.cycle()
    data = status_data(world.engine.cycle(dry_run=True), world.settings)
    text = render_status_text(data)
    owed = sum(t["owed"] for t in data["ledger"].values())
    booked = sum(t["booked"] for t in data["ledger"].values())
    assert owed > 0 and f"  debt: owed {owed} min, booked {booked} min," in text, text
