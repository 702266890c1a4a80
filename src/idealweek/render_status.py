"""Where things stand, as text: `idealweek status` (this week in figures, or JSON) and what a cycle did."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from idealweek.log import redact_text
from idealweek.model import DebtStatus, Kind, Operation, OpKind, Policy, debt_totals
from idealweek.planner.ledger import by_category
from idealweek.week import iso_week_bounds, iso_week_label

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.engine import CycleReport
    from idealweek.planner import Plan


class IntrusionData(TypedDict):
    """One intrusion into a protected block this week (``status --json``)."""

    block: str
    category: str
    policy: str
    minutes: int
    start: str


class DebtData(TypedDict):
    """One debt of the ledger, in minutes (``status --json``)."""

    id: str
    status: str
    owed: int
    booked: int
    scheduled: int
    paid: int
    waived: int
    open: int
    overdue: bool
    surplus: int
    surplus_reason: str
    reason: str
    created: str
    deadline: str


class CategoryData(TypedDict):
    """One category's ledger: the fields of :class:`~idealweek.planner.ledger.CategoryLedger` and its debts."""

    owed: int
    booked: int
    paid: int
    waived: int
    open: int
    overdue: int
    surplus: int
    unattached: int
    debts: list[DebtData]


class MakeupData(TypedDict):
    """One make-up block this week (``status --json``)."""

    start: str
    end: str
    category: str
    pays: dict[str, int]


class StatusData(TypedDict):
    """What ``idealweek status`` shows: this local ISO week in figures; times local, minutes as integers."""

    week: str
    intrusions: list[IntrusionData]
    debt_minutes: dict[str, int]
    ledger: dict[str, CategoryData]
    makeups: list[MakeupData]
    focus_hours_planned: float
    focus_hours_target: float
    focus_blocks: int
    violations: int
    calendars_failed: dict[str, str]
    sync: NotRequired[str]
    """Whether the calendars have settled (added by the ``status`` command, :mod:`idealweek.settling`)."""


_LEDGER_TOTALS: tuple[Literal["owed", "booked", "paid", "waived", "open", "overdue"], ...] = (
    "owed",
    "booked",
    "paid",
    "waived",
    "open",
    "overdue",
)


def status_data(report: CycleReport, settings: Settings) -> StatusData:
    """This local ISO week's figures from a (dry-run) cycle; times local, minutes as integers."""
    p = report.plan
    assert p is not None
    zone = settings.zone
    start, end = iso_week_bounds(report.at, zone)
    this_week = iso_week_label(report.at, zone)
    intr = sorted((i for i in p.intrusions if start <= i.start < end), key=lambda i: (i.start, i.block.id))
    makeups = sorted((m for m in p.makeups if start <= m.start < end), key=lambda m: (m.start, m.calendar, m.key))
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
        "ledger": ledger_data(p, zone),
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
        "calendars_failed": {name: redact_text(err) for name, err in report.failed.items()},
    }


def ledger_data(p: Plan, zone: ZoneInfo) -> dict[str, CategoryData]:
    """Per category: owed, booked (minutes of live make-ups), paid, waived, open, overdue, and each debt."""
    totals = by_category(p.debts, p.unattached)
    out: dict[str, CategoryData] = {}
    for cat, t in totals.items():
        out[cat] = {
            "owed": t.owed,
            "booked": t.booked,
            "paid": t.paid,
            "waived": t.waived,
            "open": t.open,
            "overdue": t.overdue,
            "surplus": t.surplus,
            "unattached": t.unattached,
            "debts": [
                {
                    "id": st.debt.id,
                    "status": st.status.value,
                    "owed": st.debt.minutes,
                    "booked": st.booked,
                    "scheduled": st.scheduled,
                    "paid": st.paid,
                    "waived": st.waived,
                    "open": st.unplaced,
                    "overdue": st.status == DebtStatus.OVERDUE,
                    "surplus": st.surplus,
                    "surplus_reason": st.surplus_reason,
                    "reason": st.reason,
                    "created": st.debt.created.astimezone(zone).isoformat(),
                    "deadline": st.debt.deadline.astimezone(zone).isoformat(),
                }
                for st in p.debts
                if st.debt.category == cat
            ],
        }
    return out


def render_status_json(data: StatusData) -> str:
    return json.dumps(data, indent=2)


def render_status_text(data: StatusData) -> str:
    """The figures of :func:`status_data` as a few lines for a person."""
    lines = [f"Week {data['week']}", f"  intrusions: {len(data['intrusions'])}"]
    for i in data["intrusions"]:
        lines.append(f"    {i['start'][:16]}  {i['category']:10} {i['policy']:9} {i['minutes']} min")
    ledger = data.get("ledger", {})
    if ledger:  # the whole line in the per-category lines' words, so the two always add up
        tot = {k: sum(t[k] for t in ledger.values()) for k in _LEDGER_TOTALS}
        lines.append(
            "  debt: owed {owed} min, booked {booked} min, paid {paid} min, waived {waived} min, "
            "open {open} min, overdue {overdue} min".format(**tot)
        )
    else:
        lines.append(
            "  debt: open {open} min, overdue {overdue} min, booked {scheduled} min, waived {waived} min, "
            "paid {paid} min".format(**data["debt_minutes"])
        )
    for cat, t in data.get("ledger", {}).items():
        extra = f" ({t['surplus']} min beyond what is owed)" if t["surplus"] else ""
        loose = f", {t['unattached']} min paying no debt" if t["unattached"] else ""
        lines.append(
            f"    {cat}: owed {t['owed']} min, booked {t['booked']} min{extra}{loose}, paid {t['paid']} min, "
            f"waived {t['waived']} min, open {t['open']} min, overdue {t['overdue']} min"
        )
        for why in sorted({d["reason"] for d in t.get("debts", ()) if d.get("overdue") and d.get("reason")}):
            lines.append(f"      overdue: {why}")
    lines.append(f"  make-ups this week: {len(data['makeups'])}")
    for m in data["makeups"]:
        lines.append(f"    {m['start'][:16]}-{m['end'][11:16]}  {m['category']}")
    lines.append(f"  focus: {data['focus_hours_planned']} h planned of {data['focus_hours_target']} h target")
    if data["violations"]:
        lines.append(f"  boundary violations: {data['violations']}")
    for name, err in sorted(data["calendars_failed"].items()):
        lines.append(f"  ! {name}: {err}")
    return "\n".join(lines)


