"""The week as one self-contained SVG picture, and as an HTML page around it.

Layout: one column per local day, time running down.  Each day is laid out by
the real time elapsed since its local midnight, so a 23-hour or 25-hour DST day
is a shorter or longer column; its own hour lines and labels show where the
wall clock jumps.  Nothing refers to anything outside the file: no fonts,
scripts, images or URLs (``#…`` fragment links only).

Every drawn block is a ``<g class="item" data-kind="…">``: the browser tests
count them by kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from idealweek.render import COLOUR, LEGEND, Day, Item, ItemKind, WeekView, totals_lines

PX_PER_MIN = 0.72
DAY_W = 150
AXIS_W = 46
TOP = 66
PAD = 12
OWN = (ItemKind.PROTECTED, ItemKind.PERSONAL, ItemKind.MAKEUP, ItemKind.FOCUS)
OVERLAY = (ItemKind.INTRUSION, ItemKind.VIOLATION)
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif"


def anchor(block_id: str) -> str:
    """The DOM id of an intrusion (what a make-up block links to)."""
    return "iw-" + re.sub(r"[^A-Za-z0-9_-]", "_", block_id)


@dataclass(frozen=True)
class _Seg:
    item: Item
    day: int
    top: int
    """Minutes since the day's local midnight (real elapsed time)."""
    bottom: int
    first: bool
    """The first piece of the item (an item crossing midnight is cut into one piece per day)."""


def _segments(view: WeekView) -> list[_Seg]:
    segs: list[_Seg] = []
    for item in view.items:
        first = True
        for n, day in enumerate(view.days):
            s, e = max(item.start, day.start), min(item.end, day.end)
            if e <= s:
                continue
            segs.append(_Seg(item, n, _mins(day, s), _mins(day, e), first))
            first = False
    return segs


