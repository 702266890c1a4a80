"""Phase 3: the catch-up rule — keep valid make-up blocks, place what is still owed (SPEC §3).

Steps, each a small function over explicit values:

1. every debt starts as a :class:`Need` (owed minus paid, booked and waived);
2. pinned make-ups (frozen, started, past, or moved by the user) stay and count;
3. each category's free time is its windows minus everything fixed;
4. still-valid unpinned make-ups stay where they are (stability) and count;
5. what is still owed is bundled (small debts of one category merged, oldest first)
   and placed: whole before the deadline, else split, else after it (overdue).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from idealweek import timeline
from idealweek.model import Debt, DebtState, DesiredEvent, Event, Interval, Kind, OwnedTag
from idealweek.planner.context import Ctx
from idealweek.planner.emit import keep
from idealweek.planner.keys import base_key, makeup_category, makeup_key
from idealweek.week import expand_windows


@dataclass
class Need:
    """How one debt stands while the catch-up phase works on it."""

    debt: Debt
    paid: int = 0
    scheduled: int = 0
    waived: int = 0
    overdue_scheduled: int = 0

    @property
    def remaining(self) -> int:
        return max(self.debt.minutes - self.paid - self.scheduled - self.waived, 0)


Needs = Mapping[str, Need]
FreeTime = dict[str, list[Interval]]
"""Category → its free time (sorted, disjoint), shrinking as blocks are placed."""


def catch_up(
    ctx: Ctx, debts: Sequence[Debt], owned_makeups: Sequence[Event], busy: list[Interval]
) -> tuple[list[DesiredEvent], list[DebtState]]:
    """The make-up blocks to have and how every debt stands."""
    inp = ctx.inp
    needs = {d.id: Need(d, paid=inp.paid_final.get(d.id, 0), waived=inp.waived.get(d.id, 0)) for d in debts}
    pinned = [ev for ev in owned_makeups if ev.tag is not None and ctx.pinned(ev)]
    for ev in pinned:
        count(ctx, needs, ev)
    desired = [keep(ev) for ev in pinned if ev.end > ctx.now and ctx.blocks_cal]
    free = category_free(ctx, timeline.union([*busy, *(ev.interval for ev in pinned)]))
    for ev in owned_makeups:
        if still_valid(ctx, needs, free, ev):
            count(ctx, needs, ev)
            desired.append(keep(ev))
            take(free, ev.interval)
    tombs = tomb_starts(ctx)
    owed = [n for n in sorted(needs.values(), key=lambda n: (n.debt.created, n.debt.id)) if n.remaining > 0]
    for group in bundle(owed, ctx.s.catch_up.min_block):
        cat = group[0].debt.category
        if cat in free and ctx.blocks_cal:
            desired += book(ctx, group, free, tombs.get(cat, frozenset()))
    return desired, debt_states(ctx, needs.values())


def count(ctx: Ctx, needs: Needs, ev: Event) -> None:
    """Count an owned make-up that stays: paid if it has passed, scheduled otherwise."""
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
            if ev.end > n.debt.deadline:
                n.overdue_scheduled += mins


def category_free(ctx: Ctx, fixed: Sequence[Interval]) -> FreeTime:
    """Each category's allowed windows (from the freeze on) minus everything fixed."""
    lo = max(ctx.now, ctx.freeze_until)
    free: FreeTime = {}
    for name, category in ctx.s.categories.items():
        win = timeline.union(expand_windows(category.windows, lo, ctx.horizon_end, ctx.zone))
        free[name] = timeline.subtract(win, fixed)
    return free


def take(free: FreeTime, iv: Interval) -> None:
    """A block now occupies ``iv``: no category may use it."""
    for fl in free.values():
        timeline.remove(fl, iv)


def still_valid(ctx: Ctx, needs: Needs, free: FreeTime, ev: Event) -> bool:
    """An unpinned future make-up that is still wholly free in its category and pays only what is owed."""
    tag = ev.tag
    if tag is None or ctx.pinned(ev) or ev.end <= ctx.now:
        return False
    cat_free = free.get(tag.category)
    if not ctx.blocks_cal or ev.calendar != ctx.blocks_cal or cat_free is None or not tag.pays:
        return False
    inside = timeline.clip(cat_free, ev.interval)
    if not (len(inside) == 1 and inside[0] == ev.interval):
        return False
    for did, mins in tag.pays.items():
        n = needs.get(did)
        if n is None or n.remaining < mins or ev.start < n.debt.earliest:
            return False
    return True


def tomb_starts(ctx: Ctx) -> dict[str, frozenset[datetime]]:
    """Per category, the starts of make-up slots the user deleted: never offered again (their key is burnt)."""
    out: dict[str, set[datetime]] = defaultdict(set)
    for (cal, key), iv in ctx.inp.tombstones.items():
        cat = makeup_category(key)
        if cal == ctx.blocks_cal and cat is not None and iv is not None:
            out[cat].add(iv.start)
    return {cat: frozenset(starts) for cat, starts in out.items()}


