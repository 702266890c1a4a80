"""Microsoft Graph over ``requests``: retries, throttling, the mailbox concurrency limit.

Why not ``msgraph-sdk``: it pulls in an async stack (kiota, httpx, azure-core)
for the handful of calendar calls idealweek makes; plain ``requests`` keeps
imports light and lets the fake Graph in ``tests/fakes`` speak to the same
code path.

Graph's rules this module follows (SPEC §5): ``429``/``503`` carry
``Retry-After`` (seconds or an HTTP date; the shared
:class:`~idealweek.http.RetryPolicy` decides), other 5xx and dropped
connections are transient, every request has a connect and a read timeout,
absolute ``@odata.nextLink``/``deltaLink`` URLs must be on ``graph_root``'s
origin (the bearer token goes nowhere else), and
a mailbox accepts at most 4 concurrent requests (one semaphore per account,
shared by every calendar of that account).  Every HTTP attempt is counted in
the provider's :class:`RequestCounter`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Protocol

import requests
import structlog

from idealweek.clock import Clock, system_clock
from idealweek.errors import AuthError, ProviderError, TransientError
from idealweek.http import TIMEOUT, RetryPolicy, parse_retry_after, same_origin, timeout_session
from idealweek.log import redact_url
from idealweek.providers.base import RequestCounter

log = structlog.get_logger(__name__)

MAX_CONCURRENT_PER_MAILBOX = 4
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_mailbox_lock = threading.Lock()
_mailbox_limits: dict[str, threading.BoundedSemaphore] = {}


def mailbox_semaphore(key: str) -> threading.BoundedSemaphore:
    """The semaphore that keeps one mailbox at ≤ 4 concurrent requests (shared per account key)."""
    with _mailbox_lock:
        sem = _mailbox_limits.get(key)
        if sem is None:
            sem = _mailbox_limits[key] = threading.BoundedSemaphore(MAX_CONCURRENT_PER_MAILBOX)
        return sem


def make_session(verify: bool | str = True, timeout: tuple[float, float] = TIMEOUT) -> requests.Session:
    """A session with connect/read timeouts that verifies TLS against ``verify`` (a CA bundle) or the usual store.

    MSAL is handed this session too: its own timeout does not apply to a session it is given.
    """
    return timeout_session(timeout, verify if isinstance(verify, str) else "")


class TokenSource(Protocol):
    """Hands out bearer tokens; ``force_refresh`` after the service rejected one."""

    def __call__(self, force_refresh: bool = False) -> str: ...


class GraphError(ProviderError):
    """A non-transient Graph error, with its HTTP status and error code."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def error_code(resp: requests.Response) -> tuple[str, str]:
    """``(code, message)`` of a Graph error body ``{"error": {"code", "message"}}`` (empty when absent)."""
    try:
        doc = resp.json()
    except ValueError:
        return "", ""
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return "", ""
    return str(err.get("code") or ""), str(err.get("message") or "")


