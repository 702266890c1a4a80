"""One sync cycle: pull → plan → guard → apply → record.

The only module that touches providers (network), the state database and the
clock.  The planner and the reconciler stay pure.

Crash safety (SPEC §6):

* pulled changes, user decisions, payments and the ledger are committed in
  one transaction before anything is written to a calendar;
* each write is announced in the owned map first (``creating``/``deleting``)
  and its result recorded right after, so a crash between a write and its
  record is recognised on the next cycle (an event we deleted is not taken
  for one the user deleted, and a create that happened is found by its tag);
* ids are derived from keys, so a repeated create is refused by the service
  instead of making a duplicate; a key whose id we burnt by deleting it is
  created under a new generation (``key#gN``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.config import Settings
from idealweek.errors import (
    AlreadyExists,
    AuthError,
    GuardError,
    NotFound,
    NotOwned,
    PreconditionFailed,
    ProviderError,
    TransientError,
)
from idealweek.model import DesiredEvent, Event, Interval, Kind, Operation, OpKind, debt_totals
from idealweek.planner import GEN_MARK, Plan, PlanInput, base_key, plan
from idealweek.providers.base import ChangeSet, Provider
from idealweek.reconcile import reconcile
from idealweek.store import Store
from idealweek.week import iso_week_bounds, week_ended_before, week_start_from_label
from idealweek.weekstats import final_weeks

log = structlog.get_logger(__name__)


@dataclass
class CycleReport:
    """What one cycle saw and did (the summary line and ``status`` read this)."""

    at: datetime
    dry_run: bool
    plan: Plan | None = None
    ops: list[Operation] = field(default_factory=list)
    applied: list[Operation] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """calendar → error of the read or the writes that failed."""
    auth_failed: dict[str, str] = field(default_factory=dict)
    """calendar → the sign-in failure (an ``AuthError``) among ``failed`` (alerts name the fixing command)."""
    calendars_read: int = 0
    events_seen: int = 0
    requests: int = 0
    duration_s: float = 0.0
    user_deleted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, object]:
        p = self.plan
        debts = debt_totals(p.debts if p else ())
        return {
            "calendars_read": self.calendars_read,
            "calendars_failed": len(self.failed),
            "events_seen": self.events_seen,
            "intrusions": len(p.intrusions) if p else 0,
            "debt_open_min": debts.open,
            "debt_overdue_min": debts.overdue,
            "makeups": len(p.makeups) if p else 0,
            "focus_blocks": len(p.focus) if p else 0,
            "operations": len(self.ops),
            "writes": len(self.applied),
            "api_requests": self.requests,
            "duration_ms": round(self.duration_s * 1000, 1),
            "dry_run": self.dry_run,
        }


def plan_input(store: Store, now: datetime, settings: Settings, events: Sequence[Event]) -> PlanInput:
    """The planner's input: the events plus the ledger facts the store keeps."""
    return PlanInput(
        now=now,
        settings=settings,
        events=events,
        final_debts=store.final_debts(),
        paid_final=store.paid_final(),
        recorded_payments=store.recorded_payments(),
        waived=store.waived(),
        tombstones=store.tombstones(),
    )


def _generation(key: str) -> int:
    if GEN_MARK in key:
        try:
            return int(key.rsplit(GEN_MARK, 1)[1])
        except ValueError:
            return 0
    return 0


