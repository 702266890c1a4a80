"""Bounded fetches of untrusted feeds (issue 11.4): size cap after decoding, overall deadline, https-only redirects.

A real ``requests`` session talks to a loopback HTTP server that misbehaves on purpose.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from idealweek.config import loads
from idealweek.errors import ConfigError, ProviderError, TransientError
from idealweek.http.fetch import MAX_BODY_BYTES, Fetched, bounded_get
from idealweek.model import utc
from idealweek.providers.factory import make_provider
from idealweek.providers.ics import IcsProvider

CAL = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:school-1\r\nSUMMARY:Pick-up\r\n"
    b"DTSTART:20300304T150000Z\r\nDTEND:20300304T153000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
MB = 1024 * 1024

Route = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class Server:
    """A loopback HTTP server whose answers are functions of the path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.stop = threading.Event()
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    route(self, server.stop)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def body(data: bytes, encoding: str = "", status: int = 200) -> Route:
    def route(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "text/calendar")
        if encoding:
            h.send_header("Content-Encoding", encoding)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return route


def drip(in_headers: bool = False) -> Route:
    """One byte every 0.2 s for up to two minutes (headers included when ``in_headers``)."""

    def route(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if in_headers:
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for byte in b"X-Slow: " + b"a" * 600:
                if stop.wait(0.2):
                    return
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/calendar")
        h.send_header("Content-Length", str(len(CAL) * 100))
        h.end_headers()
        for byte in CAL * 100:
            if stop.wait(0.2):
                return
            h.wfile.write(bytes([byte]))
            h.wfile.flush()

    return route


def get(url: str, **kwargs: Any) -> Fetched:
    with requests.Session() as session:
        return bounded_get(session, url, **kwargs)


# --------------------------------------------------------------------------- size after decoding


def test_gzip_bomb_is_stopped_at_the_cap(server: Server) -> None:
    """A 60 KB gzip body that inflates to 60 MB is refused at 1 MB, with a one-line reason."""
    bomb = gzip.compress(b"\0" * (60 * MB), 9)
    assert len(bomb) < 100 * 1024
    server.routes["/bomb.ics"] = body(bomb, "gzip")
    with pytest.raises(ProviderError, match=r"larger than 1 MB after decoding") as info:
        get(server.base + "/bomb.ics", max_bytes=1 * MB)
    assert "\n" not in str(info.value)


def test_gzip_bomb_against_the_default_cap_through_the_provider(server: Server) -> None:
    """Through the ICS provider a 100 MB bomb fails that feed with one line naming it; the default cap is 20 MB."""
    assert MAX_BODY_BYTES == 20 * MB
    server.routes["/secret-token-0123456789abcdef0123456789abcdef/basic.ics"] = body(
        gzip.compress(b"BEGIN:VCALENDAR\r\n" + b"\0" * (100 * MB), 9), "gzip"
    )
    provider = IcsProvider(
        "school", url=server.base + "/secret-token-0123456789abcdef0123456789abcdef/basic.ics", window=WINDOW
    )
    with pytest.raises(ProviderError) as info:
        provider.read_changes(None)
    message = str(info.value)
    assert message.startswith("school: http://127.0.0.1:") and "larger than 20 MB after decoding" in message
    assert "secret-token" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda d: gzip.compress(d)),
        ("x-gzip", lambda d: gzip.compress(d[:100]) + gzip.compress(d[100:])),  # two gzip members
        ("deflate", lambda d: zlib.compress(d)),
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send it
        ("", lambda d: d),
    ],
)
def test_compressed_answers_are_decoded(server: Server, encoding: str, encode: Callable[[bytes], bytes]) -> None:
    """gzip (also in several members), zlib and raw deflate, and plain bodies come back decoded and whole."""
    data = CAL * 5000  # about 900 KB
    server.routes["/f.ics"] = body(encode(data), encoding)
    got = get(server.base + "/f.ics", max_bytes=1 * MB)
    assert got.body == data


def test_declared_length_over_the_cap_is_refused_before_reading(server: Server) -> None:
    """A plain answer whose Content-Length is over the cap is refused at once."""
    server.routes["/big.ics"] = body(b"x" * (2 * MB))
    with pytest.raises(ProviderError, match=r"larger than 1 MB \(Content-Length 2097152\)"):
        get(server.base + "/big.ics", max_bytes=1 * MB)


