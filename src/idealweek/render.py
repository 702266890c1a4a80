"""Pictures of the week and of the ledger.

This module holds what every form shares: the items to draw (:func:`week_items`),
the week as days of real elapsed time (:func:`week_view`), the plain-text agenda
and ledger.  The forms live beside it: ``render_grid`` (terminal grid, plain or
rich), ``render_svg`` (self-contained SVG and HTML), ``review`` (statistics over
weeks), ``render_status`` (this week in figures), ``render_week`` (what the ``week`` and
``run --once`` commands call: ``print_week`` and ``write_week_files``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from idealweek.model import DebtState, DebtStatus, DesiredEvent, Event, Kind, Policy
from idealweek.planner import Plan, WeekFigures
from idealweek.planner.keys import debt_block_id
from idealweek.week import iso_week_label, local_instant


class ItemKind(enum.StrEnum):
    MEETING = "meeting"
    PROTECTED = "protected"
    PERSONAL = "personal"
    INTRUSION = "intrusion"
    VIOLATION = "violation"
    MAKEUP = "makeup"
    FOCUS = "focus"
    MIRROR = "mirror"
    HOUSEHOLD = "household"


NOW_MARK = ">"
"""Marks the time now in the agenda and the grid."""

SYMBOL = {
    ItemKind.MEETING: "M",
    ItemKind.PROTECTED: "P",
    ItemKind.PERSONAL: "p",
    ItemKind.INTRUSION: "!",
    ItemKind.VIOLATION: "X",
    ItemKind.MAKEUP: "+",
    ItemKind.FOCUS: "F",
    ItemKind.MIRROR: "b",
    ItemKind.HOUSEHOLD: "h",
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
    ItemKind.HOUSEHOLD: "household busy (another person's calendar; together make-ups avoid it)",
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
    repays: str = ""
    """For make-ups, in words: what it pays back (``45 min lost Thu 26 Nov 18:15``)."""


def default_title(category: str) -> str:
    """A category's title when the config gives none (as :meth:`Settings.category_title`)."""
    return category.replace("_", " ").capitalize()


def week_items(
    plan: Plan,
    events: Sequence[Event],
    start: datetime,
    end: datetime,
    titles: Callable[[str], str] = default_title,
    zone: ZoneInfo | None = None,
) -> list[Item]:
    """Everything to draw in ``[start, end)``, from the plan and the calendars' owned events.

    Labels are what the user sees in their calendars: event titles, and category titles (``titles``)
    for protected time; times in what a make-up repays are local to ``zone``.
    """
    items: list[Item] = []
    debts = {st.debt.id: st.debt for st in plan.debts}

    def inside(s: datetime, e: datetime) -> bool:
        return s < end and e > start

    for m in plan.meetings:
        if inside(m.start, m.end):
            items.append(Item(m.start, m.end, ItemKind.MEETING, m.title or "(meeting)", m.calendar))
    for b in plan.blocks:
        if not inside(b.start, b.end):
            continue
        kind = ItemKind.PROTECTED if b.source == "rule" else ItemKind.PERSONAL
        label = (b.title or titles(b.category)) + ("" if b.policy == Policy.CATCH_UP else f" ({b.policy.value})")
        items.append(Item(b.start, b.end, kind, label, b.source, link=b.id))
    for it in plan.intrusions:
        if not inside(it.start, it.end):
            continue
        kind = ItemKind.VIOLATION if it.block.policy == Policy.HARD else ItemKind.INTRUSION
        what = it.block.title or titles(it.block.category)
        items.append(Item(it.start, it.end, kind, f"{it.minutes} min of {what} lost", link=it.block.id))
    shown: set[tuple[str, str]] = set()
    owned: list[DesiredEvent | Event] = [*plan.desired]
    owned += [e for e in events if e.tag is not None and e.end <= plan.now]
    for o in owned:
        tag = o.tag
        if tag is None or not inside(o.start, o.end):
            continue
        k = (o.calendar, tag.key.base)
        if k in shown:
            continue
        shown.add(k)
        if tag.kind == Kind.MAKEUP:
            links = ", ".join(debt_block_id(d) for d in sorted(tag.pays))
            paid = [(debts[d], m) for d, m in sorted(tag.pays.items()) if d in debts]
            repays = ", ".join(
                f"{m} min lost {d.created.astimezone(zone or d.created.tzinfo):%a %d %b %H:%M}"
                for d, m in sorted(paid, key=lambda p: p[0].created)
            )
            label = (o.title or f"Make-up: {titles(tag.category)}") + (
                " · household free" if tag.category in plan.together else ""
            )
            items.append(Item(o.start, o.end, ItemKind.MAKEUP, label, o.calendar, link=links, repays=repays))
        elif tag.kind == Kind.FOCUS:
            items.append(Item(o.start, o.end, ItemKind.FOCUS, o.title or "Focus", o.calendar))
        elif tag.kind == Kind.MIRROR:
            items.append(Item(o.start, o.end, ItemKind.MIRROR, o.title or "Busy", o.calendar))
    for iv in plan.household:
        if inside(iv.start, iv.end):
            items.append(Item(max(iv.start, start), min(iv.end, end), ItemKind.HOUSEHOLD, "household busy"))
    items.sort(key=lambda i: (i.start, list(ItemKind).index(i.kind), i.end, i.label))
    return items


