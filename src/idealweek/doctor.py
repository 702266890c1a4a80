"""``idealweek doctor``: one pass/fail line per check, non-zero exit when something is wrong.

Checks: the config, the secret store, each account's sign-in, reachability of
each service endpoint (TCP, and TLS for https), local calendar paths and ICS
URLs, the state database (read-only: a diagnosis never changes anything) and
the clock and time zone.  Nothing here writes to a calendar.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from idealweek import config as cfg
from idealweek.clock import Clock, system_clock
from idealweek.errors import IdealweekError
from idealweek.log import redact_url
from idealweek.model import Role

if TYPE_CHECKING:
    from idealweek.app import App
    from idealweek.secrets import SecretStore

TIMEOUT = 5.0
MAX_SKEW_S = 120.0
GOOGLE_API_ROOT = "https://www.googleapis.com/calendar/v3/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    """True pass, False fail, None skipped (not applicable)."""
    detail: str
    warn: bool = False
    """Passes, but something should be fixed (shown as WARN; the exit code stays 0)."""

    def line(self) -> str:
        """The check as printed: redacted like every other output (no feed secrets, no e-mail addresses)."""
        from idealweek.log import redact_text

        mark = "WARN" if self.warn and self.ok is not False else {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]
        return redact_text(f"{mark}  {self.name}: {self.detail}")


def run(app: App, out: TextIO | None = None, timeout: float = TIMEOUT, clock: Clock = system_clock) -> int:
    """Run every check, print one line each and a verdict; 0 when nothing failed."""
    stream = out or sys.stdout
    failed = warned = 0
    for check in checks(app, timeout, clock):
        print(check.line(), file=stream, flush=True)
        failed += check.ok is False
        warned += check.warn and check.ok is not False
    verdict = "all checks passed" if not failed else f"{failed} check(s) failed"
    print(verdict + (f", {warned} warning(s)" if warned else ""), file=stream)
    return 1 if failed else 0


def checks(app: App, timeout: float = TIMEOUT, clock: Clock = system_clock) -> Iterator[Check]:
    """Every check in order; the secret store opened by one check is used by the sign-in checks."""
    s = app.settings
    yield Check(
        "config",
        True,
        f"{app.config_path}: {len(s.calendars)} calendars, {len(s.accounts)} accounts, time zone {s.timezone}",
    )
    for gap in cfg.what_is_missing(s):  # valid, but it would do nothing (or less than it seems)
        yield Check("config", True, gap, warn=True)
    opened: list[SecretStore] = []
    yield from _secret_store(app, opened)
    yield from _sign_ins(app, opened[0] if opened else None)
    yield from _alerts(app, opened[0] if opened else None)
    yield from _transport(app)
    yield from _endpoints(app, timeout)
    yield from _calendars(app, timeout)
    yield _state(app)
    yield from _empty_meetings(app)
    yield from _settling(app)
    yield from _permissions(app)
    yield from _clock(app, timeout, clock)


def _alerts(app: App, store: SecretStore | None) -> Iterator[Check]:
    """Every ``[alerts]`` URL is one apprise understands, with its secrets stored (nothing is sent)."""
    from idealweek.alerts import channels as ch
    from idealweek.errors import IdealweekError

    chans = ch.channels(app.settings)
    if not chans:
        yield Check("alerts", None, "no [alerts] urls configured")
        return
    if store is None and ch.needs_secrets(app.settings):
        try:
            store = ch.open_secrets(app.settings, app.config_path)
        except IdealweekError as exc:
            yield Check("alerts", False, f"the URLs name secrets but the secret store cannot be opened: {exc}")
            return
    problems = ch.check_urls(app.settings, store)
    for problem in problems:
        yield Check("alerts", False, problem)
    if not problems:
        yield Check("alerts", True, f"{len(chans)} URL(s) understood by apprise; `idealweek alerts test` sends one")


def _secret_store(app: App, opened: list[SecretStore]) -> Iterator[Check]:
    from idealweek.providers.factory import needs_secrets
    from idealweek.secrets import choose_store

    sc = app.settings.secrets
    if not needs_secrets(app.settings) and sc.store == "auto":
        yield Check("secret store", None, "not needed: no Google or Outlook calendars configured")
        return
    try:
        store, why = choose_store(sc.store, app.state_dir(), cfg.key_file(app.settings, app.config_path), sc.credential)
        store.get("__doctor__")  # the file store decrypts here: a wrong key shows up now
    except IdealweekError as exc:
        yield Check("secret store", False, str(exc))
        return
    opened.append(store)
    yield Check("secret store", True, f"{store.description} — because {why}")


def _sign_ins(app: App, store: SecretStore | None) -> Iterator[Check]:
    used = {c.account for c in app.settings.calendars.values() if c.account}
    for name, acct in sorted(app.settings.accounts.items()):
        label = f"sign-in {name} ({acct.provider})"
        if name not in used:
            yield Check(label, None, "no calendar uses this account")
            continue
        if isinstance(acct, cfg.CalDavAccount) and not acct.username:
            yield Check(label, None, "no username: the server is used without a password")
            continue
        if store is None:
            yield Check(label, False, "cannot look: no secret store")
            continue
        try:
            token = store.get(f"token:{name}")
        except IdealweekError as exc:
            yield Check(label, False, str(exc))
            continue
        if not token:
            yield Check(label, False, f"no sign-in stored; run `idealweek auth {acct.provider} {name}`")
        else:
            yield Check(label, True, "token present in the secret store (validity is checked on the next cycle)")


def _account_urls(acct: cfg.GoogleAccount | cfg.OutlookAccount | cfg.CalDavAccount) -> list[tuple[str, str]]:
    if isinstance(acct, cfg.CalDavAccount):
        return [("CalDAV server", acct.url)]
    if isinstance(acct, cfg.GoogleAccount):
        return [
            ("Calendar API", acct.api_root or GOOGLE_API_ROOT),
            ("token endpoint", acct.token_uri or GOOGLE_TOKEN_URI),
        ]
    return [("Graph", acct.graph_root), ("authority", acct.authority)]


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


def _permissions(app: App) -> Iterator[Check]:
    """The state folder and its files are private (0700/0600); the secret store's key file too."""
    from idealweek.fsutil import wider_than_private
    from idealweek.secrets import key_file_problem

    folder = app.state_dir()
    if folder.is_dir():
        wide = list(wider_than_private(folder))
        if wide:
            shown = ", ".join(f"{p.name if p != folder else str(p)} {mode:o}" for p, mode in wide[:6])
            more = f" and {len(wide) - 6} more" if len(wide) > 6 else ""
            yield Check(
                "state permissions",
                True,
                f"other local users can read your calendar data: {shown}{more}; run "
                f"`chmod 700 {folder} && chmod 600 {folder}/*` (idealweek keeps them private from then on)",
                warn=True,
            )
        else:
            yield Check("state permissions", True, f"{folder} is private (700, files 600)")
    key_file = cfg.key_file(app.settings, app.config_path)
    if key_file:
        path = Path(key_file)  # as the secret store reads it
        problem = key_file_problem(path)
        if problem:
            yield Check("key file permissions", True, problem, warn=True)
        elif path.exists():
            yield Check("key file permissions", True, f"{path} is readable by its owner only")


