"""What the user decided and what was paid: tombstones (also in the journal), waivers, payments, the debt ledger."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import cached_property
from pathlib import Path

from idealweek.journal import JOURNAL_NAME, TombstoneJournal
from idealweek.model import Debt, Interval
from idealweek.store.schema import _dt, _ts


class Decisions:
    """Tombstones, waivers, payments and debts (a part of :class:`~idealweek.store.Store`)."""

    db: sqlite3.Connection
    path: Path
    snapshot: bool

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
