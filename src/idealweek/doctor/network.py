"""Doctor's checks over the network: endpoints reachable (TCP, TLS), https only, the clock against a server's."""

from __future__ import annotations

import os
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from idealweek import config as cfg
from idealweek.clock import Clock
from idealweek.log import redact_url

if TYPE_CHECKING:
    from idealweek.app import App

from idealweek.doctor.check import (
    MAX_SKEW_S,
    TIMEOUT,
    Check,
    _account_urls,
)


def _endpoints(app: App, timeout: float) -> Iterator[Check]:
    used = {c.account for c in app.settings.calendars.values() if c.account}
    for name, acct in sorted(app.settings.accounts.items()):
        if name not in used:
            continue
        cafile = None
        if isinstance(acct, cfg.OutlookAccount | cfg.CalDavAccount) and acct.ca_bundle:
            cafile = str(cfg.resolve_path(app.config_path, acct.ca_bundle))
        for what, url in _account_urls(acct):
            ok, detail = reachable(url, timeout, cafile)
            yield Check(f"reach {name} {what}", ok, detail)


def reachable(url: str, timeout: float = TIMEOUT, cafile: str | None = None) -> tuple[bool, str]:
    """TCP connect (and a TLS handshake for https) to the host of ``url``."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in ("http", "https"):
        return False, f"{url!r} is not an http(s) address"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if parts.scheme == "https":
                context = ssl.create_default_context(cafile=cafile)
                with context.wrap_socket(sock, server_hostname=host) as tls:
                    version = tls.version()
                return True, f"{host}:{port} {version} in {(time.perf_counter() - t0) * 1000:.0f} ms"
    except ssl.SSLError as exc:
        return False, f"{host}:{port} TLS handshake failed: {exc.reason or exc}"
    except OSError as exc:
        return False, f"{host}:{port} unreachable: {exc.strerror or exc}"
    return True, f"{host}:{port} TCP in {(time.perf_counter() - t0) * 1000:.0f} ms"


def _transport(app: App) -> Iterator[Check]:
    """Tokens and calendar data travel over TLS only (plain http on the loopback interface only)."""
    from idealweek.http import insecure_reason, is_loopback

    urls = [
        (f"{name} {what}", url)
        for name, acct in sorted(app.settings.accounts.items())
        for what, url in _account_urls(acct)
    ]
    urls += [(f"calendar {name}", c.url) for name, c in sorted(app.settings.calendars.items()) if c.url]
    plain = []
    for label, url in urls:
        problem = insecure_reason(url.replace("webcal://", "https://", 1))
        if problem:
            yield Check(f"tls {label}", False, f"{redact_url(url)}: {problem}")
        elif urlsplit(url).scheme == "http" and is_loopback(urlsplit(url).hostname):
            plain.append(label)
    if not urls:
        return
    if os.environ.get("OAUTHLIB_INSECURE_TRANSPORT"):
        yield Check(
            "tls",
            True,
            "OAUTHLIB_INSECURE_TRANSPORT is set: the sign-in libraries would accept plain http token endpoints; "
            "unset it",
            warn=True,
        )
        return
    bundles = [v for v in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(v)]
    trust = f" against the CA bundle in ${bundles[0]}" if bundles else ""
    note = f"; plain http on this machine only: {', '.join(plain)}" if plain else ""
    yield Check("tls", True, f"every service address uses https, certificates verified{trust}{note}")


def _fetch(url: str, timeout: float) -> tuple[bool, str]:
    """GET an ICS URL (first bytes only)."""
    shown = redact_url(url)  # a private feed's secret lives in its path or query
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "idealweek-doctor"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            head = resp.read(2048)
            status = resp.status
    except urllib.error.HTTPError as exc:
        return False, f"{shown}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{shown}: unreachable ({reason})"
    if b"BEGIN:VCALENDAR" not in head:
        return False, f"{shown}: HTTP {status} but not an iCalendar file"
    return True, f"{shown}: HTTP {status}, iCalendar"


def _clock(app: App, timeout: float, clock: Clock) -> Iterator[Check]:
    from zoneinfo import ZoneInfo

    now = clock()
    zone = ZoneInfo(app.settings.timezone)
    system = cfg.system_zone()
    local = now.astimezone(zone)
    note = "" if system == app.settings.timezone else f" (the system's zone is {system}; the config's wins)"
    yield Check("time zone", True, f"{app.settings.timezone}, now {local:%Y-%m-%d %H:%M %Z}{note}")
    if now.year < 2024:
        yield Check("clock", False, f"the system clock says {now:%Y-%m-%d}: set the time (NTP)")
        return
    urls = [url for acct in app.settings.accounts.values() for _, url in _account_urls(acct)]
    urls += [c.url for c in app.settings.calendars.values() if c.url]
    for url in urls:
        skew = _skew(url, timeout, now)
        if skew is None:
            continue
        host = urlsplit(url).hostname
        ok = abs(skew) <= MAX_SKEW_S
        advice = "" if ok else "; sign-ins fail with a skewed clock: enable NTP (timedatectl set-ntp true)"
        yield Check("clock", ok, f"{skew:+.0f} s against {host}{advice}")
        return
    yield Check("clock", None, f"system clock {now:%Y-%m-%d %H:%M:%S} UTC; no server to compare with")


def _skew(url: str, timeout: float, now: datetime) -> float | None:
    """Seconds our clock is ahead of the server's ``Date`` header, or None when it cannot be told."""
    try:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "idealweek-doctor"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                date = resp.headers.get("Date")
        except urllib.error.HTTPError as exc:
            date = exc.headers.get("Date")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if not date:
        return None
    try:
        theirs = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return (now - theirs).total_seconds()
