"""The HTTP side of the Google provider: one authorised ``googleapiclient`` service per account,
request counting, error classification and retries with truncated exponential backoff.

The client library retries only when asked and ignores ``Retry-After``, so it is
always called with ``num_retries=0`` and retries happen here, with the shared
:class:`~idealweek.http.RetryPolicy`: 403
``rateLimitExceeded`` / ``userRateLimitExceeded``, 429, 5xx and connection
errors are retried with jitter, honouring ``Retry-After``; after the retry
budget a :class:`~idealweek.errors.TransientError` is raised so the next cycle
tries again.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.errors import AuthError, ProviderError, TransientError
from idealweek.http import READ_TIMEOUT, RETRY_STATUSES, RetryPolicy, parse_retry_after
from idealweek.lazymodule import import_deferring
from idealweek.providers.base import RequestCounter
from idealweek.providers.google.resources import ApiRequest, CalendarService

if TYPE_CHECKING:
    import httplib2
    from google.oauth2.credentials import Credentials
else:
    # httplib2 imports pyparsing (~25 ms, a tenth of a steady run's imports) only to parse the challenges of
    # 401 answers: that part is imported when an answer carries one (issue 15; lazymodule.py).
    httplib2 = import_deferring("httplib2", "httplib2.auth")

T = TypeVar("T")

log = structlog.get_logger()

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


class ApiError(ProviderError):
    """A Google API error that is not worth retrying (the provider maps 404/409/410/412)."""

    def __init__(self, message: str, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def error_details(content: bytes | str | None) -> tuple[str, str]:
    """(reason, message) from a Google error body ``{"error": {"code", "message", "errors": [...]}}``."""
    if not content:
        return "", ""
    try:
        doc = json.loads(content)
    except (ValueError, TypeError):
        return "", ""
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return "", ""
    message = str(err.get("message", ""))
    errors = err.get("errors")
    reason = ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason", ""))
    if not reason:
        reason = str(err.get("status", ""))
    return reason, message


def request_kind(method: str, uri: str, token_uri: str) -> tuple[str, bool]:
    """(kind, is_write) of one HTTP request, for the request counter."""
    if token_uri and uri.startswith(token_uri):
        return "token", False
    path = urlsplit(uri).path
    if "/calendarList" in path:
        return "calendarList.list", False
    if path.rstrip("/").endswith("/freeBusy"):
        return "freebusy.query", False  # a POST that only reads
    if method == "GET":
        return ("events.list", False) if path.rstrip("/").endswith("/events") else ("events.get", False)
    names = {"POST": "events.insert", "PATCH": "events.patch", "PUT": "events.update", "DELETE": "events.delete"}
    return names.get(method, method.lower()), True


class CountingHttp(httplib2.Http):  # type: ignore[misc]
    """``httplib2.Http`` that counts every request it sends (API calls and token refreshes)."""

    def __init__(self, counter: RequestCounter, token_uri: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.counter = counter
        self.token_uri = token_uri

    def request(
        self, uri: str, method: str = "GET", *args: object, **kwargs: object
    ) -> tuple[httplib2.Response, bytes]:
        kind, write = request_kind(method, uri, self.token_uri)
        self.counter.count(kind, write=write)
        answer: tuple[httplib2.Response, bytes] = super().request(uri, method, *args, **kwargs)
        return answer

    def close_all(self) -> None:
        for conn in list(self.connections.values()):
            conn.close()
        self.connections.clear()


def renew_message(account: str) -> str:
    return (
        f"the Google sign-in of account {account!r} is no longer valid (invalid_grant: the refresh token "
        f"expired or was revoked). Sign in again with `idealweek auth google {account}`. Note: OAuth apps "
        'left in Google\'s "Testing" publishing status get refresh tokens that expire after 7 days; set the '
        'app to "In production" in Google Cloud console to avoid this.'
    )


@dataclass
class GoogleClient:
    """An authorised Calendar v3 service for one account, with retries and request counting.

    ``on_token`` is called with the credentials whenever they were refreshed,
    so the new access token is written back to the secret store.
    """

    account: str
    credentials: Credentials
    api_root: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    counter: RequestCounter = field(default_factory=RequestCounter)
    on_token: Callable[[Credentials], None] | None = None
    timeout: float = READ_TIMEOUT
    """httplib2's socket timeout: bounds the connect and every read (API calls and token refreshes)."""
    clock: Clock = system_clock
    service: CalendarService = field(init=False)
    _http: CountingHttp = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        from google_auth_httplib2 import AuthorizedHttp  # type: ignore[import-untyped]

        # The discovery module imports what it uses only when it makes the HTTP client itself (mutual TLS,
        # service accounts, ~3 ms): this client brings its own, so those are imported when first used.  So is
        # the email package's policy machinery (~2.4 ms with its header registry and parser), which its MIME
        # classes load for media uploads and batches only (they name email.policy when one is made).
        import_deferring(
            "googleapiclient.discovery",
            "google.auth.transport.mtls",
            "google.oauth2.service_account",
            "email.policy",
        )
        from googleapiclient.discovery import build_from_document

        token_uri = str(getattr(self.credentials, "token_uri", "") or "")
        self._http = CountingHttp(self.counter, token_uri, self.timeout)
        authed = AuthorizedHttp(self.credentials, http=self._http)
        options = {"api_endpoint": self.api_root} if self.api_root else None
        # what build("calendar", "v3", static_discovery=True, cache_discovery=False) does, from a shared document
        self.service = build_from_document(calendar_discovery(), http=authed, client_options=options)

    def execute(self, request: ApiRequest[T], what: str) -> T:
        """Run one API request with retries; raises TransientError, AuthError or ApiError."""
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        attempt = 0
        while True:
            retry_after: float | None = None
            with self._lock:
                token_before = self.credentials.token
                try:
                    return request.execute(num_retries=0)
                except HttpError as exc:
                    status = int(exc.resp.status)
                    reason, message = error_details(exc.content)
                    retryable = status in RETRY_STATUSES or (status == 403 and reason in RATE_LIMIT_REASONS)
                    if not retryable:
                        if status == 401:
                            raise AuthError(
                                f"Google refused the sign-in of account {self.account!r} ({what}: {message or 401}); "
                                f"sign in again with `idealweek auth google {self.account}`"
                            ) from None
                        raise ApiError(f"{what}: HTTP {status} {reason} {message}".rstrip(), status, reason) from None
                    retry_after = parse_retry_after(exc.resp.get("retry-after"), self.clock)
                    problem = f"HTTP {status} {reason}".rstrip()
                except RefreshError as exc:
                    if "invalid_grant" in str(exc):
                        raise AuthError(renew_message(self.account)) from None
                    if getattr(exc, "retryable", False):
                        problem = "token refresh failed (retryable)"
                    else:
                        raise AuthError(
                            f"cannot refresh the Google sign-in of account {self.account!r}: {_first_line(exc)}; "
                            f"sign in again with `idealweek auth google {self.account}`"
                        ) from None
                except (TransportError, httplib2.HttpLib2Error, OSError, http.client.HTTPException) as exc:
                    problem = f"connection error: {type(exc).__name__}"
                finally:
                    if self.credentials.token != token_before and self.on_token is not None:
                        self.on_token(self.credentials)
            if attempt + 1 >= self.retry.attempts:
                raise TransientError(
                    f"Google {what}: {problem}, still failing after {self.retry.attempts} tries", retry_after
                )
            wait = self.retry.delay(attempt, retry_after)
            if self.retry.too_long(wait):
                raise TransientError(f"Google {what}: {problem}; asked to wait {wait:.0f}s", retry_after)
            log.warning("google request failed, retrying", what=what, problem=problem, wait=round(wait, 2))
            self.retry.sleep(wait)
            attempt += 1

    def close(self) -> None:
        with self._lock:
            self._http.close_all()


_DISCOVERY: list[dict[str, object]] = []
_DISCOVERY_LOCK = threading.Lock()


def calendar_discovery() -> dict[str, object]:
    """Calendar v3's discovery document as shipped with googleapiclient, parsed once for all clients.

    A client keeps the document it is built from (~0.35 MB parsed) for as long as it lives: one client a
    calendar made the daemon hold one copy per Google calendar (issue 15).  googleapiclient reads it and,
    as a client makes its methods, sets the same common parameters into it again (one client already shares
    its document among its resources that way); the clients' HTTP, credentials and counters stay their own.
    """
    with _DISCOVERY_LOCK:
        if not _DISCOVERY:
            from googleapiclient import discovery_cache

            text = discovery_cache.get_static_doc("calendar", "v3")
            if text is None:
                raise ProviderError("googleapiclient ships no discovery document for Calendar v3")
            _DISCOVERY.append(json.loads(text))
        return _DISCOVERY[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["ApiError", "CountingHttp", "GoogleClient", "RetryPolicy", "error_details", "parse_retry_after"]
