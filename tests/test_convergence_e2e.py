"""Issue 20's reproduction as a regression test: the daemon on a 1 s interval, `run --once` and a look beside it.

Against the fake Google (with the fake Graph and a vdir in the same world): the old daemon deleted a
make-up the other process had just booked and then sent the same DELETE every second, each answered
410 Gone, for as long as it ran.  Now the daemon settles within 3 cycles and no request repeats.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.safety.concurrency import FrozenDaemon, env, now_utc
from tests.safety.world import REPO, Services, World, at, services

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("convergence-e2e")) as s:
        yield s


def side_by_side(world: World, *commands: tuple[str, ...]) -> None:
    """Run the commands as real processes at the same time; each must exit 0."""
    results: dict[int, subprocess.CompletedProcess[str]] = {}

    def run(i: int, args: tuple[str, ...]) -> None:
        results[i] = subprocess.run(
            world.command(*args, "--log-level", "warning"),
            cwd=REPO,
            env=env(IDEALWEEK_LOCK_WAIT="60"),
            capture_output=True,
            text=True,
            timeout=300,
        )

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(commands)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(320)
    for i, args in enumerate(commands):
        assert results[i].returncode == 0, (args, results[i].stderr[-2000:])


def test_regression_daemon_run_once_and_a_look_settle_within_three_cycles(svc: Services) -> None:
    """Issue 20: daemon + concurrent `run --once` + `week` on the fake Google: quiet within 3 cycles, no 410 loop."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    daemon = FrozenDaemon(w, interval="1s")
    try:
        daemon.wait_cycles(1)
        svc.google.clear_log()
        for day in (2, 3):
            w.add_google_meeting(at(day, 17, 0), at(day, 18, 0))
            side_by_side(w, ("run", "--once", "--quiet"), ("week",))
            w.cancel_meeting(0)  # the make-ups just booked are no longer needed
            w.move_meeting(0, timedelta(minutes=30))
            side_by_side(w, ("run", "--once", "--quiet"), ("status",), ("run", "--once", "--quiet"))
        settled_from = now_utc()
        cycles = daemon.cycles_started_after(settled_from, quiet_within=3)
        assert cycles[-1]["operations"] == 0, f"not settled within 3 cycles: {[c['operations'] for c in cycles]}"
        after = daemon.cycles_started_after(settled_from, quiet_within=len(cycles) + 2)
        assert all(c["operations"] == 0 for c in after[len(cycles) :]), "writing again without any change"
        assert daemon.stop() == 0, daemon.tail()
    finally:
        daemon.kill()
    deletes = svc.google.requests_to("DELETE", "/events/")
    gone = Counter(r.path for r in deletes if r.status == 410)
    assert all(n <= 1 for n in gone.values()), f"a DELETE answered 410 was sent again: {gone}"
    per_event = Counter(r.path for r in deletes)
    assert all(n <= 2 for n in per_event.values()), f"the same DELETE repeated: {per_event}"
    assert not [r for r in daemon.records() if r.get("event") == "write.repeated"]
    assert not w.duplicates()
