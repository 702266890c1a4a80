"""People run commands while the daemon runs: the real daemon beside looks, `run --once` and user edits.

* :class:`FrozenDaemon` — ``idealweek run`` as a subprocess on a world, its clock pinned like
  :mod:`tests.safety.frozen_cli`, logging JSON lines to a file (cycles, writes, their answers).
* :func:`command_in_process` — the real ``idealweek`` command line (``cli.main``) called in a
  thread of the test process: its own App, secret store, providers, state connection and lock file
  descriptor, like another process, without paying an interpreter start-up per command.
* :func:`interleave` — one interleaving: a seeded random set of looks and ``run --once``
  started at random instants (some as real processes), with user changes made in between.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.safety.crash import change_both
from tests.safety.world import NOW, REPO, World

LOOKS = (("status",), ("status", "--json"), ("plan",), ("week",), ("review",))
RUN_ONCE = ("run", "--once", "--quiet")


def env(**extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")},
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def with_interval(world: World, interval: str = "1s") -> None:
    """The world's config with ``sync_interval`` (a top-level key, so it goes before every table)."""
    text = world.config.read_text()
    if "sync_interval" not in text:
        world.config.write_text(f'sync_interval = "{interval}"\n' + text)


class FrozenDaemon:
    """``idealweek run`` on ``world`` with the pinned clock; JSON log lines in ``world.dir/daemon-N.log``."""

    _n = 0

    def __init__(self, world: World, interval: str = "1s") -> None:
        with_interval(world, interval)
        FrozenDaemon._n += 1
        self.world = world
        self.log_path = world.dir / f"daemon-{FrozenDaemon._n}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [*world.command("run", "--log-format", "json", "--log-level", "info")],
            cwd=REPO,
            env=env(IDEALWEEK_LOCK_WAIT=LOCK_WAIT),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def records(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def cycles(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == "cycle"]

    def wait_cycles(self, n: int, timeout: float = 120) -> list[dict[str, Any]]:
        """Wait until at least ``n`` cycles have been logged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cycles = self.cycles()
            if len(cycles) >= n:
                return cycles
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.proc.returncode}): {self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"the daemon logged fewer than {n} cycles in {timeout}s: {self.tail()}")

    def cycles_started_after(self, t: datetime, timeout: float = 120, quiet_within: int = 3) -> list[dict[str, Any]]:
        """The cycles that started after wall time ``t``, up to the first that planned nothing (or ``quiet_within``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            after = [c for c in self.cycles() if cycle_start(c) >= t]
            for i, c in enumerate(after[:quiet_within]):
                if c.get("operations") == 0:
                    return after[: i + 1]
            if len(after) >= quiet_within:
                return after[:quiet_within]
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.proc.returncode}): {self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"no {quiet_within} cycles after {t} within {timeout}s: {self.tail()}")

    def tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def cycle_start(rec: dict[str, Any]) -> datetime:
    """When a logged cycle started: its log time minus its duration."""
    end = datetime.fromisoformat(str(rec["timestamp"]).replace("Z", "+00:00"))
    return end - timedelta(milliseconds=float(rec.get("duration_ms", 0)))


# -- the command in-process ---------------------------------------------------------------------


LOCK_WAIT = "300"
"""Commands queue behind the daemon's cycles; on a loaded machine that can take a while."""
_local = threading.local()


