"""The state database's tables, indexes and schema version; how its times are stored."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

SCHEMA_VERSION = 2
MIRROR_KEY_NAME = "mirror.key"

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
