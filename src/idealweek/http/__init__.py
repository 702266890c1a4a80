"""HTTP rules every provider shares: one retry policy, one ``Retry-After`` reader, timeouts, safe origins.

* :class:`RetryPolicy` — truncated exponential backoff with jitter, a cap on how long a
  ``Retry-After`` is waited for (a longer one goes up as :class:`~idealweek.errors.TransientError`
  and the next cycle tries again); ``sleep`` and ``jitter`` are injectable for tests.
* :func:`parse_retry_after` — both forms of ``Retry-After`` (delta-seconds and an HTTP date),
  against an injected clock.
* :func:`timeout_session` — a ``requests`` session that never sends a request without a connect
  and a read timeout, even when a library (MSAL, requests-oauthlib) passes none.
* :func:`check_origin` / :func:`same_origin` — bearer tokens go only to https (plain http only on
  the loopback interface, for tests and local servers) and only to the configured origin.
* :mod:`idealweek.http.fetch` — :func:`~idealweek.http.fetch.bounded_get`, a GET with bounds for
  untrusted servers (ICS feeds): a size cap after decoding, an overall deadline, redirects only to
  https (http only on loopback).
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import random
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from idealweek.clock import Clock, system_clock

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
TIMEOUT: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)
"""(connect, read) seconds for every HTTP request idealweek makes."""
if TYPE_CHECKING:
    import requests
    from requests.sessions import _Settings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Truncated exponential backoff with jitter; ``sleep`` and ``jitter`` are injectable for tests."""

    attempts: int = 5
    """Tries in all, the first included."""
    base: float = 1.0
    """First backoff in seconds; doubles each attempt, at most ``cap``."""
    cap: float = 16.0
    max_wait: float = 60.0
    """A ``Retry-After`` longer than this is not waited for: the error goes up and the next cycle retries."""
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return max(0.0, float(retry_after))
        span = min(self.cap, self.base * (2.0**attempt))
        return span / 2 + self.jitter() * span / 2

    def too_long(self, wait: float) -> bool:
        """True when ``wait`` is longer than this policy waits inside one cycle."""
        return wait > self.max_wait


def parse_retry_after(value: str | None, clock: Clock = system_clock) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock()).total_seconds())


def timeout_session(timeout: tuple[float, float] = TIMEOUT, ca_bundle: str = "") -> requests.Session:
    """A ``requests`` session whose requests always carry a (connect, read) timeout.

    MSAL and requests-oauthlib call ``session.request(...)`` without a timeout (or with ``None``)
    when handed a session: a silent server would hang a cycle until the watchdog.  With
    ``ca_bundle`` TLS is verified against that PEM file, and ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
    cannot override it (plain requests lets them win).
    """
    session: requests.Session = _session_class()(timeout, ca_bundle)
    return session


def with_timeouts(session: requests.Session, timeout: tuple[float, float] = TIMEOUT) -> requests.Session:
    """Give an existing session (one a library made, e.g. requests-oauthlib's) a default timeout.

    Its callers pass ``timeout=None`` explicitly, which ``functools.partial`` would not override.
    """
    original = session.request

    def request(method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout
        return original(method, url, *args, **kwargs)

    setattr(session, "request", request)  # noqa: B010 (an instance attribute shadows the method; mypy forbids assigning it)
    return session


@functools.cache
def _session_class() -> Callable[[tuple[float, float], str], requests.Session]:
    import requests as rq

    class TimeoutSession(rq.Session):
        def __init__(self, timeout: tuple[float, float], ca_bundle: str) -> None:
            super().__init__()
            self.default_timeout = timeout
            self.ca_bundle = ca_bundle
            if ca_bundle:
                self.verify = ca_bundle

        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> rq.Response:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = self.default_timeout
            return super().request(method, url, *args, **kwargs)

        def merge_environment_settings(
            self,
            url: str | bytes | None,
            proxies: MutableMapping[str, str] | None,
            stream: bool | None,
            verify: bool | str | None,
            cert: str | tuple[str, str] | None,
        ) -> _Settings:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if self.ca_bundle:
                settings["verify"] = self.ca_bundle
            return settings

    return TimeoutSession


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_reason(url: str) -> str | None:
    """Why a service URL must not receive tokens or private data, or ``None`` when it may.

    https anywhere; plain http only on the loopback interface (tests, a local server).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a valid address"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and is_loopback(host):
        return None
    if parts.scheme == "http" and host:
        return "plain http:// would expose tokens and calendar data on the network: use https:// (http: localhost only)"
    return "not an https:// address"


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``; the port filled in for http/https."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def same_origin(url: str, root: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``root``."""
    try:
        return origin(url) == origin(root)
    except ValueError:
        return False


__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "RETRY_STATUSES",
    "TIMEOUT",
    "Clock",
    "RetryPolicy",
    "insecure_reason",
    "is_loopback",
    "origin",
    "parse_retry_after",
    "same_origin",
    "timeout_session",
    "with_timeouts",
]
