"""Unreadable ownership tags (SPEC §6 / issue 10 item 6): skipped with a warning, never fatal.

A tag lives in a calendar anyone can edit.  Whatever it holds, decoding
either gives a tag or raises ``ValueError``; the event is then unowned and
untouched, and every other event and calendar is planned as usual.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idealweek.engine import Engine
from idealweek.model import Event, Kind, OwnedTag, utc
from idealweek.planner import PlanInput, plan
from idealweek.providers.google.mapping import tag_from_properties
from idealweek.providers.outlook.mapping import TAG_ID, read_tag
from idealweek.providers.vdir import VdirProvider
from idealweek.reconcile import reconcile
from idealweek.store import Store
from tests.scenario import settings as make_settings

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)  # a Monday morning
S = make_settings()

HOSTILE = [
    '{"v":1,"k":"block:x","t":"block","s":1e400,"e":1}',  # infinite timestamp: OverflowError before
    '{"v":1,"k":"block:x","t":"block","s":100000000000000000000,"e":1}',  # huge: OverflowError before
    '{"v":1,"k":"block:x","t":"block","s":-1e30,"e":0}',
    '{"v":1,"k":"block:x","t":"block","s":NaN,"e":1}',
    '{"v":1,"k":"block:x","t":"block","s":1,"e":2,"p":{"d":1e400}}',
    '{"v":1,"k":"block:x","t":"block","s":1,"e":2,"p":[1,2]}',
    '{"v":1,"k":{"a":1},"t":"block","s":1,"e":2}',
    '{"v":1,"k":"block:x","t":["block"],"s":1,"e":2}',
    '{"v":1,"k":"block:x","t":"block","s":"soon","e":2}',
    '{"v":1,"k":"block:x","t":"block","s":true,"e":2}',
    '{"v":1,"k":"block:x","t":"teapot","s":1,"e":2}',
    '{"v":1,"k":"","t":"block","s":1,"e":2}',
    '{"v":1,"k":"block:x","t":"block","s":20,"e":10}',
    '{"v":1}',
    "[" * 100_000 + "]" * 100_000,  # RecursionError before
    "1" * 5000,  # int string limit
    "",
    "\x00",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_tag_raises_only_value_error(text: str) -> None:
    """Huge or infinite timestamps, wrong types, deep nesting: decoding raises ValueError and nothing else."""
    with pytest.raises(ValueError, match="not an idealweek tag"):
        OwnedTag.decode(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


_garbage = st.one_of(
    _json,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["block", "makeup", "teapot", "", 10**20, -1, 1e400, True]),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.floats(), st.text()), max_size=3),
)


@st.composite
def tag_like(draw: st.DrawFn) -> str:
    """A real tag with one to three fields replaced by garbage (or removed)."""
    doc: dict[str, Any] = json.loads(
        OwnedTag("makeup:family:x", Kind.MAKEUP, utc(2030, 1, 1, 9), utc(2030, 1, 1, 10), "family", {"d": 30}).encode()
    )
    for field in draw(st.lists(st.sampled_from(["v", "k", "t", "s", "e", "c", "p"]), min_size=1, max_size=3)):
        if draw(st.integers(0, 5)) == 0:
            doc.pop(field, None)
        else:
            doc[field] = draw(_garbage)
    return json.dumps(doc, allow_nan=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tag_like(), st.text(max_size=200), _json.map(lambda v: json.dumps(v, allow_nan=True))))
def test_garbage_tags_decode_or_raise_value_error(text: str) -> None:
    """Any text: decode gives a tag that round-trips or raises ValueError (never another exception)."""
    try:
        tag = OwnedTag.decode(text)
    except ValueError:
        return
    assert OwnedTag.decode(tag.encode()) == tag
    assert tag.planned_start <= tag.planned_end


@settings(max_examples=200, deadline=None)
@given(tag_like())
def test_provider_tag_readers_never_raise(text: str) -> None:
    """Outlook's and Google's tag readers turn any garbage into "no tag" (the event is unowned)."""
    doc = {"singleValueExtendedProperties": [{"id": TAG_ID, "value": text}]}
    for tag in (read_tag(doc), tag_from_properties({"idealweek": text})):
        assert tag is None or isinstance(tag, OwnedTag)


def test_unreadable_tag_is_logged_once_per_read() -> None:
    """A damaged tag on an Outlook event is reported as a warning naming the problem, not the title."""
    with structlog.testing.capture_logs() as logs:
        assert read_tag({"id": "e1", "singleValueExtendedProperties": [{"id": TAG_ID, "value": HOSTILE[0]}]}) is None
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and "problem" in warnings[0]


# -- well-formed tags with odd contents: the planner and the reconciler cope ----------------

_keys = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["makeup:", "makeup:family", "makeup:family:x#g", "block:#g7", "focus:a:b:c", "mirror:x#gx"]),
)


@st.composite
def odd_owned_event(draw: st.DrawFn) -> Event:
    start = NOW + timedelta(minutes=15 * draw(st.integers(-800, 1400)))
    length = timedelta(minutes=15 * draw(st.integers(0, 40)))
    planned = start + timedelta(minutes=15 * draw(st.sampled_from([0, 0, -4, 4])))
    tag = OwnedTag(
        key=draw(_keys),
        kind=draw(st.sampled_from(list(Kind))),
        planned_start=planned,
        planned_end=planned + length,
        category=draw(st.sampled_from(["", "family", "health", "nonexistent", "fam:ily"])),
        pays=draw(st.dictionaries(st.text(max_size=8), st.integers(-(10**6), 10**6), max_size=3)),
    )
    return Event(
        calendar=draw(st.sampled_from(["work", "home", "elsewhere"])),
        uid=f"odd-{draw(st.integers(0, 10**6))}",
        start=start,
        end=start + length,
        tag=tag,
        attendees=draw(st.sampled_from([0, 0, 2])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(odd_owned_event(), max_size=8))
def test_odd_but_well_formed_tags_never_break_planning(events: list[Event]) -> None:
    """Tags with unknown categories, odd keys, negative pays or foreign calendars: plan and reconcile still run."""
    now = NOW.astimezone(ZoneInfo("UTC"))
    p = plan(PlanInput(now=now, settings=S, events=events))
    reconcile(p.desired, events, now, now + S.catch_up.freeze, now + S.horizon, {}, ["work", "home"])


# -- end to end: one hostile tag in a vdir ---------------------------------------------


def _hostile_file(folder: Path, tag: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:hostile\r\n"
        "DTSTAMP:20261101T000000Z\r\nDTSTART:20261124T160000Z\r\nDTEND:20261124T170000Z\r\n"
        f"SUMMARY:Not yours\r\nX-IDEALWEEK:{tag}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return path


@pytest.mark.parametrize("tag", HOSTILE[:2], ids=["inf", "huge"])
def test_one_hostile_tag_does_not_stop_the_cycle(tmp_path: Path, tag: str) -> None:
    """An event whose tag overflows is unowned and untouched; both calendars are still read and planned."""
    hostile = _hostile_file(tmp_path / "home", tag)
    before = hostile.read_bytes()
    now = utc(2026, 11, 23, 7)
    providers = {
        "work": VdirProvider("work", tmp_path / "work", writable=True, zone=BERLIN, clock=lambda: now),
        "home": VdirProvider("home", tmp_path / "home", writable=True, zone=BERLIN, clock=lambda: now),
    }
    store = Store(tmp_path / "state.sqlite3")
    try:
        report = Engine(S, store, providers, clock=lambda: now).cycle()
        assert report.ok, report.failed
        assert report.applied, "the other blocks were written"
        seen = [e for e in store.events(["home"]) if e.uid == "hostile"]
        assert len(seen) == 1 and seen[0].tag is None
        assert hostile.read_bytes() == before
        assert Engine(S, store, providers, clock=lambda: now).cycle().applied == []
        assert hostile.read_bytes() == before
    finally:
        store.close()