def _mins(day: Day, t: datetime) -> int:
    return int((t - day.start).total_seconds() // 60)


def _lanes(segs: Sequence[_Seg]) -> dict[int, tuple[int, int]]:
    """Side-by-side lanes for overlapping segments of one day: index → (lane, lanes in its cluster)."""
    order = sorted(range(len(segs)), key=lambda i: (segs[i].day, segs[i].top, -segs[i].bottom))
    out: dict[int, tuple[int, int]] = {}
    cluster: list[int] = []
    lane_end: list[int] = []
    cluster_end = -1

    def close() -> None:
        for i in cluster:
            out[i] = (out[i][0], len(lane_end))

    for i in order:
        sg = segs[i]
        if cluster and (sg.top >= cluster_end or sg.day != segs[cluster[0]].day):
            close()
            cluster, lane_end, cluster_end = [], [], -1
        lane = next((k for k, end in enumerate(lane_end) if end <= sg.top), None)
        if lane is None:
            lane = len(lane_end)
            lane_end.append(sg.bottom)
        else:
            lane_end[lane] = sg.bottom
        out[i] = (lane, 0)
        cluster.append(i)
        cluster_end = max(cluster_end, sg.bottom)
    if cluster:
        close()
    return out


def _fmt(t: datetime, view: WeekView) -> str:
    return t.astimezone(view.zone).strftime("%a %H:%M")


def _label_fit(text: str, width: float) -> str:
    room = max(int(width / 5.6), 1)
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def _range(view: WeekView) -> tuple[int, int]:
    """The minutes of the day to show: every item, at least 07:00-20:00, whole hours."""
    lo, hi = 7 * 60, 20 * 60
    for sg in _segments(view):
        lo, hi = min(lo, sg.top), max(hi, sg.bottom)
    longest = max(d.minutes for d in view.days)
    return (lo // 60) * 60, min(-(-hi // 60) * 60, longest)


def week_svg(view: WeekView, standalone: bool = False) -> str:
    """The week as an ``<svg>`` element (``standalone``: with the XML prolog, as a file of its own)."""
    lo, hi = _range(view)
    grid_h = (hi - lo) * PX_PER_MIN
    width = AXIS_W + 7 * DAY_W + PAD
    legend_y = TOP + grid_h + 28
    height = legend_y + 24 * 3 + 18 * 3 + 10
    out: list[str] = []
    w = out.append
    if standalone:
        w('<?xml version="1.0" encoding="UTF-8"?>\n')
    w(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" role="img" aria-label="Week {view.label}" class="iw-week">'
    )
    w(f"<title>idealweek — week {escape(view.label)} ({escape(view.zone.key)})</title>")
    w(
        "<defs>"
        '<pattern id="iw-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{COLOUR[ItemKind.INTRUSION]}" fill-opacity="0.25"/>'
        f'<rect width="3" height="6" fill="{COLOUR[ItemKind.INTRUSION]}" fill-opacity="0.85"/></pattern>'
        '<pattern id="iw-cross" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{COLOUR[ItemKind.VIOLATION]}" fill-opacity="0.35"/>'
        f'<path d="M0 0L6 6M6 0L0 6" stroke="{COLOUR[ItemKind.VIOLATION]}" stroke-width="1.6"/></pattern>'
        '<marker id="iw-arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" markerHeight="6" '
        f'orient="auto-start-reverse"><path d="M0 0L6 3L0 6z" fill="{COLOUR[ItemKind.MAKEUP]}"/></marker>'
        "</defs>"
    )
    w(f'<rect width="{width}" height="{height:.0f}" fill="#ffffff"/>')
    w(
        f'<text x="{AXIS_W}" y="22" style="{FONT};font-size:16px;font-weight:600" fill="#222">'
        f"Week {escape(view.label)}</text>"
        f'<text x="{AXIS_W + 150}" y="22" style="{FONT};font-size:12px" fill="#666">{escape(view.zone.key)} · '
        f"{view.days[0].date:%d %b} – {view.days[-1].date:%d %b %Y}</text>"
    )

    def y(minute: float) -> float:
        return TOP + (minute - lo) * PX_PER_MIN

    # left axis: wall-clock hours of a 24-hour day of this week
    normal = next((d for d in view.days if d.minutes == 24 * 60), view.days[0])
    for m, t in normal.hours(view.zone):
        if lo <= m <= hi:
            w(
                f'<text x="{AXIS_W - 6}" y="{y(m) + 4:.1f}" text-anchor="end" style="{FONT};font-size:10px" '
                f'fill="#777">{t.astimezone(view.zone):%H:%M}</text>'
            )
    for n, day in enumerate(view.days):
        x: float = AXIS_W + n * DAY_W
        bottom = y(min(hi, day.minutes))
        odd = day.minutes != 24 * 60
        head = f"{day.date:%a %d %b}"
        w(f'<g class="day" data-date="{day.date.isoformat()}" data-minutes="{day.minutes}">')
        w(f'<rect x="{x + 1}" y="{TOP}" width="{DAY_W - 2}" height="{bottom - TOP:.1f}" fill="#f7f7f5"/>')
        w(
            f'<text x="{x + DAY_W / 2}" y="{TOP - 22}" text-anchor="middle" style="{FONT};font-size:12px;'
            f'font-weight:600" fill="#333">{head}</text>'
        )
        if odd:
            w(
                f'<text x="{x + DAY_W / 2}" y="{TOP - 8}" text-anchor="middle" style="{FONT};font-size:10px" '
                f'fill="#b35c00">{day.minutes / 60:g}-hour day (DST)</text>'
            )
        for m, t in day.hours(view.zone):
            if lo <= m <= min(hi, day.minutes):
                w(f'<line x1="{x + 1}" x2="{x + DAY_W - 1}" y1="{y(m):.1f}" y2="{y(m):.1f}" stroke="#e2e2de"/>')
                if odd:
                    w(
                        f'<text x="{x + 3}" y="{y(m) + 9:.1f}" style="{FONT};font-size:8px" fill="#b35c00">'
                        f"{t.astimezone(view.zone):%H}</text>"
                    )
        if day.minutes < hi:
            w(
                f'<rect x="{x + 1}" y="{bottom:.1f}" width="{DAY_W - 2}" height="{y(hi) - bottom:.1f}" '
                'fill="#e9e9e9" class="no-time"/>'
            )
        w("</g>")

    segs = _segments(view)
    own = [s for s in segs if s.item.kind in OWN]
    meets = [s for s in segs if s.item.kind == ItemKind.MEETING]
    centres: dict[str, tuple[float, float]] = {}
    links: list[tuple[_Seg, float, float]] = []

    def block(sg: _Seg, x0: float, bw: float, extra: str = "") -> None:
        it = sg.item
        top, h = y(max(sg.top, lo)), max((min(sg.bottom, hi) - max(sg.top, lo)) * PX_PER_MIN, 2.0)
        kind = it.kind.value
        ident = ""
        if it.kind in OVERLAY and sg.first and it.link:
            ident = f' id="{anchor(it.link)}"'
            centres[it.link] = (x0 + bw / 2, top + h / 2)
        tip = f"{LEGEND[it.kind]}: {it.label} · {_fmt(it.start, view)}–{_fmt(it.end, view)}"
        if it.kind == ItemKind.MAKEUP and it.repays:
            tip += f" · repays {it.repays}"
        w(f'<g class="item item-{kind}" data-kind="{kind}"{ident}{extra}><title>{escape(tip)}</title>')
        if it.kind == ItemKind.INTRUSION:
            fill, stroke = "url(#iw-hatch)", COLOUR[it.kind]
        elif it.kind == ItemKind.VIOLATION:
            fill, stroke = "url(#iw-cross)", COLOUR[it.kind]
        else:
            fill, stroke = COLOUR[it.kind], "#ffffff"
        opacity = ' fill-opacity="0.88"' if it.kind == ItemKind.MEETING else ""
        w(
            f'<rect x="{x0:.1f}" y="{top:.1f}" width="{bw:.1f}" height="{h:.1f}" rx="3" fill="{fill}"{opacity} '
            f'stroke="{stroke}" stroke-width="1"/>'
        )
        if h >= 11 and it.kind not in OVERLAY and it.kind != ItemKind.MIRROR and sg.first:
            dark = it.kind in (ItemKind.PROTECTED, ItemKind.MAKEUP)
            colour = "#1d2a1d" if dark else "#ffffff"
            w(
                f'<text x="{x0 + 3:.1f}" y="{top + 10:.1f}" style="{FONT};font-size:9px" fill="{colour}">'
                f"{escape(_label_fit(it.label, bw - 4))}</text>"
            )
        w("</g>")
        if it.kind == ItemKind.MAKEUP and sg.first:
            links.append((sg, x0 + bw / 2, top + h / 2))

    # household busy time: a faint band across the whole day, under everything else
    for sg in segs:
        if sg.item.kind == ItemKind.HOUSEHOLD:
            top, bot = y(max(sg.top, lo)), y(min(sg.bottom, hi))
            if bot <= top:
                continue
            tip = f"{LEGEND[ItemKind.HOUSEHOLD]} · {_fmt(sg.item.start, view)}–{_fmt(sg.item.end, view)}"
            w(
                f'<g class="item item-household" data-kind="household"><title>{escape(tip)}</title>'
                f'<rect x="{AXIS_W + sg.day * DAY_W + 1}" y="{top:.1f}" width="{DAY_W - 2}" height="{bot - top:.1f}" '
                f'fill="{COLOUR[ItemKind.HOUSEHOLD]}" fill-opacity="0.6"/></g>'
            )
    lane_w = DAY_W * 0.6
    for idx, (lane, count) in _lanes(own).items():
        sg = own[idx]
        x = AXIS_W + sg.day * DAY_W + 3
        bw = lane_w / max(count, 1)
        block(sg, x + lane * bw, bw - 1)
    for sg in segs:
        if sg.item.kind in OVERLAY:
            block(sg, AXIS_W + sg.day * DAY_W + 3, lane_w)
    meet_x0, meet_w = DAY_W * 0.42, DAY_W * 0.48
    for idx, (lane, count) in _lanes(meets).items():
        sg = meets[idx]
        x = AXIS_W + sg.day * DAY_W + meet_x0
        bw = meet_w / max(count, 1)
        block(sg, x + lane * bw, bw - 1)
    for sg in segs:
        if sg.item.kind == ItemKind.MIRROR:
            block(sg, AXIS_W + sg.day * DAY_W + DAY_W * 0.915, DAY_W * 0.07)

    # make-up → the intrusion it repays (a link, and an arrow when both are in this week)
    for sg, mx, my in links:
        for target in [t for t in sg.item.link.split(", ") if t]:
            w(f'<a href="#{anchor(target)}" class="repays" data-repays="{escape(target)}">')
            if target in centres:
                tx, ty = centres[target]
                w(
                    f'<path d="M{mx:.1f} {my:.1f} C{mx:.1f} {(my + ty) / 2:.1f} {tx:.1f} {(my + ty) / 2:.1f} '
                    f'{tx:.1f} {ty:.1f}" fill="none" stroke="{COLOUR[ItemKind.MAKEUP]}" stroke-width="1.2" '
                    'stroke-dasharray="4 3" marker-end="url(#iw-arrow)" opacity="0.7"/>'
                )
            else:
                w(
                    f'<text x="{mx:.1f}" y="{my + 3:.1f}" text-anchor="middle" style="{FONT};font-size:8px" '
                    f'fill="#7a4a00">↺</text>'
                )
            w(f"<title>repays {escape(sg.item.repays or 'an intrusion')}</title></a>")

    # the time now: a line across today's column
    if view.now is not None and view.start <= view.now < view.end:
        for n, day in enumerate(view.days):
            if day.start <= view.now < day.end and lo <= _mins(day, view.now) <= hi:
                ny, nx = y(_mins(day, view.now)), AXIS_W + n * DAY_W
                w(
                    f'<g class="now"><line x1="{nx + 1}" x2="{nx + DAY_W - 1}" y1="{ny:.1f}" y2="{ny:.1f}" '
                    f'stroke="#d62828" stroke-width="2"/><circle cx="{nx + 3}" cy="{ny:.1f}" r="3.5" fill="#d62828"/>'
                    f"<title>now, {view.now.astimezone(view.zone):%a %H:%M}</title></g>"
                )

    # legend and totals
    ly = legend_y
    for n, kind in enumerate(ItemKind):
        col, row = n % 4, n // 4
        lx = AXIS_W + col * 265
        yy = ly + row * 24
        fill = {ItemKind.INTRUSION: "url(#iw-hatch)", ItemKind.VIOLATION: "url(#iw-cross)"}.get(kind, COLOUR[kind])
        w(
            f'<g class="legend" data-legend="{kind.value}"><rect x="{lx}" y="{yy - 11}" width="16" height="14" '
            f'rx="3" fill="{fill}" stroke="{COLOUR[kind]}"/><text x="{lx + 22}" y="{yy}" '
            f'style="{FONT};font-size:11px" fill="#333">{escape(_legend_short(kind))}</text></g>'
        )
    ty = ly + ((len(ItemKind) + 3) // 4 - 1) * 24 + 16
    for n, line in enumerate(totals_lines(view)):
        w(
            f'<text x="{AXIS_W}" y="{ty + n * 18}" class="totals" style="{FONT};font-size:12px" fill="#222">'
            f"{escape(line)}</text>"
        )
    w("</svg>")
    return "".join(out)


def _legend_short(kind: ItemKind) -> str:
    return {
        ItemKind.MEETING: "meeting",
        ItemKind.PROTECTED: "protected block",
        ItemKind.PERSONAL: "personal event",
        ItemKind.INTRUSION: "intrusion (time owed)",
        ItemKind.VIOLATION: "boundary violation (hard block)",
        ItemKind.MAKEUP: "make-up (→ what it repays)",
        ItemKind.FOCUS: "focus block",
        ItemKind.MIRROR: "busy mirror (work calendar)",
        ItemKind.HOUSEHOLD: "household busy",
    }[kind]


def week_html(view: WeekView) -> str:
    """A self-contained HTML page: the SVG picture (with its legend and totals) and the week's items as a list."""
    rows = []
    for it in view.items:
        repays = f"repays {it.repays}" if it.kind == ItemKind.MAKEUP and it.repays else ""
        rows.append(
            f'<tr><td><span class="sw" style="background:{COLOUR[it.kind]}"></span>{escape(it.kind.value)}</td>'
            f"<td>{_fmt(it.start, view)}</td><td>{_fmt(it.end, view)}</td><td>{escape(it.label)}</td>"
            f"<td>{escape(repays)}</td></tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>idealweek — week {escape(view.label)}</title>"
        "<style>"
        f"body{{{FONT};margin:16px;color:#222;background:#fff}}"
        "table{border-collapse:collapse;font-size:12px;margin-top:12px}"
        "td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}"
        ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}"
        "details{margin-top:12px}"
        "</style></head><body>"
        f"{week_svg(view)}"
        f"<details><summary>All {len(view.items)} items</summary>"
        "<table><thead><tr><th>kind</th><th>from</th><th>to</th><th>what</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
        "</body></html>\n"
    )
