"""Crash trials: kill idealweek at random points against the fakes, restart, check the invariants.

Two kinds of trial, both seeded and reproducible:

* **process** trials run the real ``idealweek run --once`` as a subprocess
  (clock pinned by :mod:`tests.safety.frozen_cli`) and SIGKILL it — at a random
  instant, or while the fake holds the n-th event write *before* acting on it,
  or *after* acting on it but before answering (the write happened, its record
  in the state database did not);
* **in-process** trials run the engine with the real Google/Outlook/vdir
  providers over HTTP and raise :class:`Crash` (a ``BaseException`` nothing
  catches) before or after the n-th provider write, or right after the reads;
  the engine and its SQLite connection are then dropped without a commit, like
  a killed process, and a new engine starts on the same state file.

After every restart: no duplicate owned event, the user's events untouched,
the debt ledger conserved.  After each phase's final clean cycles: the
calendars and the ledger equal those of a twin world that ran the same phase
without crashes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from idealweek.store import Store
from tests.safety.world import Holder, Services, World, at, kill_after, kill_when_held


class Crash(BaseException):
    """The process dies here."""


@dataclass
class Tally:
    kills: int = 0
    restarts: int = 0
    phases: int = 0
    modes: dict[str, int] = field(default_factory=dict)

    def killed(self, mode: str) -> None:
        self.kills += 1
        self.modes[mode] = self.modes.get(mode, 0) + 1


class CrashingProvider:
    """Wraps a provider; raises :class:`Crash` at the chosen point."""

    def __init__(self, inner: Any, point: CrashPoint) -> None:
        self._inner = inner
        self._point = point

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def read_changes(self, token: str | None) -> Any:
        out = self._inner.read_changes(token)
        self._point.after_read()
        return out

    def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._point.before_write()
        out = fn(*args)
        self._point.after_write()
        return out

    def create(self, desired: Any) -> Any:
        return self._write(self._inner.create, desired)

    def update(self, existing: Any, desired: Any) -> Any:
        return self._write(self._inner.update, existing, desired)

    def delete(self, existing: Any) -> Any:
        return self._write(self._inner.delete, existing)


class CrashPoint:
    """Crash at the n-th write (``before``/``after`` it), or once every calendar was read (``read``)."""

    def __init__(self, where: str, n: int, calendars: int = 3) -> None:
        self.where = where
        self.n = n
        self.writes = 0
        self.reads_left = calendars
        self.fired = False

    def _fire(self) -> None:
        self.fired = True
        raise Crash

    def after_read(self) -> None:
        self.reads_left -= 1
        if self.where == "read" and self.reads_left == 0:
            self._fire()

    def before_write(self) -> None:
        self.writes += 1
        if self.where == "before" and self.writes == self.n:
            self._fire()

    def after_write(self) -> None:
        if self.where == "after" and self.writes == self.n:
            self._fire()


# -- the user's side: the same random script is played on the world and its twin ---------------


def setup_script(rng: random.Random) -> list[tuple[str, int, int, int, int]]:
    """(where, day, hour, minute, minutes) of the meetings and personal events a trial starts with."""
    out = []
    for _ in range(rng.randint(1, 3)):
        out.append(("gwork", rng.randint(0, 5), rng.choice([7, 16, 17, 18]), rng.choice([0, 30]), rng.choice([30, 60])))
    for _ in range(rng.randint(0, 2)):
        out.append(("owork", rng.randint(0, 5), rng.choice([7, 16, 17, 18]), rng.choice([0, 30]), rng.choice([30, 60])))
    if rng.random() < 0.5:
        out.append(("home", rng.randint(1, 5), rng.choice([12, 19, 20]), 0, 60))
    return out


def play(world: World, script: list[tuple[str, int, int, int, int]]) -> None:
    for i, (where, day, hour, minute, minutes) in enumerate(script):
        start = at(day, hour, minute)
        end = start + timedelta(minutes=minutes)
        if where == "gwork":
            world.add_google_meeting(start, end)
        elif where == "owork":
            world.add_outlook_meeting(start, end)
        else:
            world.add_personal(f"personal-{i}", start, end, "Dentist", location="Main St 1")


def change_script(rng: random.Random, meetings: int) -> tuple[str, int, int]:
    """One change between phases: cancel or move a meeting, or add one (kind, index, value)."""
    kind = rng.choice(["cancel", "move", "add", "add-outlook"]) if meetings else rng.choice(["add", "add-outlook"])
    if kind in ("cancel", "move"):
        return kind, rng.randrange(meetings), rng.choice([-90, -30, 60, 24 * 60])
    return kind, rng.randint(0, 6), rng.choice([7, 16, 17, 18])


def apply_change(world: World, change: tuple[str, int, int]) -> None:
    kind, a, b = change
    if kind == "cancel":
        world.cancel_meeting(a)
    elif kind == "move":
        world.move_meeting(a, timedelta(minutes=b))
    elif kind == "add":
        world.add_google_meeting(at(a, b, 15), at(a, b, 15) + timedelta(minutes=45))
    else:
        world.add_outlook_meeting(at(a, b), at(a, b) + timedelta(minutes=60))


def change_both(rng: random.Random, world: World, twin: World) -> None:
    """One random user change, made the same way in the world and its twin."""
    change = change_script(rng, len(world.meetings))
    apply_change(world, change)
    apply_change(twin, change)


def kill_command(svc: Services, world: World, rng: random.Random, mode: str, writes: int) -> bool:
    """Start ``run --once`` and SIGKILL it: after a random delay (``timer``) or while the fake holds
    write number 1..``writes`` before acting on it (``hold-before``) or after (``hold-after``).
    True when the kill landed before the command finished."""
    if mode == "timer":
        return kill_after(world.start("run", "--once", "--quiet"), rng.uniform(0.3, 1.4))
    holder = Holder(rng.randint(1, writes), "before" if mode == "hold-before" else "after")
    svc.google.hook = svc.graph.hook = holder
    try:
        return kill_when_held(world.start("run", "--once", "--quiet"), holder)
    finally:
        svc.google.hook = svc.graph.hook = None


# -- checks ------------------------------------------------------------------------------------


def check_after_restart(world: World, user: str, label: str) -> None:
    dups = world.duplicates()
    assert not dups, f"{label}: duplicate owned events {dups}"
    assert world.user_fingerprint() == user, f"{label}: a user event was changed"
    bad = world.ledger_conserved()
    assert not bad, f"{label}: debt not accounted for: {bad}"


def check_converged(world: World, twin: World, label: str) -> None:
    mine, theirs = world.owned(), twin.owned()
    missing = sorted(set(theirs) - set(mine))
    extra = sorted(set(mine) - set(theirs))
    assert not missing and not extra, f"{label}: differs from a clean run: missing {missing[:5]}, extra {extra[:5]}"
    assert world.ledger() == twin.ledger(), f"{label}: ledger differs from a clean run"


# -- one world through its phases ---------------------------------------------------------------


def pending_writes(world: World, through_fakes: bool = False) -> int:
    """How many writes the next cycle would make (a dry run on a copy of the state); with
    ``through_fakes`` only those to the Google and Graph fakes (not the vdir)."""
    import shutil
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        # the whole state directory: the database and what lives beside it (mirror key, tombstone journal)
        state = Path(tmp) / "state"
        shutil.copytree(world.db.parent, state)
        store = Store(state / world.db.name)
        try:
            ops = world.engine(store).cycle(dry_run=True, force=True).ops
            return sum(1 for op in ops if not through_fakes or op.calendar in ("gwork", "owork"))
        finally:
            store.close()


def run_in_process_trial(svc: Services, seed: int, phases: int, kills: int, tally: Tally) -> None:
    """A world and its twin through ``phases`` phases, each with up to ``kills`` in-process crashes."""
    rng = random.Random(seed)
    world, twin = svc.world(f"ip{seed}"), svc.world(f"ip{seed}-twin")
    script = setup_script(rng)
    for phase in range(phases):
        if phase == 0:
            play(world, script)
            play(twin, script)
        else:
            for _ in range(rng.randint(1, 3)):
                change_both(rng, world, twin)
        twin.settle()
        user = world.user_fingerprint()
        for k in range(kills):
            pending = pending_writes(world)
            if pending == 0:
                break  # converged: the remaining kills of this phase would have nothing to interrupt
            where = rng.choice(["before", "after", "before", "after", "read"])
            point = CrashPoint(where, min(pending, 1 + int(rng.random() ** 2 * pending)))
            store = Store(world.db)
            try:
                world.engine(store, wrap=lambda p, point=point: CrashingProvider(p, point)).cycle()
            except Crash:
                pass
            finally:
                store.close()  # an open transaction was rolled back on the way out, as after a kill
            if point.fired:
                tally.killed(f"in-process:{where}")
            tally.restarts += 1
            check_after_restart(world, user, f"seed {seed} phase {phase} kill {k} ({where} #{point.n})")
        world.settle()
        check_after_restart(world, user, f"seed {seed} phase {phase} final")
        check_converged(world, twin, f"seed {seed} phase {phase}")
        tally.phases += 1


def run_process_trial(svc: Services, seed: int, phases: int, kills: int, tally: Tally) -> None:
    """Like :func:`run_in_process_trial` with the real command as a subprocess, SIGKILLed."""
    rng = random.Random(seed)
    world, twin = svc.world(f"px{seed}"), svc.world(f"px{seed}-twin")
    script = setup_script(rng)
    for phase in range(phases):
        if phase == 0:
            play(world, script)
            play(twin, script)
        else:
            change_both(rng, world, twin)
        twin.settle()
        user = world.user_fingerprint()
        for k in range(kills):
            pending = pending_writes(world)
            for _ in range(6):
                if pending > 0:
                    break
                # An earlier command finished before its kill (a fast machine): the user changes
                # something (until it needs a write), so this kill has a write to land between.
                change_both(rng, world, twin)
                twin.settle()
                user = world.user_fingerprint()
                pending = pending_writes(world)
            mode = rng.choice(["timer", "hold-before", "hold-after", "hold-after"])
            held = pending_writes(world, through_fakes=True)  # the fakes can hold only their own writes
            if held == 0:
                mode = "timer"
            killed = kill_command(svc, world, rng, mode, max(1, held))
            if killed:
                tally.killed(f"process:{mode}")
            tally.restarts += 1
            check_after_restart(world, user, f"seed {seed} phase {phase} kill {k} ({mode})")
        done = world.run("run", "--once", "--quiet")
        assert done.returncode == 0, done.stderr[-2000:]
        tally.restarts += 1
        world.settle()
        check_after_restart(world, user, f"seed {seed} phase {phase} final")
        check_converged(world, twin, f"seed {seed} phase {phase}")
        tally.phases += 1


def run_sigkill_series(svc: Services, seed: int, kills: int, tally: Tally) -> None:
    """``kills`` SIGKILLs of the real command in one world, each aimed at a write that is pending.

    Between kills the user changes the calendars whenever nothing is left to interrupt.  Most
    kills hold the n-th write in the fake (before it acts, or after it acted but before it
    answers) so they land between an API write and its record; some are timed.
    """
    rng = random.Random(seed)
    world, twin = svc.world(f"sk{seed}"), svc.world(f"sk{seed}-twin")
    script = setup_script(rng)
    play(world, script)
    play(twin, script)
    twin.settle()
    user = world.user_fingerprint()
    fired = 0
    for k in range(kills * 8):
        if fired >= kills:
            break
        pending = pending_writes(world)
        for _ in range(4):  # nothing left to interrupt: the user changes something
            if pending:
                break
            change_both(rng, world, twin)
            twin.settle()
            user = world.user_fingerprint()
            pending = pending_writes(world)
        if pending == 0:
            continue
        mode = rng.choice(["hold-after", "hold-after", "hold-before", "timer"])
        killed = kill_command(svc, world, rng, mode, pending)
        if killed:
            fired += 1
            tally.killed(f"sigkill:{mode}")
        tally.restarts += 1
        check_after_restart(world, user, f"seed {seed} kill {k} ({mode})")
    done = world.run("run", "--once", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    world.settle()
    check_after_restart(world, user, f"seed {seed} final")
    check_converged(world, twin, f"seed {seed}")
    tally.phases += 1
