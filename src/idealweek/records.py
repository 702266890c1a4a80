"""What every writing cycle records beside its plan: the ideal week's version and the minutes lost per slot.

Kept apart from :mod:`idealweek.experiments` and :mod:`idealweek.digest`, which read these records back,
so that a cycle does not import their comparisons and renderers (issue 15: start-up time).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from idealweek.week import iso_week_label, week_start_from_label

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.planner import Plan
    from idealweek.store import Store


# -- the version of the ideal week (schedule experiments) ------------------------------------


def definition(settings: Settings) -> str:
    """The canonical JSON of what defines a version of the ideal week."""
    data = settings.model_dump(mode="json", include={"protect", "categories", "focus"})
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def version_of(settings: Settings) -> str:
    """The ideal week's version: 8 hex digits of the SHA-256 of its definition."""
    return hashlib.sha256(definition(settings).encode("utf-8")).hexdigest()[:8]


def record_version(store: Store, settings: Settings, now: datetime) -> str:
    """Note that a writing cycle ran now with this version (in its own transaction); returns the version."""
    v = version_of(settings)
    with store.transaction():
        store.note_version(iso_week_label(now, settings.zone), v, settings.experiment, definition(settings), now)
    return v


# -- the losses per slot (the digest's suggestion) ------------------------------------------


def week_losses(plan: Plan, zone: ZoneInfo) -> dict[str, list[dict[str, object]]]:
    """week → minutes lost per slot of the ideal week, from a planner result's intrusions."""
    acc: dict[str, dict[tuple[str, int, str, str, str], int]] = {}
    for it in plan.intrusions:
        b = it.block
        if b.source != "rule":
            continue
        local_start, local_end = b.start.astimezone(zone), b.end.astimezone(zone)
        slot = (b.category, local_start.weekday(), f"{local_start:%H:%M}", f"{local_end:%H:%M}", b.policy.value)
        week = acc.setdefault(iso_week_label(b.start, zone), {})
        week[slot] = week.get(slot, 0) + it.minutes
    return {
        w: [
            {"category": c, "weekday": d, "start": s, "end": e, "policy": p, "minutes": m}
            for (c, d, s, e, p), m in sorted(slots.items())
        ]
        for w, slots in acc.items()
    }


def record_losses(store: Store, settings: Settings, plan: Plan, now: datetime) -> None:
    """Save the losses per slot of the weeks the plan sees whole (not final ones), like the week figures."""
    from idealweek.weekstats import final_weeks

    zone = settings.zone
    current = iso_week_label(now, zone)
    final = final_weeks(store)
    losses = week_losses(plan, zone)
    with store.transaction():
        for w in {f.week for f in plan.weeks}:
            if w > current or w in final or week_start_from_label(w, zone) < plan.window_start:
                continue
            store.save_week_losses(w, losses.get(w, []), now)