def render_week_text(
    plan: Plan,
    events: Sequence[Event],
    start: datetime,
    zone: ZoneInfo,
    titles: Callable[[str], str] = default_title,
    summary: bool = True,
    now: datetime | None = None,
) -> str:
    """The week as plain text: one section per day, one line per item, the time now marked; with ``summary``
    also the hours per kind and a legend (the grid shows those when it is printed above)."""
    end = start + timedelta(days=7, hours=2)
    # the local week may be 167 or 169 hours long across DST: cut at local Monday midnight
    local_start = start.astimezone(zone)
    week_end = (local_start + timedelta(days=7, hours=12)).replace(hour=0, minute=0)
    end = week_end.astimezone(start.tzinfo)
    items = week_items(plan, events, start, end, titles, zone)
    now = (now or plan.now).astimezone(zone)
    if local_start.weekday() == 0 and local_start.hour == 0:
        heading = f"Week {iso_week_label(start, zone)} ({zone.key})"
    else:
        last = (local_start + timedelta(days=6)).date()
        heading = f"The week ahead: {local_start:%a %d %b} – {last:%a %d %b} ({zone.key})"
    lines = [heading, ""]
    day = local_start.date()
    for _ in range(7):
        day_items = [i for i in items if i.start.astimezone(zone).date() == day]
        today = now.date() == day
        lines.append(f"{day:%a %d %b}" + ("  (today)" if today else ""))
        if not day_items and not today:
            lines.append("    (nothing)")
        marked = not today
        for i in day_items:
            s = i.start.astimezone(zone)
            e = i.end.astimezone(zone)
            if not marked and s > now:
                lines.append(f"  {NOW_MARK} {now:%H:%M} now")
                marked = True
            span = f"{s:%H:%M}-{e:%H:%M}" if e.date() == s.date() else f"{s:%H:%M}-{e:%a %H:%M}"
            extra = f"  (repays {i.repays})" if i.kind == ItemKind.MAKEUP and i.repays else ""
            cal = f"  @{i.calendar}" if i.calendar and i.kind in (ItemKind.MIRROR, ItemKind.FOCUS) else ""
            lines.append(f"  {SYMBOL[i.kind]} {span}  {i.label}{extra}{cal}")
        if not marked:
            lines.append(f"  {NOW_MARK} {now:%H:%M} now")
        day += timedelta(days=1)
    if not summary:
        return "\n".join(lines)
    lines.append("")
    totals = {k: 0 for k in ItemKind}
    for i in items:
        totals[i.kind] += int((i.end - i.start).total_seconds() // 60)
    shown = [f"{k.value} {v / 60:.1f} h" for k, v in totals.items() if v]  # always in ItemKind's order
    lines.append("Totals: " + (", ".join(shown) or "-"))
    lines.append("Legend: " + "  ".join(f"{SYMBOL[k]}={LEGEND[k]}" for k in ItemKind) + f"  {NOW_MARK}=now")
    return "\n".join(lines)


def _booked(st: DebtState) -> str:
    """``60``, or ``30 for 15: min_block`` when more is booked than owed (and why)."""
    if not st.surplus:
        return str(st.booked)
    return f"{st.booked} for {st.booked - st.surplus}: {st.surplus_reason}"


STATUS_WORD = {DebtStatus.SCHEDULED: "booked"}
"""The ledger's words for a debt's status: one vocabulary with the rest ("booked", as in `status`)."""


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
            f"  {STATUS_WORD.get(st.status, st.status.value):9} {d.category:10} {d.minutes:4d} min"
            f"  from {created:%a %d %b %H:%M}"
            f"  due {deadline:%a %d %b %H:%M}  paid {st.paid}  booked {_booked(st)}  waived {st.waived}"
            f"  unplaced {st.unplaced}" + (f"  ({st.reason})" if st.reason else "")
        )
    return "\n".join(lines)


