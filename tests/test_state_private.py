"""State files are readable by their owner only, whatever the umask; `doctor` warns when they are not."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from idealweek import config as cfg
from idealweek import doctor
from idealweek.app import App
from idealweek.cli import main
from idealweek.fsutil import atomic_write, create_new
from idealweek.secrets import FileStore, generate_key
from idealweek.store import Store
from tests.test_daemon_support import demo_copy


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """An interactive shell's umask (022): files would be world-readable unless made private on purpose."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def doctor_lines(config: Path) -> tuple[int, list[str]]:
    import io

    out = io.StringIO()
    code = doctor.run(App(config, cfg.load(config)), out=out, timeout=2)
    return code, out.getvalue().splitlines()


def test_a_cycle_leaves_the_state_folder_0700_and_its_files_0600(tmp_path: Path, lax_umask: None) -> None:
    """After `run --once` under umask 022 the state folder is 0700 and the database, -wal and -shm are 0600."""
    config = demo_copy(tmp_path)
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    state = tmp_path / "state"
    assert mode(state) == 0o700
    files = sorted(p.name for p in state.iterdir())
    assert "state.sqlite3" in files
    assert {p.name: mode(p) for p in state.iterdir()} == dict.fromkeys(files, 0o600)


def test_state_left_wide_by_an_older_version_is_made_private(tmp_path: Path, lax_umask: None) -> None:
    """A 0755 state folder with a 0644 database (and -wal/-shm) is tightened when the store opens it."""
    state = tmp_path / "state"
    Store(state / "state.sqlite3").close()
    os.chmod(state, 0o755)
    for p in state.iterdir():
        os.chmod(p, 0o644)
    (state / "state.sqlite3-wal").touch(0o644)
    store = Store(state / "state.sqlite3")
    try:
        store.db.execute("SELECT 1").fetchone()
        assert mode(state) == 0o700
        assert {p.name: mode(p) for p in state.iterdir() if p.name.startswith("state.sqlite3")} == {
            p.name: 0o600 for p in state.iterdir() if p.name.startswith("state.sqlite3")
        }
    finally:
        store.close()


def test_secret_store_and_its_lock_are_0600(tmp_path: Path, lax_umask: None) -> None:
    """The encrypted secret store and its lock file are 0600 under umask 022, even if the lock existed wider."""
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / "secrets.enc.lock").touch(0o644)
    FileStore(state / "secrets.enc", generate_key().encode(), "test").set("token:x", "value-12345678")
    assert mode(state) == 0o700
    assert mode(state / "secrets.enc") == 0o600 and mode(state / "secrets.enc.lock") == 0o600


def test_week_pictures_are_written_0600(tmp_path: Path, lax_umask: None) -> None:
    """`week --html/--svg` write their files with mode 600 (they show event titles), into the state folder too."""
    config = demo_copy(tmp_path)
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    html, svg = tmp_path / "state" / "week.html", tmp_path / "week.svg"
    svg.write_text("old picture")
    os.chmod(svg, 0o644)
    argv = ["week", "--html", str(html), "--svg", str(svg), "--config", str(config), "--log-level", "error"]
    assert main(argv) == 0
    assert mode(html) == 0o600 and mode(svg) == 0o600
    assert "<svg" in svg.read_text()


def test_doctor_warns_when_state_is_readable_by_others(tmp_path: Path, lax_umask: None) -> None:
    """`doctor` passes a private state folder and warns (exit 0) naming the folder and files that are wider."""
    config = demo_copy(tmp_path)
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    code, lines = doctor_lines(config)
    assert code == 0
    assert any(x.startswith("PASS  state permissions:") for x in lines), lines
    state = tmp_path / "state"
    os.chmod(state, 0o755)
    os.chmod(state / "state.sqlite3", 0o644)
    code, lines = doctor_lines(config)
    assert code == 0
    warn = next(x for x in lines if "state permissions" in x)
    assert warn.startswith("WARN") and "state.sqlite3 644" in warn and "755" in warn and "chmod 700" in warn
    assert lines[-1].endswith("1 warning(s)")


def test_atomic_write_and_create_new_ignore_the_umask_and_links(tmp_path: Path, lax_umask: None) -> None:
    """atomic_write makes 0600 files and replaces a link instead of following it; create_new refuses one."""
    target = tmp_path / "victim"
    target.write_text("keep me")
    link = tmp_path / "out.html"
    link.symlink_to(target)
    atomic_write(link, "<html>")
    assert not link.is_symlink() and mode(link) == 0o600 and target.read_text() == "keep me"
    link2 = tmp_path / "export.txt"
    link2.symlink_to(target)
    with pytest.raises(FileExistsError):
        create_new(link2, "secret")
    assert target.read_text() == "keep me"
