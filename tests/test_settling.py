"""The daemon says whether it has settled: STATUS=, `status --json` and `doctor` (issue 20, item 4)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idealweek import config as cfg
from idealweek import doctor
from idealweek.app import App
from idealweek.cli import main
from idealweek.daemon import Service
from idealweek.settling import always_writing, pending_streak, planned_ops, settle_text
from idealweek.store import Store
from tests.test_daemon import Recorder
from tests.test_daemon_support import demo_copy


def test_settle_text_says_settled_or_how_long_work_has_been_pending() -> None:
    """No operation planned reads "settled"; otherwise "N operations pending for M cycles"."""
    assert settle_text(0, 5) == "settled"
    assert settle_text(3, 2) == "3 operations pending for 2 cycles"
    assert settle_text(1, 1) == "1 operation pending for 1 cycle"
    assert settle_text(4, 0) == "4 operations pending for the next cycle"


def test_pending_streak_counts_the_cycles_in_a_row_that_planned_work() -> None:
    """The streak counts back from the newest cycle to the last quiet one."""
    assert pending_streak([]) == 0
    assert pending_streak([5, 0, 2, 1]) == 2
    assert pending_streak([5, 3, 0]) == 0
    assert planned_ops([{"operations": 2}, {"writes": 1}, {"operations": "x"}]) == [2, 0, 0]


def test_always_writing_needs_ten_writing_cycles_in_a_row() -> None:
    """Ten recorded cycles that all wrote are flagged; nine, or one quiet among them, are not."""
    writing = [{"writes": 2}] * 10
    assert always_writing(writing)
    assert not always_writing(writing[:9])
    assert not always_writing([*writing[:5], {"writes": 0}, *writing[:4]])
    assert always_writing([{"writes": 0}, *writing])


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    config = demo_copy(tmp_path)
    svc = Service(App(config, cfg.load(config)), notifier=Recorder())
    yield svc
    if svc.scheduler.running:
        svc.scheduler.shutdown(wait=True)


def test_daemon_status_line_says_pending_then_settled(service: Service) -> None:
    """STATUS= names the pending operations after a writing cycle and "settled" once a cycle planned none."""
    rec = service.notifier
    assert isinstance(rec, Recorder)
    first = service.sync_job()
    assert first is not None and first.ops
    status = [s for s in rec.sent if s.startswith("STATUS=")][-1]
    assert f"{len(first.ops)} operations pending for 1 cycle" in status
    for _ in range(3):
        report = service.sync_job()
        assert report is not None
        if not report.ops:
            break
    status = [s for s in rec.sent if s.startswith("STATUS=")][-1]
    assert "; settled;" in status


def status_json(config: Path) -> dict[str, object]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["status", "--json", "--config", str(config), "--log-level", "error"]) == 0
    data = json.loads(out.getvalue())
    assert isinstance(data, dict)
    return data


def test_status_json_says_settled_or_pending(tmp_path: Path) -> None:
    """`status --json` says what the next cycle would write, and "settled" after a cycle that left nothing."""
    config = demo_copy(tmp_path)
    assert status_json(config)["sync"] != "settled"  # before the first run everything is pending
    assert str(status_json(config)["sync"]).endswith("for the next cycle")
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    assert status_json(config)["sync"] == "settled"


def test_doctor_warns_when_the_last_ten_cycles_all_wrote(tmp_path: Path) -> None:
    """`doctor` shows WARN (exit 0) when each of the last 10 recorded cycles wrote; PASS after a quiet one."""
    config = demo_copy(tmp_path)
    store = Store(tmp_path / "state" / "state.sqlite3")
    try:
        with store.transaction():
            for _ in range(10):
                store.add_cycle(datetime.now(UTC), {"operations": 2, "writes": 2})
    finally:
        store.close()

    def cycles_line() -> str:
        out = io.StringIO()
        doctor.run(App(config, cfg.load(config)), out=out, timeout=3)
        return next(x for x in out.getvalue().splitlines() if x.split("  ", 1)[1].startswith("cycles:"))

    warn = cycles_line()
    assert warn.startswith("WARN") and "last 10 cycles all wrote" in warn
    store = Store(tmp_path / "state" / "state.sqlite3")
    try:
        with store.transaction():
            store.add_cycle(datetime.now(UTC), {"operations": 0, "writes": 0})
    finally:
        store.close()
    ok = cycles_line()
    assert ok.startswith("PASS") and "last: settled" in ok
