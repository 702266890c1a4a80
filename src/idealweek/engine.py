"""One sync cycle: pull → plan → guard → apply → record.

The only module (with its two parts, :mod:`idealweek.engine_changes` — what the user
did, before planning — and :mod:`idealweek.engine_writes` — guard and apply) that
touches providers (network), the state database and the clock.  The planner and the
reconciler stay pure.

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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.config import Settings
from idealweek.engine_changes import BeforePlanning
from idealweek.engine_writes import Writes, _one_line, _Sent
from idealweek.errors import (
    AuthError,
    GuardError,
    ProviderError,
)
from idealweek.lock import default_wait, state_lock
from idealweek.model import Event, Operation, Role, debt_totals
from idealweek.planner import Plan, PlanInput, plan
from idealweek.providers.base import ChangeSet, Provider
from idealweek.reconcile import reconcile
from idealweek.retention import busy_only, keep_since, minimise
from idealweek.store import Store

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
        mirror_secret=store.mirror_secret,
    )


class Engine(BeforePlanning, Writes):
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


def _drain_notices(providers: Iterable[Provider], report: CycleReport) -> None:
    """One-line notices a provider raised while working (a fallback it took, issue 18) go into the report."""
    for prov in providers:
        notices = getattr(prov, "notices", None)
        if isinstance(notices, list) and notices:
            report.notes.extend(str(n) for n in notices)
            notices.clear()
