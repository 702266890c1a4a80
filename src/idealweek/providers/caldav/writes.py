"""CalDAV writes.

Writing: ``PUT`` with ``If-None-Match: *`` to create ``<stable_id>.ics``
(``412`` → :class:`AlreadyExists`: a CalDAV server forgets deleted names, so
``deleted`` is never claimed); updates ``GET`` the stored object, refuse it
unless it is ours, change only times/busy/privacy/tag and ``PUT`` with
``If-Match``; ``DELETE`` with ``If-Match``; deleting what is gone is fine.
A ``412`` on update/delete → :class:`PreconditionFailed` (decided again next
cycle) unless the object already is what we wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from structlog.typing import FilteringBoundLogger

from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed, ProviderError
from idealweek.model import DesiredEvent, Event
from idealweek.providers.caldav.client import DavSession
from idealweek.providers.caldav.mapping import events_of_resource, matches, owned_name, render_new, render_update

ICS_TYPE = "text/calendar; charset=utf-8"


class CalDavWrites:
    """Creating, updating and deleting owned events (a part of :class:`~.provider.CalDavProvider`)."""

    name: str
    session: DavSession
    writable: bool
    zone: ZoneInfo
    clock: Callable[[], datetime]
    _written: set[str]
    _log: FilteringBoundLogger

    def get(self, name: str) -> Event | None:
        raise NotImplementedError

    def _get(self, name: str) -> tuple[str, str] | None:
        raise NotImplementedError

    def _url_of(self, name: str) -> str:
        raise NotImplementedError

    def _check_writable(self) -> None:
        if not self.writable:
            raise NotOwned(f"{self.name}: calendar is read-only for idealweek (no blocks/focus/mirror role)")

    def _check_owned(self, existing: Event) -> None:
        if existing.tag is None:
            raise NotOwned(f"{self.name}: event {existing.uid} is not idealweek's; it is never modified")

    def create(self, desired: DesiredEvent) -> Event:
        self._check_writable()
        name = owned_name(desired.key)
        body = render_new(desired, self.clock())
        response = self.session.request(
            "PUT (create)",
            self._url_of(name),
            "PUT",
            body,
            {"If-None-Match": "*", "Content-Type": ICS_TYPE},
        )
        if response.status == 412:
            raise AlreadyExists(f"{self.name}: event {name} exists already", deleted=False)
        if response.status >= 300:
            raise ProviderError(f"{self.name}: creating {name} failed: HTTP {response.status}")
        self._written.add(name)
        etag = str(response.headers.get("ETag", ""))
        if not etag:
            current = self.get(name)
            if current is not None:
                return current
        self._log.debug("caldav event created", resource=name, title=desired.title)
        return self._event_from(name, body, etag, desired)

    def _event_from(self, name: str, data: str, etag: str, desired: DesiredEvent) -> Event:
        margin = timedelta(days=2)
        evs = events_of_resource(
            name,
            data,
            etag,
            calendar=self.name,
            zone=self.zone,
            window=(desired.start - margin, desired.end + margin),
            source=f"{self.name}:{name}",
        )
        if len(evs) != 1:
            raise ProviderError(f"{self.name}: wrote {name} but cannot read it back")
        return evs[0]

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        self._check_writable()
        self._check_owned(existing)
        name = existing.series or existing.uid
        got = self._get(name)
        if got is None:
            raise NotFound(f"{self.name}: event {name} is gone")
        data, etag = got
        if existing.etag and etag and etag != existing.etag:
            raise PreconditionFailed(f"{self.name}: event {name} changed since it was read")
        body = render_update(data, desired, self.clock(), calendar=self.name, resource=name)
        headers = {"Content-Type": ICS_TYPE}
        if etag:
            headers["If-Match"] = etag
        response = self.session.request("PUT (update)", self._url_of(name), "PUT", body, headers)
        if response.status == 412:
            current = self.get(name)
            if current is not None and matches(current, desired):
                return current  # our own earlier try went through (its answer was lost)
            raise PreconditionFailed(f"{self.name}: event {name} changed since it was read")
        if response.status in (404, 410):
            raise NotFound(f"{self.name}: event {name} is gone")
        if response.status >= 300:
            raise ProviderError(f"{self.name}: updating {name} failed: HTTP {response.status}")
        self._written.add(name)
        new_etag = str(response.headers.get("ETag", ""))
        if not new_etag:
            current = self.get(name)
            if current is not None:
                return current
        return self._event_from(name, body, new_etag, desired)

    def delete(self, existing: Event) -> None:
        self._check_writable()
        self._check_owned(existing)
        name = existing.series or existing.uid
        etag = existing.etag
        if not etag:
            got = self._get(name)
            if got is None:
                return
            etag = got[1]
        headers = {"If-Match": etag} if etag else {}
        response = self.session.request("DELETE", self._url_of(name), "DELETE", headers=headers)
        if response.status in (404, 410) or response.status < 300:
            return
        if response.status == 412:
            if self._get(name) is None:
                return  # deleted meanwhile: what we wanted
            raise PreconditionFailed(f"{self.name}: event {name} changed since it was read")
        raise ProviderError(f"{self.name}: deleting {name} failed: HTTP {response.status}")