def bundle(needs: Sequence[Need], min_block: timedelta) -> list[list[Need]]:
    """Group small debts of one category (oldest first) until a bundle reaches ``min_block``."""
    mb = int(min_block.total_seconds() // 60)
    open_bundle: dict[str, list[Need]] = {}
    out: list[list[Need]] = []
    for n in needs:
        cat = n.debt.category
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


def book(ctx: Ctx, group: Sequence[Need], free: FreeTime, skip: frozenset[datetime]) -> list[DesiredEvent]:
    """Place one bundle and return its make-up events; the needs count what they book."""
    cu = ctx.s.catch_up
    s = ctx.s
    cat = group[0].debt.category
    out: list[DesiredEvent] = []
    for iv, pays, late in place(ctx, group, free[cat], skip):
        tag = OwnedTag(
            key=makeup_key(cat, iv.start),
            kind=Kind.MAKEUP,
            planned_start=iv.start,
            planned_end=iv.end,
            category=cat,
            pays=pays,
        )
        out.append(
            DesiredEvent(
                calendar=ctx.blocks_cal,
                tag=tag,
                start=iv.start,
                end=iv.end,
                title=f"{cu.title_prefix}{s.category_title(cat)}",
                description="Make-up block booked by idealweek: time a meeting took from your "
                f"{s.category_title(cat).lower()} time, given back.",
                private=True,
            )
        )
        needs = {n.debt.id: n for n in group}
        for did, mins in pays.items():
            needs[did].scheduled += mins
            if late:
                needs[did].overdue_scheduled += mins
        take(free, iv)
    return out


@dataclass
class Placement:
    """One bundle being placed: what each debt still needs and the pieces found so far."""

    ids: list[str]
    left: list[int]
    cat_free: list[Interval]
    earliest: datetime
    skip: frozenset[datetime]
    placed: list[tuple[Interval, dict[str, int], bool]] = field(default_factory=list)

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

    def add(self, iv: Interval, minutes: int, late: bool) -> None:
        self.placed.append((iv, self.allocate(minutes), late))
        timeline.remove(self.cat_free, iv)


def place(
    ctx: Ctx, group: Sequence[Need], cat_free: list[Interval], skip: frozenset[datetime]
) -> list[tuple[Interval, dict[str, int], bool]]:
    """Place one bundle: whole before the deadline, else split, else after the deadline (overdue)."""
    p = Placement(
        ids=[n.debt.id for n in group],
        left=[n.remaining for n in group],
        cat_free=cat_free,
        earliest=max([ctx.freeze_until, ctx.now, *(n.debt.earliest for n in group)]),
        skip=skip,
    )
    deadline = min(n.debt.deadline for n in group)
    left = place_before(ctx, p, sum(p.left), min(deadline, ctx.horizon_end), late=False)
    if left > 0:
        place_before(ctx, p, left, ctx.horizon_end, late=True)
    return p.placed


def place_before(ctx: Ctx, p: Placement, remaining: int, hi: datetime, late: bool) -> int:
    """Place ``remaining`` minutes ending by ``hi``: in one block if a slot fits, else in pieces of at
    least ``min_block``.  Returns the minutes that found no room."""
    if remaining <= 0:
        return 0
    mb = ctx.s.catch_up.min_block
    step = ctx.step
    length = max(timedelta(minutes=remaining), mb)
    whole = timeline.find_slot(p.cat_free, length, p.earliest, hi, step, ctx.zone, ctx.latest, p.skip)
    if whole is not None:
        p.add(whole, remaining, late)
        return 0
    mbm = int(mb.total_seconds() // 60)
    while remaining >= 2 * mbm or (p.placed and remaining >= mbm):
        piece = timeline.largest_piece(p.cat_free, p.earliest, hi, mb, step, ctx.zone, ctx.latest)
        if piece is None:
            break
        if piece.start in p.skip:
            piece = Interval(piece.start + step, piece.end)
            if piece.duration < mb:
                break
        mins = min(piece.minutes, remaining)
        if 0 < remaining - mins < mbm:
            mins = remaining - mbm
        if mins < mbm:
            break
        iv = (
            Interval(piece.end - timedelta(minutes=mins), piece.end)
            if ctx.latest
            else Interval(piece.start, piece.start + timedelta(minutes=mins))
        )
        p.add(iv, mins, late)
        remaining -= mins
    return remaining


def debt_states(ctx: Ctx, needs: Iterable[Need]) -> list[DebtState]:
    """The ledger line of every debt, oldest first."""
    states: list[DebtState] = []
    for n in needs:
        rem = n.remaining
        overdue = (rem > 0 and n.debt.deadline <= ctx.now) or n.overdue_scheduled > 0
        if rem > 0 and n.debt.deadline > ctx.now:
            # could not be placed before the deadline within the horizon → reported as overdue-to-be
            overdue = overdue or n.debt.deadline <= ctx.horizon_end
        states.append(
            DebtState(debt=n.debt, paid=n.paid, scheduled=n.scheduled, waived=n.waived, unplaced=rem, overdue=overdue)
        )
    states.sort(key=lambda st: (st.debt.created, st.debt.id))
    return states
