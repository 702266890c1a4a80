"""``events.get/insert/patch/update/delete``: Google's rules for event bodies, ids, etags and ``If-Match``."""

from __future__ import annotations

import copy
from email.message import Message
from typing import Any

from tests.fakes.google.calendar import FakeCalendar
from tests.fakes.google.schema import AUTO_DECLINE_MODES, BASE32HEX, EVENT_TYPES, ApiFailure, _check_when, bad_request
from tests.fakes.google.values import _merge, _when


class Events:
    """Single-event reads and writes (a part of :class:`GoogleFake`)."""

    mails: int
    """Invitations the service would have mailed (must stay 0)."""
    workspace: bool

    def _get(self, cal: FakeCalendar, eid: str) -> dict[str, Any]:
        event = cal.events.get(eid)
        if event is None:
            raise ApiFailure(404, "notFound", "Not Found")
        return copy.deepcopy(event)

    def _clean_properties(self, event: dict[str, Any]) -> None:
        ext = event.get("extendedProperties")
        if not isinstance(ext, dict):
            return
        for scope in ("private", "shared"):
            props = ext.get(scope)
            if isinstance(props, dict):
                ext[scope] = {k: v[:1024] for k, v in props.items() if len(k) <= 44 and isinstance(v, str)}

    def _check_event(self, cal: FakeCalendar, event: dict[str, Any], params: dict[str, str]) -> None:
        _check_when(event.get("start"), "start")
        _check_when(event.get("end"), "end")
        if bool(event["start"].get("date")) != bool(event["end"].get("date")):
            raise bad_request("Start and end must both be dates or both be date-times.", "invalid")
        if _when(event["end"], cal.zone) <= _when(event["start"], cal.zone):
            raise bad_request("The specified time range is empty.", "timeRangeEmpty")
        for key, allowed in (
            ("transparency", {"opaque", "transparent"}),
            ("visibility", {"default", "public", "private", "confidential"}),
            ("status", {"confirmed", "tentative", "cancelled"}),
            ("eventType", EVENT_TYPES),
        ):
            if key in event and event[key] not in allowed:
                raise bad_request(f"Invalid value for {key}: {event[key]!r}", "invalid")
        if event.get("eventType") == "focusTime" and not cal.primary:
            raise bad_request("Focus time events can only be created on primary calendars.", "invalid")
        self._check_out_of_office(cal, event)
        attendees = [a for a in event.get("attendees") or [] if not a.get("self")]
        if attendees and params.get("sendUpdates", "false") not in ("none", "false"):
            self.mails += len(attendees)

    def _check_out_of_office(self, cal: FakeCalendar, event: dict[str, Any]) -> None:
        """Google's rules for ``eventType: outOfOffice`` (and its properties on other events)."""
        ooo = event.get("eventType") == "outOfOffice"
        if "outOfOfficeProperties" in event and not ooo:
            raise bad_request("outOfOfficeProperties can only be set on out of office events.", "invalid")
        if "focusTimeProperties" in event and event.get("eventType") != "focusTime":
            raise bad_request("focusTimeProperties can only be set on focus time events.", "invalid")
        if not ooo:
            return
        if not cal.primary:
            raise bad_request("Out of office events can only be created on primary calendars.", "eventTypeRestriction")
        if not self.workspace:
            raise bad_request("Out of office events are not supported for this account type.", "eventTypeRestriction")
        if event["start"].get("date"):
            raise bad_request("Out of office events cannot be all-day events.", "invalid")
        if event.get("transparency", "opaque") != "opaque":
            raise bad_request("Out of office events must be opaque.", "invalid")
        if event.get("attendees"):
            raise bad_request("Out of office events cannot have attendees.", "invalid")
        props = event.get("outOfOfficeProperties") or {}
        mode = props.get("autoDeclineMode", "declineNone")
        if mode not in AUTO_DECLINE_MODES:
            raise bad_request(f"Invalid value for autoDeclineMode: {mode!r}", "invalid")

    def _insert(self, cal: FakeCalendar, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        eid = body.get("id")
        if eid is not None:
            if not isinstance(eid, str) or not 5 <= len(eid) <= 1024 or not set(eid) <= BASE32HEX:
                raise bad_request("Invalid resource id value.", "invalid")
            if eid in cal.events:
                raise ApiFailure(409, "duplicate", "The requested identifier already exists.")
        else:
            eid = self._new_id()
        event = self._base_event(cal, eid)
        for key, value in body.items():
            if key not in ("kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID"):
                event[key] = copy.deepcopy(value)
        self._check_event(cal, event, params)
        self._clean_properties(event)
        cal.events[eid] = event
        self._touch(cal, event)
        return copy.deepcopy(event)

    def _current(self, cal: FakeCalendar, eid: str, headers: Message) -> dict[str, Any]:
        event = cal.events.get(eid)
        if event is None:
            raise ApiFailure(404, "notFound", "Not Found")
        if event.get("status") == "cancelled":
            raise ApiFailure(410, "deleted", "Resource has been deleted")
        if_match = headers.get("if-match")
        if if_match is not None and if_match.strip() not in ("*", event["etag"]):
            raise ApiFailure(412, "conditionNotMet", "Precondition Failed")
        return event

    def _write(
        self,
        cal: FakeCalendar,
        eid: str,
        body: dict[str, Any],
        params: dict[str, str],
        headers: Message,
        *,
        replace: bool,
    ) -> dict[str, Any]:
        event = self._current(cal, eid, headers)
        if "id" in body and body["id"] != eid:
            raise bad_request("The id of the event cannot be changed.", "invalid")
        if replace:
            new = {k: event[k] for k in ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID")}
            new.update({"status": "confirmed", "sequence": event.get("sequence", 0), "eventType": "default"})
            new["reminders"] = {"useDefault": True}
            for key, value in body.items():
                if key not in ("kind", "etag", "htmlLink", "created", "updated", "creator", "iCalUID"):
                    new[key] = copy.deepcopy(value)
        else:
            new = copy.deepcopy(event)
            _merge(new, {k: v for k, v in body.items() if k not in ("kind", "etag", "id", "updated")})
        if new.get("eventType", "default") != event.get("eventType", "default"):
            raise bad_request("The event type cannot be changed.", "eventTypeRestriction")
        if new.get("start") != event.get("start") or new.get("end") != event.get("end"):
            new["sequence"] = int(new.get("sequence", 0)) + 1
        self._check_event(cal, new, params)
        self._clean_properties(new)
        cal.events[eid] = new
        self._touch(cal, new)
        return copy.deepcopy(new)

    def _delete(self, cal: FakeCalendar, eid: str, headers: Message) -> None:
        event = self._current(cal, eid, headers)
        event["status"] = "cancelled"
        self._touch(cal, event)
