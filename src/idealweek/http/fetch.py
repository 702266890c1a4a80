"""A GET with bounds for untrusted servers (ICS feeds), on the rules of :mod:`idealweek.http`.

:func:`bounded_get` caps the body after Content-Encoding is undone (a gzip bomb stops at the cap),
bounds the whole fetch by a deadline (connecting, redirects, headers and body), and follows
redirects only to https (plain http only from loopback to loopback).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from idealweek.errors import ProviderError, TransientError
from idealweek.http import TIMEOUT, insecure_reason, is_loopback

if TYPE_CHECKING:
    import threading

    import requests

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
