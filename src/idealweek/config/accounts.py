"""``[accounts.NAME]``: Google, Outlook and CalDAV accounts (https only, except to this machine)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from idealweek.config.base import _Model


def secure_urls(**urls: str) -> None:
    """Tokens and calendar data go over https only (plain http only to this machine): else a clear error per key."""
    from idealweek.http import insecure_reason

    problems = [f"{key}: {reason}" for key, url in urls.items() if url and (reason := insecure_reason(url))]
    if problems:
        raise ValueError("\n".join(problems))


class GoogleAccount(_Model):
    provider: Literal["google"]
    """"google"."""
    client_secrets: str = ""
    """Path to the OAuth client file of a Desktop app (from Google Cloud console)."""
    api_root: str = ""
    """Calendar API root, e.g. ``https://www.googleapis.com/calendar/v3/`` (empty: Google's default)."""
    token_uri: str = ""
    """Override the token endpoint of the client file (tests, proxies)."""

    @model_validator(mode="after")
    def _check_urls(self) -> GoogleAccount:
        secure_urls(api_root=self.api_root, token_uri=self.token_uri)
        return self


class OutlookAccount(_Model):
    provider: Literal["outlook"]
    """"outlook"."""
    client_id: str
    """Application (client) ID of the app registered in Entra ID (public client flows on)."""
    tenant: str = "common"
    """Directory (tenant) ID or domain; "common" for any work, school or personal account."""
    authority: str = "https://login.microsoftonline.com"
    """The sign-in authority (national clouds have their own)."""
    graph_root: str = "https://graph.microsoft.com/v1.0"
    """Microsoft Graph root (national clouds have their own)."""
    page_size: int = Field(default=100, ge=1, le=1000)
    """Events per Graph page (1-1000)."""
    ca_bundle: str = ""
    """PEM file of extra CA certificates to trust for the authority and Graph (a TLS-inspecting proxy, a
    test CA); relative to the config file.  Empty: the usual trust store.  TLS is never switched off."""

    @model_validator(mode="after")
    def _check_urls(self) -> OutlookAccount:
        secure_urls(authority=self.authority, graph_root=self.graph_root)
        return self


LOOPBACK_HOSTS = frozenset({"localhost", "::1"})


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``::1`` and 127.0.0.0/8: the only hosts plain http:// may reach."""
    host = host.strip("[]").lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class CalDavAccount(_Model):
    provider: Literal["caldav"]
    """"caldav"."""
    url: str
    """The server's DAV root, e.g. ``https://caldav.icloud.com/`` or ``https://caldav.fastmail.com/dav/``."""
    username: str = ""
    """User name for the server; the password is kept in the secret store."""
    features: str = ""
    """The caldav library's compatibility profile (``icloud``, ``nextcloud``, ``zimbra``, …); empty: none."""
    ca_bundle: str = ""
    """PEM file of extra CA certificates to trust (a home server's own CA), relative to the config file.
    Empty: the usual trust store.  TLS is never switched off."""

    @model_validator(mode="after")
    def _check(self) -> CalDavAccount:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"url: {self.url!r} is not an http(s) URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError(
                f"url: plain http:// is allowed only for loopback hosts, not {parts.hostname!r}; use https://"
            )
        if parts.username or parts.password:
            raise ValueError("url: put the user name in username and the password in the secret store, not in the URL")
        return self


Account = Annotated[GoogleAccount | OutlookAccount | CalDavAccount, Field(discriminator="provider")]
