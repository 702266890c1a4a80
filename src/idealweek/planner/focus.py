"""Phase 4: focus blocks — keep the still-free ones, add more until each week's target."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from idealweek import timeline
from idealweek.model import DesiredEvent, Event, Interval, Kind, OwnedTag
from idealweek.planner.context import Ctx
from idealweek.planner.emit import keep
from idealweek.planner.keys import focus_key, is_focus_key
from idealweek.week import expand_windows, iso_week_bounds, iso_week_label


def focus(
    ctx: Ctx, owned: Sequence[Event], taken: list[Interval], meeting_union: Sequence[Interval]
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
        if cal == ctx.focus_cal and is_focus_key(key) and iv is not None:
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
            if ctx.pinned(ev) or ev.end <= ctx.now:
                have += int((ev.end - ev.start).total_seconds() // 60)
                if ev.end <= ctx.now:
                    lost = timeline.total(timeline.clip(meeting_union, ev.interval))
                    kept += int(((ev.end - ev.start) - lost).total_seconds() // 60)
                else:
                    desired.append(keep(ev))
                continue
            inside = timeline.clip(free, ev.interval)
            still_free = len(inside) == 1 and inside[0] == ev.interval
            mins = int((ev.end - ev.start).total_seconds() // 60)
            if still_free and have + mins <= target:
                have += mins
                desired.append(keep(ev))
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
            tag = OwnedTag(key=focus_key(iv.start), kind=Kind.FOCUS, planned_start=iv.start, planned_end=iv.end)
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
