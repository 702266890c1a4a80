"""The catch-up phase's working values: what each debt needs, the make-up blocks, free time, daily use."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from idealweek import timeline
from idealweek.model import Debt, DesiredEvent, Event, Interval, Kind, OwnedTag
from idealweek.planner.context import Ctx
from idealweek.planner.emit import keep
from idealweek.planner.keys import is_moved_by_user, makeup_key
from idealweek.week import local_instant


@dataclass
class Need:
    """How one debt stands while the catch-up phase works on it."""

    debt: Debt
    paid: int = 0
    scheduled: int = 0
    waived: int = 0

    @property
    def remaining(self) -> int:
        return max(self.debt.minutes - self.paid - self.scheduled - self.waived, 0)


def debt_order(n: Need) -> tuple[datetime, str]:
    """Oldest first (SPEC §3: among debts, the oldest is placed first)."""
    return (n.debt.created, n.debt.id)


@dataclass
class Makeup:
    """A make-up block this cycle will have: an owned one kept (maybe resized) or a new one."""

    category: str
    start: datetime
    end: datetime
    pays: dict[str, int]
    """Debt id → minutes owed that this block pays (its length may exceed their sum only by rounding)."""
    source: Event | None = None
    """The owned event it continues (None: a new block)."""
    pinned: bool = False
    """Frozen or moved by the user: it stays exactly as it is."""

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def owed(self) -> int:
        return sum(self.pays.values())

    @property
    def moved_by_user(self) -> bool:
        return self.source is not None and is_moved_by_user(self.source)

    @classmethod
    def of(cls, ev: Event, pinned: bool) -> Makeup:
        assert ev.tag is not None
        return cls(ev.tag.category, ev.start, ev.end, dict(ev.tag.pays), source=ev, pinned=pinned)

    def desired(self, ctx: Ctx) -> DesiredEvent:
        """The owned event to have: the existing one as it is, resized, or a new one."""
        ev = self.source
        if ev is not None and ev.tag is not None:
            if self.pinned or ((ev.start, ev.end) == (self.start, self.end) and dict(ev.tag.pays) == self.pays):
                return keep(ev)
            tag = OwnedTag(
                key=ev.tag.key,
                kind=Kind.MAKEUP,
                planned_start=self.start,
                planned_end=self.end,
                category=self.category,
                pays=dict(self.pays),
            )
            # a resized block keeps the user's title and description
            return DesiredEvent(
                calendar=ev.calendar,
                tag=tag,
                start=self.start,
                end=self.end,
                title=ev.title,
                description=ev.description,
                private=ev.private,
                busy=ev.busy,
            )
        s = ctx.s
        title = s.category_title(self.category)
        tag = OwnedTag(
            key=makeup_key(self.category, self.start),
            kind=Kind.MAKEUP,
            planned_start=self.start,
            planned_end=self.end,
            category=self.category,
            pays=dict(self.pays),
        )
        return DesiredEvent(
            calendar=ctx.blocks_cal,
            tag=tag,
            start=self.start,
            end=self.end,
            title=f"{s.catch_up.title_prefix}{title}",
            description="Make-up block booked by idealweek: time a meeting took from your "
            f"{title.lower()} time, given back.",
            private=True,
        )


FreeTime = dict[str, list[Interval]]
"""Category → its free time (sorted, disjoint), shrinking as blocks are placed."""


def take(free: FreeTime, iv: Interval) -> None:
    """A block now occupies ``iv``: no category may use it."""
    for fl in free.values():
        timeline.remove(fl, iv)


def give_back(free: FreeTime, category: str, iv: Interval) -> None:
    """``iv`` (inside ``category``'s free time before it was taken) is free again for that category."""
    free[category][:] = timeline.union([*free[category], iv])


def fits(free: FreeTime, category: str, iv: Interval) -> bool:
    """``iv`` lies wholly inside one piece of ``category``'s free time."""
    fl = free.get(category)
    if fl is None:
        return False
    inside = timeline.clip(fl, iv)
    return len(inside) == 1 and inside[0] == iv


@dataclass
class DayUse:
    """Minutes of make-up per (category, local day), for ``max_per_day``."""

    ctx: Ctx
    used: dict[tuple[str, date], int] = field(default_factory=lambda: defaultdict(int))

    def day(self, t: datetime) -> date:
        return t.astimezone(self.ctx.zone).date()

    def add(self, category: str, iv: Interval) -> None:
        self.used[(category, self.day(iv.start))] += iv.minutes

    def remove(self, category: str, iv: Interval) -> None:
        self.used[(category, self.day(iv.start))] -= iv.minutes

    def left(self, category: str, t: datetime) -> int | None:
        """Minutes of make-up ``category`` may still have on the local day of ``t`` (None: no limit)."""
        cap = self.ctx.rule(category).max_per_day
        if cap is None:
            return None
        return int(cap.total_seconds() // 60) - self.used[(category, self.day(t))]

    def allows(self, category: str, t: datetime, minutes: int) -> bool:
        left = self.left(category, t)
        return left is None or minutes <= left

    def view(self, category: str, free: list[Interval], minutes: int) -> list[Interval]:
        """``free`` cut at local midnights, without the days that cannot take ``minutes`` more."""
        if self.ctx.rule(category).max_per_day is None:
            return free
        out: list[Interval] = []
        for piece in split_days(free, self.ctx):
            if self.allows(category, piece.start, minutes):
                out.append(piece)
        return out


def split_days(free: Iterable[Interval], ctx: Ctx) -> list[Interval]:
    """Cut intervals at local midnights."""
    out: list[Interval] = []
    for iv in free:
        start = iv.start
        while start < iv.end:
            day = start.astimezone(ctx.zone).date()
            midnight = local_instant(day + timedelta(days=1), time(0), ctx.zone)
            end = min(iv.end, midnight)
            out.append(Interval(start, end))
            start = end
    return out


def needs_of(ctx: Ctx, debts: Iterable[Debt]) -> dict[str, Need]:
    inp = ctx.inp
    return {d.id: Need(d, paid=inp.paid_final.get(d.id, 0), waived=inp.waived.get(d.id, 0)) for d in debts}


def ordered_pays(pays: Mapping[str, int], needs: Mapping[str, Need]) -> list[tuple[str, int]]:
    """A block's payments to known debts, oldest debt first (the tag's own order is not kept by every service)."""
    known = [(did, mins) for did, mins in pays.items() if did in needs]
    return sorted(known, key=lambda p: debt_order(needs[p[0]]))
