"""The HTTP side of CalDAV: a ``caldav.DAVClient`` that counts, retries and speaks idealweek's errors.

* Every HTTP exchange is counted (a response hook on the session), so the
  401 round trip of an auth negotiation counts too.
* TLS is always verified: against ``ca_bundle`` when one is configured (an
  explicit path wins over ``REQUESTS_CA_BUNDLE``), else the system store.
  Plain ``http://`` is refused unless the host is loopback (the config checks
  it; the client checks again).
* Dropped connections, timeouts, 5xx and 429/503 are retried a few times with
  the shared :class:`~idealweek.http.RetryPolicy` (``Retry-After`` honoured; one
  longer than the policy waits goes up at once, and the next cycle tries again);
  what is left becomes :class:`~idealweek.errors.TransientError`.  401 → :class:`AuthError` that
  says how to renew the password.  Every request is safe to repeat: reads are
  idempotent, creates carry ``If-None-Match: *``, updates and deletes
  ``If-Match``.
* The library's own loggers are held at WARNING: its debug output would
  include request headers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast
from urllib.parse import urlsplit

import structlog

from idealweek.config.accounts import is_loopback
from idealweek.errors import AuthError, ProviderError, TransientError
from idealweek.http import RetryPolicy
from idealweek.providers.base import RequestCounter

if TYPE_CHECKING:
    from caldav.davclient import DAVClient
    from caldav.response import DAVResponse

log = structlog.get_logger(__name__)

WRITE_METHODS = frozenset({"PUT", "DELETE", "POST", "PROPPATCH", "MKCALENDAR", "MKCOL"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
DEFAULT_TIMEOUT = 30

T = TypeVar("T")

for _name in ("caldav", "niquests", "urllib3_future"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class DavFailure(ProviderError):
    """The server refused or garbled a request (not worth retrying now); ``status`` when there was one."""

    def __init__(self, message: str, status: int | None, preconditions: list[str]) -> None:
        super().__init__(message)
        self.status = status
        self.preconditions = preconditions


def dav_retry() -> RetryPolicy:
    """The shared retry policy (:class:`idealweek.http.RetryPolicy`) as CalDAV uses it: three tries, 0.5 s then
    1 s (a self-hosted server that fails is rarely better a few seconds later)."""
    return RetryPolicy(attempts=3, base=0.5, cap=8.0)


@dataclass
class ClientOptions:
    url: str
    username: str
    password: str
    features: str = ""
    ca_bundle: str = ""
    """Path of a PEM bundle, or empty for the system store."""
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=dav_retry)
    account: str = ""


def check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise ProviderError(f"{where}: {url!r} must be https:// (plain http:// only for loopback hosts)")


def feature_profile(name: str, where: str) -> str | None:
    """The caldav library's compatibility profile ``name`` (``None`` for no name); a clear error when unknown."""
    if not name:
        return None
    from caldav import compatibility_hints

    profile = getattr(compatibility_hints, name, None)
    if not isinstance(profile, dict) or name.startswith("_"):
        known = sorted(
            k
            for k, v in vars(compatibility_hints).items()
            if isinstance(v, dict) and not k.startswith("_") and k.islower() and any("." in key for key in v)
        )
        raise ProviderError(
            f"{where}.features: the caldav library has no profile {name!r}; known profiles: {', '.join(known)}"
        )
    return name


