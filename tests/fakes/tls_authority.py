"""A fake Microsoft identity platform (Entra ID v2.0 endpoints) over TLS on loopback.

MSAL insists on an ``https`` authority, so this serves TLS with a throw-away
CA from ``trustme``; tests hand MSAL the CA bundle (``ca_bundle`` in the
config) — TLS verification stays on.  Endpoints:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (tenant discovery);
* ``POST /{tenant}/oauth2/v2.0/devicecode`` (device authorization);
* ``POST /{tenant}/oauth2/v2.0/token`` with the device-code grant
  (``authorization_pending`` until the user approves, via :meth:`approve`)
  and the refresh-token grant (``invalid_grant`` once :meth:`revoke_all`).

Every access token issued is handed to ``on_token`` so a :class:`FakeGraph`
can accept it.  MSAL is built with ``instance_discovery=False`` for this
unknown host, so no instance-discovery endpoint is needed.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

from tests.fakes.http_base import FakeHandler, LoopbackFake

TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
USER_OID = "00000000-0000-0000-66f3-3332eca7ea81"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT (MSAL reads id_token claims without verifying the signature)."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.sig"


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    approved: bool = False
    polls: int = 0


@dataclass
class AuthorityState:
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """refresh token → scope."""
    revoked: set[str] = field(default_factory=set)
    grants: list[str] = field(default_factory=list)
    scopes_asked: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


class FakeAuthority(LoopbackFake):
    """The authority; ``origin`` is what goes in the account's ``authority`` key."""

    def __init__(
        self, workdir: Path, on_token: Callable[[str], None] | None = None, username: str = "ada@example.test"
    ) -> None:
        self.workdir = workdir
        self.on_token = on_token or (lambda token: None)
        self.username = username
        self.lock = threading.Lock()
        self.state = AuthorityState()
        self.expires_in = 3600
        self.fail_status: int | None = None
        """When set, discovery and the token endpoint answer this status with an HTML page (an outage)."""
        self.pending_polls = 1
        """The device-code grant answers ``authorization_pending`` this many times even once approved."""
        self._n = itertools.count(1)
        self.ca = trustme.CA()
        self.ca_path = workdir / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))

    # -- lifecycle -------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        return ctx

    # -- the user's back door ------------------------------------------------------
    def approve(self, user_code: str) -> None:
        """The user enters the code at the verification page and consents."""
        with self.lock:
            for dc in self.state.device_codes.values():
                if dc.user_code == user_code:
                    dc.approved = True
                    return
        raise KeyError(user_code)

    def revoke_all(self) -> None:
        """The admin revokes sessions (or the refresh token expired): refreshes now fail."""
        with self.lock:
            self.state.revoked.update(self.state.refresh_tokens)

    def grants(self, grant_type: str) -> int:
        with self.lock:
            return self.state.grants.count(grant_type)

    # -- endpoints --------------------------------------------------------------------
    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.origin}/{tenant}"
        return {
            "issuer": f"{self.origin}/{TENANT_ID}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{self.origin}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    def device_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        client_id = form.get("client_id", "")
        if not client_id:
            return 400, {"error": "invalid_request", "error_description": "AADSTS900144: client_id is missing."}
        n = next(self._n)
        user_code = f"AB{n:02d}CD{n:02d}"
        dc = DeviceCode(secrets.token_urlsafe(24), user_code, client_id, form.get("scope", ""))
        with self.lock:
            self.state.device_codes[dc.device_code] = dc
            self.state.scopes_asked.append(dc.scope)
        url = f"{self.origin}/devicelogin"
        return 200, {
            "device_code": dc.device_code,
            "user_code": user_code,
            "verification_uri": url,
            "expires_in": 900,
            "interval": 0,
            "message": f"To sign in, use a web browser to open the page {url} and enter the code {user_code} "
            "to authenticate.",
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        with self.lock:
            self.state.grants.append(grant)
            if grant == DEVICE_GRANT:
                dc = self.state.device_codes.get(form.get("device_code", ""))
                if dc is None:
                    return 400, {
                        "error": "expired_token",
                        "error_description": "AADSTS70020: The device_code is not valid.",
                    }
                dc.polls += 1
                if not dc.approved or dc.polls <= self.pending_polls:
                    return 400, {
                        "error": "authorization_pending",
                        "error_description": "AADSTS70016: Authorization is pending. Continue polling.",
                    }
                del self.state.device_codes[dc.device_code]
                return 200, self._issue(dc.client_id, dc.scope)
            if grant == "refresh_token":
                rt = form.get("refresh_token", "")
                if rt not in self.state.refresh_tokens or rt in self.state.revoked:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "AADSTS700082: The refresh token has expired due to inactivity.",
                        "error_codes": [700082],
                        "suberror": "bad_token",
                    }
                scope = form.get("scope") or self.state.refresh_tokens[rt]
                del self.state.refresh_tokens[rt]
                return 200, self._issue(form.get("client_id", ""), scope)
        return 400, {"error": "unsupported_grant_type", "error_description": f"AADSTS70003: {grant}"}

    def _issue(self, client_id: str, scope: str) -> dict[str, Any]:
        now = int(time.time())
        access = f"at-{secrets.token_urlsafe(16)}"
        refresh = f"rt-{secrets.token_urlsafe(16)}"
        self.state.refresh_tokens[refresh] = scope
        self.on_token(access)
        claims = {
            "aud": client_id,
            "iss": f"{self.origin}/{TENANT_ID}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Ada Lovelace",
            "oid": USER_OID,
            "preferred_username": self.username,
            "sub": "sub-" + USER_OID,
            "tid": TENANT_ID,
            "ver": "2.0",
        }
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": _jwt(claims),
            "client_info": _b64(json.dumps({"uid": USER_OID, "utid": TENANT_ID}).encode()),
        }


class _AuthorityHandler(FakeHandler):
    fake: FakeAuthority

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _outage(self) -> bool:
        status = self.fake.fail_status
        if status is None:
            return False
        data = b"<html><body>Service Unavailable</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        with self.fake.lock:
            self.fake.state.paths.append(f"GET {path}")
        if self._outage():
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            self._send(200, self.fake.openid_configuration(parts[0]))
            return
        self._send(404, {"error": "not_found", "error_description": path})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
        with self.fake.lock:
            self.fake.state.paths.append(f"POST {path}")
        if self._outage():
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and parts[3] == "devicecode":
            self._send(*self.fake.device_code(form))
            return
        if len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and parts[3] == "token":
            self._send(*self.fake.token(form))
            return
        self._send(404, {"error": "not_found", "error_description": path})


FakeAuthority.handler_class = _AuthorityHandler

__all__ = ["DEVICE_GRANT", "FakeAuthority"]
