"""The weekly look back: one week's figures against the previous four, and one suggestion.

The digest covers the last week that has ended by its day — with the default
``digest_day = "sun"`` the week ending that very Sunday night (its figures are
then all but final).  It uses the figures the writing cycles recorded
(``Store.weeks``) and, for the suggestion, the minutes lost per protect slot
(category, weekday, start–end) that they recorded as well (:mod:`idealweek.records`).

The suggestion is the first of these that applies:

1. a slot lost time in at least 3 of the weeks shown (or in every one of at
   least 2): move it, or make it ``hard`` (if it is ``hard`` already: move it);
2. debt is overdue now: widen that category's make-up windows or lengthen
   ``catch_up.within``;
3. focus kept under 75 % of the target: lower the target or widen the hours;
4. kept % fell 10 points or more below the previous weeks' average;
5. otherwise: keep this ideal week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from idealweek.config import WEEKDAYS
from idealweek.week import iso_week_label, local_instant, week_start_from_label

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.review import ReviewRow
    from idealweek.store import Store

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SPARKS = "▁▂▃▄▅▆▇█"
HISTORY = 4
"""Weeks compared with the digest's week."""


# -- which week, when ---------------------------------------------------------------------


def digest_week(now: datetime, zone: ZoneInfo) -> str:
    """The week a digest made at ``now`` covers: the one containing the latest Sunday on or before today."""
    local = now.astimezone(zone)
    sunday = local.date() - timedelta(days=(local.weekday() + 1) % 7)
    return iso_week_label(local_instant(sunday, time(12), zone), zone)


def last_digest_time(settings: Settings, now: datetime) -> datetime:
    """The latest scheduled digest time at or before ``now`` (``digest_day`` at ``digest_time``, local)."""
    zone = settings.zone
    a = settings.alerts
    day = WEEKDAYS.index(a.digest_day)
    local = now.astimezone(zone).date()
    d = local - timedelta(days=(local.weekday() - day) % 7)
    t = local_instant(d, a.digest_time, zone)
    if t > now:
        t = local_instant(d - timedelta(days=7), a.digest_time, zone)
    return t


# -- the figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    week: str
    rows: tuple[ReviewRow, ...]
    """The digest's week last, up to four weeks before it first (weeks without figures left out)."""
    debt_open_min: int
    """Across the whole ledger now, not only this week's debts."""
    debt_overdue_min: int
    suggestion: str
    zone: str

    @property
    def this(self) -> ReviewRow | None:
        return self.rows[-1] if self.rows and self.rows[-1].week == self.week else None

    @property
    def previous(self) -> tuple[ReviewRow, ...]:
        return self.rows[:-1] if self.this is not None else self.rows


def _share(r: ReviewRow) -> float | None:
    return r.kept_min / r.protected_min if r.protected_min else None


def _slot_text(settings: Settings, slot: Mapping[str, object]) -> str:
    day = WEEKDAY_NAMES[int(str(slot["weekday"]))]
    return f"{day} {settings.category_title(str(slot['category'])).lower()} ({slot['start']}–{slot['end']})"


def suggest(
    settings: Settings,
    rows: Sequence[ReviewRow],
    losses: Mapping[str, Sequence[Mapping[str, object]]],
    overdue_by_category: Mapping[str, int],
) -> str:
    """One suggestion derived from the figures (the rules are in the module docstring)."""
    weeks = [r.week for r in rows]
    seen = [w for w in weeks if w in losses]
    m = len(seen)
    counts: dict[tuple[object, ...], tuple[int, int, Mapping[str, object]]] = {}
    for w in seen:
        for slot in losses[w]:
            mins = int(str(slot["minutes"]))
            if mins <= 0:
                continue
            key = (slot["category"], slot["weekday"], slot["start"], slot["end"], slot["policy"])
            n, total, _ = counts.get(key, (0, 0, slot))
            counts[key] = (n + 1, total + mins, slot)
    if counts:
        n, total, slot = max(counts.values(), key=lambda v: (v[0], v[1]))
        if n >= 3 or (n == m and m >= 2):
            what = _slot_text(settings, slot)
            if slot["policy"] == "hard":
                return f"{what} was booked over {n} of the last {m} weeks although it is `hard`: move it."
            return f"{what} lost time {n} of the last {m} weeks: move it, or make it `hard`."
    if overdue_by_category:
        cat, mins = max(overdue_by_category.items(), key=lambda kv: (kv[1], kv[0]))
        total_h = sum(overdue_by_category.values()) / 60
        return (
            f"{total_h:.1f} h of debt is overdue (most of it {settings.category_title(cat).lower()}): widen "
            f"categories.{cat}.windows or lengthen catch_up.within."
        )
    this = rows[-1] if rows else None
    if this is not None and this.focus_target_min and this.focus_kept_min < 0.75 * this.focus_target_min:
        return (
            f"Focus: {this.focus_kept_min / 60:.1f} h kept of the {this.focus_target_min / 60:.1f} h target: "
            "lower focus.weekly_target or widen focus.hours."
        )
    shares = [s for s in (_share(r) for r in rows[:-1]) if s is not None]
    now_share = _share(this) if this is not None else None
    if now_share is not None and shares:
        avg = sum(shares) / len(shares)
        if now_share <= avg - 0.10:
            return f"Kept {now_share:.0%} of the protected time, down from {avg:.0%} on average: see what took it."
    if this is not None and this.lost_min == 0:
        return "All protected time was kept: this ideal week works, keep it."
    return "No change needed: keep this ideal week."


