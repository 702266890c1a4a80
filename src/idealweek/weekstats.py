"""Finalising week statistics: a week that has ended is frozen as it was last seen in full.

Every cycle records the figures of the weeks the plan covers.  The plan looks
back only the longest ``within`` plus a day, so a past week slowly slides out of
view and later cycles would record it from a partial picture.  The daemon's
daily job therefore marks each week that has ended as ``final``; the engine
no longer overwrites a final week, and ``review`` compares complete weeks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from idealweek.store import Store
from idealweek.week import week_start_from_label


def final_weeks(store: Store) -> set[str]:
    """Labels (``YYYY-Www``) of the weeks already finalised."""
    return {label for label, data in store.weeks().items() if data.get("final")}


def finalise_weeks(store: Store, zone: ZoneInfo, now: datetime) -> list[str]:
    """Mark every recorded week that ended before ``now`` as final; returns the labels newly finalised."""
    done: list[str] = []
    with store.transaction():
        for label, data in store.weeks().items():
            if data.get("final"):
                continue
            try:
                end = week_start_from_label(label, zone) + timedelta(days=7)
            except ValueError:
                continue
            if end <= now:
                store.save_week(label, {**data, "final": True, "finalised_at": now.isoformat()}, now)
                done.append(label)
    return done
