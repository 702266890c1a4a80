"""The planner: intrusions, the catch-up rule, focus and mirrors (pure).

``plan(PlanInput) -> Plan`` takes every event read from the calendars, the
ledger facts the engine keeps (final debts, recorded payments, waivers,
tombstones) and the clock, and returns the owned events that should exist
plus everything the status and statistics need.  No I/O, no clock of its own:
same input, same output.

Order of work (SPEC §3):

1. expand the ideal week and collect personal events → protected blocks;
2. select meetings, compute intrusions (union of meeting time inside a block,
   rounded up to the granularity) → debts for ``catch-up`` blocks;
3. keep existing make-up blocks that are pinned (frozen or moved by the user)
   or still valid; place the remaining debt, oldest first, in the category's
   windows before the deadline (split when needed, small debts merged);
4. keep still-free focus blocks and place more until the weekly target;
5. mirror personal time onto ``mirror`` calendars as private "Busy" events.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter

from idealweek import timeline
from idealweek.config import Settings
from idealweek.model import (
    Block,
    Debt,
    DebtState,
    DesiredEvent,
    Event,
    Interval,
    Intrusion,
    Kind,
    OwnedTag,
    Policy,
    Response,
    Role,
    Status,
)
from idealweek.week import expand_rules, expand_windows, iso_week_bounds, iso_week_label

GEN_MARK = "#g"
"""Suffix the engine adds to a key when the service refuses to reuse a burnt id."""


def base_key(key: str) -> str:
    """The planner's key of an owned event (without the engine's generation suffix)."""
    return key.split(GEN_MARK, 1)[0]


def is_moved_by_user(ev: Event) -> bool:
    """An owned event whose times differ from where idealweek put it."""
    return ev.tag is not None and (ev.start != ev.tag.planned_start or ev.end != ev.tag.planned_end)


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%MZ")


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner needs; all of it plain data."""

    now: datetime
    settings: Settings
    events: Sequence[Event]
    final_debts: Mapping[str, Debt] = field(default_factory=dict)
    """Debts whose block has passed: their minutes no longer change."""
    paid_final: Mapping[str, int] = field(default_factory=dict)
    """Debt id → minutes paid by make-up blocks already recorded as held."""
    recorded_payments: frozenset[str] = frozenset()
    """Keys of make-up blocks whose payments are in ``paid_final`` (not counted again)."""
    waived: Mapping[str, int] = field(default_factory=dict)
    """Debt id → minutes the user waived by deleting make-up blocks."""
    tombstones: Mapping[tuple[str, str], Interval | None] = field(default_factory=dict)
    """(calendar, key) of owned events the user deleted: never recreated."""


@dataclass(frozen=True)
class WeekFigures:
    """Figures for one local ISO week as far as the plan knows them."""

    week: str
    protected_min: int = 0
    lost_min: int = 0
    kept_min: int = 0
    made_up_min: int = 0
    violations: int = 0
    violation_min: int = 0
    soft_min: int = 0
    focus_target_min: int = 0
    focus_planned_min: int = 0
    focus_kept_min: int = 0
    meeting_min: int = 0
    debt_min: int = 0
    debt_open_min: int = 0
    debt_overdue_min: int = 0
    debt_waived_min: int = 0


@dataclass(frozen=True)
class Plan:
    """The planner's answer."""

    now: datetime
    desired: tuple[DesiredEvent, ...]
    blocks: tuple[Block, ...]
    intrusions: tuple[Intrusion, ...]
    debts: tuple[DebtState, ...]
    meetings: tuple[Event, ...]
    makeups: tuple[DesiredEvent, ...]
    focus: tuple[DesiredEvent, ...]
    weeks: tuple[WeekFigures, ...]
    window_start: datetime
    """The plan looks at events from here on: weeks starting earlier are only partly seen."""
    notes: tuple[str, ...] = ()

    @property
    def violations(self) -> tuple[Intrusion, ...]:
        return tuple(i for i in self.intrusions if i.block.policy == Policy.HARD)


# -- selection -----------------------------------------------------------------


