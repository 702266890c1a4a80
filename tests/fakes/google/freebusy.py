"""``freeBusy.query``: busy periods per calendar, with Google's limits and ``notFound`` entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fakes.google.calendar import FakeCalendar
from tests.fakes.google.schema import FREEBUSY_MAX_CALENDARS, FREEBUSY_MAX_SPAN, _parse_rfc3339, bad_request
from tests.fakes.google.values import _rfc3339, _when


class FreeBusy:
    """Free/busy answers (a part of :class:`GoogleFake`)."""

    calendars: dict[str, FakeCalendar]
    primary_id: str

    def _freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        """``freeBusy.query``: busy periods per calendar; one you may not see answers ``errors: notFound``."""
        for key in ("timeMin", "timeMax"):
            if not isinstance(body.get(key), str):
                raise bad_request(f"Missing {key}.", "required")
        lo, hi = _parse_rfc3339(body["timeMin"]), _parse_rfc3339(body["timeMax"])
        if hi <= lo:
            raise bad_request("The specified time range is empty.", "timeRangeEmpty")
        if hi - lo > FREEBUSY_MAX_SPAN:
            raise bad_request("The requested time range is too long.", "timeRangeTooLong")
        items = body.get("items") or []
        if len(items) > FREEBUSY_MAX_CALENDARS:
            raise bad_request("Too many calendars requested.", "tooManyCalendarsRequested")
        calendars: dict[str, Any] = {}
        for item in items:
            cid = str(item.get("id", ""))
            cal = self.calendars.get(self.primary_id if cid == "primary" else cid)
            if cal is None or cal.access_role == "none":
                calendars[cid] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy: list[tuple[datetime, datetime]] = []
            for ev in cal.events.values():
                if ev.get("status") == "cancelled" or ev.get("transparency") == "transparent":
                    continue
                s, e = _when(ev["start"], cal.zone), _when(ev["end"], cal.zone)
                if s < hi and e > lo:
                    busy.append((max(s, lo), min(e, hi)))
            merged: list[tuple[datetime, datetime]] = []
            for s, e in sorted(busy):
                if merged and s <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], e))
                else:
                    merged.append((s, e))
            calendars[cid] = {"busy": [{"start": _rfc3339(s), "end": _rfc3339(e)} for s, e in merged]}
        return {"kind": "calendar#freeBusy", "timeMin": _rfc3339(lo), "timeMax": _rfc3339(hi), "calendars": calendars}
