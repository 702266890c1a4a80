"""The household (issue 18): make-ups of a together category only where everyone is free."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idealweek import timeline
from idealweek.config import Settings, loads
from idealweek.errors import ConfigError
from idealweek.model import DebtStatus, Event, Interval, Kind
from idealweek.planner import Plan, PlanInput, plan
from idealweek.planner.household import NO_JOINT_TIME
from idealweek.reconcile import reconcile
from tests.scenario import BASE_TOML, meeting
from tests.test_planner import NOW, at, build, check_conservation, check_no_overlap, materialize, meeting_specs

PARTNER = """
[calendars.partner]
source = "vdir"
path = "partner"
roles = ["household"]
"""


def household_settings(together: bool = True, extra: str = "") -> Settings:
    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h")
    if together:
        text = text.replace('title = "Family time"', 'title = "Family time"\ntogether = true')
    return loads(text + PARTNER + extra)


S = household_settings()


def busy(start: datetime, minutes: int, uid: str) -> Event:
    return meeting(start, minutes, calendar="partner", uid=uid, title="Partner busy")


def evenings(days: Sequence[int]) -> list[Event]:
    """The partner is busy every given weekday evening 19:00-21:30 (the family window is 19:30-21:00)."""
    return [busy(at(d, 19), 150, f"eve{d}") for d in days]


def run(events: Sequence[Event], s: Settings = S, now: datetime = NOW) -> Plan:
    return plan(PlanInput(now=now, settings=s, events=list(events)))


def family(p: Plan) -> list[Interval]:
    return [Interval(m.start, m.end) for m in p.makeups if m.tag.category == "family"]


def local(t: datetime) -> datetime:
    return t.astimezone(at(0, 0).tzinfo)


def test_household_busy_weekday_evenings_push_family_makeup_to_the_weekend() -> None:
    """With together = true a family make-up avoids the partner's busy evenings and lands on the weekend."""
    events = [meeting(at(0, 17), 60, uid="m1"), *evenings(range(0, 12))]
    p = run(events)
    placed = family(p)
    assert placed, p.debts
    assert all(local(iv.start).weekday() >= 5 for iv in placed), placed
    without = run(events, household_settings(together=False))
    assert any(local(iv.start).weekday() < 5 for iv in family(without))


def test_household_events_never_intrude_and_are_never_protected() -> None:
    """A partner's event inside a protected block is no intrusion, makes no debt and is mirrored nowhere."""
    p = run([busy(at(0, 17), 60, "p1"), busy(at(0, 12), 60, "p2")])
    assert p.intrusions == () and p.debts == ()
    assert not any(d.kind == Kind.MIRROR and d.start == at(0, 12) for d in p.desired)


def test_categories_without_together_ignore_the_household() -> None:
    """Only together categories care: an exercise make-up may go where the partner is busy."""
    events = [meeting(at(1, 7), 60, uid="run"), *(busy(at(d, 6), 120, f"am{d}") for d in range(0, 14))]
    p = run(events)
    health = [m for m in p.makeups if m.tag.category == "health"]
    assert health and all(6 <= local(m.start).hour < 8 for m in health)


def test_no_joint_slot_before_deadline_is_overdue_with_the_reason() -> None:
    """Household busy in every family window: the debt is overdue, says why, and nothing is placed on busy time."""
    household = [busy(at(d, 0), 24 * 60, f"day{d}") for d in range(0, 15)]
    p = run([meeting(at(0, 17), 60, uid="m1"), *household])
    assert family(p) == []
    (st_,) = p.debts
    assert st_.status == DebtStatus.OVERDUE and st_.unplaced == 60
    assert st_.reason == NO_JOINT_TIME
    check_conservation(p)
    from idealweek.alerts.triggers import debt_alerts, plan_facts

    (alert,) = debt_alerts(S, plan_facts(p, NOW)[1])
    assert NO_JOINT_TIME in alert.body