class _Ctx:
    """Working state of one planning run."""

    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.s = inp.settings
        self.zone = self.s.zone
        self.now = inp.now
        cu = self.s.catch_up
        self.step = cu.granularity
        self.freeze_until = inp.now + cu.freeze
        self.horizon_end = inp.now + self.s.horizon
        # Look back far enough for every debt that can still be paid, and always over the whole
        # previous week, so that week's figures are complete while it is "last week".
        prev_week_start, _ = iso_week_bounds(inp.now - timedelta(days=7), self.zone)
        self.lookback = min(inp.now - cu.within - timedelta(days=1), prev_week_start)
        self.latest = cu.prefer == "latest"
        self.blocks_cal = (self.s.calendars_with(Role.BLOCKS) or [""])[0]
        self.focus_cal = (self.s.calendars_with(Role.FOCUS) or [""])[0]
        self.mirror_cals = self.s.calendars_with(Role.MIRROR)
        self.notes: list[str] = []


def plan(inp: PlanInput) -> Plan:
    """Compute the desired owned events and the ledger for one cycle."""
    ctx = _Ctx(inp)
    s = ctx.s
    meeting_cals = set(s.calendars_with(Role.MEETINGS))
    personal_cals = set(s.calendars_with(Role.PERSONAL))

    # 1. protected blocks ---------------------------------------------------
    rule_blocks = expand_rules(s.protect, ctx.lookback, ctx.horizon_end, ctx.zone)
    personal_blocks: list[Block] = []
    personal_events: list[Event] = []
    meetings: list[Event] = []
    foreign_busy: list[tuple[datetime, datetime]] = []
    owned: list[Event] = []
    lookback, horizon_end = ctx.lookback, ctx.horizon_end
    count_tentative = s.catch_up.count_tentative
    count_all_day = s.catch_up.count_all_day
    cancelled, declined = Status.CANCELLED, Response.DECLINED
    unsure = (Response.TENTATIVE, Response.NEEDS_ACTION)
    foreign_append = foreign_busy.append
    # The hot loop over every event: plain attribute checks, tuples instead of objects.
    for ev in inp.events:
        if ev.end <= lookback or ev.start >= horizon_end:
            continue
        if ev.tag is not None:
            owned.append(ev)
            continue
        if not ev.busy or ev.status is cancelled or ev.response is declined:
            continue  # free, cancelled or declined: neither a meeting nor protected
        cal_name = ev.calendar
        if ev.all_day and not count_all_day:
            continue
        if cal_name in meeting_cals and (
            count_tentative or not (ev.status is Status.TENTATIVE or ev.response in unsure)
        ):
            meetings.append(ev)
        if cal_name in personal_cals:
            cal = s.calendars[cal_name]
            personal_events.append(ev)
            personal_blocks.append(
                Block(
                    id=f"{cal_name}:{ev.instance_key}",
                    category=cal.category or "personal",
                    policy=cal.policy,
                    start=ev.start,
                    end=ev.end,
                    source=cal_name,
                    title=ev.title,
                )
            )
        if not ev.all_day:
            foreign_append((ev.start, ev.end))
    # two stable single-key sorts are cheaper than one sort on a 4-tuple key; the order is total enough
    # for a deterministic plan (ties in start broken by uid)
    meetings.sort(key=attrgetter("uid"))
    meetings.sort(key=attrgetter("start"))
    personal_events.sort(key=attrgetter("start", "calendar", "uid"))
    owned.sort(key=lambda e: (e.start, e.calendar, e.tag.key if e.tag else "", e.uid))

    # Pinned owned make-ups (frozen or moved by the user) are protected too:
    # a meeting landing on one that can no longer move becomes new debt.
    owned_makeups = [e for e in owned if e.tag and e.tag.kind == Kind.MAKEUP]
    pinned_makeups = [e for e in owned_makeups if e.start < ctx.freeze_until or is_moved_by_user(e)]
    makeup_blocks = [
        Block(
            id=f"makeup:{base_key(e.tag.key)}",
            category=e.tag.category,
            policy=Policy.CATCH_UP,
            start=e.start,
            end=e.end,
            source="makeup",
        )
        for e in pinned_makeups
        if e.tag and e.tag.category
    ]
    blocks = sorted([*rule_blocks, *personal_blocks], key=lambda b: (b.start, b.id))

    # 2. intrusions and debts ---------------------------------------------
    meeting_union = timeline.union([(m.start, m.end) for m in meetings])
    intrusions = _intrusions([*blocks, *makeup_blocks], meetings, meeting_union, ctx)
    debts = _debts(intrusions, ctx)

    # 3. catch-up ---------------------------------------------------------
    fixed_busy = list(foreign_busy)
    fixed_busy += [b.interval for b in rule_blocks]
    fixed_busy += [e.interval for e in owned if e.tag and e.tag.kind in (Kind.MAKEUP, Kind.FOCUS) and _pinned(e, ctx)]
    fixed_busy += [
        e.interval for e in owned if e.tag and e.tag.kind == Kind.BLOCK and e.end > ctx.now and is_moved_by_user(e)
    ]
    busy = timeline.union(fixed_busy)
    makeups, states = _catch_up(ctx, debts, owned_makeups, busy)

    # 4. focus ------------------------------------------------------------
    taken = timeline.union([*busy, *(Interval(m.start, m.end) for m in makeups)])
    focus, focus_weeks = _focus(ctx, owned, taken, meeting_union)

    # 5. protected-block events and mirrors --------------------------------
    desired: list[DesiredEvent] = []
    if ctx.blocks_cal:
        desired += _block_events(ctx, rule_blocks, owned)
    desired += makeups
    desired += focus
    desired += _mirrors(ctx, rule_blocks, makeups, personal_events)
    desired.sort(key=lambda d: (d.calendar, d.start, d.key))

    past_makeups = [e for e in owned_makeups if e.end <= ctx.now]
    weeks = _weeks(ctx, rule_blocks, intrusions, [*past_makeups, *makeups], focus_weeks, meeting_union, states)
    return Plan(
        now=inp.now,
        desired=tuple(desired),
        blocks=tuple(blocks),
        intrusions=tuple(intrusions),
        debts=tuple(states),
        meetings=tuple(meetings),
        makeups=tuple(makeups),
        focus=tuple(focus),
        weeks=tuple(weeks),
        window_start=ctx.lookback,
        notes=tuple(ctx.notes),
    )


