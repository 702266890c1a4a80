"""Google sign-in: the installed-app loopback flow, and the token in the secret store.

The token (authorised-user JSON with the refresh token) lives in the secret
store under ``token:<account>``; refreshed access tokens are written back.
Google's device-code flow does not allow calendar scopes, so a headless server
signs in elsewhere (or through an SSH port forward with ``--port``) and
imports the token.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict, cast
from urllib.parse import urlsplit

import structlog

from idealweek.config import GoogleAccount, Settings, resolve_path
from idealweek.errors import AuthError, UserError
from idealweek.http import TIMEOUT, with_timeouts
from idealweek.secrets import SecretStore, secret_name

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials
    from google_auth_oauthlib.flow import InstalledAppFlow

log = structlog.get_logger()

SCOPE_EVENTS = "https://www.googleapis.com/auth/calendar.events"
SCOPE_CALENDAR_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
SCOPES = (SCOPE_EVENTS, SCOPE_CALENDAR_LIST)
"""The least that works: read/write events, and read the calendar list for ``idealweek calendars``."""
SCOPE_FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"
"""Asked for only when a ``free_busy`` household calendar uses the account (``freeBusy.query``)."""


def scopes_for(settings: Settings, account: str) -> tuple[str, ...]:
    """The scopes a sign-in of ``account`` asks for: :data:`SCOPES`, plus free/busy when a household needs it."""
    if any(c.account == account and c.free_busy for c in settings.calendars.values()):
        return (*SCOPES, SCOPE_FREEBUSY)
    return SCOPES


class InstalledClient(TypedDict, total=False):
    """The ``installed`` part of a Desktop app's OAuth client file (Google Cloud console → Download JSON)."""

    client_id: str
    client_secret: str
    project_id: str
    auth_uri: str
    token_uri: str
    auth_provider_x509_cert_url: str
    redirect_uris: list[str]


class ClientSecrets(TypedDict):
    installed: InstalledClient


def google_account(settings: Settings, account: str) -> GoogleAccount:
    """The ``[accounts.NAME]`` entry, which must be a Google account."""
    acct = settings.accounts.get(account)
    if acct is None:
        known = ", ".join(sorted(settings.accounts)) or "none defined"
        raise UserError(f"accounts.{account}: no such account in the config (known: {known})")
    if not isinstance(acct, GoogleAccount):
        raise UserError(f"accounts.{account}: is a {acct.provider} account, not a Google account")
    return acct


def load_credentials(secrets: SecretStore, account: str, acct: GoogleAccount) -> Credentials:
    """The stored credentials of ``account`` (``google.oauth2.credentials.Credentials``)."""
    from idealweek.lazymodule import import_deferring

    # google-auth imports, for what a user's sign-in never does on a cycle, cryptography's certificates
    # (~13 ms) and key serialisation (~5 ms: service-account keys, verifying ID tokens), its
    # re-authentication challenges (~3 ms: Google asking a person to prove themselves again) and its gcloud
    # helper (~2 ms with subprocess) and its JWTs with their signers and verifiers (~5 ms with cryptography's
    # elliptic curves and backend: service accounts and ID tokens): each is imported when first used (issue 15;
    # lazymodule.py).
    import_deferring(
        "google.oauth2.credentials",
        "cryptography.x509",
        "cryptography.hazmat.primitives.serialization",
        "google.oauth2.challenges",
        "google.auth._cloud_sdk",
        "google.auth.jwt",
    )
    from google.oauth2.credentials import Credentials

    text = secrets.get(secret_name(account))
    if not text:
        raise AuthError(
            f"account {account!r} is not signed in to Google: run `idealweek auth google {account}` "
            f"(or `idealweek auth import {account}` on a headless server)"
        )
    try:
        credentials: Credentials = Credentials.from_authorized_user_info(json.loads(text))  # type: ignore[no-untyped-call]
        # google-auth always refreshes at Google's token endpoint; only the config may point elsewhere.
        if acct.token_uri:
            expiry = credentials.expiry
            credentials = credentials.with_token_uri(acct.token_uri)
            credentials.expiry = expiry  # the copy forgets it
        return credentials
    except (ValueError, TypeError, KeyError) as exc:
        raise AuthError(
            f"the stored Google sign-in of account {account!r} is damaged ({type(exc).__name__}); "
            f"sign in again with `idealweek auth google {account}`"
        ) from None


class SerializableCredentials(Protocol):
    """What is stored of a sign-in: google-auth's ``Credentials`` (untyped ``to_json``) as authorised-user JSON."""

    def to_json(self) -> str: ...


def save_credentials(secrets: SecretStore, account: str, credentials: SerializableCredentials) -> None:
    secrets.set(secret_name(account), str(credentials.to_json()))
    log.debug("google token stored", account=account)


