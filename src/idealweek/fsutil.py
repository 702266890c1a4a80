"""Files written safely: private to their owner, atomic, durable, never through a planted link.

* :func:`private_dir` — a folder only its owner can enter (0700), whatever the umask.
* :func:`atomic_write` — temp file in the same folder, fsync, rename (or hard link when the target
  must not exist yet), fsync of the folder; the file gets ``mode`` (0600 unless told otherwise).
* :func:`create_new` — a new file opened with ``O_EXCL|O_NOFOLLOW`` (0600): an existing file or a
  symlink is refused, never truncated or followed.
* :func:`open_private` — create-or-open a small file (lock files) with 0600 and no link following.
* :func:`wider_than` — the files of a folder whose permissions let group or others in (``doctor``).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def private_dir(folder: Path) -> Path:
    """Create ``folder`` (and its parents) if needed and make it 0700 when it is ours."""
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    with contextlib.suppress(OSError):  # a folder we do not own (e.g. made by systemd) keeps its mode
        st = folder.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(folder, stat.S_IMODE(st.st_mode) & ~0o077 | 0o700)
    return folder


def make_private(path: Path) -> None:
    """Take group and other permissions away from an existing file we own (no link following)."""
    with contextlib.suppress(OSError):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, PRIVATE_FILE)


def atomic_write(
    path: Path,
    data: bytes | str,
    *,
    mode: int = PRIVATE_FILE,
    exclusive: bool = False,
    before_replace: Callable[[], None] | None = None,
    sync_dir: bool = True,
) -> None:
    """Put ``data`` at ``path`` atomically and durably with permissions ``mode``.

    ``sync_dir=False``: the folder is not fsynced here; the caller does it once for many files
    (:func:`fsync_dir`), before it relies on their names having reached the disk.

    ``exclusive``: the target must not exist (raises :class:`FileExistsError`); a hard link makes
    that check atomic where the file system has them.  ``before_replace`` runs right before an
    existing target is replaced (a last check that it did not change meanwhile; it may raise).
    A symlink at ``path`` is replaced, never followed.
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # file systems without hard links: check, then rename
                if os.path.lexists(path):
                    raise FileExistsError(f"{path} exists") from None
                os.replace(tmp, path)
        else:
            if before_replace is not None:
                before_replace()
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if sync_dir:
        fsync_dir(folder)


def create_new(path: Path, data: bytes | str, *, force: bool = False) -> None:
    """Write ``data`` to a new file ``path`` with mode 0600; never follows a link.

    An existing file (or a link) is refused with :class:`FileExistsError` unless ``force``, which
    removes it first (a link itself, not its target) and then creates the file afresh.
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data
    if force and os.path.lexists(path):
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(f"{path} is a folder")
        path.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)  # O_CREAT's mode is filtered by the umask; be exact
        _write_all(fd, blob)
        os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def _write_all(fd: int, blob: bytes) -> None:
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view) :]


def open_private(path: Path, flags: int = os.O_RDWR) -> int:
    """Open (creating it 0600 if needed) a small private file such as a lock file; links are refused."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), PRIVATE_FILE)
    with contextlib.suppress(OSError):
        st = os.fstat(fd)
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    return fd


def wider_than_private(folder: Path) -> Iterator[tuple[Path, int]]:
    """``(path, mode)`` of ``folder`` itself and the files in it that group or others can use."""
    try:
        st = folder.stat()
    except OSError:
        return
    if stat.S_IMODE(st.st_mode) & 0o077:
        yield folder, stat.S_IMODE(st.st_mode)
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        try:
            est = entry.lstat()
        except OSError:
            continue
        if stat.S_ISREG(est.st_mode) and stat.S_IMODE(est.st_mode) & 0o077:
            yield entry, stat.S_IMODE(est.st_mode)
