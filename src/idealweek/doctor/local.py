"""Doctor's checks of this machine: secret store, sign-ins, alerts, calendars, the state database, permissions."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek import config as cfg
from idealweek.errors import IdealweekError
from idealweek.model import WRITE_ROLES, Role

if TYPE_CHECKING:
    from idealweek.app import App
    from idealweek.secrets import SecretStore

from idealweek.doctor.check import (
    Check,
)
from idealweek.doctor.network import _fetch


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
            from idealweek.secrets import secret_name

            token = store.get(secret_name(name))
        except IdealweekError as exc:
            yield Check(label, False, str(exc))
            continue
        if not token:
            yield Check(label, False, f"no sign-in stored; run `idealweek auth {acct.provider} {name}`")
        else:
            yield Check(label, True, "token present in the secret store (validity is checked on the next cycle)")


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
        writable = bool(WRITE_ROLES & set(cal.roles))
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
