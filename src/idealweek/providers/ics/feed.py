"""The read-only :class:`IcsProvider`: one ICS file or one ICS feed URL as a calendar."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from idealweek.clock import Clock, system_clock
from idealweek.errors import NotOwned, ProviderError, TransientError
from idealweek.http import parse_retry_after
from idealweek.http.fetch import FETCH_DEADLINE, MAX_BODY_BYTES, bounded_get
from idealweek.log import redact_url
from idealweek.model import DesiredEvent, Event
from idealweek.providers.base import ChangeSet, RequestCounter
from idealweek.providers.ics.expand import DEFAULT_AHEAD, DEFAULT_LOOKBACK, Window, default_window, expand_events
from idealweek.providers.ics.repair import decode, fingerprint, is_calendar, parse_calendars, prefilter

if TYPE_CHECKING:
    import icalendar
    import requests


@dataclass(slots=True)
class _Fetched:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


class IcsProvider:
    """A read-only calendar from an ICS file or an ICS URL.

    ``read_changes`` uses a content hash (plus the window) as its token: the
    same data gives an empty change set, anything else a full listing.  URL
    sources are fetched with ``If-None-Match``/``If-Modified-Since`` through
    :func:`idealweek.http.fetch.bounded_get`: at most ``max_bytes`` after decoding, within
    ``deadline`` seconds, redirects to https only.
    """

    def __init__(
        self,
        name: str,
        path: Path | None = None,
        url: str | None = None,
        zone: ZoneInfo | None = None,
        *,
        window: Window | None = None,
        reach: tuple[timedelta, timedelta] = (DEFAULT_LOOKBACK, DEFAULT_AHEAD),
        clock: Clock = system_clock,
        timeout: tuple[float, float] = (5.0, 30.0),
        session: requests.Session | None = None,
        max_bytes: int = MAX_BODY_BYTES,
        deadline: float = FETCH_DEADLINE,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("IcsProvider needs exactly one of path= or url=")
        self.name = name
        self.path = path
        self.url = url.replace("webcal://", "https://", 1) if url and url.startswith("webcal://") else url
        self.zone = zone or ZoneInfo("UTC")
        self.window = window
        self.reach = reach
        """How far back and ahead of now events are read when ``window`` is not fixed."""
        self.clock = clock
        self.timeout = timeout
        self.writable = False
        self.requests = RequestCounter()
        self._session = session
        self._own_session = session is None
        self.max_bytes = max_bytes
        """Largest feed body accepted, after decoding."""
        self.deadline = deadline
        """Seconds one fetch of the feed may take in all."""
        self._cache: _Fetched | None = None
        self._parsed: tuple[str, list[Event]] | None = None
        self._cals: tuple[str, list[icalendar.Calendar]] | None = None
        """(hash of the text parsed, calendars): a moved window expands again without a new parse."""

    @property
    def source(self) -> str:
        """The file path or (redacted) URL, for messages."""
        if self.url is not None:
            return redact_url(self.url)
        return str(self.path)

    def _window(self) -> Window:
        return self.window if self.window is not None else default_window(self.clock(), *self.reach)

    # -- fetching -----------------------------------------------------------
    def _read_file(self) -> bytes:
        assert self.path is not None
        self.requests.count("read")
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ProviderError(f"{self.name}: cannot read {self.path}: {exc.strerror or exc}") from exc

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "idealweek (ICS reader)"
        return self._session

    def _fetch_url(self) -> bytes:
        assert self.url is not None
        headers: dict[str, str] = {}
        if self._cache is not None:
            if self._cache.etag:
                headers["If-None-Match"] = self._cache.etag
            if self._cache.last_modified:
                headers["If-Modified-Since"] = self._cache.last_modified
        self.requests.count("fetch")
        session = self._http()
        try:
            resp = bounded_get(
                session,
                self.url,
                headers=headers,
                max_bytes=self.max_bytes,
                deadline=self.deadline,
                timeout=self.timeout,
            )
        except TransientError as exc:
            if self._own_session and self._session is session:
                self._session = None  # a fetch stopped at its deadline may still hold it: start afresh next time
            raise TransientError(f"{self.name}: {self.source}: {exc}") from None
        except ProviderError as exc:
            raise ProviderError(f"{self.name}: {self.source}: {exc}") from None
        status = resp.status
        if status == 304 and self._cache is not None:
            return self._cache.body
        if status == 429 or status >= 500:
            retry = parse_retry_after(resp.headers.get("Retry-After"), self.clock)
            raise TransientError(f"{self.name}: {self.source} answered HTTP {status}", retry_after=retry)
        if status >= 400 or status == 304:
            raise ProviderError(f"{self.name}: {self.source} answered HTTP {status}")
        body = resp.body
        if not is_calendar(body):
            ctype = resp.headers.get("Content-Type", "?")
            raise ProviderError(f"{self.name}: {self.source} is not an iCalendar feed (Content-Type {ctype})")
        last_mod = resp.headers.get("Last-Modified")
        self._cache = _Fetched(body, resp.headers.get("ETag"), last_mod)
        return body

    def _body(self) -> bytes:
        if self.url is not None:
            return self._fetch_url()
        body = self._read_file()
        if not is_calendar(body):
            raise ProviderError(f"{self.name}: {self.path} is not an iCalendar file")
        return body

    def _token(self, body: bytes, window: Window) -> str:
        h = hashlib.sha256(body)
        h.update(f"|{window[0].timestamp():.0f}|{window[1].timestamp():.0f}".encode())
        return "ics1:" + h.hexdigest()[:40]

    def _events(self, body: bytes, token: str, window: Window) -> list[Event]:
        if self._parsed is not None and self._parsed[0] == token:
            return self._parsed[1]
        sha = fingerprint(body)
        # Only the single events near the window are parsed; the parse is kept while that text stays the same.
        text = prefilter(decode(body), window)
        key = fingerprint(text.encode())
        if self._cals is None or self._cals[0] != key:
            self._cals = (key, parse_calendars(text, self.source))
        events = expand_events(
            self._cals[1], calendar=self.name, zone=self.zone, window=window, source=self.source, etag=sha
        )
        self._parsed = (token, events)
        return events

    # -- Provider -----------------------------------------------------------
    def read_changes(self, token: str | None) -> ChangeSet:
        window = self._window()
        body = self._body()
        new = self._token(body, window)
        if token is not None and token == new:
            return ChangeSet(full=False, token=new)
        return ChangeSet(full=True, upserts=list(self._events(body, new, window)), token=new)

    def list_owned(self) -> list[Event]:
        window = self._window()
        body = self._body()
        return [e for e in self._events(body, self._token(body, window), window) if e.tag is not None]

    def create(self, desired: DesiredEvent) -> Event:
        raise NotOwned(f"calendar {self.name!r} is read-only")

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        raise NotOwned(f"calendar {self.name!r} is read-only")

    def delete(self, existing: Event) -> None:
        raise NotOwned(f"calendar {self.name!r} is read-only")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


__all__ = ["IcsProvider", "redact_url"]
