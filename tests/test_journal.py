"""Deleted stays deleted after state loss (SPEC §6.3): the tombstone journal beside the state database."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from idealweek.engine import Engine
from idealweek.journal import JOURNAL_NAME, TombstoneJournal
from idealweek.model import Interval, utc
from idealweek.providers.base import Provider
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.providers.vdir import VdirProvider
from idealweek.store import Store
from tests.scenario import settings as make_settings

T0 = utc(2030, 1, 7, 9)
IV = Interval(T0, T0 + timedelta(hours=1))
S = make_settings()
NOW = utc(2026, 11, 23, 7)


def test_journal_appends_and_reads_back(tmp_path: Path) -> None:
    """A tombstone added is read back by a new reader, once, with its interval; the file is private."""
    j = TombstoneJournal(tmp_path / JOURNAL_NAME)
    j.add("home", "block:x", "block", IV, T0)
    j.add("home", "block:x", "block", IV, T0)
    j.add("work", "mirror:y", "mirror", None, T0)
    again = TombstoneJournal(tmp_path / JOURNAL_NAME)
    assert again.entries() == {("home", "block:x"): IV, ("work", "mirror:y"): None}
    assert len((tmp_path / JOURNAL_NAME).read_text().splitlines()) == 2
    assert (tmp_path / JOURNAL_NAME).stat().st_mode & 0o077 == 0


def test_torn_or_garbage_lines_are_skipped(tmp_path: Path) -> None:
    """A torn last line (power cut) and garbage are skipped; the next entry still goes on its own line."""
    path = tmp_path / JOURNAL_NAME
    j = TombstoneJournal(path)
    j.add("home", "a", "block", IV, T0)
    with path.open("a") as fh:
        fh.write('{"c":"home","k":"torn"')
    j.add("home", "b", "block", IV, T0)
    path.open("a").write("[[[\n" + '{"c":1,"k":2}\n' + '{"c":"x","k":"y","s":"1e999"}\n')
    assert set(TombstoneJournal(path).entries()) == {("home", "a"), ("home", "b")}


def test_a_read_only_journal_never_writes(tmp_path: Path) -> None:
    """A look reads the journal and never appends to it."""
    j = TombstoneJournal(tmp_path / JOURNAL_NAME, writable=False)
    j.add("home", "a", "block", IV, T0)
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_another_writers_lines_are_seen(tmp_path: Path) -> None:
    """Lines appended by another process are read on the next look (the file changed)."""
    mine, theirs = TombstoneJournal(tmp_path / JOURNAL_NAME), TombstoneJournal(tmp_path / JOURNAL_NAME)
    assert mine.entries() == {}
    theirs.add("home", "a", "block", IV, T0)
    assert ("home", "a") in mine


def test_store_tombstones_include_the_journal_after_the_database_is_lost(tmp_path: Path) -> None:
    """A tombstone recorded in one database is still known to a fresh database in the same directory."""
    store = Store(tmp_path / "state.sqlite3")
    with store.transaction():
        store.add_tombstone("home", "block:x", "block", IV, T0)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'state.sqlite3'}{suffix}").unlink(missing_ok=True)
    fresh = Store(tmp_path / "state.sqlite3")
    try:
        assert fresh.tombstones() == {("home", "block:x"): IV}
        assert fresh.tombstoned("home", "block:x") and not fresh.tombstoned("home", "block:y")
    finally:
        fresh.close()


class _Home:
    """The blocks calendar of a small world, as a forgetting in-memory service or a vdir folder."""

    def __init__(self, tmp: Path, kind: str) -> None:
        self.kind, self.folder, self.cal, self.work = kind, tmp / "home", MemoryCalendar(), MemoryCalendar()

    def cycle(self, db: Path) -> None:
        home: Provider = (
            MemoryProvider("home", self.cal)
            if self.kind == "memory"
            else VdirProvider("home", self.folder, writable=True, clock=lambda: NOW)
        )
        store = Store(db)
        try:
            assert (
                Engine(S, store, {"work": MemoryProvider("work", self.work), "home": home}, clock=lambda: NOW)
                .cycle()
                .ok
            )
        finally:
            store.close()

    def owned_keys(self) -> set[str]:
        if self.kind == "memory":
            return {e.tag.key for e in self.cal.events.values() if e.tag}
        probe = VdirProvider("home", self.folder, writable=False, clock=lambda: NOW)
        return {e.tag.key for e in probe.list_owned() if e.tag}

    def user_deletes_one(self) -> str:
        if self.kind == "memory":
            ev = max((e for e in self.cal.events.values() if e.tag), key=lambda e: e.start)
            self.cal.user_delete(ev.uid)
            self.cal.deleted_ids.clear()  # a service that forgets deleted ids (as Graph does)
        else:
            probe = VdirProvider("home", self.folder, writable=False, clock=lambda: NOW)
            ev = max(probe.list_owned(), key=lambda e: e.start)
            (self.folder / f"{ev.uid}.ics").unlink()
        assert ev.tag is not None
        return ev.tag.key


@pytest.mark.parametrize("kind", ["memory", "vdir"])
def test_engine_deleted_block_stays_deleted_after_database_loss(tmp_path: Path, kind: str) -> None:
    """Delete a block, lose the database, run again: it is not recreated (memory: by the journal alone)."""
    world, db = _Home(tmp_path, kind), tmp_path / "state" / "state.sqlite3"
    world.cycle(db)
    gone = world.user_deletes_one()
    world.cycle(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    world.cycle(db)
    assert gone not in world.owned_keys()
    if kind == "vdir":  # the whole state directory lost: the vdir's own markers still refuse
        shutil.rmtree(db.parent)
        world.cycle(db)
        assert gone not in world.owned_keys()


def test_a_look_never_appends_to_the_journal(tmp_path: Path) -> None:
    """A snapshot (what status/plan/week/review read) sees the journal but never writes it."""
    db = tmp_path / "state.sqlite3"
    Store(db).close()
    look = Store.open_snapshot(db)
    try:
        with look.transaction():
            look.add_tombstone("home", "block:x", "block", IV, T0)
        assert look.tombstoned("home", "block:x")
    finally:
        look.close()
    assert not (tmp_path / JOURNAL_NAME).exists()
    TombstoneJournal(tmp_path / JOURNAL_NAME).add("home", "block:y", "block", IV, T0)
    look = Store.open_snapshot(db)
    try:
        assert ("home", "block:y") in look.tombstones()
    finally:
        look.close()


def test_a_long_journal_drops_events_that_ended_long_ago(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the compaction size, tombstones of events that ended over 60 days ago go; recent ones stay."""
    from idealweek import journal

    monkeypatch.setattr(journal, "COMPACT_AFTER", 3)
    j = TombstoneJournal(tmp_path / JOURNAL_NAME)
    old = Interval(T0 - timedelta(days=90), T0 - timedelta(days=89))
    j.add("home", "old", "block", old, T0)
    j.add("home", "unknown", "block", None, T0)
    j.add("home", "recent", "block", IV, T0)
    j.add("home", "new", "block", IV, T0)
    assert set(TombstoneJournal(tmp_path / JOURNAL_NAME).entries()) == {
        ("home", "unknown"),
        ("home", "recent"),
        ("home", "new"),
    }
    assert (tmp_path / JOURNAL_NAME).stat().st_mode & 0o077 == 0
