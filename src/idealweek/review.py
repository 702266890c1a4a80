"""``idealweek review``: the week statistics over time (SPEC §3, "trial and error").

The figures of each week are the ones the engine saved while the week ran
(``Store.weeks``): they describe the ideal week that was configured then, so
two schedules can be compared after a few weeks of trial.  Output: a table,
``--json`` (minutes, for scripts) or ``--html FILE`` (a self-contained page
with inline SVG charts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from idealweek.planner import WeekFigures
from idealweek.render import COLOUR, ItemKind
from idealweek.week import iso_week_bounds, iso_week_label, week_ended_before

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.store import Store


@dataclass(frozen=True)
class ReviewRow(WeekFigures):
    """One week's figures, in minutes, as the engine saved them."""

    current: bool = False
    """The week is still running: its figures are so far."""

    @property
    def kept_share(self) -> float | None:
        return self.kept_min / self.protected_min if self.protected_min else None

    @classmethod
    def from_saved(cls, week: str, data: Mapping[str, object], current: bool = False) -> ReviewRow:
        known = {f.name for f in fields(cls)} - {"week", "current"}
        values: dict[str, int] = {}
        for k in known:
            v = data.get(k, 0)
            values[k] = int(v) if isinstance(v, int | float) else 0
        return cls(week=week, current=current, **values)


def week_labels(now: datetime, zone: ZoneInfo, n: int) -> list[str]:
    """The labels of the ``n`` local ISO weeks ending with the one containing ``now``, oldest first."""
    start, _ = iso_week_bounds(now, zone)
    # step back from the middle of the week: DST never moves it into another week
    mid = start + timedelta(days=3, hours=12)
    return [iso_week_label(mid - timedelta(days=7 * k), zone) for k in range(n - 1, -1, -1)]


def review_rows(store: Store, now: datetime, settings: Settings, n: int = 8) -> list[ReviewRow]:
    """The saved figures of the last ``n`` weeks (weeks without any record, or that ended before
    idealweek first ran, are left out)."""
    zone = settings.zone
    saved = store.weeks()
    first_run = store.first_run()
    labels = week_labels(now, zone, max(n, 1))
    current = labels[-1]
    return [
        ReviewRow.from_saved(w, saved[w], current=w == current)
        for w in labels
        if w in saved and not (first_run is not None and week_ended_before(w, first_run, zone))
    ]


def _h(minutes: int) -> str:
    return f"{minutes / 60:.1f}"


COLUMNS: tuple[tuple[str, str], ...] = (
    ("week", "week"),
    ("protected_min", "planned h"),
    ("kept_min", "kept h"),
    ("lost_min", "lost h"),
    ("made_up_min", "made up h"),
    ("debt_open_min", "open h"),
    ("debt_overdue_min", "overdue h"),
    ("debt_waived_min", "waived h"),
    ("violations", "violations"),
    ("focus_planned_min", "focus plan h"),
    ("focus_kept_min", "focus kept h"),
    ("meeting_min", "meetings h"),
)


def _cells(r: ReviewRow) -> list[str]:
    out = []
    for key, _title in COLUMNS:
        if key == "week":
            out.append(r.week + ("*" if r.current else ""))
        elif key == "violations":
            out.append(str(r.violations))
        else:
            out.append(_h(int(getattr(r, key))))
    return out


def _sum(rows: Sequence[ReviewRow]) -> ReviewRow:
    total: dict[str, int] = {}
    for f in fields(ReviewRow):
        if f.name in ("week", "current"):
            continue
        total[f.name] = sum(int(getattr(r, f.name)) for r in rows)
    return ReviewRow(week="total", current=False, **total)


