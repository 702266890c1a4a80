"""The CalDAV provider: incremental reads by ``sync-collection``, conditional writes.

Reading (one calendar collection):

* **incremental** — RFC 6578 ``sync-collection`` with the stored token
  (``Calendar.get_objects_by_sync_token``, no fallback): one REPORT when
  nothing changed; changed members are then fetched with one
  ``calendar-multiget`` per 200 hrefs.  Removed members come back as hrefs and
  are reported by resource name (see :mod:`.mapping`).  A changed member is
  also reported as removed when it does not map to exactly one event of its
  own name, so occurrences a recurring series lost disappear too.  Resources
  this process wrote since its last read are fetched along (a server may
  leave out a member created and deleted since the token — Xandikos does, as
  RFC 6578 allows); the ones gone are reported removed.  A process that wrote
  and exited cannot do that: the next daily full read finds such an event.
* **full** — the same REPORT without a token (every member and a fresh token),
  then multigets.  Done with no token, once a day (occurrences of recurring
  events move into the window as time passes; hourly when the profile calls
  the server's tokens fragile), and whenever the server refuses the token: a
  403/412 ``valid-sync-token`` (Radicale, Xandikos), Nextcloud's old ``418``,
  or any other failed REPORT.
* **no sync-collection** (the profile says so, or the token-less REPORT
  fails): the library's fallback — a full ``calendar-query`` with an ETag
  digest as the token; an unchanged digest is an empty change set.
* The collection's own href (iCloud lists it) and sub-collections are ignored.

Writing is :mod:`.writes`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import structlog

from idealweek.errors import ProviderError
from idealweek.model import Event
from idealweek.providers.base import ChangeSet
from idealweek.providers.caldav.client import DavFailure, DavSession, sync_result
from idealweek.providers.caldav.mapping import (
    events_of_resource,
    is_collection_href,
    resource_name,
)
from idealweek.providers.caldav.writes import CalDavWrites
from idealweek.providers.ics import Window, default_window, system_clock

if TYPE_CHECKING:
    from caldav.calendarobjectresource import CalendarObjectResource
    from caldav.collection import Calendar
    from caldav.lib.url import URL
    from caldav.response import DAVResponse

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "caldav1:"
MULTIGET_CHUNK = 200
FULL_EVERY = timedelta(days=1)
FULL_EVERY_FRAGILE = timedelta(hours=1)
ANY_TIME = (datetime(1971, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
"""The window for reading back one owned event by name."""
FALLBACK = "fake-"
"""The library's prefix for its ETag-digest token (servers without sync-collection)."""


class _Features(Protocol):
    """The part of caldav's ``FeatureSet`` (the server profile) read here; the library leaves it unannotated."""

    def is_supported(self, feature: str, return_type: type[dict[str, object]]) -> dict[str, object] | None: ...


