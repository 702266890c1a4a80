"""What idealweek keeps of your calendars, and for how long (SPEC §6.8: only what the plan needs).

* **Owned events** (the ones idealweek wrote) keep their title, description and location.
* **Everybody else's events** keep their time, status, busy/free, the user's answer, privacy flag,
  number of attendees and **title** — the week picture (``idealweek week``) shows meetings and
  personal events by title.  Their **description and location are never stored** (they can hold
  video-call links with passwords, addresses, diagnoses); nothing in planning reads them.
* **Time**: events that ended before :func:`keep_since` are deleted — the planner looks back over
  the longest catch-up window plus a day and over the whole previous week (for its figures); a
  margin is kept on top.  Past weeks live on only as figures (``review``).  The future is kept
  as the service sends it (an incrementally synced calendar does not resend unchanged events).
* **Household calendars** (another person's busy time, issue 18) keep only when they are busy: no title,
  description, location or attendees (:func:`busy_only`).
* Google full syncs ask only for events from :func:`history_lookback` ago (``timeMin``), so the
  history of a calendar is never downloaded in the first place.
"""

from __future__ import annotations

import dataclasses
import operator
from datetime import datetime, timedelta

from idealweek.model import Event
from idealweek.providers.base import ChangeSet
from idealweek.providers.packed import PackedEvents

MARGIN = timedelta(days=1)


def history_lookback(longest_within: timedelta) -> timedelta:
    """How far back events are kept: never less than the planner's own lookback, plus a margin.

    The planner (``planner/context.py``) looks back to ``min(now - within - 1 day, start of last
    week)``; last week started at most 14 days ago.
    """
    return max(longest_within + timedelta(days=1), timedelta(days=14)) + MARGIN


def keep_since(now: datetime, longest_within: timedelta) -> datetime:
    """Events that ended before this instant are not needed any more."""
    return now - history_lookback(longest_within)


_KEPT = tuple(f.name for f in dataclasses.fields(Event) if f.name not in ("description", "location"))
_read_kept = operator.attrgetter(*_KEPT)
_SETTERS = tuple(vars(Event)[name].__set__ for name in _KEPT)
"""The slots' own setters (a frozen dataclass refuses ``setattr``; these are what ``object.__setattr__`` calls)."""
_set_description = vars(Event)["description"].__set__
_set_location = vars(Event)["location"].__set__


def needed(event: Event) -> Event:
    """``event`` as it is stored: without the description and location when it is not idealweek's own."""
    if event.tag is not None or (not event.description and not event.location):
        return event
    # A field-by-field copy: dataclasses.replace would check the (already checked) times again, which is
    # a fifth of a 10,000-event first sync (issue 15); the slots are copied through their setters.
    out = object.__new__(Event)
    for setter, value in zip(_SETTERS, _read_kept(event), strict=True):
        setter(out, value)
    _set_description(out, "")
    _set_location(out, "")
    return out


def minimise(changes: ChangeSet, since: datetime) -> ChangeSet:
    """``changes`` with only what is kept: no events that ended before ``since``, no foreign text."""
    if isinstance(changes.upserts, PackedEvents):  # a packed full read stays packed (the daemon's footprint)
        kept = changes.upserts.filtered(lambda e: needed(e) if e.end > since else None)
        return dataclasses.replace(changes, upserts=kept)
    upserts = [needed(e) for e in changes.upserts if e.end > since]
    if len(upserts) == len(changes.upserts) and all(a is b for a, b in zip(upserts, changes.upserts, strict=True)):
        return changes
    return dataclasses.replace(changes, upserts=upserts)


def busy_only(changes: ChangeSet) -> ChangeSet:
    """A household calendar's changes as stored: only "this person is busy" (times, status, busy/free)."""
    if isinstance(changes.upserts, PackedEvents):
        return dataclasses.replace(changes, upserts=changes.upserts.filtered(_bare))
    if not any(e.title or e.description or e.location or e.attendees or e.organizer_other for e in changes.upserts):
        return changes
    return dataclasses.replace(changes, upserts=[_bare(e) for e in changes.upserts])


def _bare(e: Event) -> Event:
    return dataclasses.replace(e, title="", description="", location="", attendees=0, organizer_other=False)


__all__ = ["busy_only", "history_lookback", "keep_since", "minimise", "needed"]
