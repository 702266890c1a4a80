"""Deleted stays deleted after state loss: an append-only journal of tombstones beside the database.

Every owned event the user deleted (a tombstone) is appended here as one JSON line, written and
fsynced before it is relied on, and read back together with the database's tombstones.  Losing or
replacing the SQLite file (a corrupt database moved aside, a restore, ``rm state.sqlite3``) therefore
never brings back what the user deleted.  The journal only grows by one short line per deletion;
lines that cannot be read (a torn last line after a power cut) are skipped with a warning.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from idealweek.fsutil import atomic_write, fsync_dir, open_private
from idealweek.model import Interval

log = structlog.get_logger(__name__)

JOURNAL_NAME = "deleted-events.journal"
"""File name of the journal, in the state database's directory."""
COMPACT_AFTER = 2000
"""Lines after which an append also drops entries of events that ended long ago (rewritten atomically)."""
KEEP_ENDED = timedelta(days=60)
"""An ended event is never created again anyway; its tombstone is kept this long for the record."""


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("naive time")
    return t.astimezone(UTC)


class TombstoneJournal:
    """The journal at ``path``; ``writable=False`` for a look, which reads it and never appends."""

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        self._entries: dict[tuple[str, str], Interval | None] = {}
        self._seen: tuple[int, int] | None = None
        """(size, mtime_ns) of the file when it was last read: another writer's lines are read again."""

    def entries(self) -> dict[tuple[str, str], Interval | None]:
        """(calendar, key) → the deleted event's interval (``None`` when unknown), as recorded."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._entries, self._seen = {}, None
            return {}
        except OSError as exc:
            log.warning("journal.unreadable", path=str(self.path), error=str(exc))
            return dict(self._entries)
        if self._seen != (st.st_size, st.st_mtime_ns):
            self._entries = self._read()
            self._seen = (st.st_size, st.st_mtime_ns)
        return dict(self._entries)

    def _read(self) -> dict[tuple[str, str], Interval | None]:
        out: dict[tuple[str, str], Interval | None] = {}
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            log.warning("journal.unreadable", path=str(self.path), error=str(exc))
            return dict(self._entries)
        bad = 0
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                cal, key = doc["c"], doc["k"]
                if not isinstance(cal, str) or not isinstance(key, str):
                    raise TypeError("calendar and key must be text")
                start, end = _when(doc.get("s")), _when(doc.get("e"))
                out[(cal, key)] = Interval(start, end) if start is not None and end is not None else None
            except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
                bad += 1
        if bad:
            log.warning("journal.bad_lines", path=str(self.path), skipped=bad)
        return out

    def __contains__(self, item: tuple[str, str]) -> bool:
        return item in self.entries()

    def add(self, calendar: str, key: str, kind: str, iv: Interval | None, at: datetime) -> None:
        """Append one tombstone and fsync it (nothing is written for a read-only journal or a known one)."""
        if not self.writable or (calendar, key) in self.entries():
            return
        doc: dict[str, str] = {"c": calendar, "k": key, "t": kind, "at": at.astimezone(UTC).isoformat()}
        if iv is not None:
            doc["s"], doc["e"] = iv.start.isoformat(), iv.end.isoformat()
        line = (json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
        new = not self.path.exists()
        fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            if os.fstat(fd).st_size and not self._ends_with_newline():
                line = b"\n" + line  # a torn last line stays on its own
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            fsync_dir(self.path.parent)
        self._entries[(calendar, key)] = iv
        if len(self._entries) > COMPACT_AFTER:
            self._compact(at - KEEP_ENDED)

    def _compact(self, before: datetime) -> None:
        """Drop the lines of events that ended before ``before`` (and unreadable ones)."""
        keep: list[bytes] = []
        for line in self.path.read_bytes().splitlines():
            try:
                end = _when(json.loads(line).get("e"))
            except (ValueError, AttributeError, TypeError, OverflowError, RecursionError):
                continue
            if end is None or end >= before:
                keep.append(line + b"\n")
        atomic_write(self.path, b"".join(keep))
        self._entries, self._seen = self._read(), None

    def _ends_with_newline(self) -> bool:
        try:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                return fh.read(1) == b"\n"
        except OSError:
            return True


__all__ = ["JOURNAL_NAME", "TombstoneJournal"]
