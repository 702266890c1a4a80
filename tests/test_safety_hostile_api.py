"""Hostile input from both fake APIs: broken answers and absurd events never crash a cycle.

Each input either fails its calendar with a clear one-line error (and the other
calendars are still written) or the bad event is skipped with a warning while
the rest of that calendar keeps working.  With ``tests/test_hostile_local.py``
the hostile corpus exceeds 50 inputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from idealweek.store import Store
from tests.fakes.google_server import Fault as GFault
from tests.fakes.graph_server import Fault as OFault
from tests.safety.world import Services, World, at, services

HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>nginx</body></html>"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("safety-hostile")) as s:
        yield s


def _google_raw(status: int, body: bytes, ctype: str) -> Callable[[World], None]:
    return lambda w: w.svc.google.faults.append(GFault(status, raw=body, content_type=ctype, method="GET", times=8))


def _graph_raw(status: int, body: bytes, ctype: str) -> Callable[[World], None]:
    return lambda w: w.svc.graph.inject(OFault(status, raw=body, content_type=ctype, match="GET", times=8))


BROKEN_ANSWERS: dict[str, tuple[str, Callable[[World], None]]] = {
    "google-html-502": ("gwork", _google_raw(502, HTML_502, "text/html")),
    "google-malformed-json-200": ("gwork", _google_raw(200, b'{"items": [{"id": "x", ', "application/json")),
    "google-json-not-an-object": ("gwork", _google_raw(200, b'["a", 1]', "application/json")),
    "google-wrong-content-type": ("gwork", _google_raw(200, b"hello, not json", "text/plain")),
    "google-items-not-a-list": ("gwork", _google_raw(200, b'{"items": 7, "nextSyncToken": "s"}', "application/json")),
    "google-empty-body-200": ("gwork", _google_raw(200, b"", "application/json")),
    "graph-html-502": ("owork", _graph_raw(502, HTML_502, "text/html")),
    "graph-malformed-json-200": ("owork", _graph_raw(200, b'{"value": [', "application/json")),
    "graph-json-not-an-object": ("owork", _graph_raw(200, b"[1, 2]", "application/json")),
    "graph-wrong-content-type": ("owork", _graph_raw(200, b"<xml/>", "application/xml")),
    "graph-value-not-a-list": ("owork", _graph_raw(200, b'{"value": {"a": 1}}', "application/json")),
    "graph-error-without-code": ("owork", _graph_raw(400, b'{"error": "nope"}', "application/json")),
}

BIG = "T" * 1_000_000
ATTENDEES = [{"email": f"p{i}@example.com", "responseStatus": "accepted"} for i in range(10_000)]


def _g(**fields: Any) -> Callable[[World], None]:
    def add(w: World) -> None:
        eid = w.svc.google.user_add(w.gcal, "hostile", at(2, 10), at(2, 11))
        w.svc.google.user_update(w.gcal, eid, **fields)

    return add


def _o(**props: Any) -> Callable[[World], None]:
    def add(w: World) -> None:
        start, end = props.pop("_start", at(2, 10)), props.pop("_end", at(2, 11))
        zone = props.pop("_zone", "UTC")
        uid = w.svc.graph.user_add("hostile", start, end, calendar=w.ocal, zone=zone)
        w.svc.graph.user_patch(uid, **props)

    return add


ABSURD_EVENTS: dict[str, Callable[[World], None]] = {
    "google-year-9999": _g(start={"dateTime": "9999-12-31T10:00:00Z"}, end={"dateTime": "9999-12-31T11:00:00Z"}),
    "google-negative-duration": _g(end={"dateTime": "2026-11-24T08:00:00+01:00", "timeZone": "Europe/Berlin"}),
    "google-10000-attendees": _g(attendees=ATTENDEES),
    "google-1MB-title": _g(summary=BIG, description=BIG),
    "google-unknown-zone": _g(
        start={"dateTime": "2026-11-25T10:00:00", "timeZone": "Mars/Olympus_Mons"},
        end={"dateTime": "2026-11-25T11:00:00", "timeZone": "Mars/Olympus_Mons"},
    ),
    "google-garbage-datetime": _g(start={"dateTime": "yesterday-ish"}, end={"dateTime": "2026-13-45T99:99:99Z"}),
    "google-missing-start": _g(start=None),
    "google-forged-tag": _g(extendedProperties={"private": {"idealweek": "{not json"}}),
    "graph-year-9999": _o(_start=datetime(9999, 12, 31, 10, tzinfo=at(0, 0).tzinfo), _end=datetime(9999, 12, 31, 11)),
    "graph-negative-duration": _o(_start=at(2, 12), _end=at(2, 10)),
    "graph-10000-attendees": _o(
        attendees=[{"emailAddress": {"address": f"p{i}@example.com"}, "type": "required"} for i in range(10_000)]
    ),
    "graph-1MB-title": _o(subject=BIG, body={"contentType": "html", "content": BIG}),
    "graph-unknown-zone": _o(_zone="Mars Standard Time"),
    "graph-unknown-showas": _o(showAs="maybe-later", sensitivity="ultra"),
}


def _cycle(w: World) -> Any:
    store = Store(w.db)
    try:
        return w.engine(store).cycle()
    finally:
        store.close()


@pytest.mark.parametrize("name", sorted(BROKEN_ANSWERS))
def test_broken_answer_fails_only_its_calendar_clearly(svc: Services, name: str) -> None:
    """HTML error pages, broken JSON and wrong content types: that calendar fails in one line; the others work."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    cal, arm = BROKEN_ANSWERS[name]
    arm(w)
    try:
        report = _cycle(w)
    finally:
        svc.google.faults.clear()
        svc.graph.faults.clear()
    if cal in report.failed:
        msg = report.failed[cal]
        assert "Traceback" not in msg and "\n" not in msg and len(msg) < 500, msg
        assert "<html" not in msg.lower() or "bad gateway" in msg.lower()
    assert report.calendars_read >= 2
    assert w.owned(), "the other calendars were not written"
    w.settle()
    assert not w.duplicates()


@pytest.mark.parametrize("name", sorted(ABSURD_EVENTS))
def test_absurd_event_is_skipped_or_used_never_a_crash(svc: Services, name: str) -> None:
    """Absurd events (year 9999, negative length, 10,000 attendees, 1 MB titles, unknown zones) never crash a cycle."""
    w = svc.world()
    w.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
    ABSURD_EVENTS[name](w)
    with capture_logs() as logs:
        report = _cycle(w)
    cal = "gwork" if name.startswith("google") else "owork"
    other = "owork" if cal == "gwork" else "gwork"
    assert other not in report.failed
    if cal in report.failed:
        msg = report.failed[cal]
        assert "Traceback" not in msg and len(msg) < 500, msg
    else:  # the calendar worked: the meeting's make-up is there
        assert any(t.kind.value == "makeup" for t, _ in w.google_owned())
    text = json.dumps(logs, default=str)
    assert BIG not in text  # a 1 MB title never goes to the logs whole
    w.settle() if cal not in report.failed else None
    assert not w.duplicates()


def test_hostile_corpus_has_more_than_50_inputs() -> None:
    """Broken configs, broken calendar files and hostile API answers together exceed 50 inputs."""
    from tests.test_hostile_local import BAD_CONFIGS, BAD_ICS

    total = len(BAD_CONFIGS) + len(BAD_ICS) + len(BROKEN_ANSWERS) + len(ABSURD_EVENTS)
    assert total > 50, total
