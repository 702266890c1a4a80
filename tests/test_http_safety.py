"""Every HTTP call is bounded in time, Retry-After is read in both forms, and tokens go only to their own origin."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from idealweek.config import OutlookAccount, loads
from idealweek.errors import AuthError, ProviderError, TransientError
from idealweek.http import RetryPolicy, insecure_reason, parse_retry_after, same_origin, timeout_session
from idealweek.model import utc
from idealweek.providers.base import RequestCounter
from idealweek.providers.outlook.client import GraphClient
from idealweek.secrets import MemoryStore
from tests.fakes.graph_server import FakeGraph, Fault, provider_for

NOW = utc(2030, 3, 4, 8)
DEADLINE = 60.0
"""Generous: a bounded call ends in about a second; only a missing timeout comes near this."""


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung authority, API or token endpoint)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def finishes(call: Callable[[], Any]) -> BaseException | None:
    """Run ``call`` in a thread; the exception it ended with (None when it returned), failing if it hangs."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert outcome, "the call hung: no timeout reached the library"
    return outcome[0]


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    """Retry-After as delta-seconds or as an HTTP date (against the injected clock); junk and NaN are ignored."""
    now = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
    assert parse_retry_after("7", lambda: now) == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), lambda: now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), lambda: now) == 0.0
    assert parse_retry_after("soon", lambda: now) is None and parse_retry_after("nan") is None
    assert parse_retry_after(None) is None and parse_retry_after("-3") == 0.0
    policy = RetryPolicy(jitter=lambda: 0.5)
    assert policy.delay(0, 12.0) == 12.0 and policy.delay(10, None) <= policy.cap
    assert policy.too_long(policy.max_wait + 1) and not policy.too_long(policy.max_wait)


class _DateThrottle(BaseHTTPRequestHandler):
    answered: ClassVar[list[str]] = []
    retry_at = ""

    def do_GET(self) -> None:
        first = not self.answered
        self.answered.append(self.path)
        if first:
            self.send_response(503)
            self.send_header("Retry-After", self.retry_at)
            body = b'{"error": {"code": "ServiceUnavailable", "message": "busy"}}'
        else:
            self.send_response(200)
            body = b'{"value": []}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_graph_honours_a_retry_after_http_date() -> None:
    """A Graph 503 with Retry-After as an HTTP date waits until that date (by the injected clock)."""
    handler = type("H", (_DateThrottle,), {"answered": [], "retry_at": format_datetime(NOW + timedelta(seconds=9))})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sleeps: list[float] = []
        client = GraphClient(
            f"http://127.0.0.1:{server.server_address[1]}/v1.0",
            lambda force_refresh=False: "token",
            mailbox="date-throttle",
            counter=RequestCounter(),
            label="work",
            sleep=sleeps.append,
            jitter=lambda: 0.5,
            clock=lambda: NOW,
        )
        assert client.request("GET", "/me/events", kind="list").status_code == 200
        assert sleeps == [9.0]
    finally:
        server.shutdown()
        server.server_close()


def test_graph_refuses_a_next_link_to_another_host() -> None:
    """An @odata.nextLink to another host gets no request (no token): the read fails with a clear error."""
    visits: list[str] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            visits.append(self.headers.get("Authorization", ""))
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with FakeGraph() as fake:
            link = f"http://127.0.0.1:{other.server_address[1]}/v1.0/me/calendarView/delta?$skiptoken=x"
            page = json.dumps({"value": [], "@odata.nextLink": link}).encode()
            fake.inject(Fault(status=200, raw=page, match="delta"))
            provider = provider_for(fake, clock=lambda: NOW)
            with pytest.raises(ProviderError, match="link to another address") as info:
                provider.read_changes(None)
        assert visits == []
        assert "graph_root" in str(info.value) and "skiptoken" not in str(info.value)
    finally:
        other.shutdown()
        other.server_close()


def test_graph_links_must_keep_scheme_host_and_port() -> None:
    """Only links on graph_root's origin are followed: another scheme, host or port is refused."""
    client = GraphClient(
        "https://graph.example.com/v1.0",
        lambda force_refresh=False: "t",
        mailbox="links",
        counter=RequestCounter(),
        label="work",
    )
    assert client.url("/me/events") == "https://graph.example.com/v1.0/me/events"
    assert client.url("https://graph.example.com:443/v1.0/me/events?$skip=2").startswith("https://graph.example.com")
    for bad in (
        "http://graph.example.com/v1.0/me/events",
        "https://graph.example.com.evil.test/v1.0/me",
        "https://graph.example.com:8443/v1.0/me",
        "https://user@evil.test/v1.0/me",
    ):
        with pytest.raises(ProviderError):
            client.url(bad)
    assert same_origin("HTTPS://Graph.Example.com/x", "https://graph.example.com:443/v1.0")