class _PerThreadStderr:
    """``sys.stderr`` that a thread running a command can point at its own buffer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        buf = getattr(_local, "buf", None)
        return int((buf if buf is not None else self.inner).write(text))

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextlib.contextmanager
def pinned_commands(now: datetime = NOW) -> Iterator[None]:
    """While active, ``cli.main`` in this process plans at ``now`` (as :mod:`tests.safety.frozen_cli` does)
    and waits as long as the command processes for the lock; each command's stderr is kept per thread."""
    import sys

    from idealweek.app import App

    original = App.engine

    def engine(self: App, store: Any) -> Any:
        made = original(self, store)
        made.clock = lambda: now
        for provider in made.providers.values():
            if hasattr(provider, "clock"):
                provider.clock = lambda: now
        return made

    App.engine = engine  # type: ignore[method-assign]
    saved_wait, saved_err = os.environ.get("IDEALWEEK_LOCK_WAIT"), sys.stderr
    os.environ["IDEALWEEK_LOCK_WAIT"] = LOCK_WAIT
    sys.stderr = _PerThreadStderr(saved_err)
    try:
        yield
    finally:
        App.engine = original  # type: ignore[method-assign]
        sys.stderr = saved_err
        if saved_wait is None:
            os.environ.pop("IDEALWEEK_LOCK_WAIT", None)
        else:
            os.environ["IDEALWEEK_LOCK_WAIT"] = saved_wait


def command_in_process(world: World, *args: str) -> int:
    """The real command line, run in this process (inside :func:`pinned_commands`); its exit code."""
    import io

    from idealweek import cli

    _local.buf = io.StringIO()
    try:
        code = cli.main([*args, "--config", str(world.config), "--log-level", "error"])
    finally:
        said, _local.buf = _local.buf.getvalue(), None
    if code != 0:
        raise AssertionError(f"`idealweek {' '.join(args)}` exited {code}: {said[-2000:]}")
    return code


def command_process(world: World, *args: str) -> int:
    """The real command as a process (clock pinned); its exit code."""
    done = subprocess.run(
        world.command(*args, "--log-level", "error"),
        cwd=REPO,
        env=env(IDEALWEEK_LOCK_WAIT=LOCK_WAIT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    if done.returncode not in (0,):
        raise AssertionError(f"`idealweek {' '.join(args)}` exited {done.returncode}: {done.stderr[-2000:]}")
    return done.returncode


# -- one interleaving ---------------------------------------------------------------------------


@dataclass
class Tally:
    interleavings: int = 0
    commands: dict[str, int] = field(default_factory=dict)
    processes: int = 0
    user_changes: int = 0

    def ran(self, what: str, process: bool) -> None:
        self.commands[what] = self.commands.get(what, 0) + 1
        self.processes += process


def interleave(
    rng: random.Random,
    world: World,
    twin: World,
    tally: Tally,
    *,
    process_share: float = 0.1,
    after_change: Callable[[datetime], None] | None = None,
) -> None:
    """One interleaving: 1-3 commands (looks or ``run --once``) started at random instants beside the
    daemon, each as a real process with probability ``process_share``, and with probability 1/2 one user
    change (made the same in the twin) at a random instant while they run.  Waits for all of them, then
    calls ``after_change`` with the time of the change (the caller lets both worlds observe it)."""
    actors: list[tuple[float, tuple[str, ...], bool]] = []
    for _ in range(rng.randint(1, 3)):
        args = RUN_ONCE if rng.random() < 0.4 else rng.choice(LOOKS)
        actors.append((rng.uniform(0, 0.6), args, rng.random() < process_share))
    change_at = rng.uniform(0, 0.8) if rng.random() < 0.5 else None
    errors: list[str] = []

    def act(delay: float, args: tuple[str, ...], process: bool) -> None:
        time.sleep(delay)  # a random instant in the daemon's cycle: the point of the trial, not a wait
        try:
            code = command_process(world, *args) if process else command_in_process(world, *args)
            if code != 0:
                errors.append(f"`idealweek {' '.join(args)}` exited {code}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(f"`idealweek {' '.join(args)}`: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=act, args=a, daemon=True) for a in actors]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    changed: datetime | None = None
    if change_at is not None:
        time.sleep(max(0.0, change_at - (time.monotonic() - t0)))
        change_both(rng, world, twin)
        changed = datetime.now(UTC)
        tally.user_changes += 1
    for t in threads:
        t.join(300)
        assert not t.is_alive(), "a command did not finish"
    assert not errors, errors
    for _delay, args, process in actors:
        tally.ran(" ".join(args), process)
    tally.interleavings += 1
    if changed is not None and after_change is not None:
        after_change(changed)


def now_utc() -> datetime:
    return datetime.now(UTC)
