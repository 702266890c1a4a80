"""Google Calendar (API v3) behind idealweek's provider interface.

Entry points used by :mod:`idealweek.providers.factory` and the CLI:

* :func:`make_provider` — the provider for one configured calendar;
* :func:`sign_in` — ``idealweek auth google ACCOUNT`` (installed-app loopback flow);
* :func:`list_calendars` — ``idealweek calendars ACCOUNT``;
* :func:`export_token` / :func:`import_token` — move a sign-in to a headless server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.config import Settings
from idealweek.errors import UserError
from idealweek.model import WRITE_ROLES
from idealweek.providers.base import CalendarInfo
from idealweek.providers.freebusy import FreeBusyProvider
from idealweek.providers.google.auth import (
    SCOPES,
    check_token_json,
    google_account,
    load_credentials,
    save_credentials,
    sign_in,
)
from idealweek.providers.google.client import ApiError, GoogleClient, RetryPolicy
from idealweek.providers.google.freebusy import google_busy
from idealweek.providers.google.mapping import event_id
from idealweek.providers.google.provider import EventExists, GoogleProvider
from idealweek.providers.google.resources import CalendarListParams
from idealweek.retention import history_lookback
from idealweek.secrets import SecretStore, secret_name

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials


def make_client(
    settings: Settings, account: str, secrets: SecretStore, *, retry: RetryPolicy | None = None
) -> GoogleClient:
    """An authorised client for ``account``; refreshed tokens are written back to ``secrets``."""
    acct = google_account(settings, account)
    credentials = load_credentials(secrets, account, acct)

    def store(creds: Credentials) -> None:
        save_credentials(secrets, account, creds)

    return GoogleClient(
        account=account,
        credentials=credentials,
        api_root=acct.api_root,
        retry=retry or RetryPolicy(),
        on_token=store,
    )


def make_provider(
    settings: Settings,
    config_path: Path,
    name: str,
    secrets: SecretStore,
    *,
    retry: RetryPolicy | None = None,
) -> GoogleProvider | FreeBusyProvider:
    """The provider for calendar ``name`` of the config (a ``source = "google"`` calendar)."""
    cal = settings.calendars.get(name)
    if cal is None or cal.source != "google":
        raise UserError(f"calendars.{name}: not a Google calendar")
    client = make_client(settings, cal.account, secrets, retry=retry)
    if cal.free_busy:
        return FreeBusyProvider(
            name,
            google_busy(client, name, cal.id),
            horizon=settings.horizon,
            counter=client.counter,
            close=client.close,
        )
    return GoogleProvider(
        name,
        client,
        cal.id or "primary",
        writable=bool(WRITE_ROLES & set(cal.roles)),
        zone=settings.zone,
        focus_time=settings.focus.focus_time,
        lookback=history_lookback(settings.longest_within),
    )


def list_calendars(settings: Settings, config_path: Path, account: str, secrets: SecretStore) -> list[CalendarInfo]:
    """The calendars of ``account`` with their ids, names and the user's access role."""
    client = make_client(settings, account, secrets)
    out: list[CalendarInfo] = []
    try:
        page_token: str | None = None
        while True:
            kwargs: CalendarListParams = {"maxResults": 250}
            if page_token:
                kwargs["pageToken"] = page_token
            page = client.execute(client.service.calendarList().list(**kwargs), "calendarList.list")
            for item in page.get("items") or []:
                out.append(
                    CalendarInfo(
                        id=str(item.get("id", "")),
                        name=str(item.get("summaryOverride") or item.get("summary") or ""),
                        access=str(item.get("accessRole", "")),
                        primary=bool(item.get("primary", False)),
                    )
                )
            page_token = page.get("nextPageToken")
            if not page_token:
                break
    finally:
        client.close()
    return sorted(out, key=lambda c: (not c.primary, c.name.lower(), c.id))


def export_token(secrets: SecretStore, account: str) -> str:
    """The stored sign-in of ``account`` as text for ``auth import`` on another machine (it is a secret)."""
    text = secrets.get(secret_name(account))
    if not text:
        raise UserError(f"account {account!r} is not signed in here; run `idealweek auth google {account}` first")
    return text


def import_token(secrets: SecretStore, account: str, text: str) -> None:
    """Store a sign-in exported by :func:`export_token`."""
    secrets.set(secret_name(account), check_token_json(text))


__all__ = [
    "SCOPES",
    "ApiError",
    "EventExists",
    "GoogleClient",
    "GoogleProvider",
    "RetryPolicy",
    "event_id",
    "export_token",
    "import_token",
    "list_calendars",
    "make_client",
    "make_provider",
    "sign_in",
]
