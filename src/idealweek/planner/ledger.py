"""The debt ledger, told truthfully (issue 13): owed, booked, paid, waived, open, overdue.

``booked`` is what the calendars hold: the actual minutes of the live make-up blocks paying a
debt.  It exceeds what is still owed only by a documented ``surplus``: rounding up to
``min_block``, or a block that cannot shrink (frozen, or moved by the user).  Minutes of live
make-up blocks that pay no known debt (frozen blocks whose debt went away) are ``unattached``,
per category, so that booked plus unattached is every live make-up minute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from idealweek.model import DebtState, DebtStatus
from idealweek.planner.booking import Makeup, Need, ordered_pays
from idealweek.planner.context import Ctx


def debt_states(ctx: Ctx, needs: Mapping[str, Need], live: Iterable[Makeup]) -> tuple[list[DebtState], dict[str, int]]:
    """The ledger line of every debt (oldest first) and the unattached minutes per category."""
    booked: dict[str, int] = defaultdict(int)
    late: dict[str, int] = defaultdict(int)
    reasons: dict[str, set[str]] = defaultdict(set)
    unattached: dict[str, int] = defaultdict(int)
    for m in live:
        known = ordered_pays(m.pays, needs)
        if not known:
            unattached[m.category] += m.minutes
            continue
        reason = "moved" if m.moved_by_user else "frozen" if m.pinned else "min_block"
        left = m.minutes
        for did, mins in known:
            part = min(mins, left)
            booked[did] += part
            left -= part
            reasons[did].add(reason)
            if m.end > needs[did].debt.deadline:
                late[did] += mins
        if left > 0:
            booked[known[-1][0]] += left  # the rounding belongs to the newest debt the block pays
    states: list[DebtState] = []
    for did, n in needs.items():
        rem = n.remaining
        overdue = (rem > 0 and n.debt.deadline <= ctx.now) or late[did] > 0
        if rem > 0 and n.debt.deadline > ctx.now:
            # could not be placed before the deadline within the horizon → reported as overdue-to-be
            overdue = overdue or n.debt.deadline <= ctx.horizon_end
        surplus = max(booked[did] - max(n.debt.minutes - n.paid - n.waived, 0), 0)
        why = reasons[did]
        reason = ("moved" if "moved" in why else "frozen" if "frozen" in why else "min_block") if surplus else ""
        states.append(
            DebtState(
                debt=n.debt,
                paid=n.paid,
                scheduled=n.scheduled,
                waived=n.waived,
                unplaced=rem,
                overdue=overdue,
                booked=booked[did],
                surplus=surplus,
                surplus_reason=reason,
            )
        )
    states.sort(key=lambda st: (st.debt.created, st.debt.id))
    return states, {cat: mins for cat, mins in sorted(unattached.items()) if mins}


@dataclass(frozen=True)
class CategoryLedger:
    """One category's debts in minutes, for ``status --json``."""

    owed: int = 0
    booked: int = 0
    paid: int = 0
    waived: int = 0
    open: int = 0
    overdue: int = 0
    surplus: int = 0
    unattached: int = 0


def by_category(debts: Sequence[DebtState], unattached: Mapping[str, int]) -> dict[str, CategoryLedger]:
    """Per category: owed, booked (live make-up minutes), paid, waived, open (unplaced), overdue, surplus."""
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for st in debts:
        a = acc[st.debt.category]
        a["owed"] += st.debt.minutes
        a["booked"] += st.booked
        a["paid"] += st.paid
        a["waived"] += st.waived
        a["surplus"] += st.surplus
        if st.status == DebtStatus.OVERDUE:
            a["overdue"] += st.unplaced + st.scheduled
        else:
            a["open"] += st.unplaced
    for cat, mins in unattached.items():
        acc[cat]["unattached"] += mins
    return {cat: CategoryLedger(**acc[cat]) for cat in sorted(acc)}
