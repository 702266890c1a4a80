"""The daemon's malloc tuning (issue 15): one arena and trimming after a cycle, on glibc only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from idealweek import memory


def test_one_arena_and_release_work_in_a_fresh_process() -> None:
    """Limiting malloc to one arena before threads start, then trimming, runs cleanly in a new interpreter."""
    code = "from idealweek.memory import one_arena, release_memory\none_arena()\nrelease_memory()\nprint('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_without_glibc_both_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the C library has no malloc_trim (musl, macOS) neither call touches it."""
    monkeypatch.setattr(memory, "_LIBC", False)
    memory.one_arena()
    memory.release_memory()
    assert memory._libc() is False


def test_a_google_calendar_keeps_no_method_docstrings_and_still_reads() -> None:
    """The events resource's methods lose googleapiclient's generated docstrings (tens of kB each) and still work."""
    from types import MethodType

    from tests.fakes.google_server import GoogleFake, google_provider

    with GoogleFake() as fake:
        provider = google_provider(fake)
        try:
            assert provider.read_changes(None).full
            methods = [m for m in vars(provider._events).values() if isinstance(m, MethodType)]
            assert methods and all(m.__doc__ is None for m in methods)
            assert len(provider.client.service.events().insert.__doc__ or "") > 10_000  # a fresh resource has them
        finally:
            provider.close()
