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
* :func:`bounded_get` — a GET with bounds for untrusted servers (ICS feeds): a size cap after
  decoding, an overall deadline, redirects only to https (http only on loopback).
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import ipaddress
import random
import time
import zlib
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from idealweek.clock import Clock, system_clock
from idealweek.errors import ProviderError, TransientError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
TIMEOUT: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)
"""(connect, read) seconds for every HTTP request idealweek makes."""
if TYPE_CHECKING:
    import threading

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


# --------------------------------------------------------------------------- bounded fetch

MAX_BODY_BYTES = 20 * 1024 * 1024
"""Default cap on a fetched body, counted after Content-Encoding is undone."""
FETCH_DEADLINE = 60.0
"""Default seconds one fetch may take in all: connecting, redirects, headers and body."""
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Fetched:
    """A complete answer of :func:`bounded_get` (redirects followed, body decoded)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    """The address that answered (after redirects)."""


class _Decoder:
    """Undo gzip/deflate with a bound on the output of each step, so a bomb is stopped at the cap."""

    def __init__(self, encoding: str) -> None:
        self.mode = encoding.strip().lower() or "identity"
        if self.mode == "x-gzip":
            self.mode = "gzip"
        if self.mode not in ("identity", "gzip", "deflate"):
            raise ProviderError(f"unsupported Content-Encoding {encoding[:40]!r}")
        self._z: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.mode == "gzip" else None
        self._pending = b""

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data`` (and of input held back before), at most ``room`` + 1 of them."""
        if self.mode == "identity":
            return data
        data = self._pending + data
        if self._z is None:  # deflate: zlib-wrapped as the RFC says, or raw as some servers send it
            if len(data) < 2:
                self._pending = data
                return b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._z = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        try:
            out: bytes = self._z.decompress(data, room + 1)
        except zlib.error as exc:
            raise ProviderError(f"the answer is not valid {self.mode} data ({exc})") from None
        self._pending = self._z.unconsumed_tail
        if self.mode == "gzip" and self._z.eof and self._z.unused_data and not self._pending:
            self._pending = self._z.unused_data  # a further gzip member
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return out

    def more(self) -> bool:
        """True while input is held back (the last step hit its output bound, or a new member starts)."""
        return bool(self._pending) and self.mode != "identity"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def bounded_get(
    session: requests.Session,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    deadline: float = FETCH_DEADLINE,
    timeout: tuple[float, float] = TIMEOUT,
    max_redirects: int = MAX_REDIRECTS,
) -> Fetched:
    """GET ``url`` from a server that is not trusted: every answer is bounded.

    * the body is read as a stream and refused once it exceeds ``max_bytes`` **after** gzip/deflate
      are undone (a 2 MB bomb never becomes 1 GB in memory);
    * the whole fetch — connecting, each redirect, headers, body — ends after ``deadline`` seconds,
      however slowly the server drips;
    * redirects are followed only to https (plain http only from and to the loopback interface),
      at most ``max_redirects`` of them.

    Raises :class:`~idealweek.errors.TransientError` (network failure, deadline) or
    :class:`~idealweek.errors.ProviderError` (too large, refused redirect, bad encoding), each with a
    one-line message that does not contain the address (the caller names the feed its own way).
    Any status is returned as a :class:`Fetched` (the caller decides what a 304 or a 503 means).
    """
    import threading

    outcome: list[Fetched | BaseException] = []
    live: list[requests.Response] = []
    cancelled = threading.Event()

    def work() -> None:
        try:
            outcome.append(_fetch(session, url, headers or {}, max_bytes, timeout, max_redirects, cancelled, live))
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            outcome.append(exc)

    worker = threading.Thread(target=work, name="idealweek-fetch", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        cancelled.set()
        for resp in live:  # unblock a read in progress (urllib3 >= 2.3); else it ends with its read timeout
            shutdown = getattr(getattr(resp, "raw", None), "shutdown", None)
            if callable(shutdown):
                with contextlib.suppress(Exception):
                    shutdown()
        raise TransientError(f"no complete answer within {deadline:g} s (the fetch deadline); will try again")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _fetch(
    session: requests.Session,
    url: str,
    headers: Mapping[str, str],
    max_bytes: int,
    timeout: tuple[float, float],
    max_redirects: int,
    cancelled: threading.Event,
    live: list[requests.Response],
) -> Fetched:
    import requests as rq

    sent = {**headers, "Accept-Encoding": "gzip, deflate"}
    for _hop in range(max_redirects + 1):
        reason = insecure_reason(url)
        if reason is not None:
            raise ProviderError(f"refused address ({reason})")
        try:
            resp = session.get(url, headers=sent, stream=True, allow_redirects=False, timeout=timeout)
        except rq.RequestException as exc:
            raise TransientError(f"cannot fetch: {type(exc).__name__}") from None
        live.append(resp)
        try:
            if resp.status_code in _REDIRECTS and resp.headers.get("Location"):
                target = urljoin(url, resp.headers["Location"])
                scheme = urlsplit(target).scheme
                local = is_loopback(urlsplit(target).hostname) and is_loopback(urlsplit(url).hostname)
                if scheme != "https" and not (scheme == "http" and local):
                    raise ProviderError(f"refused a redirect to a {scheme}: address (feeds are followed to https only)")
                url = target
                continue
            body = _read_body(resp, max_bytes, cancelled)
            return Fetched(resp.status_code, resp.headers, body, url)
        finally:
            resp.close()
    raise ProviderError(f"more than {max_redirects} redirects")


def _read_body(resp: requests.Response, max_bytes: int, cancelled: threading.Event) -> bytes:
    import requests as rq
    import urllib3.exceptions

    decoder = _Decoder(resp.headers.get("Content-Encoding", ""))
    declared = resp.headers.get("Content-Length", "")
    if decoder.mode == "identity" and declared.isdigit() and int(declared) > max_bytes:
        raise ProviderError(f"the answer is larger than {_mb(max_bytes)} (Content-Length {declared}); refused")
    parts: list[bytes] = []
    size = 0
    try:
        while not cancelled.is_set():
            raw = resp.raw.read(_CHUNK, decode_content=False)
            if not raw and not decoder.more():
                break
            out = decoder.feed(raw, max_bytes - size)
            while decoder.more() and size + len(out) <= max_bytes and not cancelled.is_set():
                out += decoder.feed(b"", max_bytes - size - len(out))
            size += len(out)
            if size > max_bytes:
                raise ProviderError(f"the answer is larger than {_mb(max_bytes)} after decoding; refused")
            parts.append(out)
    except (OSError, rq.RequestException, urllib3.exceptions.HTTPError) as exc:
        if cancelled.is_set():
            raise TransientError("fetch cancelled at its deadline") from None
        raise TransientError(f"the answer broke off: {type(exc).__name__}") from None
    if cancelled.is_set():
        raise TransientError("fetch cancelled at its deadline")
    return b"".join(parts)


__all__ = [
    "CONNECT_TIMEOUT",
    "FETCH_DEADLINE",
    "MAX_BODY_BYTES",
    "READ_TIMEOUT",
    "RETRY_STATUSES",
    "TIMEOUT",
    "Clock",
    "Fetched",
    "RetryPolicy",
    "bounded_get",
    "insecure_reason",
    "is_loopback",
    "origin",
    "parse_retry_after",
    "same_origin",
    "timeout_session",
    "with_timeouts",
]
