"""CalDAV calendars (iCloud, Fastmail, Nextcloud, Radicale, …) behind idealweek's provider interface.

The parts: :mod:`.client` (the ``caldav`` library's DAVClient: TLS, retries,
request counting, errors), :mod:`.mapping` (resources ⇄ events, shared ICS
parsing and recurrence expansion) and :mod:`.provider` (sync-collection reads,
conditional writes).

Entry points used by :mod:`idealweek.providers.factory` and the CLI:

* :func:`make_provider` — the provider for one configured calendar;
* :func:`sign_in` — ``idealweek auth caldav ACCOUNT`` (stores the password after a test login);
* :func:`list_calendars` — ``idealweek calendars ACCOUNT``.

The password (an app-specific password for iCloud) lives in the secret store
under ``token:ACCOUNT``, like the other services' sign-ins, so ``auth export``
and ``auth import`` move it to a headless server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.config import CalDavAccount, Settings, resolve_path
from idealweek.errors import AuthError, UserError
from idealweek.model import WRITE_ROLES
from idealweek.providers.base import CalendarInfo
from idealweek.providers.caldav.client import ClientOptions, DavSession, RetryPolicy, dav_retry
from idealweek.providers.caldav.freebusy import caldav_busy
from idealweek.providers.caldav.mapping import addresses_of
from idealweek.providers.caldav.provider import CalDavProvider, list_collections
from idealweek.providers.freebusy import FreeBusyProvider
from idealweek.providers.ics import system_clock
from idealweek.secrets import secret_name

if TYPE_CHECKING:
    from idealweek.secrets import SecretStore


def _account(settings: Settings, account: str) -> CalDavAccount:
    acct = settings.accounts.get(account)
    if not isinstance(acct, CalDavAccount):
        known = ", ".join(sorted(n for n, a in settings.accounts.items() if isinstance(a, CalDavAccount)))
        raise UserError(f"accounts.{account}: no CalDAV account of that name (CalDAV accounts: {known or 'none'})")
    return acct


def options_for(
    settings: Settings, config_path: Path, account: str, password: str, *, retry: RetryPolicy | None = None
) -> ClientOptions:
    acct = _account(settings, account)
    return ClientOptions(
        url=acct.url,
        username=acct.username,
        password=password,
        features=acct.features,
        ca_bundle=str(resolve_path(config_path, acct.ca_bundle)) if acct.ca_bundle else "",
        retry=retry or dav_retry(),
        account=account,
    )


def make_session(
    settings: Settings,
    config_path: Path,
    account: str,
    secrets: SecretStore | None,
    *,
    retry: RetryPolicy | None = None,
) -> DavSession:
    """A session for ``account`` with the password from the secret store."""
    acct = _account(settings, account)
    password = secrets.get(secret_name(account)) if secrets is not None else None
    if acct.username and not password:
        raise AuthError(
            f"no password stored for CalDAV account {account!r}; run `idealweek auth caldav {account}` first"
        )
    return DavSession(options_for(settings, config_path, account, password or "", retry=retry))


def make_provider(
    settings: Settings,
    config_path: Path,
    name: str,
    secrets: SecretStore | None,
    *,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> CalDavProvider | FreeBusyProvider:
    """The provider for calendar ``name`` of the config (a ``source = "caldav"`` calendar)."""
    cal = settings.calendars.get(name)
    if cal is None or cal.source != "caldav":
        raise UserError(f"calendars.{name}: not a CalDAV calendar")
    acct = _account(settings, cal.account)
    session = make_session(settings, config_path, cal.account, secrets, retry=retry)
    if cal.free_busy:
        return FreeBusyProvider(
            name,
            caldav_busy(session, name, cal.id),
            horizon=settings.horizon,
            counter=session.counter,
            clock=clock,
            close=session.close,
        )
    return CalDavProvider(
        name,
        session,
        cal.id,
        writable=bool(WRITE_ROLES & set(cal.roles)),
        zone=settings.zone,
        clock=clock,
        addresses=addresses_of([acct.username]),
    )


def sign_in(
    settings: Settings,
    config_path: Path,
    account: str,
    secrets: SecretStore,
    *,
    password: str,
) -> int:
    """Log in with ``password``; store it when the server accepts it.  Returns how many calendars it saw."""
    if not password:
        raise UserError("an empty password was given; nothing stored")
    session = DavSession(options_for(settings, config_path, account, password))
    try:
        found = len(list_collections(session))
    finally:
        session.close()
    secrets.set(secret_name(account), password)
    return found


def list_calendars(
    settings: Settings, config_path: Path, account: str, secrets: SecretStore | None
) -> list[CalendarInfo]:
    """The calendar collections of ``account``: id = URL path, name = display name."""
    from urllib.parse import unquote, urlsplit

    session = make_session(settings, config_path, account, secrets)
    try:
        found = list_collections(session)
    finally:
        session.close()
    out = [CalendarInfo(id=unquote(urlsplit(url).path), name=name, access="caldav") for url, name in found]
    return sorted(out, key=lambda c: (c.name.lower(), c.id))


__all__ = [
    "CalDavProvider",
    "ClientOptions",
    "DavSession",
    "RetryPolicy",
    "list_calendars",
    "make_provider",
    "make_session",
    "secret_name",
    "sign_in",
]
