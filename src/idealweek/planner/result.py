"""The planner's answer: desired owned events, the ledger and the week figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from idealweek.model import Block, DebtState, DesiredEvent, Event, Interval, Intrusion, Policy


@dataclass(frozen=True)
class WeekFigures:
    """Figures for one local ISO week as far as the plan knows them."""

    week: str
    protected_min: int = 0
    lost_min: int = 0
    kept_min: int = 0
    made_up_min: int = 0
    violations: int = 0
    violation_min: int = 0
    soft_min: int = 0
    focus_target_min: int = 0
    focus_planned_min: int = 0
    focus_kept_min: int = 0
    meeting_min: int = 0
    debt_min: int = 0
    debt_open_min: int = 0
    debt_overdue_min: int = 0
    debt_waived_min: int = 0


@dataclass(frozen=True)
class Plan:
    """The planner's answer."""

    now: datetime
    desired: tuple[DesiredEvent, ...]
    blocks: tuple[Block, ...]
    intrusions: tuple[Intrusion, ...]
    debts: tuple[DebtState, ...]
    meetings: tuple[Event, ...]
    makeups: tuple[DesiredEvent, ...]
    focus: tuple[DesiredEvent, ...]
    weeks: tuple[WeekFigures, ...]
    window_start: datetime
    """The plan looks at events from here on: weeks starting earlier are only partly seen."""
    notes: tuple[str, ...] = ()
    unattached: Mapping[str, int] = field(default_factory=dict)
    """Category → minutes of live make-up blocks that pay no known debt (frozen blocks whose debt went away)."""
    household: tuple[Interval, ...] = ()
    """Busy time of the ``household`` calendars (union), for the week picture."""
    together: frozenset[str] = frozenset()
    """Categories whose make-ups were placed where the household is free (``together``, with household calendars)."""

    @property
    def violations(self) -> tuple[Intrusion, ...]:
        return tuple(i for i in self.intrusions if i.block.policy == Policy.HARD)
