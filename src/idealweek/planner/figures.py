"""Week figures: protected, lost, kept, made-up, focus, meeting and debt minutes per local ISO week."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from idealweek import timeline
from idealweek.model import Block, DebtState, DesiredEvent, Event, Interval, Intrusion, Policy
from idealweek.planner.context import Ctx
from idealweek.planner.result import WeekFigures
from idealweek.week import iso_week_bounds, iso_week_label


def weeks(
    ctx: Ctx,
    rule_blocks: Sequence[Block],
    intrusions: Sequence[Intrusion],
    makeups: Sequence[DesiredEvent | Event],
    focus_planned: Mapping[str, tuple[int, int]],
    meeting_union: Sequence[Interval],
    states: Sequence[DebtState],
) -> list[WeekFigures]:
    z = ctx.zone
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in rule_blocks:
        acc[iso_week_label(b.start, z)]["protected_min"] += int(b.interval.duration.total_seconds() // 60)
    for it in intrusions:
        if it.block.source == "makeup":
            continue
        w = acc[iso_week_label(it.block.start, z)]
        if it.block.source == "rule":
            w["lost_min"] += it.minutes
        if it.block.policy == Policy.HARD:
            w["violations"] += 1
            w["violation_min"] += it.minutes
        elif it.block.policy == Policy.SOFT:
            w["soft_min"] += it.minutes
    for d in makeups:
        acc[iso_week_label(d.start, z)]["made_up_min"] += int((d.end - d.start).total_seconds() // 60)
    for label, (planned_min, kept_min) in focus_planned.items():
        acc[label]["focus_planned_min"] = planned_min
        acc[label]["focus_kept_min"] = kept_min
    if meeting_union:
        mu = meeting_union
        wk_start, _ = iso_week_bounds(mu[0].start, z)
        while wk_start < mu[-1].end:
            _, wk_end = iso_week_bounds(wk_start, z)
            mins = int(timeline.total(timeline.clip(mu, Interval(wk_start, wk_end))).total_seconds() // 60)
            if mins:
                acc[iso_week_label(wk_start, z)]["meeting_min"] += mins
            wk_start = wk_end
    for st in states:
        w = acc[iso_week_label(st.debt.created, z)]
        if st.status.value == "overdue":
            w["debt_overdue_min"] += st.unplaced + st.scheduled
        elif st.unplaced > 0:
            w["debt_open_min"] += st.unplaced
        w["debt_waived_min"] += st.waived
        w["debt_min"] += st.debt.minutes
    target = int(ctx.s.focus.weekly_target.total_seconds() // 60)
    out = []
    for label in sorted(acc):
        w = acc[label]
        out.append(
            WeekFigures(
                week=label,
                protected_min=w["protected_min"],
                lost_min=w["lost_min"],
                kept_min=max(w["protected_min"] - w["lost_min"], 0),
                made_up_min=w["made_up_min"],
                violations=w["violations"],
                violation_min=w["violation_min"],
                soft_min=w["soft_min"],
                focus_target_min=target,
                focus_planned_min=w["focus_planned_min"],
                focus_kept_min=w["focus_kept_min"],
                meeting_min=w["meeting_min"],
                debt_min=w["debt_min"],
                debt_open_min=w["debt_open_min"],
                debt_overdue_min=w["debt_overdue_min"],
                debt_waived_min=w["debt_waived_min"],
            )
        )
    return out
