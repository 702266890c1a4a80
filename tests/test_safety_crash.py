"""Crash at any instant: idealweek killed at random points against fake Google, fake Graph and a vdir.

Seeded and reproducible.  ``IDEALWEEK_SAFETY_TRIALS`` multiplies the number of
worlds (default 1: the suite's size).  See :mod:`tests.safety.crash` for what
each kind of trial does and checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from idealweek.model import Kind
from idealweek.store import Store
from tests.safety.crash import Crash, CrashingProvider, CrashPoint, Tally, run_in_process_trial, run_process_trial
from tests.safety.world import Services, at, services

SCALE = max(1, int(os.environ.get("IDEALWEEK_SAFETY_TRIALS", "1")))
IN_PROCESS_SEEDS = range(1000, 1000 + 16 * SCALE)
PROCESS_SEEDS = range(2000, 2000 + 6 * SCALE)
IN_PROCESS = {"phases": 5, "kills": 6}
PROCESS = {"phases": 2, "kills": 3}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("safety-crash")) as s:
        yield s


@pytest.mark.parametrize("seed", IN_PROCESS_SEEDS)
def test_in_process_crashes_leave_nothing_lost_or_duplicated(svc: Services, seed: int) -> None:
    """Crashes before/after a provider write or after the reads: no duplicate, no user change, same end state."""
    tally = Tally()
    run_in_process_trial(svc, seed, **IN_PROCESS, tally=tally)
    assert tally.phases == IN_PROCESS["phases"]
    assert tally.kills >= 5, tally
    print(f"seed {seed}: {tally}")


@pytest.mark.parametrize("seed", PROCESS_SEEDS)
def test_sigkilled_command_leaves_nothing_lost_or_duplicated(svc: Services, seed: int) -> None:
    """`idealweek run --once` SIGKILLed at random instants and around held writes: the same invariants hold."""
    tally = Tally()
    run_process_trial(svc, seed, **PROCESS, tally=tally)
    assert tally.phases == PROCESS["phases"]
    assert tally.kills >= 1, tally
    print(f"seed {seed}: {tally}")


def test_the_suite_runs_at_least_200_crash_trials() -> None:
    """The default suite runs at least 200 kill-and-restart trials (each world asserts its own minimum)."""
    assert len(IN_PROCESS_SEEDS) * IN_PROCESS["phases"] * IN_PROCESS["kills"] >= 200


def test_crash_after_our_delete_does_not_tombstone_the_key(svc: Services) -> None:
    """Killed after deleting a make-up but before recording it: the same make-up can be created again later."""
    world = svc.world("burn")
    world.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    world.settle()
    (first,) = [o for o in world.owned() if o[0] == "gwork" and o[2] == Kind.MAKEUP.value]
    world.cancel_meeting(0)
    point = CrashPoint("after", 1)  # the first write is the make-up's delete on Google
    store = Store(world.db)
    try:
        world.engine(store, wrap=lambda p: CrashingProvider(p, point)).cycle()
    except Crash:
        pass
    finally:
        store.close()
    assert point.fired
    world.settle()
    assert not [o for o in world.owned() if o[2] == Kind.MAKEUP.value]
    world.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    world.settle()
    again = [o for o in world.owned() if o[0] == "gwork" and o[2] == Kind.MAKEUP.value]
    assert again == [first], "the make-up was taken for one the user deleted"
