"""The provider interface every calendar source implements.

The engine talks to calendars only through :class:`Provider`; the planner never
knows where a calendar comes from.  Contract (checked by
``tests/test_provider_contract.py`` for every provider):

* ``read_changes(token)`` returns a :class:`ChangeSet`.  With ``token=None`` it
  is a full listing (``full=True``): ``upserts`` are all events, ``removed``
  is empty.  With a token it returns what changed since that token; when the
  service says the token expired, the provider falls back to a full listing
  and sets ``full=True``.  The returned ``token`` is only valid once the whole
  change set was read.  Cancelled events come back in ``removed`` (by uid).
* ``list_owned()`` is a full listing of the events carrying idealweek's tag.
* ``create(desired)`` creates an event with an id derived from
  ``desired.key`` (stable: the same key always maps to the same id); a second
  create with the same key raises :class:`~idealweek.errors.AlreadyExists`
  instead of making a duplicate.  No attendees, no mail.
* ``update(existing, desired)`` and ``delete(existing)`` refuse events without
  idealweek's tag (:class:`~idealweek.errors.NotOwned`), use the etag as a
  precondition (:class:`~idealweek.errors.PreconditionFailed`), and
  ``delete`` of an event that is already gone is not an error.
* Providers count the HTTP (or file) requests they make in ``requests``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from idealweek.model import DesiredEvent, Event


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What changed on a calendar since the last token."""

    full: bool
    upserts: Sequence[Event] = ()
    removed: Sequence[str] = ()
    token: str | None = None


@dataclass(slots=True)
class RequestCounter:
    """Counts requests a provider made (reads and writes separately)."""

    reads: int = 0
    writes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, write: bool = False) -> None:
        if write:
            self.writes += 1
        else:
            self.reads += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return self.reads + self.writes


@runtime_checkable
class Provider(Protocol):
    """One calendar on some service."""

    name: str
    """The calendar's name in the config."""
    writable: bool
    requests: RequestCounter

    def read_changes(self, token: str | None) -> ChangeSet: ...

    def list_owned(self) -> list[Event]: ...

    def create(self, desired: DesiredEvent) -> Event: ...

    def update(self, existing: Event, desired: DesiredEvent) -> Event: ...

    def delete(self, existing: Event) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """One calendar of an account, as ``idealweek calendars ACCOUNT`` lists it."""

    id: str
    name: str
    access: str
    primary: bool = False
