"""Microsoft sign-in with MSAL: device-code flow, silent refresh, the token cache in the secret store.

The serialized :class:`msal.SerializableTokenCache` lives in the secret store
under ``token:<account>`` and is written back whenever MSAL changed it.
Tokens are never logged.  A local or national-cloud authority that MSAL does
not know is used with ``instance_discovery=False`` (its tenant discovery
still runs); TLS is always verified, against ``ca_bundle`` when configured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, TypedDict
from urllib.parse import urlparse

import requests
import structlog

from idealweek.config import OutlookAccount
from idealweek.errors import AuthError, TransientError, UserError
from idealweek.http import TIMEOUT
from idealweek.providers.outlook.client import make_session
from idealweek.secrets import SecretStore, secret_name

log = structlog.get_logger(__name__)

SCOPE_RW = "Calendars.ReadWrite"
SCOPE_SHARED = "Calendars.ReadWrite.Shared"
_NATIONAL_GRAPH_HOSTS = frozenset({"graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"})
_http_cache: dict[object, object] = {}
"""MSAL's HTTP cache (tenant discovery), shared by the process so each provider does not rediscover."""


class TokenResult(TypedDict, total=False):
    """What MSAL's ``acquire_token_*`` calls answer: a token, or an error (the fields idealweek reads)."""

    access_token: str
    token_type: str
    expires_in: int
    id_token_claims: dict[str, object]
    error: str
    error_description: str


class DeviceFlow(TypedDict, total=False):
    """MSAL's ``initiate_device_flow`` answer (handed back to ``acquire_token_by_device_flow`` as it is)."""

    user_code: str
    device_code: str
    verification_uri: str
    message: str
    expires_in: int
    error: str
    error_description: str


class MsalApp(Protocol):
    """The calls idealweek makes on ``msal.PublicClientApplication`` (MSAL ships no types)."""

    def get_accounts(self) -> list[dict[str, object]]: ...

    def acquire_token_silent_with_error(
        self, scopes: list[str], account: dict[str, object] | None, force_refresh: bool = False
    ) -> TokenResult | None: ...

    def initiate_device_flow(self, scopes: list[str] | None = None) -> DeviceFlow: ...

    def acquire_token_by_device_flow(self, flow: DeviceFlow) -> TokenResult: ...


class TokenCache(Protocol):
    """``msal.SerializableTokenCache``, as far as idealweek uses it."""

    has_state_changed: bool

    def serialize(self) -> str: ...


def scopes_for(acct: OutlookAccount, shared: bool) -> list[str]:
    """Least scopes: ``Calendars.ReadWrite``, plus ``.Shared`` only when a shared calendar is configured.

    National clouds (US Government, China) want the scope qualified with their Graph host.
    """
    names = [SCOPE_RW] + ([SCOPE_SHARED] if shared else [])
    parsed = urlparse(acct.graph_root)
    if parsed.hostname in _NATIONAL_GRAPH_HOSTS:
        return [f"{parsed.scheme}://{parsed.hostname}/{n}" for n in names]
    return names


