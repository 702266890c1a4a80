"""Placing what is still owed: bundles of one category's debts, oldest first, in new make-up blocks.

A bundle goes whole into the first (or last, with ``prefer = "latest"``) fitting slot before the
earliest deadline of its debts; else it is split into pieces of at least ``min_block``; else it
goes after the deadline (and is reported overdue).  A block is longer than what it pays only when
what is owed is shorter than ``min_block`` — the one documented rounding.  With ``max_per_day``
no local day gets more make-up of the category than that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from idealweek import timeline
from idealweek.config import CatchUpRule
from idealweek.model import Interval
from idealweek.planner.booking import DayUse, FreeTime, Makeup, Need, debt_order, take
from idealweek.planner.context import Ctx


def minutes(d: timedelta) -> int:
    return int(d.total_seconds() // 60)


def bundle(ctx: Ctx, needs: Sequence[Need]) -> list[list[Need]]:
    """Group small debts of one category (oldest first) until a bundle reaches the category's ``min_block``."""
    open_bundle: dict[str, list[Need]] = {}
    out: list[list[Need]] = []
    for n in needs:
        cat = n.debt.category
        mb = minutes(ctx.rule(cat).min_block)
        if n.remaining >= mb and cat not in open_bundle:
            out.append([n])
            continue
        b = open_bundle.setdefault(cat, [])
        if not b:
            out.append(b)
        b.append(n)
        if sum(x.remaining for x in b) >= mb:
            del open_bundle[cat]
    return [b for b in out if b]


def place_owed(
    ctx: Ctx,
    needs: Sequence[Need],
    free: FreeTime,
    use: DayUse,
    tombs: dict[str, frozenset[datetime]],
) -> list[Makeup]:
    """New make-up blocks for everything still owed; the needs count what they book."""
    owed = [n for n in sorted(needs, key=debt_order) if n.remaining > 0]
    out: list[Makeup] = []
    if not ctx.blocks_cal:
        return out
    for group in bundle(ctx, owed):
        cat = group[0].debt.category
        if cat not in free:
            continue
        p = Placement.of(ctx, group, free[cat], tombs.get(cat, frozenset()), use)
        place(ctx, p, min(n.debt.deadline for n in group))
        by_id = {n.debt.id: n for n in group}
        for iv, pays in p.placed:
            for did, mins in pays.items():
                by_id[did].scheduled += mins
            take(free, iv)
            out.append(Makeup(cat, iv.start, iv.end, pays))
    return out


@dataclass
class Placement:
    """One bundle being placed: what each debt still needs and the blocks found so far."""

    category: str
    rule: CatchUpRule
    ids: list[str]
    left: list[int]
    cat_free: list[Interval]
    earliest: datetime
    skip: frozenset[datetime]
    use: DayUse
    placed: list[tuple[Interval, dict[str, int]]] = field(default_factory=list)

    @classmethod
    def of(
        cls, ctx: Ctx, group: Sequence[Need], cat_free: list[Interval], skip: frozenset[datetime], use: DayUse
    ) -> Placement:
        cat = group[0].debt.category
        return cls(
            category=cat,
            rule=ctx.rule(cat),
            ids=[n.debt.id for n in group],
            left=[n.remaining for n in group],
            cat_free=cat_free,
            earliest=max([ctx.freeze_until, ctx.now, *(n.debt.earliest for n in group)]),
            skip=skip,
            use=use,
        )

    @property
    def latest(self) -> bool:
        return self.rule.prefer == "latest"

    def free_for(self, length: int) -> list[Interval]:
        """The category's free time on days that can still take ``length`` minutes."""
        return self.use.view(self.category, self.cat_free, length)

    def allocate(self, minutes: int) -> dict[str, int]:
        """Share ``minutes`` among the bundle's debts, oldest first."""
        pays: dict[str, int] = {}
        left = minutes
        for i, did in enumerate(self.ids):
            if left <= 0:
                break
            part = min(self.left[i], left)
            if part > 0:
                pays[did] = part
                self.left[i] -= part
                left -= part
        return pays

    def add(self, iv: Interval, minutes: int) -> None:
        self.placed.append((iv, self.allocate(minutes)))
        timeline.remove(self.cat_free, iv)
        self.use.add(self.category, iv)


def place(ctx: Ctx, p: Placement, deadline: datetime) -> None:
    """Before the deadline if there is room, else after it (overdue)."""
    left = place_before(ctx, p, sum(p.left), min(deadline, ctx.horizon_end))
    if left > 0:
        place_before(ctx, p, left, ctx.horizon_end)


def place_before(ctx: Ctx, p: Placement, remaining: int, hi: datetime) -> int:
    """Place ``remaining`` minutes ending by ``hi``: in one block if a slot fits, else in pieces of at
    least ``min_block``.  Returns the minutes that found no room."""
    if remaining <= 0:
        return 0
    mb = p.rule.min_block
    mbm = minutes(mb)
    step = ctx.step
    length = max(timedelta(minutes=remaining), mb)
    whole = timeline.find_slot(p.free_for(minutes(length)), length, p.earliest, hi, step, ctx.zone, p.latest, p.skip)
    if whole is not None:
        p.add(whole, remaining)
        return 0
    while remaining >= 2 * mbm or (p.placed and remaining >= mbm):
        piece = timeline.largest_piece(p.free_for(mbm), p.earliest, hi, mb, step, ctx.zone, p.latest)
        if piece is None:
            break
        if piece.start in p.skip:
            piece = Interval(piece.start + step, piece.end)
            if piece.duration < mb:
                break
        cap = p.use.left(p.category, piece.start)
        mins = min(piece.minutes, remaining, remaining if cap is None else cap)
        if 0 < remaining - mins < mbm:
            mins = remaining - mbm
        if mins < mbm:
            break
        iv = (
            Interval(piece.end - timedelta(minutes=mins), piece.end)
            if p.latest
            else Interval(piece.start, piece.start + timedelta(minutes=mins))
        )
        p.add(iv, mins)
        remaining -= mins
    return remaining
