"""One writer per state directory, read-only looks, and a daemon that trusts the database (issue 10, items 1-3).

The looks and ``run --once`` are the real command as a subprocess (clock pinned,
see :mod:`tests.safety.frozen_cli`) against fake Google, fake Graph and a vdir;
the "daemon" of the regression tests is one long-lived in-process engine, which
keeps its events in memory between cycles exactly as the daemon does.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from idealweek.engine import Engine
from idealweek.lock import LOCK_NAME, StateBusy, state_lock
from idealweek.model import Kind
from idealweek.store import Store
from tests.safety.world import REPO, Services, World, at, is_event_write, services

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("one-writer")) as s:
        yield s


def state_bytes(world: World) -> tuple[str, str]:
    """Digests of the state database and its write-ahead log (a missing log counts as empty)."""
    main = hashlib.sha256(world.db.read_bytes()).hexdigest()
    wal = Path(f"{world.db}-wal")
    return main, hashlib.sha256(wal.read_bytes() if wal.exists() else b"").hexdigest()


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), **extra}


class Started:
    """A subprocess whose stderr is collected by a thread (so a test can wait for a line)."""

    def __init__(self, argv: list[str], **extra: str) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.err: list[str] = []
        self.outs: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, self.outs), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def stderr(self) -> str:
        return "".join(self.err)

    @property
    def out(self) -> str:
        return "".join(self.outs)

    def wait(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        for t in self._threads:
            t.join(10)
        return code


def wait_for(cond: object, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def tombstones(world: World) -> dict[tuple[str, str], object]:
    store = Store(world.db)
    try:
        return dict(store.tombstones())
    finally:
        store.close()


def waived_minutes(world: World) -> int:
    return sum(int(w) for (_m, _s, _p, _sch, w, _u) in world.ledger().values())  # type: ignore[call-overload]


def makeup_minutes(world: World) -> int:
    return sum(int((e - s).total_seconds() // 60) for _c, key, kind, s, e in world.owned() if kind == Kind.MAKEUP.value)


# -- 1. one writer ---------------------------------------------------------------------------------


def test_a_second_locker_waits_then_names_the_holder(tmp_path: Path) -> None:
    """While the lock is held, another taker waits the bounded time and then fails naming the holder's pid."""
    with state_lock(tmp_path):
        seen: list[int | None] = []
        t0 = time.monotonic()
        with pytest.raises(StateBusy) as info, state_lock(tmp_path, 0.3, on_wait=seen.append):
            pass
        assert time.monotonic() - t0 >= 0.3
    assert seen == [os.getpid()]
    assert str(info.value) == f"another idealweek (pid {os.getpid()}) is running a cycle on {tmp_path}"
    with state_lock(tmp_path, 0):  # free again once released
        pass


