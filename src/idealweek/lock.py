"""One writer per state directory: an exclusive ``flock`` held for the length of a writing cycle.

Every cycle that may write (``run --once``, each of the daemon's cycles, its
daily job) takes the lock; looks (``status``, ``plan``, ``week``, ``review``,
``doctor``) never do, they read a snapshot.  The lock is an ``fcntl.flock`` on
``STATE_DIR/idealweek.lock``: the kernel drops it when the process dies, so a
``kill -9`` never leaves it stuck.  The holder writes its pid into the file so
that a process that gave up waiting can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from idealweek.errors import UserError
from idealweek.fsutil import open_private, private_dir

LOCK_NAME = "idealweek.lock"
DEFAULT_WAIT_S = 60.0
WAIT_ENV = "IDEALWEEK_LOCK_WAIT"
"""Seconds to wait for the lock (overrides the default; tests shorten it)."""
_POLL_S = 0.05

log = structlog.get_logger(__name__)


class StateBusy(UserError):
    """Another process holds the state directory's lock for longer than we were willing to wait."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        self.state_dir = state_dir
        self.pid = pid
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"another idealweek ({who}) is running a cycle on {state_dir}")


def default_wait(configured: float = DEFAULT_WAIT_S) -> float:
    """The wait: ``$IDEALWEEK_LOCK_WAIT`` seconds when set, else ``configured`` (``safety.lock_wait``)."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return configured
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{WAIT_ENV}={raw!r}: not a number of seconds") from None
    return max(0.0, value)


def holder_pid(state_dir: Path) -> int | None:
    """The pid recorded by the last process that took the lock (it may have finished since)."""
    try:
        text = (state_dir / LOCK_NAME).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def state_lock(
    state_dir: Path,
    wait: float | None = None,
    *,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[None]:
    """Hold the state directory's exclusive lock; wait up to ``wait`` seconds, then raise :class:`StateBusy`.

    ``on_wait`` is called once (with the holder's pid) when the lock is not free at once.
    """
    limit = default_wait() if wait is None else wait
    private_dir(state_dir)
    fd = open_private(state_dir / LOCK_NAME)
    try:
        deadline = time.monotonic() + limit
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid = holder_pid(state_dir)
                if time.monotonic() >= deadline:
                    raise StateBusy(state_dir, pid) from None
                if not told:
                    told = True
                    log.info("state.lock_wait", state_dir=str(state_dir), holder_pid=pid, wait_s=limit)
                    if on_wait is not None:
                        on_wait(pid)
                time.sleep(_POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
