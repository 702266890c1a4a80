"""A read-write calendar in a vdir folder: one ``.ics`` file per event (khal, vdirsyncer).

Reading parses each file with :func:`idealweek.providers.ics.parse_ics`
(recurring events are expanded over the window).  Change detection is per
file: a file whose ``(mtime_ns, size, inode)`` is unchanged is not read again;
a file that was read is identified by a sha256 prefix of its content, so
touching a file without changing it is no change.

Scanning the folder is :mod:`idealweek.providers.vdir_scan`; the change token
(:mod:`idealweek.providers.vdir_token`) can be persisted by
the engine and handed back in a new process.  Incremental reads return the
events of changed and new files as upserts and the uids that disappeared as
removed; when this process does not know which uids a changed or deleted file
held (a fresh process), it answers with a full listing instead.

Writes go only to files idealweek created (``<stable_id(key)>.ics``, UID = the
same id, an ``X-IDEALWEEK`` tag).  Every write is atomic: a hidden temp file in
the same folder, fsync, then ``os.link`` (create: never clobbers) or
``os.replace`` (update).  The folder is fsynced once per cycle for all its
writes (:meth:`VdirProvider.sync`, called by the engine after the writes), not
once per file.

Deleted stays deleted, as on Google: each created event also leaves an empty
marker ``.idealweek-owned/<uid>`` in the folder (hidden; khal and vdirsyncer
only look at ``*.ics`` files).  idealweek's own delete removes it; a file that
is gone while its marker is still there was deleted by someone else, so a
create of that id raises ``AlreadyExists(deleted=True)`` even when the state
database was lost.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog

from idealweek.clock import Clock, system_clock
from idealweek.errors import AlreadyExists, NotFound, NotOwned, PreconditionFailed, ProviderError
from idealweek.fsutil import atomic_write, fsync_dir
from idealweek.ids import stable_id
from idealweek.model import DesiredEvent, Event
from idealweek.providers.base import ChangeSet, RequestCounter
from idealweek.providers.ics.expand import (
    DEFAULT_AHEAD,
    DEFAULT_LOOKBACK,
    Window,
    default_window,
    parse_ics,
)
from idealweek.providers.ics.repair import fingerprint, read_calendars
from idealweek.providers.ics.write import bump_sequence, owned_vevent, render_new, set_times
from idealweek.providers.vdir_scan import VdirScan
from idealweek.providers.vdir_token import FileState, VdirToken, file_sig, list_ics

if TYPE_CHECKING:
    from icalendar import Calendar, Component

log = structlog.get_logger(__name__)

MARKS = ".idealweek-owned"
"""Folder (inside the vdir) of markers of the ids idealweek created: a marker without its file = deleted."""


class VdirProvider(VdirScan):
    """A vdir folder as a calendar (read-write when ``writable``)."""

    def __init__(
        self,
        name: str,
        path: Path,
        writable: bool = True,
        zone: ZoneInfo | None = None,
        *,
        window: Window | None = None,
        reach: tuple[timedelta, timedelta] = (DEFAULT_LOOKBACK, DEFAULT_AHEAD),
        clock: Clock = system_clock,
        create_folder: bool = True,
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.writable = writable
        self.create_folder = create_folder
        """Create a missing folder (the config's ``create = true``); otherwise a missing folder is an error."""
        self.zone = zone or ZoneInfo("UTC")
        self.window = window
        self.reach = reach
        """How far back and ahead of now events are read when ``window`` is not fixed."""
        self.clock = clock
        self.requests = RequestCounter()
        self._files: dict[str, FileState] = {}
        self._files_window: Window | None = None
        self._uids: dict[tuple[str, str], frozenset[str]] = {}
        self._unsynced = False
        """Files were written or deleted since the folder was last fsynced (see :meth:`sync`)."""
        self._unsynced_marks = False
        """(file name, sha) -> the uids that content gave, for computing removals."""
        if writable and create_folder:
            self._ensure_folder()

    # -- helpers ------------------------------------------------------------
    def _ensure_folder(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProviderError(f"{self.name}: cannot create the vdir folder {self.path}: {exc}") from exc

    def _window(self) -> Window:
        return self.window if self.window is not None else default_window(self.clock(), *self.reach)

    def _listing(self) -> dict[str, os.stat_result]:
        if self.writable and self.create_folder and not self.path.exists():
            self._ensure_folder()
        try:
            return list_ics(self.path)
        except OSError as exc:
            raise ProviderError(f"{self.name}: cannot read the vdir folder {self.path}: {exc.strerror or exc}") from exc

    def _load(self, fname: str, window: Window) -> FileState | None:
        """Read one file now, parsing it only when its content changed; None when it vanished meanwhile."""
        path = self.path / fname
        try:
            st = path.stat()
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProviderError(f"{self.name}: cannot read {path}: {exc.strerror or exc}") from exc
        sha = fingerprint(data)
        prev = self._files.get(fname)
        state = FileState(file_sig(st), sha, time.time_ns())
        if prev is not None and prev.sha == sha and prev.cals is not None:
            state.cals, state.events = prev.cals, prev.events
        else:
            try:
                state.cals = read_calendars(data, str(path))
            except ProviderError as exc:
                log.warning("vdir.file_skipped", source=str(path), reason=str(exc))
                state.cals = []
        self._files[fname] = state
        if state.events is None:
            self._expand(fname, state, window)
        else:
            self._uids[(fname, sha)] = frozenset(e.uid for e in state.events)
        return state

    # -- reading ------------------------------------------------------------
    def read_changes(self, token: str | None) -> ChangeSet:
        self.sync()  # writes of a cycle whose engine did not call sync (an exception, an older caller)
        self.requests.count("read")
        window = self._window()
        old = VdirToken.decode(token) if token else None
        if old is not None and old.window != (int(window[0].timestamp()), int(window[1].timestamp())):
            old = None
        if old is not None:
            cs = self._incremental(old, window)
            if cs is not None:
                return cs
        states = self._scan(window, None, need_events=True)
        return ChangeSet(full=True, upserts=self._all_events(states), token=self._token(window, states))

    def list_owned(self) -> list[Event]:
        self.requests.count("list_owned")
        states = self._scan(self._window(), None, need_events=True)
        return sorted((e for e in self._all_events(states) if e.tag is not None), key=lambda e: e.uid)

    # -- writing ------------------------------------------------------------
    def _check_writable(self) -> None:
        if not self.writable:
            raise NotOwned(f"calendar {self.name!r} is read-only")

    def _write(self, target: Path, data: bytes, *, exclusive: bool, expect: str | None = None) -> None:
        """Atomically put ``data`` at ``target`` (:func:`~idealweek.fsutil.atomic_write`: temp file, fsync,
        link or replace, fsync of the folder); ``expect`` is the fingerprint the file must still have."""

        def unchanged() -> None:
            if expect is not None and self._fingerprint(target) != expect:
                raise PreconditionFailed(f"{self.name}: {target.name} changed while writing")

        try:
            atomic_write(target, data, exclusive=exclusive, before_replace=unchanged, sync_dir=False)
        except FileExistsError as exc:
            raise AlreadyExists(f"{self.name}: {target.name} exists") from exc
        self._unsynced = True

    def _fingerprint(self, path: Path) -> str | None:
        try:
            return fingerprint(path.read_bytes())
        except FileNotFoundError:
            return None

    def _locate(self, existing: Event) -> Path | None:
        """The file holding ``existing``: ``<uid>.ics`` first, else the file whose event has that uid."""
        uid = existing.series or existing.uid
        if uid and "/" not in uid and "\\" not in uid and not uid.startswith("."):
            direct = self.path / f"{uid}.ics"
            if direct.exists():
                return direct
        states = self._scan(self._window(), None, need_events=True)
        for fname, state in states.items():
            if any(e.uid == existing.uid for e in state.events or ()):
                return self.path / fname
        return None

    def _owned_component(self, path: Path, existing: Event) -> tuple[bytes, Calendar, Component]:
        """The file's bytes, calendar and the owned VEVENT; NotOwned when it carries no valid tag."""
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"{self.name}: event {existing.uid} is gone") from exc
        cal, comp = owned_vevent(data, self.name, path.name, existing.uid)
        if comp.get("ATTENDEE") is not None:
            # SPEC §6.10: a meeting is the user's; synced to a CalDAV server, a change would mail its attendees.
            log.warning("vdir.refused_meeting", calendar=self.name, uid=existing.uid, why="the event has attendees")
            raise NotOwned(f"{self.name}: event {existing.uid} has attendees now; it is the user's and left alone")
        if existing.etag and fingerprint(data) != existing.etag:
            raise PreconditionFailed(f"{self.name}: event {existing.uid} changed since it was read")
        return data, cal, comp

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def _event_from(self, path: Path, data: bytes, desired: DesiredEvent) -> Event:
        margin = timedelta(days=2)
        window = (desired.start - margin, desired.end + margin)
        events = parse_ics(
            data, source=str(path), calendar=self.name, zone=self.zone, window=window, default_uid=path.stem
        )
        if len(events) != 1:
            raise ProviderError(f"{self.name}: wrote {path.name} but cannot read it back")
        return events[0]

    def create(self, desired: DesiredEvent) -> Event:
        self.requests.count("create", write=True)
        self._check_writable()
        self._ensure_folder()
        uid = stable_id(desired.key)
        target = self.path / f"{uid}.ics"
        if target.exists():
            raise AlreadyExists(f"{self.name}: event id {uid} exists")
        if (self.path / MARKS / uid).exists():
            raise AlreadyExists(f"{self.name}: event id {uid} was deleted (not by idealweek)", deleted=True)
        data = render_new(uid, desired, self._now())
        self._write(target, data, exclusive=True)
        self._mark(uid)
        return self._event_from(target, data, desired)

    def _mark(self, uid: str) -> None:
        """Remember that ``uid`` was created here (after the file: a crash in between only forgets it)."""
        marks = self.path / MARKS
        try:
            marks.mkdir(exist_ok=True)
            fd = os.open(marks / uid, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
            self._unsynced_marks = True
        except OSError as exc:
            log.warning("vdir.mark_failed", calendar=self.name, uid=uid, error=str(exc))

    def _unmark(self, uid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.path / MARKS / uid).unlink()
            self._unsynced_marks = True

    def sync(self) -> None:
        """Make this cycle's writes durable: one fsync of the folder for all its files (each file was
        fsynced when written), then one of the marker folder (the folder first: its names are on disk
        before the markers that vouch for them).

        The engine calls it after a cycle's writes, before the cycle's records are final; the next read
        and :meth:`close` call it too.
        """
        if self._unsynced:
            fsync_dir(self.path)
            self._unsynced = False
        if self._unsynced_marks:
            fsync_dir(self.path / MARKS)
            self._unsynced_marks = False

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        self.requests.count("update", write=True)
        self._check_writable()
        path = self._locate(existing)
        if path is None:
            raise NotFound(f"{self.name}: event {existing.uid} is gone")
        data, cal, comp = self._owned_component(path, existing)
        now = self._now()
        set_times(comp, desired, now)
        bump_sequence(comp)
        new = bytes(cal.to_ical())
        self._write(path, new, exclusive=False, expect=fingerprint(data))
        return self._event_from(path, new, desired)

    def delete(self, existing: Event) -> None:
        self.requests.count("delete", write=True)
        self._check_writable()
        path = self._locate(existing)
        if path is None:
            return
        try:
            self._owned_component(path, existing)
        except NotFound:
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._unsynced = True
        if path.parent == self.path and path.suffix == ".ics" and path.stem == existing.uid:
            self._unmark(existing.uid)  # deleted by idealweek: the id may be used again

    def close(self) -> None:
        self.sync()


__all__ = ["VdirProvider"]
