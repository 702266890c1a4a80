"""The week as a terminal grid: days across, half hours down.

Rows are wall-clock half hours; each cell covers the real instants from its
wall-clock time to the next row's on that day, so on a 23-hour day the skipped
hour's cells are empty of time (shown as ``~``) and on a 25-hour day the cell
across the repeated hour covers it too: nothing is lost or counted twice.

Two outputs from one grid: plain text (symbols, for pipes, files and tests)
and rich text (coloured cells) when standard output is a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from idealweek.render import COLOUR, LEGEND, NOW_MARK, SYMBOL, Item, ItemKind, WeekView, totals_lines
from idealweek.week import local_instant

SLOT = 30
COL_W = 11
PRIORITY = (
    ItemKind.VIOLATION,
    ItemKind.INTRUSION,
    ItemKind.MEETING,
    ItemKind.MAKEUP,
    ItemKind.FOCUS,
    ItemKind.PERSONAL,
    ItemKind.PROTECTED,
    ItemKind.MIRROR,
    ItemKind.HOUSEHOLD,
)
NO_TIME = "~"
EMPTY = "."


@dataclass(frozen=True)
class Cell:
    kind: ItemKind | None
    text: str
    """What the cell shows: the item's label where it starts, its symbol below."""
    exists: bool = True
    """False for wall-clock times a DST change skips."""


def _now(view: WeekView) -> tuple[int, int] | None:
    """(day index, minute of the day) of the time now, when it falls in the week."""
    if view.now is None or not view.start <= view.now < view.end:
        return None
    local = view.now.astimezone(view.zone)
    day = next((n for n, d in enumerate(view.days) if d.date == local.date()), None)
    return None if day is None else (day, local.hour * 60 + local.minute)


def grid(view: WeekView) -> tuple[list[str], list[list[Cell]]]:
    """Row labels (6 characters; the row of the time now ends with ``>``) and rows of seven cells."""
    lo, hi = 7 * 60, 20 * 60
    z = view.zone
    for it in view.items:
        s, e = it.start.astimezone(z), it.end.astimezone(z)
        lo = min(lo, s.hour * 60 + s.minute)
        hi = max(hi, 24 * 60 if e.date() > s.date() else e.hour * 60 + e.minute)
    now = _now(view)  # marked when it falls in the hours shown (the header marks the day in any case)
    lo, hi = (lo // SLOT) * SLOT, min(-(-hi // SLOT) * SLOT, 24 * 60)
    labels: list[str] = []
    rows: list[list[Cell]] = []
    started: set[int] = set()
    for m in range(lo, hi, SLOT):
        mark = NOW_MARK if now is not None and m <= now[1] < m + SLOT else " "
        labels.append(f"{m // 60:02d}:{m % 60:02d}{mark}")
        row: list[Cell] = []
        for day in view.days:
            a = _at(day.date, m, z)
            b = _at(day.date, m + SLOT, z)
            wall = a.astimezone(z)
            if b <= a or (wall.hour * 60 + wall.minute) != m:
                row.append(Cell(None, NO_TIME * COL_W, exists=False))
                continue
            row.append(_cell(view.items, a, b, started))
        rows.append(row)
    return labels, rows


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= 24 * 60:
        return local_instant(day + timedelta(days=1), time(0), zone)
    return local_instant(day, time(minute // 60, minute % 60), zone)


def _cell(items: tuple[Item, ...], a: datetime, b: datetime, started: set[int]) -> Cell:
    here = [i for i in items if i.start < b and i.end > a]
    if not here:
        return Cell(None, EMPTY * COL_W)
    top = min(here, key=lambda i: (PRIORITY.index(i.kind), i.start))
    sym = SYMBOL[top.kind]
    key = id(top)
    if key not in started:
        started.add(key)
        text = (sym + " " + top.label)[:COL_W].ljust(COL_W)
    else:
        text = sym * COL_W
    return Cell(top.kind, text)


def _header(view: WeekView) -> str:
    heads = []
    now = _now(view)
    for n, d in enumerate(view.days):
        h = f"{d.date:%a %d}"
        if d.minutes != 24 * 60:
            h += f" {d.minutes // 60}h"
        if now is not None and now[0] == n:
            h += f" {NOW_MARK}" if len(h) + 2 <= COL_W else NOW_MARK
        heads.append(h.ljust(COL_W))
    return "      " + " ".join(heads)


def render_grid_text(view: WeekView) -> str:
    """The grid as plain text, with a legend and the week's totals."""
    labels, rows = grid(view)
    lines = [f"Week {view.label} ({view.zone.key})", _header(view)]
    for label, row in zip(labels, rows, strict=True):
        lines.append(label + " ".join(c.text for c in row))
    lines.append("")
    lines.append("Legend: " + "  ".join(f"{SYMBOL[k]} {LEGEND[k].split(':')[0].split(' (')[0]}" for k in ItemKind))
    lines.append(f"        {EMPTY} free   {NO_TIME} no such time (DST)   {NOW_MARK} now")
    lines += ["Totals: " + totals_lines(view)[0], *("        " + t for t in totals_lines(view)[1:])]
    return "\n".join(lines)


def render_grid_rich(view: WeekView) -> object:
    """The grid as a rich renderable (coloured cells) for a terminal."""
    from rich.console import Group
    from rich.text import Text

    labels, rows = grid(view)
    out: list[Text] = [Text(f"Week {view.label} ({view.zone.key})", style="bold"), Text(_header(view), style="bold")]
    for label, row in zip(labels, rows, strict=True):
        t = Text(label, style="bold" if label.endswith(NOW_MARK) else "dim")
        for n, c in enumerate(row):
            if n:
                t.append(" ")
            if c.kind is None:
                t.append(c.text.replace(EMPTY, " ") if c.exists else c.text, style="grey23" if c.exists else "dim")
            else:
                t.append(c.text, style=f"black on {COLOUR[c.kind]}")
        out.append(t)
    legend = Text("Legend: ")
    for k in ItemKind:
        legend.append(f" {SYMBOL[k]} ", style=f"black on {COLOUR[k]}")
        legend.append(f" {LEGEND[k].split(':')[0].split(' (')[0]}  ")
    legend.append(f"{NOW_MARK} now")
    out += [Text(""), legend]
    out += [Text(("Totals: " if n == 0 else "        ") + line) for n, line in enumerate(totals_lines(view))]
    return Group(*out)
