"""The fake's calendars and events, how an event is rendered as Graph JSON, and the user's back door."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

from tests.fakes.graph.values import StoredEvent, _iso, zone_of


class Store:
    """Calendars, events and the change list delta reads (a part of :class:`FakeGraph`)."""

    DEFAULT_CALENDAR = "AAMkAGDefaultCalendar0000="

    lock: threading.RLock
    render_zone: str | None

    def _init_store(self) -> None:
        self.calendars: dict[str, dict[str, Any]] = {
            self.DEFAULT_CALENDAR: {"name": "Calendar", "default": True, "canEdit": True}
        }
        self.events: dict[str, StoredEvent] = {}
        self.version = 0
        self.changes: list[tuple[int, str, str]] = []
        """(version, calendar id, event id) of every mutation."""
        self._ids = itertools.count(1)

    # -- the user's back door -------------------------------------------------------
    def add_calendar(self, name: str, can_edit: bool = True) -> str:
        with self.lock:
            cid = f"AAMkAGCal{next(self._ids):06d}="
            self.calendars[cid] = {"name": name, "default": False, "canEdit": can_edit}
            return cid

    def _new_id(self) -> str:
        return f"AAMkAGEvt{next(self._ids):08d}-x_y="

    def _touch(self, ev: StoredEvent) -> None:
        self.version += 1
        ev.change_key = f"CK{self.version:06d}"
        self.changes.append((self.version, ev.calendar, ev.id))

    def user_add(
        self,
        subject: str,
        start: datetime,
        end: datetime,
        *,
        calendar: str | None = None,
        zone: str = "UTC",
        **props: Any,
    ) -> str:
        """Add an event as the user (``props`` are Graph properties: showAs, sensitivity, type, …)."""
        with self.lock:
            ev = StoredEvent(
                id=self._new_id(),
                calendar=calendar or self.DEFAULT_CALENDAR,
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                zone=zone,
                props={"subject": subject, "showAs": "busy", "sensitivity": "normal", "type": "singleInstance"} | props,
            )
            self.events[ev.id] = ev
            self._touch(ev)
            return ev.id

    def user_patch(self, uid: str, *, start: datetime | None = None, end: datetime | None = None, **props: Any) -> None:
        """Change an event as the user."""
        with self.lock:
            ev = self.events[uid]
            if start is not None:
                ev.start = start.astimezone(UTC)
            if end is not None:
                ev.end = end.astimezone(UTC)
            ev.props.update(props)
            self._touch(ev)

    def user_delete(self, uid: str) -> None:
        with self.lock:
            ev = self.events.pop(uid, None)
            if ev is not None:
                self.version += 1
                self.changes.append((self.version, ev.calendar, uid))

    def owned(self, prop_id: str) -> list[StoredEvent]:
        with self.lock:
            return [e for e in self.events.values() if e.ext_value(prop_id) is not None]

    def in_calendar(self, calendar: str | None = None) -> list[StoredEvent]:
        cid = calendar or self.DEFAULT_CALENDAR
        with self.lock:
            return sorted((e for e in self.events.values() if e.calendar == cid), key=lambda e: (e.start, e.id))

    # -- rendering ---------------------------------------------------------------------
    def render(self, ev: StoredEvent, zone: str | None, expand: set[str] | None) -> dict[str, Any]:
        zname = self.render_zone or zone or ev.zone
        tz = zone_of(zname)

        def stamp(value: datetime) -> dict[str, str]:
            if ev.all_day:
                d = value.astimezone(UTC).date()
                return {"dateTime": f"{d.isoformat()}T00:00:00.0000000", "timeZone": zname}
            return {"dateTime": value.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zname}

        body = ev.props.get("body") or {"contentType": "text", "content": ""}
        doc: dict[str, Any] = {
            "@odata.etag": f'W/"{ev.change_key}"',
            "id": ev.id,
            "createdDateTime": _iso(ev.created),
            "lastModifiedDateTime": _iso(ev.created),
            "changeKey": ev.change_key,
            "categories": [],
            "subject": ev.props.get("subject", ""),
            "bodyPreview": str(body.get("content") or "")[:255],
            "body": body,
            "start": stamp(ev.start),
            "end": stamp(ev.end),
            "isAllDay": ev.all_day,
            "isCancelled": bool(ev.props.get("isCancelled", False)),
            "isOrganizer": bool(ev.props.get("isOrganizer", True)),
            "showAs": ev.props.get("showAs", "busy"),
            "sensitivity": ev.props.get("sensitivity", "normal"),
            "type": ev.props.get("type", "singleInstance"),
            "responseStatus": ev.props.get("responseStatus", {"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
            "attendees": ev.props.get("attendees", []),
            "isReminderOn": bool(ev.props.get("isReminderOn", True)),
            "originalStartTimeZone": ev.zone,
            "originalEndTimeZone": ev.zone,
        }
        for key in ("seriesMasterId", "originalStart", "location", "transactionId"):
            if ev.props.get(key):
                doc[key] = ev.props[key]
        if expand is not None:
            doc["singleValueExtendedProperties"] = [
                {"id": pid, "value": value} for low, (pid, value) in sorted(ev.ext.items()) if low in expand
            ]
        return doc

    def _list_calendars(self) -> dict[str, Any]:
        return {
            "value": [
                {
                    "id": cid,
                    "name": c["name"],
                    "canEdit": c["canEdit"],
                    "canShare": c["default"],
                    "isDefaultCalendar": c["default"],
                    "isRemovable": not c["default"],
                    "changeKey": "CAL",
                    "owner": {"name": "Test User", "address": "user@example.test"},
                }
                for cid, c in self.calendars.items()
            ]
        }
