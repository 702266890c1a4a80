"""Behaviour of the vdir provider beyond the shared contract: files, atomic writes, change detection."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from idealweek.errors import AlreadyExists, NotOwned, ProviderError
from idealweek.ids import stable_id
from idealweek.model import Kind, utc
from idealweek.providers.vdir import MARKS, VdirProvider
from tests.contract import T0, desired
from tests.test_contract_vdir import WINDOW, file_of, write_user_event

BERLIN = ZoneInfo("Europe/Berlin")


def provider(folder: Path, writable: bool = True) -> VdirProvider:
    return VdirProvider("cal", folder, writable=writable, zone=BERLIN, window=WINDOW, clock=lambda: utc(2030, 3, 1))


def test_created_file_layout(tmp_path: Path) -> None:
    """A created event is one file <stable_id>.ics with UTC times, the tag, CLASS/TRANSP, DTSTAMP and no attendees."""
    p = provider(tmp_path / "cal")
    d = desired("cal", "makeup:family:1", T0)
    ev = p.create(d)
    uid = stable_id(d.key)
    path = tmp_path / "cal" / f"{uid}.ics"
    assert ev.uid == uid and path.is_file()
    text = path.read_text()
    assert f"UID:{uid}" in text
    assert "DTSTART:20300304T090000Z" in text and "DTEND:20300304T100000Z" in text
    assert "CLASS:PRIVATE" in text and "TRANSP:OPAQUE" in text and "DTSTAMP:20300301T000000Z" in text
    assert "X-IDEALWEEK:" in text and "ATTENDEE" not in text
    assert [f.name for f in (tmp_path / "cal").iterdir() if f.name != MARKS] == [path.name]
    assert [f.name for f in (tmp_path / "cal" / MARKS).iterdir()] == [uid]


def test_folder_is_created_for_writable_calendars(tmp_path: Path) -> None:
    """A writable vdir folder that does not exist yet is created."""
    provider(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()


def test_missing_folder_of_read_only_calendar_is_a_provider_error(tmp_path: Path) -> None:
    """A read-only vdir whose folder is missing is unreadable, with the folder named."""
    p = provider(tmp_path / "nope", writable=False)
    with pytest.raises(ProviderError, match="nope"):
        p.read_changes(None)


def test_read_only_vdir_refuses_writes(tmp_path: Path) -> None:
    """A read-only vdir raises NotOwned on create."""
    (tmp_path / "ro").mkdir()
    with pytest.raises(NotOwned):
        provider(tmp_path / "ro", writable=False).create(desired("cal", "k", T0))


def test_create_over_existing_file_is_refused(tmp_path: Path) -> None:
    """Create never overwrites: an existing <id>.ics raises AlreadyExists and stays as it was."""
    folder = tmp_path / "cal"
    p = provider(folder)
    d = desired("cal", "k", T0)
    target = folder / f"{stable_id(d.key)}.ics"
    target.write_text("user content")
    with pytest.raises(AlreadyExists):
        p.create(d)
    assert target.read_text() == "user content"
    assert [f.name for f in folder.iterdir()] == [target.name]


def test_failed_create_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the final link/rename fails, no target and no temp file are left behind."""
    folder = tmp_path / "cal"
    p = provider(folder)

    def boom(*_args: object, **_kw: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "link", boom)
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        p.create(desired("cal", "k", T0))
    assert list(folder.iterdir()) == []


def test_failed_update_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the rename of an update fails, the old file is intact and the temp file is removed."""
    folder = tmp_path / "cal"
    p = provider(folder)
    ev = p.create(desired("cal", "k", T0))
    path = folder / f"{ev.uid}.ics"
    before = path.read_bytes()

    def boom(*_args: object, **_kw: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        p.update(ev, desired("cal", "k", T0 + timedelta(hours=2)))
    assert path.read_bytes() == before
    assert [f.name for f in folder.iterdir() if f.name != MARKS] == [path.name]


def test_update_keeps_user_summary_and_description(tmp_path: Path) -> None:
    """An update changes times, class, transparency and tag but keeps the user's SUMMARY and DESCRIPTION."""
    folder = tmp_path / "cal"
    p = provider(folder)
    ev = p.create(desired("cal", "k", T0))
    path = folder / f"{ev.uid}.ics"
    path.write_text(
        path.read_text().replace("SUMMARY:Make-up: Family", "SUMMARY:Kids\r\nDESCRIPTION:zoo"), encoding="utf-8"
    )
    fresh = p.list_owned()[0]
    moved = desired("cal", "k", utc(2030, 3, 5, 15), kind=Kind.MAKEUP)
    after = p.update(fresh, moved)
    assert after.title == "Kids" and after.description == "zoo"
    assert after.start == utc(2030, 3, 5, 15) and after.tag == moved.tag
    assert "DTSTART:20300305T150000Z" in path.read_text()


def test_touch_without_change_is_no_change(tmp_path: Path) -> None:
    """Touching a file (new mtime, same content) gives no upserts."""
    folder = tmp_path / "cal"
    folder.mkdir()
    path = write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    p = provider(folder)
    cs = p.read_changes(None)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    cs2 = p.read_changes(cs.token)
    assert not cs2.full and list(cs2.upserts) == [] and list(cs2.removed) == []


