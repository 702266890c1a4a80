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