def test_only_https_or_loopback_http_may_receive_tokens() -> None:
    """https anywhere, plain http only on the loopback interface; anything else has a reason."""
    assert insecure_reason("https://graph.microsoft.com/v1.0") is None
    for ok in ("http://127.0.0.1:8080/", "http://localhost/x", "http://[::1]:9/"):
        assert insecure_reason(ok) is None, ok
    for bad in ("http://graph.example.com/v1.0", "ftp://x.example/", "http://10.0.0.1/", "https://", "javascript:x"):
        assert insecure_reason(bad), bad


def test_msal_with_a_silent_authority_times_out(silent: int) -> None:
    """MSAL gets a session with connect/read timeouts: a silent authority fails the sign-in instead of hanging."""
    from idealweek.providers.outlook.auth import MsalTokens

    settings = loads(
        f'[accounts.work]\nprovider = "outlook"\nclient_id = "cid"\nauthority = "https://127.0.0.1:{silent}"\n'
    )
    acct = settings.accounts["work"]
    assert isinstance(acct, OutlookAccount)
    tokens = MsalTokens("work", acct, MemoryStore(), ["Calendars.ReadWrite"], timeout=(1.0, 1.0))
    err = finishes(lambda: tokens(force_refresh=False))
    assert isinstance(err, AuthError | TransientError), err
    assert "cannot reach" in str(err) or "unreachable" in str(err)


def test_timeout_session_fills_in_a_timeout_the_caller_left_out(silent: int) -> None:
    """A request sent with timeout=None (as MSAL and requests-oauthlib do) still ends with a Timeout."""
    import requests

    session = timeout_session((1.0, 1.0))
    err = finishes(lambda: session.request("GET", f"http://127.0.0.1:{silent}/", timeout=None))
    assert isinstance(err, requests.Timeout), err


def test_google_sign_in_token_request_times_out(silent: int) -> None:
    """The installed-app flow's token exchange (requests-oauthlib, no timeout of its own) is bounded."""
    import requests

    from idealweek.providers.google.auth import _loopback_transport, make_flow

    token_uri = f"http://127.0.0.1:{silent}/token"
    config = {
        "installed": {
            "client_id": "cid",
            "client_secret": "secret",
            "auth_uri": "https://accounts.example.com/auth",
            "token_uri": token_uri,
            "redirect_uris": ["http://localhost"],
        }
    }
    flow = make_flow(config, timeout=(1.0, 1.0))
    flow.redirect_uri = "http://localhost:1/"

    def exchange() -> None:
        with _loopback_transport(token_uri):
            flow.fetch_token(code="a-code")

    err = finishes(exchange)
    assert isinstance(err, requests.Timeout), err


def test_google_api_calls_time_out(silent: int) -> None:
    """The Calendar API client (googleapiclient over httplib2) gives up on a silent server: a transient error."""
    from google.oauth2.credentials import Credentials

    from idealweek.providers.google.client import GoogleClient

    creds = Credentials(token="ya29.test-token")  # type: ignore[no-untyped-call]
    client = GoogleClient(
        "home",
        creds,
        api_root=f"http://127.0.0.1:{silent}/calendar/v3/",
        retry=RetryPolicy(attempts=1),
        timeout=1.0,
    )
    err = finishes(lambda: client.execute(client.service.events().list(calendarId="primary"), "events.list"))
    assert isinstance(err, TransientError), err


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        (
            '[accounts.w]\nprovider = "outlook"\nclient_id = "x"\ngraph_root = "http://graph.example.com/v1.0"\n',
            "graph_root",
        ),
        ('[accounts.w]\nprovider = "outlook"\nclient_id = "x"\nauthority = "http://login.example.com"\n', "authority"),
        ('[accounts.g]\nprovider = "google"\napi_root = "http://www.example.com/calendar/v3/"\n', "api_root"),
        ('[accounts.g]\nprovider = "google"\ntoken_uri = "http://oauth.example.com/token"\n', "token_uri"),
        ('[calendars.s]\nsource = "ics"\nroles = ["personal"]\nurl = "http://school.example/private-k/f.ics"\n', "url"),
    ],
)
def test_config_refuses_plain_http_service_addresses(toml: str, key: str) -> None:
    """graph_root, authority, api_root, token_uri and an ICS url must be https (http only on loopback): exit 2."""
    from idealweek.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        loads(toml)
    text = info.value.render()
    assert key in text and "https://" in text
    assert "private-k" not in text
    loopback = toml.replace("graph.example.com", "127.0.0.1:8080").replace("login.example.com", "localhost:9")
    loopback = loopback.replace("www.example.com", "[::1]:9").replace("oauth.example.com", "127.0.0.1:9")
    loads(loopback.replace("school.example", "127.0.0.1:9"))