def _calendars(app: App, timeout: float) -> Iterator[Check]:
    s = app.settings
    for name, cal in sorted(s.calendars.items()):
        label = f"calendar {name} ({cal.source})"
        writable = bool({Role.BLOCKS, Role.FOCUS, Role.MIRROR} & set(cal.roles))
        if cal.source == "vdir":
            path = cfg.resolve_path(app.config_path, cal.path)
            if not path.is_dir():
                if cal.create and writable and _creatable(path):
                    yield Check(label, True, f"{path} does not exist yet; it will be created (create = true)")
                else:
                    yield Check(label, False, f"{path} is not a folder")
            elif not os.access(path, os.R_OK | os.X_OK):
                yield Check(label, False, f"{path} is not readable")
            elif writable and not os.access(path, os.W_OK):
                yield Check(label, False, f"{path} is not writable, but roles {', '.join(cal.roles)} write to it")
            else:
                n = sum(1 for _ in path.glob("*.ics"))
                detail = f"{path} {'read-write' if writable else 'readable'}, {n} files"
                yield _maybe_empty(label, cal.roles, n == 0, detail)
        elif cal.source == "ics" and cal.path:
            path = cfg.resolve_path(app.config_path, cal.path)
            ok = path.is_file() and os.access(path, os.R_OK)
            if not ok:
                yield Check(label, False, f"{path} missing or unreadable")
            else:
                empty = b"BEGIN:VEVENT" not in path.read_bytes().upper()
                yield _maybe_empty(label, cal.roles, empty, f"{path} readable")
        elif cal.source == "ics":
            yield Check(label, *_fetch(cal.url, timeout))