class GraphClient:
    """One calendar's view of Graph: the session, the token, the retry loop and the counter."""

    def __init__(
        self,
        root: str,
        tokens: TokenSource,
        *,
        mailbox: str,
        counter: RequestCounter,
        label: str,
        page_size: int = 100,
        session: requests.Session | None = None,
        verify: bool | str = True,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        clock: Clock = system_clock,
    ) -> None:
        self.root = root.rstrip("/")
        self._tokens = tokens
        self._sem = mailbox_semaphore(mailbox)
        self.counter = counter
        self.label = label
        self.page_size = page_size
        self._own_session = session is None
        self.session = session or make_session(verify)
        policy = policy or RetryPolicy()
        if sleep is not None:
            policy = replace(policy, sleep=sleep)
        if jitter is not None:
            policy = replace(policy, jitter=jitter)
        self.policy = policy
        self._timeout = timeout
        self._clock = clock

    def url(self, path: str) -> str:
        """The address of ``path``; an absolute link (``@odata.nextLink``/``deltaLink``) must be on ``root``'s origin.

        The bearer token goes with every request: a link to another host, port or scheme is refused.
        """
        if "://" not in path:
            return self.root + path
        if not same_origin(path, self.root):
            raise ProviderError(
                f"{self.label}: Graph sent a link to another address ({redact_url(path)}); idealweek sends its "
                f"sign-in only to the configured graph_root ({redact_url(self.root)}), so this read stops here"
            )
        return path

    def prefer(self, page: bool = True) -> str:
        parts = ['outlook.timezone="UTC"']
        if page:
            parts.append(f"odata.maxpagesize={self.page_size}")
        return ", ".join(parts)

    @contextmanager
    def _slot(self) -> Iterator[None]:
        with self._sem:
            yield

    def request(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        write: bool = False,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one logical request, retrying transient faults; returns any non-transient response."""
        url = self.url(path)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            hdrs = {"Authorization": f"Bearer {self._tokens()}"}
            hdrs.update(headers or {})
            reason: str
            wait_hint: float | None = None
            with self._slot():
                self.counter.count(kind, write=write)
                try:
                    resp = self.session.request(
                        method, url, params=params, json=body, headers=hdrs, timeout=self._timeout
                    )
                except (requests.ConnectionError, requests.Timeout) as exc:
                    resp = None
                    reason = f"connection failed ({type(exc).__name__})"
            if resp is not None:
                if resp.status_code == 401:
                    code, _ = error_code(resp)
                    if not refreshed:
                        refreshed = True
                        attempt = 0
                        self._tokens(force_refresh=True)
                        continue
                    raise AuthError(
                        f"{self.label}: Microsoft Graph rejected the sign-in ({code or 401}); "
                        "run `idealweek auth outlook ACCOUNT` again"
                    )
                if resp.status_code not in TRANSIENT_STATUS:
                    return resp
                code, _ = error_code(resp)
                wait_hint = parse_retry_after(resp.headers.get("Retry-After"), self._clock)
                reason = f"HTTP {resp.status_code}{' ' + code if code else ''}"
            if wait_hint is not None and self.policy.too_long(wait_hint):
                raise TransientError(
                    f"{self.label}: Graph throttled us ({reason}), retry after {wait_hint:.0f}s", wait_hint
                )
            if attempt >= self.policy.attempts:
                raise TransientError(f"{self.label}: Graph unavailable after {attempt} attempts: {reason}", wait_hint)
            delay = self.policy.delay(attempt - 1, wait_hint)
            log.info("graph.retry", calendar=self.label, reason=reason, attempt=attempt, delay=round(delay, 2))
            self.policy.sleep(delay)

    def json_or_raise(self, resp: requests.Response, what: str) -> dict[str, object]:
        """The JSON body of a 2xx response, else a :class:`ProviderError` naming the Graph error code."""
        if 200 <= resp.status_code < 300:
            try:
                doc = resp.json()
            except ValueError:
                raise TransientError(f"{self.label}: {what}: Graph sent a body that is not JSON") from None
            if not isinstance(doc, dict):
                raise ProviderError(f"{self.label}: {what}: unexpected Graph response")
            return doc
        raise self.error(resp, what)

    def error(self, resp: requests.Response, what: str) -> ProviderError:
        code, message = error_code(resp)
        text = f"{self.label}: {what}: Graph answered {resp.status_code} {code}: {message}".rstrip(": ")
        if resp.status_code == 403:
            return AuthError(text + " (does the sign-in have Calendars.ReadWrite, or .Shared for a shared calendar?)")
        return GraphError(text, resp.status_code, code)

    def close(self) -> None:
        if self._own_session:
            self.session.close()


__all__ = [
    "MAX_CONCURRENT_PER_MAILBOX",
    "GraphClient",
    "GraphError",
    "RetryPolicy",
    "TokenSource",
    "error_code",
    "mailbox_semaphore",
    "make_session",
]
