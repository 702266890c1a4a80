"""The read-only ICS provider: files and URLs (served from a loopback HTTP server), caching and errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from idealweek.errors import NotOwned, ProviderError, TransientError
from idealweek.model import utc
from idealweek.providers.ics import IcsProvider, redact_url
from tests.contract import T0, desired

WINDOW = (utc(2030, 1, 1), utc(2031, 1, 1))
CAL = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:school-1\r\nSUMMARY:Pick-up\r\n"
    b"DTSTART:20300304T150000Z\r\nDTEND:20300304T153000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@dataclass
class Feed:
    """What the fake server serves, and what it saw."""

    body: bytes = CAL
    status: int = 200
    etag: str | None = '"v1"'
    last_modified: str | None = "Mon, 04 Mar 2030 08:00:00 GMT"
    content_type: str = "text/calendar"
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append({k.lower(): v for k, v in self.headers.items()})
            if state.status != 200:
                self.send_response(state.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if (state.etag and inm == state.etag) or (not state.etag and ims and ims == state.last_modified):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", state.content_type)
            if state.etag:
                self.send_header("ETag", state.etag)
            if state.last_modified:
                self.send_header("Last-Modified", state.last_modified)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/private-abcdef0123456789/basic.ics"
    finally:
        server.shutdown()
        server.server_close()


def url_provider(url: str) -> IcsProvider:
    return IcsProvider("school", url=url, window=WINDOW, timeout=(2.0, 5.0))


def test_url_full_read(feed: tuple[Feed, str]) -> None:
    """A URL source is fetched and parsed into events in UTC."""
    _state, url = feed
    cs = url_provider(url).read_changes(None)
    assert cs.full and [(e.uid, e.start) for e in cs.upserts] == [("school-1", utc(2030, 3, 4, 15))]


def test_etag_caching_gives_304_and_no_change(feed: tuple[Feed, str]) -> None:
    """The second read sends If-None-Match; the 304 means no change and costs one request."""
    state, url = feed
    p = url_provider(url)
    cs = p.read_changes(None)
    cs2 = p.read_changes(cs.token)
    assert state.seen[1].get("if-none-match") == '"v1"'
    assert not cs2.full and list(cs2.upserts) == [] and cs2.token == cs.token
    assert p.requests.total == 2


def test_last_modified_caching(feed: tuple[Feed, str]) -> None:
    """Without an ETag the reader sends If-Modified-Since and honours the 304."""
    state, url = feed
    state.etag = None
    p = url_provider(url)
    cs = p.read_changes(None)
    cs2 = p.read_changes(cs.token)
    assert state.seen[1].get("if-modified-since") == state.last_modified
    assert not cs2.full


def test_304_without_token_still_lists_events(feed: tuple[Feed, str]) -> None:
    """A full read that gets a 304 answers from the cached body."""
    _state, url = feed
    p = url_provider(url)
    p.read_changes(None)
    cs = p.read_changes(None)
    assert cs.full and [e.uid for e in cs.upserts] == ["school-1"]


def test_changed_feed_is_a_full_read(feed: tuple[Feed, str]) -> None:
    """A new body (new ETag) gives a full change set with the new events."""
    state, url = feed
    p = url_provider(url)
    cs = p.read_changes(None)
    state.body = CAL.replace(b"Pick-up", b"Pick-up late")
    state.etag = '"v2"'
    cs2 = p.read_changes(cs.token)
    assert cs2.full and [e.title for e in cs2.upserts] == ["Pick-up late"]


def test_server_error_is_transient(feed: tuple[Feed, str]) -> None:
    """A 5xx answer is a TransientError."""
    state, url = feed
    state.status = 503
    with pytest.raises(TransientError, match="503"):
        url_provider(url).read_changes(None)


def test_client_error_names_url_and_status(feed: tuple[Feed, str]) -> None:
    """A 4xx answer is a ProviderError naming the (redacted) URL and the status."""
    state, url = feed
    state.status = 404
    with pytest.raises(ProviderError, match=r"127\.0\.0\.1.*404") as info:
        url_provider(url).read_changes(None)
    assert not isinstance(info.value, TransientError)
    assert "abcdef0123456789" not in str(info.value)


def test_non_calendar_content_is_refused(feed: tuple[Feed, str]) -> None:
    """An HTML page instead of a calendar is a ProviderError."""
    state, url = feed
    state.body = b"<html>login</html>"
    state.content_type = "text/html"
    with pytest.raises(ProviderError, match="not an iCalendar"):
        url_provider(url).read_changes(None)


def test_connection_refused_is_transient() -> None:
    """A server that is not there is a TransientError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientError):
        url_provider(f"http://127.0.0.1:{port}/x.ics").read_changes(None)


def test_redact_url_hides_secret_path() -> None:
    """Private feed URLs are shown without their secret path or query."""
    shown = redact_url("https://calendar.google.com/calendar/ical/me%40x/private-s3cr3t/basic.ics?k=v")
    assert shown == "https://calendar.google.com/…/basic.ics"


def test_ics_provider_is_read_only(tmp_path: Path) -> None:
    """Create, update and delete raise NotOwned; list_owned lists only tagged events (none here)."""
    path = tmp_path / "a.ics"
    path.write_bytes(CAL)
    p = IcsProvider("f", path=path, window=WINDOW)
    assert not p.writable and p.list_owned() == []
    ev = p.read_changes(None).upserts[0]
    d = desired("f", "k", T0)
    with pytest.raises(NotOwned):
        p.create(d)
    with pytest.raises(NotOwned):
        p.update(ev, d)
    with pytest.raises(NotOwned):
        p.delete(ev)


def test_missing_or_non_calendar_file_is_a_provider_error(tmp_path: Path) -> None:
    """A missing file, or one that is not a calendar, is a ProviderError naming the file."""
    with pytest.raises(ProviderError, match=r"gone\.ics"):
        IcsProvider("f", path=tmp_path / "gone.ics", window=WINDOW).read_changes(None)
    (tmp_path / "notes.ics").write_text("shopping list")
    with pytest.raises(ProviderError, match=r"notes\.ics"):
        IcsProvider("f", path=tmp_path / "notes.ics", window=WINDOW).read_changes(None)


def test_default_window_follows_the_clock(tmp_path: Path) -> None:
    """Without window=, the read window is 15 days back to 16 days ahead of the injected clock (by default)."""
    path = tmp_path / "a.ics"
    path.write_bytes(CAL)  # one event on 2030-03-04
    for now, seen in [
        (utc(2030, 2, 16), True),
        (utc(2030, 2, 15), False),
        (utc(2030, 3, 19), True),
        (utc(2030, 3, 20), False),
    ]:
        assert [e.uid for e in IcsProvider("f", path=path, clock=lambda now=now: now).read_changes(None).upserts] == (
            ["school-1"] if seen else []
        ), now
    wide = IcsProvider("f", path=path, clock=lambda: utc(2029, 3, 4), reach=(timedelta(0), timedelta(days=400)))
    assert [e.uid for e in wide.read_changes(None).upserts] == ["school-1"]
