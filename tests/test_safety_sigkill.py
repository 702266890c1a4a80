"""Real SIGKILLs: the `idealweek` command and the daemon killed mid-write against the fakes.

Complements ``test_safety_crash.py`` (whose trials are mostly in-process crashes):
here every counted trial is a real ``SIGKILL`` of a real process.  The default
suite runs 200 of them on ``run --once`` (20 worlds × 10 kills, most of them while
the fake holds a write — before it acts, or after it acted but before it answers,
which is between an API write and its record in the state database) plus
repeated kills of the long-running daemon.  ``IDEALWEEK_SAFETY_TRIALS`` multiplies
the number of worlds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.safety.crash import Tally, check_after_restart, play, run_sigkill_series, setup_script
from tests.safety.world import REPO, Services, services

SCALE = max(1, int(os.environ.get("IDEALWEEK_SAFETY_TRIALS", "1")))
SEEDS = range(3000, 3000 + 20 * SCALE)
KILLS = 10


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("safety-sigkill")) as s:
        yield s


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkilled_run_once_converges_without_duplicates(svc: Services, seed: int) -> None:
    """Ten SIGKILLs of `run --once`, mostly between a write and its record: no duplicate, same end state."""
    tally = Tally()
    run_sigkill_series(svc, seed, KILLS, tally)
    assert tally.kills == KILLS, tally
    assert set(tally.modes) <= {"sigkill:hold-after", "sigkill:hold-before", "sigkill:timer"}


def test_default_suite_sends_at_least_200_sigkills() -> None:
    """The default suite kills the command with SIGKILL at least 200 times (each world asserts its count)."""
    assert len(SEEDS) * KILLS >= 200


def test_sigkilled_daemon_restarts_without_duplicates(svc: Services) -> None:
    """The daemon (`idealweek run`, real clock) killed at random instants and restarted: nothing doubled or touched."""
    rng = random.Random(77)
    world = svc.world("daemon-kill")
    play(world, setup_script(rng))
    user = world.user_fingerprint()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    kills = 0
    for k in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "idealweek.cli", "run", "--config", str(world.config), "--log-level", "warning"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 2.5))
        assert proc.poll() is None, "the daemon exited by itself"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
        check_after_restart(world, user, f"daemon kill {k}")
    world.settle(clock=lambda: datetime.now(UTC))
    check_after_restart(world, user, "daemon final")
    assert kills == 8