def test_the_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    """A holder killed with SIGKILL leaves no stuck lock: the next taker gets it at once."""
    code = (
        "import sys, time, pathlib\n"
        "from idealweek.lock import state_lock\n"
        "with state_lock(pathlib.Path(sys.argv[1])):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], env=env(), stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(StateBusy, match=f"pid {proc.pid}"), state_lock(tmp_path, 0.1):
            pass
        proc.kill()
        proc.wait(10)
        with state_lock(tmp_path, 5):
            pass
    finally:
        proc.kill()
        proc.wait(10)


def test_run_once_gives_up_after_the_wait_and_exits_1_naming_the_holder(svc: Services) -> None:
    """`run --once` against a held state directory waits IDEALWEEK_LOCK_WAIT seconds, then exits 1 with the pid."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    with state_lock(w.state):
        done = subprocess.run(
            w.command("run", "--once", "--quiet"),
            cwd=REPO,
            env=env(IDEALWEEK_LOCK_WAIT="1"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert f"another idealweek (pid {os.getpid()}) is running a cycle on {w.state}" in done.stderr
    assert "waiting for another idealweek" in done.stderr
    assert w.owned() == [], "a cycle that never got the lock wrote to a calendar"


def test_a_writing_cycle_holds_the_lock_and_a_look_does_not(svc: Services) -> None:
    """The engine's cycle on the state file holds the lock; a cycle on a snapshot (a look) takes none."""
    w = svc.world()
    store = Store(w.db)
    try:
        engine = w.engine(store)
        engine.lock_wait = 0.2
        with state_lock(w.state), pytest.raises(StateBusy):
            engine.cycle()
    finally:
        store.close()
    snap = Store.open_snapshot(w.db)
    try:
        with state_lock(w.state):
            report = w.engine(snap).cycle(dry_run=True)
        assert report.ok and report.ops
    finally:
        snap.close()
    assert (w.state / LOCK_NAME).exists()


# -- 2. looks never write ----------------------------------------------------------------------------

LOOKS = [
    ("status",),
    ("status", "--json"),
    ("plan",),
    ("week",),
    ("week", "--next"),
    ("review",),
    ("review", "--json"),
    ("doctor",),
]


def test_looks_leave_the_state_database_byte_identical(svc: Services) -> None:
    """status, plan, week, review and doctor change no byte of the state database, even with news to read."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.add_personal("dentist", at(2, 12), at(2, 13), "Dentist")
    w.settle()
    # news the looks will read but must not record: a meeting, a cancelled one, a deleted make-up
    w.add_google_meeting(at(3, 17, 15), at(3, 18, 0))
    w.add_outlook_meeting(at(2, 18), at(2, 19))
    w.cancel_meeting(0)
    before = state_bytes(w)
    for look in LOOKS:
        done = w.run(*look)
        assert done.returncode in (0, 1), (look, done.stderr[-2000:])
        assert "internal error" not in done.stderr, (look, done.stderr[-2000:])
        assert state_bytes(w) == before, f"`idealweek {' '.join(look)}` changed the state database"
    plan = w.run("plan")
    assert plan.returncode == 0 and "Would write" in plan.stdout  # the looks did read the news


def test_looks_work_while_a_writer_holds_the_lock(svc: Services) -> None:
    """A look does not wait for the lock: with a cycle holding it, status and plan answer at once."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.settle()
    with state_lock(w.state):
        for look in (("status",), ("plan",), ("week",)):
            done = subprocess.run(
                w.command(*look),
                cwd=REPO,
                env=env(IDEALWEEK_LOCK_WAIT="0"),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, (look, done.stderr[-2000:])
            assert "another idealweek" not in done.stderr


def test_a_look_on_a_fresh_install_creates_no_state(svc: Services) -> None:
    """Before the first run, a look shows the plan from an empty state and creates no database."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    assert not w.db.exists()
    done = w.run("status")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not w.db.exists()


# -- 3. the daemon trusts the database; the two defects of issue 10 -----------------------------------


class Daemonish:
    """One engine kept across cycles (events in memory), opening the store per cycle like the daemon."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.engine: Engine | None = None

    def cycle(self) -> object:
        store = Store(self.world.db)
        try:
            if self.engine is None:
                self.engine = self.world.engine(store)
            self.engine.store = store
            report = self.engine.cycle()
            assert report.ok, report.failed
            return report
        finally:
            store.close()


def test_regression_a_look_no_longer_hides_a_meeting_from_the_daemon(svc: Services) -> None:
    """Issue 10: a meeting added, `idealweek status`, then the daemon's cycle books its 60 min make-up."""
    w, twin = svc.world(), svc.world()
    daemon = Daemonish(w)
    for world in (w, twin):
        world.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    daemon.cycle()
    daemon.cycle()
    twin.settle()
    for world in (w, twin):
        world.add_google_meeting(at(2, 17, 0), at(2, 18, 0))
    assert w.run("status").returncode == 0
    daemon.cycle()
    daemon.cycle()
    twin.settle()
    assert makeup_minutes(w) == makeup_minutes(twin) == 120
    assert w.owned() == twin.owned()
    assert w.ledger() == twin.ledger()
    assert tombstones(w) == {}


def test_regression_the_daemon_reloads_a_calendar_another_process_advanced(svc: Services) -> None:
    """A `run --once` between two daemon cycles: the daemon reloads from SQLite, tombstones and waives nothing."""
    w, twin = svc.world(), svc.world()
    daemon = Daemonish(w)
    for world in (w, twin):
        world.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
        world.add_personal("yoga", at(3, 19), at(3, 20), "Yoga")
    daemon.cycle()
    twin.settle()
    for world in (w, twin):
        world.add_google_meeting(at(2, 17, 0), at(2, 18, 0))
        world.add_personal("swim", at(4, 19), at(4, 20), "Swim")
    assert w.run("run", "--once", "--quiet").returncode == 0
    for world in (w, twin):
        world.add_outlook_meeting(at(3, 18), at(3, 19))
    daemon.cycle()
    daemon.cycle()
    twin.settle()
    assert tombstones(w) == {}, "the daemon took blocks the other process wrote for user deletions"
    assert waived_minutes(w) == 0
    assert w.owned() == twin.owned()
    assert w.ledger() == twin.ledger()


class Overlap:
    """Fake-server choreography for two overlapping cycles A and B.

    A's first event write is held before the fake acts on it; B's read of the Outlook calendar (its
    last calendar) is held after the fake answered it.  Released in the order A then B, an unlocked B
    would commit a view read before A wrote, after A recorded its writes (the race of issue 10).
    """

    def __init__(self) -> None:
        self.a_held = threading.Event()
        self.release_a = threading.Event()
        self.b_armed = False
        self.b_held = threading.Event()
        self.release_b = threading.Event()

    def __call__(self, method: str, path: str, phase: str) -> None:
        if phase == "before" and is_event_write(method, path) and not self.a_held.is_set():
            self.a_held.set()
            self.release_a.wait(60)
        elif self.b_armed and not self.b_held.is_set() and phase == "after" and path.endswith("/delta"):
            self.b_held.set()
            self.release_b.wait(60)

    def release(self) -> None:
        self.release_a.set()
        self.release_b.set()


def test_regression_two_overlapping_run_once_waive_nothing(svc: Services) -> None:
    """Issue 10: a second `run --once` started while the first writes waits its turn; nothing is waived or doubled."""
    w, twin = svc.world(), svc.world()
    for world in (w, twin):
        for day in range(4):
            world.add_google_meeting(at(day, 17, 0), at(day, 18, 15))
        world.add_outlook_meeting(at(1, 7), at(1, 8))
        world.add_personal("yoga", at(2, 19), at(2, 20), "Yoga")
    twin.settle()
    overlap = Overlap()
    svc.google.hook = svc.graph.hook = overlap
    try:
        first = Started(w.command("run", "--once", "--quiet"))
        wait_for(lambda: overlap.a_held.is_set() or first.proc.poll() is not None, what="the first command's write")
        assert overlap.a_held.is_set(), first.stderr()[-2000:]
        overlap.b_armed = True
        second = Started(w.command("run", "--once", "--quiet"))
        wait_for(
            lambda: "waiting for another idealweek" in second.stderr() or overlap.b_held.is_set(),
            what="the second command to queue (or, unlocked, to read)",
        )
        overlap.release_a.set()
        assert first.wait() == 0, first.stderr()[-2000:]
        overlap.release_b.set()
        assert second.wait() == 0, second.stderr()[-2000:]
    finally:
        overlap.release()
        svc.google.hook = svc.graph.hook = None
    assert "you deleted" not in second.out
    w.settle()
    assert tombstones(w) == {}
    assert waived_minutes(w) == 0
    assert not w.duplicates()
    assert w.owned() == twin.owned()
    assert w.ledger() == twin.ledger()
    assert f"pid {first.proc.pid}" in second.stderr()  # it said whom it waited for