def test_household_change_moves_a_booked_makeup_outside_the_freeze() -> None:
    """A partner's new appointment on a booked family make-up moves it (a create and a delete); a frozen one stays."""
    first = run([meeting(at(0, 17), 60, uid="m1")])
    owned = materialize(first.desired)
    (booked,) = family(first)
    clash = busy(booked.start, 30, "clash")
    again = run([meeting(at(0, 17), 60, uid="m1"), *owned, clash])
    moved = family(again)
    assert moved and all(not iv.overlaps(clash.interval) for iv in moved)
    ops = reconcile(again.desired, owned, NOW, NOW + S.catch_up.freeze, NOW + S.horizon)
    makeup_ops = [op for op in ops if op.calendar == "home" and "makeup" in op.key]
    assert sorted(op.kind.value for op in makeup_ops) == ["create", "delete"]  # the move: new slot, old one gone
    # the same clash inside the freeze window: the block stays where it is
    late = booked.start - timedelta(minutes=30)
    frozen = run([meeting(at(0, 17), 60, uid="m1"), *owned, clash], now=late)
    assert booked in family(frozen)


household_specs = st.lists(
    st.tuples(st.integers(0, 13), st.integers(6 * 4, 22 * 4), st.sampled_from([30, 60, 120, 240, 600])),
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meeting_specs, household_specs)
def test_together_makeups_never_overlap_household_busy_and_debt_is_conserved(
    specs: list[tuple[int, int, int]], hspecs: list[tuple[int, int, int]]
) -> None:
    """With together = true no family make-up overlaps any household busy interval; every owed minute is
    accounted for (what cannot be placed is open or overdue)."""
    events = build(specs)
    household = [busy(at(d, q // 4, (q % 4) * 15), length, f"hh{i}") for i, (d, q, length) in enumerate(hspecs)]
    p = run([*events, *household])
    hb = timeline.union([e.interval for e in household])
    starts = [iv.start for iv in hb]
    for iv in family(p):
        assert not timeline.overlaps_any(hb, starts, iv), iv
    check_no_overlap(p, events)
    check_conservation(p)
    for stt in p.debts:
        if stt.unplaced:
            assert stt.status in (DebtStatus.OPEN, DebtStatus.OVERDUE)
    # and planning again on the applied plan changes nothing
    owned = materialize(p.desired)
    again = run([*events, *household, *owned])
    assert reconcile(again.desired, owned, NOW, NOW + S.catch_up.freeze, NOW + S.horizon) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meeting_specs, household_specs, household_specs)
def test_household_changes_after_booking_move_makeups_off_busy_time(
    specs: list[tuple[int, int, int]], before: list[tuple[int, int, int]], after: list[tuple[int, int, int]]
) -> None:
    """Booked make-ups meet new household busy time: on replanning none overlaps it and debt is still conserved."""
    events = build(specs)
    first_busy = [busy(at(d, q // 4, (q % 4) * 15), n, f"a{i}") for i, (d, q, n) in enumerate(before)]
    first = run([*events, *first_busy])
    owned = materialize(first.desired)
    later = [busy(at(d, q // 4, (q % 4) * 15), n, f"b{i}") for i, (d, q, n) in enumerate(after)]
    again = run([*events, *first_busy, *later, *owned])
    hb = timeline.union([e.interval for e in [*first_busy, *later]])
    starts = [iv.start for iv in hb]
    for iv in family(again):
        assert not timeline.overlaps_any(hb, starts, iv), iv
    check_conservation(again)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('roles = ["household", "meetings"]', "role household stands alone"),
        ('roles = ["household"]\nfree_busy = true', "free_busy applies to google, outlook and caldav"),
    ],
)
def test_household_config_mistakes_are_named(snippet: str, expected: str) -> None:
    """A household calendar with other roles, or free_busy on a local calendar, is a config error naming it."""
    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h")
    with pytest.raises(ConfigError) as info:
        loads(text + f'\n[calendars.partner]\nsource = "vdir"\npath = "p"\n{snippet}\n', "my.toml")
    assert expected in info.value.render()
    assert "calendars.partner" in info.value.render()


def test_demo_partner_busy_weekday_evenings_pushes_family_makeups_to_the_weekend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end on the demo: the partner's vdir (role household, late shifts on weekday evenings) sends every
    family make-up to the weekend, none on the partner's busy time; the week picture shows the band."""
    from idealweek.cli import main
    from idealweek.providers.vdir import VdirProvider
    from tests.test_cli import demo_copy

    config = demo_copy(tmp_path)
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    zone = ZoneInfo("Europe/Berlin")
    home = VdirProvider("home", tmp_path / "calendars" / "home", writable=False, zone=zone)
    partner = VdirProvider("partner", tmp_path / "calendars" / "partner", writable=False, zone=zone)
    family_makeups = [
        e for e in home.read_changes(None).upserts if e.tag and e.tag.kind == Kind.MAKEUP and e.tag.category == "family"
    ]
    assert family_makeups, "the demo's late meetings owe family time"
    busy_times = timeline.union([e.interval for e in partner.read_changes(None).upserts])
    for ev in family_makeups:
        assert ev.start.astimezone(zone).weekday() >= 5, ev
        assert not timeline.overlaps_any(busy_times, [iv.start for iv in busy_times], ev.interval), ev
    assert not any(e.tag for e in partner.read_changes(None).upserts), "nothing is ever written to a household calendar"
    capsys.readouterr()
    assert main(["week", "--config", str(config), "--log-level", "error"]) == 0
    out = capsys.readouterr().out
    assert "household busy" in out and "household free" in out


def test_config_check_names_a_household_without_together_and_the_reverse() -> None:
    """`config check` and doctor say when together has no household calendar, or household calendars go unused."""
    from idealweek.config import what_is_missing

    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h")
    alone = loads(text.replace('title = "Family time"', 'title = "Family time"\ntogether = true'))
    assert any("together = true but no calendar has role" in g for g in what_is_missing(alone))
    unused = household_settings(together=False)
    assert any('role "household" but no category sets together' in g for g in what_is_missing(unused))
    assert not any("household" in g for g in what_is_missing(S))


def test_free_busy_window_moves_once_a_day_so_a_clipped_period_is_no_change() -> None:
    """The free/busy window covers the horizon in whole days: a period clipped at its end reads the same all day."""
    from datetime import UTC

    from idealweek.providers.freebusy import FreeBusyProvider

    clock = [datetime(2030, 3, 4, 6, 0, tzinfo=UTC)]
    far = datetime(2030, 3, 19, 12, tzinfo=UTC)

    def query(lo: datetime, hi: datetime) -> list[Interval]:
        return [Interval(max(far, lo), min(far + timedelta(days=3), hi))]

    p = FreeBusyProvider("partner", query, horizon=timedelta(days=14), clock=lambda: clock[0])
    first = p.read_changes(None)
    lo, hi = p.window()
    assert hi - lo == timedelta(days=16) and hi >= clock[0] + timedelta(days=14)
    clock[0] = datetime(2030, 3, 4, 23, 0, tzinfo=UTC)
    again = p.read_changes(first.token)
    assert again.upserts == [] and again.removed == []


def test_busy_only_ics_link_works_as_a_household_calendar(tmp_path: Path) -> None:
    """The lowest common denominator, a busy-only ICS file (or link) with role household, pushes family make-ups
    to the weekend just like the vdir: the role, not the source, decides."""
    from idealweek.cli import main
    from idealweek.providers.vdir import VdirProvider
    from tests.test_cli import demo_copy

    config = demo_copy(tmp_path)
    busy_ics = (tmp_path / "calendars" / "partner" / "late-shift.ics").read_text().replace("Late shift", "Busy")
    (tmp_path / "partner-busy.ics").write_text(busy_ics)
    text = config.read_text().replace(
        'source = "vdir"\npath = "calendars/partner"', 'source = "ics"\npath = "partner-busy.ics"'
    )
    assert 'path = "partner-busy.ics"' in text
    config.write_text(text)
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    zone = ZoneInfo("Europe/Berlin")
    home = VdirProvider("home", tmp_path / "calendars" / "home", writable=False, zone=zone)
    family_makeups = [
        e for e in home.read_changes(None).upserts if e.tag and e.tag.kind == Kind.MAKEUP and e.tag.category == "family"
    ]
    assert family_makeups and all(e.start.astimezone(zone).weekday() >= 5 for e in family_makeups)
