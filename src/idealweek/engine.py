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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
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
from idealweek.lock import default_wait, state_lock
from idealweek.model import DesiredEvent, Event, Interval, Kind, Operation, OpKind, Role, debt_totals
from idealweek.ownership import REKEYED, OwnedKey
from idealweek.planner import Plan, PlanInput, plan
from idealweek.providers.base import ChangeSet, Provider
from idealweek.reconcile import reconcile
from idealweek.retention import busy_only, keep_since, minimise
from idealweek.store import OwnedRow, RowState, Store
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


_NOT_LOSSES = frozenset({"duplicate", REKEYED})
"""Deletes the mass-deletion guard does not count: each goes with a create of the same event."""


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
        mirror_secret=store.mirror_secret,
    )


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
        self.lock_wait: float | None = None
        """Seconds a writing cycle waits for the state directory's lock (``None``: the default)."""
        self.on_lock_wait: Callable[[int | None], None] | None = None
        """Called once with the holder's pid when a cycle has to wait for the lock."""
        self._cache: dict[str, dict[str, Event]] = {}
        """Events per calendar as of the last committed cycle (the daemon does not re-read SQLite each cycle)."""
        self._cache_tokens: dict[str, str | None] = {}
        self._sent: dict[tuple[str, str], _Sent] = {}
        """Per (calendar, key): the write sent in the previous cycle and its answers (see :meth:`_held_back`)."""
        self._cycles = 0
        """The sync token each calendar's cached events belong to; another token in the store means
        another process advanced it, and the calendar is reloaded from SQLite."""
        self._pruned_day: date | None = None
        self._held_until: datetime | None = None
        self._held_since: datetime | None = None
        """Memory holds the events that start before this instant (and idealweek's own, wherever they lie);
        later ones stay in the event cache until the window reaches them (see :meth:`_window_end`)."""

    # -- the cycle --------------------------------------------------------------
    def cycle(self, *, dry_run: bool = False, force: bool = False) -> CycleReport:
        """One cycle.  On the state file it holds the state directory's lock throughout (one writer);
        on a snapshot (a look) it takes no lock and nothing it records outlives the snapshot."""
        if self.store.snapshot:
            return self._timed(dry_run=dry_run, force=force)
        wait = (
            self.lock_wait
            if self.lock_wait is not None
            else default_wait(self.settings.safety.lock_wait.total_seconds())
        )
        with state_lock(self.store.path.parent, wait, on_wait=self.on_lock_wait):
            return self._timed(dry_run=dry_run, force=force)

    def _timed(self, *, dry_run: bool, force: bool) -> CycleReport:
        t0 = time.perf_counter()
        now = self.clock()
        report = CycleReport(at=now, dry_run=dry_run)
        req0 = sum(p.requests.total for p in self.providers.values())
        try:
            self._cycle(report, now, dry_run=dry_run, force=force)
        finally:
            report.requests = sum(p.requests.total for p in self.providers.values()) - req0
            report.duration_s = time.perf_counter() - t0
            _drain_notices(self.providers.values(), report)
        return report

    def _cycle(self, report: CycleReport, now: datetime, *, dry_run: bool, force: bool) -> None:
        s = self.settings
        store = self.store
        changes: dict[str, ChangeSet] = {}
        read_from: dict[str, str | None] = {}
        since = keep_since(now, s.longest_within)
        household = set(s.calendars_with(Role.HOUSEHOLD))
        for name in sorted(self.providers):
            prov = self.providers[name]
            token = store.token(name)
            try:
                cs = prov.read_changes(token)
            except Exception as exc:  # any trouble of one account fails its calendars only (SPEC §6.11)
                report.failed[name] = f"read failed: {_one_line(exc)}"
                if isinstance(exc, AuthError):
                    report.auth_failed[name] = str(exc)
                expected = isinstance(exc, (ProviderError, OSError))
                log.warning("calendar.read_failed", calendar=name, error=_one_line(exc), exc_info=not expected)
                continue
            if cs.full and not cs.upserts and not force and (had := store.event_count(name, since)) > 0:
                raise GuardError(
                    f"calendar {name!r} suddenly returned no events (it had {had}); "
                    "nothing was changed. If the calendar really is empty now, run again with --force."
                )
            changes[name] = minimise(cs, since)  # only what the plan needs is kept (retention.py)
            if name in household:
                changes[name] = busy_only(changes[name])  # another person's calendar: only when they are busy
            read_from[name] = token

        with store.transaction():
            for name in sorted(changes):
                if store.token(name) != read_from[name]:
                    # Another process advanced this calendar while we read it (it did not hold the lock):
                    # these changes are relative to a token that is no longer ours.  Read it again next cycle.
                    del changes[name]
                    report.notes.append(f"{name}: changed by another process while read; read again next cycle")
                    log.warning("calendar.token_moved", calendar=name)
            report.calendars_read = len(changes)
            for name, cs in changes.items():
                store.apply_changes(name, cs.full, cs.upserts, cs.removed, cs.token, now)
            cache = self._events_after(changes, read_from, self._window_end(now))
            if self._pruned_day != since.date():  # once a day: forget what has aged out of the window
                if not dry_run:
                    store.prune_events(since)
                cache = {cal: {u: e for u, e in evs.items() if e.end > since} for cal, evs in cache.items()}
            events = [ev for cal in sorted(cache) for ev in cache[cal].values()]
            report.events_seen = len(events)
            self._detect_user_changes(events, set(changes), now, report)
            self._record_payments(events, now)
            inp = plan_input(store, now, s, events)
            result = plan(inp)
            report.plan = result
            self._record_ledger(result, now)
        # only once the transaction holding the same changes has committed
        self._cache = cache
        self._cache_tokens = {name: store.token(name) for name in cache}
        self._held_until = self._window_end(now)
        self._held_since = since
        if not dry_run:
            self._pruned_day = since.date()

        writable = {n for n, p in self.providers.items() if p.writable and n in changes}
        freeze_until = now + s.catch_up.freeze
        horizon_end = now + s.horizon
        ops = reconcile(result.desired, events, now, freeze_until, horizon_end, inp.tombstones, writable)
        report.ops = ops
        self._guard(ops, events, writable, now, force)
        if dry_run:
            return
        self._apply(ops, now, report)
        self._sync_writes(report)
        with store.transaction():
            store.add_cycle(now, report.summary())

    def _window_end(self, now: datetime) -> datetime:
        """Events starting after this are left in the event cache, not held in memory (issue 15).

        The horizon or the end of next week, whichever is later, plus two days; on whole UTC days, so
        the window moves on once a day (the events it reaches are then loaded from the cache).
        """
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return day + max(self.settings.horizon, timedelta(days=14)) + timedelta(days=3)

    def events(self) -> list[Event]:
        """The events of the last cycle, as the planner saw them (memory: the planning window and our own)."""
        return [ev for cal in sorted(self._cache) for ev in self._cache[cal].values()]

    def holds(self, start: datetime, end: datetime) -> bool:
        """True when memory holds every event of [``start``, ``end``) that the event cache holds."""
        since, until = self._held_since, self._held_until
        return since is not None and until is not None and since <= start and end <= until

    def _events_after(
        self, changes: Mapping[str, ChangeSet], read_from: Mapping[str, str | None], until: datetime
    ) -> dict[str, dict[str, Event]]:
        """Every calendar's events after this cycle's changes, those starting before ``until`` and our own.

        From memory while memory belongs to the token the store holds; from SQLite on first use and
        whenever another process advanced the calendar's token (the database wins over memory).
        """

        def held(e: Event) -> bool:
            return e.start < until or e.tag is not None

        out: dict[str, dict[str, Event]] = {}
        moved_on = self._held_until is not None and until > self._held_until
        for name in self.providers:
            cs = changes.get(name)
            if cs is not None and cs.full:
                out[name] = {e.uid: e for e in cs.upserts if held(e)}
                continue
            base = self._cache.get(name)
            stored = read_from[name] if name in changes else self.store.token(name)
            if base is not None and self._cache_tokens.get(name) != stored:
                log.info("cache.reloaded", calendar=name, why="another process advanced the sync token")
                base = None
            if base is None:  # the store already holds this cycle's changes
                out[name] = {e.uid: e for e in self.store.events([name], until=until)}
                continue
            if moved_on and self._held_until is not None:  # a new day: the events the window now reaches
                base = dict(base)
                for e in self.store.events_starting(name, self._held_until, until):
                    base.setdefault(e.uid, e)
            if cs is not None and (cs.upserts or cs.removed):
                base = dict(base)
                gone = set(cs.removed)
                for uid in gone:
                    base.pop(uid, None)
                if gone and any(e.series in gone for e in base.values()):
                    # a deleted recurring series may be reported by its id only: its occurrences go too
                    base = {u: e for u, e in base.items() if e.series not in gone}
                for e in cs.upserts:
                    if held(e):
                        base[e.uid] = e
                    else:
                        base.pop(e.uid, None)  # moved beyond the window: in the event cache only
            out[name] = base
        return out

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

    # -- guard -------------------------------------------------------------------
    def _guard(self, ops: list[Operation], events: list[Event], writable: set[str], now: datetime, force: bool) -> None:
        if force:
            return
        sf = self.settings.safety
        owned_live = sum(1 for e in events if e.tag is not None and e.calendar in writable and e.end > now)
        deletes = sum(1 for op in ops if op.kind == OpKind.DELETE and op.reason not in _NOT_LOSSES)
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
        self._cycles += 1
        planned = {(op.calendar, op.key) for op in ops}
        owned = store.owned()
        views = {cal: _view_digest(self._cache.get(cal, {})) for cal in {op.calendar for op in ops}}
        for gone in [k for k in self._sent if k not in planned]:
            del self._sent[gone]  # no write wanted this cycle: whatever loop there was is over
        for op in ops:
            if self.stop_requested:
                report.notes.append("stopped before all writes were done (shutdown requested)")
                break
            if op.calendar in blocked:
                continue
            sig = _signature(
                op, owned.get((op.calendar, op.key)), store.burnt_generation(op.calendar, op.key), views[op.calendar]
            )
            if self._held_back(op, sig, report):
                continue
            prov = self.providers[op.calendar]
            answer = "ok"
            try:
                if op.kind == OpKind.CREATE:
                    assert op.desired is not None
                    answer = self._create(prov, op.desired, now, report)
                elif op.kind == OpKind.UPDATE:
                    assert op.desired is not None and op.existing is not None
                    ev = prov.update(op.existing, op.desired)
                    with store.transaction():
                        assert ev.tag is not None
                        store.set_owned(op.calendar, op.key, ev.uid, ev.tag, ev.start, ev.end, RowState.LIVE, now)
                        self._saw_written(op.calendar, upsert=ev)
                else:
                    assert op.existing is not None and op.existing.tag is not None
                    with store.transaction():
                        store.set_owned_state(op.calendar, op.key, RowState.DELETING, now)
                        # Burnt before the request: after a crash between the delete and its record, a
                        # later create of this key must not take the id's "deleted" answer for the user's.
                        store.burn(op.calendar, op.key, op.existing.tag.key.generation)
                    try:
                        prov.delete(op.existing)
                    except NotFound:
                        answer = "gone already"  # 404/410: what we wanted; recorded as done below
                    self._deleted(op, now)
                report.applied.append(op)
                log.info("write", op=op.kind.value, calendar=op.calendar, key=op.key, answer=answer)
            except NotFound as exc:
                answer = "gone"
                # An update of an event that is gone: out of our view now; the next cycle sees an owned
                # event that vanished without us deleting it (the user's deletion) and does not write it again.
                if op.existing is not None:
                    with store.transaction():
                        self._saw_written(op.calendar, removed=op.existing.uid)
                report.notes.append(f"{op.calendar}: {op.key} is gone; taken as deleted by the user ({exc})")
                log.info("write.gone", calendar=op.calendar, key=op.key, error=str(exc))
            except PreconditionFailed as exc:
                answer = "changed meanwhile"
                # Our copy of the event is stale: read the calendar in full next cycle (fresh etags), so
                # the next request, if any, is made against what is there now.
                with store.transaction():
                    store.forget_token(op.calendar)
                report.notes.append(f"{op.calendar}: {op.key} changed meanwhile; decided again next cycle ({exc})")
                log.info("write.conflict", calendar=op.calendar, key=op.key, error=str(exc))
            except NotOwned as exc:
                answer = "refused: not owned"
                report.notes.append(f"{op.calendar}: refused to touch {op.key}: {exc}")
                log.error("write.not_owned", calendar=op.calendar, key=op.key, error=str(exc))
            except (TransientError, AuthError, ProviderError, OSError) as exc:
                answer = ""  # a failure: trying again later is right (the daemon backs off)
                blocked.add(op.calendar)
                report.failed[op.calendar] = f"write failed: {exc}"
                if isinstance(exc, AuthError):
                    report.auth_failed[op.calendar] = str(exc)
                log.warning("write.failed", calendar=op.calendar, key=op.key, error=str(exc))
            self._remember(op, sig, answer)

    def _sync_writes(self, report: CycleReport) -> None:
        """Providers that batch the durability of their writes (vdir: one fsync per folder) make them durable."""
        for name, prov in sorted(self.providers.items()):
            sync = getattr(prov, "sync", None)
            if not callable(sync):
                continue
            try:
                sync()
            except OSError as exc:
                report.failed[name] = f"write failed: {exc}"
                log.warning("write.sync_failed", calendar=name, error=str(exc))

    # -- convergence: no identical write twice ---------------------------------------
    def _held_back(self, op: Operation, sig: tuple[object, ...], report: CycleReport) -> bool:
        """True when ``op`` repeats the previous cycle's request for its key with unchanged inputs.

        That request was answered (not a failure), yet the same one is wanted again: a loop.  It is
        logged once as an error and the key is backed off (1, 2, 4 … 64 cycles) instead of repeated.
        """
        sent = self._sent.get((op.calendar, op.key))
        if sent is None or sent.signature != sig:
            return False
        if self._cycles < sent.hold_until:
            report.notes.append(f"{op.calendar}: {op.key} held back (the same write was answered before)")
            return True
        sent.repeats += 1
        sent.hold_until = self._cycles + 2 ** min(sent.repeats - 1, 6)
        if not sent.logged:
            sent.logged = True
            log.error(
                "write.repeated",
                calendar=op.calendar,
                key=op.key,
                op=op.kind.value,
                answers=list(sent.answers),
                hint="the same write with the same inputs was answered in the previous cycle; backing off",
            )
        report.notes.append(f"{op.calendar}: {op.key} held back: the same {op.kind.value} was answered last cycle")
        return True

    def _remember(self, op: Operation, sig: tuple[object, ...], answer: str) -> None:
        k = (op.calendar, op.key)
        if not answer:
            self._sent.pop(k, None)
            return
        sent = self._sent.get(k)
        if sent is None or sent.signature != sig:
            self._sent[k] = _Sent(sig, [answer])
        else:
            sent.answers = [*sent.answers[-4:], answer]

    # -- our own writes, known from their answers ------------------------------------
    def _saw_written(self, calendar: str, upsert: Event | None = None, removed: str | None = None) -> None:
        """Put what a write did into memory and the event cache at once (inside the caller's transaction).

        The next read reports the same change again, which is harmless; until then no cycle works from a
        view that contradicts our own writes (a deleted event is not deleted again, a created one is there).
        """
        events = self._cache.get(calendar)
        if events is not None:
            if removed is not None:
                events.pop(removed, None)
            if upsert is not None:
                events[upsert.uid] = upsert
        self.store.put_events(calendar, [upsert] if upsert else [], [removed] if removed else [])

    def _deleted(self, op: Operation, now: datetime) -> None:
        assert op.existing is not None
        with self.store.transaction():
            if op.reason != "duplicate":
                self.store.drop_owned(op.calendar, op.key)
            self._saw_written(op.calendar, removed=op.existing.uid)

    def _create(self, prov: Provider, desired: DesiredEvent, now: datetime, report: CycleReport) -> str:
        """Create ``desired`` under the first id not burnt; returns the answer in a few words."""
        store = self.store
        cal, key = desired.calendar, desired.key.base
        if store.tombstoned(cal, key):  # the journal too: deleted stays deleted after the database is lost
            report.notes.append(f"{cal}: {key} was deleted by the user earlier; not recreated")
            return "deleted by the user earlier"
        for _attempt in range(3):
            gen = store.burnt_generation(cal, key) + 1
            want = desired if gen == 0 else replace(desired, tag=replace(desired.tag, key=key.with_generation(gen)))
            with store.transaction():
                store.set_owned(cal, key, "", want.tag, want.start, want.end, RowState.CREATING, now)
            try:
                ev = prov.create(want)
            except AlreadyExists as exc:
                if not exc.deleted:
                    # Created by an earlier cycle that did not live to record it.
                    found = getattr(exc, "existing", None)
                    with store.transaction():
                        if isinstance(found, Event) and found.tag is not None and found.tag.key.base == key:
                            store.set_owned(cal, key, found.uid, found.tag, found.start, found.end, RowState.LIVE, now)
                            self._saw_written(cal, upsert=found)
                            report.notes.append(f"{cal}: {key} exists already; adopted")
                        else:
                            store.forget_token(cal)  # a full read next cycle finds it by its tag
                            report.notes.append(f"{cal}: {key} exists already; adopted on the next read")
                    return "exists already"
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
                return "deleted by the user earlier"
            with store.transaction():
                assert ev.tag is not None
                store.set_owned(cal, key, ev.uid, ev.tag, ev.start, ev.end, RowState.LIVE, now)
                self._saw_written(cal, upsert=ev)
            return "ok"
        report.notes.append(f"{cal}: could not find a free id for {key}")
        return "no free id"


