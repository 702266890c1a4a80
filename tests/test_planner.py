"""The planner: intrusions, the catch-up rule, focus, mirrors — unit cases and invariants."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idealweek import timeline
from idealweek.model import DebtStatus, DesiredEvent, Event, Interval, Kind, Response, Status
from idealweek.planner import Plan, PlanInput, plan
from idealweek.reconcile import reconcile
from tests.scenario import meeting
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)  # a Monday morning
S = make_settings()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local Berlin time on 23 Nov 2026 + ``day`` days."""
    return (
        datetime(2026, 11, 23 + day, hour, minute, tzinfo=BERLIN)
        if 23 + day <= 30
        else datetime(2026, 12, 23 + day - 30, hour, minute, tzinfo=BERLIN)
    )


def run(events: Sequence[Event], now: datetime = NOW, **kw: object) -> Plan:
    return plan(PlanInput(now=now, settings=kw.pop("settings", S), events=list(events), **kw))  # type: ignore[arg-type]


def materialize(desired: Sequence[DesiredEvent]) -> list[Event]:
    """What the calendars hold after the plan was applied."""
    return [
        Event(
            calendar=d.calendar,
            uid=f"own-{d.calendar}-{d.key}",
            start=d.start,
            end=d.end,
            title=d.title,
            description=d.description,
            busy=d.busy,
            private=d.private,
            tag=d.tag,
        )
        for d in desired
    ]


def kinds(p: Plan, kind: Kind) -> list[DesiredEvent]:
    return [d for d in p.desired if d.kind == kind]


# -- intrusions ------------------------------------------------------------------------


def test_overlapping_meetings_count_once_and_round_up() -> None:
    """Two overlapping meetings in a block count as their union, rounded up to 15 minutes."""
    p = run([meeting(at(0, 17, 10), 30), meeting(at(0, 17, 30), 20)])
    [it] = p.intrusions
    assert it.minutes == 45  # 17:10–17:50 = 40 min → 45
    [debt] = p.debts
    assert debt.debt.minutes == 45


def test_hard_block_intrusion_is_a_violation_without_debt() -> None:
    """A meeting in a hard block is a boundary violation and creates no debt."""
    p = run([meeting(at(2, 15, 0), 30)])  # Wednesday school pick-up
    assert len(p.violations) == 1
    assert p.debts == ()


def test_soft_block_is_only_counted() -> None:
    """A soft block's intrusion is counted in the week's figures, nothing is owed."""
    s = make_settings(
        extra='[[protect]]\ndays = "sat"\nstart = "12:00"\nend = "13:00"\ncategory = "health"\npolicy = "soft"\n'
    )
    p = run([meeting(at(5, 12, 0), 60)], settings=s)
    assert p.debts == ()
    assert sum(w.soft_min for w in p.weeks) == 60


def test_declined_transparent_cancelled_and_tentative_rules() -> None:
    """Declined, free and cancelled events never intrude; tentative ones do unless configured off."""
    evs = [
        meeting(at(0, 17, 0), 30, response=Response.DECLINED),
        meeting(at(0, 17, 30), 30, busy=False),
        meeting(at(0, 18, 0), 30, status=Status.CANCELLED),
    ]
    assert run(evs).intrusions == ()
    tentative = [meeting(at(0, 18, 30), 30, response=Response.NEEDS_ACTION)]
    assert len(run(tentative).intrusions) == 1
    s = make_settings(extra="")
    s2 = s.model_copy(update={"catch_up": s.catch_up.model_copy(update={"count_tentative": False})})
    assert run(tentative, settings=s2).intrusions == ()


# -- catch-up --------------------------------------------------------------------------


def test_makeup_goes_in_window_after_intrusion_before_deadline() -> None:
    """The make-up is inside a family window, after the meeting, before the deadline, paying the debt."""
    p = run([meeting(at(0, 17, 30), 60)])
    [mu] = p.makeups
    assert mu.start >= at(0, 18, 30)
    assert mu.end <= at(7, 17, 30)
    local = mu.start.astimezone(BERLIN)
    assert (local.hour, local.minute) == (19, 30)  # Monday evening window 19:30–21:00
    assert mu.end - mu.start == timedelta(hours=1)
    assert dict(mu.tag.pays) == {p.debts[0].debt.id: 60}
    assert p.debts[0].status == DebtStatus.SCHEDULED