def render_table(rows: Sequence[ReviewRow]) -> str:
    """The review as a plain-text table (the terminal form)."""
    if not rows:
        return "No week statistics yet: they are recorded by each sync cycle (run `idealweek run`)."
    body = [_cells(r) for r in rows]
    total = _sum(rows)
    foot = _cells(total)
    widths = [max(len(title), *(len(c[i]) for c in [*body, foot])) for i, (_k, title) in enumerate(COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line([t for _k, t in COLUMNS]), line(["-" * w for w in widths])]
    out += [line(c) for c in body]
    out += [line(["-" * w for w in widths]), line(foot)]
    share = total.kept_share
    if share is not None:
        out.append(
            f"Kept {share:.0%} of the planned protected time; {_h(total.made_up_min)} h of "
            f"{_h(total.lost_min)} h lost were made up."
        )
    if any(r.current for r in rows):
        out.append("* this week so far")
    return "\n".join(out)


def render_json(rows: Sequence[ReviewRow]) -> str:
    """The review for scripts: one object per week, figures in minutes."""
    return json.dumps([asdict(r) for r in rows], indent=2)


# -- the HTML page ---------------------------------------------------------------------

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif"
SERIES = {
    "kept": ("kept", COLOUR[ItemKind.PROTECTED]),
    "lost": ("lost to meetings", COLOUR[ItemKind.INTRUSION]),
    "made_up": ("made up", COLOUR[ItemKind.MAKEUP]),
    "focus_kept": ("focus kept", COLOUR[ItemKind.FOCUS]),
    "focus_planned": ("focus planned", "#9fd6d6"),
}


def _bar_chart(
    title: str, rows: Sequence[ReviewRow], series: Sequence[tuple[str, str]], target: str | None = None
) -> str:
    """Grouped bars per week; ``series`` are (name in SERIES, ReviewRow attribute)."""
    width, height, left, bottom, top = 760, 260, 44, 36, 34
    plot_h = height - top - bottom
    values = [[int(getattr(r, attr)) for _n, attr in series] for r in rows]
    peak = max([1, *(v for vs in values for v in vs), *([int(getattr(r, target)) for r in rows] if target else [])])
    step_h = max(1, -(-peak // 60 // 4)) * 60  # a grid line every whole number of hours
    scale_max = -(-peak // step_h) * step_h
    n = max(len(rows), 1)
    group_w = (width - left - 10) / n
    bar_w = min(26.0, group_w * 0.8 / len(series))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{escape(title)}">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="18" style="{FONT};font-size:14px;font-weight:600" fill="#222">{escape(title)}</text>',
    ]

    def y(v: float) -> float:
        return top + plot_h - v / scale_max * plot_h

    v = 0
    while v <= scale_max:
        out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e4e4e4"/>')
        out.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" style="{FONT};font-size:10px" '
            f'fill="#777">{v // 60} h</text>'
        )
        v += step_h
    for i, r in enumerate(rows):
        gx = left + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, (name, attr) in enumerate(series):
            val = int(getattr(r, attr))
            label, colour = SERIES[name]
            out.append(
                f'<rect class="bar" data-series="{name}" data-week="{r.week}" x="{gx + j * bar_w:.1f}" '
                f'y="{y(val):.1f}" width="{bar_w - 2:.1f}" height="{y(0) - y(val):.1f}" fill="{colour}">'
                f"<title>{escape(r.week)}: {escape(label)} {val / 60:.1f} h</title></rect>"
            )
        if target:
            tv = int(getattr(r, target))
            out.append(
                f'<line class="target" data-week="{r.week}" x1="{gx - 3:.1f}" x2="{gx + bar_w * len(series) + 1:.1f}" '
                f'y1="{y(tv):.1f}" y2="{y(tv):.1f}" stroke="#333" stroke-width="2" stroke-dasharray="4 2">'
                f"<title>{escape(r.week)}: target {tv / 60:.1f} h</title></line>"
            )
        out.append(
            f'<text x="{left + i * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'style="{FONT};font-size:10px" fill="#555">{escape(r.week[5:])}{"*" if r.current else ""}</text>'
        )
    lx = left
    for name, _attr in series:
        label, colour = SERIES[name]
        out.append(
            f'<rect x="{lx}" y="{height - 12}" width="12" height="10" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{height - 3}" style="{FONT};font-size:11px" fill="#333">{escape(label)}</text>'
        )
        lx += 24 + 7 * len(label)
    if target:
        out.append(
            f'<line x1="{lx}" x2="{lx + 14}" y1="{height - 7}" y2="{height - 7}" stroke="#333" stroke-width="2" '
            f'stroke-dasharray="4 2"/><text x="{lx + 18}" y="{height - 3}" style="{FONT};font-size:11px" '
            'fill="#333">target</text>'
        )
    out.append("</svg>")
    return "".join(out)


def render_html(rows: Sequence[ReviewRow], title: str = "idealweek review") -> str:
    """A self-contained page: two charts and the table."""
    head = "".join(f"<th>{escape(t)}</th>" for _k, t in COLUMNS)
    body = "".join(
        '<tr class="week-row">' + "".join(f"<td>{escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows
    )
    total = _sum(rows)
    foot = '<tr class="total">' + "".join(f"<td>{escape(c)}</td>" for c in _cells(total)) + "</tr>" if rows else ""
    share = total.kept_share
    summary = (
        f"Over {len(rows)} weeks: kept {share:.0%} of the planned protected time; "
        f"{_h(total.made_up_min)} h of {_h(total.lost_min)} h lost to meetings were made up; "
        f"focus {_h(total.focus_kept_min)} h kept of {_h(total.focus_target_min)} h target."
        if share is not None
        else "No week statistics yet."
    )
    charts = ""
    if rows:
        charts = _bar_chart(
            "Protected time: kept vs lost vs made up (hours per week)",
            rows,
            [("kept", "kept_min"), ("lost", "lost_min"), ("made_up", "made_up_min")],
        ) + _bar_chart(
            "Focus: kept and planned vs target (hours per week)",
            rows,
            [("focus_kept", "focus_kept_min"), ("focus_planned", "focus_planned_min")],
            target="focus_target_min",
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>"
        f"body{{{FONT};margin:16px;color:#222;background:#fff}}"
        "h1{font-size:20px;margin:0 0 4px}p.summary{margin:0 0 12px;color:#444}"
        ".charts svg{display:block;margin-bottom:10px}"
        "table{border-collapse:collapse;font-size:12px}"
        "td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}"
        "td:first-child,th:first-child{text-align:left}tr.total td{font-weight:600;border-top:2px solid #ccc}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='summary'>{escape(summary)}</p>"
        f'<div class="charts">{charts}</div>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}{foot}</tbody></table>"
        "<p><small>* this week so far. Figures as recorded while each week ran.</small></p>"
        "</body></html>\n"
    )


def digest_or_compare(
    settings: Settings, store: Store, now: datetime, digest: bool, as_json: bool, html: str | None
) -> int:
    """``review --digest`` (the weekly look back) and ``review --compare`` (versions side by side); read only."""
    from pathlib import Path

    from idealweek.fsutil import atomic_write

    if digest:
        from idealweek import digest as dg

        d = dg.build_digest(store, settings, now)
        if as_json:
            print(json.dumps({**asdict(d), "lines": [asdict(x) for x in dg.lines(d)]}, indent=2))
        elif html:
            atomic_write(Path(html), dg.render_html(d))  # mode 600: private figures
            print(f"wrote {html}")
        else:
            print(dg.render_text(d))
        return 0
    from idealweek import experiments as ex

    stats = ex.compare_from_store(store, settings, now)
    if as_json:
        print(ex.render_json(stats))
    elif html:
        atomic_write(Path(html), ex.render_html(stats))
        print(f"wrote {html}")
    else:
        print(ex.render_text(stats))
    return 0
