"""What happened, for looking back: week figures, the cycle log, the first run, alerts sent, experiment
versions, sign-ins."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime

from idealweek.store.schema import _dt, _ts


class History:
    """Week statistics, cycles, alerts and experiments (a part of :class:`~idealweek.store.Store`)."""

    db: sqlite3.Connection

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
