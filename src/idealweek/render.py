"""Pictures of the week and of the ledger (terminal text here; HTML/SVG build on :func:`week_items`)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from idealweek.model import DesiredEvent, Event, Kind, Policy
from idealweek.planner import Plan, base_key
from idealweek.week import iso_week_label


class ItemKind(enum.StrEnum):
    MEETING = "meeting"
    PROTECTED = "protected"
    PERSONAL = "personal"
    INTRUSION = "intrusion"
    VIOLATION = "violation"
    MAKEUP = "makeup"
    FOCUS = "focus"
    MIRROR = "mirror"


SYMBOL = {
    ItemKind.MEETING: "M",
    ItemKind.PROTECTED: "P",
    ItemKind.PERSONAL: "p",
    ItemKind.INTRUSION: "!",
    ItemKind.VIOLATION: "X",
    ItemKind.MAKEUP: "+",
    ItemKind.FOCUS: "F",
    ItemKind.MIRROR: "b",
}
LEGEND = {
    ItemKind.MEETING: "meeting",
    ItemKind.PROTECTED: "protected block (ideal week)",
    ItemKind.PERSONAL: "personal event",
    ItemKind.INTRUSION: "intrusion: meeting time inside a catch-up block (owed)",
    ItemKind.VIOLATION: "boundary violation: meeting inside a hard block",
    ItemKind.MAKEUP: "make-up block (pays back an intrusion)",
    ItemKind.FOCUS: "focus block",
    ItemKind.MIRROR: "private busy mirror on a work calendar",
}


@dataclass(frozen=True)
class Item:
    start: datetime
    end: datetime
    kind: ItemKind
    label: str
    calendar: str = ""
    link: str = ""
    """For make-ups: the intrusions (block ids) it repays; for intrusions: their block id."""


def week_items(plan: Plan, events: Sequence[Event], start: datetime, end: datetime) -> list[Item]:
    """Everything to draw in ``[start, end)``, from the plan and the calendars' owned events."""
    items: list[Item] = []

    def inside(s: datetime, e: datetime) -> bool:
        return s < end and e > start

    for m in plan.meetings:
        if inside(m.start, m.end):
            items.append(Item(m.start, m.end, ItemKind.MEETING, m.title or "(meeting)", m.calendar))
    for b in plan.blocks:
        if not inside(b.start, b.end):
            continue
        kind = ItemKind.PROTECTED if b.source == "rule" else ItemKind.PERSONAL
        label = b.title or b.category
        items.append(Item(b.start, b.end, kind, f"{label} [{b.policy.value}]", b.source, link=b.id))
    for it in plan.intrusions:
        if not inside(it.start, it.end):
            continue
        kind = ItemKind.VIOLATION if it.block.policy == Policy.HARD else ItemKind.INTRUSION
        items.append(Item(it.start, it.end, kind, f"{it.minutes} min lost from {it.block.category}", link=it.block.id))
    shown: set[tuple[str, str]] = set()
    owned: list[DesiredEvent | Event] = [*plan.desired]
    owned += [e for e in events if e.tag is not None and e.end <= plan.now]
    for o in owned:
        tag = o.tag
        if tag is None or not inside(o.start, o.end):
            continue
        k = (o.calendar, base_key(tag.key))
        if k in shown:
            continue
        shown.add(k)
        if tag.kind == Kind.MAKEUP:
            links = ", ".join(d.removeprefix("debt:") for d in sorted(tag.pays))
            items.append(Item(o.start, o.end, ItemKind.MAKEUP, f"make-up {tag.category}", o.calendar, link=links))
        elif tag.kind == Kind.FOCUS:
            items.append(Item(o.start, o.end, ItemKind.FOCUS, "focus", o.calendar))
        elif tag.kind == Kind.MIRROR:
            items.append(Item(o.start, o.end, ItemKind.MIRROR, "busy (mirror)", o.calendar))
    items.sort(key=lambda i: (i.start, list(ItemKind).index(i.kind), i.end, i.label))
    return items


def render_week_text(plan: Plan, events: Sequence[Event], start: datetime, zone: ZoneInfo) -> str:
    """The week as plain text: one section per day, one line per item, a legend and totals."""
    end = start + timedelta(days=7, hours=2)
    # the local week may be 167 or 169 hours long across DST: cut at local Monday midnight
    local_start = start.astimezone(zone)
    week_end = (local_start + timedelta(days=7, hours=12)).replace(hour=0, minute=0)
    end = week_end.astimezone(start.tzinfo)
    items = week_items(plan, events, start, end)
    if local_start.weekday() == 0 and local_start.hour == 0:
        heading = f"Week {iso_week_label(start, zone)} ({zone.key})"
    else:
        last = (local_start + timedelta(days=6)).date()
        heading = f"The week ahead: {local_start:%a %d %b} – {last:%a %d %b} ({zone.key})"
    lines = [heading, ""]
    day = local_start.date()
    for _ in range(7):
        day_items = [i for i in items if i.start.astimezone(zone).date() == day]
        lines.append(f"{day:%a %d %b}")
        if not day_items:
            lines.append("    (nothing)")
        for i in day_items:
            s = i.start.astimezone(zone)
            e = i.end.astimezone(zone)
            span = f"{s:%H:%M}-{e:%H:%M}" if e.date() == s.date() else f"{s:%H:%M}-{e:%a %H:%M}"
            extra = f"  (repays {i.link})" if i.kind == ItemKind.MAKEUP and i.link else ""
            cal = f"  @{i.calendar}" if i.calendar and i.kind in (ItemKind.MIRROR, ItemKind.FOCUS) else ""
            lines.append(f"  {SYMBOL[i.kind]} {span}  {i.label}{extra}{cal}")
        day += timedelta(days=1)
    lines.append("")
    totals: dict[ItemKind, int] = {}
    for i in items:
        totals[i.kind] = totals.get(i.kind, 0) + int((i.end - i.start).total_seconds() // 60)
    lines.append(
        "Totals: " + ", ".join(f"{k.value} {v / 60:.1f} h" for k, v in totals.items()) if totals else "Totals: -"
    )
    lines.append("Legend: " + "  ".join(f"{SYMBOL[k]}={LEGEND[k]}" for k in ItemKind))
    return "\n".join(lines)


def render_ledger_text(plan: Plan, zone: ZoneInfo) -> str:
    """The debt ledger: one line per debt with its status."""
    if not plan.debts:
        return "Debt ledger: empty (no meeting has cut into catch-up time)."
    lines = ["Debt ledger:"]
    for st in plan.debts:
        d = st.debt
        created = d.created.astimezone(zone)
        deadline = d.deadline.astimezone(zone)
        lines.append(
            f"  {st.status.value:9} {d.category:10} {d.minutes:4d} min  from {created:%a %d %b %H:%M}"
            f"  due {deadline:%a %d %b %H:%M}  paid {st.paid}  booked {st.scheduled}  waived {st.waived}"
            f"  unplaced {st.unplaced}"
        )
    return "\n".join(lines)
