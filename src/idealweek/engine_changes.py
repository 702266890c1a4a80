"""Before planning: what the user did since the last cycle (deleted owned events), payments that are final,
and the ledger of finished weeks.  A part of :class:`~idealweek.engine.Engine`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from idealweek.config import Settings
from idealweek.model import Event, Interval, Kind
from idealweek.ownership import OwnedKey
from idealweek.planner import Plan
from idealweek.providers.base import Provider
from idealweek.store import RowState, Store
from idealweek.week import iso_week_bounds, week_ended_before, week_start_from_label
from idealweek.weekstats import final_weeks

if TYPE_CHECKING:
    from idealweek.engine import CycleReport

log = structlog.get_logger("idealweek.engine")


class BeforePlanning:
    """User deletions, final payments and the ledger (a part of :class:`~idealweek.engine.Engine`)."""

    settings: Settings
    store: Store
    providers: dict[str, Provider]
    _cache: dict[str, dict[str, Event]]

    # -- before planning ---------------------------------------------------------
    def _detect_user_changes(self, events: list[Event], read_ok: set[str], now: datetime, report: CycleReport) -> None:
        """Owned events that vanished without us deleting them were deleted by the user."""
        store = self.store
        seen: dict[tuple[str, OwnedKey], Event] = {}
        for ev in events:
            if ev.tag is not None:
                seen.setdefault((ev.calendar, ev.tag.key.base), ev)
        recorded = store.recorded_payments()
        for (cal, key), row in store.owned().items():
            if cal not in read_ok or (cal, key) in seen:
                continue
            if row.state is RowState.LIVE and row.end > now:
                iv = Interval(row.start, row.end)
                store.add_tombstone(cal, key, row.kind, iv, now)
                report.user_deleted.append(f"{cal}:{key}")
                if row.kind is Kind.MAKEUP and key not in recorded:
                    for did, mins in row.pays.items():
                        store.add_waiver(key, did, int(mins), now)
                log.info("owned.deleted_by_user", calendar=cal, key=key, kind=row.kind)
            store.drop_owned(cal, key)
        for (cal, key), ev in seen.items():
            assert ev.tag is not None
            store.set_owned(cal, key, ev.uid, ev.tag, ev.start, ev.end, RowState.LIVE, now)

    def _record_payments(self, events: list[Event], now: datetime) -> None:
        """Make-up blocks that have been held pay their debts for good."""
        recorded = self.store.recorded_payments()
        for ev in events:
            tag = ev.tag
            if tag is None or tag.kind != Kind.MAKEUP or ev.end > now:
                continue
            key = tag.key.base
            if key in recorded:
                continue
            for did, mins in tag.pays.items():
                self.store.add_payment(key, did, mins, ev.interval)

    def _record_ledger(self, result: Plan, now: datetime) -> None:
        store = self.store
        for st in result.debts:
            store.save_debt(st.debt, st.status.value, st.paid, st.scheduled, st.waived, st.unplaced, now)
        store.cancel_debts_not_in(
            {st.debt.id for st in result.debts}, now - self.settings.longest_within - self.settings.horizon, now
        )
        first_run = store.note_first_run(now)
        current_start, _ = iso_week_bounds(now, self.settings.zone)
        final = final_weeks(store)  # finalised by the daemon's daily job: never overwritten
        zone = self.settings.zone
        for w in result.weeks:
            if w.week > _label(current_start, self.settings) or w.week in final:
                continue
            if week_start_from_label(w.week, zone) < result.window_start:
                continue  # only partly inside the plan's window: keep the figures saved when it was whole
            if week_ended_before(w.week, first_run, zone):
                continue  # it ended before idealweek first ran: not its week to count
            store.save_week(w.week, w.__dict__, now)


def _label(t: datetime, settings: Settings) -> str:
    from idealweek.week import iso_week_label

    return iso_week_label(t, settings.zone)
