"""The progress display: only on a terminal, and only when the work takes longer than the delay."""

from __future__ import annotations

import io
import time

from idealweek.progress import progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_shown_when_not_a_terminal() -> None:
    """In a pipe the display stays silent even for slow work."""
    out = io.StringIO()
    with progress("Reading calendars", delay=0, stream=out) as step:
        step("reading work", advance=1, total=2)
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_quick_work_shows_nothing_on_a_terminal() -> None:
    """Work that ends within the delay prints nothing, even on a terminal."""
    out = FakeTerminal()
    with progress("Reading calendars", delay=5, stream=out):
        pass
    assert out.getvalue() == ""


def test_slow_work_shows_the_description_on_a_terminal() -> None:
    """Work longer than the delay shows the description on the terminal."""
    out = FakeTerminal()
    with progress("Reading calendars", delay=0, stream=out) as step:
        time.sleep(0.3)
        step("reading work", advance=1, total=2)
        time.sleep(0.2)
    assert "Reading calendars" in out.getvalue() or "reading work" in out.getvalue()