def check_token_json(text: str) -> str:
    """Validate an exported sign-in (``auth import``); returns it normalised.  Raises UserError."""
    try:
        info = json.loads(text)
    except ValueError:
        raise UserError("this is not an exported Google sign-in (not JSON)") from None
    if not isinstance(info, dict):
        raise UserError("this is not an exported Google sign-in (not a JSON object)")
    missing = [k for k in ("refresh_token", "client_id", "client_secret") if not info.get(k)]
    if missing:
        raise UserError(f"this is not an exported Google sign-in: it lacks {', '.join(missing)}")
    token_uri = info.get("token_uri")
    if token_uri is not None:
        from idealweek.http import insecure_reason

        problem = insecure_reason(str(token_uri))
        if problem:
            raise UserError(f"this sign-in's token_uri is refused: {problem}")
    return json.dumps(info, sort_keys=True)


def _client_config(config_path: Path, account: str, acct: GoogleAccount) -> ClientSecrets:
    if not acct.client_secrets:
        raise UserError(
            f"accounts.{account}.client_secrets: set it to the OAuth client file of a Desktop app "
            "(Google Cloud console → APIs & Services → Credentials → Create credentials → OAuth client ID "
            "→ Desktop app → Download JSON)"
        )
    path = resolve_path(config_path, acct.client_secrets)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"accounts.{account}.client_secrets: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"accounts.{account}.client_secrets: cannot read {path}: {exc}") from None
    if not isinstance(doc, dict) or "installed" not in doc:
        kind = next(iter(doc), "unknown") if isinstance(doc, dict) else "unknown"
        raise UserError(
            f"accounts.{account}.client_secrets: {path} is not a Desktop app client (it is of type {kind!r}); "
            'create an OAuth client ID of type "Desktop app"'
        )
    config = cast("ClientSecrets", doc)
    if acct.token_uri:
        config["installed"]["token_uri"] = acct.token_uri
    return config


@contextlib.contextmanager
def _loopback_transport(token_uri: str) -> Iterator[None]:
    """oauthlib insists on https; allow plain http only for a token endpoint on this machine (tests)."""
    parts = urlsplit(token_uri)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not loopback or os.environ.get("OAUTHLIB_INSECURE_TRANSPORT"):
        yield
        return
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)


def make_flow(
    config: ClientSecrets, timeout: tuple[float, float] = TIMEOUT, scopes: tuple[str, ...] = SCOPES
) -> InstalledAppFlow:
    """The installed-app flow; its token request gets a connect and a read timeout (the library sets none)."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_config(config, scopes=list(scopes))
    with_timeouts(flow.oauth2session, timeout)
    return flow


def _browser_available(browser: str | None) -> bool:
    import webbrowser  # only when signing in (issue 15: not on every cycle)

    try:
        webbrowser.get(browser)
    except webbrowser.Error:
        return False
    return True


def sign_in(
    settings: Settings,
    config_path: Path,
    account: str,
    secrets: SecretStore,
    *,
    port: int = 0,
    open_browser: bool = True,
    browser: str | None = None,
    timeout: float = 600.0,
) -> None:
    """Sign ``account`` in with the installed-app loopback flow and store the token.

    Opens a browser when there is one; always prints the URL.  ``port`` fixes
    the loopback port (for an SSH port forward: ``ssh -L PORT:localhost:PORT``).
    ``browser`` names a :mod:`webbrowser` controller.
    """
    from google_auth_oauthlib.flow import WSGITimeoutError
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # type: ignore[import-untyped]

    acct = google_account(settings, account)
    config = _client_config(config_path, account, acct)
    flow = make_flow(config, scopes=scopes_for(settings, account))
    use_browser = open_browser and _browser_available(browser)
    try:
        with _loopback_transport(str(config["installed"].get("token_uri", ""))):
            credentials = flow.run_local_server(
                host="localhost",
                port=port,
                open_browser=use_browser,
                browser=browser,
                authorization_prompt_message="Open this address in a browser to sign in to Google:\n{url}\n",
                success_message="idealweek is signed in. You can close this window.",
                timeout_seconds=timeout,
                access_type="offline",
                prompt="consent",
            )
    except WSGITimeoutError:
        raise UserError(f"sign-in of account {account!r} timed out: nobody completed it in the browser") from None
    except OAuth2Error as exc:
        raise UserError(f"Google refused the sign-in of account {account!r}: {exc.error}") from None
    except OSError as exc:
        raise UserError(f"sign-in of account {account!r} failed: {exc}") from None
    granted = set(credentials.scopes or SCOPES)
    if SCOPE_EVENTS not in granted:
        raise UserError(
            f"the sign-in of account {account!r} did not grant access to calendar events; "
            "sign in again and tick the calendar permission"
        )
    if not credentials.refresh_token:
        raise UserError(f"Google returned no refresh token for account {account!r}; sign in again")
    save_credentials(secrets, account, credentials)
    log.info("google sign-in stored", account=account, store=secrets.description)
