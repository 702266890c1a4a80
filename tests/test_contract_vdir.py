"""The provider contract on the vdir provider (and the read parts on the ICS file provider)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from idealweek.model import utc
from idealweek.providers.ics import IcsProvider
from idealweek.providers.vdir import VdirProvider
from tests.contract import ProviderContract

WINDOW = (utc(2030, 1, 1), utc(2031, 1, 1))


def _stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def write_user_event(folder: Path, uid: str, title: str, start: datetime, end: datetime) -> Path:
    """Write a plain event file as another vdir client (khal) would."""
    path = folder / f"{uuid.uuid4().hex}.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}\nSUMMARY:{title}\nDTSTART:{_stamp(start)}\nDTEND:{_stamp(end)}\n"
        "DTSTAMP:20300101T000000Z\nEND:VEVENT\nEND:VCALENDAR\n",
        encoding="utf-8",
    )
    return path


def file_of(folder: Path, uid: str) -> Path:
    """The file in ``folder`` whose VEVENT has ``uid``."""
    for path in folder.glob("*.ics"):
        cal = icalendar.Calendar.from_ical(path.read_bytes())
        if any(str(c.get("UID")) == uid for c in cal.walk("VEVENT")):
            return path
    raise KeyError(uid)


class VdirHarness:
    remembers_deleted_ids = True
    checks_etags = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.provider = VdirProvider("vdir", folder, writable=True, zone=ZoneInfo("Europe/Berlin"), window=WINDOW)
        self._n = 0

    def user_add(self, title: str, start: datetime, end: datetime) -> str:
        self._n += 1
        uid = f"user-{self._n}@example.org"
        write_user_event(self.folder, uid, title, start, end)
        return uid

    def user_delete(self, uid: str) -> None:
        file_of(self.folder, uid).unlink()

    def user_retitle(self, uid: str, title: str) -> None:
        path = file_of(self.folder, uid)
        cal = icalendar.Calendar.from_ical(path.read_bytes())
        for comp in cal.walk("VEVENT"):
            comp.pop("SUMMARY", None)
            comp.add("SUMMARY", title)
        path.write_bytes(cal.to_ical())


class TestVdirContract(ProviderContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> VdirHarness:
        return VdirHarness(tmp_path / "cal")


class TestVdirContractFreshProcess(ProviderContract):
    """The same contract when every call comes from a new provider (a new process) sharing only tokens."""

    @pytest.fixture
    def harness(self, tmp_path: Path) -> VdirHarness:
        h = VdirHarness(tmp_path / "cal")
        folder = h.folder

        class Fresh:
            name = "vdir"
            writable = True

            def __init__(self) -> None:
                self.requests = h.provider.requests

            def __getattr__(self, attr: str) -> object:
                p = VdirProvider("vdir", folder, writable=True, zone=ZoneInfo("Europe/Berlin"), window=WINDOW)
                p.requests = self.requests
                return getattr(p, attr)

        h.provider = Fresh()  # type: ignore[assignment]
        return h


class TestIcsFileReads:
    """The read half of the contract on a read-only ICS file."""

    def test_full_then_unchanged_then_changed(self, tmp_path: Path) -> None:
        """A full read lists the events; the same file gives an empty change set; an edit gives a full one."""
        folder = tmp_path / "x"
        folder.mkdir()
        path = write_user_event(folder, "a@x", "A", utc(2030, 3, 4, 9), utc(2030, 3, 4, 10))
        p = IcsProvider("ics", path=path, zone=ZoneInfo("UTC"), window=WINDOW)
        cs = p.read_changes(None)
        assert cs.full and [e.uid for e in cs.upserts] == ["a@x"] and cs.token
        assert cs.upserts[0].start == utc(2030, 3, 4, 9)
        same = p.read_changes(cs.token)
        assert not same.full and list(same.upserts) == [] and list(same.removed) == []
        path.write_text(path.read_text().replace("SUMMARY:A", "SUMMARY:B"))
        changed = p.read_changes(same.token)
        assert changed.full and [e.title for e in changed.upserts] == ["B"]
        assert p.requests.total == 3

    def test_token_survives_a_new_provider(self, tmp_path: Path) -> None:
        """A token from one process means 'unchanged' to a new provider on the same file."""
        folder = tmp_path / "x"
        folder.mkdir()
        path = write_user_event(folder, "a@x", "A", utc(2030, 3, 4, 9), utc(2030, 3, 4, 10))
        token = IcsProvider("ics", path=path, window=WINDOW).read_changes(None).token
        cs = IcsProvider("ics", path=path, window=WINDOW).read_changes(token)
        assert not cs.full and list(cs.upserts) == []