def test_edit_is_an_upsert_and_delete_is_a_removal(tmp_path: Path) -> None:
    """Editing a file returns its event as an upsert; deleting a file returns its uid as removed."""
    folder = tmp_path / "cal"
    folder.mkdir()
    a = write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    b = write_user_event(folder, "u2", "B", T0, T0.replace(hour=10))
    p = provider(folder)
    cs = p.read_changes(None)
    a.write_text(a.read_text().replace("SUMMARY:A", "SUMMARY:A2"))
    b.unlink()
    cs2 = p.read_changes(cs.token)
    assert not cs2.full
    assert [(e.uid, e.title) for e in cs2.upserts] == [("u1", "A2")]
    assert list(cs2.removed) == ["u2"]


def test_token_works_in_a_new_process(tmp_path: Path) -> None:
    """A token handed to a new provider means 'unchanged' without a full listing, and sees deletions."""
    folder = tmp_path / "cal"
    folder.mkdir()
    write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    b = write_user_event(folder, "u2", "B", T0, T0.replace(hour=10))
    token = provider(folder).read_changes(None).token
    assert token is not None and len(token) < 400
    same = provider(folder).read_changes(token)
    assert not same.full and list(same.upserts) == []
    b.unlink()
    gone = provider(folder).read_changes(same.token)
    assert not gone.full and list(gone.removed) == ["u2"]


def test_racy_edit_with_same_size_and_mtime_is_seen_in_a_new_process(tmp_path: Path) -> None:
    """A file changed within the racy interval, keeping its size and mtime, is read again by a new process."""
    folder = tmp_path / "cal"
    folder.mkdir()
    a = write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    token = provider(folder).read_changes(None).token
    st = a.stat()
    a.write_text(a.read_text().replace("SUMMARY:A", "SUMMARY:B"))
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    cs = provider(folder).read_changes(token)
    assert not cs.full and [(e.uid, e.title) for e in cs.upserts] == [("u1", "B")]


def test_recurring_event_edit_removes_dropped_occurrences(tmp_path: Path) -> None:
    """Adding an EXDATE to a recurring event removes that occurrence's uid in the next read."""
    folder = tmp_path / "cal"
    folder.mkdir()
    path = folder / "series.ics"
    body = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:s1\nSUMMARY:Standup\n"
        "DTSTART;TZID=Europe/Berlin:20300304T090000\nDTEND;TZID=Europe/Berlin:20300304T091500\n"
        "RRULE:FREQ=DAILY;COUNT=3\n{extra}END:VEVENT\nEND:VCALENDAR\n"
    )
    path.write_text(body.format(extra=""))
    p = provider(folder)
    cs = p.read_changes(None)
    assert sorted(e.uid for e in cs.upserts) == ["s1@20300304T080000Z", "s1@20300305T080000Z", "s1@20300306T080000Z"]
    path.write_text(body.format(extra="EXDATE;TZID=Europe/Berlin:20300305T090000\n"))
    cs2 = p.read_changes(cs.token)
    assert list(cs2.removed) == ["s1@20300305T080000Z"]
    assert sorted(e.uid for e in cs2.upserts) == ["s1@20300304T080000Z", "s1@20300306T080000Z"]


def test_garbage_file_is_skipped_with_warning(tmp_path: Path) -> None:
    """A file that is not iCalendar is skipped with a warning naming it; the others are read."""
    folder = tmp_path / "cal"
    folder.mkdir()
    write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    (folder / "junk.ics").write_text("not a calendar")
    (folder / ".hidden.tmp").write_text("temp")
    with capture_logs() as logs:
        cs = provider(folder).read_changes(None)
    assert [e.uid for e in cs.upserts] == ["u1"]
    assert any(e["event"] == "vdir.file_skipped" and "junk.ics" in e["source"] for e in logs)


def test_user_event_is_never_deleted(tmp_path: Path) -> None:
    """delete() refuses a user's file, even one named like an owned id."""
    folder = tmp_path / "cal"
    folder.mkdir()
    write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    p = provider(folder)
    ev = p.read_changes(None).upserts[0]
    with pytest.raises(NotOwned):
        p.delete(ev)
    assert file_of(folder, "u1").exists()


def test_stale_tokens_and_window_changes_give_full_reads(tmp_path: Path) -> None:
    """A garbage token or a moved window falls back to a full listing."""
    folder = tmp_path / "cal"
    folder.mkdir()
    write_user_event(folder, "u1", "A", T0, T0.replace(hour=10))
    p = provider(folder)
    assert p.read_changes("garbage").full
    token = p.read_changes(None).token
    other = VdirProvider("cal", folder, zone=BERLIN, window=(utc(2030, 2, 1), utc(2031, 1, 1)))
    assert other.read_changes(token).full


def test_event_that_gained_attendees_is_refused(tmp_path: Path) -> None:
    """An owned file the user turned into a meeting (ATTENDEE added) is neither rewritten nor deleted."""
    p = provider(tmp_path / "cal")
    d = desired("cal", "makeup:family:x", T0)
    ev = p.create(d)
    path = tmp_path / "cal" / f"{ev.uid}.ics"
    path.write_bytes(path.read_bytes().replace(b"END:VEVENT", b"ATTENDEE:mailto:bob@example.test\r\nEND:VEVENT"))
    before = path.read_bytes()
    fresh = next(e for e in p.list_owned() if e.uid == ev.uid)
    assert fresh.attendees == 1 and fresh.has_guests
    with pytest.raises(NotOwned, match="attendees"):
        p.update(fresh, d)
    with pytest.raises(NotOwned, match="attendees"):
        p.delete(fresh)
    assert path.read_bytes() == before
