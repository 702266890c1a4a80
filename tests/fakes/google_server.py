"""A strict fake of Google Calendar API v3 and Google's OAuth endpoints, over real HTTP on loopback.

It behaves like the real service in the ways SPEC §5 lists, so the real
``googleapiclient`` / ``google-auth`` / ``google-auth-oauthlib`` can talk to it:

* ``calendarList.list``, ``events.list/get/insert/patch/update/delete``;
* ``syncToken`` refused together with ``timeMin``, ``timeMax``, ``orderBy``,
  ``q``, ``updatedMin``, ``iCalUID``, ``privateExtendedProperty`` (400); the
  same ``syncToken`` must be repeated with every ``pageToken``; small pages,
  optionally empty ones that still carry ``nextPageToken``; ``nextSyncToken``
  only on the last page; sync tokens expirable on demand (410
  ``fullSyncRequired``); deleted events come back as ``status: cancelled``
  (only ``id`` for single events);
* client-supplied ids checked (base32hex, 5–1024 chars); ``409 duplicate`` for
  a reused id, also of a deleted event; etags and ``If-Match`` (412); deleting
  a deleted event → 410;
* request bodies validated against the Event schema of the discovery document
  shipped with ``googleapiclient`` (unknown field → 400);
* ``extendedProperties``: keys over 44 chars silently dropped, values over
  1024 chars silently truncated; ``update`` drops what is not sent, ``patch``
  keeps it;
* bearer tokens checked (401 when expired or unknown), scopes checked (403);
* OAuth: ``/o/oauth2/auth`` (redirects to the loopback ``redirect_uri`` with a
  code, PKCE checked) and ``/token`` (authorization_code, refresh_token;
  ``invalid_grant`` when revoked).

Fault knobs: :meth:`GoogleFake.fail` (429 with or without ``Retry-After``, 403
rate limits, 500/503), :meth:`GoogleFake.drop_connection` (before or after the
request is processed), ``latency``.  Back-door methods ``user_*`` act as the
user on the calendar.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import googleapiclient

_DOC_PATH = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents", "calendar.v3.json")
with open(_DOC_PATH, encoding="utf-8") as _fh:
    DISCOVERY: dict[str, Any] = json.load(_fh)
SCHEMAS: dict[str, Any] = DISCOVERY["schemas"]
STANDARD_PARAMS = frozenset(DISCOVERY["parameters"]) | {"$.xgafv", "access_token", "callback", "uploadType"}
METHODS: dict[str, Any] = {
    **{f"events.{k}": v for k, v in DISCOVERY["resources"]["events"]["methods"].items()},
    **{f"calendarList.{k}": v for k, v in DISCOVERY["resources"]["calendarList"]["methods"].items()},
    **{f"freebusy.{k}": v for k, v in DISCOVERY["resources"]["freebusy"]["methods"].items()},
}
AUTO_DECLINE_MODES = frozenset(
    {"declineNone", "declineAllConflictingInvitations", "declineOnlyNewConflictingInvitations"}
)
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_SPAN = timedelta(days=90)
"""Google answers ``timeRangeTooLong`` past about three months."""

SYNC_FORBIDDEN = frozenset(
    {"timeMin", "timeMax", "orderBy", "q", "updatedMin", "iCalUID", "privateExtendedProperty", "sharedExtendedProperty"}
)
BASE32HEX = frozenset("0123456789abcdefghijklmnopqrstuv")
EVENT_TYPES = frozenset({"default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"})
CLIENT_ID = "fake-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret"
DEFAULT_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
)
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "GONE",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiFailure(Exception):
    """An error response in Google's format."""

    def __init__(
        self, status: int, reason: str, message: str, domain: str = "global", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.status,
            "message": self.message,
            "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
        }
        if self.status in STATUS_NAMES:
            error["status"] = STATUS_NAMES[self.status]
        return {"error": error}


def bad_request(message: str, reason: str = "badRequest") -> ApiFailure:
    return ApiFailure(400, reason, message)


@dataclass
class Fault:
    """One injected fault, matched against the next API requests."""

    status: int = 0
    reason: str = ""
    retry_after: str | None = None
    drop: bool = False
    after: bool = False
    """With ``drop``: process the request first, then drop the connection (the response is lost)."""
    delay: float = 0.0
    raw: bytes | None = None
    """Answer with this body instead (``status`` or 200, ``content_type``): HTML error pages, broken JSON."""
    content_type: str = "application/json; charset=UTF-8"
    method: str | None = None
    path: str | None = None
    """Substring of the request path this fault applies to."""
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path in path)


@dataclass
class Recorded:
    """One request the fake received (for assertions)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class FakeCalendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    access_role: str = "owner"
    primary: bool = False
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    """All events ever created here, deleted ones included (``status: cancelled``)."""
    changed: dict[str, int] = field(default_factory=dict)
    """Event id → sequence number of its last change."""
    generation: int = 0
    """Bumped to expire every sync token of this calendar."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass
class _Snapshot:
    pages: list[list[str]]
    """Each page's items, encoded as JSON when the listing started (a consistent snapshot)."""
    sync_token: str | None
    signature: str
    next_sync_token: str
    calendar: FakeCalendar


@dataclass
class _RawPage:
    """An events.list page whose items are already JSON text."""

    page: dict[str, Any]
    items: list[str]

    def encode(self) -> bytes:
        head = json.dumps(self.page)[:-1]
        return f'{head}, "items": [{",".join(self.items)}]}}'.encode()