def build_digest(store: Store, settings: Settings, now: datetime, week: str | None = None) -> Digest:
    """The digest for ``week`` (default: the one a digest made now covers) from the recorded figures."""
    from idealweek.review import ReviewRow  # the review's modules only when a digest is made (issue 15)

    zone = settings.zone
    week = week or digest_week(now, zone)
    start = week_start_from_label(week, zone)
    labels = [
        iso_week_label(start + timedelta(days=3, hours=12) - timedelta(days=7 * k), zone)
        for k in range(HISTORY, -1, -1)
    ]
    saved = store.weeks()
    current = iso_week_label(now, zone)
    rows = tuple(ReviewRow.from_saved(w, saved[w], current=w == current) for w in labels if w in saved)
    open_min = overdue_min = 0
    overdue_by_cat: dict[str, int] = {}
    for d in store.ledger():
        if d["status"] == "overdue":
            mins = int(str(d["unplaced"])) + int(str(d["scheduled"]))
            overdue_min += mins
            cat = str(d["category"])
            overdue_by_cat[cat] = overdue_by_cat.get(cat, 0) + mins
        elif d["status"] == "open":
            open_min += int(str(d["unplaced"]))
    losses = store.week_losses()
    return Digest(
        week=week,
        rows=rows,
        debt_open_min=open_min,
        debt_overdue_min=overdue_min,
        suggestion=suggest(settings, rows, losses, overdue_by_cat),
        zone=settings.timezone,
    )


# -- the forms ------------------------------------------------------------------------------


def sparkline(values: Sequence[float]) -> str:
    """▁…█ scaled to the largest value (all ▁ when every value is 0)."""
    peak = max(values, default=0)
    if peak <= 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, round(v / peak * (len(SPARKS) - 1)))] for v in values)


def arrow(this: float, before: Sequence[float], tolerance: float) -> str:
    """↑, ↓ or → for this week against the previous weeks' average (→ within ``tolerance``)."""
    if not before:
        return " "
    avg = sum(before) / len(before)
    if this > avg + tolerance:
        return "↑"
    if this < avg - tolerance:
        return "↓"
    return "→"


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    value: str
    series: tuple[float, ...]
    arrow: str


def lines(d: Digest) -> list[Line]:
    """The figures of the digest, each with its series over the weeks shown and its trend arrow."""
    from idealweek.review import ReviewRow

    rows = d.rows
    this = d.this or ReviewRow(week=d.week)

    def series(attr: str) -> tuple[float, ...]:
        return tuple(float(getattr(r, attr)) for r in rows)

    def trend(values: tuple[float, ...], tol: float) -> str:
        return arrow(values[-1], values[:-1], tol) if d.this is not None and values else " "

    def h(m: int) -> str:
        return f"{m / 60:.1f} h"

    share = this.kept_share
    kept_pct = tuple(100.0 * (r.kept_share or 0.0) for r in rows)
    out = [
        Line(
            "kept",
            "Protected time kept",
            f"{h(this.kept_min)} of {h(this.protected_min)}" + (f" ({share:.0%})" if share is not None else ""),
            kept_pct,
            trend(kept_pct, 2.0),
        )
    ]
    for key, label, attr in (
        ("lost", "Lost to meetings", "lost_min"),
        ("made_up", "Made up", "made_up_min"),
        ("open", "Debt still open (this week's)", "debt_open_min"),
        ("overdue", "Debt overdue (this week's)", "debt_overdue_min"),
    ):
        s = series(attr)
        out.append(Line(key, label, h(int(getattr(this, attr))), s, trend(s, 7.5)))
    fk = series("focus_kept_min")
    out.append(
        Line(
            "focus", "Focus kept", f"{h(this.focus_kept_min)} of {h(this.focus_target_min)} target", fk, trend(fk, 7.5)
        )
    )
    v = series("violations")
    out.append(Line("violations", "Boundary violations", str(this.violations), v, trend(v, 0.5)))
    return out


def _week_span(week: str, zone: ZoneInfo) -> str:
    start = week_start_from_label(week, zone).astimezone(zone)
    end = start + timedelta(days=6)
    return f"{start:%a %d %b} – {end:%a %d %b}"


