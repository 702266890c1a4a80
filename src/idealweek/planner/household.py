"""The household (issue 18): make-ups of a ``together`` category only where everyone is free.

``household`` calendars are other people's busy time.  They never intrude and are never protected;
for a category with ``together = true`` their busy time is taken out of the category's free time,
so a make-up of it is placed, kept or moved only where the user *and every household calendar* are
free.  A debt that finds no such time before its deadline is overdue, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from idealweek import timeline
from idealweek.model import DebtState, DebtStatus, Interval, Role
from idealweek.planner.context import Ctx
from idealweek.week import expand_windows

NO_JOINT_TIME = "no time when the household is free"


def together(ctx: Ctx, category: str) -> bool:
    """Make-ups of ``category`` need the whole household free."""
    cat = ctx.s.categories.get(category)
    return cat is not None and cat.together


def together_categories(ctx: Ctx) -> frozenset[str]:
    """The together categories, when there is a household calendar at all."""
    if not ctx.s.calendars_with(Role.HOUSEHOLD):
        return frozenset()
    return frozenset(name for name, cat in ctx.s.categories.items() if cat.together)


def joint(ctx: Ctx, category: str, free: list[Interval]) -> list[Interval]:
    """``free`` (the user's free time in the category's windows) minus household busy time for a together
    category; unchanged otherwise."""
    if not ctx.household or not together(ctx, category):
        return free
    return timeline.subtract(free, ctx.household)


def explain_overdue(ctx: Ctx, states: Sequence[DebtState], busy: Sequence[Interval]) -> list[DebtState]:
    """Overdue debts of a together category that the user alone could have made up in time get the reason
    :data:`NO_JOINT_TIME` (the household's busy time took every slot)."""
    out: list[DebtState] = []
    for st in states:
        overdue = st.status == DebtStatus.OVERDUE and not st.reason
        if overdue and ctx.household and together(ctx, st.debt.category) and _alone_had_room(ctx, st, busy):
            st = replace(st, reason=NO_JOINT_TIME)
        out.append(st)
    return out


def _alone_had_room(ctx: Ctx, st: DebtState, busy: Sequence[Interval]) -> bool:
    """Some slot of ``min_block`` in the category's windows was free for the user alone before the deadline."""
    lo = max(ctx.now, ctx.freeze_until, st.debt.earliest)
    hi = min(st.debt.deadline, ctx.horizon_end)
    if hi <= lo:
        return False
    category = ctx.s.categories[st.debt.category]
    win = timeline.union(expand_windows(category.windows, lo, hi, ctx.zone))
    alone = timeline.subtract(timeline.clip(win, Interval(lo, hi)), list(busy))
    need = max(ctx.rule(st.debt.category).min_block, timedelta(minutes=1))
    return any(iv.duration >= need for iv in alone)
