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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from idealweek.errors import AuthError, ProviderError
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


class UnavailableProvider:
    """Stands in for a calendar whose provider could not be built (its account is not signed in, …).

    Each use tries to build the real provider again (the user may have signed in meanwhile, while a
    daemon kept running); until that works every call fails with the reason, so the engine fails
    this calendar alone and reads, plans and writes the others as usual (SPEC §6.11).
    """

    def __init__(
        self,
        name: str,
        reason: str,
        *,
        writable: bool,
        auth: bool = True,
        rebuild: Callable[[], Provider] | None = None,
    ) -> None:
        self.name = name
        self.writable = writable
        self.reason = reason
        self.auth = auth
        self._rebuild = rebuild
        self._provider: Provider | None = None
        self._counter = RequestCounter()

    @property
    def requests(self) -> RequestCounter:
        return self._provider.requests if self._provider is not None else self._counter

    @requests.setter
    def requests(self, counter: RequestCounter) -> None:
        self._counter = counter

    def _inner(self) -> Provider:
        if self._provider is None:
            if self._rebuild is not None:
                try:
                    self._provider = self._rebuild()
                except ProviderError as exc:
                    self.reason, self.auth = str(exc), isinstance(exc, AuthError)
            if self._provider is None:
                raise AuthError(self.reason) if self.auth else ProviderError(self.reason)
        return self._provider

    def read_changes(self, token: str | None) -> ChangeSet:
        return self._inner().read_changes(token)

    def list_owned(self) -> list[Event]:
        return self._inner().list_owned()

    def create(self, desired: DesiredEvent) -> Event:
        return self._inner().create(desired)

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        return self._inner().update(existing, desired)

    def delete(self, existing: Event) -> None:
        self._inner().delete(existing)

    def close(self) -> None:
        if self._provider is not None:
            self._provider.close()


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    """One calendar of an account, as ``idealweek calendars ACCOUNT`` lists it."""

    id: str
    name: str
    access: str
    primary: bool = False