def _maybe_empty(label: str, roles: Sequence[Role], empty: bool, detail: str) -> Check:
    """An empty ``meetings`` calendar passes with a warning: a wrong path or id would look just like it."""
    if empty and Role.MEETINGS in roles:
        return Check(label, True, f"{detail}; no events: nothing can intrude (is this the right calendar?)", warn=True)
    return Check(label, True, detail)


def _creatable(path: Path) -> bool:
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent.is_dir() and os.access(parent, os.W_OK)


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


def _state(app: App) -> Check:
    from idealweek.store import SCHEMA_VERSION

    path = app.state_dir() / "state.sqlite3"
    if not path.exists():
        folder = path.parent
        ok = (folder.is_dir() and os.access(folder, os.W_OK)) or _creatable(folder)
        return Check(
            "state database", ok, f"{path} not created yet (first cycle); folder {'writable' if ok else 'NOT writable'}"
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            result = db.execute("PRAGMA integrity_check").fetchone()
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return Check("state database", False, f"{path}: {exc} (the next run moves it aside and starts afresh)")
    status = str(result[0]) if result else "no answer"
    version = int(row[0]) if row else 0
    if status != "ok":
        return Check("state database", False, f"{path}: integrity check says {status}")
    if version > SCHEMA_VERSION:
        return Check(
            "state database", False, f"{path}: schema {version} is newer than this idealweek ({SCHEMA_VERSION})"
        )
    return Check("state database", True, f"{path}: integrity ok, schema {version}")


def _empty_meetings(app: App) -> Iterator[Check]:
    """A ``meetings`` calendar on a service that held no events at its last read: a wrong calendar id looks just
    like it (folders and files are looked at directly in the calendar checks)."""
    remote = [
        name
        for name, cal in sorted(app.settings.calendars.items())
        if Role.MEETINGS in cal.roles and (cal.source not in ("vdir", "ics") or cal.url)
    ]
    path = app.state_dir() / "state.sqlite3"
    if not remote or not path.exists():
        return
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            for name in remote:
                if db.execute("SELECT 1 FROM sync_state WHERE calendar=?", (name,)).fetchone() is None:
                    continue  # not read yet
                (n,) = db.execute("SELECT COUNT(*) FROM events WHERE calendar=?", (name,)).fetchone()
                if n == 0:
                    source = app.settings.calendars[name].source
                    yield Check(
                        f"calendar {name} ({source})",
                        True,
                        "no events at its last read: nothing can intrude (is this the right calendar?)",
                        warn=True,
                    )
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return  # the state check says what is wrong with the database


def _settling(app: App) -> Iterator[Check]:
    """Warn when the recent cycles all wrote: idealweek may be fighting another program, or looping."""
    from idealweek.settling import ALWAYS_WRITING, always_writing, pending_streak, planned_ops, settle_text
    from idealweek.store import Store

    path = app.state_dir() / "state.sqlite3"
    if not path.exists():
        return
    try:
        snap = Store.open_snapshot(path)
    except IdealweekError:
        return  # the state database check above says what is wrong
    try:
        cycles = snap.recent_cycles(1000)
    finally:
        snap.close()
    if not cycles:
        yield Check("cycles", None, "no cycle recorded yet")
        return
    last = planned_ops(cycles)
    text = settle_text(last[-1], pending_streak(last))
    if always_writing(cycles):
        yield Check(
            "cycles",
            True,
            f"the last {ALWAYS_WRITING} cycles all wrote to a calendar ({text}): something keeps changing the "
            "calendars back, or idealweek repeats itself; look for write.repeated and write.conflict in the log",
            warn=True,
        )
        return
    yield Check("cycles", True, f"{len(cycles)} recorded, last: {text}")


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
