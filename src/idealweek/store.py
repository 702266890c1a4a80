"""SQLite state: sync tokens, event cache, owned-event map, debt ledger, week statistics.

WAL mode, a schema version with migrations, and a clear error when the
database was written by a newer idealweek.  A database that cannot be read
is moved aside (never silently overwritten) and a fresh one is started:
ownership is rebuilt from the tags on the events.
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import structlog

from idealweek.errors import UserError
from idealweek.fsutil import create_new, fsync_dir, make_private, open_private, private_dir
from idealweek.journal import JOURNAL_NAME, TombstoneJournal
from idealweek.model import Debt, Event, Interval, Kind, OwnedTag, Response, Status

SCHEMA_VERSION = 2
MIRROR_KEY_NAME = "mirror.key"
log = structlog.get_logger(__name__)

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sync_state (
        calendar TEXT PRIMARY KEY, token TEXT, event_count INTEGER NOT NULL DEFAULT 0, updated TEXT);
    CREATE TABLE IF NOT EXISTS events (
        calendar TEXT NOT NULL, uid TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (calendar, uid));
    CREATE TABLE IF NOT EXISTS owned (
        calendar TEXT NOT NULL, key TEXT NOT NULL, uid TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL,
        start TEXT NOT NULL, end TEXT NOT NULL, pays TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (calendar, key));
    CREATE TABLE IF NOT EXISTS burnt (
        calendar TEXT NOT NULL, key TEXT NOT NULL, generation INTEGER NOT NULL, PRIMARY KEY (calendar, key));
    CREATE TABLE IF NOT EXISTS tombstones (
        calendar TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, start TEXT, end TEXT, at TEXT NOT NULL,
        PRIMARY KEY (calendar, key));
    CREATE TABLE IF NOT EXISTS debts (
        id TEXT PRIMARY KEY, category TEXT NOT NULL, minutes INTEGER NOT NULL, created TEXT NOT NULL,
        earliest TEXT NOT NULL, deadline TEXT NOT NULL, block_id TEXT NOT NULL, final INTEGER NOT NULL,
        status TEXT NOT NULL, paid INTEGER NOT NULL, scheduled INTEGER NOT NULL, waived INTEGER NOT NULL,
        unplaced INTEGER NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS payments (
        key TEXT NOT NULL, debt_id TEXT NOT NULL, minutes INTEGER NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
        PRIMARY KEY (key, debt_id));
    CREATE TABLE IF NOT EXISTS waivers (
        key TEXT NOT NULL, debt_id TEXT NOT NULL, minutes INTEGER NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (key, debt_id));
    CREATE TABLE IF NOT EXISTS weeks (week TEXT PRIMARY KEY, data TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS cycles (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, data TEXT NOT NULL);
    """,
    2: """
    CREATE TABLE IF NOT EXISTS alerts_sent (
        subject TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL, at TEXT NOT NULL, PRIMARY KEY (subject, channel));
    CREATE TABLE IF NOT EXISTS versions (
        version TEXT PRIMARY KEY, name TEXT NOT NULL, definition TEXT NOT NULL, first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS week_versions (
        week TEXT NOT NULL, version TEXT NOT NULL, cycles INTEGER NOT NULL, PRIMARY KEY (week, version));
    CREATE TABLE IF NOT EXISTS week_losses (week TEXT PRIMARY KEY, data TEXT NOT NULL, updated TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS signins (
        account TEXT NOT NULL, fingerprint TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (account, fingerprint));
    """,
}


_FOREIGN_TEXT = (
    "json_extract(data, '$[13]') IS NULL AND (json_extract(data, '$[6]') != '' OR json_extract(data, '$[7]') != '')"
)
_INDEXES = (
    # The event cache by calendar and start time: a cycle loads only the planning window (issue 15).
    "CREATE INDEX IF NOT EXISTS events_by_start ON events(calendar, json_extract(data, '$[3]'))",
    # idealweek's own events (tagged), wherever they lie: always held in memory.
    "CREATE INDEX IF NOT EXISTS events_owned ON events(calendar) WHERE json_extract(data, '$[13]') IS NOT NULL",
    # Others' events still holding a description or location (rows of older versions): what prune_events scrubs.
    f"CREATE INDEX IF NOT EXISTS events_foreign_text ON events(calendar) WHERE {_FOREIGN_TEXT}",
)
"""Indexes that change no data: made on every open when missing (no schema version of their own)."""


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("not a database", "malformed", "integrity check failed", "corrupt", "encrypted"))


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(UTC)


