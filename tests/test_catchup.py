"""The catch-up rule per category, booked exactly and told truthfully (issue 13)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from idealweek.model import Event, Kind
from idealweek.planner import Plan
from tests.scenario import meeting
from tests.scenario import settings as make_settings
from tests.test_planner import at, materialize, run


def makeup_minutes(p: Plan) -> int:
    return sum(int((m.end - m.start).total_seconds() // 60) for m in p.makeups if m.end > p.now)


def owned_of(p: Plan) -> list[Event]:
    return [e for e in materialize(p.desired) if e.tag and e.tag.kind == Kind.MAKEUP]


def replan(meetings: Sequence[Event], before: Plan) -> Plan:
    """Plan again with the previous plan's owned events on the calendars."""
    return run([*meetings, *materialize(before.desired)])


def test_debt_growing_60_to_75_extends_the_block_instead_of_adding_one() -> None:
    """60 min owed and booked; a second meeting raises it to 75: the block grows to 75, nothing else is booked."""
    first_meeting = meeting(at(0, 17, 30), 60, uid="a")
    p1 = run([first_meeting])
    assert makeup_minutes(p1) == 60
    [mu1] = p1.makeups
    p2 = replan([first_meeting, meeting(at(0, 18, 30), 15, uid="b")], p1)
    [debt] = p2.debts
    assert debt.debt.minutes == 75
    [mu2] = p2.makeups
    assert (mu2.key, mu2.start) == (mu1.key, mu1.start)  # the same block, longer
    assert mu2.end - mu2.start == timedelta(minutes=75)
    assert debt.booked == 75 and debt.scheduled == 75 and debt.surplus == 0


def test_debt_growing_when_the_block_cannot_grow_adds_only_what_is_owed() -> None:
    """90 min booked fills its window; the debt grows to 105: one more block pays the 15, and the ledger says
    it is 30 long for 15 (min_block)."""
    first = meeting(at(0, 17, 0), 90, uid="a")  # 17:00-18:30 lost: 90, booked Mon 19:30-21:00
    p1 = run([first])
    [mu1] = p1.makeups
    assert mu1.end - mu1.start == timedelta(minutes=90)
    p2 = replan([first, meeting(at(0, 18, 30), 15, uid="b")], p1)
    [debt] = p2.debts
    assert debt.debt.minutes == 105
    assert makeup_minutes(p2) == 120
    assert any(m.key == mu1.key and m.start == mu1.start and m.end == mu1.end for m in p2.makeups)
    assert debt.scheduled == 105 and debt.booked == 120
    assert (debt.surplus, debt.surplus_reason) == (15, "min_block")


def test_debt_45_then_90_then_60_ends_with_60_booked() -> None:
    """45 → 90 → 60 minutes owed ends with exactly 60 minutes booked, on the block first booked."""
    m45 = meeting(at(0, 17, 30), 45, uid="a")
    p1 = run([m45])
    [mu1] = p1.makeups
    m90 = [meeting(at(0, 17, 30), 45, uid="a"), meeting(at(0, 18, 15), 45, uid="b")]
    p2 = replan(m90, p1)
    assert p2.debts[0].debt.minutes == 90 and makeup_minutes(p2) == 90
    m60 = [meeting(at(0, 17, 30), 45, uid="a"), meeting(at(0, 18, 15), 15, uid="b")]
    p3 = replan(m60, p2)
    [debt] = p3.debts
    assert debt.debt.minutes == 60
    assert makeup_minutes(p3) == 60
    assert debt.booked == 60 and debt.scheduled == 60 and debt.surplus == 0
    assert any(m.key == mu1.key and m.start == mu1.start for m in p3.makeups)


def test_debt_45_then_90_then_60_in_two_blocks_ends_exact() -> None:
    """When the first block could not grow, 45 + 45 booked for 90 becomes 60 in total when the debt shrinks."""
    s = make_settings()
    cats = dict(s.categories)
    fam = cats["family"]
    # Monday evening 19:30-20:15 only (45 min), then the weekend
    evening = fam.windows[1].model_copy(update={"end": fam.windows[1].start.replace(hour=20, minute=15)})
    s = s.model_copy(update={"categories": {**cats, "family": fam.model_copy(update={"windows": (evening,)})}})
    m45 = [meeting(at(0, 17, 30), 45, uid="a")]
    p1 = run(m45, settings=s)
    m90 = [*m45, meeting(at(0, 18, 15), 45, uid="b")]
    p2 = run([*m90, *materialize(p1.desired)], settings=s)
    assert makeup_minutes(p2) == 90 and len(p2.makeups) == 2
    m60 = [*m45, meeting(at(0, 18, 15), 15, uid="b")]
    p3 = run([*m60, *materialize(p2.desired)], settings=s)
    [debt] = p3.debts
    assert debt.debt.minutes == 60
    # 45 stays, the second block shrinks to min_block (30) for the 15 still owed: said so in the ledger
    assert makeup_minutes(p3) == 75
    assert (debt.booked, debt.surplus, debt.surplus_reason) == (75, 15, "min_block")


def test_debt_shrinking_to_nothing_removes_the_block() -> None:
    """When the meeting is cancelled the make-up goes and nothing is booked."""
    m = meeting(at(0, 17, 30), 60, uid="a")
    p1 = run([m])
    p2 = replan([], p1)
    assert p2.makeups == () and p2.debts == ()