class DavSession:
    """One authenticated connection to a CalDAV server (one account)."""

    def __init__(self, options: ClientOptions, counter: RequestCounter | None = None) -> None:
        from caldav.davclient import DAVClient

        where = f"accounts.{options.account}" if options.account else "caldav"
        check_url(options.url, f"{where}.url")
        self.options = options
        self.counter = counter if counter is not None else RequestCounter()
        self.retry = options.retry
        verify: bool | str = options.ca_bundle or True
        self.client: DAVClient = DAVClient(
            url=options.url,
            username=options.username or None,
            password=options.password or None,
            auth_type="basic" if options.username else None,
            timeout=int(options.timeout),
            ssl_verify_cert=verify,
            # None (no profile) is the library's documented default; its annotation leaves None out.
            features=cast("str", feature_profile(options.features, where)),
            enable_rfc6764=False,
        )
        self.client.session.hooks.setdefault("response", []).append(self._count)

    def _count(self, response: T, *args: object, **kwargs: object) -> T:
        method = str(getattr(getattr(response, "request", None), "method", "") or "GET").upper()
        self.counter.count(method, write=method in WRITE_METHODS)
        return response

    # -- requests ---------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one library call (one or more exchanges), retrying transient failures; errors translated."""
        from caldav.lib import error as daverror

        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            retry_after: float | None = None
            try:
                return fn()
            except daverror.RateLimitError as exc:
                last, retry_after = exc, exc.retry_after_seconds
            except daverror.DAVError as exc:
                if exc.status == 401:
                    raise AuthError(self.auth_message()) from None
                if exc.status not in RETRY_STATUSES:
                    raise DavFailure(f"{what}: {_short(exc)}", exc.status, exc.preconditions) from None
                last = exc
            except ProviderError:
                raise
            except _ssl_errors() as exc:
                if "certificate" not in str(exc).lower():
                    last = exc  # a handshake cut short: worth another try
                else:
                    raise ProviderError(
                        f"{what}: the server's TLS certificate is not trusted ({_short(exc)}); for a server with "
                        "its own CA, name the CA's PEM file in the account's ca_bundle"
                    ) from None
            except (OSError, _niquests_errors()) as exc:
                last = exc
            except Exception as exc:  # noqa: BLE001 - an answer the library could not digest fails this calendar only
                raise DavFailure(f"{what}: unexpected answer ({type(exc).__name__}: {_short(exc)})", None, []) from None
            if retry_after is not None and self.retry.too_long(retry_after):
                # a long Retry-After is not waited out inside a cycle: the next cycle tries again
                raise TransientError(f"{what}: {_short(last)}", retry_after=retry_after) from None
            if attempt + 1 < self.retry.attempts:
                delay = self.retry.delay(attempt, retry_after)
                log.info("caldav.retry", what=what, attempt=attempt + 1, delay=round(delay, 2), error=_short(last))
                self.retry.sleep(delay)
        raise TransientError(f"{what}: {_short(last)}", retry_after=None) from None

    def request(
        self, what: str, url: str, method: str, body: str = "", headers: Mapping[str, str] | None = None
    ) -> DAVResponse:
        """One raw request (GET/PUT/DELETE) with retries; returns the library's ``DAVResponse`` (any status)."""

        def send() -> DAVResponse:
            response = self.client.request(url, method, body, dict(headers or {}))
            if response.status in RETRY_STATUSES:
                from caldav.lib import error as daverror

                raise daverror.DAVError(url=url, reason=f"HTTP {response.status}", status=response.status)
            return response

        return self.call(what, send)

    def auth_message(self) -> str:
        account = self.options.account or "ACCOUNT"
        return (
            f"the CalDAV server refused the user name or password of account {account!r}; "
            f"store the right one with `idealweek auth caldav {account}` "
            "(iCloud needs an app-specific password)"
        )

    def close(self) -> None:
        self.client.close()


def sync_result(value: T | Awaitable[T]) -> T:
    """The answer of a caldav library call made through a ``DAVClient``.

    The library types its methods for sync and async clients at once (``X | Coroutine[..., X]``);
    a sync client never answers with an awaitable.
    """
    if isinstance(value, Awaitable):
        raise TypeError("the caldav library answered a sync call with an awaitable")
    return value


def _niquests_errors() -> type[Exception]:
    import niquests

    return niquests.exceptions.RequestException


def _ssl_errors() -> tuple[type[Exception], ...]:
    import ssl

    import niquests

    return (niquests.exceptions.SSLError, ssl.SSLError)


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "failed"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


__all__ = [
    "ClientOptions",
    "DavFailure",
    "DavSession",
    "RetryPolicy",
    "check_url",
    "dav_retry",
    "feature_profile",
    "sync_result",
]
