"""The Google Calendar provider (API v3): incremental sync and safe write-back.

* Full sync: ``events.list`` with ``singleEvents=true``, ``maxResults=2500``,
  ``timeMin`` = the kept history (:mod:`idealweek.retention`; never the whole
  past of a calendar), following every ``pageToken``; the new token is the ``nextSyncToken`` of the
  last page.  Incremental sync passes only ``syncToken`` (plus
  ``singleEvents``/``maxResults``/``pageToken``, which Google allows);
  ``410 fullSyncRequired`` → full sync (``ChangeSet.full``).
* Writes: deterministic ids, ``sendUpdates=none``, no attendees; updates are
  ``patch`` with ``If-Match`` (they never touch the title or description: the
  user's edits win); ``409`` → :class:`AlreadyExists`, telling a deleted event
  (``deleted=True``) from a live one (:class:`EventExists` carries it);
  ``412`` → :class:`PreconditionFailed`; deleting a deleted event is fine.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from types import MethodType
from zoneinfo import ZoneInfo

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed, ProviderError
from idealweek.model import Defend, DesiredEvent, Event, Kind
from idealweek.providers.base import ChangeSet, RequestCounter
from idealweek.providers.google.client import ApiError, GoogleClient
from idealweek.providers.google.mapping import (
    OWNED_PROPERTY,
    OWNED_VALUE,
    event_from_json,
    event_id,
    insert_body,
    is_cancelled,
    patch_body,
    zone_or,
)
from idealweek.providers.google.resources import EventsListParams, EventsPage, EventsResource
from idealweek.providers.packed import PackedEvents

log = structlog.get_logger()

PAGE_SIZE = 2500
PACKED_PAGE_SIZE = 250
"""Pages of a packed full read (the daemon's): Google's default size.  A page's JSON is the read's peak in
objects, and what outlives the cycle pins its share of the heap: at 40k events 2500-event pages left the
daemon ~9 MB above one started on a filled state, 250-event pages ~1 MB (for ~5x the requests, once)."""
GONE = (404, 410)


class EventExists(AlreadyExists):
    """``409``: a live event already has this id; ``existing`` is that event (ours when it carries our tag)."""

    def __init__(self, message: str, existing: Event) -> None:
        super().__init__(message, deleted=False)
        self.existing = existing


class GoogleProvider:
    """One Google calendar (``calendar_id``) of one signed-in account."""

    def __init__(
        self,
        name: str,
        client: GoogleClient,
        calendar_id: str = "primary",
        *,
        writable: bool = True,
        zone: ZoneInfo | None = None,
        focus_time: bool = False,
        page_size: int = PAGE_SIZE,
        lookback: timedelta | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.name = name
        self.client = client
        self.calendar_id = calendar_id or "primary"
        self.writable = writable
        self.zone = zone or ZoneInfo("UTC")
        self.focus_time = focus_time
        """Write focus blocks as ``eventType: focusTime`` (only honoured on the primary calendar)."""
        self.page_size = min(PAGE_SIZE, page_size)
        self.lookback = lookback
        """A full sync asks only for events ending after ``now - lookback`` (``timeMin``); None: everything."""
        self.clock = clock
        self.out_of_office = True
        """``defend = "decline"`` blocks are written as out-of-office events; off once Google refused one."""
        self.notices: list[str] = []
        """One-line notices for the cycle's report (drained by the engine)."""
        self._noticed: set[str] = set()
        self.requests: RequestCounter = client.counter
        self._log = log.bind(calendar=name)
        self._events_resource: EventsResource | None = None
        self.pack_full_reads = False
        """Full reads keep their events as text (:mod:`idealweek.providers.packed`; the daemon turns it on)."""

    @property
    def _events(self) -> EventsResource:
        # Building the resource walks the discovery document (~10 ms): do it once.
        if self._events_resource is None:
            self._events_resource = _without_docstrings(self.client.service.events())
        return self._events_resource

    # -- reading --------------------------------------------------------------
    def read_changes(self, token: str | None) -> ChangeSet:
        try:
            if token is not None:
                try:
                    return self._list(sync_token=token)
                except ApiError as exc:
                    if exc.status != 410:
                        raise
                    self._log.info("google sync token expired, doing a full sync", reason=exc.reason)
            return self._list(sync_token=None)
        except ApiError as exc:
            if exc.status == 404:
                raise ProviderError(
                    f"{self.name}: Google has no calendar with id {self.calendar_id!r} for this account; "
                    "list the ids with `idealweek calendars ACCOUNT`"
                ) from None
            raise

    def _list(self, sync_token: str | None, owned_only: bool = False) -> ChangeSet:
        packed = PackedEvents() if self.pack_full_reads and sync_token is None and not owned_only else None
        size = self.page_size if packed is None else min(self.page_size, PACKED_PAGE_SIZE)
        params: EventsListParams = {"calendarId": self.calendar_id, "singleEvents": True, "maxResults": size}
        if sync_token is not None:
            params["syncToken"] = sync_token
        elif self.lookback is not None and not owned_only:
            # Google refuses timeMin together with a syncToken; the token of a bounded full sync keeps
            # working for incremental reads (their events outside the window are dropped on storing).
            since = (self.clock() - self.lookback).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            params["timeMin"] = since.isoformat().replace("+00:00", "Z")
        if owned_only:
            params["privateExtendedProperty"] = f"{OWNED_PROPERTY}={OWNED_VALUE}"
        upserts: dict[str, Event] = {}
        removed: dict[str, None] = {}
        pages = 0

        def fetch(page_token: str | None = None) -> EventsPage:
            request = self._events.list(**params, pageToken=page_token) if page_token else self._events.list(**params)
            return self.client.execute(request, "events.list")

        from concurrent.futures import ThreadPoolExecutor
        from contextvars import copy_context

        page = fetch()
        # The next page is asked for while this one is mapped (the same requests, in the same order), in the
        # caller's context (structlog's variables).  Leaving the pool waits for a request still under way, so
        # nothing keeps using the client behind the caller's back when mapping fails.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="idealweek-page") as ahead:
            while True:
                pages += 1
                if not isinstance(page, dict) or not isinstance(page.get("items") or [], list):
                    # a proxy's page, broken JSON or the wrong shape: fail this calendar, not the cycle
                    raise ApiError(f"events.list: unexpected answer ({type(page).__name__}, not an event list)", 0, "")
                page_token = page.get("nextPageToken")
                following = ahead.submit(copy_context().run, fetch, page_token) if page_token else None
                self._map_page(page, sync_token, upserts, removed)
                if packed is not None:
                    _pack_page(page, upserts, packed)
                if following is None:
                    new_token = page.get("nextSyncToken")
                    break
                page = following.result()
        if new_token is None and not owned_only:
            self._log.warning("google returned no sync token; the next read will be a full sync")
        read = packed if packed is not None else list(upserts.values())
        self._log.debug("google events read", pages=pages, upserts=len(read), removed=len(removed))
        return ChangeSet(
            full=sync_token is None,
            upserts=read,
            removed=list(removed),
            token=str(new_token) if new_token else None,
        )

    def _map_page(
        self, page: EventsPage, sync_token: str | None, upserts: dict[str, Event], removed: dict[str, None]
    ) -> None:
        """The events of one ``events.list`` page into ``upserts`` (cancelled ones into ``removed``)."""
        zone = zone_or(page.get("timeZone"), self.zone)
        for item in page.get("items") or []:
            if not isinstance(item, dict):
                continue
            uid = item.get("id")
            if not isinstance(uid, str) or not uid:
                continue
            if is_cancelled(item):
                upserts.pop(uid, None)
                if sync_token is not None:
                    removed[uid] = None
                continue
            try:
                event = event_from_json(self.name, item, zone)
            except (ValueError, TypeError) as exc:
                self._log.warning("skipping an unreadable Google event", event_id=uid, problem=str(exc))
                continue
            removed.pop(uid, None)
            upserts[uid] = event

    def list_owned(self) -> list[Event]:
        events = self._list(sync_token=None, owned_only=True).upserts
        return sorted((e for e in events if e.tag is not None), key=lambda e: e.uid)

    def get(self, uid: str) -> Event | None:
        """The event ``uid`` as it is now; ``None`` when it is gone or cancelled."""
        try:
            item = self.client.execute(self._events.get(calendarId=self.calendar_id, eventId=uid), "events.get")
        except ApiError as exc:
            if exc.status in GONE:
                return None
            raise
        if is_cancelled(item):
            return None
        return event_from_json(self.name, item, self.zone)

    # -- writing -------------------------------------------------------------
    def _check_writable(self) -> None:
        if not self.writable:
            raise NotOwned(f"{self.name}: calendar is read-only for idealweek (no blocks/focus/mirror role)")

    def _check_owned(self, existing: Event) -> None:
        if existing.tag is None:
            raise NotOwned(f"{self.name}: event {existing.uid} is not idealweek's; it is never modified")

    def _use_focus_time(self, desired: DesiredEvent) -> bool:
        wanted = desired.focus_time or (self.focus_time and desired.kind == Kind.FOCUS)
        return wanted and self.calendar_id == "primary"

    def _use_out_of_office(self, desired: DesiredEvent) -> bool:
        """``defend = "decline"``: an out-of-office event, where Google allows one (the primary calendar of an
        account that has them); elsewhere a busy event and a one-line notice (once)."""
        if desired.defend != Defend.DECLINE or self._use_focus_time(desired):
            return False
        if self.calendar_id != "primary":
            self._notice(
                f'{self.name}: defend = "decline" works only on a Google primary calendar; '
                "blocks here are written as busy"
            )
            return False
        return self.out_of_office

    def _notice(self, text: str) -> None:
        if text not in self._noticed:
            self._noticed.add(text)
            self.notices.append(text)
            self._log.warning("google.defend_fallback", notice=text)

    def create(self, desired: DesiredEvent) -> Event:
        self._check_writable()
        ooo = self._use_out_of_office(desired)
        body = insert_body(desired, self.zone, focus_time=self._use_focus_time(desired), out_of_office=ooo)
        request = self._events.insert(calendarId=self.calendar_id, body=body, sendUpdates="none")
        try:
            item = self.client.execute(request, "events.insert")
        except ApiError as exc:
            if exc.status == 409:
                raise self._exists(body["id"]) from None
            if ooo and exc.status == 400:
                # Google refuses out-of-office events for some accounts (consumer accounts): busy from now on.
                self.out_of_office = False
                self._notice(
                    f"{self.name}: Google refused an out-of-office block ({exc.reason or 'badRequest'}); "
                    'defend = "decline" blocks are written as busy'
                )
                return self.create(desired)
            raise
        self._log.debug("google event created", event_id=body["id"], title=desired.title)
        return event_from_json(self.name, item, self.zone)

    def _exists(self, uid: str) -> AlreadyExists:
        """What a ``409`` on insert means: the id is taken by a deleted event, or by a live one."""
        try:
            item = self.client.execute(self._events.get(calendarId=self.calendar_id, eventId=uid), "events.get")
        except ApiError as exc:
            if exc.status in GONE:
                return AlreadyExists(f"{self.name}: event id {uid} belonged to a deleted event", deleted=True)
            raise
        if is_cancelled(item):
            return AlreadyExists(f"{self.name}: event id {uid} belonged to a deleted event", deleted=True)
        return EventExists(f"{self.name}: event id {uid} exists already", event_from_json(self.name, item, self.zone))

    def _etag_of_owned(self, existing: Event) -> str | None:
        """The etag to write against; ``None`` when the event is gone.  Reads the event when no etag is known."""
        if existing.etag:
            return existing.etag
        current = self.get(existing.uid)
        if current is None:
            return None
        self._check_owned(current)
        return current.etag

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        self._check_writable()
        self._check_owned(existing)
        etag = self._etag_of_owned(existing)
        if etag is None:
            raise NotFound(f"{self.name}: event {existing.uid} is gone")
        request = self._events.patch(
            calendarId=self.calendar_id, eventId=existing.uid, body=patch_body(desired, self.zone), sendUpdates="none"
        )
        request.headers["If-Match"] = etag
        try:
            item = self.client.execute(request, "events.patch")
        except ApiError as exc:
            if exc.status == 412:
                current = self.get(existing.uid)
                if current is not None and _matches(current, desired):
                    return current  # our own earlier try went through (its answer was lost)
                raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read") from None
            if exc.status in GONE:
                raise NotFound(f"{self.name}: event {existing.uid} is gone") from None
            raise
        if is_cancelled(item):
            raise NotFound(f"{self.name}: event {existing.uid} is gone")
        return event_from_json(self.name, item, self.zone)

    def delete(self, existing: Event) -> None:
        self._check_writable()
        self._check_owned(existing)
        etag = self._etag_of_owned(existing)
        if etag is None:
            return
        request = self._events.delete(calendarId=self.calendar_id, eventId=existing.uid, sendUpdates="none")
        request.headers["If-Match"] = etag
        try:
            self.client.execute(request, "events.delete")
        except ApiError as exc:
            if exc.status in GONE:
                return
            if exc.status == 412:
                if self.get(existing.uid) is None:
                    return  # deleted meanwhile: what we wanted
                raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read") from None
            raise

    def close(self) -> None:
        self.client.close()


def _matches(event: Event, desired: DesiredEvent) -> bool:
    """True when ``event`` already is what ``desired`` asks an update to make of it."""
    return (
        event.tag == desired.tag
        and event.start == desired.start
        and event.end == desired.end
        and event.busy == desired.busy
        and event.private == desired.private
    )


def expected_id(desired: DesiredEvent) -> str:
    """The id :meth:`GoogleProvider.create` gives ``desired`` (for callers that look it up)."""
    return event_id(desired.key)


def _without_docstrings(resource: EventsResource) -> EventsResource:
    """``resource`` without its methods' docstrings, which googleapiclient writes out of the discovery document for
    each calendar's resource (~40 kB for each of insert, patch, ...: ~0.4 MB a calendar for as long as the daemon
    runs; issue 15).  Nothing reads them; the methods are this resource's own closures.  So goes the client's cache of
    the schemas printed into them (~90 kB a calendar; googleapiclient prints a schema again should it need one)."""
    for attr in vars(resource).values():
        if isinstance(attr, MethodType):
            attr.__func__.__doc__ = None
    printed = getattr(getattr(resource, "_schema", None), "pretty", None)
    if isinstance(printed, dict):
        printed.clear()
    return resource


def _pack_page(page: EventsPage, upserts: dict[str, Event], packed: PackedEvents) -> None:
    """A mapped page's events into ``packed`` (``upserts`` is emptied); an event met again replaces the earlier."""
    for item in page.get("items") or []:
        uid = item.get("id") if isinstance(item, dict) else None
        if isinstance(uid, str):
            packed.supersede(uid)
    packed.add(upserts.values())
    upserts.clear()


__all__ = ["EventExists", "GoogleProvider", "expected_id"]