def render_text(d: Digest) -> str:
    """The digest as plain text: what the channels receive and ``review --digest`` prints."""
    zone = ZoneInfo(d.zone)
    n_prev = len(d.previous)
    head = f"Week {d.week} ({_week_span(d.week, zone)})"
    if d.this is None:
        return head + ": no figures recorded for this week (run `idealweek run`)."
    out = [head + (f", against the previous {n_prev} weeks" if n_prev else "") + ":"]
    ls = lines(d)
    wl = max(len(x.label) for x in ls)
    wv = max(len(x.value) for x in ls)
    for x in ls:
        out.append(f"  {x.label:<{wl}}  {x.value:<{wv}}  {sparkline(x.series)} {x.arrow}".rstrip())
    out.append(f"  Debt now (all weeks): {d.debt_open_min / 60:.1f} h open, {d.debt_overdue_min / 60:.1f} h overdue")
    out.append(f"Suggestion: {d.suggestion}")
    if n_prev:
        out.append("(sparklines: oldest week first, this week last; arrows: this week against the average before)")
    return "\n".join(out)


def title(d: Digest) -> str:
    return f"idealweek: your week {d.week}"


def _spark_svg(values: Sequence[float], colour: str) -> str:
    w, h, pad = 110, 24, 3
    peak = max([*values, 1e-9])
    n = len(values)
    bw = (w - 2 * pad) / max(n, 1)
    bars = "".join(
        f'<rect class="spark" x="{pad + i * bw + 1:.1f}" y="{h - pad - (h - 2 * pad) * v / peak:.1f}" '
        f'width="{bw - 2:.1f}" height="{max((h - 2 * pad) * v / peak, 0.5):.1f}" '
        f'fill="{colour if i == n - 1 else "#bbb"}"/>'
        for i, v in enumerate(values)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">{bars}</svg>'


def render_html(d: Digest) -> str:
    """A self-contained page: the figures with small bar sparklines, the suggestion, the review charts."""
    from html import escape  # here: the daemon records a week's figures each cycle, it renders a page weekly

    from idealweek.render import COLOUR, ItemKind
    from idealweek.review import FONT, _bar_chart

    zone = ZoneInfo(d.zone)
    colours = {
        "kept": COLOUR[ItemKind.PROTECTED],
        "lost": COLOUR[ItemKind.INTRUSION],
        "made_up": COLOUR[ItemKind.MAKEUP],
        "focus": COLOUR[ItemKind.FOCUS],
    }
    rows_html = ""
    if d.this is not None:
        for x in lines(d):
            rows_html += (
                f'<tr class="figure" data-key="{x.key}"><td>{escape(x.label)}</td><td>{escape(x.value)}</td>'
                f"<td>{_spark_svg(x.series, colours.get(x.key, '#555'))}</td>"
                f'<td class="arrow">{escape(x.arrow)}</td></tr>'
            )
    charts = ""
    if d.rows:
        charts = _bar_chart(
            "Protected time: kept vs lost vs made up (hours per week)",
            d.rows,
            [("kept", "kept_min"), ("lost", "lost_min"), ("made_up", "made_up_min")],
        ) + _bar_chart(
            "Focus: kept and planned vs target (hours per week)",
            d.rows,
            [("focus_kept", "focus_kept_min"), ("focus_planned", "focus_planned_min")],
            target="focus_target_min",
        )
    body = (
        f"<p class='suggestion'><b>Suggestion:</b> {escape(d.suggestion)}</p>"
        f"<table><tbody>{rows_html}</tbody></table>"
        f"<p class='debt'>Debt now (all weeks): {d.debt_open_min / 60:.1f} h open, "
        f"{d.debt_overdue_min / 60:.1f} h overdue.</p>"
        if d.this is not None
        else "<p>No figures recorded for this week.</p>"
    )
    page_title = f"idealweek: week {d.week}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page_title)}</title><style>"
        f"body{{{FONT};margin:16px;color:#222;background:#fff}}"
        "h1{font-size:20px;margin:0 0 4px}p.span{margin:0 0 10px;color:#555}"
        "p.suggestion{background:#fff7e0;border-left:4px solid #f0b429;padding:6px 10px}"
        "table{border-collapse:collapse;font-size:13px;margin-bottom:10px}"
        "td{padding:3px 10px;border-bottom:1px solid #eee;vertical-align:middle}td.arrow{font-size:16px}"
        ".charts svg{display:block;margin-bottom:10px}"
        "</style></head><body>"
        f"<h1>{escape(page_title)}</h1>"
        f"<p class='span'>{escape(_week_span(d.week, zone))}, against the previous {len(d.previous)} weeks</p>"
        f"{body}<div class='charts'>{charts}</div>"
        "</body></html>\n"
    )