def test_large_debt_is_split_when_no_window_fits_it_whole() -> None:
    """150 minutes owed with only 90-minute evening windows before the deadline is split into pieces."""
    s = make_settings(zone="Europe/Berlin")
    cats = dict(s.categories)
    fam = cats["family"].model_copy(update={"windows": (cats["family"].windows[1],)})  # evenings only
    s = s.model_copy(update={"categories": {**cats, "family": fam}})
    p = run([meeting(at(0, 16, 30), 150)], settings=s)  # 17:00–19:00 lost = 120
    [debt] = p.debts
    assert debt.debt.minutes == 120
    assert len(p.makeups) == 2
    assert sum(int((m.end - m.start).total_seconds() // 60) for m in p.makeups) == 120
    assert all(m.end - m.start >= timedelta(minutes=30) for m in p.makeups)


def test_small_debts_of_one_category_are_merged() -> None:
    """Two 15-minute debts of one category are paid by a single 30-minute make-up block."""
    p = run([meeting(at(0, 18, 45), 15), meeting(at(1, 18, 45), 15)])
    assert len(p.debts) == 2
    assert len(p.makeups) == 1
    [mu] = p.makeups
    assert mu.end - mu.start == timedelta(minutes=30)
    assert sorted(mu.tag.pays.values()) == [15, 15]


def test_debt_without_room_before_deadline_is_overdue_and_offered_later() -> None:
    """Debt that cannot be placed before its deadline is reported overdue and gets the next free slot."""
    s = make_settings(extra="")
    s = s.model_copy(update={"catch_up": s.catch_up.model_copy(update={"within": timedelta(hours=1)})})
    p = run([meeting(at(0, 17, 30), 60)], settings=s)
    [st_] = p.debts
    assert st_.overdue and st_.status == DebtStatus.OVERDUE
    assert st_.scheduled == 60  # still booked, after the deadline


def test_debt_with_no_window_at_all_stays_open_and_reported() -> None:
    """A category with no windows cannot be paid back: the debt stays visible, never dropped."""
    s = make_settings(extra="")
    cats = dict(s.categories)
    cats["health"] = cats["health"].model_copy(update={"windows": ()})
    s = s.model_copy(update={"categories": cats})
    p = run([meeting(at(1, 7, 0), 30)], settings=s)
    [st_] = p.debts
    assert st_.unplaced == 30 and st_.status in (DebtStatus.OPEN, DebtStatus.OVERDUE)


def test_makeup_beats_focus_for_the_same_free_time() -> None:
    """When make-up and focus compete for one slot, the make-up gets it."""
    s = make_settings(focus="40h")
    cats = dict(s.categories)
    work_window = s.focus.hours
    cats["family"] = cats["family"].model_copy(update={"windows": work_window})
    s = s.model_copy(update={"categories": cats})
    p = run([meeting(at(0, 17, 0), 60)], settings=s)
    [mu] = p.makeups
    for f in p.focus:
        assert not Interval(f.start, f.end).overlaps(Interval(mu.start, mu.end))


def test_frozen_makeup_hit_by_meeting_stays_and_creates_new_debt() -> None:
    """A meeting landing on a make-up inside the freeze window leaves it in place and owes the time again."""
    first = run([meeting(at(0, 17, 30), 60)])
    owned = materialize(first.desired)
    [mu] = [e for e in owned if e.tag and e.tag.kind == Kind.MAKEUP]
    later = mu.start - timedelta(hours=1)  # inside the 2 h freeze window
    hit = meeting(mu.start, 30)
    p = run([meeting(at(0, 17, 30), 60), hit, *owned], now=later)
    assert any(m.key == mu.tag.key and m.start == mu.start for m in p.makeups)
    assert any(d.debt.id == f"debt:makeup:{mu.tag.key}" and d.debt.minutes == 30 for d in p.debts)


def test_meeting_on_movable_makeup_moves_it() -> None:
    """A meeting landing on a make-up outside the freeze window moves the make-up elsewhere."""
    base = [meeting(at(0, 17, 30), 60)]
    first = run(base)
    owned = materialize(first.desired)
    [mu] = first.makeups
    p = run([*base, meeting(mu.start, 60), *owned])
    [moved] = p.makeups
    assert moved.start != mu.start
    ops = reconcile(p.desired, owned, NOW, NOW + S.catch_up.freeze, NOW + S.horizon)
    assert {(op.kind.value, op.key) for op in ops if op.key.startswith("makeup:")} == {
        ("delete", mu.key),
        ("create", moved.key),
    }


def test_user_moved_makeup_stays_where_the_user_put_it() -> None:
    """A make-up the user moved is kept at the new time and still pays its debt."""
    base = [meeting(at(0, 17, 30), 60)]
    first = run(base)
    owned = materialize(first.desired)
    moved = []
    for e in owned:
        if e.tag and e.tag.kind == Kind.MAKEUP:
            e = dataclasses.replace(e, start=at(5, 14), end=at(5, 15))
        moved.append(e)
    p = run([*base, *moved])
    [mu] = p.makeups
    assert mu.start == at(5, 14)
    assert p.debts[0].scheduled == 60 and p.debts[0].unplaced == 0
    ops = reconcile(p.desired, moved, NOW, NOW + S.catch_up.freeze, NOW + S.horizon)
    assert [op for op in ops if op.key.startswith("makeup:")] == []


def test_waived_debt_is_not_booked_again() -> None:
    """Debt the user waived (by deleting its make-up) is not booked again."""
    base = [meeting(at(0, 17, 30), 60)]
    first = run(base)
    [mu] = first.makeups
    p = run(base, waived={first.debts[0].debt.id: 60}, tombstones={("home", mu.key): Interval(mu.start, mu.end)})
    assert p.makeups == ()
    assert p.debts[0].status == DebtStatus.WAIVED


# -- focus -------------------------------------------------------------------------------


def test_focus_meets_weekly_target_in_working_hours() -> None:
    """Focus blocks fill the weekly target in chunks inside working hours, avoiding meetings."""
    p = run([meeting(at(0, 10), 60)])
    week = [f for f in p.focus if f.start < at(7, 0)]
    assert sum(int((f.end - f.start).total_seconds() // 60) for f in week) == 240
    for f in week:
        local_s, local_e = f.start.astimezone(BERLIN), f.end.astimezone(BERLIN)
        assert local_s.weekday() < 5 and local_s.hour >= 9 and (local_e.hour, local_e.minute) <= (17, 0)
        assert f.end - f.start >= timedelta(hours=1)
        assert not Interval(f.start, f.end).overlaps(Interval(at(0, 10), at(0, 11)))


def test_free_focus_block_stays_even_if_earlier_time_frees_up() -> None:
    """A focus block that is still free stays put when an earlier slot becomes free."""
    busy = meeting(at(0, 10), 60, uid="early")
    first = run([busy])
    owned = materialize(first.desired)
    p = run(owned)  # the early meeting was cancelled
    assert {f.key for f in p.focus} == {f.key for f in first.focus}


# -- mirrors ----------------------------------------------------------------------------


def test_mirrors_copy_only_the_time_of_personal_events() -> None:
    """Mirrors are private busy events titled "Busy": no title, description or location of the source."""
    s = make_settings(
        extra='[calendars.family]\nsource = "ics"\npath = "f.ics"\nroles = ["personal"]\ncategory = "family"\n'
    )
    secret = Event(
        calendar="family",
        uid="dentist",
        start=at(3, 12),
        end=at(3, 13),
        title="Dentist: root canal",
        description="private",
        location="Clinic",
    )
    p = run([secret], settings=s)
    mirrors = [d for d in kinds(p, Kind.MIRROR) if d.start == secret.start]
    assert len(mirrors) == 1
    m = mirrors[0]
    assert (m.title, m.description, m.private, m.busy, m.calendar) == ("Busy", "", True, True, "work")
    assert "Dentist" not in repr(m)


# -- invariants (Hypothesis) --------------------------------------------------------------

meeting_specs = st.lists(
    st.tuples(st.integers(0, 13), st.integers(6 * 4, 21 * 4), st.sampled_from([15, 30, 45, 60, 90, 120])),
    max_size=25,
)


def build(specs: list[tuple[int, int, int]]) -> list[Event]:
    return [meeting(at(d, q // 4, (q % 4) * 15), length, uid=f"h{i}") for i, (d, q, length) in enumerate(specs)]


def check_no_overlap(p: Plan, events: Sequence[Event]) -> None:
    placed = sorted(
        [Interval(d.start, d.end) for d in p.desired if d.kind in (Kind.MAKEUP, Kind.FOCUS)], key=lambda iv: iv.start
    )
    for a, b in itertools.pairwise(placed):
        assert a.end <= b.start, (a, b)
    fixed = timeline.union(
        [m.interval for m in p.meetings]
        + [b.interval for b in p.blocks]
        + [e.interval for e in events if e.tag is None]
    )
    starts = [iv.start for iv in fixed]
    for iv in placed:
        assert not timeline.overlaps_any(fixed, starts, iv), iv


def check_conservation(p: Plan) -> None:
    booked: dict[str, int] = {}
    for m in p.makeups:
        for did, mins in m.tag.pays.items():
            booked[did] = booked.get(did, 0) + mins
    for stt in p.debts:
        assert stt.scheduled == booked.get(stt.debt.id, 0)
        assert stt.paid + stt.scheduled + stt.waived + stt.unplaced >= stt.debt.minutes
        assert stt.unplaced == max(stt.debt.minutes - stt.paid - stt.scheduled - stt.waived, 0)
    owed = {it.block.id: it.minutes for it in p.intrusions if it.block.policy.value == "catch-up"}
    assert {d.debt.block_id: d.debt.minutes for d in p.debts} == owed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meeting_specs)
def test_invariants_no_overlap_and_debt_conservation(specs: list[tuple[int, int, int]]) -> None:
    """No make-up or focus block overlaps a meeting, a protected block or another; every owed minute is accounted."""
    events = build(specs)
    p = run(events)
    check_no_overlap(p, events)
    check_conservation(p)
    for m in p.makeups:
        assert m.end - m.start >= S.catch_up.min_block


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meeting_specs, st.randoms(use_true_random=False))
def test_determinism_same_input_same_plan(specs: list[tuple[int, int, int]], rnd: random.Random) -> None:
    """The same input in any order gives the same plan."""
    events = build(specs)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert run(events).desired == run(shuffled).desired


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meeting_specs)
def test_idempotence_applied_plan_needs_no_operation(specs: list[tuple[int, int, int]]) -> None:
    """Once the plan is on the calendars, planning again asks for no operation."""
    events = build(specs)
    first = run(events)
    owned = materialize(first.desired)
    again = run([*events, *owned])
    ops = reconcile(again.desired, owned, NOW, NOW + S.catch_up.freeze, NOW + S.horizon)
    assert ops == []
    check_no_overlap(again, events)
    check_conservation(again)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meeting_specs, st.integers(0, 13), st.integers(0, 23 * 4))
def test_stability_unrelated_change_moves_nothing(specs: list[tuple[int, int, int]], day: int, q: int) -> None:
    """A new meeting in time nothing uses (no block, no make-up, no focus) moves no existing block."""
    events = build(specs)
    first = run(events)
    owned = materialize(first.desired)
    new = meeting(at(day, q // 4, (q % 4) * 15), 15, uid="unrelated")
    used = timeline.union(
        [Interval(d.start, d.end) for d in first.desired]
        + [b.interval for b in first.blocks]
        + [Interval(d.start, d.end) for d in first.desired]
    )
    if timeline.overlaps_any(used, [iv.start for iv in used], new.interval):
        return
    again = run([*events, new, *owned])
    before = {(d.calendar, d.key, d.start, d.end) for d in first.desired if d.kind in (Kind.MAKEUP, Kind.FOCUS)}
    after = {(d.calendar, d.key, d.start, d.end) for d in again.desired if d.kind in (Kind.MAKEUP, Kind.FOCUS)}
    assert before <= after


def test_intrusion_older_than_the_deadline_is_history_not_debt() -> None:
    """An intrusion first seen after its deadline passed counts in the figures but creates no debt."""
    s = make_settings(extra="")
    s = s.model_copy(update={"catch_up": s.catch_up.model_copy(update={"within": timedelta(days=2)})})
    p = run([meeting(at(-3, 17, 30), 60)], settings=s)  # Friday before: its 2-day deadline passed on Sunday
    assert len(p.intrusions) == 1
    assert p.debts == ()
    assert sum(w.lost_min for w in p.weeks) == 60
