"""Free/busy-only household calendars (issue 18): another person's busy time, nothing else.

For a person who shares no details, a ``household`` calendar with ``free_busy = true`` is read through
the service's free/busy query (Google ``freeBusy.query``, Graph ``getSchedule``, CalDAV free-busy
REPORT).  Each service module supplies ``busy(lo, hi)``; this module turns the answer into the
provider interface:

* one query per cycle (more only when the horizon is longer than the service's largest window);
* the busy intervals become title-less busy :class:`~idealweek.model.Event` values whose uid is the
  interval itself, so an unchanged answer is an unchanged calendar;
* the sync token lists those uids: the next read reports only what appeared (``upserts``) and what went
  away (``removed``) — a partner whose week emptied is a change, not a "suddenly empty" calendar;
* it is read-only: nothing is ever written there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from idealweek.clock import Clock, system_clock
from idealweek.errors import NotOwned
from idealweek.model import DesiredEvent, Event, Interval
from idealweek.providers.base import ChangeSet, RequestCounter

TOKEN_PREFIX = "fb1:"
UID_FORMAT = "%Y%m%dT%H%M%SZ"

BusyQuery = Callable[[datetime, datetime], Sequence[Interval]]
"""``busy(lo, hi)``: the busy intervals of one person in ``[lo, hi)`` (one service request, or a few)."""


def windows(lo: datetime, hi: datetime, longest: timedelta) -> list[tuple[datetime, datetime]]:
    """``[lo, hi)`` cut into spans no longer than ``longest`` (a service's largest free/busy window)."""
    out: list[tuple[datetime, datetime]] = []
    start = lo
    while start < hi:
        end = min(hi, start + longest)
        out.append((start, end))
        start = end
    return out


def busy_uid(iv: Interval) -> str:
    return f"busy-{iv.start.astimezone(UTC):{UID_FORMAT}}-{iv.end.astimezone(UTC):{UID_FORMAT}}"


def _token(uids: Sequence[str]) -> str:
    return TOKEN_PREFIX + ",".join(sorted(uids))


def _uids_of(token: str | None) -> set[str] | None:
    if token is None or not token.startswith(TOKEN_PREFIX):
        return None
    body = token[len(TOKEN_PREFIX) :]
    return set(body.split(",")) if body else set()


class FreeBusyProvider:
    """A household calendar read through a free/busy query: read-only, busy intervals only."""

    writable = False

    def __init__(
        self,
        name: str,
        query: BusyQuery,
        *,
        horizon: timedelta,
        counter: RequestCounter | None = None,
        clock: Clock = system_clock,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.query = query
        self.horizon = horizon
        self.requests = counter if counter is not None else RequestCounter()
        self.clock = clock
        self._close = close

    def window(self) -> tuple[datetime, datetime]:
        """From the start of today (UTC) to past the planning horizon, whole days: all the planner places make-ups
        in.  The ends move once a day, so a busy period clipped at an end does not change every cycle."""
        now = self.clock().astimezone(UTC)
        lo = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return lo, lo + timedelta(days=self.horizon.days + 2)

    def read_changes(self, token: str | None) -> ChangeSet:
        lo, hi = self.window()
        events = {
            busy_uid(iv): Event(calendar=self.name, uid=busy_uid(iv), start=iv.start, end=iv.end, busy=True)
            for iv in self.query(lo, hi)
            if iv.end > iv.start
        }
        new_token = _token(list(events))
        before = _uids_of(token)
        if before is None:
            return ChangeSet(full=True, upserts=list(events.values()), token=new_token)
        return ChangeSet(
            full=False,
            upserts=[ev for uid, ev in events.items() if uid not in before],
            removed=sorted(before - set(events)),
            token=new_token,
        )

    def list_owned(self) -> list[Event]:
        return []

    def _read_only(self) -> NotOwned:
        return NotOwned(f"{self.name}: a free/busy household calendar is never written")

    def create(self, desired: DesiredEvent) -> Event:
        raise self._read_only()

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        raise self._read_only()

    def delete(self, existing: Event) -> None:
        raise self._read_only()

    def close(self) -> None:
        if self._close is not None:
            self._close()
