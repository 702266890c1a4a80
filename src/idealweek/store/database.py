"""The state database of one installation: opening (WAL, private, moved aside when corrupt), migrations,
read-only snapshots, the event cache, the owned-event map and the mirror key."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path

import structlog

from idealweek.errors import UserError
from idealweek.fsutil import create_new, fsync_dir, make_private, open_private, private_dir
from idealweek.model import Event, Kind, OwnedTag
from idealweek.store.decisions import Decisions
from idealweek.store.history import History
from idealweek.store.rows import OwnedRow, RowState, event_from_json, event_to_json
from idealweek.store.schema import (
    _FOREIGN_TEXT,
    _INDEXES,
    _MIGRATIONS,
    MIRROR_KEY_NAME,
    SCHEMA_VERSION,
    _dt,
    _is_corruption,
    _ts,
)

log = structlog.get_logger(__name__)


def _read_mirror_key(path: Path) -> bytes | None:
    """The mirror key stored at ``path`` (64 hex digits), or None when there is none or it is damaged."""
    try:
        text = path.read_text("ascii").strip()
        key = bytes.fromhex(text)
    except (FileNotFoundError, UnicodeDecodeError, ValueError):
        return None
    return key if len(key) == 32 else None


class Store(Decisions, History):
    """The state database of one idealweek installation."""

    def __init__(self, path: Path, *, snapshot: bool = False) -> None:
        self.path = path
        self.moved_aside: Path | None = None
        self.snapshot = snapshot
        """A private in-memory copy: whatever is written to it never reaches ``path`` (see :meth:`open_snapshot`)."""
        if snapshot:
            self.db = self._open_snapshot()
            return
        private_dir(path.parent)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise UserError(f"{path}: cannot open the state database: {exc}") from None
            self.moved_aside = self._move_aside(str(exc))
            self.db = self._open()

    # -- opening ------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        # Private whatever the umask: SQLite gives the -wal and -shm files the database file's mode.
        if not self.path.is_symlink():  # a database the user linked elsewhere keeps the mode they gave it
            os.close(open_private(self.path))
        for suffix in ("-wal", "-shm"):
            make_private(Path(str(self.path) + suffix))
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA secure_delete=ON")  # what is deleted (old events, their text) is overwritten
            ok = db.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {ok[0] if ok else 'no answer'}")
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open_snapshot(cls, path: Path) -> Store:
        """A consistent read-only snapshot of the state at ``path`` for a look (``status``, ``plan``, …).

        The file is opened read-only and copied into memory in one read transaction (a WAL reader:
        it neither waits for nor blocks a writing cycle).  The look may run a dry cycle on the copy;
        nothing it does is ever written back.  A missing or unreadable file gives an empty state.
        """
        return cls(path, snapshot=True)

    def _open_snapshot(self) -> sqlite3.Connection:
        mem = sqlite3.connect(":memory:", isolation_level=None)
        if self.path.exists():
            try:
                src = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
                try:
                    src.backup(mem)
                finally:
                    src.close()
                ok = mem.execute("PRAGMA quick_check").fetchone()
                if not ok or ok[0] != "ok":
                    raise sqlite3.DatabaseError(f"integrity check failed: {ok[0] if ok else 'no answer'}")
            except sqlite3.DatabaseError as exc:
                if not _is_corruption(exc):
                    mem.close()
                    raise UserError(f"{self.path}: cannot read the state database: {exc}") from None
                log.warning(
                    "state.unreadable",
                    path=str(self.path),
                    reason=str(exc),
                    hint="shown as if empty; the next `idealweek run` moves it aside",
                )
                mem.close()
                mem = sqlite3.connect(":memory:", isolation_level=None)
        try:
            self._migrate(mem)
        except BaseException:
            mem.close()
            raise
        return mem

    def _move_aside(self, why: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.replace(Path(str(aside) + suffix))
        log.warning(
            "state.corrupt_moved_aside",
            path=str(self.path),
            moved_to=str(aside),
            reason=why,
            hint="a fresh database was started; ownership is rebuilt from the event tags",
        )
        return aside

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise UserError(
                f"{self.path}: the state database has schema version {version}, newer than this idealweek "
                f"understands ({SCHEMA_VERSION}); upgrade idealweek or point state_dir elsewhere"
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _MIGRATIONS[v].split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(v),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        for index in _INDEXES:
            db.execute(index)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def integrity(self) -> str:
        row = self.db.execute("PRAGMA integrity_check").fetchone()
        return str(row[0]) if row else "no answer"

    # -- sync state and event cache --------------------------------------------
    def token(self, calendar: str) -> str | None:
        row = self.db.execute("SELECT token FROM sync_state WHERE calendar=?", (calendar,)).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def event_count(self, calendar: str, since: datetime | None = None) -> int:
        """Events stored for ``calendar`` (only those ending after ``since`` when given)."""
        if since is not None:
            row = self.db.execute(
                "SELECT COUNT(*) FROM events WHERE calendar=? AND json_extract(data, '$[4]') > ?",
                (calendar, since.timestamp()),
            ).fetchone()
            return int(row[0]) if row else 0
        row = self.db.execute("SELECT event_count FROM sync_state WHERE calendar=?", (calendar,)).fetchone()
        return int(row[0]) if row else 0

    def prune_events(self, before: datetime) -> int:
        """Forget events that ended before ``before`` and the description/location of events not ours.

        Rows written before idealweek stopped storing them (see :mod:`idealweek.retention`) are
        cleaned too; ``secure_delete`` overwrites what is deleted.  Returns how many events went.
        """
        db = self.db
        at = before.timestamp()
        cals: list[str] = []
        gone = 0
        for cal in self.calendars():
            # By the start-time index: an event that ended before `before` started before it too.
            n = db.execute(
                "DELETE FROM events WHERE calendar=? AND json_extract(data, '$[3]') <= ?"
                " AND json_extract(data, '$[4]') <= ?",
                (cal, at, at),
            ).rowcount
            if n:
                cals.append(cal)
                gone += n
        db.execute(
            f"UPDATE events INDEXED BY events_foreign_text SET data = json_set(data, '$[6]', '', '$[7]', '')"
            f" WHERE {_FOREIGN_TEXT}"
        )
        for cal in cals:
            db.execute(
                "UPDATE sync_state SET event_count = (SELECT COUNT(*) FROM events WHERE calendar=?) WHERE calendar=?",
                (cal, cal),
            )
        return int(gone)

    def apply_changes(
        self,
        calendar: str,
        full: bool,
        upserts: Iterable[Event],
        removed: Iterable[str],
        token: str | None,
        now: datetime,
    ) -> None:
        db = self.db
        if full:
            db.execute("DELETE FROM events WHERE calendar=?", (calendar,))
        gone = list(removed)
        db.executemany("DELETE FROM events WHERE calendar=? AND uid=?", ((calendar, uid) for uid in gone))
        if gone and not full:
            # a deleted recurring series may be reported by its id only: its occurrences go too
            db.executemany(
                "DELETE FROM events WHERE calendar=? AND json_extract(data, '$[15]')=?",
                ((calendar, uid) for uid in gone),
            )
        db.executemany(
            "INSERT OR REPLACE INTO events VALUES (?,?,?)",
            ((calendar, ev.uid, event_to_json(ev)) for ev in upserts),
        )
        count = db.execute("SELECT COUNT(*) FROM events WHERE calendar=?", (calendar,)).fetchone()[0]
        db.execute(
            "INSERT OR REPLACE INTO sync_state VALUES (?,?,?,?)",
            (calendar, token, int(count), _ts(now)),
        )

    def put_events(self, calendar: str, upserts: Iterable[Event], removed: Iterable[str]) -> None:
        """Our own writes, as their answers showed them: into the event cache, the sync token unchanged."""
        db = self.db
        db.executemany("DELETE FROM events WHERE calendar=? AND uid=?", ((calendar, uid) for uid in removed))
        db.executemany(
            "INSERT OR REPLACE INTO events VALUES (?,?,?)",
            ((calendar, ev.uid, event_to_json(ev)) for ev in upserts),
        )
        count = db.execute("SELECT COUNT(*) FROM events WHERE calendar=?", (calendar,)).fetchone()[0]
        db.execute("UPDATE sync_state SET event_count=? WHERE calendar=?", (int(count), calendar))

    def forget_token(self, calendar: str) -> None:
        """The next read of ``calendar`` is a full one (what we hold of it may be stale)."""
        self.db.execute("UPDATE sync_state SET token=NULL WHERE calendar=?", (calendar,))

    def events(self, calendars: Iterable[str] | None = None, until: datetime | None = None) -> list[Event]:
        """The cached events (of ``calendars``); with ``until``, only those starting before it and
        idealweek's own events wherever they lie (the planning window: far-future events stay on disk)."""
        if until is not None:
            names = list(calendars) if calendars is not None else self.calendars()
            q = ",".join("?" * len(names))
            at = until.timestamp()
            rows = self.db.execute(
                f"SELECT data FROM events WHERE calendar IN ({q}) AND json_extract(data, '$[3]') < ?"
                f" UNION ALL SELECT data FROM events WHERE calendar IN ({q}) AND json_extract(data, '$[3]') IS NULL"
                f" UNION ALL SELECT data FROM events INDEXED BY events_owned WHERE calendar IN ({q})"
                " AND json_extract(data, '$[13]') IS NOT NULL AND json_extract(data, '$[3]') >= ?",
                [*names, at, *names, *names, at],  # the middle part: rows of version 0.1.0 (no list to index)
            ).fetchall()
            return [event_from_json(r[0]) for r in rows]
        if calendars is None:
            rows = self.db.execute("SELECT data FROM events").fetchall()
        else:
            names = list(calendars)
            q = ",".join("?" * len(names))
            rows = self.db.execute(f"SELECT data FROM events WHERE calendar IN ({q})", names).fetchall()
        return [event_from_json(r[0]) for r in rows]

    def events_starting(self, calendar: str, start: datetime, before: datetime) -> list[Event]:
        """The cached events of ``calendar`` that start in [``start``, ``before``) (the window moving on)."""
        rows = self.db.execute(
            "SELECT data FROM events WHERE calendar=? AND json_extract(data, '$[3]') >= ?"
            " AND json_extract(data, '$[3]') < ?",
            (calendar, start.timestamp(), before.timestamp()),
        ).fetchall()
        return [event_from_json(r[0]) for r in rows]

    def calendars(self) -> list[str]:
        """The calendars with cached events."""
        return [str(r[0]) for r in self.db.execute("SELECT DISTINCT calendar FROM events")]

    # -- owned map ------------------------------------------------------------
    def owned(self) -> dict[tuple[str, str], OwnedRow]:
        out: dict[tuple[str, str], OwnedRow] = {}
        for cal, key, uid, kind, start, end, pays, state in self.db.execute(
            "SELECT calendar, key, uid, kind, start, end, pays, state FROM owned"
        ):
            out[(cal, key)] = OwnedRow(
                cal, key, uid, Kind(kind), _dt(start), _dt(end), json.loads(pays), RowState(state)
            )
        return out

    def set_owned(
        self,
        calendar: str,
        key: str,
        ev_uid: str,
        tag: OwnedTag,
        start: datetime,
        end: datetime,
        state: RowState,
        now: datetime,
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO owned VALUES (?,?,?,?,?,?,?,?,?)",
            (calendar, key, ev_uid, tag.kind.value, _ts(start), _ts(end), json.dumps(dict(tag.pays)), state, _ts(now)),
        )

    def set_owned_state(self, calendar: str, key: str, state: RowState, now: datetime) -> None:
        self.db.execute(
            "UPDATE owned SET state=?, updated=? WHERE calendar=? AND key=?", (state, _ts(now), calendar, key)
        )

    def drop_owned(self, calendar: str, key: str) -> None:
        self.db.execute("DELETE FROM owned WHERE calendar=? AND key=?", (calendar, key))

    def burnt_generation(self, calendar: str, key: str) -> int:
        row = self.db.execute("SELECT generation FROM burnt WHERE calendar=? AND key=?", (calendar, key)).fetchone()
        return int(row[0]) if row else -1

    def burn(self, calendar: str, key: str, generation: int) -> None:
        self.db.execute(
            "INSERT INTO burnt VALUES (?,?,?) ON CONFLICT(calendar, key) DO UPDATE SET generation=MAX(generation, ?)",
            (calendar, key, generation, generation),
        )

    # -- the mirror key ---------------------------------------------------------
    @cached_property
    def mirror_secret(self) -> bytes:
        """The key that makes mirror tags opaque (SPEC §6.8), in a private file beside the database.

        Kept outside the database so that losing it does not re-key every mirror.  Created by the
        first writing cycle (atomically: a second process racing it reads the winner's key); a
        look on a state directory without one uses a throw-away key and writes nothing.
        """
        path = self.path.parent / MIRROR_KEY_NAME
        secret = _read_mirror_key(path)
        if secret is not None:
            return secret
        fresh = os.urandom(32)
        if self.snapshot:
            return fresh
        tmp = path.with_name(f".{MIRROR_KEY_NAME}.{os.getpid()}.tmp")
        create_new(tmp, fresh.hex(), force=True)
        try:
            os.link(tmp, path)  # fails if another process got there first: then its key is the key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)
        secret = _read_mirror_key(path)
        if secret is None:
            raise UserError(f"{path}: the mirror key file is damaged; move it aside (mirrors are then re-keyed)")
        return secret
