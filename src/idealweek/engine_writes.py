"""Guard and apply: the mass-deletion guard, then every write announced in the owned map, sent, and its
answer recorded at once (memory, event cache, owned map); no identical write twice (convergence); ids
not reused once burnt.  A part of :class:`~idealweek.engine.Engine`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

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
from idealweek.model import DesiredEvent, Event, Interval, Operation, OpKind
from idealweek.ownership import REKEYED
from idealweek.providers.base import Provider
from idealweek.store import OwnedRow, RowState, Store

if TYPE_CHECKING:
    from idealweek.engine import CycleReport

log = structlog.get_logger("idealweek.engine")

_NOT_LOSSES = frozenset({"duplicate", REKEYED})
"""Deletes the mass-deletion guard does not count: each goes with a create of the same event."""


class Writes:
    """The guard and the writes of a cycle (a part of :class:`~idealweek.engine.Engine`)."""

    settings: Settings
    store: Store
    providers: dict[str, Provider]
    _cache: dict[str, dict[str, Event]]
    _sent: dict[tuple[str, str], _Sent]
    _cycles: int
    stop_requested: bool

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
