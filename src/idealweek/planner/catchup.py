"""Phase 3: the catch-up rule — make-up blocks that pay exactly what is owed (SPEC §3, issue 13).

Steps, each a small function over explicit values:

1. every debt starts as a :class:`~idealweek.planner.booking.Need` (owed minus paid and waived);
2. pinned make-ups (frozen, started, past, or moved by the user) stay exactly as they are and count;
3. each category's free time is its windows minus everything fixed;
4. unpinned make-ups still wholly free stay where they are (stability), paying no more than is
   still owed: a block whose debt shrank is shortened (to no less than ``min_block``) or removed;
5. a block left paying less than ``min_block`` hands its minutes to a sibling of its category
   (into the sibling's rounding, else by lengthening it when the time after it is free);
6. a debt that grew is paid by a block already paying it: in its rounding, else by lengthening it;
7. what is still owed is placed in new blocks (:mod:`idealweek.planner.place`);
8. steps 5-7 repeat until nothing changes, so the plan is a fixed point (idempotence).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from idealweek import timeline
from idealweek.model import Debt, DebtState, DesiredEvent, Event, Interval
from idealweek.planner import household
from idealweek.planner.booking import (
    DayUse,
    FreeTime,
    Makeup,
    Need,
    debt_order,
    fits,
    give_back,
    needs_of,
    ordered_pays,
    take,
)
from idealweek.planner.context import Ctx
from idealweek.planner.keys import base_key, makeup_category
from idealweek.planner.ledger import debt_states
from idealweek.planner.place import minutes, place_owed
from idealweek.week import expand_windows


def catch_up(
    ctx: Ctx, debts: Sequence[Debt], owned_makeups: Sequence[Event], busy: list[Interval]
) -> tuple[list[DesiredEvent], list[DebtState], dict[str, int]]:
    """The make-up blocks to have, how every debt stands, and live make-up minutes paying no known debt."""
    needs = needs_of(ctx, debts)
    pinned = [ev for ev in owned_makeups if ev.tag is not None and ctx.pinned(ev)]
    for ev in pinned:
        count_pinned(ctx, needs, ev)
    live = [Makeup.of(ev, pinned=True) for ev in pinned if ev.end > ctx.now and ctx.blocks_cal]
    free = category_free(ctx, timeline.union([*busy, *(ev.interval for ev in pinned)]))
    use = DayUse(ctx)
    for m in live:
        use.add(m.category, m.interval)
    movable = keep_valid(ctx, needs, free, use, owned_makeups)
    tombs = tomb_starts(ctx)
    # Until nothing changes: fold small blocks into siblings, grow blocks for debts that grew, place
    # the rest.  The result is a fixed point, so planning again on it changes nothing (idempotence).
    while True:
        changed = fold_small(ctx, needs, free, use, movable)
        changed = grow(ctx, needs, free, use, movable) or changed
        new = place_owed(ctx, list(needs.values()), free, use, tombs)
        movable += new
        if not (changed or new):
            break
    live += movable
    states, unattached = debt_states(ctx, needs, live)
    states = household.explain_overdue(ctx, states, busy)
    return [m.desired(ctx) for m in live], states, unattached


def count_pinned(ctx: Ctx, needs: Mapping[str, Need], ev: Event) -> None:
    """A pinned make-up counts as it is: paid if it has passed, scheduled otherwise."""
    assert ev.tag is not None
    if base_key(ev.tag.key) in ctx.inp.recorded_payments:
        return  # already in ``paid_final``
    for did, mins in ev.tag.pays.items():
        n = needs.get(did)
        if n is None:
            continue
        if ev.end <= ctx.now:
            n.paid += mins
        else:
            n.scheduled += mins


def category_free(ctx: Ctx, fixed: Sequence[Interval]) -> FreeTime:
    """Each category's allowed windows (from the freeze on) minus everything fixed."""
    lo = max(ctx.now, ctx.freeze_until)
    free: FreeTime = {}
    for name, category in ctx.s.categories.items():
        win = timeline.union(expand_windows(category.windows, lo, ctx.horizon_end, ctx.zone))
        free[name] = household.joint(ctx, name, timeline.subtract(win, fixed))
    return free


def tomb_starts(ctx: Ctx) -> dict[str, frozenset[datetime]]:
    """Per category, the starts of make-up slots the user deleted: never offered again (their key is burnt)."""
    out: dict[str, set[datetime]] = defaultdict(set)
    for (cal, key), iv in ctx.inp.tombstones.items():
        cat = makeup_category(key)
        if cal == ctx.blocks_cal and cat is not None and iv is not None:
            out[cat].add(iv.start)
    return {cat: frozenset(starts) for cat, starts in out.items()}