class Engine:
    """Runs cycles for one configuration."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        providers: Mapping[str, Provider],
        clock: Clock = system_clock,
        config_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.providers = dict(providers)
        self.clock = clock
        self.config_path = config_path
        self.stop_requested = False
        self._cache: dict[str, dict[str, Event]] = {}
        """Events per calendar as of the last committed cycle (the daemon does not re-read SQLite each cycle)."""

    # -- the cycle --------------------------------------------------------------
    def cycle(self, *, dry_run: bool = False, force: bool = False) -> CycleReport:
        t0 = time.perf_counter()
        now = self.clock()
        report = CycleReport(at=now, dry_run=dry_run)
        req0 = sum(p.requests.total for p in self.providers.values())
        try:
            self._cycle(report, now, dry_run=dry_run, force=force)
        finally:
            report.requests = sum(p.requests.total for p in self.providers.values()) - req0
            report.duration_s = time.perf_counter() - t0
        return report

    def _cycle(self, report: CycleReport, now: datetime, *, dry_run: bool, force: bool) -> None:
        s = self.settings
        store = self.store
        changes: dict[str, ChangeSet] = {}
        for name in sorted(self.providers):
            prov = self.providers[name]
            try:
                cs = prov.read_changes(store.token(name))
            except Exception as exc:  # any trouble of one account fails its calendars only (SPEC §6.11)
                report.failed[name] = f"read failed: {_one_line(exc)}"
                if isinstance(exc, AuthError):
                    report.auth_failed[name] = str(exc)
                expected = isinstance(exc, (ProviderError, OSError))
                log.warning("calendar.read_failed", calendar=name, error=_one_line(exc), exc_info=not expected)
                continue
            if cs.full and not cs.upserts and store.event_count(name) > 0 and not force:
                raise GuardError(
                    f"calendar {name!r} suddenly returned no events (it had {store.event_count(name)}); "
                    "nothing was changed. If the calendar really is empty now, run again with --force."
                )
            changes[name] = cs
        report.calendars_read = len(changes)

        with store.transaction():
            for name, cs in changes.items():
                store.apply_changes(name, cs.full, cs.upserts, cs.removed, cs.token, now)
            cache = self._events_after(changes)
            events = [ev for cal in sorted(cache) for ev in cache[cal].values()]
            report.events_seen = len(events)
            self._detect_user_changes(events, set(changes), now, report)
            self._record_payments(events, now)
            inp = plan_input(store, now, s, events)
            result = plan(inp)
            report.plan = result
            self._record_ledger(result, now)
        self._cache = cache  # only once the transaction holding the same changes has committed

        writable = {n for n, p in self.providers.items() if p.writable and n in changes}
        freeze_until = now + s.catch_up.freeze
        horizon_end = now + s.horizon
        ops = reconcile(result.desired, events, now, freeze_until, horizon_end, inp.tombstones, writable)
        report.ops = ops
        self._guard(ops, events, writable, now, force)
        if dry_run:
            return
        self._apply(ops, now, report)
        with store.transaction():
            store.add_cycle(now, report.summary())

    def _events_after(self, changes: Mapping[str, ChangeSet]) -> dict[str, dict[str, Event]]:
        """Every calendar's events after this cycle's changes (from memory; SQLite only on first use)."""
        out: dict[str, dict[str, Event]] = {}
        for name in self.providers:
            cs = changes.get(name)
            if cs is not None and cs.full:
                out[name] = {e.uid: e for e in cs.upserts}
                continue
            base = self._cache.get(name)
            if base is None:  # first cycle of this process: the store already holds this cycle's changes
                out[name] = {e.uid: e for e in self.store.events([name])}
                continue
            if cs is not None and (cs.upserts or cs.removed):
                base = dict(base)
                gone = set(cs.removed)
                for uid in gone:
                    base.pop(uid, None)
                if gone and any(e.series in gone for e in base.values()):
                    # a deleted recurring series may be reported by its id only: its occurrences go too
                    base = {u: e for u, e in base.items() if e.series not in gone}
                for e in cs.upserts:
                    base[e.uid] = e
            out[name] = base
        return out

    # -- before planning ---------------------------------------------------------
    def _detect_user_changes(self, events: list[Event], read_ok: set[str], now: datetime, report: CycleReport) -> None:
        """Owned events that vanished without us deleting them were deleted by the user."""
        store = self.store
        seen: dict[tuple[str, str], Event] = {}
        for ev in events:
            if ev.tag is not None:
                seen.setdefault((ev.calendar, base_key(ev.tag.key)), ev)
        recorded = store.recorded_payments()
        for (cal, key), row in store.owned().items():
            if cal not in read_ok or (cal, key) in seen:
                continue
            if row.state == "live" and row.end > now:
                iv = Interval(row.start, row.end)
                store.add_tombstone(cal, key, row.kind, iv, now)
                report.user_deleted.append(f"{cal}:{key}")
                if row.kind == Kind.MAKEUP.value and key not in recorded:
                    for did, mins in row.pays.items():
                        store.add_waiver(key, did, int(mins), now)
                log.info("owned.deleted_by_user", calendar=cal, key=key, kind=row.kind)
            store.drop_owned(cal, key)
        for (cal, key), ev in seen.items():
            assert ev.tag is not None
            store.set_owned(cal, key, ev.uid, ev.tag, ev.start, ev.end, "live", now)

    def _record_payments(self, events: list[Event], now: datetime) -> None:
        """Make-up blocks that have been held pay their debts for good."""
        recorded = self.store.recorded_payments()
        for ev in events:
            tag = ev.tag
            if tag is None or tag.kind != Kind.MAKEUP or ev.end > now:
                continue
            key = base_key(tag.key)
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

    # -- guard -------------------------------------------------------------------
    def _guard(self, ops: list[Operation], events: list[Event], writable: set[str], now: datetime, force: bool) -> None:
        if force:
            return
        sf = self.settings.safety
        owned_live = sum(1 for e in events if e.tag is not None and e.calendar in writable and e.end > now)
        deletes = sum(1 for op in ops if op.kind == OpKind.DELETE and op.reason != "duplicate")
        if owned_live >= sf.min_owned_for_share and deletes > sf.max_delete_share * owned_live:
            raise GuardError(
                f"this cycle would delete {deletes} of {owned_live} owned events, more than "
                f"safety.max_delete_share = {sf.max_delete_share:.0%}; nothing was changed. "
                "Check the calendars and the config; run with --force if this is intended."
            )

    # -- apply ------------------------------------------------------------------
    def _apply(self, ops: list[Operation], now: datetime, report: CycleReport) -> None:
        store = self.store
        blocked: set[str] = set()
        for op in ops:
            if self.stop_requested:
                report.notes.append("stopped before all writes were done (shutdown requested)")
                break
            if op.calendar in blocked:
                continue
            prov = self.providers[op.calendar]
            try:
                if op.kind == OpKind.CREATE:
                    assert op.desired is not None
                    self._create(prov, op.desired, now, report)
                elif op.kind == OpKind.UPDATE:
                    assert op.desired is not None and op.existing is not None
                    ev = prov.update(op.existing, op.desired)
                    with store.transaction():
                        assert ev.tag is not None
                        store.set_owned(op.calendar, op.key, ev.uid, ev.tag, ev.start, ev.end, "live", now)
                else:
                    assert op.existing is not None and op.existing.tag is not None
                    with store.transaction():
                        store.set_owned_state(op.calendar, op.key, "deleting", now)
                        # Burnt before the request: after a crash between the delete and its record, a
                        # later create of this key must not take the id's "deleted" answer for the user's.
                        store.burn(op.calendar, op.key, _generation(op.existing.tag.key))
                    prov.delete(op.existing)
                    if op.reason != "duplicate":
                        with store.transaction():
                            store.drop_owned(op.calendar, op.key)
                report.applied.append(op)
                log.info("write", op=op.kind.value, calendar=op.calendar, key=op.key)
            except (PreconditionFailed, NotFound) as exc:
                report.notes.append(f"{op.calendar}: {op.key} changed meanwhile; decided again next cycle ({exc})")
                log.info("write.conflict", calendar=op.calendar, key=op.key, error=str(exc))
            except NotOwned as exc:
                report.notes.append(f"{op.calendar}: refused to touch {op.key}: {exc}")
                log.error("write.not_owned", calendar=op.calendar, key=op.key, error=str(exc))
            except (TransientError, AuthError, ProviderError, OSError) as exc:
                blocked.add(op.calendar)
                report.failed[op.calendar] = f"write failed: {exc}"
                if isinstance(exc, AuthError):
                    report.auth_failed[op.calendar] = str(exc)
                log.warning("write.failed", calendar=op.calendar, key=op.key, error=str(exc))

    def _create(self, prov: Provider, desired: DesiredEvent, now: datetime, report: CycleReport) -> None:
        store = self.store
        cal, key = desired.calendar, base_key(desired.key)
        if store.tombstoned(cal, key):  # the journal too: deleted stays deleted after the database is lost
            report.notes.append(f"{cal}: {key} was deleted by the user earlier; not recreated")
            return
        for _attempt in range(3):
            gen = store.burnt_generation(cal, key) + 1
            want = desired if gen == 0 else replace(desired, tag=replace(desired.tag, key=f"{key}{GEN_MARK}{gen}"))
            with store.transaction():
                store.set_owned(cal, key, "", want.tag, want.start, want.end, "creating", now)
            try:
                ev = prov.create(want)
            except AlreadyExists as exc:
                if not exc.deleted:
                    # Created by an earlier cycle that did not live to record it: the next read finds it.
                    report.notes.append(f"{cal}: {key} exists already; adopted on the next read")
                    return
                if gen > 0 or store.burnt_generation(cal, key) >= 0:
                    with store.transaction():
                        store.burn(cal, key, gen)
                    continue
                # An id we never deleted ourselves is gone: the user deleted it (perhaps while the
                # state database was lost).  Never resurrect it.
                with store.transaction():
                    store.add_tombstone(cal, key, desired.kind.value, Interval(desired.start, desired.end), now)
                    store.drop_owned(cal, key)
                report.notes.append(f"{cal}: {key} was deleted by the user earlier; not recreated")
                return
            with store.transaction():
                assert ev.tag is not None
                store.set_owned(cal, key, ev.uid, ev.tag, ev.start, ev.end, "live", now)
            return
        report.notes.append(f"{cal}: could not find a free id for {key}")


def _one_line(exc: BaseException) -> str:
    """An error as one line for the report: the first line of its message, or its type."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text if isinstance(exc, (ProviderError, OSError)) and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def _label(t: datetime, settings: Settings) -> str:
    from idealweek.week import iso_week_label

    return iso_week_label(t, settings.zone)
