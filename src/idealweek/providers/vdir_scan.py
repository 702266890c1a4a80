"""Scanning a vdir folder: which files changed, their parsed calendars kept, events expanded over the window.

A file whose ``(mtime_ns, size, inode)`` is unchanged is not read again; a file that was read is
identified by a sha256 prefix of its content; a changed window expands again without parsing again.
The change token (:mod:`idealweek.providers.vdir_token`) records each file's signature and the uids
it held, so an incremental read can name the events that disappeared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from idealweek.model import Event
from idealweek.providers.base import ChangeSet
from idealweek.providers.ics.expand import Window, expand_events
from idealweek.providers.ics.repair import fingerprint
from idealweek.providers.vdir_token import FileState, VdirToken, file_sig, racy


class VdirScan:
    """The reading half of :class:`~idealweek.providers.vdir.VdirProvider`: its files, parses and uids."""

    name: str
    path: Path
    zone: ZoneInfo
    _files: dict[str, FileState]
    _files_window: Window | None
    _uids: dict[tuple[str, str], frozenset[str]]
    """(file name, sha) -> the uids that content gave, for computing removals."""

    def _listing(self) -> dict[str, os.stat_result]:
        raise NotImplementedError

    def _expand(self, fname: str, state: FileState, window: Window) -> list[Event]:
        """The file's events in ``window`` from its parsed calendars (no disk read, no parse)."""
        events = expand_events(
            state.cals or [],
            calendar=self.name,
            zone=self.zone,
            window=window,
            source=str(self.path / fname),
            etag=state.sha,
            default_uid=Path(fname).stem,
        )
        state.events = events
        self._uids[(fname, state.sha)] = frozenset(e.uid for e in events)
        return events

    def _load(self, fname: str, window: Window) -> FileState | None:
        raise NotImplementedError

    def _same_content(self, fname: str, sha: str) -> FileState | None:
        """The file's state when its content still has fingerprint ``sha``: read and hashed, not parsed.

        A file touched (or written by the last cycle, within the racy interval) with the same content
        needs no parse when its events are not wanted (issue 15: no iCalendar parsing on a steady run).
        None when the content changed or the file could not be read (:meth:`_load` then reads it).
        """
        path = self.path / fname
        try:
            st = path.stat()
            data = path.read_bytes()
        except OSError:
            return None
        if fingerprint(data) != sha:
            return None
        state = FileState(file_sig(st), sha, time.time_ns())
        self._files[fname] = state
        return state

    def _scan(self, window: Window, token: VdirToken | None, need_events: bool) -> dict[str, FileState]:
        """Current state of every file, reading only what may have changed."""
        if self._files_window != window:
            # The window moved: expand again, but keep what was parsed (a file is parsed only when it changed).
            for kept in self._files.values():
                kept.events = None
            self._uids.clear()
            self._files_window = window
        listing = self._listing()
        for gone in set(self._files) - set(listing):
            del self._files[gone]
        out: dict[str, FileState] = {}
        for fname, st in sorted(listing.items()):
            sig = file_sig(st)
            cached = self._files.get(fname)
            state: FileState | None = None
            if cached is not None and cached.sig == sig and not racy(sig, cached.checked_ns):
                state = cached
            elif token is not None and fname in token.files:
                tsig, tsha = token.files[fname]
                if tsig == sig and not racy(sig, token.made_ns):
                    state = FileState(sig, tsha, token.made_ns)
                    self._files[fname] = state
                elif not need_events:
                    state = self._same_content(fname, tsha)
            if state is not None and need_events and state.events is None and state.cals is not None:
                self._expand(fname, state, window)
            elif state is None or (need_events and state.events is None):
                state = self._load(fname, window)
                if state is None:
                    continue
            out[fname] = state
        return out

    def _token(self, window: Window, states: Mapping[str, FileState], old: VdirToken | None = None) -> str:
        tok = VdirToken(
            (int(window[0].timestamp()), int(window[1].timestamp())),
            time.time_ns(),
            {name: (s.sig, s.sha) for name, s in states.items()},
        )
        for name, state in states.items():
            known = self._uids.get((name, state.sha))
            if known is not None:
                tok.uids[name] = known
            elif old is not None and name in old.uids and old.files.get(name, (None, ""))[1] == state.sha:
                tok.uids[name] = old.uids[name]
        return tok.encode()

    def _all_events(self, states: Mapping[str, FileState]) -> list[Event]:
        seen: set[str] = set()
        out: list[Event] = []
        for _name, state in sorted(states.items()):
            for ev in state.events or ():
                if ev.uid not in seen:
                    seen.add(ev.uid)
                    out.append(ev)
        return out

    def _incremental(self, old: VdirToken, window: Window) -> ChangeSet | None:
        states = self._scan(window, old, need_events=False)
        upserts: list[Event] = []
        removed: set[str] = set()
        for fname, state in states.items():
            before = old.files.get(fname)
            if before is not None and before[1] == state.sha:
                continue
            if state.events is None:
                loaded = self._load(fname, window)
                if loaded is None:
                    return None
                state = states[fname] = loaded
            new_uids = {e.uid for e in state.events or ()}
            upserts += state.events or ()
            if before is not None:
                old_uids = self._old_uids(old, fname)
                if old_uids is None:
                    return None
                removed |= old_uids - new_uids
        for fname in set(old.files) - set(states):
            old_uids = self._old_uids(old, fname)
            if old_uids is None:
                return None
            removed |= old_uids
        removed -= {e.uid for e in upserts}
        return ChangeSet(full=False, upserts=upserts, removed=sorted(removed), token=self._token(window, states, old))

    def _old_uids(self, old: VdirToken, fname: str) -> frozenset[str] | None:
        """The uids file ``fname`` held when ``old`` was made; None when unknown."""
        known = self._uids.get((fname, old.files[fname][1]))
        return known if known is not None else old.uids.get(fname)
