"""The Makefile's two commands: `make demo` installs only what idealweek needs to run, `make test` adds the
test extras (checked with `make -n` against a venv path that does not exist: nothing is run or installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def plan(target: str, venv: Path) -> list[str]:
    """The commands `make TARGET` would run for a fresh venv at ``venv``."""
    assert MAKE is not None
    # Under `make test` the suite inherits MAKEFLAGS/MAKELEVEL, and a nested make would announce
    # "Entering/Leaving directory": plan as a user's own `make` would, without them.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}}
    done = subprocess.run(
        [MAKE, "--no-print-directory", "-n", target, f"VENV={venv}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    return [line for line in lines if "pip install" in line and "--upgrade pip" not in line]


def test_make_demo_installs_no_test_extras(tmp_path: Path) -> None:
    """`make demo` on a fresh machine installs idealweek without the `test` extras, then runs the demo."""
    lines = plan("demo", tmp_path / "venv")
    assert installs(lines), lines
    assert all("[test]" not in line for line in installs(lines)), installs(lines)
    assert lines[-1].endswith("demo/run_demo.py")


def test_make_test_installs_the_test_extras(tmp_path: Path) -> None:
    """`make test` (lint, types, the suite) installs the test extras."""
    lines = plan("test", tmp_path / "venv")
    assert any("'.[test]'" in line for line in installs(lines)), installs(lines)
