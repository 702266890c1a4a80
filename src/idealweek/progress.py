"""Progress on long work: a rich spinner or bar, on a terminal only, and only after a second.

    with progress("Reading calendars") as step:
        for name in calendars:
            step(f"reading {name}", advance=1, total=len(calendars))

Nothing is printed when standard error is not a terminal (pipes, systemd, tests),
and nothing at all when the work ends within ``delay`` seconds: quick commands
stay quiet.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO


class Step(Protocol):
    def __call__(self, description: str | None = None, *, advance: float = 0, total: float | None = None) -> None: ...


def _noop(description: str | None = None, *, advance: float = 0, total: float | None = None) -> None:
    return None


@contextmanager
def progress(description: str, *, delay: float = 1.0, stream: TextIO | None = None) -> Iterator[Step]:
    """Show a transient progress display for the work in the block (see the module docstring)."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield _noop
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(file=out),
        transient=True,
    )
    task = bar.add_task(description, total=None)
    lock = threading.Lock()
    shown = False

    def show() -> None:
        nonlocal shown
        with lock:
            if not shown:
                shown = True
                bar.start()

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()

    title = description

    def step(description: str | None = None, *, advance: float = 0, total: float | None = None) -> None:
        bar.update(task, description=description or title, advance=advance, total=total)

    try:
        yield step
    finally:
        timer.cancel()
        with lock:
            if shown:
                bar.stop()
            shown = True
