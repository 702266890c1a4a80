"""Safety end to end against fake Google + fake Graph + a vdir: user edits win, guards, lost state, privacy.

Most tests run the real ``idealweek`` command as a subprocess (clock pinned,
see :mod:`tests.safety.frozen_cli`); the concurrent-edit tests drive the
engine in-process so the fakes can act as the user in the middle of a cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest

from idealweek.model import Kind
from idealweek.store import Store
from tests.safety.faults import OnceHook
from tests.safety.world import Services, World, at, is_event_write, services


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("safety-e2e")) as s:
        yield s


def writes(svc: Services) -> int:
    google = sum(len(svc.google.requests_to(m, "/events")) for m in ("POST", "PATCH", "PUT", "DELETE"))
    return google + sum(svc.graph.count(m, "/events") for m in ("POST", "PATCH", "DELETE"))


def cycle(world: World) -> object:
    store = Store(world.db)
    try:
        return world.engine(store).cycle()
    finally:
        store.close()


def makeups(world: World) -> list[tuple[object, dict[str, object]]]:
    return [(t, r) for t, r in world.google_owned() if t.kind == Kind.MAKEUP]


# -- 4. user edits win -----------------------------------------------------------------------


def test_user_deleted_makeup_is_waived_and_not_recreated(svc: Services) -> None:
    """The user deletes a make-up on Google: its debt is waived, it and its mirror stay gone."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.settle()
    ((_tag, raw),) = makeups(w)
    svc.google.user_delete(w.gcal, str(raw["id"]))
    w.settle()
    w.settle()
    assert makeups(w) == []
    assert not [t for t, _ in w.graph_owned() if "makeup" in t.key]
    ((_did, (minutes, _status, _paid, _scheduled, waived, _unplaced)),) = w.ledger().items()
    assert waived == minutes == 60


def test_user_moved_and_retitled_events_stay_as_the_user_left_them(svc: Services) -> None:
    """A make-up moved on Google and a mirror retitled on Outlook keep the user's time and title."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.settle()
    ((_tag, raw),) = makeups(w)
    start = at(2, 20)
    svc.google.user_move(w.gcal, str(raw["id"]), start, start.replace(hour=21))
    _t, mirror = next((t, e) for t, e in w.graph_owned() if t.kind == Kind.MIRROR)
    svc.graph.user_patch(mirror.id, subject="My own words")
    w.settle()
    after = svc.google.event(w.gcal, str(raw["id"]))
    assert after is not None and after["status"] != "cancelled"
    assert after["start"]["dateTime"].startswith("2026-11-25T20:00")
    assert svc.graph.events[mirror.id].props["subject"] == "My own words"
    assert len(makeups(w)) == 1 and not w.duplicates()


def test_added_meetings_get_new_makeups(svc: Services) -> None:
    """Meetings added on either service between cycles each get a make-up."""
    w = svc.world()
    w.settle()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.add_outlook_meeting(at(3, 17, 0), at(3, 18, 0))
    w.settle()
    assert len(makeups(w)) == 2 and not w.duplicates()


def test_user_edit_during_a_cycle_wins_over_our_update(svc: Services) -> None:
    """The user retitles a block while our update is in flight (412): the next cycle keeps the title."""
    w = svc.world()
    w.settle()
    _tag, raw = next((t, r) for t, r in w.google_owned() if t.kind == Kind.BLOCK)
    svc.google.user_update(w.gcal, str(raw["id"]), transparency="transparent")

    def retitle(method: str, path: str) -> None:
        svc.google.user_retitle(w.gcal, unquote(path.rsplit("/", 1)[1]), "Football with Sam")

    svc.google.hook = OnceHook(lambda m, p: m == "PATCH" and is_event_write(m, p), retitle)
    try:
        report = cycle(w)
    finally:
        svc.google.hook = None
    assert any("changed meanwhile" in n for n in report.notes)  # type: ignore[attr-defined]
    assert 412 in [r.status for r in svc.google.requests_to("PATCH", "/events")]
    w.settle()
    after = svc.google.event(w.gcal, str(raw["id"]))
    assert after is not None and after["summary"] == "Football with Sam" and after["transparency"] == "opaque"


def test_user_deletes_our_makeup_during_the_cycle_that_moves_it(svc: Services) -> None:
    """The user deletes a make-up just as our cycle deletes it to move it: one make-up results, debt accounted."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.settle()
    ((_tag, raw),) = makeups(w)
    start = datetime.fromisoformat(str(raw["start"]["dateTime"]))  # type: ignore[index]
    w.add_outlook_meeting(start, start + timedelta(minutes=30))  # lands on the make-up: it must move

    def delete(method: str, path: str) -> None:
        svc.google.user_delete(w.gcal, str(raw["id"]))

    svc.google.hook = OnceHook(lambda m, p: is_event_write(m, p) and str(raw["id"]) in p, delete)
    try:
        cycle(w)
    finally:
        svc.google.hook = None
    assert svc.google.hook is None and svc.google.event(w.gcal, str(raw["id"]))["status"] == "cancelled"  # type: ignore[index]
    w.settle()
    w.settle()
    assert not w.duplicates() and not w.ledger_conserved()
    assert str(raw["id"]) not in {str(r["id"]) for _t, r in makeups(w)}
    ((minutes, _status, paid, scheduled, waived, unplaced),) = w.ledger().values()
    assert paid + scheduled + waived + unplaced == minutes == 60
    assert len(makeups(w)) == (1 if scheduled else 0)