def test_unknown_content_encoding_is_refused(server: Server) -> None:
    """A Content-Encoding idealweek did not ask for is refused, not passed on undecoded."""
    server.routes["/br.ics"] = body(b"whatever", "br")
    with pytest.raises(ProviderError, match=r"unsupported Content-Encoding 'br'"):
        get(server.base + "/br.ics")


# --------------------------------------------------------------------------- the deadline


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_slow_drip_ends_at_the_deadline(server: Server, in_headers: bool) -> None:
    """A server sending one byte every 0.2 s (within every read timeout) is cut off at the fetch deadline."""
    server.routes["/slow.ics"] = drip(in_headers)
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"within 1 s \(the fetch deadline\)"):
        get(server.base + "/slow.ics", deadline=1.0, timeout=(5.0, 5.0))
    # Only a sanity bound far above the deadline: without it the drip would last two minutes.
    assert time.monotonic() - started < 60


def test_slow_feed_fails_that_feed_as_transient(server: Server) -> None:
    """Through the provider a dripping feed is a transient failure naming the feed (the next cycle retries)."""
    server.routes["/slow.ics"] = drip()
    provider = IcsProvider("school", url=server.base + "/slow.ics", window=WINDOW, deadline=1.0)
    with pytest.raises(TransientError, match=r"^school: http://127\.0\.0\.1:\d+/…/slow\.ics: no complete answer"):
        provider.read_changes(None)


# --------------------------------------------------------------------------- redirects


def test_redirect_on_loopback_is_followed(server: Server) -> None:
    """A redirect that stays on the loopback interface (tests, local servers) is followed."""
    server.routes["/old.ics"] = redirect("/new.ics", 301)
    server.routes["/new.ics"] = body(CAL)
    got = get(server.base + "/old.ics")
    assert got.body == CAL and got.url.endswith("/new.ics")


@pytest.mark.parametrize(
    "location",
    ["http://example.invalid/feed.ics", "http://192.0.2.10/feed.ics", "ftp://127.0.0.1/feed.ics"],
    ids=["http-other-host", "http-address", "ftp"],
)
def test_redirect_off_https_is_refused(server: Server, location: str) -> None:
    """A redirect to plain http on another host (or to another scheme) is refused before it is followed."""
    server.routes["/feed.ics"] = redirect(location)
    with pytest.raises(
        ProviderError, match=r"refused a redirect to a (http|ftp): address \(feeds are followed to https"
    ):
        get(server.base + "/feed.ics")
    assert server.hits == ["/feed.ics"]


def test_redirect_loop_is_bounded(server: Server) -> None:
    """A redirect loop ends after five redirects."""
    server.routes["/a.ics"] = redirect("/b.ics")
    server.routes["/b.ics"] = redirect("/a.ics")
    with pytest.raises(ProviderError, match=r"more than 5 redirects"):
        get(server.base + "/a.ics")
    assert len(server.hits) == 6


def test_plain_http_feed_off_loopback_is_refused() -> None:
    """A plain http:// feed address that is not loopback is refused without connecting."""
    with pytest.raises(ProviderError, match=r"refused address \(plain http://"):
        get("http://192.0.2.10/feed.ics")


# --------------------------------------------------------------------------- configuration

WINDOW = (utc(2030, 1, 1), utc(2031, 1, 1))

CONFIG = """
timezone = "Europe/Berlin"
[calendars.school]
source = "ics"
url = "https://school.example.org/calendar.ics"
roles = ["personal"]
category = "family"
{extra}
[categories.family]
windows = [{{ days = "sat-sun", start = "09:00", end = "18:00" }}]
"""


def test_max_size_mb_is_configurable_per_feed(tmp_path: Path) -> None:
    """`max_size_mb` of an ics calendar becomes its provider's cap; without it the cap is 20 MB."""
    for extra, expected in [("max_size_mb = 3", 3 * MB), ("", 20 * MB)]:
        settings = loads(CONFIG.format(extra=extra))
        provider = make_provider(settings, tmp_path / "config.toml", "school", None)
        assert isinstance(provider, IcsProvider) and provider.max_bytes == expected


def test_max_size_mb_out_of_range_is_a_config_error() -> None:
    """A cap of 0 MB is a configuration error naming the key."""
    with pytest.raises(ConfigError, match=r"max_size_mb must be between 1 and 1024"):
        loads(CONFIG.format(extra="max_size_mb = 0"))
