"""Event construction and storage: fields, defaults, UTC checks, the stored copy without foreign text, rows."""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest

from idealweek.model import Event, Kind, OwnedTag, Response, Status
from idealweek.retention import needed
from idealweek.store.rows import _ROW_ENCODER, event_from_json, event_to_json

BERLIN_WINTER = timezone(timedelta(hours=1))
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _full() -> Event:
    return Event(
        "work",
        "u1",
        T,
        T + timedelta(hours=1),
        title="Planning “Q2” ✓",
        description='line\n"quoted"',
        location="Room 1",
        all_day=False,
        status=Status.TENTATIVE,
        busy=False,
        response=Response.ACCEPTED,
        private=True,
        tag=None,
        etag='"e1"',
        series="s1",
        recurrence_id="20260302T090000Z",
        attendees=3,
        organizer_other=True,
    )


def test_event_init_has_the_dataclass_signature_and_type_hints() -> None:
    """Event(...) takes every field in order, positionally or by name, with the fields' defaults and hints."""
    params = list(inspect.signature(Event).parameters.values())
    fields = dataclasses.fields(Event)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert p.default == expected
    assert typing.get_type_hints(Event.__init__)["start"] is datetime


def test_event_init_sets_every_field_and_converts_times_to_utc() -> None:
    """Every slot holds what was passed; aware times of any zone become UTC; equality and hashing work."""
    ev = Event("work", "u1", datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN_WINTER), T + timedelta(hours=1), title="A")
    assert ev.start == T and ev.start.tzinfo is UTC and ev.end.tzinfo is UTC
    full = _full()
    assert {f.name: getattr(full, f.name) for f in dataclasses.fields(Event)}["attendees"] == 3
    assert full == dataclasses.replace(full) and hash(full) == hash(dataclasses.replace(full))
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.uid = "other"  # type: ignore[misc]


def test_event_init_refuses_naive_times_and_moves_an_early_end_to_the_start() -> None:
    """A naive start or end is refused with ValueError; an end before the start becomes the start."""
    with pytest.raises(ValueError, match="naive"):
        Event("work", "u1", datetime(2026, 3, 2, 9, 0), T)
    with pytest.raises(ValueError, match="naive"):
        Event("work", "u1", T, datetime(2026, 3, 2, 9, 0))
    assert Event("work", "u1", T, T - timedelta(hours=2)).end == T


def test_stored_event_without_others_text_keeps_everything_else() -> None:
    """retention.needed drops only the description and location of an event that is not idealweek's."""
    full = _full()
    assert needed(full) == dataclasses.replace(full, description="", location="")
    owned = dataclasses.replace(full, tag=OwnedTag("makeup:family:long", Kind.MAKEUP, T, T + timedelta(hours=1)))
    assert needed(owned) is owned


def test_event_rows_are_the_json_encoders_text_and_read_back() -> None:
    """An event-cache row is what JSONEncoder(separators, ensure_ascii=False) writes, and reads back equal."""
    full = _full()
    for ev in (full, dataclasses.replace(full, tag=OwnedTag("makeup:family:long", Kind.MAKEUP, T, T, "family"))):
        row = event_to_json(ev)
        assert row == _ROW_ENCODER.encode(json.loads(row))
        assert event_from_json(row) == ev
    with pytest.raises(TypeError):
        event_to_json(dataclasses.replace(full, attendees=object()))  # type: ignore[arg-type]
