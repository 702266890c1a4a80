"""An in-memory calendar and provider: the reference implementation of the contract.

Used by tests, the benchmark and the stateful property tests.  The
:class:`MemoryCalendar` plays the service; :class:`MemoryProvider` is the
client idealweek uses.  The backdoor methods (``user_*``) act as the user.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed, TransientError
from idealweek.ids import stable_id
from idealweek.model import DesiredEvent, Event, Status
from idealweek.providers.base import ChangeSet, RequestCounter


@dataclass
class MemoryCalendar:
    """The 'service' side: events by id, a change log, and remembered deleted ids."""

    events: dict[str, Event] = field(default_factory=dict)
    deleted_ids: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    """Change log: the id changed at each version."""
    fail_next: list[Exception] = field(default_factory=list)
    """Faults to raise on the next requests (tests)."""

    def _touch(self, uid: str) -> None:
        self.log.append(uid)

    # -- backdoor: the user -------------------------------------------------
    def user_put(self, event: Event) -> Event:
        ev = dataclasses.replace(event, etag=f'"{len(self.log) + 1}"')
        self.events[ev.uid] = ev
        self._touch(ev.uid)
        return ev

    def user_delete(self, uid: str) -> None:
        if uid in self.events:
            del self.events[uid]
            self.deleted_ids.add(uid)
            self._touch(uid)


class MemoryProvider:
    """Provider over a :class:`MemoryCalendar`."""

    def __init__(self, name: str, calendar: MemoryCalendar, writable: bool = True) -> None:
        self.name = name
        self.cal = calendar
        self.writable = writable
        self.requests = RequestCounter()

    def _fault(self) -> None:
        if self.cal.fail_next:
            raise self.cal.fail_next.pop(0)

    def read_changes(self, token: str | None) -> ChangeSet:
        self.requests.count("read")
        self._fault()
        version = len(self.cal.log)
        if token is not None:
            try:
                since = int(token)
            except ValueError:
                since = -1
            if 0 <= since <= version:
                changed = sorted(set(self.cal.log[since:]))
                ups = [self.cal.events[u] for u in changed if u in self.cal.events]
                gone = [u for u in changed if u not in self.cal.events]
                ups = [e for e in ups if e.status != Status.CANCELLED]
                return ChangeSet(full=False, upserts=ups, removed=gone, token=str(version))
        live = [e for e in self.cal.events.values() if e.status != Status.CANCELLED]
        return ChangeSet(full=True, upserts=sorted(live, key=lambda e: e.uid), token=str(version))

    def list_owned(self) -> list[Event]:
        self.requests.count("list_owned")
        self._fault()
        return sorted((e for e in self.cal.events.values() if e.tag is not None), key=lambda e: e.uid)

    def _check_writable(self) -> None:
        if not self.writable:
            raise NotOwned(f"calendar {self.name!r} is read-only")

    def create(self, desired: DesiredEvent) -> Event:
        self.requests.count("create", write=True)
        self._check_writable()
        self._fault()
        uid = stable_id(desired.key)
        if uid in self.cal.events or uid in self.cal.deleted_ids:
            raise AlreadyExists(f"{self.name}: event id {uid} exists", deleted=uid in self.cal.deleted_ids)
        ev = Event(
            calendar=self.name,
            uid=uid,
            start=desired.start,
            end=desired.end,
            title=desired.title,
            description=desired.description,
            busy=desired.busy,
            private=desired.private,
            tag=desired.tag,
            etag=f'"{len(self.cal.log) + 1}"',
        )
        self.cal.events[uid] = ev
        self.cal._touch(uid)
        return ev

    def _current_owned(self, existing: Event) -> Event:
        cur = self.cal.events.get(existing.uid)
        if cur is None:
            raise NotFound(f"{self.name}: event {existing.uid} is gone")
        if cur.tag is None:
            raise NotOwned(f"{self.name}: event {existing.uid} is not idealweek's")
        if existing.etag and cur.etag != existing.etag:
            raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read")
        return cur

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        self.requests.count("update", write=True)
        self._check_writable()
        self._fault()
        cur = self._current_owned(existing)
        ev = dataclasses.replace(
            cur,
            start=desired.start,
            end=desired.end,
            busy=desired.busy,
            private=desired.private,
            tag=desired.tag,
            etag=f'"{len(self.cal.log) + 1}"',
        )
        self.cal.events[ev.uid] = ev
        self.cal._touch(ev.uid)
        return ev

    def delete(self, existing: Event) -> None:
        self.requests.count("delete", write=True)
        self._check_writable()
        self._fault()
        if existing.uid not in self.cal.events:
            return
        self._current_owned(existing)
        del self.cal.events[existing.uid]
        self.cal.deleted_ids.add(existing.uid)
        self.cal._touch(existing.uid)

    def close(self) -> None:
        return None


__all__ = ["MemoryCalendar", "MemoryProvider", "TransientError"]