_STATUS = {s.value: s for s in Status}
_RESPONSE = {r.value: r for r in Response}


_ROW_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def event_to_json(ev: Event) -> str:
    """Compact row for the event cache: a JSON list with epoch seconds (fast to write and read)."""
    return _ROW_ENCODER.encode(
        [
            2,
            ev.calendar,
            ev.uid,
            ev.start.timestamp(),
            ev.end.timestamp(),
            ev.title,
            ev.description,
            ev.location,
            ev.all_day,
            ev.status.value,
            ev.busy,
            ev.response.value,
            ev.private,
            ev.tag.encode() if ev.tag else None,
            ev.etag,
            ev.series,
            ev.recurrence_id,
            ev.attendees,
            ev.organizer_other,
        ]
    )


def _decode_tag(text: object) -> OwnedTag | None:
    if not text:
        return None
    try:
        return OwnedTag.decode(str(text))
    except ValueError:
        return None


def event_from_json(text: str) -> Event:
    d = json.loads(text)
    if isinstance(d, list):
        (
            _v,
            cal,
            uid,
            start,
            end,
            title,
            desc,
            loc,
            all_day,
            status,
            busy,
            resp,
            private,
            tag,
            etag,
            series,
            rid,
            attendees,
        ) = d[:18]
        return Event(
            calendar=cal,
            uid=uid,
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            title=title,
            description=desc,
            location=loc,
            all_day=bool(all_day),
            status=_STATUS.get(status, Status.CONFIRMED),
            busy=bool(busy),
            response=_RESPONSE.get(resp, Response.NONE),
            private=bool(private),
            tag=_decode_tag(tag),
            etag=etag,
            series=series,
            recurrence_id=rid,
            attendees=int(attendees),
            organizer_other=bool(d[18]) if len(d) > 18 else False,
        )
    return Event(  # rows written by version 0.1.0 (a dict with ISO times)
        calendar=d["calendar"],
        uid=d["uid"],
        start=_dt(d["start"]),
        end=_dt(d["end"]),
        title=d.get("title", ""),
        description=d.get("description", ""),
        location=d.get("location", ""),
        all_day=bool(d.get("all_day", False)),
        status=Status(d.get("status", "confirmed")),
        busy=bool(d.get("busy", True)),
        response=Response(d.get("response", "none")),
        private=bool(d.get("private", False)),
        tag=_decode_tag(d.get("tag")),
        etag=d.get("etag", ""),
        series=d.get("series", ""),
        recurrence_id=d.get("recurrence_id", ""),
        attendees=int(d.get("attendees", 0)),
    )


class RowState(enum.StrEnum):
    """Where an owned event stands in the owned-event map."""

    LIVE = "live"
    """Seen on the calendar (or just written there)."""
    CREATING = "creating"
    """A create was sent and its answer not yet recorded."""
    DELETING = "deleting"
    """A delete was sent and its answer not yet recorded."""


@dataclass(frozen=True)
class OwnedRow:
    calendar: str
    key: str
    uid: str
    kind: Kind
    start: datetime
    end: datetime
    pays: Mapping[str, int]
    state: RowState


def _read_mirror_key(path: Path) -> bytes | None:
    """The mirror key stored at ``path`` (64 hex digits), or None when there is none or it is damaged."""
    try:
        text = path.read_text("ascii").strip()
        key = bytes.fromhex(text)
    except (FileNotFoundError, UnicodeDecodeError, ValueError):
        return None
    return key if len(key) == 32 else None


