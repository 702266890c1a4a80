"""A fake Microsoft Graph (calendar subset) on loopback, as strict as the real one where it matters.

Real HTTP (``ThreadingHTTPServer`` on ``127.0.0.1:0``, a thread per request)
so the provider's ``requests`` code runs unchanged.  It serves
``/me/calendars``, ``calendarView/delta`` (pages, ``@removed``, delta tokens
that can be expired on demand), ``calendarView``, and event list / get /
create / patch / delete with the single-value extended-property ``$filter``
and ``$expand``, ``transactionId`` de-duplication and ``If-Match``.  Request
bodies are validated against the Graph schema subset in
``tests/data/graph/``; unknown properties are refused like Graph does.

Fault knobs (:class:`Fault`): any status with ``Retry-After`` and an error
code, dropped connections (before or after acting), and ``max_page`` for
small pages.  The ``user_*`` methods act as the user.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LINK_SAFE = "$'(),"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "graph" / "graph-calendar-subset.json"
_PROP_ID_RE = re.compile(
    r"^String \{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\} Name \S+$"
)
_FILTER_RE = re.compile(
    r"^singleValueExtendedProperties/Any\(ep: ep/id eq '([^']+)' and ep/value eq '((?:[^']|'')*)'\)$", re.IGNORECASE
)
_EXPAND_RE = re.compile(r"^singleValueExtendedProperties\(\$filter=id eq '([^']+)'\)$", re.IGNORECASE)


# -- a small HTTP server harness shared with the TLS authority -------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK stalls
        return conn, addr


@dataclass
class Served:
    server: ThreadingHTTPServer
    thread: threading.Thread
    scheme: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(handler: type[BaseHTTPRequestHandler], ssl_context: ssl.SSLContext | None = None) -> Served:
    """Start ``handler`` on 127.0.0.1 with an OS-chosen port, in a daemon thread."""
    server = _Server(("127.0.0.1", 0), handler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Served(server, thread, "https" if ssl_context else "http")


# -- schema validation ----------------------------------------------------------------


class SchemaValidator:
    """Validates JSON against the OpenAPI subset: $ref, allOf, type, enum, pattern, nullable, bounds.

    Stricter than the schema's ``additionalProperties``: like Graph, an unknown
    property is an error (``@odata.*`` annotations aside).
    """

    def __init__(self, path: Path = SCHEMA_PATH) -> None:
        self.doc = json.loads(path.read_text("utf-8"))
        self.schemas: dict[str, Any] = self.doc["components"]["schemas"]

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[str(schema["$ref"]).rsplit("/", 1)[-1]]
        return schema

    def _properties(self, schema: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        schema = self._resolve(schema)
        props: dict[str, Any] = {}
        title = str(schema.get("title", ""))
        for part in schema.get("allOf", []):
            p, t = self._properties(part)
            props.update(p)
            title = t or title
        props.update(schema.get("properties", {}))
        return props, title

    def validate(self, value: Any, type_name: str) -> list[str]:
        return self._check(value, {"$ref": f"#/components/schemas/{type_name}"}, "")

    def _check(self, value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
        schema = self._resolve(schema)
        where = path or "body"
        if value is None:
            return [] if schema.get("nullable") or "allOf" in schema or "type" not in schema else [f"{where}: null"]
        if "anyOf" in schema or "oneOf" in schema:
            options = schema.get("anyOf") or schema.get("oneOf") or []
            results = [self._check(value, o, path) for o in options]
            return [] if any(not r for r in results) else results[0]
        if "allOf" in schema or schema.get("type") == "object" or "properties" in schema:
            if not isinstance(value, dict):
                return [f"{where}: expected an object"]
            props, title = self._properties(schema)
            errors: list[str] = []
            for key, item in value.items():
                if key.startswith("@odata."):
                    continue
                if key not in props:
                    errors.append(f"{where}: property '{key}' does not exist on type 'microsoft.graph.{title}'")
                    continue
                errors += self._check(item, props[key], f"{path}.{key}" if path else key)
            return errors
        typ = schema.get("type")
        if typ == "array":
            if not isinstance(value, list):
                return [f"{where}: expected an array"]
            out: list[str] = []
            for i, item in enumerate(value):
                out += self._check(item, schema.get("items", {}), f"{where}[{i}]")
            return out
        if typ == "string":
            if not isinstance(value, str):
                return [f"{where}: expected a string"]
            if "enum" in schema and value not in schema["enum"]:
                return [f"{where}: {value!r} is not one of {schema['enum']}"]
            if "pattern" in schema and not re.search(schema["pattern"], value):
                return [f"{where}: {value!r} does not match the pattern"]
            return []
        if typ == "boolean":
            return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
        if typ in ("integer", "number"):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (typ == "integer" and isinstance(value, float))
            ):
                return [f"{where}: expected {typ}"]
            lo, hi = schema.get("minimum"), schema.get("maximum")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                return [f"{where}: {value} out of range"]
            return []
        if "enum" in schema:
            return [] if value in schema["enum"] else [f"{where}: {value!r} is not one of {schema['enum']}"]
        return []


_VALIDATOR: SchemaValidator | None = None


def validator() -> SchemaValidator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = SchemaValidator()
    return _VALIDATOR


# -- the service state -----------------------------------------------------------------


def zone_of(name: str) -> tzinfo:
    """A Graph time-zone name (IANA or Windows) → tzinfo."""
    if name.upper() in ("UTC", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

        return ZoneInfo(WINDOWS_TO_OLSON[name])


def _graph_time(value: Mapping[str, Any]) -> datetime:
    naive = datetime.fromisoformat(str(value["dateTime"]))
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=zone_of(str(value.get("timeZone") or "UTC"))).astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    """One injected fault; ``match`` is a substring of ``"METHOD /path"`` (empty: any request)."""

    status: int = 503
    retry_after: float | None = None
    code: str = "ServiceUnavailable"
    drop: bool = False
    """Close the connection without answering, before acting."""
    drop_after: bool = False
    """Act on the request, then close the connection without answering (the response is lost)."""
    match: str = ""
    times: int = 1
    raw: bytes | None = None
    """Answer ``status`` with this body instead (HTML error pages, broken JSON), as ``content_type``."""
    content_type: str = "application/json"


@dataclass
class StoredEvent:
    id: str
    calendar: str
    start: datetime
    end: datetime
    zone: str = "UTC"
    props: dict[str, Any] = field(default_factory=dict)
    ext: dict[str, tuple[str, str]] = field(default_factory=dict)
    change_key: str = ""
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def all_day(self) -> bool:
        return bool(self.props.get("isAllDay"))

    @property
    def transaction_id(self) -> str:
        return str(self.props.get("transactionId") or "")

    def ext_value(self, prop_id: str) -> str | None:
        hit = self.ext.get(prop_id.lower())
        return hit[1] if hit else None


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class _Page:
    calendar: str
    start: datetime
    end: datetime
    items: list[dict[str, Any]]
    offset: int
    version: int
    path: str


class FakeGraph:
    """The fake service: state, the HTTP front, and the user's back door."""

    DEFAULT_CALENDAR = "AAMkAGDefaultCalendar0000="

    def __init__(self, *, tokens: set[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.tokens: set[str] = set(tokens) if tokens is not None else {"test-token"}
        self.calendars: dict[str, dict[str, Any]] = {
            self.DEFAULT_CALENDAR: {"name": "Calendar", "default": True, "canEdit": True}
        }
        self.events: dict[str, StoredEvent] = {}
        self.version = 0
        self.changes: list[tuple[int, str, str]] = []
        """(version, calendar id, event id) of every mutation."""
        self._delta_states: dict[str, tuple[str, datetime, datetime, int]] = {}
        self._pages: dict[str, _Page] = {}
        self._ids = itertools.count(1)
        self.faults: list[Fault] = []
        self.max_page = 1000
        self.latency = 0.0
        self.delta_unsupported: set[str] = set()
        self.leak_outside_window = False
        """Initial delta rounds also return events outside the window (the real service may)."""
        self.render_zone: str | None = None
        """Answer in this zone whatever ``Prefer: outlook.timezone`` says (tests Windows names)."""
        self.expire_status = 410
        self.expire_code = "SyncStateNotFound"
        self.log: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        """(method, path, query, headers) of every request, faulted or not."""
        self.bodies: list[tuple[str, str, dict[str, Any]]] = []
        """(method, path, JSON body) of every accepted write."""
        self.mailed: list[tuple[str, str, str]] = []
        """(method, event id, why) of every write that would have mailed someone on the real service:
        a PATCH or DELETE of a meeting, or a POST with attendees.  :meth:`assert_no_mail` (run when the
        fake is left as a context manager) fails the test if there is any."""
        self.inflight = 0
        self.max_inflight = 0
        self.hook: Callable[[str, str, str], None] | None = None
        """``hook(method, path, phase)`` with phase ``"before"`` (not yet acted on) or ``"after"`` (acted on,
        answer not yet sent); runs on the server thread and may block."""
        self.served: Served | None = None
        self.schedules: dict[str, list[tuple[datetime, datetime, str]]] = {}
        """Other people's calendars for ``getSchedule``: address → (start, end, showAs) of their events."""
        self.personal_account = False
        """A personal Microsoft account: ``getSchedule`` is refused (work or school accounts only)."""

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> FakeGraph:
        graph = self

        class Handler(_GraphHandler):
            fake = graph

        self.served = serve(Handler)
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()
            self.served = None

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop()
        if exc_type is None:
            self.assert_no_mail()

    def assert_no_mail(self) -> None:
        """No write that mails attendees was ever sent (SPEC §6.5, §6.10)."""
        with self.lock:
            assert not self.mailed, f"idealweek sent writes that mail attendees: {self.mailed}"

    @property
    def origin(self) -> str:
        assert self.served is not None, "start() the fake first"
        return self.served.origin

    @property
    def root(self) -> str:
        return self.origin + "/v1.0"

    # -- knobs ---------------------------------------------------------------------
    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def expire_delta_tokens(self, status: int = 410, code: str = "SyncStateNotFound") -> None:
        """Forget every delta state: the next use of a deltaLink fails with ``status``/``code``."""
        with self.lock:
            self._delta_states.clear()
            self._pages.clear()
            self.expire_status = status
            self.expire_code = code

    def count(self, method: str = "", contains: str = "") -> int:
        with self.lock:
            return sum(1 for m, p, _q, _h in self.log if (not method or m == method) and contains in p)

    # -- the user's back door -------------------------------------------------------
    def add_calendar(self, name: str, can_edit: bool = True) -> str:
        with self.lock:
            cid = f"AAMkAGCal{next(self._ids):06d}="
            self.calendars[cid] = {"name": name, "default": False, "canEdit": can_edit}
            return cid

    def _new_id(self) -> str:
        return f"AAMkAGEvt{next(self._ids):08d}-x_y="

    def _touch(self, ev: StoredEvent) -> None:
        self.version += 1
        ev.change_key = f"CK{self.version:06d}"
        self.changes.append((self.version, ev.calendar, ev.id))

    def user_add(
        self,
        subject: str,
        start: datetime,
        end: datetime,
        *,
        calendar: str | None = None,
        zone: str = "UTC",
        **props: Any,
    ) -> str:
        """Add an event as the user (``props`` are Graph properties: showAs, sensitivity, type, …)."""
        with self.lock:
            ev = StoredEvent(
                id=self._new_id(),
                calendar=calendar or self.DEFAULT_CALENDAR,
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                zone=zone,
                props={"subject": subject, "showAs": "busy", "sensitivity": "normal", "type": "singleInstance"} | props,
            )
            self.events[ev.id] = ev
            self._touch(ev)
            return ev.id

    def user_patch(self, uid: str, *, start: datetime | None = None, end: datetime | None = None, **props: Any) -> None:
        """Change an event as the user."""
        with self.lock:
            ev = self.events[uid]
            if start is not None:
                ev.start = start.astimezone(UTC)
            if end is not None:
                ev.end = end.astimezone(UTC)
            ev.props.update(props)
            self._touch(ev)

    def user_delete(self, uid: str) -> None:
        with self.lock:
            ev = self.events.pop(uid, None)
            if ev is not None:
                self.version += 1
                self.changes.append((self.version, ev.calendar, uid))

    def owned(self, prop_id: str) -> list[StoredEvent]:
        with self.lock:
            return [e for e in self.events.values() if e.ext_value(prop_id) is not None]

    def in_calendar(self, calendar: str | None = None) -> list[StoredEvent]:
        cid = calendar or self.DEFAULT_CALENDAR
        with self.lock:
            return sorted((e for e in self.events.values() if e.calendar == cid), key=lambda e: (e.start, e.id))

    # -- rendering ---------------------------------------------------------------------
    def render(self, ev: StoredEvent, zone: str | None, expand: set[str] | None) -> dict[str, Any]:
        zname = self.render_zone or zone or ev.zone
        tz = zone_of(zname)

        def stamp(value: datetime) -> dict[str, str]:
            if ev.all_day:
                d = value.astimezone(UTC).date()
                return {"dateTime": f"{d.isoformat()}T00:00:00.0000000", "timeZone": zname}
            return {"dateTime": value.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zname}

        body = ev.props.get("body") or {"contentType": "text", "content": ""}
        doc: dict[str, Any] = {
            "@odata.etag": f'W/"{ev.change_key}"',
            "id": ev.id,
            "createdDateTime": _iso(ev.created),
            "lastModifiedDateTime": _iso(ev.created),
            "changeKey": ev.change_key,
            "categories": [],
            "subject": ev.props.get("subject", ""),
            "bodyPreview": str(body.get("content") or "")[:255],
            "body": body,
            "start": stamp(ev.start),
            "end": stamp(ev.end),
            "isAllDay": ev.all_day,
            "isCancelled": bool(ev.props.get("isCancelled", False)),
            "isOrganizer": bool(ev.props.get("isOrganizer", True)),
            "showAs": ev.props.get("showAs", "busy"),
            "sensitivity": ev.props.get("sensitivity", "normal"),
            "type": ev.props.get("type", "singleInstance"),
            "responseStatus": ev.props.get("responseStatus", {"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
            "attendees": ev.props.get("attendees", []),
            "isReminderOn": bool(ev.props.get("isReminderOn", True)),
            "originalStartTimeZone": ev.zone,
            "originalEndTimeZone": ev.zone,
        }
        for key in ("seriesMasterId", "originalStart", "location", "transactionId"):
            if ev.props.get(key):
                doc[key] = ev.props[key]
        if expand is not None:
            doc["singleValueExtendedProperties"] = [
                {"id": pid, "value": value} for low, (pid, value) in sorted(ev.ext.items()) if low in expand
            ]
        return doc

    # -- request handling (called by the handler under no lock) -----------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            key = f"{method} {path}"
            for f in self.faults:
                if f.match in key:
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
            return None

    def check_auth(self, header: str) -> None:
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.lock:
            ok = token in self.tokens
        if not ok:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str], body: Any
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if not path.startswith("/v1.0/me/"):
            raise GraphError(404, "UnknownError", f"Resource not found for the segment '{path}'.")
        parts = [unquote(p) for p in path[len("/v1.0/me/") :].split("/") if p]
        prefer = _prefer(headers.get("Prefer", ""))
        with self.lock:
            return self._route(method, parts, query, prefer, body)

    def _calendar_of(self, parts: list[str]) -> tuple[str, list[str]]:
        """``calendar/...`` or ``calendars/{id}/...`` or bare → (calendar id, rest)."""
        if parts and parts[0] == "calendar":
            return self.DEFAULT_CALENDAR, parts[1:]
        if len(parts) >= 2 and parts[0] == "calendars":
            cid = parts[1]
            if cid not in self.calendars:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return cid, parts[2:]
        return self.DEFAULT_CALENDAR, parts

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], prefer: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if parts == ["calendars"] and method == "GET":
            return 200, self._list_calendars(), {}
        cid, rest = self._calendar_of(parts)
        if rest == ["calendarView", "delta"] and method == "GET":
            if cid in self.delta_unsupported:
                raise GraphError(400, "ErrorInvalidRequest", "Delta is not supported for this calendar view.")
            return 200, self._delta("/v1.0/me/" + "/".join(quote(p, safe="") for p in parts), cid, query, prefer), {}
        if rest == ["calendarView"] and method == "GET":
            return 200, self._view(cid, query, prefer), {}
        if rest == ["events"] and method == "GET":
            return (
                200,
                self._list_events(cid, query, prefer, "/v1.0/me/" + "/".join(quote(p, safe="") for p in parts)),
                {},
            )
        if rest == ["events"] and method == "POST":
            return self._create(cid, body, prefer)
        if rest == ["getSchedule"] and method == "POST":
            return 200, self._get_schedule(body), {}
        if len(rest) == 2 and rest[0] == "events":
            ev = self.events.get(rest[1])
            if ev is None or (parts[0] != "events" and ev.calendar != cid):
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if method == "GET":
                return 200, self.render(ev, prefer.get("outlook.timezone"), _expand(query)), {}
            if method in ("PATCH", "DELETE") and _is_meeting(ev.props):
                self.mailed.append((method, ev.id, "the event has attendees or another organizer"))
            if method == "PATCH":
                return self._patch(ev, body, prefer)
            if method == "DELETE":
                del self.events[ev.id]
                self.version += 1
                self.changes.append((self.version, ev.calendar, ev.id))
                return 204, None, {}
        raise GraphError(400, "BadRequest", f"Unsupported request {method} /me/{'/'.join(parts)}")

    # -- getSchedule (free/busy of other people) ------------------------------------------
    def add_schedule_item(self, address: str, start: datetime, end: datetime, show_as: str = "busy") -> None:
        """Another person (``address``) has an event: ``getSchedule`` shows it as ``show_as``."""
        with self.lock:
            self.schedules.setdefault(address.lower(), []).append((start.astimezone(UTC), end.astimezone(UTC), show_as))

    def _get_schedule(self, body: Any) -> dict[str, Any]:
        """``POST /me/calendar/getSchedule``: the request validated against the action's parameters (names match
        case-insensitively, as Graph's do), a window under 62 days, at most 20 schedules."""
        if self.personal_account:
            raise GraphError(400, "ErrorInvalidUser", "getSchedule is not supported for personal Microsoft accounts.")
        if not isinstance(body, dict):
            raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
        action = validator().doc["paths"]["/users/{user-id}/calendar/microsoft.graph.getSchedule"]["post"]
        schema = action["requestBody"]["content"]["application/json"]["schema"]
        names = {k.lower(): k for k in schema["properties"]}
        unknown = [k for k in body if k.lower() not in names]
        if unknown:
            raise GraphError(
                400, "RequestBodyRead", f"The parameter '{unknown[0]}' in the request payload is not valid."
            )
        canonical = {names[k.lower()]: v for k, v in body.items()}
        problems = validator()._check(canonical, schema, "")
        if problems:
            raise GraphError(400, "RequestBodyRead", "; ".join(problems))
        schedules = canonical.get("Schedules") or []
        if not schedules or len(schedules) > 20:
            raise GraphError(400, "ErrorInvalidParameter", "Schedules must list 1 to 20 addresses.")
        try:
            start = _graph_time(canonical["StartTime"])
            end = _graph_time(canonical["EndTime"])
        except (KeyError, TypeError, ValueError):
            raise GraphError(400, "ErrorInvalidParameter", "StartTime and EndTime are required.") from None
        if end <= start:
            raise GraphError(400, "ErrorInvalidParameter", "EndTime must be after StartTime.")
        if end - start >= timedelta(days=62):
            raise GraphError(400, "ErrorInvalidTimeInterval", "The requested time duration exceeds 62 days.")
        interval = int(canonical.get("AvailabilityViewInterval") or 30)
        if not 5 <= interval <= 1440:
            raise GraphError(400, "ErrorInvalidParameter", "AvailabilityViewInterval must be 5 to 1440 minutes.")
        codes = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
        value: list[dict[str, Any]] = []
        for address in schedules:
            items = self.schedules.get(str(address).lower())
            if items is None:
                value.append(
                    {
                        "scheduleId": address,
                        "availabilityView": "",
                        "scheduleItems": [],
                        "error": {
                            "message": "The mailbox was not found.",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            inside = sorted((s, e, show) for s, e, show in items if s < end and e > start)
            view = []
            t = start
            while t < end:
                slot_end = t + timedelta(minutes=interval)
                here = [codes.get(show, "2") for s, e, show in inside if s < slot_end and e > t]
                view.append(max(here, key=lambda c: {"0": 0, "4": 1, "1": 2, "2": 3, "3": 4}[c]) if here else "0")
                t = slot_end
            value.append(
                {
                    "scheduleId": address,
                    "availabilityView": "".join(view),
                    "scheduleItems": [
                        {
                            "isPrivate": False,
                            "status": show,
                            "start": {"dateTime": s.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
                            "end": {"dateTime": e.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
                        }
                        for s, e, show in inside
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": "UTC"},
                    },
                }
            )
        return {"value": value}

    def _list_calendars(self) -> dict[str, Any]:
        return {
            "value": [
                {
                    "id": cid,
                    "name": c["name"],
                    "canEdit": c["canEdit"],
                    "canShare": c["default"],
                    "isDefaultCalendar": c["default"],
                    "isRemovable": not c["default"],
                    "changeKey": "CAL",
                    "owner": {"name": "Test User", "address": "user@example.test"},
                }
                for cid, c in self.calendars.items()
            ]
        }

    def _page_size(self, prefer: dict[str, str]) -> int:
        try:
            asked = int(prefer.get("odata.maxpagesize", "10"))
        except ValueError:
            asked = 10
        return max(1, min(asked, self.max_page))

    def _window(self, query: dict[str, list[str]]) -> tuple[datetime, datetime]:
        try:
            start = datetime.fromisoformat(query["startDateTime"][0])
            end = datetime.fromisoformat(query["endDateTime"][0])
        except (KeyError, ValueError):
            raise GraphError(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.") from None
        if start.tzinfo is None or end.tzinfo is None:
            start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
        return start.astimezone(UTC), end.astimezone(UTC)

    @staticmethod
    def _overlaps(ev: StoredEvent, start: datetime, end: datetime) -> bool:
        return ev.start < end and (ev.end > start or ev.start >= start)

    def _delta(self, path: str, cid: str, query: dict[str, list[str]], prefer: dict[str, str]) -> dict[str, Any]:
        for bad in ("$select", "$filter", "$expand", "$orderby", "$search"):
            if bad in query:
                raise GraphError(
                    400, "ErrorInvalidUrlQuery", f"The query parameter '{bad}' is not supported with delta."
                )
        zone = prefer.get("outlook.timezone")
        if "$skiptoken" in query:
            page = self._pages.pop(query["$skiptoken"][0], None)
            if page is None:
                raise GraphError(self.expire_status, self.expire_code, "The sync state is not found.")
        elif "$deltatoken" in query:
            state = self._delta_states.get(query["$deltatoken"][0])
            if state is None:
                raise GraphError(self.expire_status, self.expire_code, "The sync state is not found or has expired.")
            scid, start, end, since = state
            changed: dict[str, None] = {}
            for version, ecal, eid in self.changes:
                if version > since and ecal == scid:
                    changed.pop(eid, None)
                    changed[eid] = None
            items: list[dict[str, Any]] = []
            for eid in changed:
                ev = self.events.get(eid)
                if ev is None:
                    items.append(
                        {"@odata.type": "#microsoft.graph.event", "id": eid, "@removed": {"reason": "deleted"}}
                    )
                elif ev.props.get("type") != "seriesMaster":
                    items.append(self.render(ev, zone, None))
            page = _Page(scid, start, end, items, 0, self.version, path)
        else:
            start, end = self._window(query)
            evs = [
                e
                for e in self.in_calendar(cid)
                if (self.leak_outside_window or self._overlaps(e, start, end))
                and e.props.get("type") != "seriesMaster"
                and not e.props.get("isCancelled")
            ]
            page = _Page(cid, start, end, [self.render(e, zone, None) for e in evs], 0, self.version, path)
        size = self._page_size(prefer)
        chunk = page.items[page.offset : page.offset + size]
        out: dict[str, Any] = {"@odata.context": f"{self.root_hint}/$metadata#Collection(event)", "value": chunk}
        if page.offset + size < len(page.items):
            token = f"skip{next(self._ids)}"
            self._pages[token] = _Page(
                page.calendar, page.start, page.end, page.items, page.offset + size, page.version, path
            )
            out["@odata.nextLink"] = (
                f"{self.root_hint}{path[len('/v1.0') :]}?{urlencode({'$skiptoken': token}, safe='$')}"
            )
        else:
            token = f"delta{next(self._ids)}"
            self._delta_states[token] = (page.calendar, page.start, page.end, page.version)
            out["@odata.deltaLink"] = (
                f"{self.root_hint}{path[len('/v1.0') :]}?{urlencode({'$deltatoken': token}, safe='$')}"
            )
        return out

    root_hint = ""
    """Set by the handler from the Host header: the absolute ``…/v1.0`` root for links."""

    def _paged(
        self, items: list[dict[str, Any]], query: dict[str, list[str]], prefer: dict[str, str], path: str
    ) -> dict[str, Any]:
        skip = int(query.get("$skip", ["0"])[0])
        size = self._page_size(prefer)
        out: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            q = {k: v[0] for k, v in query.items()} | {"$skip": str(skip + size)}
            out["@odata.nextLink"] = f"{self.root_hint}{path[len('/v1.0') :]}?{urlencode(q, safe=LINK_SAFE)}"
        return out

    def _view(self, cid: str, query: dict[str, list[str]], prefer: dict[str, str]) -> dict[str, Any]:
        start, end = self._window(query)
        expand = _expand(query)
        evs = [
            e for e in self.in_calendar(cid) if self._overlaps(e, start, end) and e.props.get("type") != "seriesMaster"
        ]
        items = [self.render(e, prefer.get("outlook.timezone"), expand) for e in evs]
        path = (
            "/v1.0/me/"
            + ("calendar" if cid == self.DEFAULT_CALENDAR else f"calendars/{quote(cid, safe='')}")
            + "/calendarView"
        )
        return self._paged(items, query, prefer, path)

    def _list_events(self, cid: str, query: dict[str, list[str]], prefer: dict[str, str], path: str) -> dict[str, Any]:
        evs = self.in_calendar(cid)
        if "$filter" in query:
            m = _FILTER_RE.match(query["$filter"][0])
            if m is None:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The filter expression is not supported.")
            pid, value = m.group(1), m.group(2).replace("''", "'")
            if not _PROP_ID_RE.match(pid):
                raise GraphError(400, "ErrorInvalidProperty", "The extended property id is not valid.")
            evs = [e for e in evs if e.ext_value(pid) == value]
        expand = _expand(query)
        items = [self.render(e, prefer.get("outlook.timezone"), expand) for e in evs]
        return self._paged(items, query, prefer, path)

    def _validate_event_body(self, body: Any, creating: bool) -> None:
        if not isinstance(body, dict):
            raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
        problems = validator().validate(body, "microsoft.graph.event")
        for p in body.get("singleValueExtendedProperties", []) or []:
            if (
                not isinstance(p, dict)
                or not _PROP_ID_RE.match(str(p.get("id", "")))
                or not isinstance(p.get("value"), str)
            ):
                problems.append(f"singleValueExtendedProperties: bad item {p!r}")
        if creating and ("start" not in body or "end" not in body):
            problems.append("start and end are required")
        for key in ("start", "end"):
            if key in body:
                try:
                    _graph_time(body[key])
                except (KeyError, ValueError, TypeError):
                    problems.append(f"{key}: not a valid dateTimeTimeZone")
        if problems:
            raise GraphError(400, "RequestBodyRead", "; ".join(problems))

    def _apply(self, ev: StoredEvent, body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key == "start":
                ev.start = _graph_time(value)
                ev.zone = str(value.get("timeZone") or "UTC")
            elif key == "end":
                ev.end = _graph_time(value)
            elif key == "singleValueExtendedProperties":
                for p in value or []:
                    ev.ext[str(p["id"]).lower()] = (str(p["id"]), str(p["value"]))
            else:
                ev.props[key] = value

    def _create(self, cid: str, body: Any, prefer: dict[str, str]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if not self.calendars[cid]["canEdit"]:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        self._validate_event_body(body, creating=True)
        if isinstance(body, dict) and body.get("attendees"):
            self.mailed.append(("POST", cid, "created with attendees"))
        tx = body.get("transactionId")
        if tx:
            for ev in self.events.values():
                if ev.transaction_id == tx:
                    return 201, self.render(ev, prefer.get("outlook.timezone"), None), {}
        ev = StoredEvent(id=self._new_id(), calendar=cid, start=datetime.now(UTC), end=datetime.now(UTC))
        ev.props.update({"type": "singleInstance", "isOrganizer": True})
        self._apply(ev, body)
        self.events[ev.id] = ev
        self._touch(ev)
        self.bodies.append(("POST", cid, body))
        return 201, self.render(ev, prefer.get("outlook.timezone"), None), {}

    def _patch(
        self, ev: StoredEvent, body: Any, prefer: dict[str, str]
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        self._validate_event_body(body, creating=False)
        if "transactionId" in body and body["transactionId"] != ev.transaction_id:
            raise GraphError(400, "ErrorInvalidRequest", "transactionId cannot be changed.")
        self._apply(ev, body)
        self._touch(ev)
        self.bodies.append(("PATCH", ev.id, body))
        return 200, self.render(ev, prefer.get("outlook.timezone"), None), {}

    def check_if_match(self, method: str, path: str, header: str | None) -> None:
        if header is None or method not in ("PATCH", "DELETE"):
            return
        parts = [unquote(p) for p in path.split("/") if p]
        with self.lock:
            ev = self.events.get(parts[-1]) if len(parts) >= 2 and parts[-2] == "events" else None
            if ev is None:
                return
            want = header.strip()
            want = want[2:] if want.startswith("W/") else want
            if want.strip('"') != ev.change_key:
                raise GraphError(
                    412,
                    "ErrorIrresolvableConflict",
                    "The change key passed in the request does not match the current change key for the item.",
                )

    @contextmanager
    def track(self) -> Iterator[None]:
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.latency:
                time.sleep(self.latency)
            yield
        finally:
            with self.lock:
                self.inflight -= 1


def _is_meeting(props: Mapping[str, Any]) -> bool:
    """Graph mails attendees when a meeting is changed or deleted (there is no way to stop it)."""
    return bool(props.get("attendees")) or props.get("isOrganizer", True) is False


def _prefer(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', header):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


def _expand(query: dict[str, list[str]]) -> set[str] | None:
    if "$expand" not in query:
        return None
    m = _EXPAND_RE.match(query["$expand"][0])
    if m is None:
        raise GraphError(
            400, "ErrorInvalidUrlQuery", "Only singleValueExtendedProperties($filter=id eq '…') is supported."
        )
    return {m.group(1).lower()}


class _GraphHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeGraph

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, doc: dict[str, Any] | None, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {k: v for k, v in self.headers.items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with fake.lock:
            fake.log.append((method, split.path, query, headers))
            fake.root_hint = f"http://{self.headers.get('Host', '127.0.0.1')}/v1.0"
        with fake.track():
            fault = fake.take_fault(method, split.path)
            if fault is not None and fault.drop:
                self._drop()
                return
            if fault is not None and fault.raw is not None:
                self.send_response(fault.status)
                self.send_header("Content-Type", fault.content_type)
                self.send_header("Content-Length", str(len(fault.raw)))
                self.end_headers()
                self.wfile.write(fault.raw)
                return
            if fault is not None and not fault.drop_after:
                extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                self._send(fault.status, {"error": {"code": fault.code, "message": "Injected fault."}}, extra)
                return
            try:
                fake.check_auth(self.headers.get("Authorization", ""))
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise GraphError(400, "RequestBodyRead", "The request body is not JSON.") from None
                fake.check_if_match(method, split.path, self.headers.get("If-Match"))
                if fake.hook is not None:
                    fake.hook(method, split.path, "before")
                status, doc, extra = fake.handle(method, split.path, query, headers, body)
            except GraphError as exc:
                status, doc, extra = (
                    exc.status,
                    {
                        "error": {
                            "code": exc.code,
                            "message": exc.message,
                            "innerError": {"date": _iso(datetime.now(UTC))},
                        }
                    },
                    {},
                )
            if fake.hook is not None:
                fake.hook(method, split.path, "after")
            if fault is not None and fault.drop_after:
                self._drop()
                return
            self._send(status, doc, extra)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")


def day(d: date, zone: tzinfo = UTC) -> datetime:
    """Midnight of ``d`` in ``zone`` (all-day test events)."""
    return datetime.combine(d, datetime.min.time(), zone)


def provider_for(
    fake: FakeGraph,
    calendar_id: str = "",
    *,
    name: str = "work",
    clock: Callable[[], datetime] | None = None,
    page_size: int = 100,
    horizon: timedelta = timedelta(days=14),
    lookback: timedelta = timedelta(days=8),
    writable: bool = True,
    token: str = "test-token",
    sleeps: list[float] | None = None,
) -> Any:
    """An :class:`OutlookProvider` on ``fake`` with a fixed bearer token and recorded (not slept) backoff."""
    from idealweek.providers.base import RequestCounter
    from idealweek.providers.outlook import OutlookProvider
    from idealweek.providers.outlook.client import GraphClient

    record = sleeps if sleeps is not None else []
    client = GraphClient(
        fake.root,
        lambda force_refresh=False: token,
        mailbox=f"{fake.root}|{id(fake)}",
        counter=RequestCounter(),
        label=name,
        page_size=page_size,
        sleep=record.append,
        jitter=lambda: 0.5,
    )
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    return OutlookProvider(name, client, calendar_id, writable=writable, horizon=horizon, lookback=lookback, **kwargs)


__all__ = ["FakeGraph", "Fault", "SchemaValidator", "Served", "StoredEvent", "day", "provider_for", "serve"]
