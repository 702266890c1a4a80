"""Google's OAuth side: the consent redirect (PKCE checked), the token endpoint, bearer checks, and back doors."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.fakes.google.schema import DISCOVERY, ApiFailure
from tests.fakes.google.values import _b64

CLIENT_ID = "fake-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret"
DEFAULT_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
)


class OAuth:
    """Clients, codes, refresh and access tokens of the fake (a part of :class:`GoogleFake`)."""

    lock: threading.RLock
    token_lifetime: float
    token_uri: str
    auth_uri: str

    def _init_oauth(self) -> None:
        self.clients: dict[str, str] = {CLIENT_ID: CLIENT_SECRET}
        self.access_tokens: dict[str, tuple[float, frozenset[str], str]] = {}
        """token → (expires at, scopes, refresh token it came from)."""
        self.refresh_tokens: dict[str, tuple[str, frozenset[str]]] = {}
        self.revoked: set[str] = set()
        self.codes: dict[str, dict[str, Any]] = {}
        self.refreshes = 0
        self.deny_consent = False

    def client_secrets(self) -> dict[str, Any]:
        """The contents of a Desktop-app OAuth client file pointing at this fake."""
        return {
            "installed": {
                "client_id": CLIENT_ID,
                "project_id": "idealweek-fake",
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": ["http://localhost"],
            }
        }

    # -- tokens (back door) -----------------------------------------------------
    def issue_token(self, scopes: tuple[str, ...] = DEFAULT_SCOPES, lifetime: float | None = None) -> str:
        """A signed-in user's authorised-user JSON, as idealweek stores it."""
        with self.lock:
            refresh = "1//fake-refresh-" + secrets.token_hex(8)
            self.refresh_tokens[refresh] = (CLIENT_ID, frozenset(scopes))
            access, expires = self._new_access(refresh, frozenset(scopes), lifetime)
        return json.dumps(
            {
                "token": access,
                "refresh_token": refresh,
                "token_uri": self.token_uri,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scopes": list(scopes),
                "expiry": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )

    def _new_access(self, refresh: str, scopes: frozenset[str], lifetime: float | None = None) -> tuple[str, float]:
        access = "ya29.fake-" + secrets.token_hex(12)
        expires = time.time() + (self.token_lifetime if lifetime is None else lifetime)
        self.access_tokens[access] = (expires, scopes, refresh)
        return access, expires

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (401); refresh tokens still work."""
        with self.lock:
            self.access_tokens = {k: (0.0, s, r) for k, (_, s, r) in self.access_tokens.items()}

    def revoke_refresh_tokens(self) -> None:
        """The user revoked access (or a Testing-status app's 7 days passed): refresh → invalid_grant."""
        with self.lock:
            self.revoked.update(self.refresh_tokens)
            self.expire_access_tokens()

    def _authorize_request(self, headers: Message, scopes: list[str]) -> None:
        value = headers.get("authorization") or ""
        scheme, _, token = value.partition(" ")
        info = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if info is None or info[0] <= time.time() or info[2] in self.revoked:
            raise ApiFailure(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
            )
        if scopes and not (info[1] & set(scopes)):
            raise ApiFailure(403, "insufficientPermissions", "Request had insufficient authentication scopes.")

    # -- OAuth ----------------------------------------------------------------------------
    def _authorize(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        q = {k: v[-1] for k, v in query.items()}
        if q.get("client_id") not in self.clients:
            return 400, {"Content-Type": "text/plain"}, b"Error 401: invalid_client"
        redirect = q.get("redirect_uri", "")
        parts = urlsplit(redirect)
        if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1") or not parts.port:
            return 400, {"Content-Type": "text/plain"}, b"Error 400: redirect_uri_mismatch"
        if q.get("response_type") != "code":
            return 400, {"Content-Type": "text/plain"}, b"Error 400: unsupported_response_type"
        scopes = frozenset(q.get("scope", "").split())
        known = set(DISCOVERY["auth"]["oauth2"]["scopes"])
        if not scopes or not scopes <= known:
            return 400, {"Content-Type": "text/plain"}, b"Error 400: invalid_scope"
        result: dict[str, str] = {}
        if "state" in q:
            result["state"] = q["state"]
        if self.deny_consent:
            result["error"] = "access_denied"
        else:
            code = "4/fake-code-" + secrets.token_hex(8)
            with self.lock:
                self.codes[code] = {
                    "client_id": q["client_id"],
                    "redirect_uri": redirect,
                    "scopes": scopes,
                    "challenge": q.get("code_challenge"),
                    "method": q.get("code_challenge_method", "plain"),
                    "offline": q.get("access_type") == "offline",
                }
            result["code"] = code
            result["scope"] = " ".join(sorted(scopes, key=list(q.get("scope", "").split()).index))
        location = f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(result)}"
        return 302, {"Location": location, "Content-Type": "text/html"}, b"<html>Redirecting</html>"

    def _token(self, headers: Message, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, client_secret = unquote(user), unquote(password)
        if client_id not in self.clients or self.clients[client_id] != client_secret:
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        grant = form.get("grant_type")
        with self.lock:
            if grant == "authorization_code":
                info = self.codes.pop(form.get("code", ""), None)
                if info is None or info["client_id"] != client_id:
                    return self._oauth_error(400, "invalid_grant", "Malformed auth code.")
                if form.get("redirect_uri") != info["redirect_uri"]:
                    return self._oauth_error(400, "redirect_uri_mismatch", "Bad Request")
                if info["challenge"]:
                    verifier = form.get("code_verifier", "")
                    if info["method"] == "S256":
                        expected = _b64(hashlib.sha256(verifier.encode()).digest())
                    else:
                        expected = verifier
                    if expected != info["challenge"]:
                        return self._oauth_error(400, "invalid_grant", "Invalid code verifier.")
                refresh = "1//fake-refresh-" + secrets.token_hex(8)
                self.refresh_tokens[refresh] = (client_id, info["scopes"])
                access, _ = self._new_access(refresh, info["scopes"])
                doc: dict[str, Any] = {
                    "access_token": access,
                    "expires_in": int(self.token_lifetime),
                    "refresh_token": refresh,
                    "scope": " ".join(sorted(info["scopes"])),
                    "token_type": "Bearer",
                }
            elif grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                known = self.refresh_tokens.get(refresh)
                if known is None or refresh in self.revoked or known[0] != client_id:
                    return self._oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
                self.refreshes += 1
                access, _ = self._new_access(refresh, known[1])
                doc = {
                    "access_token": access,
                    "expires_in": int(self.token_lifetime),
                    "scope": " ".join(sorted(known[1])),
                    "token_type": "Bearer",
                }
            else:
                return self._oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        return 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(doc).encode()

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"error": error, "error_description": description}).encode()
        return status, {"Content-Type": "application/json"}, body
