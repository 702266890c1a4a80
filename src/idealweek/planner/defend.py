"""Blocks that defend themselves (issue 18): how a protected block shows to others.

Each ``[[protect]]`` rule says ``defend = "free" | "busy" | "decline"`` (``hard`` rules default to
``decline``).  The planner only says what is wanted; each provider writes what its service can carry
(Google: ``outOfOffice`` on the primary calendar, else busy with a notice; Outlook: ``showAs = oof``;
CalDAV and local calendars: busy).  ``free`` is written transparent everywhere.
"""

from __future__ import annotations

from idealweek.model import Block, Defend
from idealweek.planner.context import Ctx


def defend_of(ctx: Ctx, block: Block) -> tuple[Defend, str]:
    """The defence and decline message of a rule block (``busy`` for any other block)."""
    if block.source != "rule":
        return Defend.BUSY, ""
    rid = block.id.rsplit(":", 1)[0]
    for rule in ctx.s.protect:
        if rule.rule_id() == rid:
            mode = rule.defend_mode()
            return mode, rule.decline_message if mode == Defend.DECLINE else ""
    return Defend.BUSY, ""
