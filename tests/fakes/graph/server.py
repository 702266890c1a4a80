"""The front of a fake Microsoft Graph (calendar subset) on loopback, as strict as the real one where it matters.

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

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.fakes.graph.events import Events, _is_meeting
from tests.fakes.graph.schedule import Schedule
from tests.fakes.graph.store import Store
from tests.fakes.graph.sync import Sync, _expand
from tests.fakes.graph.values import GraphError, _iso
from tests.fakes.http_base import FakeHandler, LoopbackFake, take_fault


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


class FakeGraph(Store, Sync, Events, Schedule, LoopbackFake):
    """The fake service: state, the HTTP front, and the user's back door."""

    def __init__(self, *, tokens: set[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.tokens: set[str] = set(tokens) if tokens is not None else {"test-token"}
        self._init_store()
        self._init_sync()
        self._init_schedule()
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
    def root(self) -> str:
        return self.origin + "/v1.0"

    # -- knobs ---------------------------------------------------------------------
    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def count(self, method: str = "", contains: str = "") -> int:
        with self.lock:
            return sum(1 for m, p, _q, _h in self.log if (not method or m == method) and contains in p)

    # -- request handling (called by the handler under no lock) -----------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        key = f"{method} {path}"
        return take_fault(self.lock, self.faults, lambda fault: fault.match in key)

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


def _prefer(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', header):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


class _GraphHandler(FakeHandler):
    fake: FakeGraph

    def _send(self, status: int, doc: dict[str, Any] | None, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if doc is None else json.dumps(doc).encode()
        content = {"Content-Type": "application/json; odata.metadata=minimal"} if doc is not None else {}
        self.send_bytes(status, {**content, **(headers or {})}, data)

    def _serve(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {k: v for k, v in self.headers.items()}
        raw = self.read_body()
        with fake.lock:
            fake.log.append((method, split.path, query, headers))
            fake.root_hint = f"http://{self.headers.get('Host', '127.0.0.1')}/v1.0"
        with fake.track():
            fault = fake.take_fault(method, split.path)
            if fault is not None and fault.drop:
                self.drop()
                return
            if fault is not None and fault.raw is not None:
                self.send_bytes(fault.status, {"Content-Type": fault.content_type}, fault.raw)
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
                self.run_hook(method, split.path, "before")
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
            self.run_hook(method, split.path, "after")
            if fault is not None and fault.drop_after:
                self.drop()
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


FakeGraph.handler_class = _GraphHandler
