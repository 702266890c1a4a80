"""Change tracking of a vdir folder: its listing, the per-file signature, and the change token built from them.

The token is a compact, self-contained string (zlib + base64 of a JSON map
``{file: [mtime_ns, size, inode, sha, uids?]}`` plus the window) that the engine
can persist and hand back in a new process.  A file whose ``(mtime_ns, size,
inode)`` is unchanged since the token was made — and was not modified within
the racy interval before — need not be read again.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.model import Event

if TYPE_CHECKING:
    import icalendar

TOKEN_PREFIX = "vdir1:"
RACY_NS = 2_000_000_000
"""A file modified less than this before it was checked may change again within the same mtime tick."""

Sig = tuple[int, int, int]
"""A file's ``(mtime_ns, size, inode)``."""

MAX_TOKEN_UIDS = 8
"""Files with at most this many event uids carry them in the token (removals in a new process)."""


def list_ics(folder: Path) -> dict[str, os.stat_result]:
    """The ``.ics`` files of ``folder`` (hidden ones left out) with their stat results; OSError when unreadable."""
    out: dict[str, os.stat_result] = {}
    for entry in list(os.scandir(folder)):
        if entry.name.startswith(".") or not entry.name.lower().endswith(".ics"):
            continue
        try:
            if entry.is_file():
                out[entry.name] = entry.stat()
        except OSError:
            continue
    return out


def file_sig(st: os.stat_result) -> Sig:
    """The signature of a stat result."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def racy(sig: Sig, checked_ns: int) -> bool:
    """True when a file with ``sig``, checked at ``checked_ns``, may have changed unseen since."""
    return sig[0] >= checked_ns - RACY_NS


@dataclass(slots=True)
class FileState:
    """What this process knows about one file: signature, content hash, and (when read) its parse and events."""

    sig: Sig
    sha: str
    checked_ns: int
    events: list[Event] | None = None
    cals: list[icalendar.Calendar] | None = None
    """The file's calendars as parsed: kept so that a moved window needs no new parse."""


@dataclass(slots=True)
class VdirToken:
    """What a folder looked like when a listing was made: each file's signature and sha, and the window."""

    window: tuple[int, int]
    made_ns: int
    files: dict[str, tuple[Sig, str]] = field(default_factory=dict)
    uids: dict[str, frozenset[str]] = field(default_factory=dict)
    """The uids a file held, when known and few; a file named ``<uid>.ics`` holding just ``uid`` is implied."""

    def encode(self) -> str:
        """The token as a compact string."""
        entries: dict[str, list[object]] = {}
        for name, (sig, sha) in sorted(self.files.items()):
            entry: list[object] = [*sig, sha]
            uids = self.uids.get(name)
            if uids is not None and uids != {Path(name).stem} and len(uids) <= MAX_TOKEN_UIDS:
                entry.append(sorted(uids))
            elif uids is None or uids != {Path(name).stem}:
                entry.append(None)
            entries[name] = entry
        doc = {"v": 1, "w": list(self.window), "t": self.made_ns, "f": entries}
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return TOKEN_PREFIX + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> VdirToken | None:
        """The token in ``text``; None when it is not a valid vdir token."""
        if not text.startswith(TOKEN_PREFIX):
            return None
        body = text[len(TOKEN_PREFIX) :]
        try:
            raw = zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            doc = json.loads(raw)
            if doc.get("v") != 1:
                return None
            tok = cls((int(doc["w"][0]), int(doc["w"][1])), int(doc["t"]))
            for name, v in dict(doc["f"]).items():
                fname = str(name)
                tok.files[fname] = ((int(v[0]), int(v[1]), int(v[2])), str(v[3]))
                if len(v) == 4:
                    tok.uids[fname] = frozenset({Path(fname).stem})
                elif v[4] is not None:
                    tok.uids[fname] = frozenset(str(u) for u in v[4])
            return tok
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, zlib.error):
            return None


__all__ = ["MAX_TOKEN_UIDS", "RACY_NS", "FileState", "Sig", "VdirToken", "file_sig", "list_ics", "racy"]
