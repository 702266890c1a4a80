"""Phase 2: intrusions (meeting time inside protected blocks) and the debts they create."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import timedelta

from idealweek import timeline
from idealweek.model import Block, Debt, Event, Interval, Intrusion, Policy
from idealweek.planner.context import Ctx
from idealweek.planner.keys import debt_id


def intrusions(
    blocks: Sequence[Block], meetings: Sequence[Event], union: Sequence[Interval], ctx: Ctx
) -> list[Intrusion]:
    """For each block, the union of meeting time inside it (rounded up)."""
    out: list[Intrusion] = []
    if not meetings:
        return out
    starts = [m.start for m in meetings]
    longest = max((m.end - m.start for m in meetings), default=timedelta(0))
    for b in blocks:
        parts = timeline.clip(union, b.interval)
        if not parts:
            continue
        lo = bisect.bisect_left(starts, b.start - longest)
        hi = bisect.bisect_left(starts, b.end)
        names = tuple(sorted({f"{m.calendar}:{m.uid}" for m in meetings[lo:hi] if m.start < b.end and m.end > b.start}))
        minutes = timeline.round_up_minutes(timeline.total(parts).total_seconds() / 60, ctx.step)
        out.append(Intrusion(block=b, start=parts[0].start, end=parts[-1].end, minutes=minutes, meetings=names))
    return out


def debts(intrusions: Sequence[Intrusion], ctx: Ctx) -> list[Debt]:
    """Debts from catch-up intrusions, merged with the final ledger.

    An intrusion whose deadline had already passed when idealweek first saw it (it happened
    more than ``within`` ago, e.g. before the first run) is history: it counts in the week's
    figures but creates no debt.  Debts seen while they could still be paid are in the ledger.
    """
    out: dict[str, Debt] = {}
    for it in intrusions:
        if it.block.policy != Policy.CATCH_UP or it.minutes <= 0:
            continue
        within = ctx.rule(it.block.category).within
        if it.start + within <= ctx.now:
            continue
        did = debt_id(it.block.id)
        out[did] = Debt(
            id=did,
            category=it.block.category,
            minutes=it.minutes,
            created=it.start,
            earliest=it.end,
            deadline=it.start + within,
            block_id=it.block.id,
            final=it.block.end <= ctx.now,
        )
    for did, d in ctx.inp.final_debts.items():
        out[did] = d  # the ledger's word is final
    return sorted(out.values(), key=lambda d: (d.created, d.id))
