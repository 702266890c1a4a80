"""Outlook / Microsoft 365 calendars over Microsoft Graph v1.0.

Reading (SPEC §5): ``calendarView/delta`` over a window that covers the
planning horizon (plus a look-back for the catch-up rule), following
``@odata.nextLink`` to the ``@odata.deltaLink``, which is kept in the sync
token together with the window.  The window is re-anchored once a day: the
provider then starts a new full round and returns ``full=True`` so the
engine replaces its view (nothing lost, nothing duplicated).  Expired delta
state (``410``, ``syncStateNotFound``, ``resyncRequired``) → full resync.  A
secondary calendar where the service refuses delta falls back to a windowed
``calendarView`` listing with change detection by ``changeKey``.

Delta accepts no ``$select``/``$filter``/``$expand``, so the ownership tag is
not in its payload: when a round returned changes, one filtered listing of
owned events (``$filter`` on idealweek's extended property, ``$expand`` of the
tag) supplies the tags.  A cycle with no change costs one request.

Writing: ``transactionId`` (derived from the calendar and the key) makes a
retried create idempotent; a create first looks the key up so a second create
raises :class:`AlreadyExists`; updates and deletes re-read the event, refuse
untagged ones and send ``If-Match``.  No attendees, no reminders, no mail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import cast
from urllib.parse import quote

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed, ProviderError
from idealweek.model import DesiredEvent, Event, OwnedTag
from idealweek.providers.base import ChangeSet, RequestCounter
from idealweek.providers.outlook.client import GraphClient, GraphError, error_code
from idealweek.providers.outlook.mapping import (
    KEY_ID,
    OWNER_ID,
    OWNER_VALUE,
    BadEvent,
    create_body,
    expand_tag,
    filter_by,
    has_guests,
    is_removed,
    iso_utc,
    key_value,
    read_tag,
    to_event,
    update_body,
)
from idealweek.providers.outlook.resources import EventsPage, GraphEvent
from idealweek.providers.outlook.sync import DeltaUnsupported, SyncExpired, SyncMode, SyncState

log = structlog.get_logger(__name__)

REANCHOR_AFTER = timedelta(days=1)
_SYNC_EXPIRED_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_NOT_FOUND_CODES = frozenset({"erroritemnotfound", "itemnotfound", "resourcenotfound"})

utc_now = system_clock
"""The real clock (kept under this name for callers of the Outlook package)."""


class OutlookProvider:
    """One Outlook calendar (the mailbox's default calendar when ``calendar_id`` is empty)."""

    def __init__(
        self,
        name: str,
        client: GraphClient,
        calendar_id: str = "",
        *,
        writable: bool = True,
        horizon: timedelta = timedelta(days=14),
        lookback: timedelta = timedelta(days=8),
        zone: tzinfo = UTC,
        clock: Clock = utc_now,
    ) -> None:
        self.name = name
        self.writable = writable
        self.client = client
        self.requests: RequestCounter = client.counter
        self.calendar_id = calendar_id
        self.base = f"/me/calendars/{quote(calendar_id, safe='')}" if calendar_id else "/me/calendar"
        self.horizon = horizon
        self.lookback = lookback
        self.zone = zone
        self.clock = clock
        self._written: dict[str, tuple[str, OwnedTag]] = {}
        """uid → (etag, tag) of events this process wrote: their next delta entry needs no tag lookup."""

    # -- reading -------------------------------------------------------------
    def _window(self, now: datetime) -> tuple[datetime, datetime]:
        start = (now - self.lookback).replace(minute=0, second=0, microsecond=0)
        return start, now + self.horizon + REANCHOR_AFTER

    def _stale(self, state: SyncState, now: datetime) -> bool:
        """The window must be re-anchored: time moved on by a day, or it no longer covers the horizon."""
        return now - self.lookback - state.start > REANCHOR_AFTER or now + self.horizon > state.end

    def read_changes(self, token: str | None) -> ChangeSet:
        now = self.clock()
        state = SyncState.decode(token) if token else None
        if state is not None and self._stale(state, now):
            log.info("outlook.reanchor", calendar=self.name, old_start=iso_utc(state.start))
            state = None
        if state is not None and state.mode is SyncMode.VIEW:
            return self._view_round(state.start, state.end, state.keys)
        if state is not None and state.link:
            try:
                return self._delta_round(state, full=False)
            except SyncExpired:
                log.info("outlook.delta_expired", calendar=self.name)
        start, end = self._window(now)
        fresh = SyncState(start, end)
        try:
            try:
                return self._delta_round(fresh, full=True)
            except SyncExpired:
                return self._delta_round(fresh, full=True)
        except DeltaUnsupported:
            log.info("outlook.delta_unsupported", calendar=self.name)
            return self._view_round(start, end, None)

    def _pages(self, first: str, params: dict[str, str] | None, kind: str) -> Iterator[EventsPage]:
        """Follow ``@odata.nextLink`` from ``first``; yields each page's JSON."""
        url: str | None = first
        while url is not None:
            resp = self.client.request("GET", url, kind=kind, params=params, headers={"Prefer": self.client.prefer()})
            params = None
            if resp.status_code != 200:
                code, _ = error_code(resp)
                if kind == "delta" and (resp.status_code == 410 or code.lower() in _SYNC_EXPIRED_CODES):
                    raise SyncExpired(code)
                raise self.client.error(resp, kind)
            page = cast("EventsPage", self.client.json_or_raise(resp, kind))
            yield page
            nxt = page.get("@odata.nextLink")
            url = str(nxt) if nxt else None

    def _delta_round(self, state: SyncState, full: bool) -> ChangeSet:
        if full:
            first = f"{self.base}/calendarView/delta" if self.calendar_id else "/me/calendarView/delta"
            params: dict[str, str] | None = {"startDateTime": iso_utc(state.start), "endDateTime": iso_utc(state.end)}
        else:
            first, params = state.link, None
        changes: dict[str, GraphEvent | None] = {}
        link = ""
        pages = self._pages(first, params, "delta")
        try:
            for page in pages:
                for doc in page.get("value", []):
                    if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                        changes.pop(doc["id"], None)
                        changes[doc["id"]] = None if is_removed(doc) else doc
                if page.get("@odata.deltaLink"):
                    link = str(page["@odata.deltaLink"])
        except GraphError as exc:
            if full and self.calendar_id and _unsupported(exc):
                raise DeltaUnsupported(str(exc)) from None
            raise
        if not link:
            raise ProviderError(f"{self.name}: Graph delta round ended without a deltaLink")
        upserts, removed = self._sort_changes(changes, state, full)
        new_state = SyncState(state.start, state.end, SyncMode.DELTA, link)
        return ChangeSet(full=full, upserts=upserts, removed=removed, token=new_state.encode())

    def _sort_changes(
        self, changes: dict[str, GraphEvent | None], state: SyncState, full: bool
    ) -> tuple[list[Event], list[str]]:
        """Map docs to events; outside the window or unreadable → removed (incremental) or dropped (full)."""
        events: list[Event] = []
        removed: list[str] = []
        for uid, doc in changes.items():
            if doc is None or str(doc.get("type") or "") == "seriesMaster":
                if doc is None and not full:
                    removed.append(uid)
                continue
            try:
                ev = to_event(self.name, doc, self.zone)
            except BadEvent as exc:
                log.warning("outlook.bad_event", calendar=self.name, uid=uid, problem=str(exc))
                if not full:
                    removed.append(uid)
                continue
            if not state.holds(ev):
                if not full:
                    removed.append(uid)
                continue
            events.append(ev)
        events = [self._remembered(e) for e in events]
        if any(e.tag is None for e in events):
            events = self._with_tags(events)
        events.sort(key=lambda e: (e.start, e.uid))
        return events, removed

    def _remembered(self, ev: Event) -> Event:
        known = self._written.get(ev.uid)
        if ev.tag is None and known is not None and _etag_core(known[0]) == _etag_core(ev.etag):
            return _with_tag(ev, known[1])
        return ev

    def _remember(self, ev: Event) -> Event:
        if ev.tag is not None and ev.etag:
            self._written[ev.uid] = (ev.etag, ev.tag)
        return ev

    def _with_tags(self, events: list[Event]) -> list[Event]:
        """Attach ownership tags from one filtered listing of owned events (delta cannot expand them)."""
        tags = {e.uid: e.tag for e in self._owned_docs()}
        out: list[Event] = []
        for ev in events:
            tag = tags.get(ev.uid)
            out.append(ev if tag is None or ev.tag is not None else _with_tag(ev, tag))
        return out

    def _view_round(self, start: datetime, end: datetime, known: dict[str, str] | None) -> ChangeSet:
        """Windowed ``calendarView`` listing; changes found by comparing changeKeys with the token's."""
        params = {
            "startDateTime": iso_utc(start),
            "endDateTime": iso_utc(end),
            "$expand": expand_tag(),
        }
        seen: dict[str, Event] = {}
        keys: dict[str, str] = {}
        for page in self._pages(f"{self.base}/calendarView", params, "view"):
            for doc in page.get("value", []):
                if not isinstance(doc, dict) or is_removed(doc) or doc.get("type") == "seriesMaster":
                    continue
                try:
                    ev = to_event(self.name, doc, self.zone)
                except BadEvent as exc:
                    log.warning("outlook.bad_event", calendar=self.name, uid=doc.get("id"), problem=str(exc))
                    continue
                seen[ev.uid] = ev
                keys[ev.uid] = str(doc.get("changeKey") or ev.etag)
        state = SyncState(start, end, SyncMode.VIEW, keys=keys)
        if known is None:
            ups = sorted(seen.values(), key=lambda e: (e.start, e.uid))
            return ChangeSet(full=True, upserts=ups, token=state.encode())
        changed = [e for uid, e in seen.items() if known.get(uid) != keys[uid]]
        gone = sorted(uid for uid in known if uid not in seen)
        return ChangeSet(
            full=False, upserts=sorted(changed, key=lambda e: (e.start, e.uid)), removed=gone, token=state.encode()
        )

    def _owned_docs(self, key: str | None = None) -> list[Event]:
        flt = filter_by(KEY_ID, key_value(key)) if key is not None else filter_by(OWNER_ID, OWNER_VALUE)
        params = {"$filter": flt, "$expand": expand_tag()}
        out: list[Event] = []
        for page in self._pages(f"{self.base}/events", params, "list_owned"):
            for doc in page.get("value", []):
                if not isinstance(doc, dict) or is_removed(doc):
                    continue
                tag = read_tag(doc)
                if tag is None:
                    continue
                try:
                    out.append(to_event(self.name, doc, self.zone, tag))
                except BadEvent as exc:
                    log.warning("outlook.bad_event", calendar=self.name, uid=doc.get("id"), problem=str(exc))
        return out

    def list_owned(self) -> list[Event]:
        return sorted(self._owned_docs(), key=lambda e: e.uid)

    # -- writing -------------------------------------------------------------
    def _check_writable(self) -> None:
        if not self.writable:
            raise NotOwned(f"calendar {self.name!r} is read-only for idealweek (no blocks/focus/mirror role)")

    def _item(self, uid: str) -> str:
        return f"{self.base}/events/{quote(uid, safe='')}"

    def create(self, desired: DesiredEvent) -> Event:
        self._check_writable()
        existing = self._owned_docs(desired.key)
        if existing:
            raise AlreadyExists(f"{self.name}: an event for {desired.key!r} exists already ({existing[0].uid})")
        body = create_body(desired, self.calendar_id or "primary")
        resp = self.client.request("POST", f"{self.base}/events", kind="create", write=True, body=body)
        doc = cast("GraphEvent", self.client.json_or_raise(resp, "create"))
        ev = self._remember(to_event(self.name, doc, self.zone, desired.tag))
        log.debug("outlook.created", calendar=self.name, key=desired.key, uid=ev.uid)
        return ev

    def _fresh(self, existing: Event) -> GraphEvent | None:
        resp = self.client.request(
            "GET",
            self._item(existing.uid),
            kind="get",
            params={"$expand": expand_tag()},
            headers={"Prefer": self.client.prefer(page=False)},
        )
        if resp.status_code == 404:
            return None
        return cast("GraphEvent", self.client.json_or_raise(resp, "get"))

    def _current_owned(self, existing: Event) -> GraphEvent | None:
        doc = self._fresh(existing)
        if doc is None:
            return None
        if read_tag(doc) is None:
            raise NotOwned(f"{self.name}: event {existing.uid} is not idealweek's; it is left alone")
        if has_guests(doc):
            # Last line of SPEC §6.10: on Graph a PATCH or DELETE of a meeting mails its attendees.
            log.warning(
                "outlook.refused_meeting",
                calendar=self.name,
                uid=existing.uid,
                why="the event now has attendees (or another organizer): changing or deleting it would mail them",
            )
            raise NotOwned(f"{self.name}: event {existing.uid} has attendees now; it is the user's and left alone")
        if existing.etag and _etag_core(str(doc.get("@odata.etag") or doc.get("changeKey") or "")) != _etag_core(
            existing.etag
        ):
            raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read")
        return doc

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        self._check_writable()
        doc = self._current_owned(existing)
        if doc is None:
            raise NotFound(f"{self.name}: event {existing.uid} is gone")
        etag = existing.etag or str(doc.get("@odata.etag") or "")
        headers = {"If-Match": etag} if etag else {}
        resp = self.client.request(
            "PATCH", self._item(existing.uid), kind="update", write=True, body=update_body(desired), headers=headers
        )
        if resp.status_code == 412:
            after = self._fresh(existing)
            if after is not None and _matches(self.name, after, desired, self.zone):
                return self._remember(to_event(self.name, after, self.zone, desired.tag))  # our retried PATCH landed
            raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read")
        if resp.status_code == 404:
            raise NotFound(f"{self.name}: event {existing.uid} is gone")
        out = cast("GraphEvent", self.client.json_or_raise(resp, "update"))
        return self._remember(to_event(self.name, out, self.zone, desired.tag))

    def delete(self, existing: Event) -> None:
        self._check_writable()
        doc = self._current_owned(existing)
        if doc is None:
            return
        etag = existing.etag or str(doc.get("@odata.etag") or "")
        headers = {"If-Match": etag} if etag else {}
        resp = self.client.request("DELETE", self._item(existing.uid), kind="delete", write=True, headers=headers)
        if resp.status_code in (200, 204, 404):
            self._written.pop(existing.uid, None)
            log.debug("outlook.deleted", calendar=self.name, uid=existing.uid)
            return
        if resp.status_code == 412:
            raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read")
        raise self.client.error(resp, "delete")

    def close(self) -> None:
        self.client.close()


def _with_tag(ev: Event, tag: OwnedTag | None) -> Event:
    return dataclasses.replace(ev, tag=tag)


def _etag_core(etag: str) -> str:
    """``W/"abc"`` / ``"abc"`` / ``abc`` → ``abc``."""
    e = etag.strip()
    if e.startswith("W/"):
        e = e[2:]
    return e.strip('"')


def _matches(calendar: str, doc: GraphEvent, desired: DesiredEvent, zone: tzinfo) -> bool:
    try:
        ev = to_event(calendar, doc, zone)
    except BadEvent:
        return False
    return ev.start == desired.start and ev.end == desired.end and ev.tag == desired.tag


def _unsupported(exc: GraphError) -> bool:
    """The service's way of saying "no delta on this calendar" (not: "no such calendar")."""
    return exc.status in (400, 405, 501) or (exc.status == 404 and exc.code.lower() not in _NOT_FOUND_CODES)


__all__ = ["Clock", "OutlookProvider", "SyncState"]
