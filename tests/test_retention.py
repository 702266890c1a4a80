"""Only what the plan needs is stored: no description or location of others' events, no old history."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from idealweek import config as cfg
from idealweek.cli import main
from idealweek.model import utc
from idealweek.planner import PlanInput, plan
from idealweek.providers.google import GoogleProvider
from idealweek.retention import history_lookback, keep_since
from idealweek.store import Store
from tests.fakes.google_server import GoogleFake, google_provider
from tests.test_daemon_support import demo_copy

SECRET_TEXT = ("zoom.us/j/555?pwd=Oncology42", "Oncology ward, room 12", "Chemo cycle 3 notes")


def vevent(uid: str, title: str, start: datetime, end: datetime, extra: str = "") -> str:
    def f(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{title}\r\n"
        f"DTSTART:{f(start)}\r\nDTEND:{f(end)}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def state_bytes(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state.iterdir()) if p.is_file())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    config = demo_copy(tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    work = tmp_path / "calendars" / "work"
    soon = now + timedelta(days=2)
    (work / "clinic.ics").write_text(
        vevent(
            "clinic@example.com",
            "Clinic appointment",
            soon,
            soon + timedelta(hours=1),
            f"DESCRIPTION:{SECRET_TEXT[0]} {SECRET_TEXT[2]}\r\nLOCATION:{SECRET_TEXT[1]}\r\n",
        )
    )
    old = now - timedelta(days=60)
    (work / "ancient.ics").write_text(vevent("ancient@example.com", "Ancient offsite", old, old + timedelta(hours=2)))
    yield config
    structlog.reset_defaults()


def test_others_descriptions_and_locations_are_never_stored(world: Path) -> None:
    """After cycles the state holds the meeting's title, not its description or location; owned text stays."""
    for _ in range(2):  # the second cycle reads back the events the first one wrote
        assert main(["run", "--once", "--quiet", "--config", str(world), "--log-level", "error"]) == 0
    state = world.parent / "state"
    raw = state_bytes(state)
    assert b"Clinic appointment" in raw  # the week picture shows titles
    for text in SECRET_TEXT:
        assert text.encode() not in raw, text
    store = Store(state / "state.sqlite3")
    try:
        events = store.events()
    finally:
        store.close()
    clinic = next(e for e in events if e.uid.startswith("clinic@"))
    assert clinic.description == "" and clinic.location == ""
    assert any(e.tag is not None and e.description for e in events)  # idealweek's own events keep theirs


def test_events_older_than_the_history_the_plan_needs_are_not_kept(world: Path) -> None:
    """An event that ended 60 days ago is never stored; every kept event ends after keep_since."""
    assert main(["run", "--once", "--quiet", "--config", str(world), "--log-level", "error"]) == 0
    state = world.parent / "state"
    assert b"Ancient offsite" not in state_bytes(state)
    settings = cfg.load(world)
    store = Store(state / "state.sqlite3")
    try:
        since = keep_since(datetime.now(UTC), settings.longest_within)
        assert all(e.end > since - timedelta(minutes=5) for e in store.events())
    finally:
        store.close()


def test_a_database_from_before_is_pruned_and_scrubbed(world: Path) -> None:
    """Rows an older version stored (old events, others' descriptions) are removed by the next real cycle."""
    assert main(["run", "--once", "--quiet", "--config", str(world), "--log-level", "error"]) == 0
    db_path = world.parent / "state" / "state.sqlite3"
    db = sqlite3.connect(db_path)
    try:
        old_end = (datetime.now(UTC) - timedelta(days=90)).timestamp()
        row: list[object] = [2, "work", "old-row", old_end - 3600, old_end, "Old title", "old description", "old place"]
        row += [False, "confirmed", True, "accepted", False, None, "", "", "", 0, False]
        db.execute("INSERT INTO events VALUES ('work', 'old-row', ?)", (json.dumps(row),))
        db.execute(
            "UPDATE events SET data = json_set(data, '$[6]', 'leaked description', '$[7]', 'leaked place') "
            "WHERE uid LIKE 'clinic@%'"
        )
        db.commit()
    finally:
        db.close()
    assert main(["run", "--once", "--quiet", "--config", str(world), "--log-level", "error"]) == 0
    raw = state_bytes(db_path.parent)
    for text in (b"Old title", b"old description", b"leaked description", b"leaked place"):
        assert text not in raw, text


def test_kept_history_covers_what_the_planner_looks_at(world: Path) -> None:
    """keep_since is never later than the planner's window start, for short and long catch-up windows."""
    settings = cfg.load(world)
    for day in range(14):
        now = utc(2030, 3, 4, 8) + timedelta(days=day, hours=day * 1.7)
        result = plan(PlanInput(now=now, settings=settings, events=[]))
        assert keep_since(now, settings.longest_within) < result.window_start
    assert history_lookback(timedelta(days=30)) > timedelta(days=31)


def test_google_full_sync_is_bounded_in_time_and_incremental_sync_still_works() -> None:
    """A full sync sends timeMin (nothing older is downloaded); the next read sends only the sync token."""
    with GoogleFake() as fake:
        provider: GoogleProvider = google_provider(fake)
        now = provider.clock()
        old = fake.user_add(
            "primary", "Ten years ago", now - timedelta(days=3650), now - timedelta(days=3650, hours=-1)
        )
        recent = fake.user_add("primary", "Tomorrow", now + timedelta(days=1), now + timedelta(days=1, hours=1))
        cs = provider.read_changes(None)
        assert {e.uid for e in cs.upserts} == {recent} and old not in {e.uid for e in cs.upserts}
        full = fake.requests_to("GET", "/events")
        assert full and all(r.param("timeMin") for r in full)
        since = datetime.fromisoformat(str(full[0].param("timeMin")))
        assert now - since >= provider.lookback - timedelta(days=1)  # type: ignore[operator]
        fake.clear_log()
        later = fake.user_add("primary", "Later", now + timedelta(days=2), now + timedelta(days=2, hours=1))
        inc = provider.read_changes(cs.token)
        assert not inc.full and [e.uid for e in inc.upserts] == [later]
        assert all(r.param("timeMin") is None for r in fake.requests_to("GET", "/events"))
        provider.close()
