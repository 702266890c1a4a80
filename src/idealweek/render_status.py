"""Where things stand, as text: `idealweek status` (this week in figures, or JSON) and what a cycle did."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from idealweek.model import Policy, debt_totals
from idealweek.week import iso_week_bounds, iso_week_label

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.engine import CycleReport


def status_data(report: CycleReport, settings: Settings) -> dict[str, Any]:
    """This local ISO week's figures from a (dry-run) cycle; times local, minutes as integers."""
    p = report.plan
    assert p is not None
    zone = settings.zone
    start, end = iso_week_bounds(report.at, zone)
    this_week = iso_week_label(report.at, zone)
    intr = [i for i in p.intrusions if start <= i.start < end]
    makeups = [m for m in p.makeups if start <= m.start < end]
    focus = [f for f in p.focus if start <= f.start < end]
    wk = next((w for w in p.weeks if w.week == this_week), None)
    return {
        "week": this_week,
        "intrusions": [
            {
                "block": i.block.id,
                "category": i.block.category,
                "policy": i.block.policy.value,
                "minutes": i.minutes,
                "start": i.start.astimezone(zone).isoformat(),
            }
            for i in intr
        ],
        "debt_minutes": asdict(debt_totals(p.debts)),
        "makeups": [
            {
                "start": m.start.astimezone(zone).isoformat(),
                "end": m.end.astimezone(zone).isoformat(),
                "category": m.tag.category,
                "pays": dict(m.tag.pays),
            }
            for m in makeups
        ],
        "focus_hours_planned": round((wk.focus_planned_min if wk else 0) / 60, 2),
        "focus_hours_target": round(settings.focus.weekly_target.total_seconds() / 3600, 2),
        "focus_blocks": len(focus),
        "violations": len([i for i in intr if i.block.policy == Policy.HARD]),
        "calendars_failed": report.failed,
    }


def render_status_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2)


def render_status_text(data: Mapping[str, Any]) -> str:
    """The figures of :func:`status_data` as a few lines for a person."""
    lines = [f"Week {data['week']}", f"  intrusions: {len(data['intrusions'])}"]
    for i in data["intrusions"]:
        lines.append(f"    {i['start'][:16]}  {i['category']:10} {i['policy']:9} {i['minutes']} min")
    lines.append(
        "  debt: open {open} min, overdue {overdue} min, booked {scheduled} min, waived {waived} min, "
        "paid {paid} min".format(**data["debt_minutes"])
    )
    lines.append(f"  make-ups this week: {len(data['makeups'])}")
    for m in data["makeups"]:
        lines.append(f"    {m['start'][:16]}-{m['end'][11:16]}  {m['category']}")
    lines.append(f"  focus: {data['focus_hours_planned']} h planned of {data['focus_hours_target']} h target")
    if data["violations"]:
        lines.append(f"  boundary violations: {data['violations']}")
    for name, err in sorted(data["calendars_failed"].items()):
        lines.append(f"  ! {name}: {err}")
    return "\n".join(lines)


def render_cycle_text(report: CycleReport) -> str:
    """What a cycle did (or would do, for a dry run): the operations, failures, notes and a summary line."""
    lines: list[str] = []
    summary = report.summary()
    if report.ops:
        label = "would apply" if report.dry_run else "applied"
        lines.append(f"Operations ({label}): " + _count_ops(report))
        shown = (
            report.ops
            if len(report.ops) <= 25 or report.dry_run
            else [op for op in report.ops if op.key.startswith(("makeup:", "focus:"))]
        )
        for op in shown:
            lines.append("  " + op.describe())
        if len(shown) < len(report.ops):
            lines.append(
                f"  … and {len(report.ops) - len(shown)} more (protected blocks and mirrors); "
                "`idealweek plan` lists every operation"
            )
    else:
        lines.append("Nothing to change: the calendars already match the plan (0 writes).")
    for name, err in sorted(report.failed.items()):
        lines.append(f"  ! {name}: {err}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    for key in report.user_deleted:
        lines.append(f"  you deleted {key}: respected, not recreated")
    lines.append(
        "Cycle: {calendars_read} calendars read, {events_seen} events, {intrusions} intrusions, "
        "open debt {debt_open_min} min, overdue {debt_overdue_min} min, {writes} writes, "
        "{api_requests} requests, {duration_ms} ms".format(**summary)
    )
    return "\n".join(lines)


def _count_ops(report: CycleReport) -> str:
    counts: dict[str, int] = {}
    for op in report.ops:
        what = op.key.split(":", 1)[0]
        name = f"{op.kind.value} {what}"
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n}× {k}" for k, n in sorted(counts.items()))
