"""The front of a strict fake of Google Calendar API v3 and Google's OAuth endpoints, over real HTTP on loopback.

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

import json
import threading
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.fakes.google.events import Events
from tests.fakes.google.freebusy import FreeBusy
from tests.fakes.google.oauth import OAuth
from tests.fakes.google.schema import METHODS, ApiFailure, _json_object, bad_request, check_params, validate
from tests.fakes.google.store import Store
from tests.fakes.google.sync import Sync, _RawPage
from tests.fakes.http_base import FakeHandler, LoopbackFake, take_fault


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


class GoogleFake(Store, Sync, Events, FreeBusy, OAuth, LoopbackFake):
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
        self._init_store(primary, time_zone)
        self._init_oauth()
        self._init_sync()
        self.faults: list[Fault] = []
        self.log: list[Recorded] = []
        self.mails = 0
        """Invitations the service would have mailed (must stay 0)."""
        self.hook: Any = None
        """``hook(method, path, phase)`` with phase ``"before"`` (request received, not yet acted on) or
        ``"after"`` (acted on, answer not yet sent); runs on the server thread and may block."""

    # -- where the fake is -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/calendar/v3/"

    @property
    def auth_uri(self) -> str:
        return f"{self.base_url}/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

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
        return take_fault(self.lock, self.faults, lambda fault: fault.matches(method, path))

    # -- the request log -------------------------------------------------------------
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
        params = check_params(name, query)
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


class _Handler(FakeHandler):
    fake: GoogleFake

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
        raw = self.read_body()
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
                self.drop()
                return
            if fault.raw is not None:
                record.status = fault.status or 200
                self.send_bytes(record.status, {"Content-Type": fault.content_type}, fault.raw)
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
        self.run_hook(method, url.path, "before")
        try:
            status, headers, body = fake.handle(method, url.path, query, self.headers, raw)
        except ApiFailure as failure:
            record.status = failure.status
            self.run_hook(method, url.path, "after")
            if fault is not None and fault.after:
                self.drop()
                return
            self._send_failure(failure)
            return
        record.status = status
        self.run_hook(method, url.path, "after")
        if fault is not None and fault.after:
            self.drop()
            return
        self.send_bytes(status, headers, body)

    def _send_failure(self, failure: ApiFailure) -> None:
        headers = {"Content-Type": "application/json; charset=UTF-8", **failure.headers}
        self.send_bytes(failure.status, headers, json.dumps(failure.body()).encode("utf-8"))


def quote_id(value: str) -> str:
    """Quote a calendar id for a URL path (``@`` and friends)."""
    return quote(value, safe="")


GoogleFake.handler_class = _Handler
