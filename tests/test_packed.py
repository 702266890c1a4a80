"""Packed full reads (issue 15): the daemon's Google reads keep events as text, with the same events as a plain read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from idealweek.daemon import packing_full_reads
from idealweek.model import Event, Kind, OwnedTag, utc
from idealweek.providers.packed import PackedEvents, StrHashes
from idealweek.retention import busy_only, minimise
from tests.fakes.google_server import GoogleFake, google_provider

T0 = utc(2030, 3, 4, 9)
H = timedelta(hours=1)


def _ev(uid: str, hour: int, **kw: Any) -> Event:
    return Event("work", uid, T0 + hour * H, T0 + (hour + 1) * H, **kw)


def test_packed_events_read_back_equal_and_in_order() -> None:
    """Events added page by page read back equal to the originals, in the order they were added."""
    tag = OwnedTag("makeup:family:long", Kind.MAKEUP, T0, T0 + H, "family", {"d1": 30})
    evs = [_ev(f"e{i}", i, title=f"T\n{i}", description="d", attendees=i, tag=tag if i % 2 else None) for i in range(7)]
    packed = PackedEvents()
    packed.add(evs[:3])
    packed.add([])
    packed.add(evs[3:])
    assert len(packed) == 7 and list(packed) == evs
    assert packed[2] == evs[2] and list(packed[1:3]) == evs[1:3]


def test_an_event_met_again_in_a_later_page_counts_only_there() -> None:
    """A later page's version of an event replaces the earlier one; an event cancelled later is gone."""
    packed = PackedEvents()
    packed.add([_ev("a", 1), _ev("b", 2), _ev("c", 3)])
    packed.supersede("a")  # changed in page 2
    packed.supersede("b")  # cancelled in page 2
    packed.supersede("new")  # not met before: nothing to replace
    packed.add([_ev("a", 5), _ev("new", 6)])
    assert [(e.uid, e.start) for e in packed] == [("c", T0 + 3 * H), ("a", T0 + 5 * H), ("new", T0 + 6 * H)]
    assert len(packed) == 3


def test_str_hashes_map_what_was_put_through_growth() -> None:
    """The uid hash map gives each string's latest value (past several growths) and -1 for others."""
    hashes = StrHashes()
    for i in range(5000):
        hashes.put(f"uid-{i}", i % 7)
    hashes.put("uid-8", 40)  # again: the new value, no second slot
    assert all(hashes.get(f"uid-{i}") == (40 if i == 8 else i % 7) for i in range(5000))
    assert all(hashes.get(f"other-{i}") == -1 for i in range(5000))
    assert hashes.get("") == -1
    hashes.put("", 3)
    assert hashes.get("") == 3


class _AllCollide(StrHashes):
    """A hash map where every string seems put, in the first block (as if each uid's hash matched another's)."""

    def get(self, text: str) -> int:
        return 0


def test_a_uid_whose_hash_matches_an_added_one_supersedes_nothing() -> None:
    """An uid that only shares a hash with an added event takes nothing away (its row is looked for)."""
    packed = PackedEvents()
    packed._added = _AllCollide()
    packed.add([_ev("a", 1), _ev("b", 2)])
    packed.add([_ev("c", 3)])
    packed.supersede("ab")  # never added: no row of its own
    packed.supersede('"a"')
    packed.supersede("a")
    packed.supersede("a")  # twice in one page: counted once
    packed.supersede("c")  # its row is not in the block the map names: found in the others
    packed.add([_ev("a", 5)])
    assert [(e.uid, e.start) for e in packed] == [("b", T0 + 2 * H), ("a", T0 + 5 * H)]
    assert len(packed) == 2


def test_an_event_met_again_twice_counts_only_in_the_last_page() -> None:
    """An event changed twice during a read counts once, as the last page has it."""
    packed = PackedEvents()
    packed.add([_ev("a", 1), _ev("b", 2)])
    packed.supersede("a")
    packed.add([_ev("a", 3)])
    packed.supersede("a")
    packed.add([_ev("a", 4), _ev("c", 5)])
    assert [(e.uid, e.start) for e in packed] == [("b", T0 + 2 * H), ("a", T0 + 4 * H), ("c", T0 + 5 * H)]
    assert len(packed) == 3


def test_minimise_and_busy_only_keep_a_packed_read_packed_with_the_same_events() -> None:
    """Retention gives the same events for a packed read as for a plain list, and the read stays packed."""
    from idealweek.providers.base import ChangeSet

    evs = [_ev(f"e{i}", i, title="Meet", description="secret", location="there", attendees=2) for i in range(6)]
    packed = PackedEvents()
    packed.add(evs)
    since = T0 + 2 * H
    plain_cs, packed_cs = ChangeSet(full=True, upserts=evs), ChangeSet(full=True, upserts=packed)
    kept = minimise(packed_cs, since)
    assert isinstance(kept.upserts, PackedEvents)
    assert list(kept.upserts) == list(minimise(plain_cs, since).upserts) and len(kept.upserts) == 4
    bare = busy_only(kept)
    assert isinstance(bare.upserts, PackedEvents)
    assert list(bare.upserts) == list(busy_only(minimise(plain_cs, since)).upserts)


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=3, empty_pages=True) as f:
        yield f


def test_a_packed_google_full_read_has_the_events_of_a_plain_one(fake: GoogleFake) -> None:
    """A packed full read (pages of Google's default size) gives the plain read's events, series too, in order."""
    for i in range(10):
        fake.user_add("primary", f"e{i}", T0 + i * H, T0 + (i + 1) * H, description="x" * 40)
    fake.user_add_series("primary", "daily", [T0 + (30 + 24 * d) * H for d in range(4)], H)
    plain, packing = google_provider(fake), google_provider(fake)
    try:
        packing_full_reads({"work": packing})
        assert packing.pack_full_reads and not plain.pack_full_reads
        a = plain.read_changes(None)
        fake.clear_log()
        b = packing.read_changes(None)
        assert {r.param("maxResults") for r in fake.requests_to("GET", "/events")} == {"250"}  # Google's default
        assert isinstance(b.upserts, PackedEvents) and not isinstance(a.upserts, PackedEvents)
        assert list(b.upserts) == list(a.upserts) and len(b.upserts) == len(a.upserts) == 14
        assert (b.full, b.token is not None, b.removed) == (a.full, a.token is not None, a.removed)
        fake.user_add("primary", "later", T0 + 50 * H, T0 + 51 * H)
        inc = packing.read_changes(b.token)
        assert not isinstance(inc.upserts, PackedEvents) and [e.title for e in inc.upserts] == ["later"]
    finally:
        plain.close()
        packing.close()