# -- the week as days of real elapsed time ---------------------------------------------


COLOUR = {
    ItemKind.MEETING: "#4a78c2",
    ItemKind.PROTECTED: "#6dbb7e",
    ItemKind.PERSONAL: "#a77bd1",
    ItemKind.INTRUSION: "#e0533d",
    ItemKind.VIOLATION: "#8e1b1b",
    ItemKind.MAKEUP: "#f0a22e",
    ItemKind.FOCUS: "#2a9d9d",
    ItemKind.MIRROR: "#8c8c8c",
    ItemKind.HOUSEHOLD: "#e3dccd",
}
"""One colour per kind, shared by the SVG, the HTML page and the rich terminal grid."""


@dataclass(frozen=True)
class Day:
    """One local day: from local midnight to the next, however long that is (23, 24 or 25 h)."""

    date: date
    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    def hours(self, zone: ZoneInfo) -> list[tuple[int, datetime]]:
        """(elapsed minutes since local midnight, instant) of every local full hour in the day."""
        out: list[tuple[int, datetime]] = []
        # walk the real timeline in quarter hours: a repeated hour (fold) is listed twice, a skipped one not at all
        t = self.start
        while t < self.end:
            if t.astimezone(zone).minute == 0:
                out.append((int((t - self.start).total_seconds() // 60), t))
            t += timedelta(minutes=15)
        return out


@dataclass(frozen=True)
class WeekView:
    """Everything a picture of one week needs."""

    label: str
    zone: ZoneInfo
    start: datetime
    end: datetime
    days: tuple[Day, ...]
    items: tuple[Item, ...]
    figures: WeekFigures
    now: datetime | None = None
    """The time the picture was made (marked when it falls in the week)."""


def week_days(start: datetime, zone: ZoneInfo) -> tuple[Day, ...]:
    """The seven local days of the week starting at ``start`` (local Monday midnight)."""
    monday = start.astimezone(zone).date()
    days = []
    for n in range(7):
        d = monday + timedelta(days=n)
        days.append(Day(d, local_instant(d, time(0), zone), local_instant(d + timedelta(days=1), time(0), zone)))
    return tuple(days)


def week_view(
    plan: Plan,
    events: Sequence[Event],
    start: datetime,
    zone: ZoneInfo,
    titles: Callable[[str], str] = default_title,
    now: datetime | None = None,
) -> WeekView:
    """The week starting at ``start`` (a local Monday midnight) as days, items and figures."""
    days = week_days(start, zone)
    end = days[-1].end
    label = iso_week_label(start, zone)
    items = tuple(week_items(plan, events, start, end, titles, zone))
    figures = next((w for w in plan.weeks if w.week == label), None)
    if figures is None:
        figures = WeekFigures(week=label, focus_target_min=0)
    return WeekView(label, zone, start, end, days, items, figures, now)


def totals_lines(view: WeekView) -> list[str]:
    """The week's totals as short lines (same words in every form)."""
    f = view.figures

    def h(minutes: int) -> str:
        return f"{minutes / 60:.1f} h"

    return [
        f"protected {h(f.protected_min)} · kept {h(f.kept_min)} · lost to meetings {h(f.lost_min)}"
        f" · made up {h(f.made_up_min)}",
        f"meetings {h(f.meeting_min)} · focus {h(f.focus_planned_min)} planned of {h(f.focus_target_min)}"
        f" · boundary violations {f.violations} ({h(f.violation_min)})",
        f"debt from this week {h(f.debt_min)} · open {h(f.debt_open_min)} · overdue {h(f.debt_overdue_min)}"
        f" · waived {h(f.debt_waived_min)}",
    ]
