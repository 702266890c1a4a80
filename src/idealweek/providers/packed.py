"""Events held as text while a full read is under way (issue 15: the daemon's footprint).

A full read holds every event of a calendar at once.  As objects that is ~600 bytes an event, spread
over the whole Python heap; the few that outlive the cycle (the planning window, the sync token, a
cache entry) then keep that heap from being handed back for as long as the daemon runs: at 40,000
events the daemon stayed ~24 MB above a daemon that started on a filled state.  :class:`PackedEvents`
keeps each page of a read as one deflated block of text in the event cache's row format and decodes an event
only while it is looked at, so a full read never has more than a page of events as objects.

The daemon asks its Google calendars for packed full reads (``pack_full_reads``); ``run --once``
exits after its cycle and reads into plain lists (packing costs ~10 µs an event to encode and decode).
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, overload, runtime_checkable

from idealweek.model import Event

Keep = Callable[[Event], "Event | None"]
"""An event as it is kept (possibly changed), or None to leave it out."""


@runtime_checkable
class PacksFullReads(Protocol):
    """A provider that can keep the events of a full read packed (:class:`PackedEvents`)."""

    pack_full_reads: bool


_ROW_TEXT = json.JSONEncoder(ensure_ascii=False)
"""A uid as the event cache's rows write it (:func:`idealweek.store.rows.event_to_json`)."""


class StrHashes:
    """A map from strings to small ints kept as the strings' hashes in two arrays (open addressing): no object
    per member.

    :meth:`get` gives the value put for a string, or for another string only when its 64-bit hash is the same
    as a put one's (the caller confirms a hit where that matters); -1 when there is none.
    """

    def __init__(self) -> None:
        self._slots = array("q", bytes(8 * 1024))
        self._values = array("i", bytes(4 * 1024))
        self._used = 0

    def _slot(self, h: int) -> int:
        slots = self._slots
        mask = len(slots) - 1
        i = h & mask
        while (v := slots[i]) != 0 and v != h:
            i = (i + 1) & mask
        return i

    def put(self, text: str, value: int) -> None:
        h = hash(text) or 1  # 0 marks an empty slot
        i = self._slot(h)
        self._values[i] = value
        if self._slots[i] == 0:
            self._slots[i] = h
            self._used += 1
            if 2 * self._used > len(self._slots):
                self._grow()

    def get(self, text: str) -> int:
        i = self._slot(hash(text) or 1)
        return self._values[i] if self._slots[i] != 0 else -1

    def _grow(self) -> None:
        old_slots, old_values = self._slots, self._values
        self._slots = array("q", bytes(16 * len(old_slots)))
        self._values = array("i", bytes(8 * len(old_slots)))
        for h, value in zip(old_slots, old_values, strict=True):
            if h:
                i = self._slot(h)
                self._slots[i], self._values[i] = h, value


def _pack(text: str) -> bytes:
    """A page's rows deflated at the fastest level (< 0.5 µs an event each way): a full read's rows (~250 bytes an
    event, ~10 MB at 40,000 events while the read lasts: the daemon's peak) shrink 2-3x for varied text, more for
    repetitive text."""
    return zlib.compress(text.encode(), 1)


def _unpack(block: bytes) -> str:
    return zlib.decompress(block).decode()


class PackedEvents(Sequence[Event]):
    """Events in pages of event-cache rows; iterating decodes them one at a time, in the order added.

    An event added again in a later page (or cancelled there: :meth:`supersede`) counts only as that
    later page has it.  :meth:`filtered` gives a view that changes or leaves out events as they are read.
    """

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        """Each page's rows, one a line, deflated (:func:`_pack`)."""
        self._from: dict[str, int] = {}
        """uid → the first block whose row of it counts (its rows in earlier blocks were superseded)."""
        self._added = StrHashes()
        """The uids added → the block of each one's latest row, kept as the uids' hashes: a dict of the uids would
        keep ~80 bytes an event as objects while the read lasts, and the few objects that outlive the read then
        pin that heap (~3 MB at 40k events)."""
        self._gone: set[str] = set()
        """Uids superseded and not added again since (the rare events met again in a read)."""
        self._count = 0
        self._keep: Keep | None = None
        self._len: int | None = None

    # -- building -----------------------------------------------------------------------------
    def supersede(self, uid: str) -> None:
        """``uid`` came again in the page being read (changed or cancelled): its earlier row no longer counts."""
        block = self._added.get(uid)
        if block >= 0 and uid not in self._gone and self._has_row(uid, block):
            self._gone.add(uid)
            self._count -= 1
            self._from[uid] = len(self._blocks)

    def _has_row(self, uid: str, block: int) -> bool:
        """A row of ``uid`` was added (its hash was, with ``block`` for its latest row: the row is looked for there
        first, and in the others only if another uid with the same hash put that block there)."""
        needle = _ROW_TEXT.encode(uid)
        order = [block, *(i for i in range(len(self._blocks)) if i != block)]
        for i in order:
            text = _unpack(self._blocks[i])
            if needle in text and any(needle in row and json.loads(row)[2] == uid for row in text.split("\n")):
                return True
        return False

    def add(self, events: Iterable[Event]) -> None:
        """One page's events (each uid at most once, none :meth:`supersede` did not clear) as a block of rows."""
        from idealweek.store.rows import event_to_json

        rows: list[str] = []
        added, gone, block = self._added, self._gone, len(self._blocks)
        for ev in events:
            rows.append(event_to_json(ev))  # JSON text holds no raw newline: one row a line
            added.put(ev.uid, block)
            if gone:
                gone.discard(ev.uid)
        if rows:
            self._blocks.append(_pack("\n".join(rows)))
            self._count += len(rows)

    # -- reading ------------------------------------------------------------------------------
    def filtered(self, keep: Keep) -> PackedEvents:
        """The same events as ``keep`` has them (after this view's own filter), decoded as they are read."""
        view = PackedEvents.__new__(PackedEvents)
        view._blocks, view._from, view._count = self._blocks, self._from, self._count
        view._added, view._gone = self._added, self._gone
        inner = self._keep
        if inner is None:
            view._keep = keep
        else:

            def both(ev: Event) -> Event | None:
                kept = inner(ev)
                return None if kept is None else keep(kept)

            view._keep = both
        view._len = None
        return view

    def __iter__(self) -> Iterator[Event]:
        from idealweek.store.rows import event_from_json

        keep, since = self._keep, self._from
        for i, block in enumerate(self._blocks):
            for row in _unpack(block).split("\n"):
                ev = event_from_json(row)
                if since and since.get(ev.uid, 0) > i:
                    continue
                kept = ev if keep is None else keep(ev)
                if kept is not None:
                    yield kept

    def __len__(self) -> int:
        if self._keep is None:
            return self._count
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | Sequence[Event]:
        return list(self)[index]

    def __repr__(self) -> str:
        return f"<PackedEvents: {len(self)} events in {len(self._blocks)} pages>"


__all__ = ["Keep", "PackedEvents", "PacksFullReads", "StrHashes"]