@dataclass
class _Sent:
    """The last write sent for one key, and what the service answered."""

    signature: tuple[object, ...]
    answers: list[str]
    repeats: int = 0
    hold_until: int = 0
    logged: bool = False


def _view_digest(events: Mapping[str, Event]) -> int:
    """A digest of a calendar as the cycle saw it (ids and etags): equal when nothing on it changed."""
    return hash(frozenset((uid, ev.etag) for uid, ev in events.items()))


def _drain_notices(providers: Iterable[Provider], report: CycleReport) -> None:
    """One-line notices a provider raised while working (a fallback it took, issue 18) go into the report."""
    for prov in providers:
        notices = getattr(prov, "notices", None)
        if isinstance(notices, list) and notices:
            report.notes.extend(str(n) for n in notices)
            notices.clear()


def _signature(op: Operation, row: OwnedRow | None, burnt: int, view: int) -> tuple[object, ...]:
    """Everything a write depends on (the op, the event it acts on, the key's record in the owned map, the
    calendar as read): the same signature in two cycles in a row means the same request with unchanged inputs."""
    ex = op.existing
    return (
        op.kind.value,
        op.calendar,
        op.key,
        repr(op.desired),
        (ex.uid, ex.etag, ex.start, ex.end, ex.tag) if ex is not None else None,
        (row.uid, row.state, row.start, row.end) if row is not None else None,
        burnt,
        view,
    )


def _one_line(exc: BaseException) -> str:
    """An error as one line for the report: the first line of its message, or its type."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text if isinstance(exc, (ProviderError, OSError)) and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def _label(t: datetime, settings: Settings) -> str:
    from idealweek.week import iso_week_label

    return iso_week_label(t, settings.zone)