def one_line(exc: BaseException) -> str:
    """An exception as one short line (MSAL's messages may carry whole response bodies)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def relogin_hint(account: str) -> str:
    return f"run `idealweek auth outlook {account}` to sign in again"


class MsalTokens:
    """Bearer tokens for one Outlook account from the cached MSAL sign-in (thread-safe)."""

    def __init__(
        self,
        account: str,
        acct: OutlookAccount,
        secrets: SecretStore,
        scopes: list[str],
        verify: bool | str = True,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.timeout = timeout
        """(connect, read) seconds: MSAL's own timeout does not apply to the session it is handed."""
        self.account = account
        self.acct = acct
        self.secrets = secrets
        self.scopes = scopes
        self.verify = verify
        self._lock = threading.Lock()
        self._app: MsalApp | None = None
        self._cache: TokenCache | None = None

    def _make_app(self) -> MsalApp:
        import msal
        from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

        cache = msal.SerializableTokenCache()
        stored = self.secrets.get(secret_name(self.account))
        if stored:
            try:
                cache.deserialize(stored)
            except ValueError:
                log.warning("outlook.token_cache_unreadable", account=self.account)
        session = make_session(self.verify, self.timeout)
        authority = f"{self.acct.authority.rstrip('/')}/{self.acct.tenant}"
        host = urlparse(authority).hostname or ""
        try:
            app: MsalApp = msal.PublicClientApplication(
                self.acct.client_id,
                authority=authority,
                token_cache=cache,
                http_client=session,
                http_cache=_http_cache,
                instance_discovery=None if host in WELL_KNOWN_AUTHORITY_HOSTS else False,
            )
        except (ValueError, requests.RequestException) as exc:
            raise AuthError(
                f"accounts.{self.account}: cannot reach the Microsoft authority {authority}: {exc}"
            ) from None
        except (msal.exceptions.MsalError, RuntimeError) as exc:  # 5xx from the authority's discovery
            raise TransientError(
                f"accounts.{self.account}: the Microsoft authority {authority} failed: {one_line(exc)}"
            ) from None
        self._cache = cache
        return app

    @property
    def app(self) -> MsalApp:
        if self._app is None:
            self._app = self._make_app()
        return self._app

    def save(self) -> None:
        """Write the MSAL cache back to the secret store when MSAL changed it."""
        if self._cache is not None and self._cache.has_state_changed:
            self.secrets.set(secret_name(self.account), self._cache.serialize())
            self._cache.has_state_changed = False

    def __call__(self, force_refresh: bool = False) -> str:
        import msal

        with self._lock:
            app = self.app
            accounts = app.get_accounts()
            if not accounts:
                raise AuthError(f"accounts.{self.account}: not signed in to Outlook; {relogin_hint(self.account)}")
            try:
                result = app.acquire_token_silent_with_error(
                    self.scopes, account=accounts[0], force_refresh=force_refresh
                )
            except requests.RequestException as exc:
                raise TransientError(f"accounts.{self.account}: Microsoft sign-in service unreachable: {exc}") from None
            except (msal.exceptions.MsalError, RuntimeError, ValueError) as exc:  # 5xx or garbage from the authority
                raise TransientError(
                    f"accounts.{self.account}: token refresh failed at the Microsoft sign-in service: {one_line(exc)}"
                ) from None
            finally:
                self.save()
            if result and "access_token" in result:
                return str(result["access_token"])
            error = str((result or {}).get("error") or "no cached sign-in")
            desc = str((result or {}).get("error_description") or "").split("\r\n")[0].split("\n")[0]
            if error in ("invalid_grant", "interaction_required", "no cached sign-in"):
                raise AuthError(
                    f"accounts.{self.account}: the Outlook sign-in was revoked or has expired ({error}); "
                    f"{relogin_hint(self.account)}"
                )
            raise AuthError(f"accounts.{self.account}: token refresh failed: {error} {desc}".rstrip())


def device_code_sign_in(tokens: MsalTokens, prompt: Callable[[str], None]) -> str:
    """Run the device-code flow (works on a headless server); returns the signed-in user name."""
    app = tokens.app
    flow = app.initiate_device_flow(scopes=tokens.scopes)
    if "user_code" not in flow:
        desc = str(flow.get("error_description") or flow.get("error") or "unknown error")
        hint = ""
        if "AADSTS7000218" in desc or "AADSTS70002" in desc or "public" in desc.lower():
            hint = " — enable 'Allow public client flows' in the app registration (Authentication blade)"
        raise UserError(f"accounts.{tokens.account}: device-code sign-in could not start: {desc}{hint}")
    prompt(str(flow["message"]))
    result = app.acquire_token_by_device_flow(flow)
    tokens.save()
    if "access_token" not in result:
        desc = str(result.get("error_description") or result.get("error") or "unknown error").splitlines()[0]
        raise AuthError(f"accounts.{tokens.account}: sign-in failed: {desc}")
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or claims.get("name") or "")
