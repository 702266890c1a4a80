"""Events held as text while a full read is under way (issue 15: the daemon's footprint).

A full read holds every event of a calendar at once.  As objects that is ~600 bytes an event, spread
over the whole Python heap; the few that outlive the cycle (the planning window, the sync token, a
cache entry) then keep that heap from being handed back for as long as the daemon runs: at 40,000
events the daemon stayed ~24 MB above a daemon that started on a filled state.  :class:`PackedEvents`
keeps each page of a read as one block of text in the event cache's row format and decodes an event
only while it is looked at, so a full read never has more than a page of events as objects.

The daemon asks its Google calendars for packed full reads (``pack_full_reads``); ``run --once``
exits after its cycle and reads into plain lists (packing costs ~10 µs an event to encode and decode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol, overload, runtime_checkable

from idealweek.model import Event

Keep = Callable[[Event], "Event | None"]
"""An event as it is kept (possibly changed), or None to leave it out."""


@runtime_checkable
class PacksFullReads(Protocol):
    """A provider that can keep the events of a full read packed (:class:`PackedEvents`)."""

    pack_full_reads: bool


class PackedEvents(Sequence[Event]):
    """Events in pages of event-cache rows; iterating decodes them one at a time, in the order added.

    An event added again in a later page (or cancelled there: :meth:`supersede`) counts only as that
    later page has it.  :meth:`filtered` gives a view that changes or leaves out events as they are read.
    """

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._from: dict[str, int] = {}
        """uid → the first block whose row of it counts (its rows in earlier blocks were superseded)."""
        self._live: set[str] = set()
        self._count = 0
        self._keep: Keep | None = None
        self._len: int | None = None

    # -- building -----------------------------------------------------------------------------
    def supersede(self, uid: str) -> None:
        """``uid`` came again in the page being read (changed or cancelled): its earlier row no longer counts."""
        if uid in self._live:
            self._live.discard(uid)
            self._count -= 1
            self._from[uid] = len(self._blocks)

    def add(self, events: Iterable[Event]) -> None:
        """One page's events (each uid at most once, none :meth:`supersede` did not clear) as a block of rows."""
        from idealweek.store.rows import event_to_json

        rows: list[str] = []
        for ev in events:
            rows.append(event_to_json(ev))  # JSON text holds no raw newline: one row a line
            self._live.add(ev.uid)
        if rows:
            self._blocks.append("\n".join(rows))
            self._count += len(rows)

    # -- reading ------------------------------------------------------------------------------
    def filtered(self, keep: Keep) -> PackedEvents:
        """The same events as ``keep`` has them (after this view's own filter), decoded as they are read."""
        view = PackedEvents.__new__(PackedEvents)
        view._blocks, view._from, view._live, view._count = self._blocks, self._from, self._live, self._count
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
            for row in block.split("\n"):
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


__all__ = ["Keep", "PackedEvents", "PacksFullReads"]
