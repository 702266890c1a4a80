"""The planner's input and the working context of one planning run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from idealweek.config import CatchUpRule, Settings
from idealweek.model import Debt, Event, Interval, Role
from idealweek.planner.keys import is_moved_by_user
from idealweek.week import iso_week_bounds


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner needs; all of it plain data."""

    now: datetime
    settings: Settings
    events: Sequence[Event]
    final_debts: Mapping[str, Debt] = field(default_factory=dict)
    """Debts whose block has passed: their minutes no longer change."""
    paid_final: Mapping[str, int] = field(default_factory=dict)
    """Debt id → minutes paid by make-up blocks already recorded as held."""
    recorded_payments: frozenset[str] = frozenset()
    """Keys of make-up blocks whose payments are in ``paid_final`` (not counted again)."""
    waived: Mapping[str, int] = field(default_factory=dict)
    """Debt id → minutes the user waived by deleting make-up blocks."""
    tombstones: Mapping[tuple[str, str], Interval | None] = field(default_factory=dict)
    """(calendar, key) of owned events the user deleted: never recreated."""
    mirror_secret: bytes = b""
    """Key of the keyed hash that makes mirror tags opaque (kept in the state directory)."""


class Ctx:
    """Read-only facts of one planning run, derived once from the input."""

    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.s = inp.settings
        self.zone = self.s.zone
        self.now = inp.now
        cu = self.s.catch_up
        self.step = cu.granularity
        self.freeze_until = inp.now + cu.freeze
        self.horizon_end = inp.now + self.s.horizon
        # Look back far enough for every debt that can still be paid, and always over the whole
        # previous week, so that week's figures are complete while it is "last week".
        prev_week_start, _ = iso_week_bounds(inp.now - timedelta(days=7), self.zone)
        self.lookback = min(inp.now - self.s.longest_within - timedelta(days=1), prev_week_start)
        self.blocks_cal = (self.s.calendars_with(Role.BLOCKS) or [""])[0]
        self.focus_cal = (self.s.calendars_with(Role.FOCUS) or [""])[0]
        self.mirror_cals = self.s.calendars_with(Role.MIRROR)
        self.notes: list[str] = []
        self.rules = {name: self.s.catch_up_for(name) for name in self.s.categories}
        self.household: list[Interval] = []
        """Union of busy time on ``household`` calendars (set once the events are sorted)."""

    def rule(self, category: str) -> CatchUpRule:
        """The catch-up rule of ``category`` (its own settings, else ``[catch_up]``)."""
        return self.rules.get(category) or self.s.catch_up_for(category)

    def pinned(self, ev: Event) -> bool:
        """An owned event that must stay where it is: frozen (starts soon or started) or moved by the user."""
        return ev.start < self.freeze_until or is_moved_by_user(ev)
