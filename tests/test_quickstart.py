"""The README's Quick start, followed word for word by a new user on a fresh account (issue 14).

SLOW (marked ``slow``: about 30 s with warm caches, about 70 s on a cold machine).  It installs this
checkout with the real ``pipx`` into a fresh home directory, with only that home's ``~/.local/bin``
and pipx on ``PATH``, and runs each line of the Quick start as written.  pip fetches the dependencies
from the package registry as it would for a user (through pip's cache, so a second run is quicker);
pipx's own shared pip is kept in a cache folder between runs so it is not fetched again each time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PIPX = shutil.which("pipx", path=str(Path(sys.executable).parent)) or shutil.which("pipx")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PIPX is None, reason="pipx is not installed (it is in the test extras)"),
]

LOCAL_CALENDARS = """
# -- the edit: this user's calendars are local folders ------------------------------------------
[calendars.work]
source = "vdir"
path = "calendars/work"
roles = ["meetings", "focus", "mirror"]

[calendars.home]
source = "vdir"
path = "calendars/home"
roles = ["blocks"]
create = true
"""


def quick_start() -> list[str]:
    """The command lines of the README's Quick start block, as written."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the Quick start has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def checkout_copy(dest: Path) -> Path:
    """The files of this checkout (what `git clone` gives a user), without build or cache folders."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "demo-run", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
    )
    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    return dest


def the_edit(home: Path) -> None:
    """`# then edit it`: keep the example's ideal week, put this user's (local) calendars in its place."""
    config = home / ".config" / "idealweek" / "config.toml"
    text = config.read_text()
    cut = text.index("# Accounts on online calendar services")
    text = text[: text.rindex("# ----", 0, cut)] + LOCAL_CALENDARS
    config.write_text(text)
    shutil.copytree(REPO / "demo" / "calendars" / "work", config.parent / "calendars" / "work")


def shared_libs(tmp_path: Path) -> Path:
    """pipx's shared pip, kept between runs in the user's cache (a fresh one under tmp_path otherwise)."""
    cache = Path.home() / ".cache" / "idealweek-tests" / "pipx-shared"
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        return cache
    except OSError:
        return tmp_path / "pipx-shared"


def test_readme_quick_start_word_for_word(tmp_path: Path) -> None:
    """Every line of the README's Quick start works as written on a fresh account with pipx: `idealweek` is
    then on PATH (in ~/.local/bin, where the user unit runs it) and each command exits 0."""
    assert PIPX is not None
    home = tmp_path / "home"
    home.mkdir()
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "pipx").symlink_to(PIPX)  # pipx alone on PATH, not the test venv's other commands
    checkout = checkout_copy(tmp_path / "idealweek")
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(home / ".local" / "bin"), str(tools), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIPX_SHARED_LIBS": str(shared_libs(tmp_path)),
    }
    for name in ("PIP_CACHE_DIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE", "SSL_CERT_FILE"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))

    lines = quick_start()
    assert lines[0].split("#")[0].strip() == "pipx install ."
    for line in lines:
        command = line.split("  #")[0].strip()
        done = subprocess.run(
            ["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command!r} failed:\n{done.stdout}\n{done.stderr}"
        if command.startswith("pipx install"):
            exe = home / ".local" / "bin" / "idealweek"
            assert exe.exists(), "pipx did not put idealweek in ~/.local/bin (where the user unit runs it)"
            unit = (REPO / "systemd" / "idealweek.service").read_text()
            assert "ExecStart=%h/.local/bin/idealweek " in unit
        if command.startswith("cp config.example.toml") and "edit it" in line:
            the_edit(home)
        if command == "idealweek config check":
            assert ": ok" in done.stdout
        if command == "idealweek run --once":
            assert re.search(r"^Wrote \d+ events", done.stdout, re.M), done.stdout
        if command == "idealweek week":
            assert done.stdout.startswith("Week "), done.stdout[:200]