def _pinned(ev: Event, ctx: _Ctx) -> bool:
    return ev.start < ctx.freeze_until or is_moved_by_user(ev)


# -- intrusions ----------------------------------------------------------------


def _intrusions(
    blocks: Sequence[Block], meetings: Sequence[Event], union: Sequence[Interval], ctx: _Ctx
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


def _debts(intrusions: Sequence[Intrusion], ctx: _Ctx) -> list[Debt]:
    """Debts from catch-up intrusions, merged with the final ledger.

    An intrusion whose deadline had already passed when idealweek first saw it (it happened
    more than ``within`` ago, e.g. before the first run) is history: it counts in the week's
    figures but creates no debt.  Debts seen while they could still be paid are in the ledger.
    """
    within = ctx.s.catch_up.within
    debts: dict[str, Debt] = {}
    for it in intrusions:
        if it.block.policy != Policy.CATCH_UP or it.minutes <= 0:
            continue
        if it.start + within <= ctx.now:
            continue
        did = f"debt:{it.block.id}"
        debts[did] = Debt(
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
        debts[did] = d  # the ledger's word is final
    return sorted(debts.values(), key=lambda d: (d.created, d.id))


# -- catch-up ------------------------------------------------------------------


@dataclass
class _Need:
    debt: Debt
    paid: int = 0
    scheduled: int = 0
    waived: int = 0
    overdue_scheduled: int = 0

    @property
    def remaining(self) -> int:
        return max(self.debt.minutes - self.paid - self.scheduled - self.waived, 0)


def _catch_up(
    ctx: _Ctx, debts: Sequence[Debt], owned_makeups: Sequence[Event], busy: list[Interval]
) -> tuple[list[DesiredEvent], list[DebtState]]:
    s = ctx.s
    cu = s.catch_up
    needs = {d.id: _Need(d, paid=ctx.inp.paid_final.get(d.id, 0), waived=ctx.inp.waived.get(d.id, 0)) for d in debts}
    desired: list[DesiredEvent] = []
    occupied: list[Interval] = []

    def account(ev: Event, scheduled: bool) -> None:
        assert ev.tag is not None
        if base_key(ev.tag.key) in ctx.inp.recorded_payments:
            return
        for did, mins in ev.tag.pays.items():
            n = needs.get(did)
            if n is None:
                continue
            if ev.end <= ctx.now:
                n.paid += mins
            elif scheduled:
                n.scheduled += mins
                if ev.end > n.debt.deadline:
                    n.overdue_scheduled += mins

    # Pinned make-ups (frozen, started, past, or moved by the user) stay as they are.
    for ev in owned_makeups:
        if ev.tag is None:
            continue
        if _pinned(ev, ctx):
            account(ev, scheduled=True)
            if ev.end > ctx.now and ctx.blocks_cal:
                desired.append(_keep(ev))
            occupied.append(ev.interval)

    # Category free time: allowed windows minus everything fixed.
    free: dict[str, list[Interval]] = {}
    lo_all = max(ctx.now, ctx.freeze_until)
    for name, category in s.categories.items():
        win = timeline.union(expand_windows(category.windows, lo_all, ctx.horizon_end, ctx.zone))
        free[name] = timeline.subtract(win, timeline.union([*busy, *occupied]))

    tomb_starts: dict[str, set[datetime]] = defaultdict(set)
    for (cal, key), iv in ctx.inp.tombstones.items():
        # a make-up slot the user deleted is never offered again (its key is burnt)
        if cal == ctx.blocks_cal and key.startswith("makeup:") and iv is not None:
            tomb_starts[key.split(":")[1]].add(iv.start)

    # Still-valid unpinned make-ups stay where they are (stability).
    for ev in owned_makeups:
        tag = ev.tag
        if tag is None or _pinned(ev, ctx) or ev.end <= ctx.now:
            continue
        cat_free = free.get(tag.category)
        ok = bool(ctx.blocks_cal) and ev.calendar == ctx.blocks_cal and cat_free is not None and bool(tag.pays)
        if ok and cat_free is not None:
            inside = timeline.clip(cat_free, ev.interval)
            ok = len(inside) == 1 and inside[0] == ev.interval
        if ok:
            for did, mins in tag.pays.items():
                n = needs.get(did)
                if n is None or n.remaining < mins or ev.start < n.debt.earliest:
                    ok = False
                    break
        if ok and cat_free is not None:
            account(ev, scheduled=True)
            desired.append(_keep(ev))
            for fl in free.values():
                timeline.remove(fl, ev.interval)

    # Place what is still owed, oldest first; small debts of one category merged.
    requests = _bundle(
        [n for n in sorted(needs.values(), key=lambda n: (n.debt.created, n.debt.id)) if n.remaining > 0], cu.min_block
    )
    for bundle in requests:
        cat = bundle[0].debt.category
        cat_free = free.get(cat)
        if cat_free is None or not ctx.blocks_cal:
            continue
        placed = _place_bundle(ctx, bundle, cat_free, tomb_starts.get(cat, set()))
        for iv, pays, late in placed:
            tag = OwnedTag(
                key=f"makeup:{cat}:{stamp(iv.start)}",
                kind=Kind.MAKEUP,
                planned_start=iv.start,
                planned_end=iv.end,
                category=cat,
                pays=pays,
            )
            desired.append(
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
            for did, mins in pays.items():
                needs[did].scheduled += mins
                if late:
                    needs[did].overdue_scheduled += mins
            for fl in free.values():
                timeline.remove(fl, iv)

    states: list[DebtState] = []
    for n in needs.values():
        rem = n.remaining
        overdue = (rem > 0 and n.debt.deadline <= ctx.now) or n.overdue_scheduled > 0
        if rem > 0 and n.debt.deadline > ctx.now:
            # could not be placed before the deadline within the horizon → reported as overdue-to-be
            overdue = overdue or n.debt.deadline <= ctx.horizon_end
        states.append(
            DebtState(
                debt=n.debt,
                paid=n.paid,
                scheduled=n.scheduled,
                waived=n.waived,
                unplaced=rem,
                overdue=overdue,
            )
        )
    states.sort(key=lambda st: (st.debt.created, st.debt.id))
    return desired, states


def _keep(ev: Event) -> DesiredEvent:
    """Desire an existing owned event exactly as it is (keeps user moves and edits)."""
    assert ev.tag is not None
    return DesiredEvent(
        calendar=ev.calendar,
        tag=ev.tag,
        start=ev.start,
        end=ev.end,
        title=ev.title,
        description=ev.description,
        private=ev.private,
        busy=ev.busy,
    )


def _bundle(needs: Sequence[_Need], min_block: timedelta) -> list[list[_Need]]:
    """Group small debts of one category (oldest first) until a bundle reaches ``min_block``."""
    mb = int(min_block.total_seconds() // 60)
    open_bundle: dict[str, list[_Need]] = {}
    out: list[list[_Need]] = []
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


def _place_bundle(
    ctx: _Ctx, bundle: Sequence[_Need], cat_free: list[Interval], skip: set[datetime]
) -> list[tuple[Interval, dict[str, int], bool]]:
    """Place one bundle: whole before the deadline, else split, else after the deadline (overdue)."""
    cu = ctx.s.catch_up
    step = ctx.step
    mb = cu.min_block
    total = sum(n.remaining for n in bundle)
    earliest = max([ctx.freeze_until, ctx.now, *(n.debt.earliest for n in bundle)])
    deadline = min(n.debt.deadline for n in bundle)
    placed: list[tuple[Interval, dict[str, int], bool]] = []
    alloc_ids = [n.debt.id for n in bundle]
    alloc_left = [n.remaining for n in bundle]
    skipset = frozenset(skip)

    def allocate(minutes: int) -> dict[str, int]:
        pays: dict[str, int] = {}
        left = minutes
        for i, did in enumerate(alloc_ids):
            if left <= 0:
                break
            take = min(alloc_left[i], left)
            if take > 0:
                pays[did] = take
                alloc_left[i] -= take
                left -= take
        return pays

    def take(iv: Interval, minutes: int, late: bool) -> None:
        placed.append((iv, allocate(minutes), late))
        timeline.remove(cat_free, iv)

    def place(remaining: int, hi: datetime, late: bool) -> int:
        if remaining <= 0:
            return 0
        length = max(timedelta(minutes=remaining), mb)
        whole = timeline.find_slot(cat_free, length, earliest, hi, step, ctx.zone, ctx.latest, skipset)
        if whole is not None:
            take(whole, remaining, late)
            return 0
        # split into pieces of at least min_block
        mbm = int(mb.total_seconds() // 60)
        while remaining >= 2 * mbm or (placed and remaining >= mbm):
            piece = timeline.largest_piece(cat_free, earliest, hi, mb, step, ctx.zone, ctx.latest)
            if piece is None:
                break
            if piece.start in skipset:
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
            take(iv, mins, late)
            remaining -= mins
        return remaining

    left = place(total, min(deadline, ctx.horizon_end), late=False)
    if left > 0:
        left = place(left, ctx.horizon_end, late=True)
    return placed


# -- focus ---------------------------------------------------------------------


def _focus(
    ctx: _Ctx, owned: Sequence[Event], taken: list[Interval], meeting_union: Sequence[Interval]
) -> tuple[list[DesiredEvent], dict[str, tuple[int, int]]]:
    """Keep still-free focus blocks; add more until each week's target. Returns (desired, week → (planned, kept))."""
    s = ctx.s
    f = s.focus
    planned: dict[str, tuple[int, int]] = {}
    if not ctx.focus_cal or f.weekly_target <= timedelta(0):
        return [], planned
    target = int(f.weekly_target.total_seconds() // 60)
    desired: list[DesiredEvent] = []
    work = timeline.union(expand_windows(f.hours, ctx.lookback, ctx.horizon_end, ctx.zone))
    free = timeline.subtract(work, taken)
    free = timeline.subtract(free, [Interval(ctx.lookback, max(ctx.freeze_until, ctx.lookback))])
    existing = [e for e in owned if e.tag and e.tag.kind == Kind.FOCUS and e.calendar == ctx.focus_cal]
    tomb_starts: set[datetime] = set()
    declined: dict[str, int] = defaultdict(int)
    for (cal, key), iv in ctx.inp.tombstones.items():
        if cal == ctx.focus_cal and key.startswith("focus:") and iv is not None:
            tomb_starts.add(iv.start)
            declined[iso_week_label(iv.start, ctx.zone)] += iv.minutes

    week_start, _ = iso_week_bounds(ctx.lookback, ctx.zone)
    while week_start < ctx.horizon_end:
        _, week_end = iso_week_bounds(week_start, ctx.zone)
        label = iso_week_label(week_start, ctx.zone)
        have = 0
        kept = 0
        for ev in existing:
            if not (week_start <= ev.start < week_end):
                continue
            if _pinned(ev, ctx) or ev.end <= ctx.now:
                have += int((ev.end - ev.start).total_seconds() // 60)
                if ev.end <= ctx.now:
                    lost = timeline.total(timeline.clip(meeting_union, ev.interval))
                    kept += int(((ev.end - ev.start) - lost).total_seconds() // 60)
                else:
                    desired.append(_keep(ev))
                continue
            inside = timeline.clip(free, ev.interval)
            still_free = len(inside) == 1 and inside[0] == ev.interval
            mins = int((ev.end - ev.start).total_seconds() // 60)
            if still_free and have + mins <= target:
                have += mins
                desired.append(_keep(ev))
                timeline.remove(free, ev.interval)
        want = max(target - declined.get(label, 0), 0)
        lo = max(week_start, ctx.freeze_until)
        hi = min(week_end, ctx.horizon_end)
        chunk = f.chunk
        min_chunk = f.min_chunk
        while want - have >= int(min_chunk.total_seconds() // 60) and lo < hi:
            need = timedelta(minutes=want - have)
            length = min(chunk, need)
            iv = timeline.find_slot(free, length, lo, hi, ctx.step, ctx.zone, False, frozenset(tomb_starts))
            if iv is None:
                piece = timeline.largest_piece(free, lo, hi, min_chunk, ctx.step, ctx.zone)
                if piece is None:
                    break
                iv = Interval(piece.start, piece.start + min(piece.duration, length))
                if iv.start in tomb_starts:
                    timeline.remove(free, Interval(iv.start, iv.start + ctx.step))
                    continue
            mins = int(iv.duration.total_seconds() // 60)
            tag = OwnedTag(key=f"focus:{stamp(iv.start)}", kind=Kind.FOCUS, planned_start=iv.start, planned_end=iv.end)
            desired.append(
                DesiredEvent(
                    calendar=ctx.focus_cal,
                    tag=tag,
                    start=iv.start,
                    end=iv.end,
                    title=f.title,
                    description="Focus block placed by idealweek.",
                    private=False,
                    focus_time=f.focus_time,
                )
            )
            have += mins
            timeline.remove(free, iv)
        planned[label] = (have, kept)
        week_start = week_end
    return desired, planned


# -- block events and mirrors ----------------------------------------------------


def _block_events(ctx: _Ctx, rule_blocks: Sequence[Block], owned: Sequence[Event]) -> list[DesiredEvent]:
    s = ctx.s
    existing = {
        base_key(e.tag.key): e for e in owned if e.tag and e.tag.kind == Kind.BLOCK and e.calendar == ctx.blocks_cal
    }
    out: list[DesiredEvent] = []
    for b in rule_blocks:
        if b.end <= ctx.now:
            continue
        key = f"block:{b.id}"
        cur = existing.get(key)
        if cur is not None and is_moved_by_user(cur):
            out.append(_keep(cur))
            continue
        tag = OwnedTag(key=key, kind=Kind.BLOCK, planned_start=b.start, planned_end=b.end, category=b.category)
        out.append(
            DesiredEvent(
                calendar=ctx.blocks_cal,
                tag=tag,
                start=b.start,
                end=b.end,
                title=b.title or s.category_title(b.category),
                description=f"Protected {s.category_title(b.category).lower()} time ({b.policy.value}).",
                private=True,
            )
        )
    return out


def _mirrors(
    ctx: _Ctx, rule_blocks: Sequence[Block], makeups: Sequence[DesiredEvent], personal: Sequence[Event]
) -> list[DesiredEvent]:
    s = ctx.s
    m = s.mirror
    sources: list[tuple[str, str, datetime, datetime]] = []  # (source key, source calendar, start, end)
    if m.blocks:
        sources += [(f"block:{b.id}", ctx.blocks_cal, b.start, b.end) for b in rule_blocks]
    if m.makeups:
        sources += [(base_key(d.key), d.calendar, d.start, d.end) for d in makeups]
    if m.personal:
        sources += [(f"personal:{e.calendar}:{e.instance_key}", e.calendar, e.start, e.end) for e in personal]
    out: list[DesiredEvent] = []
    for cal in ctx.mirror_cals:
        for key, src_cal, start, end in sources:
            if src_cal == cal or end <= ctx.now or start >= ctx.horizon_end:
                continue
            tag = OwnedTag(key=f"mirror:{key}", kind=Kind.MIRROR, planned_start=start, planned_end=end)
            # Privacy: nothing of the source but its time (no title, description, location, attendees).
            out.append(DesiredEvent(calendar=cal, tag=tag, start=start, end=end, title=m.title, private=True))
    return out


# -- figures -------------------------------------------------------------------


def _weeks(
    ctx: _Ctx,
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
