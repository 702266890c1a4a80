"""The planner: intrusions, the catch-up rule, focus and mirrors (pure).

``plan(PlanInput) -> Plan`` takes every event read from the calendars, the
ledger facts the engine keeps (final debts, recorded payments, waivers,
tombstones) and the clock, and returns the owned events that should exist
plus everything the status and statistics need.  No I/O, no clock of its own:
same input, same output.

One module per phase, in the order :func:`plan` runs them (SPEC §3):

- ``select``   expand the ideal week, sort events into meetings, personal time and owned events;
- ``debt``     intrusions (union of meeting time inside a block, rounded up) → debts for ``catch-up`` blocks;
- ``catchup``  keep pinned or still-valid make-up blocks; place the remaining debt, oldest first,
               in the category's windows before the deadline (split when needed, small debts merged);
- ``focus``    keep still-free focus blocks and place more until the weekly target;
- ``emit``     owned events for protected blocks; mirrors of personal time as private "Busy" events;
- ``figures``  week figures for status and review.

``keys`` is the one place that builds and reads owned-event keys and debt ids;
``context`` holds the input and the per-run facts; ``result`` the answer.
"""

from idealweek.planner.context import PlanInput
from idealweek.planner.keys import GEN_MARK, base_key, is_moved_by_user, stamp
from idealweek.planner.pipeline import plan
from idealweek.planner.result import Plan, WeekFigures

__all__ = ["GEN_MARK", "Plan", "PlanInput", "WeekFigures", "base_key", "is_moved_by_user", "plan", "stamp"]