class Store:
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

    # -- user decisions ---------------------------------------------------------
    @cached_property
    def journal(self) -> TombstoneJournal:
        """The tombstones again, in an append-only file beside the database: they survive its loss."""
        return TombstoneJournal(self.path.parent / JOURNAL_NAME, writable=not self.snapshot)

    def tombstoned(self, calendar: str, key: str) -> bool:
        """The user deleted this key (recorded in the database or in the journal)."""
        row = self.db.execute("SELECT 1 FROM tombstones WHERE calendar=? AND key=?", (calendar, key)).fetchone()
        return row is not None or (calendar, key) in self.journal

    def tombstones(self) -> dict[tuple[str, str], Interval | None]:
        out: dict[tuple[str, str], Interval | None] = self.journal.entries()
        for cal, key, start, end in self.db.execute("SELECT calendar, key, start, end FROM tombstones"):
            out[(cal, key)] = Interval(_dt(start), _dt(end)) if start and end else None
        return out

    def add_tombstone(self, calendar: str, key: str, kind: str, iv: Interval | None, now: datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO tombstones VALUES (?,?,?,?,?,?)",
            (calendar, key, kind, _ts(iv.start) if iv else None, _ts(iv.end) if iv else None, _ts(now)),
        )
        self.journal.add(calendar, key, kind, iv, now)

    def add_waiver(self, key: str, debt_id: str, minutes: int, now: datetime) -> None:
        self.db.execute("INSERT OR IGNORE INTO waivers VALUES (?,?,?,?)", (key, debt_id, minutes, _ts(now)))

    def waived(self) -> dict[str, int]:
        return {
            str(d): int(m) for d, m in self.db.execute("SELECT debt_id, SUM(minutes) FROM waivers GROUP BY debt_id")
        }

    # -- ledger ---------------------------------------------------------------
    def add_payment(self, key: str, debt_id: str, minutes: int, iv: Interval) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO payments VALUES (?,?,?,?,?)", (key, debt_id, minutes, _ts(iv.start), _ts(iv.end))
        )

    def paid_final(self) -> dict[str, int]:
        return {
            str(d): int(m) for d, m in self.db.execute("SELECT debt_id, SUM(minutes) FROM payments GROUP BY debt_id")
        }

    def recorded_payments(self) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self.db.execute("SELECT DISTINCT key FROM payments"))

    def final_debts(self) -> dict[str, Debt]:
        out: dict[str, Debt] = {}
        for row in self.db.execute(
            "SELECT id, category, minutes, created, earliest, deadline, block_id FROM debts WHERE final=1"
        ):
            did, cat, mins, created, earliest, deadline, block_id = row
            out[did] = Debt(
                id=did,
                category=cat,
                minutes=int(mins),
                created=_dt(created),
                earliest=_dt(earliest),
                deadline=_dt(deadline),
                block_id=block_id,
                final=True,
            )
        return out

    def save_debt(
        self, debt: Debt, status: str, paid: int, scheduled: int, waived: int, unplaced: int, now: datetime
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO debts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                debt.id,
                debt.category,
                debt.minutes,
                _ts(debt.created),
                _ts(debt.earliest),
                _ts(debt.deadline),
                debt.block_id,
                1 if debt.final else 0,
                status,
                paid,
                scheduled,
                waived,
                unplaced,
                _ts(now),
            ),
        )

    def cancel_debts_not_in(self, ids: set[str], since: datetime, now: datetime) -> int:
        """Provisional debts (block not passed) that vanished → cancelled; returns how many."""
        rows = self.db.execute(
            "SELECT id FROM debts WHERE final=0 AND status NOT IN ('cancelled') AND created >= ?", (_ts(since),)
        ).fetchall()
        gone = [r[0] for r in rows if r[0] not in ids]
        self.db.executemany(
            "UPDATE debts SET status='cancelled', scheduled=0, unplaced=0, updated=? WHERE id=?",
            ((_ts(now), g) for g in gone),
        )
        return len(gone)

    def ledger(self) -> list[dict[str, object]]:
        cols = [
            "id",
            "category",
            "minutes",
            "created",
            "deadline",
            "final",
            "status",
            "paid",
            "scheduled",
            "waived",
            "unplaced",
        ]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM debts ORDER BY created, id").fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    # -- statistics -----------------------------------------------------------
    def save_week(self, week: str, data: Mapping[str, object], now: datetime) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO weeks VALUES (?,?,?)", (week, json.dumps(data, sort_keys=True), _ts(now))
        )

    def weeks(self) -> dict[str, dict[str, object]]:
        return {str(w): json.loads(d) for w, d in self.db.execute("SELECT week, data FROM weeks ORDER BY week")}

    def first_run(self) -> datetime | None:
        """When idealweek first recorded anything here (weeks that ended before are not its to count)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='first_run'").fetchone()
        return _dt(str(row[0])) if row else None

    def note_first_run(self, now: datetime) -> datetime:
        """Record the first run once; a database from before it was kept takes its oldest record instead."""
        first = self.first_run()
        if first is not None:
            return first
        oldest = [now]
        for sql in ("SELECT MIN(updated) FROM weeks", "SELECT MIN(at) FROM cycles"):
            row = self.db.execute(sql).fetchone()
            if row and row[0]:
                oldest.append(_dt(str(row[0])))
        first = min(oldest)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('first_run', ?)", (_ts(first),))
        return first

    def add_cycle(self, at: datetime, data: Mapping[str, object]) -> None:
        self.db.execute("INSERT INTO cycles (at, data) VALUES (?, ?)", (_ts(at), json.dumps(data, sort_keys=True)))
        self.db.execute("DELETE FROM cycles WHERE id <= (SELECT MAX(id) - 1000 FROM cycles)")

    def recent_cycles(self, limit: int = 10) -> list[dict[str, object]]:
        """The summaries of the last ``limit`` recorded cycles, oldest first."""
        rows = self.db.execute("SELECT data FROM cycles ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        out: list[dict[str, object]] = []
        for (data,) in reversed(rows):
            try:
                value = json.loads(data)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    # -- alerts and experiments (issue 19) ----------------------------------------
    def alert_state(self, subject: str, channel: str) -> tuple[str, int, datetime] | None:
        """(state, attempts, at) of one alert on one channel, or None when it was never tried."""
        row = self.db.execute(
            "SELECT state, attempts, at FROM alerts_sent WHERE subject=? AND channel=?", (subject, channel)
        ).fetchone()
        return (str(row[0]), int(row[1]), _dt(row[2])) if row else None

    def set_alert_state(self, subject: str, channel: str, kind: str, state: str, attempts: int, now: datetime) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO alerts_sent VALUES (?,?,?,?,?,?)",
            (subject, channel, kind, state, attempts, _ts(now)),
        )

    def forget_alerts(self, subject: str) -> int:
        """Forget an alert's subject (the condition ended: a new one alerts again); returns rows removed."""
        return self.db.execute("DELETE FROM alerts_sent WHERE subject=?", (subject,)).rowcount

    def alerts_sent(self) -> list[tuple[str, str, str, str]]:
        """(subject, channel, kind, state) of every alert tried, oldest first."""
        rows = self.db.execute("SELECT subject, channel, kind, state FROM alerts_sent ORDER BY at, subject, channel")
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    def note_version(self, week: str, version: str, name: str, definition: str, now: datetime) -> None:
        """One writing cycle ran in ``week`` with the ideal week ``version`` in force."""
        self.db.execute(
            "INSERT INTO versions VALUES (?,?,?,?,?) ON CONFLICT(version) DO UPDATE SET name=?, last_seen=?",
            (version, name, definition, _ts(now), _ts(now), name, _ts(now)),
        )
        self.db.execute(
            "INSERT INTO week_versions VALUES (?,?,1) ON CONFLICT(week, version) DO UPDATE SET cycles=cycles+1",
            (week, version),
        )

    def versions(self) -> dict[str, tuple[str, datetime]]:
        """version → (name, first seen)."""
        rows = self.db.execute("SELECT version, name, first_seen FROM versions")
        return {str(v): (str(n), _dt(f)) for v, n, f in rows}

    def week_versions(self) -> dict[str, dict[str, int]]:
        """week → {version: writing cycles that week}."""
        out: dict[str, dict[str, int]] = {}
        for w, v, n in self.db.execute("SELECT week, version, cycles FROM week_versions"):
            out.setdefault(str(w), {})[str(v)] = int(n)
        return out

    def save_week_losses(self, week: str, data: object, now: datetime) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO week_losses VALUES (?,?,?)", (week, json.dumps(data, sort_keys=True), _ts(now))
        )

    def week_losses(self) -> dict[str, list[dict[str, object]]]:
        return {str(w): json.loads(d) for w, d in self.db.execute("SELECT week, data FROM week_losses")}

    def signin_first_seen(self, account: str, fingerprint: str, now: datetime) -> datetime:
        """When a writing cycle first saw this sign-in of ``account`` (recorded now if never)."""
        self.db.execute("INSERT OR IGNORE INTO signins VALUES (?,?,?)", (account, fingerprint, _ts(now)))
        row = self.db.execute(
            "SELECT first_seen FROM signins WHERE account=? AND fingerprint=?", (account, fingerprint)
        ).fetchone()
        return _dt(row[0])
