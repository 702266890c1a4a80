"""Schedule experiments: which version of the ideal week ran each week, and how each version did.

The *version* of the ideal week is a short hash of what defines it: the
``[[protect]]`` rules, the ``[categories]`` and the ``[focus]`` settings (not
calendars, accounts, alerts or logging).  ``experiment = "name"`` in the
config names it.  Every writing cycle (``run``, the daemon) notes the version
in force for the week it runs in; a week in which the config changed belongs
to the version that ran most of its cycles (it is marked *mixed*).

``review --compare`` groups the weeks that have ended by version and shows,
per version, the number of weeks and the averages per week: planned and kept
hours, kept % (kept ÷ planned over the version's weeks), lost, made up,
overdue, focus kept vs target, violations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from idealweek.week import iso_week_label

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.review import ReviewRow
    from idealweek.store import Store


@dataclass(frozen=True)
class VersionStats:
    """The averages of one version of the ideal week over its weeks."""

    version: str
    name: str
    label: str
    """What the views show: the experiment name, else ``version``; with the hash when a name is reused."""
    weeks: tuple[str, ...]
    mixed: tuple[str, ...] = ()
    """Weeks in which another version ran some cycles too."""
    planned_h: float = 0.0
    kept_h: float = 0.0
    kept_pct: float | None = None
    lost_h: float = 0.0
    made_up_h: float = 0.0
    overdue_h: float = 0.0
    focus_kept_h: float = 0.0
    focus_target_h: float = 0.0
    violations: float = 0.0
    totals: dict[str, int] = field(default_factory=dict)
    """The sums in minutes (and the violation count) behind the averages."""

    @property
    def n(self) -> int:
        return len(self.weeks)


METRICS: tuple[tuple[str, str], ...] = (
    ("planned_h", "planned h/week"),
    ("kept_h", "kept h/week"),
    ("kept_pct", "kept %"),
    ("lost_h", "lost h/week"),
    ("made_up_h", "made up h/week"),
    ("overdue_h", "overdue h/week"),
    ("focus_kept_h", "focus kept h/week"),
    ("focus_target_h", "focus target h/week"),
    ("violations", "violations/week"),
)


def week_version(counts: Mapping[str, int]) -> tuple[str, bool]:
    """The version that ran most cycles of a week (ties: the smaller hash), and whether others ran too."""
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return best, len(counts) > 1


@dataclass(frozen=True)
class Comparison:
    versions: tuple[VersionStats, ...]
    unrecorded: tuple[str, ...] = ()
    """Weeks with figures but no writing cycle that noted a version (before idealweek recorded versions, or
    the week before the first run): left out."""


def compare(
    rows: Sequence[ReviewRow],
    week_versions: Mapping[str, Mapping[str, int]],
    names: Mapping[str, tuple[str, datetime]],
) -> Comparison:
    """Group ``rows`` (complete weeks) by version; versions ordered by their first week."""
    groups: dict[str, list[ReviewRow]] = {}
    mixed: dict[str, list[str]] = {}
    unrecorded: list[str] = []
    for r in rows:
        counts = week_versions.get(r.week)
        if not counts:
            unrecorded.append(r.week)
            continue
        v, mix = week_version(counts)
        groups.setdefault(v, []).append(r)
        if mix:
            mixed.setdefault(v, []).append(r.week)
    name_count: dict[str, int] = {}
    for v in groups:
        nm = names.get(v, ("", datetime.min))[0]
        if nm:
            name_count[nm] = name_count.get(nm, 0) + 1
    out: list[VersionStats] = []
    for v, rs in sorted(groups.items(), key=lambda kv: min(r.week for r in kv[1])):
        name = names.get(v, ("", datetime.min))[0]
        if name:
            label = name if name_count[name] == 1 else f"{name} ({v})"
        else:
            label = f"{v} (unnamed)"
        t = {
            key: sum(int(getattr(r, key)) for r in rs)
            for key in (
                "protected_min",
                "kept_min",
                "lost_min",
                "made_up_min",
                "debt_overdue_min",
                "focus_kept_min",
                "focus_target_min",
                "violations",
            )
        }
        n = len(rs)
        out.append(
            VersionStats(
                version=v,
                name=name,
                label=label,
                weeks=tuple(r.week for r in rs),
                mixed=tuple(mixed.get(v, [])),
                planned_h=round(t["protected_min"] / 60 / n, 2),
                kept_h=round(t["kept_min"] / 60 / n, 2),
                kept_pct=round(100 * t["kept_min"] / t["protected_min"], 1) if t["protected_min"] else None,
                lost_h=round(t["lost_min"] / 60 / n, 2),
                made_up_h=round(t["made_up_min"] / 60 / n, 2),
                overdue_h=round(t["debt_overdue_min"] / 60 / n, 2),
                focus_kept_h=round(t["focus_kept_min"] / 60 / n, 2),
                focus_target_h=round(t["focus_target_min"] / 60 / n, 2),
                violations=round(t["violations"] / n, 2),
                totals=t,
            )
        )
    return Comparison(tuple(out), tuple(unrecorded))


def compare_from_store(store: Store, settings: Settings, now: datetime) -> Comparison:
    """Every recorded week that has ended, grouped by version."""
    from idealweek.review import ReviewRow

    current = iso_week_label(now, settings.zone)
    rows = [ReviewRow.from_saved(w, d) for w, d in sorted(store.weeks().items()) if w < current]
    return compare(rows, store.week_versions(), store.versions())


# -- views -------------------------------------------------------------------------------


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key == "kept_pct":
        return f"{value:.0f}%"
    if key == "violations":
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.1f}"


def _left_out(c: Comparison) -> str:
    n = len(c.unrecorded)
    if not n:
        return ""
    return (
        f"{n} week{'s' if n > 1 else ''} without a recorded version left out ({', '.join(c.unrecorded)}): "
        "no writing cycle ran in it, or it is from before idealweek recorded versions."
    )


def render_text(c: Comparison) -> str:
    """Versions side by side: one column per version, one line per figure."""
    stats = c.versions
    if not stats:
        return (
            "No complete weeks recorded yet: each writing cycle (`idealweek run`) notes the version of the ideal "
            "week in force; compare again when a week has ended."
        ) + ("\n" + _left_out(c) if c.unrecorded else "")
    head = ["", *(s.label for s in stats)]
    lines: list[list[str]] = [
        head,
        ["weeks", *(f"{s.n}" + (f" ({len(s.mixed)} mixed)" if s.mixed else "") for s in stats)],
    ]
    lines.append(["from – to", *(f"{s.weeks[0][5:]}–{s.weeks[-1][5:]}" for s in stats)])
    for key, title in METRICS:
        lines.append([title, *(_fmt(key, getattr(s, key)) for s in stats)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = []
    for j, row in enumerate(lines):
        out.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append("Averages per week over the weeks that ended; kept % is kept ÷ planned over all of a version's weeks.")
    for s in stats:
        out.append(f"  {s.label}: version {s.version}, weeks {', '.join(s.weeks)}")
    if any(s.mixed for s in stats):
        out.append("A mixed week ran more than one version; it counts for the one that ran most of its cycles.")
    if c.unrecorded:
        out.append(_left_out(c))
    return "\n".join(out)


def render_json(c: Comparison) -> str:
    """``{"versions": [...], "unrecorded": [...]}``: averages in hours per week, totals in minutes."""
    return json.dumps(
        {"versions": [{**asdict(s), "n_weeks": s.n} for s in c.versions], "unrecorded": list(c.unrecorded)},
        indent=2,
    )


PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d")


def _chart(key: str, title: str, stats: Sequence[VersionStats]) -> str:
    """Horizontal bars, one per version, for one figure."""
    from html import escape  # here: the daemon records versions each cycle, it never renders them

    from idealweek.review import FONT

    width, row_h, left, top = 372, 26, 186, 28
    height = top + row_h * len(stats) + 8
    vals = [float(getattr(s, key) or 0.0) for s in stats]
    peak = max([*vals, 100.0 if key == "kept_pct" else 0.0, 1e-9])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart" '
        f'data-metric="{key}" role="img" aria-label="{escape(title)}">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="8" y="17" style="{FONT};font-size:13px;font-weight:600" fill="#222">{escape(title)}</text>',
    ]
    for i, (s, v) in enumerate(zip(stats, vals, strict=True)):
        y = top + i * row_h
        w = (width - left - 50) * v / peak
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" style="{FONT};font-size:11px" fill="#333">'
            f"{escape(s.label[:26])} ({s.n} wk)</text>"
            f'<rect class="bar" data-version="{escape(s.version)}" data-value="{v}" x="{left}" y="{y + 3}" '
            f'width="{w:.1f}" height="{row_h - 8}" fill="{colour}"><title>{escape(s.label)}: '
            f"{_fmt(key, getattr(s, key))}</title></rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + 15}" style="{FONT};font-size:11px" fill="#333">'
            f"{_fmt(key, getattr(s, key))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def render_html(c: Comparison, title: str = "idealweek: schedule experiments") -> str:
    """A self-contained page: one small chart per figure, then the table."""
    from html import escape

    from idealweek.review import FONT

    stats = c.versions
    charts = "".join(_chart(k, t, stats) for k, t in METRICS if k not in ("planned_h", "focus_target_h"))
    head = "<th></th>" + "".join(f"<th>{escape(s.label)}</th>" for s in stats)
    body = "<tr><td>weeks</td>" + "".join(f"<td>{s.n}</td>" for s in stats) + "</tr>"
    for key, t in METRICS:
        body += f"<tr><td>{escape(t)}</td>" + "".join(f"<td>{_fmt(key, getattr(s, key))}</td>" for s in stats) + "</tr>"
    notes = "".join(
        f"<li><b>{escape(s.label)}</b>: version {escape(s.version)}, weeks {escape(', '.join(s.weeks))}"
        + (f" (mixed: {escape(', '.join(s.mixed))})" if s.mixed else "")
        + "</li>"
        for s in stats
    )
    summary = (
        f"{len(stats)} versions of the ideal week over {sum(s.n for s in stats)} weeks that ended. "
        "Averages per week; kept % is kept ÷ planned over all of a version's weeks."
        if stats
        else "No complete weeks recorded yet."
    ) + (" " + _left_out(c) if c.unrecorded else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>"
        f"body{{{FONT};margin:16px;color:#222;background:#fff}}"
        "h1{font-size:20px;margin:0 0 4px}p.summary{margin:0 0 12px;color:#444}"
        ".charts{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px}"
        ".charts svg{border:1px solid #eee}"
        "table{border-collapse:collapse;font-size:12px}"
        "td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}"
        "td:first-child,th:first-child{text-align:left}ul{font-size:12px;color:#444}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='summary'>{escape(summary)}</p>"
        f'<div class="charts">{charts}</div>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<ul>{notes}</ul>"
        "</body></html>\n"
    )
