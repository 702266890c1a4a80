"""Outlook / Microsoft 365 calendars (Microsoft Graph v1.0) behind idealweek's provider interface.

The parts: :mod:`.auth` (MSAL sign-in and the token cache), :mod:`.client`
(Graph over ``requests``: retries, throttling, the mailbox limit),
:mod:`.mapping` (Graph JSON ↔ events), :mod:`.sync` (the sync token) and
:mod:`.provider` (reading and writing one calendar).

Entry points used by :mod:`idealweek.providers.factory` and the CLI:

* :func:`make_provider` — the provider for one configured calendar;
* :func:`sign_in` — ``idealweek auth outlook ACCOUNT`` (device-code flow);
* :func:`list_calendars` — ``idealweek calendars ACCOUNT``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import cast

from idealweek.clock import Clock
from idealweek.config import OutlookAccount, Settings, resolve_path
from idealweek.errors import UserError
from idealweek.model import WRITE_ROLES
from idealweek.providers.base import CalendarInfo, RequestCounter
from idealweek.providers.freebusy import FreeBusyProvider
from idealweek.providers.outlook.auth import MsalTokens, device_code_sign_in, scopes_for
from idealweek.providers.outlook.client import GraphClient, RetryPolicy, TokenSource
from idealweek.providers.outlook.freebusy import graph_busy
from idealweek.providers.outlook.provider import OutlookProvider, utc_now
from idealweek.providers.outlook.resources import CalendarsPage
from idealweek.providers.outlook.sync import SyncState
from idealweek.secrets import SecretStore

# -- building providers from the config ------------------------------------------


def _account(settings: Settings, account: str) -> OutlookAccount:
    acct = settings.accounts.get(account)
    if not isinstance(acct, OutlookAccount):
        known = ", ".join(sorted(n for n, a in settings.accounts.items() if isinstance(a, OutlookAccount)))
        raise UserError(f"accounts.{account}: no Outlook account of that name (Outlook accounts: {known or 'none'})")
    return acct


def _verify(acct: OutlookAccount, config_path: Path) -> bool | str:
    return str(resolve_path(config_path, acct.ca_bundle)) if acct.ca_bundle else True


def _shared(settings: Settings, account: str) -> bool:
    return any(c.account == account and c.shared for c in settings.calendars.values() if c.source == "outlook")


def make_tokens(settings: Settings, config_path: Path, account: str, secrets: SecretStore) -> MsalTokens:
    acct = _account(settings, account)
    return MsalTokens(
        account, acct, secrets, scopes_for(acct, _shared(settings, account)), verify=_verify(acct, config_path)
    )


def make_provider(
    settings: Settings,
    config_path: Path,
    name: str,
    secrets: SecretStore,
    *,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] | None = None,
    tokens: TokenSource | None = None,
    policy: RetryPolicy | None = None,
) -> OutlookProvider | FreeBusyProvider:
    """The provider for Outlook calendar ``name`` of the config (signs in silently from the secret store)."""
    cal = settings.calendars[name]
    acct = _account(settings, cal.account)
    verify = _verify(acct, config_path)
    source: TokenSource = tokens or make_tokens(settings, config_path, cal.account, secrets)
    client = GraphClient(
        acct.graph_root,
        source,
        mailbox=f"{acct.graph_root}|{acct.tenant}|{acct.client_id}|{cal.account}",
        counter=RequestCounter(),
        label=name,
        page_size=acct.page_size,
        verify=verify,
        policy=policy,
        sleep=sleep,
    )
    if cal.free_busy:
        return FreeBusyProvider(
            name,
            graph_busy(client, name, cal.id),
            horizon=settings.horizon,
            counter=client.counter,
            clock=clock,
            close=client.close,
        )
    writable = bool(WRITE_ROLES & set(cal.roles))
    return OutlookProvider(
        name,
        client,
        "" if cal.id in ("", "primary") else cal.id,
        writable=writable,
        horizon=settings.horizon,
        lookback=settings.longest_within + timedelta(days=1),
        zone=settings.zone,
        clock=clock,
    )


def sign_in(
    settings: Settings,
    config_path: Path,
    account: str,
    secrets: SecretStore,
    *,
    prompt: Callable[[str], None] = print,
) -> None:
    """``idealweek auth outlook ACCOUNT``: the MSAL device-code flow; the token cache goes to ``secrets``."""
    tokens = make_tokens(settings, config_path, account, secrets)
    user = device_code_sign_in(tokens, prompt)
    prompt(f"Signed in to Outlook account {account!r}{' as ' + user if user else ''}.")


def list_calendars(settings: Settings, config_path: Path, account: str, secrets: SecretStore) -> list[CalendarInfo]:
    """``idealweek calendars ACCOUNT``: the mailbox's calendars with their ids."""
    acct = _account(settings, account)
    client = GraphClient(
        acct.graph_root,
        make_tokens(settings, config_path, account, secrets),
        mailbox=f"{acct.graph_root}|{acct.tenant}|{acct.client_id}|{account}",
        counter=RequestCounter(),
        label=account,
        page_size=acct.page_size,
        verify=_verify(acct, config_path),
    )
    try:
        return fetch_calendars(client)
    finally:
        client.close()


def fetch_calendars(client: GraphClient) -> list[CalendarInfo]:
    out: list[CalendarInfo] = []
    url: str | None = "/me/calendars"
    while url:
        resp = client.request("GET", url, kind="calendars", headers={"Prefer": client.prefer()})
        page = cast("CalendarsPage", client.json_or_raise(resp, "list calendars"))
        for doc in page.get("value", []):
            if not isinstance(doc, dict):
                continue
            out.append(
                CalendarInfo(
                    id=str(doc.get("id", "")),
                    name=str(doc.get("name") or ""),
                    access="write" if doc.get("canEdit") else "read",
                    primary=bool(doc.get("isDefaultCalendar")),
                )
            )
        nxt = page.get("@odata.nextLink")
        url = str(nxt) if nxt else None
    return out


__all__ = [
    "OutlookProvider",
    "SyncState",
    "fetch_calendars",
    "list_calendars",
    "make_provider",
    "make_tokens",
    "sign_in",
]
