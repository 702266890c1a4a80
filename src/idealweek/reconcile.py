"""Desired owned events vs existing owned events → the minimal list of operations (pure).

Rules (SPEC §3, §6):

* matched by (calendar, key); the engine's generation suffix is ignored;
* an event the user moved keeps the user's times; titles and descriptions
  are never rewritten (user edits win), so an update only changes times,
  busy/private flags and the tag;
* events that have ended, start beyond the horizon, or start inside the
  freeze window are never updated or deleted;
* a key the user deleted (a tombstone) is never created again;
* two owned events with one key (a duplicate) → the extra one is deleted;
* a mirror whose tag still names its source (written before mirror tags
  were opaque), or whose key was lost with the state directory, is replaced
  by one with the current opaque tag: that delete is marked "re-keyed";
* an owned event that gained attendees is the user's: never updated or
  deleted again (on Graph either would mail them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from idealweek.model import DesiredEvent, Event, Interval, Kind, Operation, OpKind
from idealweek.ownership import REKEYED, OwnedKey, is_moved_by_user


def _differs(existing: Event, want: DesiredEvent) -> bool:
    assert existing.tag is not None
    return (
        existing.start != want.start
        or existing.end != want.end
        or existing.busy != want.busy
        or existing.private != want.private
        or existing.tag.planned_start != want.tag.planned_start
        or existing.tag.planned_end != want.tag.planned_end
        or dict(existing.tag.pays) != dict(want.tag.pays)
        or existing.tag.category != want.tag.category
        or existing.tag.kind != want.tag.kind
    )


def reconcile(
    desired: Sequence[DesiredEvent],
    existing: Iterable[Event],
    now: datetime,
    freeze_until: datetime,
    horizon_end: datetime,
    tombstones: Mapping[tuple[str, str], Interval | None] | None = None,
    writable: Iterable[str] | None = None,
) -> list[Operation]:
    """Operations that turn ``existing`` into ``desired``; empty when nothing changed."""
    tombs = tombstones or {}
    allowed = set(writable) if writable is not None else None
    by_key: dict[tuple[str, OwnedKey], list[Event]] = defaultdict(list)
    for ev in existing:
        if ev.tag is None:
            continue  # never ours: never touched
        by_key[(ev.calendar, ev.tag.key.base)].append(ev)

    def touchable(ev: Event) -> bool:
        return ev.end > now and ev.start >= freeze_until and ev.start < horizon_end

    ops: list[Operation] = []
    wanted: set[tuple[str, OwnedKey]] = set()
    for want in desired:
        k = (want.calendar, want.key.base)
        if k in wanted:
            continue  # the planner never desires a key twice; be safe anyway
        wanted.add(k)
        if allowed is not None and want.calendar not in allowed:
            continue
        have = sorted(by_key.get(k, []), key=lambda e: (e.start != want.start or e.end != want.end, e.uid))
        if not have:
            if k in tombs:
                continue
            if want.end <= now:
                continue
            ops.append(Operation(OpKind.CREATE, want.calendar, k[1], desired=want, reason="new"))
            continue
        first, extras = have[0], have[1:]
        for dup in extras:
            if dup.end > now and not dup.has_guests:
                ops.append(Operation(OpKind.DELETE, dup.calendar, k[1], existing=dup, reason="duplicate"))
        if first.has_guests:
            continue  # the user made it a meeting: it is theirs now
        if is_moved_by_user(first) and not (first.start == want.start and first.end == want.end):
            continue  # the user moved it: it stays where the user put it
        if _differs(first, want) and touchable(first) and want.start >= freeze_until:
            assert first.tag is not None
            ops.append(
                Operation(
                    OpKind.UPDATE,
                    want.calendar,
                    k[1],
                    desired=_with_key(want, first.tag.key),
                    existing=first,
                    reason="changed",
                )
            )
    for k, evs in sorted(by_key.items()):
        if k in wanted:
            continue
        if allowed is not None and k[0] not in allowed:
            continue
        for ev in sorted(evs, key=lambda e: e.uid):
            if not touchable(ev) or is_moved_by_user(ev) or ev.has_guests:
                continue
            ops.append(Operation(OpKind.DELETE, ev.calendar, k[1], existing=ev, reason="no longer needed"))
    return _mark_rekeyed(ops)


def _mark_rekeyed(ops: list[Operation]) -> list[Operation]:
    """A mirror deleted where a mirror of the same times is created is being re-keyed, not lost.

    That happens to mirrors written with self-describing tags by an older idealweek, and to every
    mirror when the state directory's mirror key was lost.  Such a delete says so (the mass-deletion
    guard does not count it: the same busy time is written again in the same cycle).
    """
    created: defaultdict[tuple[str, datetime, datetime], int] = defaultdict(int)
    for op in ops:
        if op.kind == OpKind.CREATE and op.desired is not None and op.desired.kind == Kind.MIRROR:
            created[(op.calendar, op.desired.start, op.desired.end)] += 1
    out: list[Operation] = []
    for op in ops:
        ev = op.existing
        if op.kind == OpKind.DELETE and op.reason == "no longer needed" and ev is not None and ev.tag is not None:
            slot = (op.calendar, ev.start, ev.end)
            if ev.tag.kind == Kind.MIRROR and created[slot] > 0:
                created[slot] -= 1
                op = replace(op, reason=REKEYED)
        out.append(op)
    return out


def _with_key(want: DesiredEvent, actual_key: OwnedKey) -> DesiredEvent:
    """Keep the event's real key (with any generation suffix) in its tag on update."""
    if want.tag.key == actual_key:
        return want
    return replace(want, tag=replace(want.tag, key=actual_key))
