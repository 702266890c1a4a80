"""``plan(PlanInput) -> Plan``: the phases in order (SPEC §3)."""

from __future__ import annotations

from idealweek import timeline
from idealweek.model import DesiredEvent, Interval
from idealweek.planner import catchup, debt, emit, figures, household
from idealweek.planner import focus as focus_phase
from idealweek.planner.context import Ctx, PlanInput
from idealweek.planner.result import Plan
from idealweek.planner.select import fixed_busy, pinned_makeup_blocks, select


def plan(inp: PlanInput) -> Plan:
    """Compute the desired owned events and the ledger for one cycle."""
    ctx = Ctx(inp)

    # 1. protected blocks, meetings, owned events
    sel = select(ctx)
    ctx.household = timeline.union(sel.household)
    blocks = sel.blocks
    owned_makeups = sel.owned_makeups

    # 2. intrusions and debts
    meeting_union = timeline.union([(m.start, m.end) for m in sel.meetings])
    intrusions = debt.intrusions([*blocks, *pinned_makeup_blocks(ctx, owned_makeups)], sel.meetings, meeting_union, ctx)
    debts = debt.debts(intrusions, ctx)

    # 3. catch-up
    busy = fixed_busy(ctx, sel)
    makeups, states, unattached = catchup.catch_up(ctx, debts, owned_makeups, busy)

    # 4. focus
    taken = timeline.union([*busy, *(Interval(m.start, m.end) for m in makeups)])
    focus, focus_weeks = focus_phase.focus(ctx, sel.owned, taken, meeting_union)

    # 5. protected-block events and mirrors
    desired: list[DesiredEvent] = []
    if ctx.blocks_cal:
        desired += emit.block_events(ctx, sel.rule_blocks, sel.owned)
    desired += makeups
    desired += focus
    desired += emit.mirrors(ctx, sel.rule_blocks, makeups, sel.personal_events)
    desired.sort(key=lambda d: (d.calendar, d.start, d.key))

    past_makeups = [e for e in owned_makeups if e.end <= ctx.now]
    weeks = figures.weeks(
        ctx, sel.rule_blocks, intrusions, [*past_makeups, *makeups], focus_weeks, meeting_union, states
    )
    return Plan(
        now=inp.now,
        desired=tuple(desired),
        blocks=tuple(blocks),
        intrusions=tuple(intrusions),
        debts=tuple(states),
        meetings=tuple(sel.meetings),
        makeups=tuple(makeups),
        focus=tuple(focus),
        weeks=tuple(weeks),
        window_start=ctx.lookback,
        notes=tuple(ctx.notes),
        unattached=unattached,
        household=tuple(ctx.household),
        together=household.together_categories(ctx),
    )