KIND_WORDS = {
    Kind.BLOCK: ("protected block", "protected blocks"),
    Kind.MAKEUP: ("make-up", "make-ups"),
    Kind.FOCUS: ("focus block", "focus blocks"),
    Kind.MIRROR: ("mirror", "mirrors"),
}
VERB = {OpKind.CREATE: "created", OpKind.UPDATE: "changed", OpKind.DELETE: "removed"}
VERB_DRY = {OpKind.CREATE: "create", OpKind.UPDATE: "change", OpKind.DELETE: "remove"}


def render_cycle_text(report: CycleReport, zone: ZoneInfo) -> str:
    """What a cycle did (or would do, for a dry run): a summary of the writes, the writes themselves in local
    time with the titles they carry in the calendar, failures, notes and one line of figures."""
    lines: list[str] = []
    if report.ops:
        lines.append(ops_summary(report.ops, report.dry_run))
        shown = (
            report.ops
            if len(report.ops) <= 25 or report.dry_run
            else [op for op in report.ops if _kind(op) in (Kind.MAKEUP, Kind.FOCUS)]
        )
        for op in sorted(shown, key=lambda op: (_when(op), op.calendar)):
            lines.append("  " + describe_op(op, zone, report.dry_run))
        if len(shown) < len(report.ops):
            lines.append(
                f"  … and {len(report.ops) - len(shown)} more (protected blocks and mirrors); "
                "`idealweek plan` lists every one"
            )
    else:
        lines.append("Nothing to change: the calendars already match the plan (0 writes).")
    for name, err in sorted(report.failed.items()):
        lines.append(redact_text(f"  ! {name}: {err}"))
    for note in report.notes:
        lines.append(redact_text(f"  note: {note}"))
    for key in report.user_deleted:
        lines.append(f"  you deleted {key}: respected, not recreated")
    lines.append(
        f"Cycle: {report.calendars_read} calendars read, {report.events_seen} events, {len(report.applied)} writes, "
        f"{report.requests} requests, {report.duration_s * 1000:.0f} ms"
    )
    return "\n".join(lines)


def ops_summary(ops: Sequence[Operation], dry_run: bool) -> str:
    """``Wrote 63 events: created 16 protected blocks, 8 make-ups, 12 focus blocks, 27 mirrors``."""
    verbs = VERB_DRY if dry_run else VERB
    parts: list[str] = []
    for op_kind in OpKind:
        counts = {k: sum(1 for op in ops if op.kind == op_kind and _kind(op) == k) for k in KIND_WORDS}
        words = [f"{n} {KIND_WORDS[k][n != 1]}" for k, n in counts.items() if n]
        if words:
            parts.append(f"{verbs[op_kind]} " + ", ".join(words))
    n = len(ops)
    head = f"Would write {n} event{'s' if n != 1 else ''}" if dry_run else f"Wrote {n} event{'s' if n != 1 else ''}"
    return f"{head}: " + "; ".join(parts)


def describe_op(op: Operation, zone: ZoneInfo, dry_run: bool = False) -> str:
    """One write as the user will see it: ``created  Wed 02 Dec 19:30-20:15  Make-up: Family time  (home)``."""
    ev = op.desired or op.existing
    verb = (VERB_DRY if dry_run else VERB)[op.kind]
    if ev is None:
        return f"{verb:8} {op.calendar}"
    s, e = ev.start.astimezone(zone), ev.end.astimezone(zone)
    span = f"{s:%a %d %b %H:%M}-{e:%H:%M}" if s.date() == e.date() else f"{s:%a %d %b %H:%M}-{e:%a %H:%M}"
    if op.kind == OpKind.UPDATE and op.existing is not None and op.desired is not None:
        was = op.existing.start.astimezone(zone)
        if op.existing.start != op.desired.start:
            span += f" (was {was:%a %H:%M})"
    title = ev.title or KIND_WORDS.get(_kind(op) or Kind.BLOCK, ("event", ""))[0]
    reason = f"  [{op.reason}]" if op.reason and op.reason not in ("new", "changed") else ""
    return f"{verb:8} {span}  {title}  ({op.calendar}){reason}"


def _kind(op: Operation) -> Kind | None:
    ev = op.desired or op.existing
    return ev.tag.kind if ev is not None and ev.tag is not None else None


def _when(op: Operation) -> datetime:
    ev = op.desired or op.existing
    return ev.start if ev is not None else datetime.min.replace(tzinfo=UTC)