def _json_object(headers: Message, raw: bytes) -> dict[str, Any]:
    ctype = headers.get("Content-Type", "")
    if "json" not in ctype.lower():
        raise bad_request(f"Unsupported content type {ctype!r}")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise bad_request("Parse Error", "parseError") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON payload: expected an object", "parseError")
    return body


def _parse_rfc3339(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Bad Request: invalid date-time {text!r}", "badRequest") from None
    if value.tzinfo is None:
        raise bad_request(f"Bad Request: date-time without offset {text!r}", "badRequest")
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def validate(value: Any, schema: Mapping[str, Any], where: str) -> None:
    """Validate ``value`` against a discovery-document schema (unknown fields → 400)."""
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"]]
    if value is None:
        return  # JSON null: "clear this field" in a patch
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            raise bad_request(f"Invalid value at '{where}': expected an object")
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{where}.{key}")
            elif extra is not None:
                validate(item, extra, f"{where}.{key}")
            else:
                raise bad_request(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
                )
    elif kind == "array":
        if not isinstance(value, list):
            raise bad_request(f"Invalid value at '{where}': expected a list")
        for i, item in enumerate(value):
            validate(item, schema.get("items") or {}, f"{where}[{i}]")
    elif kind == "string":
        if schema.get("format") == "int64" and isinstance(value, int) and not isinstance(value, bool):
            return
        if not isinstance(value, str):
            raise bad_request(f"Invalid value at '{where}' (TYPE_STRING), {json.dumps(value)}")
        fmt = schema.get("format")
        try:
            if fmt == "date-time":
                datetime.fromisoformat(value)
            elif fmt == "date":
                date.fromisoformat(value)
        except ValueError:
            raise bad_request(f"Invalid value at '{where}': bad {fmt} {value!r}", "invalid") from None
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise bad_request(f"Invalid value at '{where}' (TYPE_BOOL), {json.dumps(value)}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"Invalid value at '{where}' (TYPE_INT32), {json.dumps(value)}")
    elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise bad_request(f"Invalid value at '{where}' (TYPE_DOUBLE), {json.dumps(value)}")


def _when(value: Mapping[str, Any], zone: ZoneInfo) -> datetime:
    if value.get("dateTime"):
        dt = datetime.fromisoformat(str(value["dateTime"]))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=ZoneInfo(str(value["timeZone"])))
        return dt
    d = date.fromisoformat(str(value["date"]))
    return datetime(d.year, d.month, d.day, tzinfo=zone)


def _check_when(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise bad_request(f"Missing {name} time.", "required")
    has_date, has_dt = bool(value.get("date")), bool(value.get("dateTime"))
    if has_date == has_dt:
        raise bad_request(f"Invalid {name} time: exactly one of date and dateTime is needed.", "invalid")
    tz = value.get("timeZone")
    if tz:
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise bad_request(f"Invalid time zone definition for {name} time.", "invalid") from None
    if has_dt:
        dt = datetime.fromisoformat(str(value["dateTime"]))
        if dt.tzinfo is None and not tz:
            raise bad_request(f"Missing time zone definition for {name} time.", "missingTimeZone")  # Google's wording


def _merge(target: dict[str, Any], patch: Mapping[str, Any], depth: int = 0) -> None:
    """Patch semantics: objects merge (``start``/``end`` are replaced), lists replace, null clears."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(target.get(key), dict)
            and not (depth == 0 and key in ("start", "end"))
        ):
            _merge(target[key], value, depth + 1)
        else:
            target[key] = copy.deepcopy(value)


class GoogleFake:
    """The fake service.  Use as a context manager; ``api_root`` goes into the account config."""

    def __init__(
        self,
        *,
        page_size: int = 250,
        empty_pages: bool = False,
        latency: float = 0.0,
        token_lifetime: float = 3600.0,
        primary: str = "user@example.com",
        time_zone: str = "Europe/Berlin",
        workspace: bool = True,
    ) -> None:
        self.workspace = workspace
        """A Workspace account: out-of-office events are allowed (on the primary calendar only); a consumer
        account (``False``) is refused them."""
        self.page_size = page_size
        """Largest page the server returns, whatever maxResults asks for."""
        self.empty_pages = empty_pages
        """Insert empty pages (with nextPageToken) at the start and between pages."""
        self.latency = latency
        self.token_lifetime = token_lifetime
        self.lock = threading.RLock()
        self.calendars: dict[str, FakeCalendar] = {}
        self.primary_id = primary
        self.add_calendar(primary, primary, primary=True, time_zone=time_zone)
        self.clients: dict[str, str] = {CLIENT_ID: CLIENT_SECRET}
        self.access_tokens: dict[str, tuple[float, frozenset[str], str]] = {}
        """token → (expires at, scopes, refresh token it came from)."""
        self.refresh_tokens: dict[str, tuple[str, frozenset[str]]] = {}
        self.revoked: set[str] = set()
        self.codes: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.log: list[Recorded] = []
        self.mails = 0
        """Invitations the service would have mailed (must stay 0)."""
        self.refreshes = 0
        self.deny_consent = False
        self.hook: Any = None
        """``hook(method, path, phase)`` with phase ``"before"`` (request received, not yet acted on) or
        ``"after"`` (acted on, answer not yet sent); runs on the server thread and may block."""
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> GoogleFake:
        handler = type("GoogleFakeHandler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GoogleFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/calendar/v3/"

    @property
    def auth_uri(self) -> str:
        return f"{self.base_url}/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def client_secrets(self) -> dict[str, Any]:
        """The contents of a Desktop-app OAuth client file pointing at this fake."""
        return {
            "installed": {
                "client_id": CLIENT_ID,
                "project_id": "idealweek-fake",
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": ["http://localhost"],
            }
        }

    # -- tokens (back door) -----------------------------------------------------
    def issue_token(self, scopes: tuple[str, ...] = DEFAULT_SCOPES, lifetime: float | None = None) -> str:
        """A signed-in user's authorised-user JSON, as idealweek stores it."""
        with self.lock:
            refresh = "1//fake-refresh-" + secrets.token_hex(8)
            self.refresh_tokens[refresh] = (CLIENT_ID, frozenset(scopes))
            access, expires = self._new_access(refresh, frozenset(scopes), lifetime)
        return json.dumps(
            {
                "token": access,
                "refresh_token": refresh,
                "token_uri": self.token_uri,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scopes": list(scopes),
                "expiry": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )

    def _new_access(self, refresh: str, scopes: frozenset[str], lifetime: float | None = None) -> tuple[str, float]:
        access = "ya29.fake-" + secrets.token_hex(12)
        expires = time.time() + (self.token_lifetime if lifetime is None else lifetime)
        self.access_tokens[access] = (expires, scopes, refresh)
        return access, expires

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (401); refresh tokens still work."""
        with self.lock:
            self.access_tokens = {k: (0.0, s, r) for k, (_, s, r) in self.access_tokens.items()}

    def revoke_refresh_tokens(self) -> None:
        """The user revoked access (or a Testing-status app's 7 days passed): refresh → invalid_grant."""
        with self.lock:
            self.revoked.update(self.refresh_tokens)
            self.expire_access_tokens()

    # -- faults ---------------------------------------------------------------------
    def fail(
        self,
        status: int,
        *,
        reason: str = "",
        retry_after: str | None = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``times`` matching API requests fail with ``status``."""
        if not reason:
            reason = {429: "rateLimitExceeded", 403: "rateLimitExceeded", 500: "backendError", 503: "backendError"}.get(
                status, "error"
            )
        with self.lock:
            self.faults.append(Fault(status, reason, retry_after, method=method, path=path, times=times))

    def drop_connection(
        self, *, after: bool = False, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """The next ``times`` matching requests lose their connection (before or after being processed)."""
        with self.lock:
            self.faults.append(Fault(drop=True, after=after, method=method, path=path, times=times))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- calendars and events (back door) ---------------------------------------
    def add_calendar(
        self,
        cal_id: str,
        summary: str = "",
        *,
        primary: bool = False,
        time_zone: str = "Europe/Berlin",
        access_role: str = "owner",
    ) -> FakeCalendar:
        with self.lock:
            cal = FakeCalendar(cal_id, summary or cal_id, time_zone, access_role, primary)
            self.calendars[cal_id] = cal
            return cal

    def calendar(self, cal_id: str) -> FakeCalendar:
        cal_id = self.primary_id if cal_id == "primary" else cal_id
        try:
            return self.calendars[cal_id]
        except KeyError:
            raise ApiFailure(404, "notFound", "Not Found") from None

    def _touch(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        seq = next(self._seq)
        self._last_seq = seq
        event["etag"] = f'"{3180000000000000 + seq}"'
        event["updated"] = _rfc3339(datetime.now(UTC))
        cal.changed[event["id"]] = seq

    def _new_id(self) -> str:
        return "".join(secrets.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(26))

    def _base_event(self, cal: FakeCalendar, eid: str) -> dict[str, Any]:
        now = _rfc3339(datetime.now(UTC))
        return {
            "kind": "calendar#event",
            "id": eid,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": now,
            "creator": {"email": self.primary_id, "self": True},
            "organizer": {"email": cal.id, "self": True},
            "iCalUID": f"{eid}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }

    def user_add(
        self,
        cal_id: str,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        event_id: str | None = None,
        **fields: Any,
    ) -> str:
        """The user adds an event (aware datetimes, or dates for an all-day event); returns its id."""
        with self.lock:
            cal = self.calendar(cal_id)
            eid = event_id or self._new_id()
            event = self._base_event(cal, eid)
            event["summary"] = summary
            event["start"] = self._when_json(start, cal)
            event["end"] = self._when_json(end, cal)
            event.update(copy.deepcopy(fields))
            cal.events[eid] = event
            self._touch(cal, event)
            return eid

    def _when_json(self, value: datetime | date, cal: FakeCalendar) -> dict[str, str]:
        if isinstance(value, datetime):
            return {"dateTime": value.astimezone(cal.zone).isoformat(), "timeZone": cal.time_zone}
        return {"date": value.isoformat()}

    def user_add_series(
        self, cal_id: str, summary: str, starts: list[datetime], duration: timedelta, **fields: Any
    ) -> tuple[str, list[str]]:
        """The user adds a recurring event; returns (series id, instance ids) as singleEvents lists them."""
        series = self._new_id()
        ids = []
        for start in starts:
            stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            with self.lock:
                cal = self.calendar(cal_id)
                ids.append(
                    self.user_add(
                        cal_id,
                        summary,
                        start,
                        start + duration,
                        event_id=f"{series}_{stamp}",
                        recurringEventId=series,
                        originalStartTime=self._when_json(start, cal),
                        **fields,
                    )
                )
        return series, ids

    def user_update(self, cal_id: str, eid: str, **fields: Any) -> None:
        """The user edits fields of an event (patch semantics)."""
        with self.lock:
            cal = self.calendar(cal_id)
            event = cal.events[eid]
            _merge(event, fields)
            self._touch(cal, event)

    def user_move(self, cal_id: str, eid: str, start: datetime, end: datetime) -> None:
        cal = self.calendar(cal_id)
        self.user_update(cal_id, eid, start=self._when_json(start, cal), end=self._when_json(end, cal))

    def user_retitle(self, cal_id: str, eid: str, title: str) -> None:
        self.user_update(cal_id, eid, summary=title)

    def user_respond(self, cal_id: str, eid: str, response: str) -> None:
        """The user answers an invitation (their attendee entry has ``self: true``)."""
        with self.lock:
            cal = self.calendar(cal_id)
            event = cal.events[eid]
            for attendee in event.get("attendees", []):
                if attendee.get("self"):
                    attendee["responseStatus"] = response
            self._touch(cal, event)

    def user_delete(self, cal_id: str, eid: str) -> None:
        with self.lock:
            cal = self.calendar(cal_id)
            event = cal.events[eid]
            event["status"] = "cancelled"
            self._touch(cal, event)

    def expire_sync_tokens(self, cal_id: str | None = None) -> None:
        """Every sync token issued so far (for one calendar, or all) answers 410 fullSyncRequired."""
        with self.lock:
            for cal in self.calendars.values():
                if cal_id is None or cal.id == self.calendar(cal_id).id:
                    cal.generation += 1

    def event(self, cal_id: str, eid: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.calendar(cal_id).events.get(eid)
            return copy.deepcopy(found) if found else None

    def live_events(self, cal_id: str = "primary") -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(e) for e in self.calendar(cal_id).events.values() if e.get("status") != "cancelled"]

    def owned_events(self, cal_id: str = "primary") -> list[dict[str, Any]]:
        """Live events carrying idealweek's private tag."""
        return [
            e for e in self.live_events(cal_id) if "idealweek" in e.get("extendedProperties", {}).get("private", {})
        ]

    def requests_to(self, method: str, path_part: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.log if r.method == method and path_part in r.path]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    # -- HTTP dispatch -------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Message, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/calendar/v3/"):
            parts = [unquote(p) for p in path[len("/calendar/v3/") :].split("/")]
            return self._api(method, parts, query, headers, body)
        if path == "/o/oauth2/auth" and method == "GET":
            return self._authorize(query)
        if path == "/token" and method == "POST":
            return self._token(headers, body)
        raise ApiFailure(404, "notFound", f"No such endpoint: {method} {path}")

    def _api(
        self, method: str, parts: list[str], query: dict[str, list[str]], headers: Message, raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if parts == ["users", "me", "calendarList"] and method == "GET":
            name = "calendarList.list"
        elif parts == ["freeBusy"] and method == "POST":
            name = "freebusy.query"
        elif len(parts) == 3 and parts[0] == "calendars" and parts[2] == "events":
            name = {"GET": "events.list", "POST": "events.insert"}.get(method, "")
        elif len(parts) == 4 and parts[0] == "calendars" and parts[2] == "events":
            name = {
                "GET": "events.get",
                "PATCH": "events.patch",
                "PUT": "events.update",
                "DELETE": "events.delete",
            }.get(method, "")
        else:
            name = ""
        if not name:
            raise ApiFailure(404, "notFound", "Not Found")
        self._authorize_request(headers, METHODS[name].get("scopes", []))
        params = self._params(name, query)
        body: Any = None
        if name in ("events.insert", "events.patch", "events.update"):
            ctype = headers.get("Content-Type", "")
            if "json" not in ctype.lower():
                raise bad_request(f"Unsupported content type {ctype!r}")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise bad_request("Parse Error", "parseError") from None
            if not isinstance(body, dict):
                raise bad_request("Invalid JSON payload: expected an object", "parseError")
            validate(body, {"$ref": "Event"}, "resource")
            send = params.get("sendUpdates", "false")
            if send not in ("all", "externalOnly", "none", "false"):
                raise bad_request(f"Invalid value for sendUpdates: {send}", "invalid")
        if name == "freebusy.query":
            body = _json_object(headers, raw)
            validate(body, {"$ref": "FreeBusyRequest"}, "resource")
        with self.lock:
            if name == "calendarList.list":
                result: Any = self._calendar_list(params)
            elif name == "freebusy.query":
                result = self._freebusy(body)
            else:
                cal = self.calendar(parts[1])
                if name == "events.list":
                    result = self._list(cal, params)
                elif name == "events.insert":
                    result = self._insert(cal, body, params)
                else:
                    eid = parts[3]
                    if name == "events.get":
                        result = self._get(cal, eid)
                    elif name == "events.patch":
                        result = self._write(cal, eid, body, params, headers, replace=False)
                    elif name == "events.update":
                        result = self._write(cal, eid, body, params, headers, replace=True)
                    else:
                        self._delete(cal, eid, headers)
                        return 204, {}, b""
        payload = result.encode() if isinstance(result, _RawPage) else json.dumps(result).encode("utf-8")
        return 200, {"Content-Type": "application/json; charset=UTF-8"}, payload

    def _authorize_request(self, headers: Message, scopes: list[str]) -> None:
        value = headers.get("authorization") or ""
        scheme, _, token = value.partition(" ")
        info = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if info is None or info[0] <= time.time() or info[2] in self.revoked:
            raise ApiFailure(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
            )
        if scopes and not (info[1] & set(scopes)):
            raise ApiFailure(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    def _params(self, name: str, query: dict[str, list[str]]) -> dict[str, str]:
        spec = METHODS[name].get("parameters") or {}
        out: dict[str, str] = {}
        for key, values in query.items():
            if key in STANDARD_PARAMS:
                continue
            if key not in spec or spec[key].get("location") == "path":
                raise bad_request(f"Invalid parameter {key!r} for {name}", "invalidParameter")
            if len(values) > 1 and not spec[key].get("repeated"):
                raise bad_request(f"Parameter {key!r} given twice", "invalidParameter")
            value = values[-1] if not spec[key].get("repeated") else "\x00".join(values)
            kind = spec[key].get("type")
            if kind == "boolean" and value not in ("true", "false"):
                raise bad_request(f"Invalid boolean value for {key}: {value!r}", "invalidParameter")
            if kind == "integer":
                try:
                    int(value)
                except ValueError:
                    raise bad_request(f"Invalid integer value for {key}: {value!r}", "invalidParameter") from None
            out[key] = value
        return out

    # -- calendarList ------------------------------------------------------------------
    def _calendar_list(self, params: dict[str, str]) -> dict[str, Any]:
        items = [
            {
                "kind": "calendar#calendarListEntry",
                "etag": f'"{abs(hash(c.id)) % 10**12}"',
                "id": c.id,
                "summary": c.summary,
                "timeZone": c.time_zone,
                "accessRole": c.access_role,
                **({"primary": True} if c.primary else {}),
            }
            for c in self.calendars.values()
        ]
        size = min(int(params.get("maxResults", "100")), 250, max(1, self.page_size))
        start = int(params.get("pageToken", "0") or 0)
        page: dict[str, Any] = {"kind": "calendar#calendarList", "etag": '"p1"', "items": items[start : start + size]}
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        else:
            page["nextSyncToken"] = "calendarlist-sync"
        return page

    # -- events.list ---------------------------------------------------------------------
    def _sync_token(self, cal: FakeCalendar) -> str:
        doc = {"c": cal.id, "g": cal.generation, "s": self._last_seq}
        return "CP" + _b64(json.dumps(doc, separators=(",", ":")).encode())

    def _read_sync_token(self, cal: FakeCalendar, token: str) -> int:
        try:
            if not token.startswith("CP"):
                raise ValueError
            doc = json.loads(_unb64(token[2:]))
            cal_id, gen, seq = str(doc["c"]), int(doc["g"]), int(doc["s"])
        except (ValueError, KeyError, TypeError):
            raise bad_request("Invalid sync token value.", "invalid") from None
        if cal_id != cal.id:
            raise bad_request("Invalid sync token value.", "invalid")
        if gen != cal.generation:
            raise ApiFailure(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
        return seq

    def _list(self, cal: FakeCalendar, params: dict[str, str]) -> _RawPage:
        sync = params.get("syncToken")
        if sync is not None:
            bad = sorted(SYNC_FORBIDDEN & set(params))
            if bad:
                raise bad_request(
                    f"Sync token cannot be used together with {', '.join(bad)}.", "invalid"
                )  # Google refuses these combinations
        max_results = int(params.get("maxResults", "250"))
        if not 1 <= max_results <= 2500:
            raise bad_request(f"Invalid value for maxResults: {max_results}", "invalid")
        if params.get("orderBy") == "startTime" and params.get("singleEvents") != "true":
            raise bad_request("The requested ordering is not available for the particular query.", "invalid")
        signature = json.dumps({k: v for k, v in sorted(params.items()) if k not in ("pageToken", "syncToken")})
        page_token = params.get("pageToken")
        if page_token is not None:
            snap_id, _, index_text = page_token.partition(".")
            snap = self._snapshots.get(snap_id)
            if snap is None or snap.calendar is not cal or not index_text.isdigit():
                raise bad_request("Invalid page token value.", "invalid")
            if snap.sync_token != sync or snap.signature != signature:
                raise bad_request("The page token does not match the other parameters of the request.", "invalid")
            return self._page(snap, snap_id, int(index_text))
        if sync is not None:
            since = self._read_sync_token(cal, sync)
            changed = sorted((seq, eid) for eid, seq in cal.changed.items() if seq > since)
            items = [self._as_listed(cal.events[eid], incremental=True) for _, eid in changed]
        else:
            items = [self._as_listed(e, incremental=False) for e in self._filtered(cal, params)]
        size = min(max_results, max(1, self.page_size))
        pages = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
        if self.empty_pages and items:
            spaced: list[list[str]] = [[]]
            for i, page in enumerate(pages):
                spaced.append(page)
                if i % 2 == 0 and i + 1 < len(pages):
                    spaced.append([])
            pages = spaced
        snap = _Snapshot(pages, sync, signature, self._sync_token(cal), cal)
        snap_id = secrets.token_hex(6)
        self._snapshots[snap_id] = snap
        while len(self._snapshots) > 200:
            self._snapshots.popitem(last=False)
        return self._page(snap, snap_id, 0)

    def _page(self, snap: _Snapshot, snap_id: str, index: int) -> _RawPage:
        if index >= len(snap.pages):
            raise bad_request("Invalid page token value.", "invalid")
        cal = snap.calendar
        page: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{3180000000000000 + self._last_seq}"',
            "summary": cal.summary,
            "description": "",
            "updated": _rfc3339(datetime.now(UTC)),
            "timeZone": cal.time_zone,
            "accessRole": cal.access_role,
            "defaultReminders": [{"method": "popup", "minutes": 10}],
        }
        if index + 1 < len(snap.pages):
            page["nextPageToken"] = f"{snap_id}.{index + 1}"
        else:
            page["nextSyncToken"] = snap.next_sync_token
        return _RawPage(page, snap.pages[index])

    def _filtered(self, cal: FakeCalendar, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        show_deleted = params.get("showDeleted") == "true"
        tmin = datetime.fromisoformat(params["timeMin"]) if "timeMin" in params else None
        tmax = datetime.fromisoformat(params["timeMax"]) if "timeMax" in params else None
        props = [p.partition("=") for p in params.get("privateExtendedProperty", "").split("\x00") if p]
        for event in cal.events.values():
            if event.get("status") == "cancelled" and not show_deleted:
                continue
            if tmin or tmax:
                try:
                    start, end = _when(event["start"], cal.zone), _when(event["end"], cal.zone)
                except (KeyError, TypeError, ValueError):
                    pass  # a broken event (tests of unreadable events) is listed as it is
                else:
                    if (tmin and end <= tmin) or (tmax and start >= tmax):
                        continue
            private = event.get("extendedProperties", {}).get("private", {})
            if any(private.get(k) != v for k, _, v in props):
                continue
            if "q" in params and params["q"].lower() not in str(event.get("summary", "")).lower():
                continue
            if "iCalUID" in params and event.get("iCalUID") != params["iCalUID"]:
                continue
            yield event

    @staticmethod
    def _as_listed(event: dict[str, Any], incremental: bool) -> str:
        if incremental and event.get("status") == "cancelled":
            slim: dict[str, Any] = {k: event[k] for k in ("kind", "etag", "id", "status") if k in event}
            for key in ("recurringEventId", "originalStartTime"):
                if key in event:
                    slim[key] = event[key]
            return json.dumps(slim)
        return json.dumps(event)

    # -- events.get / insert / patch / update / delete ----------------------------------
    def _get(self, cal: FakeCalendar, eid: str) -> dict[str, Any]:
        event = cal.events.get(eid)
        if event is None:
            raise ApiFailure(404, "notFound", "Not Found")
        return copy.deepcopy(event)

    def _clean_properties(self, event: dict[str, Any]) -> None:
        ext = event.get("extendedProperties")
        if not isinstance(ext, dict):
            return
        for scope in ("private", "shared"):
            props = ext.get(scope)
            if isinstance(props, dict):
                ext[scope] = {k: v[:1024] for k, v in props.items() if len(k) <= 44 and isinstance(v, str)}

    def _check_event(self, cal: FakeCalendar, event: dict[str, Any], params: dict[str, str]) -> None:
        _check_when(event.get("start"), "start")
        _check_when(event.get("end"), "end")
        if bool(event["start"].get("date")) != bool(event["end"].get("date")):
            raise bad_request("Start and end must both be dates or both be date-times.", "invalid")
        if _when(event["end"], cal.zone) <= _when(event["start"], cal.zone):
            raise bad_request("The specified time range is empty.", "timeRangeEmpty")
        for key, allowed in (
            ("transparency", {"opaque", "transparent"}),
            ("visibility", {"default", "public", "private", "confidential"}),
            ("status", {"confirmed", "tentative", "cancelled"}),
            ("eventType", EVENT_TYPES),
        ):
            if key in event and event[key] not in allowed:
                raise bad_request(f"Invalid value for {key}: {event[key]!r}", "invalid")
        if event.get("eventType") == "focusTime" and not cal.primary:
            raise bad_request("Focus time events can only be created on primary calendars.", "invalid")
        self._check_out_of_office(cal, event)
        attendees = [a for a in event.get("attendees") or [] if not a.get("self")]
        if attendees and params.get("sendUpdates", "false") not in ("none", "false"):
            self.mails += len(attendees)

    def _check_out_of_office(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        """Google's rules for ``eventType: outOfOffice`` (and its properties on other events)."""
        ooo = event.get("eventType") == "outOfOffice"
        if "outOfOfficeProperties" in event and not ooo:
            raise bad_request("outOfOfficeProperties can only be set on out of office events.", "invalid")
        if "focusTimeProperties" in event and event.get("eventType") != "focusTime":
            raise bad_request("focusTimeProperties can only be set on focus time events.", "invalid")
        if not ooo:
            return
        if not cal.primary:
            raise bad_request("Out of office events can only be created on primary calendars.", "eventTypeRestriction")
        if not self.workspace:
            raise bad_request("Out of office events are not supported for this account type.", "eventTypeRestriction")
        if event["start"].get("date"):
            raise bad_request("Out of office events cannot be all-day events.", "invalid")
        if event.get("transparency", "opaque") != "opaque":
            raise bad_request("Out of office events must be opaque.", "invalid")
        if event.get("attendees"):
            raise bad_request("Out of office events cannot have attendees.", "invalid")
        props = event.get("outOfOfficeProperties") or {}
        mode = props.get("autoDeclineMode", "declineNone")
        if mode not in AUTO_DECLINE_MODES:
            raise bad_request(f"Invalid value for autoDeclineMode: {mode!r}", "invalid")

    def _freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        """``freeBusy.query``: busy periods per calendar; one you may not see answers ``errors: notFound``."""
        for key in ("timeMin", "timeMax"):
            if not isinstance(body.get(key), str):
                raise bad_request(f"Missing {key}.", "required")
        lo, hi = _parse_rfc3339(body["timeMin"]), _parse_rfc3339(body["timeMax"])
        if hi <= lo:
            raise bad_request("The specified time range is empty.", "timeRangeEmpty")
        if hi - lo > FREEBUSY_MAX_SPAN:
            raise bad_request("The requested time range is too long.", "timeRangeTooLong")
        items = body.get("items") or []
        if len(items) > FREEBUSY_MAX_CALENDARS:
            raise bad_request("Too many calendars requested.", "tooManyCalendarsRequested")
        calendars: dict[str, Any] = {}
        for item in items:
            cid = str(item.get("id", ""))
            cal = self.calendars.get(self.primary_id if cid == "primary" else cid)
            if cal is None or cal.access_role == "none":
                calendars[cid] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy: list[tuple[datetime, datetime]] = []
            for ev in cal.events.values():
                if ev.get("status") == "cancelled" or ev.get("transparency") == "transparent":
                    continue
                s, e = _when(ev["start"], cal.zone), _when(ev["end"], cal.zone)
                if s < hi and e > lo:
                    busy.append((max(s, lo), min(e, hi)))
            merged: list[tuple[datetime, datetime]] = []
            for s, e in sorted(busy):
                if merged and s <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], e))
                else:
                    merged.append((s, e))
            calendars[cid] = {"busy": [{"start": _rfc3339(s), "end": _rfc3339(e)} for s, e in merged]}
        return {"kind": "calendar#freeBusy", "timeMin": _rfc3339(lo), "timeMax": _rfc3339(hi), "calendars": calendars}

    def _insert(self, cal: FakeCalendar, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        eid = body.get("id")
        if eid is not None:
            if not isinstance(eid, str) or not 5 <= len(eid) <= 1024 or not set(eid) <= BASE32HEX:
                raise bad_request("Invalid resource id value.", "invalid")
            if eid in cal.events:
                raise ApiFailure(409, "duplicate", "The requested identifier already exists.")
        else:
            eid = self._new_id()
        event = self._base_event(cal, eid)
        for key, value in body.items():
            if key not in ("kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID"):
                event[key] = copy.deepcopy(value)
        self._check_event(cal, event, params)
        self._clean_properties(event)
        cal.events[eid] = event
        self._touch(cal, event)
        return copy.deepcopy(event)

    def _current(self, cal: FakeCalendar, eid: str, headers: Message) -> dict[str, Any]:
        event = cal.events.get(eid)
        if event is None:
            raise ApiFailure(404, "notFound", "Not Found")
        if event.get("status") == "cancelled":
            raise ApiFailure(410, "deleted", "Resource has been deleted")
        if_match = headers.get("if-match")
        if if_match is not None and if_match.strip() not in ("*", event["etag"]):
            raise ApiFailure(412, "conditionNotMet", "Precondition Failed")
        return event

    def _write(
        self,
        cal: FakeCalendar,
        eid: str,
        body: dict[str, Any],
        params: dict[str, str],
        headers: Message,
        *,
        replace: bool,
    ) -> dict[str, Any]:
        event = self._current(cal, eid, headers)
        if "id" in body and body["id"] != eid:
            raise bad_request("The id of the event cannot be changed.", "invalid")
        if replace:
            new = {k: event[k] for k in ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID")}
            new.update({"status": "confirmed", "sequence": event.get("sequence", 0), "eventType": "default"})
            new["reminders"] = {"useDefault": True}
            for key, value in body.items():
                if key not in ("kind", "etag", "htmlLink", "created", "updated", "creator", "iCalUID"):
                    new[key] = copy.deepcopy(value)
        else:
            new = copy.deepcopy(event)
            _merge(new, {k: v for k, v in body.items() if k not in ("kind", "etag", "id", "updated")})
        if new.get("eventType", "default") != event.get("eventType", "default"):
            raise bad_request("The event type cannot be changed.", "eventTypeRestriction")
        if new.get("start") != event.get("start") or new.get("end") != event.get("end"):
            new["sequence"] = int(new.get("sequence", 0)) + 1
        self._check_event(cal, new, params)
        self._clean_properties(new)
        cal.events[eid] = new
        self._touch(cal, new)
        return copy.deepcopy(new)

    def _delete(self, cal: FakeCalendar, eid: str, headers: Message) -> None:
        event = self._current(cal, eid, headers)
        event["status"] = "cancelled"
        self._touch(cal, event)

    # -- OAuth ----------------------------------------------------------------------------
    def _authorize(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        q = {k: v[-1] for k, v in query.items()}
        if q.get("client_id") not in self.clients:
            return 400, {"Content-Type": "text/plain"}, b"Error 401: invalid_client"
        redirect = q.get("redirect_uri", "")
        parts = urlsplit(redirect)
        if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1") or not parts.port:
            return 400, {"Content-Type": "text/plain"}, b"Error 400: redirect_uri_mismatch"
        if q.get("response_type") != "code":
            return 400, {"Content-Type": "text/plain"}, b"Error 400: unsupported_response_type"
        scopes = frozenset(q.get("scope", "").split())
        known = set(DISCOVERY["auth"]["oauth2"]["scopes"])
        if not scopes or not scopes <= known:
            return 400, {"Content-Type": "text/plain"}, b"Error 400: invalid_scope"
        result: dict[str, str] = {}
        if "state" in q:
            result["state"] = q["state"]
        if self.deny_consent:
            result["error"] = "access_denied"
        else:
            code = "4/fake-code-" + secrets.token_hex(8)
            with self.lock:
                self.codes[code] = {
                    "client_id": q["client_id"],
                    "redirect_uri": redirect,
                    "scopes": scopes,
                    "challenge": q.get("code_challenge"),
                    "method": q.get("code_challenge_method", "plain"),
                    "offline": q.get("access_type") == "offline",
                }
            result["code"] = code
            result["scope"] = " ".join(sorted(scopes, key=list(q.get("scope", "").split()).index))
        location = f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(result)}"
        return 302, {"Location": location, "Content-Type": "text/html"}, b"<html>Redirecting</html>"

    def _token(self, headers: Message, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        if client_id not in self.clients or self.clients[client_id] != client_secret:
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        grant = form.get("grant_type")
        with self.lock:
            if grant == "authorization_code":
                info = self.codes.pop(form.get("code", ""), None)
                if info is None or info["client_id"] != client_id:
                    return self._oauth_error(400, "invalid_grant", "Malformed auth code.")
                if form.get("redirect_uri") != info["redirect_uri"]:
                    return self._oauth_error(400, "redirect_uri_mismatch", "Bad Request")
                if info["challenge"]:
                    verifier = form.get("code_verifier", "")
                    if info["method"] == "S256":
                        expected = _b64(hashlib.sha256(verifier.encode()).digest())
                    else:
                        expected = verifier
                    if expected != info["challenge"]:
                        return self._oauth_error(400, "invalid_grant", "Invalid code verifier.")
                refresh = "1//fake-refresh-" + secrets.token_hex(8)
                self.refresh_tokens[refresh] = (client_id, info["scopes"])
                access, _ = self._new_access(refresh, info["scopes"])
                doc: dict[str, Any] = {
                    "access_token": access,
                    "expires_in": int(self.token_lifetime),
                    "refresh_token": refresh,
                    "scope": " ".join(sorted(info["scopes"])),
                    "token_type": "Bearer",
                }
            elif grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                known = self.refresh_tokens.get(refresh)
                if known is None or refresh in self.revoked or known[0] != client_id:
                    return self._oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
                self.refreshes += 1
                access, _ = self._new_access(refresh, known[1])
                doc = {
                    "access_token": access,
                    "expires_in": int(self.token_lifetime),
                    "scope": " ".join(sorted(known[1])),
                    "token_type": "Bearer",
                }
            else:
                return self._oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        return 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(doc).encode()

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"error": error, "error_description": description}).encode()
        return status, {"Content-Type": "application/json"}, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: GoogleFake

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        override = self.headers.get("x-http-method-override")
        if method == "POST" and override:
            method = override.upper()
            for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
                query.setdefault(key, []).extend(values)
            raw = b""
        try:
            body_json: Any = json.loads(raw) if raw and url.path.startswith("/calendar/") else None
        except ValueError:
            body_json = raw.decode("utf-8", "replace")
        record = Recorded(method, url.path, query, {k.lower(): v for k, v in self.headers.items()}, body_json)
        with fake.lock:
            fake.log.append(record)
        if fake.latency:
            time.sleep(fake.latency)
        fault = fake._take_fault(method, url.path) if url.path.startswith("/calendar/") else None
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop and not fault.after:
                record.status = -1
                self._drop()
                return
            if fault.raw is not None:
                record.status = fault.status or 200
                self._send(record.status, {"Content-Type": fault.content_type}, fault.raw)
                return
            if fault.status:
                failure = ApiFailure(
                    fault.status,
                    fault.reason,
                    {
                        429: "Rate Limit Exceeded",
                        403: "Rate Limit Exceeded",
                        500: "Backend Error",
                        503: "The service is currently unavailable.",
                    }.get(fault.status, "Error"),
                    domain="usageLimits" if fault.status in (403, 429) else "global",
                    headers={"Retry-After": fault.retry_after} if fault.retry_after is not None else {},
                )
                record.status = fault.status
                self._send_failure(failure)
                return
        if fake.hook is not None:
            fake.hook(method, url.path, "before")
        try:
            status, headers, body = fake.handle(method, url.path, query, self.headers, raw)
        except ApiFailure as failure:
            record.status = failure.status
            if fake.hook is not None:
                fake.hook(method, url.path, "after")
            if fault is not None and fault.after:
                self._drop()
                return
            self._send_failure(failure)
            return
        record.status = status
        if fake.hook is not None:
            fake.hook(method, url.path, "after")
        if fault is not None and fault.after:
            self._drop()
            return
        self._send(status, headers, body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_failure(self, failure: ApiFailure) -> None:
        headers = {"Content-Type": "application/json; charset=UTF-8", **failure.headers}
        self._send(failure.status, headers, json.dumps(failure.body()).encode("utf-8"))

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


def quote_id(value: str) -> str:
    """Quote a calendar id for a URL path (``@`` and friends)."""
    return quote(value, safe="")


# -- wiring for idealweek's tests ------------------------------------------------------


def google_settings(
    fake: GoogleFake,
    calendars: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    timezone: str = "Europe/Berlin",
    account: str = "work",
    **extra: Any,
) -> Any:
    """Settings with one Google account pointing at ``fake`` (default: the primary calendar, meetings + blocks)."""
    from idealweek.config import Settings

    cals = calendars or {
        "work": {"source": "google", "account": account, "id": "primary", "roles": ["meetings", "blocks"]}
    }
    doc: dict[str, Any] = {
        "timezone": timezone,
        "accounts": {account: {"provider": "google", "api_root": fake.api_root, "token_uri": fake.token_uri}},
        "calendars": {name: dict(cal) for name, cal in cals.items()},
        **extra,
    }
    return Settings.model_validate(doc)


def signed_in(fake: GoogleFake, account: str = "work", store: Any = None) -> Any:
    """A secret store holding a valid sign-in of ``account`` on ``fake``."""
    from idealweek.secrets import MemoryStore

    store = store if store is not None else MemoryStore()
    store.set(f"token:{account}", fake.issue_token())
    return store


def google_provider(
    fake: GoogleFake,
    name: str = "work",
    *,
    calendars: Mapping[str, Mapping[str, Any]] | None = None,
    sleeps: list[float] | None = None,
    attempts: int = 5,
    store: Any = None,
    **settings: Any,
) -> Any:
    """A :class:`GoogleProvider` for calendar ``name`` on ``fake``; backoff sleeps are recorded, not slept."""
    from pathlib import Path

    from idealweek.providers.google import RetryPolicy, make_provider

    record = sleeps if sleeps is not None else []
    retry = RetryPolicy(attempts=attempts, sleep=record.append, jitter=lambda: 0.5)
    cfg = google_settings(fake, calendars, **settings)
    return make_provider(cfg, Path("config.toml"), name, store if store is not None else signed_in(fake), retry=retry)
