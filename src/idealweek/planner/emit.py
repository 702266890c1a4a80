"""Phase 5: owned events for protected blocks, mirrors of personal time, and keeping owned events as they are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from idealweek.model import Block, Defend, DesiredEvent, Event, Kind, OwnedTag
from idealweek.planner.context import Ctx
from idealweek.planner.defend import defend_of
from idealweek.planner.keys import base_key, block_key, is_moved_by_user, mirror_key, personal_key


def keep(ev: Event) -> DesiredEvent:
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


def block_events(ctx: Ctx, rule_blocks: Sequence[Block], owned: Sequence[Event]) -> list[DesiredEvent]:
    """One owned event per future rule block on the ``blocks`` calendar; a block the user moved stays moved."""
    s = ctx.s
    existing = {
        base_key(e.tag.key): e for e in owned if e.tag and e.tag.kind == Kind.BLOCK and e.calendar == ctx.blocks_cal
    }
    out: list[DesiredEvent] = []
    for b in rule_blocks:
        if b.end <= ctx.now:
            continue
        key = block_key(b.id)
        cur = existing.get(key)
        if cur is not None and is_moved_by_user(cur):
            out.append(keep(cur))
            continue
        tag = OwnedTag(key=key, kind=Kind.BLOCK, planned_start=b.start, planned_end=b.end, category=b.category)
        mode, message = defend_of(ctx, b)
        out.append(
            DesiredEvent(
                calendar=ctx.blocks_cal,
                tag=tag,
                start=b.start,
                end=b.end,
                title=b.title or s.category_title(b.category),
                description=f"Protected {s.category_title(b.category).lower()} time ({b.policy.value}).",
                private=True,
                busy=mode != Defend.FREE,
                defend=mode,
                decline_message=message,
            )
        )
    return out


def mirrors(
    ctx: Ctx, rule_blocks: Sequence[Block], makeups: Sequence[DesiredEvent], personal: Sequence[Event]
) -> list[DesiredEvent]:
    """Private "Busy" placeholders of personal time on every ``mirror`` calendar but the source's own."""
    s = ctx.s
    m = s.mirror
    sources: list[tuple[str, str, datetime, datetime]] = []  # (source key, source calendar, start, end)
    defences: dict[str, tuple[Defend, str]] = {}  # a mirror of a rule block defends itself like the block
    if m.blocks:
        sources += [(block_key(b.id), ctx.blocks_cal, b.start, b.end) for b in rule_blocks]
        defences = {block_key(b.id): defend_of(ctx, b) for b in rule_blocks}
    if m.makeups:
        sources += [(base_key(d.key), d.calendar, d.start, d.end) for d in makeups]
    if m.personal:
        sources += [(personal_key(e.calendar, e.instance_key), e.calendar, e.start, e.end) for e in personal]
    out: list[DesiredEvent] = []
    for cal in ctx.mirror_cals:
        for key, src_cal, start, end in sources:
            if src_cal == cal or end <= ctx.now or start >= ctx.horizon_end:
                continue
            tag = OwnedTag(
                key=mirror_key(key, ctx.inp.mirror_secret), kind=Kind.MIRROR, planned_start=start, planned_end=end
            )
            # Privacy: nothing of the source but its time (no title, description, location, attendees),
            # and a tag that names nothing (an opaque keyed hash of the source's key).
            mode, message = defences.get(key, (Defend.BUSY, ""))
            out.append(
                DesiredEvent(
                    calendar=cal,
                    tag=tag,
                    start=start,
                    end=end,
                    title=m.title,
                    private=True,
                    busy=mode != Defend.FREE,
                    defend=mode,
                    decline_message=message,
                )
            )
    return out