def encode_token(sync: str, full_at: datetime) -> str:
    doc = {"v": 1, "s": sync, "f": int(full_at.timestamp())}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(text: str | None) -> tuple[str, int] | None:
    """(server sync token, time of the last full read); ``None`` for a missing or foreign token."""
    if not text or not text.startswith(TOKEN_PREFIX):
        return None
    body = text[len(TOKEN_PREFIX) :]
    try:
        doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if doc.get("v") != 1 or not isinstance(doc.get("s"), str):
            return None
        return str(doc["s"]), int(doc["f"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class CalDavProvider(CalDavWrites):
    """One calendar collection on a CalDAV server."""

    def __init__(
        self,
        name: str,
        session: DavSession,
        calendar_id: str,
        *,
        writable: bool = True,
        zone: ZoneInfo | None = None,
        window: Window | None = None,
        clock: Callable[[], datetime] = system_clock,
        addresses: frozenset[str] = frozenset(),
    ) -> None:
        self.name = name
        self.session = session
        self.calendar_id = calendar_id
        self.writable = writable
        self.zone = zone or ZoneInfo("UTC")
        self.window = window
        self.clock = clock
        self.addresses = addresses
        self.requests = session.counter
        self._calendar: Calendar | None = None
        self._written: set[str] = set()
        """Resources this process created or updated since its last read (see :meth:`_sync`)."""
        self._log = log.bind(calendar=name)

    # -- the collection ------------------------------------------------------------------
    @property
    def calendar(self) -> Calendar:
        if self._calendar is None:
            self._calendar = self._resolve()
        return self._calendar

    def _resolve(self) -> Calendar:
        """The collection named by ``calendar_id``: a URL path (no request) or a display name (discovery)."""
        from caldav.collection import Calendar  # what the (unannotated) DAVClient.calendar(url=...) returns

        client = self.session.client
        cid = self.calendar_id.strip()
        if cid.startswith(("/", "http://", "https://")):
            url = client.url.join(cid)
            if not str(url).endswith("/"):
                url = client.url.join(str(url) + "/")  # Fastmail (and others): collections end with a slash
            if urlsplit(str(url)).netloc != urlsplit(str(client.url)).netloc:
                raise ProviderError(f"{self.name}: calendar {cid!r} is not on the account's server {client.url}")
            return Calendar(client=client, url=str(url))
        for cal in list_collections(self.session):
            if cal[1].casefold() == cid.casefold():
                return Calendar(client=client, url=cal[0])
        names = ", ".join(sorted(c[1] for c in list_collections(self.session))) or "none"
        raise ProviderError(
            f"{self.name}: no calendar named {cid!r} on {client.url}; calendars: {names} "
            "(`idealweek calendars ACCOUNT` lists their ids)"
        )

    def _collection_url(self) -> URL:
        url = self.calendar.url
        assert url is not None  # the collection is always built with a URL (see _resolve)
        return url

    def _url_of(self, name: str) -> str:
        return str(self._collection_url().join(quote(name, safe="@:+")))

    def _window(self) -> Window:
        return self.window if self.window is not None else default_window(self.clock())

    def _sync_token_support(self) -> dict[str, object] | None:
        """The profile's ``sync-token`` entry, such as ``{"support": "fragile"}``."""
        features: _Features | None = self.session.client.features
        assert features is not None  # DAVClient always builds its FeatureSet
        return features.is_supported("sync-token", return_type=dict)

    def _fragile(self) -> bool:
        support = self._sync_token_support()
        return support is not None and support.get("support") == "fragile"

    def _no_sync(self) -> bool:
        support = self._sync_token_support()
        return support is not None and support.get("support") == "unsupported"

    # -- reading ---------------------------------------------------------------------------
    def read_changes(self, token: str | None) -> ChangeSet:
        now = self.clock()
        state = decode_token(token)
        if state is not None:
            sync, full_at = state
            every = FULL_EVERY_FRAGILE if self._fragile() else FULL_EVERY
            due = now.timestamp() - full_at >= every.total_seconds()
            if due:
                self._log.debug("caldav daily full read (sync-collection is tried again)")
            elif sync.startswith(FALLBACK):
                return self._fallback(sync, now, full_at)
            else:
                try:
                    return self._sync(sync, now, full_at)
                except DavFailure as exc:
                    self._log.info("caldav sync token refused, reading the calendar fully", error=_short(exc))
        if self._no_sync():
            return self._fallback(None, now, int(now.timestamp()))
        try:
            return self._sync(None, now, int(now.timestamp()))
        except DavFailure as exc:
            self._log.info("caldav sync-collection unavailable, using full listings", error=_short(exc))
            return self._fallback(None, now, int(now.timestamp()))

    def _sync(self, sync: str | None, now: datetime, full_at: int) -> ChangeSet:
        """One sync-collection read (incremental with ``sync``, else full)."""
        cal = self.calendar
        result = self.session.call(
            "sync-collection",
            lambda: sync_result(cal.get_objects_by_sync_token(sync, load_objects=False, disable_fallback=True)),
        )
        new_token = result.sync_token
        if not new_token or not isinstance(new_token, str):
            raise ProviderError(f"{self.name}: the server answered sync-collection without a sync token")
        collection = urlsplit(str(cal.url)).path
        deleted = {str(u) for u in getattr(result, "deleted_urls", ()) or ()}
        changed: dict[str, str] = {}
        removed: set[str] = set()
        for obj in result:
            href = str(obj.url)
            if is_collection_href(href, collection):
                continue
            if href in deleted or str(obj.url.canonical()) in deleted:
                removed.add(resource_name(href))
            else:
                changed[resource_name(href)] = href
        if sync is not None:
            # Our own writes since the last read: a server may leave out a member created and deleted
            # since the token (Xandikos does; RFC 6578 allows it), so they are fetched with the changes
            # and the ones that are gone are reported removed.
            for name in sorted(self._written - set(changed) - removed):
                changed[name] = self._url_of(name)
        self._written.clear()
        upserts, fetched = self._fetch(changed.values())
        for name in changed:
            got = fetched.get(name)
            if got is None:
                removed.add(name)  # gone between the REPORT and the multiget
            elif sync is not None and [e.uid for e in got] != [name]:
                removed.add(name)  # a series that changed: its old occurrences go, the new ones come back
        token = encode_token(new_token, datetime.fromtimestamp(full_at, now.tzinfo))
        if sync is None:
            return ChangeSet(full=True, upserts=upserts, token=token)
        return ChangeSet(full=False, upserts=upserts, removed=sorted(removed), token=token)

    def _fetch(self, hrefs: Iterable[str]) -> tuple[list[Event], dict[str, list[Event]]]:
        """Data and ETags of members by ``calendar-multiget``: (events, resource name → its events)."""
        cal = self.calendar
        base = self._collection_url()
        todo = list(hrefs)
        events: list[Event] = []
        by_name: dict[str, list[Event]] = {}
        for i in range(0, len(todo), MULTIGET_CHUNK):
            chunk = [base.join(h) for h in todo[i : i + MULTIGET_CHUNK]]

            def multiget(chunk: list[URL] = chunk) -> list[CalendarObjectResource]:
                return sync_result(cal.multiget(chunk))

            objects = self.session.call("calendar-multiget", multiget)
            for obj in objects:
                name = resource_name(str(obj.url))
                evs = self._parse(name, obj)
                by_name[name] = evs
                events += evs
        return events, by_name

    def _parse(self, name: str, obj: CalendarObjectResource) -> list[Event]:
        from caldav.elements import dav

        data = obj.data
        if not data:
            return []
        etag = str((getattr(obj, "props", None) or {}).get(dav.GetEtag.tag, ""))
        try:
            return events_of_resource(
                name,
                str(data),
                etag,
                calendar=self.name,
                zone=self.zone,
                window=self._window(),
                source=f"{self.name}:{name}",
                addresses=self.addresses,
            )
        except ProviderError as exc:
            self._log.warning("caldav.object_skipped", resource=name, reason=str(exc))
            return []

    def _fallback(self, sync: str | None, now: datetime, full_at: int) -> ChangeSet:
        """The library's full listing with an ETag-digest token (servers without sync-collection)."""
        cal = self.calendar
        result = self.session.call(
            "calendar-query",
            lambda: sync_result(cal.get_objects_by_sync_token(sync or FALLBACK, load_objects=True)),
        )
        token = encode_token(str(result.sync_token), datetime.fromtimestamp(full_at, now.tzinfo))
        objects = list(result)
        if sync is not None and not objects:
            return ChangeSet(full=False, token=token)
        collection = urlsplit(str(cal.url)).path
        upserts: list[Event] = []
        for obj in objects:
            href = str(obj.url)
            if not is_collection_href(href, collection):
                upserts += self._parse(resource_name(href), obj)
        return ChangeSet(full=True, upserts=upserts, token=token)

    def list_owned(self) -> list[Event]:
        events = self.read_changes(None).upserts
        return sorted((e for e in events if e.tag is not None), key=lambda e: e.uid)

    def get(self, name: str) -> Event | None:
        """The owned event stored as ``name`` now (``None`` when gone), with its ETag."""
        got = self._get(name)
        if got is None:
            return None
        data, etag = got
        evs = events_of_resource(
            name,
            data,
            etag,
            calendar=self.name,
            zone=self.zone,
            window=ANY_TIME,
            source=f"{self.name}:{name}",
            addresses=self.addresses,
        )
        return evs[0] if len(evs) == 1 else None

    def _get(self, name: str) -> tuple[str, str] | None:
        response = self.session.request("GET", self._url_of(name), "GET", headers={"Accept": "text/calendar"})
        if response.status in (404, 410):
            return None
        if response.status >= 300:
            raise ProviderError(f"{self.name}: GET {name} answered {response.status}")
        return _body(response), str(response.headers.get("ETag", ""))

    def close(self) -> None:
        self.session.close()


def list_collections(session: DavSession) -> list[tuple[str, str]]:
    """(URL, display name) of every calendar collection of the signed-in user."""
    client = session.client

    def calendars() -> list[Calendar]:
        return list(sync_result(client.get_principal().calendars()))

    out: list[tuple[str, str]] = []
    for cal in session.call("calendar list", calendars):
        name = session.call("calendar name", cal.get_display_name) or resource_name(str(cal.url))
        out.append((str(cal.url), str(name)))
    return out


def _body(response: DAVResponse) -> str:
    raw = getattr(response, "_raw", b"")
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return str(raw or "")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


__all__ = ["CalDavProvider", "decode_token", "encode_token", "list_collections"]
