"""The fake's calendars and events, and the back doors through which a test acts as the user."""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.fakes.google.calendar import FakeCalendar
from tests.fakes.google.schema import ApiFailure
from tests.fakes.google.values import _merge, _rfc3339


class Store:
    """Calendars (each with every event it ever held) and change sequence numbers (a part of :class:`GoogleFake`)."""

    lock: threading.RLock
    page_size: int

    def _init_store(self, primary: str, time_zone: str) -> None:
        self.calendars: dict[str, FakeCalendar] = {}
        self.primary_id = primary
        self._seq = itertools.count(1)
        self._last_seq = 0
        self.add_calendar(primary, primary, primary=True, time_zone=time_zone)

    # -- calendars and events (back door) ---------------------------------------
    def add_calendar(
        self,
        cal_id: str,
        summary: str = "",
        *,
        primary: bool = False,
        time_zone: str = "Europe/Berlin",
        access_role: str = "owner",
    ) -> FakeCalendar:
        with self.lock:
            cal = FakeCalendar(cal_id, summary or cal_id, time_zone, access_role, primary)
            self.calendars[cal_id] = cal
            return cal

    def calendar(self, cal_id: str) -> FakeCalendar:
        cal_id = self.primary_id if cal_id == "primary" else cal_id
        try:
            return self.calendars[cal_id]
        except KeyError:
            raise ApiFailure(404, "notFound", "Not Found") from None

    def _touch(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        seq = next(self._seq)
        self._last_seq = seq
        event["etag"] = f'"{3180000000000000 + seq}"'
        event["updated"] = _rfc3339(datetime.now(UTC))
        cal.changed[event["id"]] = seq

    def _new_id(self) -> str:
        return "".join(secrets.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(26))

    def _base_event(self, cal: FakeCalendar, eid: str) -> dict[str, Any]:
        now = _rfc3339(datetime.now(UTC))
        return {
            "kind": "calendar#event",
            "id": eid,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": now,
            "creator": {"email": self.primary_id, "self": True},
            "organizer": {"email": cal.id, "self": True},
            "iCalUID": f"{eid}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }

    def user_add(
        self,
        cal_id: str,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        *,
        event_id: str | None = None,
        **fields: Any,
    ) -> str:
        """The user adds an event (aware datetimes, or dates for an all-day event); returns its id."""
        with self.lock:
            cal = self.calendar(cal_id)
            eid = event_id or self._new_id()
            event = self._base_event(cal, eid)
            event["summary"] = summary
            event["start"] = self._when_json(start, cal)
            event["end"] = self._when_json(end, cal)
            event.update(copy.deepcopy(fields))
            cal.events[eid] = event
            self._touch(cal, event)
            return eid

    def _when_json(self, value: datetime | date, cal: FakeCalendar) -> dict[str, str]:
        if isinstance(value, datetime):
            return {"dateTime": value.astimezone(cal.zone).isoformat(), "timeZone": cal.time_zone}
        return {"date": value.isoformat()}

    def user_add_series(
        self, cal_id: str, summary: str, starts: list[datetime], duration: timedelta, **fields: Any
    ) -> tuple[str, list[str]]:
        """The user adds a recurring event; returns (series id, instance ids) as singleEvents lists them."""
        series = self._new_id()
        ids = []
        for start in starts:
            stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            with self.lock:
                cal = self.calendar(cal_id)
                ids.append(
                    self.user_add(
                        cal_id,
                        summary,
                        start,
                        start + duration,
                        event_id=f"{series}_{stamp}",
                        recurringEventId=series,
                        originalStartTime=self._when_json(start, cal),
                        **fields,
                    )
                )
        return series, ids

    def user_update(self, cal_id: str, eid: str, **fields: Any) -> None:
        """The user edits fields of an event (patch semantics)."""
        with self.lock:
            cal = self.calendar(cal_id)
            event = cal.events[eid]
            _merge(event, fields)
            self._touch(cal, event)

    def user_move(self, cal_id: str, eid: str, start: datetime, end: datetime) -> None:
        cal = self.calendar(cal_id)
        self.user_update(cal_id, eid, start=self._when_json(start, cal), end=self._when_json(end, cal))

    def user_retitle(self, cal_id: str, eid: str, title: str) -> None:
        self.user_update(cal_id, eid, summary=title)

    def user_respond(self, cal_id: str, eid: str, response: str) -> None:
        """The user answers an invitation (their attendee entry has ``self: true``)."""
        with self.lock:
            cal = self.calendar(cal_id)
            event = cal.events[eid]
            for attendee in event.get("attendees", []):
                if attendee.get("self"):
                    attendee["responseStatus"] = response
            self._touch(cal, event)

    def user_delete(self, cal_id: str, eid: str) -> None:
        with self.lock:
            cal = self.calendar(cal_id)
            event = cal.events[eid]
            event["status"] = "cancelled"
            self._touch(cal, event)

    def event(self, cal_id: str, eid: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.calendar(cal_id).events.get(eid)
            return copy.deepcopy(found) if found else None

    def live_events(self, cal_id: str = "primary") -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(e) for e in self.calendar(cal_id).events.values() if e.get("status") != "cancelled"]

    def owned_events(self, cal_id: str = "primary") -> list[dict[str, Any]]:
        """Live events carrying idealweek's private tag."""
        return [
            e for e in self.live_events(cal_id) if "idealweek" in e.get("extendedProperties", {}).get("private", {})
        ]

    # -- calendarList ------------------------------------------------------------------
    def _calendar_list(self, params: dict[str, str]) -> dict[str, Any]:
        items = [
            {
                "kind": "calendar#calendarListEntry",
                "etag": f'"{abs(hash(c.id)) % 10**12}"',
                "id": c.id,
                "summary": c.summary,
                "timeZone": c.time_zone,
                "accessRole": c.access_role,
                **({"primary": True} if c.primary else {}),
            }
            for c in self.calendars.values()
        ]
        size = min(int(params.get("maxResults", "100")), 250, max(1, self.page_size))
        start = int(params.get("pageToken", "0") or 0)
        page: dict[str, Any] = {"kind": "calendar#calendarList", "etag": '"p1"', "items": items[start : start + size]}
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        else:
            page["nextSyncToken"] = "calendarlist-sync"
        return page
