"""Phase 1: sort the calendars' events into meetings, personal time and owned events; protected blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from idealweek import timeline
from idealweek.model import Block, Event, Interval, Kind, Policy, Response, Role, Status
from idealweek.planner.context import Ctx
from idealweek.planner.keys import is_moved_by_user, makeup_block_id, personal_block_id
from idealweek.week import expand_rules


@dataclass(frozen=True)
class Selection:
    """The events of one run, sorted by what they mean to the planner."""

    rule_blocks: list[Block]
    """Blocks of the ideal week's ``[[protect]]`` rules."""
    personal_blocks: list[Block]
    """Events on ``personal`` calendars, as protected blocks."""
    personal_events: list[Event]
    meetings: list[Event]
    foreign_busy: list[tuple[datetime, datetime]]
    """Busy time of every event idealweek does not own (all-day events excluded)."""
    owned: list[Event]
    household: list[tuple[datetime, datetime]] = field(default_factory=list)
    """Busy time on ``household`` calendars: only "this person is busy" (issue 18)."""

    @property
    def blocks(self) -> list[Block]:
        """Rule blocks and personal blocks, in time order."""
        return sorted([*self.rule_blocks, *self.personal_blocks], key=lambda b: (b.start, b.id))

    @property
    def owned_makeups(self) -> list[Event]:
        return [e for e in self.owned if e.tag and e.tag.kind == Kind.MAKEUP]


def select(ctx: Ctx) -> Selection:
    """Classify every event in the planning window (SPEC §3 "Meeting", "Protected block")."""
    s = ctx.s
    meeting_cals = set(s.calendars_with(Role.MEETINGS))
    personal_cals = set(s.calendars_with(Role.PERSONAL))
    household_cals = set(s.calendars_with(Role.HOUSEHOLD))
    household: list[tuple[datetime, datetime]] = []
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
    for ev in ctx.inp.events:
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
        if household_cals and cal_name in household_cals:
            household.append((ev.start, ev.end))  # never a meeting, never protected, never in the user's way
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
                    id=personal_block_id(cal_name, ev.instance_key),
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
    return Selection(rule_blocks, personal_blocks, personal_events, meetings, foreign_busy, owned, household)


def pinned_makeup_blocks(ctx: Ctx, owned_makeups: list[Event]) -> list[Block]:
    """Pinned owned make-ups (frozen or moved by the user) are protected too:
    a meeting landing on one that can no longer move becomes new debt."""
    return [
        Block(
            id=makeup_block_id(e.tag.key),
            category=e.tag.category,
            policy=Policy.CATCH_UP,
            start=e.start,
            end=e.end,
            source="makeup",
        )
        for e in owned_makeups
        if e.tag and e.tag.category and ctx.pinned(e)
    ]


def fixed_busy(ctx: Ctx, sel: Selection) -> list[Interval]:
    """Time neither make-up nor focus may take: foreign events, rule blocks, pinned owned blocks."""
    busy: list[tuple[datetime, datetime]] = list(sel.foreign_busy)
    busy += [b.interval for b in sel.rule_blocks]
    busy += [e.interval for e in sel.owned if e.tag and e.tag.kind in (Kind.MAKEUP, Kind.FOCUS) and ctx.pinned(e)]
    busy += [
        e.interval for e in sel.owned if e.tag and e.tag.kind == Kind.BLOCK and e.end > ctx.now and is_moved_by_user(e)
    ]
    return timeline.union(busy)