# -- 5. mass-deletion guard through the command -----------------------------------------------


def test_empty_source_stops_the_command_and_force_overrides(svc: Services) -> None:
    """Google suddenly lists nothing: `run --once` exits 1 with the reason, writes nothing; --force proceeds."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    assert w.run("run", "--once", "--quiet").returncode == 0
    assert w.run("run", "--once", "--quiet").returncode == 0
    with svc.google.lock:
        svc.google.calendar(w.gcal).events.clear()
    svc.google.expire_sync_tokens(w.gcal)
    before = writes(svc)
    stopped = w.run("run", "--once", "--quiet")
    assert stopped.returncode == 1
    assert "suddenly returned no events" in stopped.stderr and "--force" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert writes(svc) == before
    forced = w.run("run", "--once", "--quiet", "--force")
    assert forced.returncode == 0, forced.stderr[-1500:]
    assert writes(svc) > before


def test_plan_deleting_too_much_stops_the_command_and_force_overrides(svc: Services) -> None:
    """Dropping the family rule would delete most owned events: exit 1 and nothing deleted; --force deletes."""
    w = svc.world()
    assert w.run("run", "--once", "--quiet").returncode == 0
    owned = len(w.owned())
    text = w.config.read_text()
    rule = '[[protect]]\ndays = "mon-fri"\nstart = "17:00"\nend = "19:00"\ncategory = "family"\npolicy = "catch-up"\n'
    assert rule in text
    w.config.write_text(text.replace(rule, ""))
    stopped = w.run("run", "--once", "--quiet")
    assert stopped.returncode == 1
    assert "would delete" in stopped.stderr and "max_delete_share" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert len(w.owned()) == owned
    forced = w.run("run", "--once", "--quiet", "--force")
    assert forced.returncode == 0
    assert len(w.owned()) < owned / 2


# -- 2. lost or corrupt state ------------------------------------------------------------------


def test_deleted_state_database_is_rebuilt_from_tags_without_writes(svc: Services) -> None:
    """The state database is deleted between runs: the next run writes nothing and duplicates nothing."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    w.add_outlook_meeting(at(2, 17, 30), at(2, 18, 30))
    assert w.run("run", "--once", "--quiet").returncode == 0
    assert w.run("run", "--once", "--quiet").returncode == 0
    owned = w.owned()
    for p in w.state.glob("state.sqlite3*"):
        p.unlink()
    before = writes(svc)
    again = w.run("run", "--once", "--quiet")
    assert again.returncode == 0, again.stderr[-1500:]
    assert writes(svc) == before and w.owned() == owned and not w.duplicates()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_state_database_is_moved_aside_with_a_message(svc: Services, damage: str) -> None:
    """A truncated or overwritten state database is moved aside (named in a message), never silently reused."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    assert w.run("run", "--once", "--quiet").returncode == 0
    assert w.run("run", "--once", "--quiet").returncode == 0
    owned = w.owned()
    store = Store(w.db)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = w.db.read_bytes()
    for p in w.state.glob("state.sqlite3-*"):
        p.unlink()
    w.db.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"\x00garbage" * 512)
    before = writes(svc)
    again = w.run("run", "--once", "--quiet")
    assert again.returncode == 0, again.stderr[-1500:]
    assert "moved to" in again.stderr and "corrupt" in again.stderr
    assert list(w.state.glob("state.sqlite3.corrupt-*"))
    assert writes(svc) == before and w.owned() == owned


# -- 7. privacy and secrets --------------------------------------------------------------------


def test_mirrors_carry_nothing_of_the_personal_event_and_no_request_could_mail(svc: Services) -> None:
    """Mirrors of a personal event are bare private Busy blocks; no write has attendees; Google writes say none."""
    w = svc.world()
    w.add_personal("dentist", at(2, 12), at(2, 13), "Dr. Jekyll root canal", location="Hyde Street 7")
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    assert w.run("run", "--once", "--quiet").returncode == 0
    w.settle()
    mirrors = [(t, e) for t, e in w.graph_owned() if t.kind == Kind.MIRROR]
    assert any(t.planned_start == at(2, 12) for t, _ in mirrors), "the personal event is mirrored"
    for tag, ev in mirrors:
        text = repr(ev.props)
        assert "Jekyll" not in text and "Hyde" not in text and "canal" not in text
        # the tag is an opaque keyed hash: it names no calendar, event UID or category (SPEC §6.8)
        assert re.fullmatch(r"mirror:[a-z2-7]{26}", tag.key) and not tag.category, tag
        assert not any(word in text for word in ("dentist", "personal", "home", "family", "block:", "makeup"))
        assert ev.props.get("sensitivity") == "private" and not ev.props.get("attendees")
        assert not ev.props.get("location") or not ev.props["location"].get("displayName")
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        for r in svc.google.requests_to(method, "/events"):
            assert r.param("sendUpdates") == "none", (method, r.path)
            assert not (isinstance(r.body, dict) and r.body.get("attendees"))
    for _m, _p, body in svc.graph.bodies:
        assert not body.get("attendees")
        assert "Jekyll" not in repr(body) and "Hyde" not in repr(body)
    assert svc.google.mails == 0


def test_no_token_in_debug_logs_state_database_or_error_messages(svc: Services) -> None:
    """Debug logs, the SQLite files and a failed sign-in's message hold none of the fakes' tokens."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    runs = [w.run("run", "--once", "--log-level", "debug") for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-1500:]
    svc.google.expire_access_tokens()  # forces a refresh with the refresh token, logged at debug
    runs.append(w.run("run", "--once", "--log-level", "debug"))
    secrets = svc.secret_values()
    assert len(secrets) >= 3
    for r in runs:
        for token in secrets:
            assert token not in r.stdout and token not in r.stderr
    blobs = b"".join(p.read_bytes() for p in w.state.glob("state.sqlite3*"))
    blobs += b"".join(p.read_bytes() for p in w.state.iterdir() if p.is_file())
    for token in secrets:
        assert token.encode() not in blobs
    # a revoked sign-in fails clearly, without the token in the message
    other = svc.world()
    svc.google.revoke_refresh_tokens()
    try:
        failed = other.run("run", "--once", "--log-level", "debug")
    finally:
        svc.google.revoked.clear()
        svc.google_secrets.set("token:g", svc.google.issue_token())
    assert failed.returncode == 1 and "idealweek auth google g" in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
    for token in svc.secret_values():
        assert token not in failed.stdout and token not in failed.stderr