def length_for(ctx: Ctx, category: str, owed: int) -> int:
    """Minutes of a block paying ``owed``: what is owed, rounded up to ``min_block`` and the granularity."""
    mb = minutes(ctx.rule(category).min_block)
    return timeline.round_up_minutes(max(owed, mb), ctx.step)


def keep_valid(
    ctx: Ctx, needs: Mapping[str, Need], free: FreeTime, use: DayUse, owned: Sequence[Event]
) -> list[Makeup]:
    """Unpinned future make-ups still wholly free stay, paying what is still owed (shortened when less)."""
    kept: list[Makeup] = []
    for ev in owned:
        tag = ev.tag
        if tag is None or ctx.pinned(ev) or ev.end <= ctx.now or not ctx.blocks_cal:
            continue
        if ev.calendar != ctx.blocks_cal or not tag.pays or not fits(free, tag.category, ev.interval):
            continue
        pays: dict[str, int] = {}
        for did, mins in ordered_pays(tag.pays, needs):
            n = needs[did]
            part = min(mins, n.remaining)
            if part > 0 and ev.start >= n.debt.earliest:
                pays[did] = part
                n.scheduled += part
        if not pays:
            continue  # nothing left to pay: the block goes
        m = Makeup.of(ev, pinned=False)
        m.pays = pays
        m.end = min(ev.end, ev.start + timedelta_min(length_for(ctx, m.category, m.owed)))
        take(free, m.interval)
        use.add(m.category, m.interval)
        kept.append(m)
    return kept


def fold_small(ctx: Ctx, needs: Mapping[str, Need], free: FreeTime, use: DayUse, blocks: list[Makeup]) -> bool:
    """A block paying less than ``min_block`` hands its minutes to a sibling that can take them (in its
    rounding, or by growing).  Returns whether a block was folded (``blocks`` loses it)."""
    changed = False
    for m in list(blocks):
        if m.owed >= minutes(ctx.rule(m.category).min_block):
            continue
        give_back(free, m.category, m.interval)
        use.remove(m.category, m.interval)
        debts = [needs[did].debt for did in m.pays]
        for h in blocks:
            if h is m or h.category != m.category:
                continue
            if absorb(ctx, free, use, h, m.owed, debts):
                for did, mins in m.pays.items():
                    h.pays[did] = h.pays.get(did, 0) + mins
                blocks.remove(m)
                changed = True
                break
        else:
            take(free, m.interval)
            use.add(m.category, m.interval)
    return changed


def grow(ctx: Ctx, needs: Mapping[str, Need], free: FreeTime, use: DayUse, blocks: list[Makeup]) -> bool:
    """A debt that grew is paid by a block already booked for it: in its rounding, else by extending it.
    Returns whether any block now pays more."""
    changed = False
    for n in sorted(needs.values(), key=debt_order):
        did = n.debt.id
        # Only blocks that already pay this debt: the result must not depend on history (a cycle cut
        # short after some of its writes ends, on the next cycle, where an uninterrupted one would).
        for h in sorted((h for h in blocks if did in h.pays), key=lambda h: h.start):
            rem = n.remaining
            if rem <= 0:
                break
            part = rem if absorb(ctx, free, use, h, rem, [n.debt]) else min(spare(h), rem)
            if part > 0 and h.end <= n.debt.deadline:
                h.pays[did] += part
                n.scheduled += part
                changed = True
    return changed


def spare(h: Makeup) -> int:
    """Minutes of ``h`` beyond what it pays (its rounding to ``min_block``)."""
    return max(h.minutes - h.owed, 0)


def absorb(ctx: Ctx, free: FreeTime, use: DayUse, h: Makeup, by: int, debts: Sequence[Debt]) -> bool:
    """Can ``h`` pay ``by`` more minutes of ``debts``?  From its rounding first, then by lengthening it at
    its end if that time is free in its category, within the deadlines and the day's ``max_per_day``.
    Lengthens ``h`` when needed; the caller books the payment."""
    hi = min([ctx.horizon_end, *(d.deadline for d in debts)])
    if h.end > hi or any(h.start < d.earliest for d in debts):
        return False
    extra = by - spare(h)
    if extra <= 0:
        return True
    iv = Interval(h.end, h.end + timedelta_min(extra))
    if iv.end > hi or not fits(free, h.category, iv) or not use.allows(h.category, h.start, extra):
        return False
    take(free, iv)
    use.add(h.category, iv)
    h.end = iv.end
    return True


def timedelta_min(m: int) -> timedelta:
    return timedelta(minutes=m)
